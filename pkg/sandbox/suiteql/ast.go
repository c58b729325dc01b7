package suiteql

// Select is a parsed SELECT statement.
type Select struct {
	Items   []SelectItem
	From    TableRef
	Joins   []Join
	Where   Expr // nil when absent
	OrderBy []OrderItem
}

// SelectItem is one entry of the select list: an expression with an
// optional alias, or a star (Star, with StarTable the qualifier of "t.*").
type SelectItem struct {
	Expr      Expr
	Alias     string
	Star      bool
	StarTable string
	Pos       int
}

// TableRef names a table and its alias.
type TableRef struct {
	Name  string
	Alias string
	Pos   int
}

// JoinKind is INNER or LEFT (OUTER).
type JoinKind uint8

// Join kinds.
const (
	JoinInner JoinKind = iota
	JoinLeft
)

// Join is one JOIN clause.
type Join struct {
	Kind  JoinKind
	Table TableRef
	On    Expr
}

// OrderItem is one ORDER BY key.
type OrderItem struct {
	Expr Expr
	Desc bool
	// NullsFirst is nil unless NULLS FIRST/LAST was given.
	NullsFirst *bool
}

// Expr is an expression node.
type Expr interface{ exprPos() int }

// ColumnRef is [qualifier.]name.
type ColumnRef struct {
	Table string
	Name  string
	Pos   int
}

// StringLit is a string literal.
type StringLit struct {
	Val string
	Pos int
}

// NumberLit is a numeric literal.
type NumberLit struct {
	Val  float64
	Text string
	Pos  int
}

// NullLit is NULL.
type NullLit struct{ Pos int }

// BinaryExpr is L Op R; Op is one of AND OR = <> < <= > >= + - * / ||.
type BinaryExpr struct {
	Op   string
	L, R Expr
	Pos  int
}

// UnaryExpr is NOT X or -X.
type UnaryExpr struct {
	Op  string
	X   Expr
	Pos int
}

// InExpr is X [NOT] IN (List...).
type InExpr struct {
	X    Expr
	List []Expr
	Not  bool
	Pos  int
}

// IsNullExpr is X IS [NOT] NULL.
type IsNullExpr struct {
	X   Expr
	Not bool
	Pos int
}

// LikeExpr is X [NOT] LIKE Pattern [ESCAPE Escape].
type LikeExpr struct {
	X, Pattern, Escape Expr
	Not                bool
	Pos                int
}

// BetweenExpr is X [NOT] BETWEEN Lo AND Hi.
type BetweenExpr struct {
	X, Lo, Hi Expr
	Not       bool
	Pos       int
}

// FuncCall is name(args) with a lowercase, possibly dotted name
// ("builtin.df"); Star marks COUNT(*).
type FuncCall struct {
	Name string
	Args []Expr
	Star bool
	Pos  int
}

// Rownum is the ROWNUM pseudo-column.
type Rownum struct{ Pos int }

func (e *ColumnRef) exprPos() int   { return e.Pos }
func (e *StringLit) exprPos() int   { return e.Pos }
func (e *NumberLit) exprPos() int   { return e.Pos }
func (e *NullLit) exprPos() int     { return e.Pos }
func (e *BinaryExpr) exprPos() int  { return e.Pos }
func (e *UnaryExpr) exprPos() int   { return e.Pos }
func (e *InExpr) exprPos() int      { return e.Pos }
func (e *IsNullExpr) exprPos() int  { return e.Pos }
func (e *LikeExpr) exprPos() int    { return e.Pos }
func (e *BetweenExpr) exprPos() int { return e.Pos }
func (e *FuncCall) exprPos() int    { return e.Pos }
func (e *Rownum) exprPos() int      { return e.Pos }
