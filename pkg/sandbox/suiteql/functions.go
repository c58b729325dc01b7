package suiteql

import (
	"math"
	"strings"

	"github.com/nsflow/nsflow/pkg/sandbox/nstime"
)

// like compiles [NOT] LIKE.
func (c *compiler) like(x *LikeExpr, tables []*boundTable) (bnode, error) {
	xv, err := c.valueExpr(x.X, tables)
	if err != nil {
		return bnode{}, err
	}
	pv, err := c.valueExpr(x.Pattern, tables)
	if err != nil {
		return bnode{}, err
	}
	esc := byte(0)
	if x.Escape != nil {
		ev, err := c.valueExpr(x.Escape, tables)
		if err != nil {
			return bnode{}, err
		}
		if !ev.constant || ev.val.Kind != KindString || len(ev.val.Str) != 1 {
			return bnode{}, errorf(x.Escape.exprPos(), "escape character must be character string of length 1")
		}
		esc = ev.val.Str[0]
	}
	pref := c.q.env.DatePref
	xf, pf, not := xv.eval, pv.eval, x.Not
	return bnode{mask: xv.mask | pv.mask, eval: func(ctx *execCtx) tri {
		v := xf(ctx)
		p := pf(ctx)
		if v.IsNull() || p.IsNull() {
			return triUnknown
		}
		if likeMatch(textOf(v, pref), textOf(p, pref), esc) != not {
			return triTrue
		}
		return triFalse
	}}, nil
}

// likeMatch matches s against a LIKE pattern (% any run, _ any one
// character) in O(len(s)*len(p)) time, without backtracking blow-up.
func likeMatch(s, p string, esc byte) bool {
	type tok struct {
		kind byte // 'l' literal byte, '_' one rune, '%' any run
		b    byte
	}
	toks := make([]tok, 0, len(p))
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case esc != 0 && c == esc && i+1 < len(p):
			i++
			toks = append(toks, tok{kind: 'l', b: p[i]})
		case c == '%':
			if len(toks) == 0 || toks[len(toks)-1].kind != '%' {
				toks = append(toks, tok{kind: '%'})
			}
		case c == '_':
			toks = append(toks, tok{kind: '_'})
		default:
			toks = append(toks, tok{kind: 'l', b: c})
		}
	}
	si, ti := 0, 0
	starT, starS := -1, 0
	for si < len(s) {
		if ti < len(toks) {
			switch t := toks[ti]; t.kind {
			case '%':
				starT, starS = ti, si
				ti++
				continue
			case '_':
				_, n := decodeRune(s[si:])
				si += n
				ti++
				continue
			default:
				if s[si] == t.b {
					si++
					ti++
					continue
				}
			}
		}
		if starT < 0 {
			return false
		}
		_, n := decodeRune(s[starS:])
		starS += n
		si, ti = starS, starT+1
	}
	for ti < len(toks) && toks[ti].kind == '%' {
		ti++
	}
	return ti == len(toks)
}

func (c *compiler) arith(op string, lf, rf valFn) valFn {
	pref := c.q.env.DatePref
	if op == "||" {
		return func(ctx *execCtx) Value {
			a, b := lf(ctx), rf(ctx)
			return Str(textOf(a, pref) + textOf(b, pref))
		}
	}
	return func(ctx *execCtx) Value {
		a, b := lf(ctx), rf(ctx)
		if a.IsNull() || b.IsNull() {
			return Null
		}
		isTime := func(v Value) bool { return v.Kind == KindDate || v.Kind == KindTimestamp }
		switch {
		case isTime(a) && isTime(b) && op == "-":
			return Num(float64(a.Time-b.Time) / nstime.SecondsPerDay)
		case isTime(a) && (op == "+" || op == "-"):
			d, err := toNumber(b)
			if err != nil {
				ctx.fail(err)
				return Null
			}
			if op == "-" {
				d = -d
			}
			return Value{Kind: a.Kind, Time: a.Time + int64(math.Round(d*nstime.SecondsPerDay))}
		case isTime(b) && op == "+":
			d, err := toNumber(a)
			if err != nil {
				ctx.fail(err)
				return Null
			}
			return Value{Kind: b.Kind, Time: b.Time + int64(math.Round(d*nstime.SecondsPerDay))}
		}
		x, err := toNumber(a)
		if err != nil {
			ctx.fail(err)
			return Null
		}
		y, err := toNumber(b)
		if err != nil {
			ctx.fail(err)
			return Null
		}
		switch op {
		case "+":
			return Num(x + y)
		case "-":
			return Num(x - y)
		case "*":
			return Num(x * y)
		}
		if y == 0 {
			ctx.fail(errorf(-1, "divisor is equal to zero"))
			return Null
		}
		return Num(x / y)
	}
}

func argCount(f *FuncCall, lo, hi int) error {
	if f.Star || len(f.Args) < lo || len(f.Args) > hi {
		return errorf(f.Pos, "invalid number of arguments for function '%s'", strings.ToUpper(f.Name))
	}
	return nil
}

func (c *compiler) call(f *FuncCall, tables []*boundTable) (*vnode, error) {
	pref := c.q.env.DatePref
	switch f.Name {
	case "count", "min", "max", "sum", "avg":
		return c.aggregate(f, tables)
	case "builtin.df":
		if err := argCount(f, 1, 1); err != nil {
			return nil, err
		}
		cr, ok := f.Args[0].(*ColumnRef)
		if !ok {
			return nil, errorf(f.Pos, "BUILTIN.DF requires a field reference")
		}
		col, err := c.resolve(cr, tables)
		if err != nil {
			return nil, err
		}
		if col.col < 0 {
			return nil, errorf(f.Pos, "BUILTIN.DF requires a field reference")
		}
		ti, ci := col.tab, col.col
		disp := tables[ti].cols[ci].Display
		return &vnode{mask: col.mask, bareCols: true, col: -1, eval: func(ctx *execCtx) Value {
			r := ctx.rows[ti]
			if r == nil {
				return Null
			}
			if disp {
				return r.Display(ci)
			}
			v := r.Value(ci)
			if v.Kind == KindString || v.IsNull() {
				return v
			}
			return Str(textOf(v, pref))
		}}, nil
	}
	args := make([]*vnode, len(f.Args))
	n := &vnode{col: -1}
	for i, a := range f.Args {
		v, err := c.valueExpr(a, tables)
		if err != nil {
			return nil, err
		}
		args[i] = v
		n.mask |= v.mask
		n.hasAgg = n.hasAgg || v.hasAgg
		n.bareCols = n.bareCols || v.bareCols
	}
	constArg := func(i int) (Value, error) {
		if !args[i].constant {
			return Null, errorf(f.Args[i].exprPos(), "the format of %s must be a literal", strings.ToUpper(f.Name))
		}
		return args[i].val, nil
	}
	switch f.Name {
	case "to_char":
		if err := argCount(f, 1, 2); err != nil {
			return nil, err
		}
		x := args[0].eval
		var model *nstime.Model
		if len(args) == 2 {
			fv, err := constArg(1)
			if err != nil {
				return nil, err
			}
			if fv.Kind != KindString {
				return nil, errorf(f.Pos, "date format not recognized")
			}
			m, err := nstime.CompileModel(fv.Str)
			if err != nil {
				return nil, errorf(f.Args[1].exprPos(), "%s", err.Error())
			}
			model = m
		}
		if model != nil {
			n.render = func(ctx *execCtx, b []byte) ([]byte, bool) {
				v := x(ctx)
				switch v.Kind {
				case KindDate, KindTimestamp:
					return model.Append(b, v.Time), true
				case KindNull:
					return b, false
				}
				if v.Kind == KindNumber {
					ctx.fail(errorf(-1, "invalid number format model"))
				} else {
					ctx.fail(errorf(-1, "invalid number"))
				}
				return b, false
			}
		}
		n.eval = func(ctx *execCtx) Value {
			v := x(ctx)
			switch v.Kind {
			case KindNull:
				return Null
			case KindDate, KindTimestamp:
				if model != nil {
					var buf [48]byte
					return Str(string(model.Append(buf[:0], v.Time)))
				}
				return Str(textOf(v, pref))
			case KindNumber:
				if model != nil {
					ctx.fail(errorf(-1, "invalid number format model"))
					return Null
				}
				return Str(textOf(v, pref))
			}
			if model != nil {
				ctx.fail(errorf(-1, "invalid number"))
				return Null
			}
			return v
		}
	case "to_date", "to_timestamp":
		if err := argCount(f, 1, 2); err != nil {
			return nil, err
		}
		x := args[0].eval
		var model *nstime.Model
		if len(args) == 2 {
			fv, err := constArg(1)
			if err != nil {
				return nil, err
			}
			if fv.Kind != KindString {
				return nil, errorf(f.Pos, "date format not recognized")
			}
			m, err := nstime.CompileModel(fv.Str)
			if err != nil {
				return nil, errorf(f.Args[1].exprPos(), "%s", err.Error())
			}
			model = m
		}
		kind := KindTimestamp
		if f.Name == "to_date" && (model == nil || !model.HasTime()) {
			kind = KindDate
		}
		now := c.q.env.Now
		n.eval = func(ctx *execCtx) Value {
			v := x(ctx)
			switch v.Kind {
			case KindNull:
				return Null
			case KindDate, KindTimestamp:
				return Value{Kind: kind, Time: v.Time}
			}
			s := textOf(v, pref)
			var t int64
			if model != nil {
				var err error
				t, err = model.Parse(s, now)
				if err != nil {
					ctx.fail(errorf(-1, "%s", err.Error()))
					return Null
				}
			} else {
				var err error
				t, _, err = pref.Parse(s)
				if err != nil {
					ctx.fail(errorf(-1, "Parse of date/time \"%s\" failed with date format \"%s\"", s, pref))
					return Null
				}
			}
			return Value{Kind: kind, Time: t}
		}
	case "upper", "lower":
		if err := argCount(f, 1, 1); err != nil {
			return nil, err
		}
		x, up := args[0].eval, f.Name == "upper"
		n.eval = func(ctx *execCtx) Value {
			v := x(ctx)
			if v.IsNull() {
				return Null
			}
			if up {
				return Str(strings.ToUpper(textOf(v, pref)))
			}
			return Str(strings.ToLower(textOf(v, pref)))
		}
	case "nvl", "coalesce":
		if f.Name == "nvl" {
			if err := argCount(f, 2, 2); err != nil {
				return nil, err
			}
		} else if err := argCount(f, 1, 255); err != nil {
			return nil, err
		}
		n.eval = func(ctx *execCtx) Value {
			for _, a := range args {
				if v := a.eval(ctx); !v.IsNull() {
					return v
				}
			}
			return Null
		}
	case "trunc":
		if err := argCount(f, 1, 1); err != nil {
			return nil, err
		}
		x := args[0].eval
		n.eval = func(ctx *execCtx) Value {
			v := x(ctx)
			switch v.Kind {
			case KindDate, KindTimestamp:
				return Date(v.Time)
			case KindNull:
				return Null
			}
			fv, err := toNumber(v)
			if err != nil {
				ctx.fail(err)
				return Null
			}
			return Num(math.Trunc(fv))
		}
	case "length":
		if err := argCount(f, 1, 1); err != nil {
			return nil, err
		}
		x := args[0].eval
		n.eval = func(ctx *execCtx) Value {
			v := x(ctx)
			if v.IsNull() {
				return Null
			}
			return Int(int64(len([]rune(textOf(v, pref)))))
		}
	case "substr":
		if err := argCount(f, 2, 3); err != nil {
			return nil, err
		}
		n.eval = func(ctx *execCtx) Value {
			v := args[0].eval(ctx)
			pv := args[1].eval(ctx)
			if v.IsNull() || pv.IsNull() {
				return Null
			}
			r := []rune(textOf(v, pref))
			p, err := toNumber(pv)
			if err != nil {
				ctx.fail(err)
				return Null
			}
			start := int(p)
			switch {
			case start == 0:
				start = 1
			case start < 0:
				start = len(r) + start + 1
			}
			if start < 1 || start > len(r) {
				return Null
			}
			end := len(r)
			if len(args) == 3 {
				lv := args[2].eval(ctx)
				if lv.IsNull() {
					return Null
				}
				l, err := toNumber(lv)
				if err != nil {
					ctx.fail(err)
					return Null
				}
				if l < 1 {
					return Null
				}
				if e := start - 1 + int(math.Min(l, float64(len(r)))); e < end {
					end = e
				}
			}
			return Str(string(r[start-1 : end]))
		}
	default:
		return nil, errorf(f.Pos, "Unknown function '%s'", f.Name)
	}
	return c.fold(n, f.Pos)
}

func (c *compiler) aggregate(f *FuncCall, tables []*boundTable) (*vnode, error) {
	if !c.allowAg || c.inAgg {
		return nil, errorf(f.Pos, "group function is not allowed here")
	}
	st := &aggState{kind: f.Name}
	if f.Star {
		if f.Name != "count" || len(f.Args) != 0 {
			return nil, errorf(f.Pos, "invalid number of arguments for function '%s'", strings.ToUpper(f.Name))
		}
	} else {
		if err := argCount(f, 1, 1); err != nil {
			return nil, err
		}
		c.inAgg = true
		a, err := c.valueExpr(f.Args[0], tables)
		c.inAgg = false
		if err != nil {
			return nil, err
		}
		st.arg = a
	}
	c.q.aggs = append(c.q.aggs, st)
	return &vnode{hasAgg: true, col: -1, eval: func(*execCtx) Value { return st.result() }}, nil
}

func (a *aggState) reset() {
	a.count, a.acc, a.sum = 0, Null, 0
}

func (a *aggState) add(ctx *execCtx, pref *nstime.DatePref) {
	if a.arg == nil {
		a.count++
		return
	}
	v := a.arg.eval(ctx)
	if v.IsNull() {
		return
	}
	a.count++
	switch a.kind {
	case "min", "max":
		if a.acc.IsNull() {
			a.acc = v
			return
		}
		k, err := compareValues(v, a.acc, pref)
		if err != nil {
			ctx.fail(err)
			return
		}
		if (a.kind == "min" && k < 0) || (a.kind == "max" && k > 0) {
			a.acc = v
		}
	case "sum", "avg":
		f, err := toNumber(v)
		if err != nil {
			ctx.fail(err)
			return
		}
		a.sum += f
	}
}

func (a *aggState) result() Value {
	switch a.kind {
	case "count":
		return Int(a.count)
	case "min", "max":
		return a.acc
	case "sum":
		if a.count == 0 {
			return Null
		}
		return Num(a.sum)
	}
	if a.count == 0 {
		return Null
	}
	return Num(a.sum / float64(a.count))
}
