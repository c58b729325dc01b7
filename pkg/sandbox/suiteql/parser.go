package suiteql

import (
	"strconv"
	"strings"
)

// maxDepth bounds expression nesting so hostile input cannot exhaust the
// stack.
const maxDepth = 200

var reserved = map[string]bool{
	"select": true, "from": true, "where": true, "and": true, "or": true, "not": true, "in": true,
	"is": true, "null": true, "like": true, "as": true, "order": true, "by": true, "asc": true,
	"desc": true, "join": true, "inner": true, "left": true, "right": true, "full": true,
	"outer": true, "cross": true, "on": true, "between": true, "escape": true, "group": true,
	"having": true, "union": true, "intersect": true, "minus": true, "distinct": true, "case": true,
	"when": true, "then": true, "else": true, "end": true, "exists": true, "all": true, "any": true,
	"limit": true, "fetch": true, "offset": true, "rownum": true, "nulls": true, "with": true,
}

type parser struct {
	toks  []token
	i     int
	depth int
}

// Parse parses one SuiteQL SELECT statement. It reports syntax errors and
// unsupported constructs as *Error; it never panics.
func Parse(src string) (*Select, error) {
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	sel, err := p.parseSelect()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.unexpected(t)
	}
	return sel, nil
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) peekAt(k int) token {
	if p.i+k < len(p.toks) {
		return p.toks[p.i+k]
	}
	return p.toks[len(p.toks)-1]
}

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) isKw(kw string) bool {
	t := p.peek()
	return t.kind == tIdent && t.text == kw
}

func (p *parser) isOp(op string) bool {
	t := p.peek()
	return t.kind == tOp && t.text == op
}

func (p *parser) acceptKw(kw string) bool {
	if p.isKw(kw) {
		p.i++
		return true
	}
	return false
}

func (p *parser) acceptOp(op string) bool {
	if p.isOp(op) {
		p.i++
		return true
	}
	return false
}

func (p *parser) expectKw(kw string) error {
	if !p.acceptKw(kw) {
		t := p.peek()
		return errorf(t.pos, "Syntax error: expected %s but found %s at position %d", strings.ToUpper(kw), t.describe(), t.pos+1)
	}
	return nil
}

func (p *parser) expectOp(op string) error {
	if !p.acceptOp(op) {
		t := p.peek()
		return errorf(t.pos, "Syntax error: expected '%s' but found %s at position %d", op, t.describe(), t.pos+1)
	}
	return nil
}

func (p *parser) unexpected(t token) *Error {
	if t.kind == tIdent {
		switch t.text {
		case "group", "having", "union", "intersect", "minus", "distinct", "case", "exists", "with",
			"limit", "fetch", "offset", "right", "full", "cross":
			return errorf(t.pos, "Syntax error: %s is not supported by this SuiteQL implementation (position %d)", strings.ToUpper(t.text), t.pos+1)
		}
	}
	if t.kind == tOp && t.text == "?" {
		return errorf(t.pos, "Syntax error: bind variables are not supported (position %d)", t.pos+1)
	}
	return errorf(t.pos, "Syntax error: unexpected %s at position %d", t.describe(), t.pos+1)
}

func (p *parser) parseSelect() (*Select, error) {
	if err := p.expectKw("select"); err != nil {
		return nil, err
	}
	if p.isKw("distinct") || p.isKw("all") {
		return nil, p.unexpected(p.peek())
	}
	sel := &Select{}
	for {
		it, err := p.parseSelectItem()
		if err != nil {
			return nil, err
		}
		sel.Items = append(sel.Items, it)
		if !p.acceptOp(",") {
			break
		}
	}
	if err := p.expectKw("from"); err != nil {
		return nil, err
	}
	tr, err := p.parseTableRef()
	if err != nil {
		return nil, err
	}
	sel.From = tr
	for {
		kind := JoinInner
		switch {
		case p.isKw("join"):
			p.next()
		case p.isKw("inner"):
			p.next()
			if err := p.expectKw("join"); err != nil {
				return nil, err
			}
		case p.isKw("left"):
			p.next()
			p.acceptKw("outer")
			if err := p.expectKw("join"); err != nil {
				return nil, err
			}
			kind = JoinLeft
		case p.isKw("right") || p.isKw("full") || p.isKw("cross") || p.isOp(","):
			return nil, p.unexpected(p.peek())
		default:
			goto joinsDone
		}
		tr, err := p.parseTableRef()
		if err != nil {
			return nil, err
		}
		if err := p.expectKw("on"); err != nil {
			return nil, err
		}
		on, err := p.parseExpr()
		if err != nil {
			return nil, err
		}
		sel.Joins = append(sel.Joins, Join{Kind: kind, Table: tr, On: on})
	}
joinsDone:
	if p.acceptKw("where") {
		w, err := p.parseExpr()
		if err != nil {
			return nil, err
		}
		sel.Where = w
	}
	if p.acceptKw("order") {
		if err := p.expectKw("by"); err != nil {
			return nil, err
		}
		for {
			e, err := p.parseExpr()
			if err != nil {
				return nil, err
			}
			oi := OrderItem{Expr: e}
			if p.acceptKw("desc") {
				oi.Desc = true
			} else {
				p.acceptKw("asc")
			}
			if p.acceptKw("nulls") {
				var first bool
				switch {
				case p.acceptKw("first"):
					first = true
				case p.acceptKw("last"):
				default:
					return nil, p.unexpected(p.peek())
				}
				oi.NullsFirst = &first
			}
			sel.OrderBy = append(sel.OrderBy, oi)
			if !p.acceptOp(",") {
				break
			}
		}
	}
	return sel, nil
}

func (p *parser) parseSelectItem() (SelectItem, error) {
	t := p.peek()
	if p.acceptOp("*") {
		return SelectItem{Star: true, Pos: t.pos}, nil
	}
	if (t.kind == tIdent || t.kind == tQuotedIdent) && !reservedTok(t) && p.peekAt(1).kind == tOp && p.peekAt(1).text == "." &&
		p.peekAt(2).kind == tOp && p.peekAt(2).text == "*" {
		p.i += 3
		return SelectItem{Star: true, StarTable: t.text, Pos: t.pos}, nil
	}
	e, err := p.parseExpr()
	if err != nil {
		return SelectItem{}, err
	}
	it := SelectItem{Expr: e, Pos: t.pos}
	if p.acceptKw("as") {
		a := p.next()
		if a.kind != tQuotedIdent && (a.kind != tIdent || reserved[a.text]) {
			return SelectItem{}, p.unexpected(a)
		}
		it.Alias = a.text
	} else if a := p.peek(); a.kind == tQuotedIdent || a.kind == tIdent && !reserved[a.text] {
		p.next()
		it.Alias = a.text
	}
	return it, nil
}

func reservedTok(t token) bool { return t.kind == tIdent && reserved[t.text] }

func (p *parser) parseTableRef() (TableRef, error) {
	t := p.next()
	if t.kind != tQuotedIdent && (t.kind != tIdent || reserved[t.text]) {
		if t.kind == tOp && t.text == "(" {
			return TableRef{}, errorf(t.pos, "Syntax error: subqueries are not supported by this SuiteQL implementation (position %d)", t.pos+1)
		}
		return TableRef{}, p.unexpected(t)
	}
	tr := TableRef{Name: t.text, Pos: t.pos}
	p.acceptKw("as")
	if a := p.peek(); a.kind == tQuotedIdent || a.kind == tIdent && !reserved[a.text] {
		p.next()
		tr.Alias = a.text
	}
	return tr, nil
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > maxDepth {
		t := p.peek()
		return errorf(t.pos, "Syntax error: expression too deeply nested at position %d", t.pos+1)
	}
	return nil
}

func (p *parser) parseExpr() (Expr, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	return p.parseOr()
}

func (p *parser) parseOr() (Expr, error) {
	l, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	for p.isKw("or") {
		t := p.next()
		r, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		l = &BinaryExpr{Op: "OR", L: l, R: r, Pos: t.pos}
	}
	return l, nil
}

func (p *parser) parseAnd() (Expr, error) {
	l, err := p.parseNot()
	if err != nil {
		return nil, err
	}
	for p.isKw("and") {
		t := p.next()
		r, err := p.parseNot()
		if err != nil {
			return nil, err
		}
		l = &BinaryExpr{Op: "AND", L: l, R: r, Pos: t.pos}
	}
	return l, nil
}

func (p *parser) parseNot() (Expr, error) {
	if p.isKw("not") {
		t := p.next()
		if err := p.enter(); err != nil {
			return nil, err
		}
		x, err := p.parseNot()
		p.depth--
		if err != nil {
			return nil, err
		}
		return &UnaryExpr{Op: "NOT", X: x, Pos: t.pos}, nil
	}
	return p.parsePredicate()
}

func (p *parser) parsePredicate() (Expr, error) {
	l, err := p.parseAdditive()
	if err != nil {
		return nil, err
	}
	t := p.peek()
	if t.kind == tOp {
		switch t.text {
		case "=", "<>", "!=", "^=", "<", "<=", ">", ">=":
			p.next()
			r, err := p.parseAdditive()
			if err != nil {
				return nil, err
			}
			op := t.text
			if op == "!=" || op == "^=" {
				op = "<>"
			}
			return &BinaryExpr{Op: op, L: l, R: r, Pos: t.pos}, nil
		}
		return l, nil
	}
	if t.kind != tIdent {
		return l, nil
	}
	not := false
	if t.text == "not" {
		nt := p.peekAt(1)
		if nt.kind != tIdent || (nt.text != "in" && nt.text != "like" && nt.text != "between") {
			return l, nil
		}
		p.next()
		not = true
		t = p.peek()
	}
	switch t.text {
	case "in":
		p.next()
		if err := p.expectOp("("); err != nil {
			return nil, err
		}
		if p.isKw("select") {
			st := p.peek()
			return nil, errorf(st.pos, "Syntax error: subqueries are not supported by this SuiteQL implementation (position %d)", st.pos+1)
		}
		in := &InExpr{X: l, Not: not, Pos: t.pos}
		for {
			e, err := p.parseExpr()
			if err != nil {
				return nil, err
			}
			in.List = append(in.List, e)
			if !p.acceptOp(",") {
				break
			}
		}
		if err := p.expectOp(")"); err != nil {
			return nil, err
		}
		return in, nil
	case "like":
		p.next()
		pat, err := p.parseAdditive()
		if err != nil {
			return nil, err
		}
		lk := &LikeExpr{X: l, Pattern: pat, Not: not, Pos: t.pos}
		if p.acceptKw("escape") {
			esc, err := p.parseAdditive()
			if err != nil {
				return nil, err
			}
			lk.Escape = esc
		}
		return lk, nil
	case "between":
		p.next()
		lo, err := p.parseAdditive()
		if err != nil {
			return nil, err
		}
		if err := p.expectKw("and"); err != nil {
			return nil, err
		}
		hi, err := p.parseAdditive()
		if err != nil {
			return nil, err
		}
		return &BetweenExpr{X: l, Lo: lo, Hi: hi, Not: not, Pos: t.pos}, nil
	case "is":
		p.next()
		n := p.acceptKw("not")
		if err := p.expectKw("null"); err != nil {
			return nil, err
		}
		return &IsNullExpr{X: l, Not: n, Pos: t.pos}, nil
	}
	return l, nil
}

func (p *parser) parseAdditive() (Expr, error) {
	l, err := p.parseMultiplicative()
	if err != nil {
		return nil, err
	}
	for p.isOp("+") || p.isOp("-") || p.isOp("||") {
		t := p.next()
		r, err := p.parseMultiplicative()
		if err != nil {
			return nil, err
		}
		l = &BinaryExpr{Op: t.text, L: l, R: r, Pos: t.pos}
	}
	return l, nil
}

func (p *parser) parseMultiplicative() (Expr, error) {
	l, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	for p.isOp("*") || p.isOp("/") {
		t := p.next()
		r, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		l = &BinaryExpr{Op: t.text, L: l, R: r, Pos: t.pos}
	}
	return l, nil
}

func (p *parser) parseUnary() (Expr, error) {
	if p.isOp("-") || p.isOp("+") {
		t := p.next()
		if err := p.enter(); err != nil {
			return nil, err
		}
		x, err := p.parseUnary()
		p.depth--
		if err != nil {
			return nil, err
		}
		if t.text == "+" {
			return x, nil
		}
		if n, ok := x.(*NumberLit); ok {
			return &NumberLit{Val: -n.Val, Text: "-" + n.Text, Pos: t.pos}, nil
		}
		return &UnaryExpr{Op: "-", X: x, Pos: t.pos}, nil
	}
	return p.parsePrimary()
}

func (p *parser) parsePrimary() (Expr, error) {
	t := p.next()
	switch t.kind {
	case tNumber:
		f, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			return nil, errorf(t.pos, "Syntax error: invalid number '%s' at position %d", t.text, t.pos+1)
		}
		return &NumberLit{Val: f, Text: t.text, Pos: t.pos}, nil
	case tString:
		return &StringLit{Val: t.text, Pos: t.pos}, nil
	case tOp:
		if t.text == "(" {
			if p.isKw("select") {
				st := p.peek()
				return nil, errorf(st.pos, "Syntax error: subqueries are not supported by this SuiteQL implementation (position %d)", st.pos+1)
			}
			e, err := p.parseExpr()
			if err != nil {
				return nil, err
			}
			if err := p.expectOp(")"); err != nil {
				return nil, err
			}
			return e, nil
		}
		return nil, p.unexpected(t)
	case tIdent, tQuotedIdent:
		if t.kind == tIdent {
			switch t.text {
			case "null":
				return &NullLit{Pos: t.pos}, nil
			case "rownum":
				return &Rownum{Pos: t.pos}, nil
			}
			if reserved[t.text] {
				return nil, p.unexpected(t)
			}
		}
		name := t.text
		var qual string
		if p.isOp(".") {
			p.next()
			n := p.next()
			if n.kind != tQuotedIdent && (n.kind != tIdent || reserved[n.text]) {
				return nil, p.unexpected(n)
			}
			qual, name = t.text, n.text
		}
		if p.isOp("(") {
			return p.parseCall(t, qual, name)
		}
		return &ColumnRef{Table: qual, Name: name, Pos: t.pos}, nil
	}
	return nil, p.unexpected(t)
}

func (p *parser) parseCall(start token, qual, name string) (Expr, error) {
	p.next() // (
	full := name
	if qual != "" {
		full = qual + "." + name
	}
	fc := &FuncCall{Name: full, Pos: start.pos}
	if p.acceptOp("*") {
		fc.Star = true
		if err := p.expectOp(")"); err != nil {
			return nil, err
		}
		return fc, nil
	}
	if p.acceptOp(")") {
		return fc, nil
	}
	if p.isKw("distinct") {
		return nil, p.unexpected(p.peek())
	}
	for {
		e, err := p.parseExpr()
		if err != nil {
			return nil, err
		}
		fc.Args = append(fc.Args, e)
		if !p.acceptOp(",") {
			break
		}
	}
	if err := p.expectOp(")"); err != nil {
		return nil, err
	}
	return fc, nil
}
