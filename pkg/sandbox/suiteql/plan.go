package suiteql

import "math"

// where splits the WHERE clause into conjuncts, takes out ROWNUM limits and
// extracts the access predicates tables may absorb.
func (c *compiler) where(w Expr) error {
	q := c.q
	for _, e := range splitAnd(w) {
		if lim, ok, err := rownumLimit(e); err != nil {
			return err
		} else if ok {
			if q.rownum < 0 || lim < q.rownum {
				q.rownum = lim
			}
			continue
		}
		b, err := c.boolExpr(e, q.tables)
		if err != nil {
			return err
		}
		cj := conjunct{b: b, predAt: -1}
		if p, ok := c.pred(e); ok {
			cj.predAt = len(q.preds)
			q.preds = append(q.preds, p)
		}
		q.conjs = append(q.conjs, cj)
	}
	return nil
}

// rownumLimit recognises ROWNUM <= n, ROWNUM < n, ROWNUM = 1 (and the
// mirrored forms) and returns the number of rows they allow.
func rownumLimit(e Expr) (int64, bool, error) {
	b, ok := e.(*BinaryExpr)
	if !ok {
		return 0, false, nil
	}
	op := b.Op
	l, r := b.L, b.R
	if _, ok := r.(*Rownum); ok {
		l, r = r, l
		op = flipOp(op)
	}
	if _, ok := l.(*Rownum); !ok {
		return 0, false, nil
	}
	n, ok := r.(*NumberLit)
	if !ok {
		return 0, false, errorf(b.Pos, "Unsupported use of ROWNUM: compare it with a number")
	}
	v := math.Floor(n.Val)
	switch op {
	case "<=":
	case "<":
		if n.Val == v {
			v--
		}
	case "=":
		if n.Val != 1 {
			v = 0
		}
	default:
		return 0, false, errorf(b.Pos, "Unsupported use of ROWNUM: use ROWNUM <= n")
	}
	if v < 0 {
		v = 0
	}
	if v > math.MaxInt32 {
		v = math.MaxInt32
	}
	return int64(v), true, nil
}

func flipOp(op string) string {
	switch op {
	case "<":
		return ">"
	case "<=":
		return ">="
	case ">":
		return "<"
	case ">=":
		return "<="
	}
	return op
}

func opOf(s string) (Op, bool) {
	switch s {
	case "=":
		return OpEq, true
	case "<":
		return OpLt, true
	case "<=":
		return OpLe, true
	case ">":
		return OpGt, true
	case ">=":
		return OpGe, true
	}
	return 0, false
}

// constCol inspects a comparison and returns (column of table 0, op, const)
// with the column on the left.
func (c *compiler) constCol(e Expr) (col int, op string, v Value, ok bool) {
	b, isBin := e.(*BinaryExpr)
	if !isBin {
		return 0, "", Null, false
	}
	if _, isCmp := opOf(b.Op); !isCmp {
		return 0, "", Null, false
	}
	lv, err1 := c.valueExpr(b.L, c.q.tables)
	rv, err2 := c.valueExpr(b.R, c.q.tables)
	if err1 != nil || err2 != nil {
		return 0, "", Null, false
	}
	switch {
	case lv.col >= 0 && lv.tab == 0 && rv.constant && !rv.val.IsNull():
		return lv.col, b.Op, rv.val, true
	case rv.col >= 0 && rv.tab == 0 && lv.constant && !lv.val.IsNull():
		return rv.col, flipOp(b.Op), lv.val, true
	}
	return 0, "", Null, false
}

func (c *compiler) pred(e Expr) (Pred, bool) {
	if col, op, v, ok := c.constCol(e); ok {
		o, _ := opOf(op)
		return Pred{Cols: []int{col}, Op: o, Vals: []Value{v}}, true
	}
	switch x := e.(type) {
	case *InExpr:
		if x.Not {
			return Pred{}, false
		}
		xv, err := c.valueExpr(x.X, c.q.tables)
		if err != nil || xv.col < 0 || xv.tab != 0 {
			return Pred{}, false
		}
		p := Pred{Cols: []int{xv.col}, Op: OpIn}
		for _, le := range x.List {
			lv, err := c.valueExpr(le, c.q.tables)
			if err != nil || !lv.constant {
				return Pred{}, false
			}
			if !lv.val.IsNull() {
				p.Vals = append(p.Vals, lv.val)
			}
		}
		return p, true
	case *BinaryExpr:
		if x.Op == "OR" {
			if p, ok := c.keyset(x.L, x.R); ok {
				return p, true
			}
			return c.keyset(x.R, x.L)
		}
	}
	return Pred{}, false
}

// keyset recognises a > v OR (a = v AND b > w) (and >=, <, <= variants).
func (c *compiler) keyset(first, second Expr) (Pred, bool) {
	c1, op1, v1, ok := c.constCol(first)
	if !ok || (op1 != ">" && op1 != "<") {
		return Pred{}, false
	}
	and, ok := second.(*BinaryExpr)
	if !ok || and.Op != "AND" {
		return Pred{}, false
	}
	for _, pair := range [][2]Expr{{and.L, and.R}, {and.R, and.L}} {
		ce, oe, ve, ok1 := c.constCol(pair[0])
		c2, op2, v2, ok2 := c.constCol(pair[1])
		if !ok1 || !ok2 || oe != "=" || ce != c1 || c2 == c1 || ve.Kind != v1.Kind {
			continue
		}
		if cmp, err := compareValues(ve, v1, c.q.env.DatePref); err != nil || cmp != 0 {
			continue
		}
		var op Op
		switch {
		case op1 == ">" && op2 == ">":
			op = OpGt
		case op1 == ">" && op2 == ">=":
			op = OpGe
		case op1 == "<" && op2 == "<":
			op = OpLt
		case op1 == "<" && op2 == "<=":
			op = OpLe
		default:
			continue
		}
		return Pred{Cols: []int{c1, c2}, Op: op, Vals: []Value{v1, v2}}, true
	}
	return Pred{}, false
}

func (c *compiler) joinEquality(e Expr, visible []*boundTable, right int) (joinEq, bool) {
	b, ok := e.(*BinaryExpr)
	if !ok || b.Op != "=" {
		return joinEq{}, false
	}
	lv, err1 := c.valueExpr(b.L, visible)
	rv, err2 := c.valueExpr(b.R, visible)
	if err1 != nil || err2 != nil {
		return joinEq{}, false
	}
	rightMask := uint64(1) << uint(right)
	switch {
	case rv.col >= 0 && rv.tab == right && lv.mask&rightMask == 0:
		return joinEq{col: rv.col, left: lv}, true
	case lv.col >= 0 && lv.tab == right && rv.mask&rightMask == 0:
		return joinEq{col: lv.col, left: rv}, true
	}
	return joinEq{}, false
}
