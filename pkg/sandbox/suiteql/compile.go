package suiteql

import (
	"strconv"

	"github.com/nsflow/nsflow/pkg/sandbox/nstime"
)

// Env is the session a query runs in.
type Env struct {
	// DatePref renders DATE and TIMESTAMP values that are not formatted with
	// TO_CHAR, and reads strings compared with dates. Required.
	DatePref *nstime.DatePref
	// Now is the current civil time in the session time zone (SYSDATE, and
	// the defaults of TO_DATE).
	Now int64
}

// tri is a three-valued logic value.
type tri uint8

const (
	triFalse tri = iota
	triTrue
	triUnknown
)

type execCtx struct {
	rows []Row
	err  error
	env  *Env
}

func (c *execCtx) fail(err error) {
	if c.err == nil {
		c.err = err
	}
}

type valFn func(*execCtx) Value
type boolFn func(*execCtx) tri

// vnode is a compiled value expression.
type vnode struct {
	eval     valFn
	constant bool
	val      Value // when constant
	tab, col int   // bare column reference when col >= 0
	mask     uint64
	hasAgg   bool
	bareCols bool // references a column outside any aggregate
	// render, when set, appends the value's text directly (skipping the
	// intermediate string); ok is false for NULL.
	render func(ctx *execCtx, b []byte) (out []byte, ok bool)
}

// bnode is a compiled boolean expression.
type bnode struct {
	eval boolFn
	mask uint64
}

type boundTable struct {
	name, alias string
	t           Table
	cols        []Column
	index       map[string]int
	join        *boundJoin
}

type boundJoin struct {
	kind JoinKind
	on   []bnode
	eqs  []joinEq
}

type joinEq struct {
	col  int
	left *vnode
}

type outItem struct {
	key      []byte // `,"name":`
	eval     valFn
	render   func(ctx *execCtx, b []byte) ([]byte, bool)
	tab, col int // a bare column when col >= 0 (read without eval)
}

type orderKey struct {
	v          *vnode
	desc       bool
	nullsFirst bool
}

type aggState struct {
	kind  string
	arg   *vnode // nil for COUNT(*)
	count int64
	acc   Value
	sum   float64
}

type conjunct struct {
	b      bnode
	predAt int // index into preds, or -1
}

// Query is a compiled SuiteQL query, bound to a catalog. Execute it any
// number of times; it is not safe for concurrent Execute calls.
type Query struct {
	env       Env
	tables    []*boundTable
	items     []outItem
	conjs     []conjunct
	preds     []Pred
	order     []orderKey
	drvOrder  []OrderKey // ORDER BY as table-0 columns, or nil
	rownum    int64      // -1 when absent
	aggs      []*aggState
	aggregate bool
	countOnly bool // the only aggregate is COUNT(*)
}

type compiler struct {
	q       *Query
	sel     *Select
	allowAg bool
	aliases map[string]*vnode // select aliases, for ORDER BY
	inAgg   bool
}

// Prepare parses and compiles src against cat.
func Prepare(src string, cat Catalog, env Env) (*Query, error) {
	sel, err := Parse(src)
	if err != nil {
		return nil, err
	}
	return Compile(sel, cat, env)
}

// Compile binds a parsed statement to cat: it resolves tables, columns and
// functions, folds constants and plans the access predicates.
func Compile(sel *Select, cat Catalog, env Env) (*Query, error) {
	if env.DatePref == nil {
		return nil, errorf(-1, "no date format preference")
	}
	q := &Query{env: env, rownum: -1}
	c := &compiler{q: q, sel: sel}
	refs := append([]TableRef{sel.From}, make([]TableRef, 0, len(sel.Joins))...)
	for _, j := range sel.Joins {
		refs = append(refs, j.Table)
	}
	if len(refs) > 8 {
		return nil, errorf(-1, "too many joined tables")
	}
	for _, r := range refs {
		t, ok := cat.Table(r.Name)
		if !ok {
			return nil, errorf(r.Pos, "Record '%s' was not found.", r.Name)
		}
		bt := &boundTable{name: r.Name, alias: r.Alias, t: t, cols: t.Columns(), index: map[string]int{}}
		for i, col := range bt.cols {
			bt.index[col.Name] = i
		}
		for _, o := range q.tables {
			if o.ref() == bt.ref() {
				return nil, errorf(r.Pos, "Duplicate table alias '%s'", bt.ref())
			}
		}
		q.tables = append(q.tables, bt)
	}
	// Join conditions: only the tables joined so far are visible.
	for i, j := range sel.Joins {
		bj := &boundJoin{kind: j.Kind}
		visible := q.tables[:i+2]
		for _, e := range splitAnd(j.On) {
			b, err := c.boolExpr(e, visible)
			if err != nil {
				return nil, err
			}
			bj.on = append(bj.on, b)
			if eq, ok := c.joinEquality(e, visible, i+1); ok {
				bj.eqs = append(bj.eqs, eq)
			}
		}
		q.tables[i+1].join = bj
	}
	if err := c.selectList(); err != nil {
		return nil, err
	}
	if sel.Where != nil {
		if err := c.where(sel.Where); err != nil {
			return nil, err
		}
	}
	if err := c.orderBy(); err != nil {
		return nil, err
	}
	return q, nil
}

func (t *boundTable) ref() string {
	if t.alias != "" {
		return t.alias
	}
	return t.name
}

func splitAnd(e Expr) []Expr {
	if b, ok := e.(*BinaryExpr); ok && b.Op == "AND" {
		return append(splitAnd(b.L), splitAnd(b.R)...)
	}
	return []Expr{e}
}

func (c *compiler) selectList() error {
	q := c.q
	seen := map[string]bool{}
	c.aliases = map[string]*vnode{}
	add := func(name string, v *vnode) {
		if seen[name] {
			return
		}
		seen[name] = true
		key := append([]byte{','}, appendJSONString(nil, name)...)
		key = append(key, ':')
		q.items = append(q.items, outItem{key: key, eval: v.eval, render: v.render, tab: v.tab, col: v.col})
	}
	var hasAgg, hasBare bool
	n := 0
	for _, it := range c.sel.Items {
		if it.Star {
			var ts []int
			if it.StarTable == "" {
				for i := range q.tables {
					ts = append(ts, i)
				}
			} else {
				for i, t := range q.tables {
					if t.ref() == it.StarTable {
						ts = append(ts, i)
					}
				}
				if len(ts) == 0 {
					return errorf(it.Pos, "Unknown identifier '%s.*'", it.StarTable)
				}
			}
			for _, ti := range ts {
				for ci, col := range q.tables[ti].cols {
					n++
					v := colNode(ti, ci)
					hasBare = true
					add(col.Name, v)
				}
			}
			continue
		}
		n++
		c.allowAg = true
		v, err := c.valueExpr(it.Expr, q.tables)
		c.allowAg = false
		if err != nil {
			return err
		}
		hasAgg = hasAgg || v.hasAgg
		hasBare = hasBare || v.bareCols
		name := it.Alias
		if name == "" {
			if cr, ok := it.Expr.(*ColumnRef); ok && v.col >= 0 {
				name = cr.Name
			} else {
				name = "expr" + strconv.Itoa(n)
			}
		}
		if it.Alias != "" {
			c.aliases[it.Alias] = v
		}
		add(name, v)
	}
	if hasAgg {
		if hasBare {
			return errorf(-1, "not a single-group group function")
		}
		q.aggregate = true
		q.countOnly = len(q.aggs) == 1 && q.aggs[0].kind == "count" && q.aggs[0].arg == nil
	}
	return nil
}

func colNode(ti, ci int) *vnode {
	return &vnode{
		eval: func(x *execCtx) Value {
			r := x.rows[ti]
			if r == nil {
				return Null
			}
			return r.Value(ci)
		},
		tab: ti, col: ci, mask: 1 << uint(ti), bareCols: true,
	}
}

func (c *compiler) orderBy() error {
	q := c.q
	drv := true
	for _, oi := range c.sel.OrderBy {
		var v *vnode
		switch x := oi.Expr.(type) {
		case *NumberLit:
			k := int(x.Val)
			if float64(k) != x.Val || k < 1 || k > len(q.items) {
				return errorf(x.Pos, "ORDER BY item must be the number of a SELECT-list expression")
			}
			it := q.items[k-1]
			v = &vnode{eval: it.eval, col: -1}
		case *ColumnRef:
			if a, ok := c.aliases[x.Name]; ok && x.Table == "" {
				v = a
			}
		}
		if v == nil {
			var err error
			v, err = c.valueExpr(oi.Expr, q.tables)
			if err != nil {
				return err
			}
			if v.hasAgg {
				return errorf(oi.Expr.exprPos(), "group function is not allowed here")
			}
		}
		nf := oi.Desc
		if oi.NullsFirst != nil {
			if *oi.NullsFirst != oi.Desc {
				drv = false
			}
			nf = *oi.NullsFirst
		}
		q.order = append(q.order, orderKey{v: v, desc: oi.Desc, nullsFirst: nf})
		if v.col >= 0 && v.tab == 0 && drv {
			q.drvOrder = append(q.drvOrder, OrderKey{Col: v.col, Desc: oi.Desc})
		} else {
			drv = false
		}
	}
	if !drv {
		q.drvOrder = nil
	}
	return nil
}

func (c *compiler) resolve(cr *ColumnRef, tables []*boundTable) (*vnode, error) {
	if cr.Table != "" {
		for ti, t := range tables {
			if t.ref() == cr.Table {
				if ci, ok := t.index[cr.Name]; ok {
					return colNode(ti, ci), nil
				}
				return nil, errorf(cr.Pos, "Unknown identifier '%s.%s'", cr.Table, cr.Name)
			}
		}
		return nil, errorf(cr.Pos, "Unknown identifier '%s.%s'", cr.Table, cr.Name)
	}
	var found *vnode
	for ti, t := range tables {
		if ci, ok := t.index[cr.Name]; ok {
			if found != nil {
				return nil, errorf(cr.Pos, "Column ambiguously defined: '%s'", cr.Name)
			}
			found = colNode(ti, ci)
		}
	}
	if found != nil {
		return found, nil
	}
	switch cr.Name {
	case "sysdate", "current_date", "current_timestamp", "systimestamp":
		v := Timestamp(c.q.env.Now)
		return constNode(v), nil
	}
	return nil, errorf(cr.Pos, "Unknown identifier '%s'", cr.Name)
}

func constNode(v Value) *vnode {
	return &vnode{eval: func(*execCtx) Value { return v }, constant: true, val: v, col: -1}
}

// fold evaluates a node whose inputs are all constant.
func (c *compiler) fold(n *vnode, pos int) (*vnode, error) {
	if n.mask != 0 || n.hasAgg {
		return n, nil
	}
	x := &execCtx{env: &c.q.env}
	v := n.eval(x)
	if x.err != nil {
		if e, ok := x.err.(*Error); ok && e.Pos < 0 {
			e.Pos = pos
		}
		return nil, x.err
	}
	return constNode(v), nil
}

func (c *compiler) boolExpr(e Expr, tables []*boundTable) (bnode, error) {
	switch x := e.(type) {
	case *BinaryExpr:
		switch x.Op {
		case "AND", "OR":
			l, err := c.boolExpr(x.L, tables)
			if err != nil {
				return bnode{}, err
			}
			r, err := c.boolExpr(x.R, tables)
			if err != nil {
				return bnode{}, err
			}
			le, re := l.eval, r.eval
			if x.Op == "AND" {
				return bnode{mask: l.mask | r.mask, eval: func(ctx *execCtx) tri {
					a := le(ctx)
					if a == triFalse {
						return triFalse
					}
					b := re(ctx)
					if b == triFalse {
						return triFalse
					}
					if a == triTrue && b == triTrue {
						return triTrue
					}
					return triUnknown
				}}, nil
			}
			return bnode{mask: l.mask | r.mask, eval: func(ctx *execCtx) tri {
				a := le(ctx)
				if a == triTrue {
					return triTrue
				}
				b := re(ctx)
				if b == triTrue {
					return triTrue
				}
				if a == triFalse && b == triFalse {
					return triFalse
				}
				return triUnknown
			}}, nil
		case "=", "<>", "<", "<=", ">", ">=":
			l, err := c.valueExpr(x.L, tables)
			if err != nil {
				return bnode{}, err
			}
			r, err := c.valueExpr(x.R, tables)
			if err != nil {
				return bnode{}, err
			}
			if l.hasAgg || r.hasAgg {
				return bnode{}, errorf(x.Pos, "group function is not allowed here")
			}
			return c.comparison(x.Op, l, r), nil
		}
	case *UnaryExpr:
		if x.Op == "NOT" {
			in, err := c.boolExpr(x.X, tables)
			if err != nil {
				return bnode{}, err
			}
			f := in.eval
			return bnode{mask: in.mask, eval: func(ctx *execCtx) tri {
				switch f(ctx) {
				case triTrue:
					return triFalse
				case triFalse:
					return triTrue
				}
				return triUnknown
			}}, nil
		}
	case *InExpr:
		xv, err := c.valueExpr(x.X, tables)
		if err != nil {
			return bnode{}, err
		}
		mask := xv.mask
		list := make([]*vnode, len(x.List))
		allConst := true
		for i, le := range x.List {
			lv, err := c.valueExpr(le, tables)
			if err != nil {
				return bnode{}, err
			}
			list[i] = lv
			mask |= lv.mask
			allConst = allConst && lv.constant
		}
		if xv.hasAgg {
			return bnode{}, errorf(x.Pos, "group function is not allowed here")
		}
		return c.inList(xv, list, allConst, x.Not, mask), nil
	case *IsNullExpr:
		xv, err := c.valueExpr(x.X, tables)
		if err != nil {
			return bnode{}, err
		}
		f, not := xv.eval, x.Not
		return bnode{mask: xv.mask, eval: func(ctx *execCtx) tri {
			if f(ctx).IsNull() != not {
				return triTrue
			}
			return triFalse
		}}, nil
	case *LikeExpr:
		return c.like(x, tables)
	case *BetweenExpr:
		lo := &BinaryExpr{Op: ">=", L: x.X, R: x.Lo, Pos: x.Pos}
		hi := &BinaryExpr{Op: "<=", L: x.X, R: x.Hi, Pos: x.Pos}
		var both Expr = &BinaryExpr{Op: "AND", L: lo, R: hi, Pos: x.Pos}
		if x.Not {
			both = &UnaryExpr{Op: "NOT", X: both, Pos: x.Pos}
		}
		return c.boolExpr(both, tables)
	case *Rownum:
		return bnode{}, errorf(x.Pos, "Unsupported use of ROWNUM: use a top-level ROWNUM <= n condition")
	}
	return bnode{}, errorf(e.exprPos(), "invalid relational operator at position %d", e.exprPos()+1)
}

func (c *compiler) comparison(op string, l, r *vnode) bnode {
	lf, rf := l.eval, r.eval
	pref := c.q.env.DatePref
	var test func(int) bool
	switch op {
	case "=":
		test = func(k int) bool { return k == 0 }
	case "<>":
		test = func(k int) bool { return k != 0 }
	case "<":
		test = func(k int) bool { return k < 0 }
	case "<=":
		test = func(k int) bool { return k <= 0 }
	case ">":
		test = func(k int) bool { return k > 0 }
	default:
		test = func(k int) bool { return k >= 0 }
	}
	return bnode{mask: l.mask | r.mask, eval: func(ctx *execCtx) tri {
		a := lf(ctx)
		if a.IsNull() {
			return triUnknown
		}
		b := rf(ctx)
		if b.IsNull() {
			return triUnknown
		}
		k, err := compareValues(a, b, pref)
		if err != nil {
			ctx.fail(err)
			return triUnknown
		}
		if test(k) {
			return triTrue
		}
		return triFalse
	}}
}

func (c *compiler) inList(xv *vnode, list []*vnode, allConst, not bool, mask uint64) bnode {
	pref := c.q.env.DatePref
	xf := xv.eval
	// A constant list of numbers can use a set.
	if allConst {
		nums := map[float64]bool{}
		strs := map[string]bool{}
		hasNull, simple := false, true
		for _, l := range list {
			switch l.val.Kind {
			case KindNull:
				hasNull = true
			case KindNumber:
				nums[l.val.Num] = true
			case KindString:
				strs[l.val.Str] = true
			default:
				simple = false
			}
		}
		if simple && (len(nums) == 0 || len(strs) == 0) {
			return bnode{mask: mask, eval: func(ctx *execCtx) tri {
				v := xf(ctx)
				if v.IsNull() {
					return triUnknown
				}
				var hit bool
				switch {
				case v.Kind == KindNumber && len(strs) == 0:
					hit = nums[v.Num]
				case v.Kind == KindString && len(nums) == 0:
					hit = strs[v.Str]
				default:
					for _, l := range list {
						if l.val.IsNull() {
							continue
						}
						k, err := compareValues(v, l.val, pref)
						if err != nil {
							ctx.fail(err)
							return triUnknown
						}
						if k == 0 {
							hit = true
							break
						}
					}
				}
				return inResult(hit, hasNull, not)
			}}
		}
	}
	return bnode{mask: mask, eval: func(ctx *execCtx) tri {
		v := xf(ctx)
		if v.IsNull() {
			return triUnknown
		}
		hit, hasNull := false, false
		for _, l := range list {
			lv := l.eval(ctx)
			if lv.IsNull() {
				hasNull = true
				continue
			}
			k, err := compareValues(v, lv, pref)
			if err != nil {
				ctx.fail(err)
				return triUnknown
			}
			if k == 0 {
				hit = true
				break
			}
		}
		return inResult(hit, hasNull, not)
	}}
}

func inResult(hit, hasNull, not bool) tri {
	switch {
	case hit && !not:
		return triTrue
	case hit && not:
		return triFalse
	case hasNull:
		return triUnknown
	case not:
		return triTrue
	}
	return triFalse
}

func (c *compiler) valueExpr(e Expr, tables []*boundTable) (*vnode, error) {
	switch x := e.(type) {
	case *ColumnRef:
		return c.resolve(x, tables)
	case *StringLit:
		return constNode(Str(x.Val)), nil
	case *NumberLit:
		return constNode(Num(x.Val)), nil
	case *NullLit:
		return constNode(Null), nil
	case *Rownum:
		return nil, errorf(x.Pos, "Unsupported use of ROWNUM: use a top-level ROWNUM <= n condition")
	case *UnaryExpr:
		if x.Op == "-" {
			in, err := c.valueExpr(x.X, tables)
			if err != nil {
				return nil, err
			}
			f := in.eval
			n := &vnode{mask: in.mask, hasAgg: in.hasAgg, bareCols: in.bareCols, col: -1, eval: func(ctx *execCtx) Value {
				v := f(ctx)
				if v.IsNull() {
					return Null
				}
				fv, err := toNumber(v)
				if err != nil {
					ctx.fail(err)
					return Null
				}
				return Num(-fv)
			}}
			return c.fold(n, x.Pos)
		}
	case *BinaryExpr:
		switch x.Op {
		case "+", "-", "*", "/", "||":
			l, err := c.valueExpr(x.L, tables)
			if err != nil {
				return nil, err
			}
			r, err := c.valueExpr(x.R, tables)
			if err != nil {
				return nil, err
			}
			n := &vnode{mask: l.mask | r.mask, hasAgg: l.hasAgg || r.hasAgg, bareCols: l.bareCols || r.bareCols, col: -1,
				eval: c.arith(x.Op, l.eval, r.eval)}
			return c.fold(n, x.Pos)
		}
	case *FuncCall:
		return c.call(x, tables)
	}
	return nil, errorf(e.exprPos(), "Syntax error: a condition is not allowed here (position %d)", e.exprPos()+1)
}
