package suiteql

import "fmt"

// DetailPrefix starts every SuiteQL error detail, as on NetSuite.
const DetailPrefix = "Invalid search query. Search error occurred: "

// Error is a query error: a syntax error, an unknown table, column or
// function, or a runtime conversion error. Its Error text is the detail
// NetSuite puts in the 400 INVALID_PARAMETER body.
type Error struct {
	// Msg is the message after DetailPrefix.
	Msg string
	// Pos is the byte offset in the query the error refers to, or -1.
	Pos int
}

func (e *Error) Error() string { return DetailPrefix + e.Msg }

func errorf(pos int, format string, args ...any) *Error {
	return &Error{Msg: fmt.Sprintf(format, args...), Pos: pos}
}
