package suiteql

import (
	"sort"

	"github.com/nsflow/nsflow/pkg/sandbox/nstime"
)

// memTable is a test table over rows of values. When absorb is set it
// applies every predicate itself (with the same comparison semantics) and
// sorts by the requested order, so tests can compare planned and unplanned
// execution.
type memTable struct {
	cols   []Column
	rows   [][]Value
	disp   map[int]func(Value) Value
	absorb bool
}

type memRow struct {
	t *memTable
	v []Value
}

func (r memRow) Value(c int) Value { return r.v[c] }

func (r memRow) Display(c int) Value {
	if f := r.t.disp[c]; f != nil {
		return f(r.v[c])
	}
	return r.v[c]
}

type memCursor struct {
	t    *memTable
	rows [][]Value
	i    int
}

func (c *memCursor) Next() (Row, bool) {
	if c.i >= len(c.rows) {
		return nil, false
	}
	c.i++
	return memRow{t: c.t, v: c.rows[c.i-1]}, true
}

func (c *memCursor) Skip(n int) int {
	k := min(n, len(c.rows)-c.i)
	c.i += k
	return k
}

func (c *memCursor) Len() int { return len(c.rows) }

func (t *memTable) Columns() []Column { return t.cols }

var testPref, _ = nstime.ParseDatePref("M/d/yyyy")

func predHolds(p Pred, row []Value) bool {
	cmp := func(a, b Value) (int, bool) {
		if a.IsNull() || b.IsNull() {
			return 0, false
		}
		k, err := compareValues(a, b, testPref)
		return k, err == nil
	}
	if p.Op == OpIn {
		for _, v := range p.Vals {
			if k, ok := cmp(row[p.Cols[0]], v); ok && k == 0 {
				return true
			}
		}
		return false
	}
	k := 0
	for i, c := range p.Cols {
		kk, ok := cmp(row[c], p.Vals[i])
		if !ok {
			return false
		}
		if kk != 0 {
			k = kk
			break
		}
	}
	switch p.Op {
	case OpEq:
		return k == 0
	case OpLt:
		return k < 0
	case OpLe:
		return k <= 0
	case OpGt:
		return k > 0
	default:
		return k >= 0
	}
}

func (t *memTable) Open(req AccessRequest) (Cursor, AccessPlan) {
	plan := AccessPlan{Absorbed: make([]bool, len(req.Preds))}
	if !t.absorb {
		return &memCursor{t: t, rows: t.rows}, plan
	}
	var rows [][]Value
	for _, r := range t.rows {
		ok := true
		for _, p := range req.Preds {
			if !predHolds(p, r) {
				ok = false
				break
			}
		}
		if ok {
			rows = append(rows, r)
		}
	}
	for i := range plan.Absorbed {
		plan.Absorbed[i] = true
	}
	if len(req.Order) > 0 {
		sort.SliceStable(rows, func(a, b int) bool {
			for _, o := range req.Order {
				x, y := rows[a][o.Col], rows[b][o.Col]
				if x.IsNull() || y.IsNull() {
					return false
				}
				k, _ := compareValues(x, y, testPref)
				if o.Desc {
					k = -k
				}
				if k != 0 {
					return k < 0
				}
			}
			return false
		})
		// Only claim the order when the sort keys contain no NULLs.
		plan.Ordered = true
		for _, r := range rows {
			for _, o := range req.Order {
				if r[o.Col].IsNull() {
					plan.Ordered = false
				}
			}
		}
	}
	return &memCursor{t: t, rows: rows}, plan
}

type memCatalog map[string]*memTable

func (m memCatalog) Table(name string) (Table, bool) {
	t, ok := m[name]
	if !ok {
		return nil, false
	}
	return t, true
}
