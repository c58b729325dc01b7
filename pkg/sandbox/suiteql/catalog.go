package suiteql

// Column describes one column of a table.
type Column struct {
	// Name is the lowercase column name.
	Name string
	// Display reports that BUILTIN.DF yields a display value (a refName)
	// different from the stored value, as for references and list fields.
	Display bool
}

// Catalog resolves table names (lowercase) to tables.
type Catalog interface {
	Table(name string) (Table, bool)
}

// Row is one row of a table.
type Row interface {
	// Value returns the value of column col (an index into Columns()).
	Value(col int) Value
	// Display returns the display value of a column with Display set.
	Display(col int) Value
}

// Op is a comparison operator in an access predicate.
type Op uint8

// Predicate operators.
const (
	OpEq Op = iota
	OpLt
	OpLe
	OpGt
	OpGe
	OpIn
)

// Pred is a condition the planner found among the top-level AND-ed terms of
// a WHERE clause, with constant operands, that a table may use to choose an
// access path:
//
//   - one column:  Cols[0] Op Vals[0], or Cols[0] IN (Vals...);
//   - a tuple:     (Cols[0], Cols[1]) Op (Vals[0], Vals[1]) for Op in
//     Lt/Le/Gt/Ge, recognised from the keyset form
//     "a > v OR (a = v AND b > w)".
//
// Comparison semantics are those of the evaluator: NULL never satisfies a
// predicate; a table that cannot apply a predicate exactly must not claim
// it.
type Pred struct {
	Cols []int
	Op   Op
	Vals []Value
}

// OrderKey is one requested sort key.
type OrderKey struct {
	Col  int
	Desc bool
}

// AccessRequest is what the planner offers a table: predicates it may
// absorb and the order the query wants.
type AccessRequest struct {
	Preds []Pred
	Order []OrderKey
}

// AccessPlan is what the table promises about the cursor it returned.
type AccessPlan struct {
	// Absorbed[i] reports that every row the cursor yields satisfies
	// Preds[i] and that no row satisfying it (and the other absorbed
	// predicates) is left out.
	Absorbed []bool
	// Ordered reports that rows come in the requested Order.
	Ordered bool
}

// Cursor iterates over rows. It is used by one goroutine and only while the
// caller holds whatever lock protects the table's data.
type Cursor interface {
	// Next returns the next row.
	Next() (Row, bool)
	// Skip advances over up to n rows without materialising them and
	// returns how many were skipped.
	Skip(n int) int
	// Len returns the total number of rows the cursor yields from its start.
	Len() int
}

// Table is a queryable table.
type Table interface {
	Columns() []Column
	Open(req AccessRequest) (Cursor, AccessPlan)
}
