// Package suiteql parses, plans and evaluates the subset of SuiteQL
// (NetSuite's Oracle-flavoured SQL) that the NetSuite sandbox serves.
//
// Parse turns a query into an AST with a hand-written lexer and a
// recursive-descent parser; Compile binds it to a Catalog (tables,
// columns, functions), folds constants and extracts access predicates;
// Execute evaluates it and renders one page of rows as SuiteQL REST items
// (every value a JSON string, NULL columns omitted). The grammar, functions
// and semantics are documented in package sandbox. Every failure — a syntax
// error, an unknown table, column or function, a conversion error — is an
// *Error whose text is NetSuite's "Invalid search query. Search error
// occurred: …" detail; no input makes the package panic (see FuzzParse).
//
// Tables decide their own access paths: Compile hands Table.Open the
// top-level AND-ed conditions with constant operands (Pred), including the
// keyset form "a > v OR (a = v AND b > w)" as a tuple condition, and the
// requested order; the table reports which conditions it guarantees and
// whether its rows come in that order (AccessPlan). The executor evaluates
// whatever the table did not absorb and sorts when needed, so a table that
// absorbs nothing is always correct, only slower.
//
// Values (Value) are strings, numbers, dates and timestamps; dates and
// timestamps are civil times (package nstime) in the session time zone.
// A Query may be executed repeatedly but not concurrently.
package suiteql
