package sandbox

import (
	"math"
	"sort"

	"github.com/nsflow/nsflow/pkg/sandbox/suiteql"
)

var (
	minKey = lmKey{c: math.MinInt64, id: math.MinInt64}
	maxKey = lmKey{c: math.MaxInt64, id: math.MaxInt64}
)

// keyRange is an inclusive range [lo, hi] of (time, id) keys.
type keyRange struct{ lo, hi lmKey }

func fullRange() keyRange { return keyRange{lo: minKey, hi: maxKey} }

func (r keyRange) empty() bool { return r.hi.less(r.lo) }

func (r *keyRange) raiseLo(k lmKey) {
	if r.lo.less(k) {
		r.lo = k
	}
}

func (r *keyRange) lowerHi(k lmKey) {
	if k.less(r.hi) {
		r.hi = k
	}
}

func isTime(v suiteql.Value) bool {
	return v.Kind == suiteql.KindDate || v.Kind == suiteql.KindTimestamp
}

// floorInt and ceilInt convert a float bound to an int64, saturating.
func floorInt(f float64) int64 { return clampInt(math.Floor(f)) }
func ceilInt(f float64) int64  { return clampInt(math.Ceil(f)) }

func clampInt(f float64) int64 {
	switch {
	case math.IsNaN(f):
		return 0
	case f >= math.MaxInt64/2:
		return math.MaxInt64 / 2
	case f <= math.MinInt64/2:
		return math.MinInt64 / 2
	}
	return int64(f)
}

// apply narrows the range by p if p is a condition on the time column tcol
// or on the tuple (tcol, icol); it reports whether it did.
func (r *keyRange) apply(p suiteql.Pred, tcol, icol int) bool {
	switch {
	case len(p.Cols) == 1 && p.Cols[0] == tcol && p.Op != suiteql.OpIn && isTime(p.Vals[0]):
		v := p.Vals[0].Time
		switch p.Op {
		case suiteql.OpEq:
			r.raiseLo(lmKey{c: v, id: math.MinInt64})
			r.lowerHi(lmKey{c: v, id: math.MaxInt64})
		case suiteql.OpGt:
			r.raiseLo(lmKey{c: v + 1, id: math.MinInt64})
		case suiteql.OpGe:
			r.raiseLo(lmKey{c: v, id: math.MinInt64})
		case suiteql.OpLt:
			r.lowerHi(lmKey{c: v - 1, id: math.MaxInt64})
		case suiteql.OpLe:
			r.lowerHi(lmKey{c: v, id: math.MaxInt64})
		}
		return true
	case len(p.Cols) == 2 && p.Cols[0] == tcol && p.Cols[1] == icol && isTime(p.Vals[0]) &&
		p.Vals[1].Kind == suiteql.KindNumber:
		t, k := p.Vals[0].Time, p.Vals[1].Num
		switch p.Op {
		case suiteql.OpGt:
			r.raiseLo(lmKey{c: t, id: floorInt(k) + 1})
		case suiteql.OpGe:
			r.raiseLo(lmKey{c: t, id: ceilInt(k)})
		case suiteql.OpLt:
			r.lowerHi(lmKey{c: t, id: ceilInt(k) - 1})
		case suiteql.OpLe:
			r.lowerHi(lmKey{c: t, id: floorInt(k)})
		default:
			return false
		}
		return true
	}
	return false
}

// idRange is an inclusive range of IDs.
type idRange struct{ lo, hi int64 }

func fullIDRange() idRange { return idRange{lo: math.MinInt64, hi: math.MaxInt64} }

func (r *idRange) apply(p suiteql.Pred, col int) bool {
	if len(p.Cols) != 1 || p.Cols[0] != col || p.Op == suiteql.OpIn || p.Vals[0].Kind != suiteql.KindNumber {
		return false
	}
	v := p.Vals[0].Num
	switch p.Op {
	case suiteql.OpEq:
		if v != math.Trunc(v) {
			r.lo, r.hi = 1, 0
			return true
		}
		r.lo, r.hi = max(r.lo, int64(v)), min(r.hi, int64(v))
	case suiteql.OpGt:
		r.lo = max(r.lo, floorInt(v)+1)
	case suiteql.OpGe:
		r.lo = max(r.lo, ceilInt(v))
	case suiteql.OpLt:
		r.hi = min(r.hi, ceilInt(v)-1)
	case suiteql.OpLe:
		r.hi = min(r.hi, floorInt(v))
	}
	return true
}

// idSet returns the integer IDs an equality or IN predicate on col allows.
func idSet(p suiteql.Pred, col int) ([]int64, bool) {
	if len(p.Cols) != 1 || p.Cols[0] != col || (p.Op != suiteql.OpEq && p.Op != suiteql.OpIn) {
		return nil, false
	}
	var ids []int64
	for _, v := range p.Vals {
		if v.Kind != suiteql.KindNumber {
			return nil, false
		}
		if v.Num == math.Trunc(v.Num) && math.Abs(v.Num) < 1e15 {
			ids = append(ids, int64(v.Num))
		}
	}
	sort.Slice(ids, func(a, b int) bool { return ids[a] < ids[b] })
	out := ids[:0]
	for i, id := range ids {
		if i == 0 || id != ids[i-1] {
			out = append(out, id)
		}
	}
	return out, true
}

func intersect(a, b []int64) []int64 {
	var out []int64
	for i, j := 0, 0; i < len(a) && j < len(b); {
		switch {
		case a[i] < b[j]:
			i++
		case a[i] > b[j]:
			j++
		default:
			out = append(out, a[i])
			i++
			j++
		}
	}
	return out
}

// lmCursor walks events in (last-modified, id) order within a key range,
// merging the base order with the overlay.
type lmCursor struct {
	s              *store
	slab           rowSlab
	pa, pb, qa, qb int
	p, q           int
	desc           bool
	n              int
}

func (s *store) baseKey(p int) lmKey { return lmKey{c: s.ordC[p], id: s.ids[s.ord[p]]} }

func (s *store) lmCursor(r keyRange, desc bool) *lmCursor {
	c := &lmCursor{s: s, desc: desc}
	if !r.empty() {
		n := len(s.ord)
		c.pa = sort.Search(n, func(p int) bool { return !s.baseKey(p).less(r.lo) })
		c.pb = sort.Search(n, func(p int) bool { return r.hi.less(s.baseKey(p)) })
		m := len(s.overKeys)
		c.qa = sort.Search(m, func(q int) bool { return !s.overKeys[q].less(r.lo) })
		c.qb = sort.Search(m, func(q int) bool { return r.hi.less(s.overKeys[q]) })
	}
	c.pb = max(c.pb, c.pa)
	c.qb = max(c.qb, c.qa)
	c.n = (c.pb - c.pa) - countIn32(s.goneList, int32(c.pa), int32(c.pb)) + (c.qb - c.qa)
	if desc {
		c.p, c.q = c.pb-1, c.qb-1
	} else {
		c.p, c.q = c.pa, c.qa
	}
	return c
}

func (c *lmCursor) Len() int { return c.n }

// step advances and reports (base position or -1, overlay index or -1).
func (c *lmCursor) step() (int, int, bool) {
	s := c.s
	if !c.desc {
		for c.p < c.pb && s.gonePos.has(c.p) {
			c.p++
		}
		hasP, hasQ := c.p < c.pb, c.q < c.qb
		switch {
		case hasP && (!hasQ || s.baseKey(c.p).less(s.overKeys[c.q])):
			c.p++
			return c.p - 1, -1, true
		case hasQ:
			c.q++
			return -1, c.q - 1, true
		}
		return -1, -1, false
	}
	for c.p >= c.pa && s.gonePos.has(c.p) {
		c.p--
	}
	hasP, hasQ := c.p >= c.pa, c.q >= c.qa
	switch {
	case hasP && (!hasQ || s.overKeys[c.q].less(s.baseKey(c.p))):
		c.p--
		return c.p + 1, -1, true
	case hasQ:
		c.q--
		return -1, c.q + 1, true
	}
	return -1, -1, false
}

func (c *lmCursor) Skip(n int) int {
	k := 0
	for k < n {
		if _, _, ok := c.step(); !ok {
			break
		}
		k++
	}
	return k
}

func (c *lmCursor) Next() (suiteql.Row, bool) {
	p, q, ok := c.step()
	if !ok {
		return nil, false
	}
	if p >= 0 {
		return c.s.baseRow(c.slab.row(), int(c.s.ord[p])), true
	}
	id := c.s.overKeys[q].id
	return c.s.overRow(c.slab.row(), id, c.s.over[id]), true
}

func (s *store) baseRow(r *ceRow, i int) *ceRow {
	r.s, r.id, r.created, r.modified = s, s.ids[i], s.created[i], s.modified[i]
	return r
}

func (s *store) overRow(r *ceRow, id int64, e *event) *ceRow {
	r.s, r.id, r.ev = s, id, e
	return r
}

// idCursor walks events in ID order within an ID range.
type idCursor struct {
	s              *store
	slab           rowSlab
	ia, ib, na, nb int
	i, k           int
	desc           bool
	n              int
}

func (s *store) idCursor(r idRange, desc bool) *idCursor {
	c := &idCursor{s: s, desc: desc}
	if r.lo <= r.hi {
		c.ia = sort.Search(len(s.ids), func(i int) bool { return s.ids[i] >= r.lo })
		c.ib = sort.Search(len(s.ids), func(i int) bool { return s.ids[i] > r.hi })
		c.na = sort.Search(len(s.newIDs), func(i int) bool { return s.newIDs[i] >= r.lo })
		c.nb = sort.Search(len(s.newIDs), func(i int) bool { return s.newIDs[i] > r.hi })
	}
	c.ib = max(c.ib, c.ia)
	c.nb = max(c.nb, c.na)
	c.n = (c.ib - c.ia) - countIn32(s.deletedList, int32(c.ia), int32(c.ib)) + (c.nb - c.na)
	if desc {
		c.i, c.k = c.ib-1, c.nb-1
	} else {
		c.i, c.k = c.ia, c.na
	}
	return c
}

func (c *idCursor) Len() int { return c.n }

// step returns (base index or -1, new-event index or -1).
func (c *idCursor) step() (int, int, bool) {
	s := c.s
	if !c.desc {
		for c.i < c.ib && s.deletedBase.has(c.i) {
			c.i++
		}
		if c.i < c.ib {
			c.i++
			return c.i - 1, -1, true
		}
		if c.k < c.nb {
			c.k++
			return -1, c.k - 1, true
		}
		return -1, -1, false
	}
	if c.k >= c.na {
		c.k--
		return -1, c.k + 1, true
	}
	for c.i >= c.ia && s.deletedBase.has(c.i) {
		c.i--
	}
	if c.i >= c.ia {
		c.i--
		return c.i + 1, -1, true
	}
	return -1, -1, false
}

func (c *idCursor) Skip(n int) int {
	k := 0
	for k < n {
		if _, _, ok := c.step(); !ok {
			break
		}
		k++
	}
	return k
}

// nextID returns the next event ID.
func (c *idCursor) nextID() (int64, bool) {
	i, k, ok := c.step()
	switch {
	case !ok:
		return 0, false
	case i >= 0:
		return c.s.ids[i], true
	}
	return c.s.newIDs[k], true
}

func (c *idCursor) Next() (suiteql.Row, bool) {
	i, k, ok := c.step()
	if !ok {
		return nil, false
	}
	if i >= 0 {
		if e, changed := c.s.over[c.s.ids[i]]; changed {
			return c.s.overRow(c.slab.row(), e.id, e), true
		}
		return c.s.baseRow(c.slab.row(), i), true
	}
	id := c.s.newIDs[k]
	return c.s.overRow(c.slab.row(), id, c.s.over[id]), true
}

// pointCursor yields the existing events of a sorted ID list.
type pointCursor struct {
	s    *store
	slab rowSlab
	ids  []int64
	i    int
}

func (s *store) pointCursor(ids []int64, desc bool) *pointCursor {
	var live []int64
	for _, id := range ids {
		if s.exists(id) {
			live = append(live, id)
		}
	}
	if desc {
		for a, b := 0, len(live)-1; a < b; a, b = a+1, b-1 {
			live[a], live[b] = live[b], live[a]
		}
	}
	return &pointCursor{s: s, ids: live}
}

func (c *pointCursor) Len() int { return len(c.ids) }

func (c *pointCursor) Skip(n int) int {
	k := min(n, len(c.ids)-c.i)
	c.i += k
	return k
}

func (c *pointCursor) Next() (suiteql.Row, bool) {
	if c.i >= len(c.ids) {
		return nil, false
	}
	id := c.ids[c.i]
	c.i++
	if e, ok := c.s.over[id]; ok {
		return c.s.overRow(c.slab.row(), id, e), true
	}
	return c.s.baseRow(c.slab.row(), c.s.baseIndex(id)), true
}
