package suiteql

import (
	"sort"
)

// Page is one page of query results.
type Page struct {
	// Items holds the JSON item objects, separated by commas, ready to be
	// placed inside "items":[...].
	Items []byte
	// Count is the number of items in Items.
	Count int
	// Total is the number of rows the query matches (totalResults).
	Total int
}

// Execute runs the query and renders rows [offset, offset+limit) as SuiteQL
// REST items: {"links":[],"<column>":"<value>",...} with every value a
// string and NULL columns omitted. The caller must hold any lock protecting
// the tables for the duration of the call. dst is reused for Items.
func (q *Query) Execute(dst []byte, offset, limit int) (Page, error) {
	if offset < 0 {
		offset = 0
	}
	if limit < 0 {
		limit = 0
	}
	r := &run{q: q, out: dst[:0], offset: offset, limit: limit}
	r.ctx = &execCtx{rows: make([]Row, len(q.tables)), env: &q.env}
	if err := r.exec(); err != nil {
		return Page{}, err
	}
	return Page{Items: r.out, Count: r.count, Total: r.total}, nil
}

type run struct {
	q      *Query
	ctx    *execCtx
	out    []byte
	offset int
	limit  int
	count  int
	total  int
}

func (r *run) exec() error {
	q := r.q
	cur, plan := q.tables[0].t.Open(AccessRequest{Preds: q.preds, Order: q.drvOrder})
	var early, late []boolFn // residual conjuncts on table 0 only / on joins
	for _, cj := range q.conjs {
		if cj.predAt >= 0 && cj.predAt < len(plan.Absorbed) && plan.Absorbed[cj.predAt] {
			continue
		}
		if cj.b.mask&^1 == 0 {
			early = append(early, cj.b.eval)
		} else {
			late = append(late, cj.b.eval)
		}
	}
	ordered := len(q.order) == 0 || (q.drvOrder != nil && plan.Ordered)
	joins := len(q.tables) > 1
	capRows := -1
	if q.rownum >= 0 {
		capRows = int(q.rownum)
	}

	if q.aggregate {
		return r.aggregate(cur, early, late, capRows)
	}

	// Fast path: the cursor is exactly the answer, in order.
	if ordered && len(early) == 0 && len(late) == 0 && !joins {
		total := cur.Len()
		if capRows >= 0 && capRows < total {
			total = capRows
		}
		r.total = total
		end := min(r.offset+r.limit, total)
		if r.offset >= end {
			return nil
		}
		cur.Skip(r.offset)
		for i := r.offset; i < end; i++ {
			row, ok := cur.Next()
			if !ok {
				break
			}
			r.ctx.rows[0] = row
			if err := r.emit(); err != nil {
				return err
			}
		}
		return nil
	}

	var collected [][]Row
	matched := 0
	visit := func() error {
		for _, f := range late {
			if f(r.ctx) != triTrue {
				return r.ctx.err
			}
		}
		if capRows >= 0 && matched >= capRows {
			return nil
		}
		matched++
		if !ordered {
			collected = append(collected, append([]Row(nil), r.ctx.rows...))
			return nil
		}
		if matched > r.offset && matched <= r.offset+r.limit {
			return r.emit()
		}
		return nil
	}
	for {
		if capRows >= 0 && matched >= capRows {
			break
		}
		row, ok := cur.Next()
		if !ok {
			break
		}
		r.ctx.rows[0] = row
		pass := true
		for _, f := range early {
			if f(r.ctx) != triTrue {
				pass = false
				break
			}
		}
		if r.ctx.err != nil {
			return r.ctx.err
		}
		if !pass {
			continue
		}
		if err := r.joinFrom(1, visit); err != nil {
			return err
		}
	}
	if ordered {
		r.total = matched
		return nil
	}
	if err := r.sortRows(collected); err != nil {
		return err
	}
	r.total = len(collected)
	end := min(r.offset+r.limit, len(collected))
	for i := r.offset; i < end; i++ {
		copy(r.ctx.rows, collected[i])
		if err := r.emit(); err != nil {
			return err
		}
	}
	return nil
}

// joinFrom expands joins from table k onward and calls visit for each
// complete combination.
func (r *run) joinFrom(k int, visit func() error) error {
	q := r.q
	if k == len(q.tables) {
		return visit()
	}
	bt := q.tables[k]
	var preds []Pred
	for _, eq := range bt.join.eqs {
		v := eq.left.eval(r.ctx)
		if r.ctx.err != nil {
			return r.ctx.err
		}
		if v.IsNull() {
			preds = nil
			goto noMatch
		}
		preds = append(preds, Pred{Cols: []int{eq.col}, Op: OpEq, Vals: []Value{v}})
	}
	{
		cur, _ := bt.t.Open(AccessRequest{Preds: preds})
		found := false
		for {
			row, ok := cur.Next()
			if !ok {
				break
			}
			r.ctx.rows[k] = row
			pass := true
			for _, on := range bt.join.on {
				if on.eval(r.ctx) != triTrue {
					pass = false
					break
				}
			}
			if r.ctx.err != nil {
				return r.ctx.err
			}
			if !pass {
				continue
			}
			found = true
			if err := r.joinFrom(k+1, visit); err != nil {
				return err
			}
		}
		r.ctx.rows[k] = nil
		if found || bt.join.kind != JoinLeft {
			return nil
		}
	}
noMatch:
	if bt.join.kind != JoinLeft {
		return nil
	}
	r.ctx.rows[k] = nil
	return r.joinFrom(k+1, visit)
}

func (r *run) aggregate(cur Cursor, early, late []boolFn, capRows int) error {
	q := r.q
	for _, a := range q.aggs {
		a.reset()
	}
	if q.countOnly && len(early) == 0 && len(late) == 0 && len(q.tables) == 1 {
		n := cur.Len()
		if capRows >= 0 && capRows < n {
			n = capRows
		}
		q.aggs[0].count = int64(n)
	} else {
		matched := 0
		visit := func() error {
			for _, f := range late {
				if f(r.ctx) != triTrue {
					return r.ctx.err
				}
			}
			if capRows >= 0 && matched >= capRows {
				return nil
			}
			matched++
			for _, a := range q.aggs {
				a.add(r.ctx, q.env.DatePref)
			}
			return r.ctx.err
		}
		for capRows < 0 || matched < capRows {
			row, ok := cur.Next()
			if !ok {
				break
			}
			r.ctx.rows[0] = row
			pass := true
			for _, f := range early {
				if f(r.ctx) != triTrue {
					pass = false
					break
				}
			}
			if r.ctx.err != nil {
				return r.ctx.err
			}
			if pass {
				if err := r.joinFrom(1, visit); err != nil {
					return err
				}
			}
		}
	}
	r.total = 1
	for i := range r.ctx.rows {
		r.ctx.rows[i] = nil
	}
	if r.offset == 0 && r.limit > 0 {
		return r.emit()
	}
	return nil
}

func (r *run) sortRows(rows [][]Row) error {
	q := r.q
	keys := make([][]Value, len(rows))
	for i, rs := range rows {
		copy(r.ctx.rows, rs)
		k := make([]Value, len(q.order))
		for j, o := range q.order {
			k[j] = o.v.eval(r.ctx)
		}
		if r.ctx.err != nil {
			return r.ctx.err
		}
		keys[i] = k
	}
	idx := make([]int, len(rows))
	for i := range idx {
		idx[i] = i
	}
	pref := q.env.DatePref
	sort.SliceStable(idx, func(a, b int) bool {
		ka, kb := keys[idx[a]], keys[idx[b]]
		for j, o := range q.order {
			x, y := ka[j], kb[j]
			var c int
			switch {
			case x.IsNull() && y.IsNull():
			case x.IsNull():
				c = 1
				if o.nullsFirst {
					c = -1
				}
			case y.IsNull():
				c = -1
				if o.nullsFirst {
					c = 1
				}
			default:
				k, err := compareValues(x, y, pref)
				if err != nil {
					k = int(x.Kind) - int(y.Kind)
				}
				c = k
				if o.desc {
					c = -c
				}
			}
			if c != 0 {
				return c < 0
			}
		}
		return false
	})
	sorted := make([][]Row, len(rows))
	for i, j := range idx {
		sorted[i] = rows[j]
	}
	copy(rows, sorted)
	return nil
}

func (r *run) emit() error {
	q := r.q
	if r.count > 0 {
		r.out = append(r.out, ',')
	}
	r.out = append(r.out, `{"links":[]`...)
	pref := q.env.DatePref
	for i := range q.items {
		it := &q.items[i]
		if it.render != nil {
			mark := len(r.out)
			r.out = append(r.out, it.key...)
			r.out = append(r.out, '"')
			start := len(r.out)
			out, ok := it.render(r.ctx, r.out)
			if !ok {
				r.out = r.out[:mark]
				continue
			}
			// Format models only emit printable ASCII and quoted literals;
			// escape the rare literal that needs it.
			if needsEscape(out[start:]) {
				text := string(out[start:])
				out = appendJSONBody(out[:start], text)
			}
			r.out = append(out, '"')
			continue
		}
		var v Value
		if it.col >= 0 {
			if row := r.ctx.rows[it.tab]; row != nil {
				v = row.Value(it.col)
			}
		} else {
			v = it.eval(r.ctx)
		}
		if v.Kind == KindNull {
			continue
		}
		r.out = append(r.out, it.key...)
		r.out = append(r.out, '"')
		switch v.Kind {
		case KindString:
			r.out = appendJSONBody(r.out, v.Str)
		case KindNumber:
			r.out = AppendNumber(r.out, v.Num)
		case KindDate:
			r.out = pref.AppendDate(r.out, v.Time)
		case KindTimestamp:
			r.out = pref.AppendDateTime(r.out, v.Time)
		}
		r.out = append(r.out, '"')
	}
	r.out = append(r.out, '}')
	if r.ctx.err != nil {
		return r.ctx.err
	}
	r.count++
	return nil
}

func needsEscape(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			return true
		}
	}
	return false
}
