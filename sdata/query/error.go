package query

import "fmt"

// SData diagnosis codes reported by this package.
const (
	// CodeBadWhereSyntax is the sdataCode for errors in the where parameter.
	CodeBadWhereSyntax = "BadWhereSyntax"
	// CodeBadQueryParameter is the sdataCode for errors in orderBy and select.
	CodeBadQueryParameter = "BadQueryParameter"
)

// Error is a query error carrying the SData diagnosis code to report.
//
// Code is "BadWhereSyntax" for where errors and "BadQueryParameter" for
// orderBy/select errors. Param names the query parameter ("where",
// "orderBy" or "select"). Pos is the 0-based byte offset in the input where
// the problem was found, or -1 when the error is not tied to a position
// (errors found while compiling an already parsed tree). Msg is a human
// readable message such as `expected ')' at 17, found "and"`.
type Error struct {
	Code  string
	Param string
	Pos   int
	Msg   string

	err error // underlying cause (e.g. a Resolver error), if any
}

// Error renders the error as "Code (param): message".
func (e *Error) Error() string {
	return fmt.Sprintf("%s (%s): %s", e.Code, e.Param, e.Msg)
}

// Unwrap returns the underlying cause, such as the error returned by a
// Resolver, or nil.
func (e *Error) Unwrap() error { return e.err }

func whereErr(pos int, format string, args ...any) *Error {
	return &Error{Code: CodeBadWhereSyntax, Param: "where", Pos: pos, Msg: fmt.Sprintf(format, args...)}
}
