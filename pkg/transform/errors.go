package transform

import (
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/nsflow/nsflow/pkg/calendarevent"
)

// Error classes, the value of the dead-letter header
// calendarevent.HeaderDLQErrorClass for messages the transformer rejects.
const (
	// ClassMalformedJSON: the payload, the record or a sublist row is not valid JSON.
	ClassMalformedJSON = "malformed_json"
	// ClassInvalidRecord: valid JSON that breaks the contract: a missing or
	// mismatched id, a missing lastModified, an unknown kind, source API or
	// time zone, a duplicate key.
	ClassInvalidRecord = "invalid_record"
	// ClassInvalidDate: a date, time or timestamp that does not parse or does
	// not exist (2024-02-30, 25:00).
	ClassInvalidDate = "invalid_date"
	// ClassWrongType: a field holds a JSON type its meaning does not allow
	// (a title that is an object, a boolean that is "maybe").
	ClassWrongType = "wrong_type"
	// ClassUnsupportedSchema: the raw message carries a schema this build
	// does not read (a newer major version).
	ClassUnsupportedSchema = "unsupported_schema"
	// ClassInternal: anything else; a bug in the transformer.
	ClassInternal = "internal"
)

// Sentinel errors, one per class, for errors.Is.
var (
	ErrMalformedJSON     = errors.New(ClassMalformedJSON)
	ErrInvalidRecord     = errors.New(ClassInvalidRecord)
	ErrInvalidDate       = errors.New(ClassInvalidDate)
	ErrWrongType         = errors.New(ClassWrongType)
	ErrUnsupportedSchema = errors.New(ClassUnsupportedSchema)
)

// Error is a rejected raw message. Every Error is permanent: the transform is
// a pure function of its input, so the same message fails the same way on
// every attempt and belongs in the dead-letter stream.
//
// The message names the field and what is wrong with its value. It quotes a
// value only for fields that cannot carry personal data (dates, times, codes,
// ids) and never quotes titles, messages, locations, names or custom fields.
type Error struct {
	// Class is one of the Class* constants.
	Class string
	// Field is the source field the problem is in ("startDate",
	// "ns_starttime", "attendees[2].attendee"); empty for the whole message.
	Field string
	// Problem says what is wrong, without personal data.
	Problem string
	// Err is the underlying error, if any (decode errors of the envelope).
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("transform calendar event: ")
	if e.Field != "" {
		b.WriteString("field ")
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Problem)
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the class sentinel and the underlying error.
func (e *Error) Unwrap() []error {
	errs := make([]error, 0, 2)
	if s := sentinel(e.Class); s != nil {
		errs = append(errs, s)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

func sentinel(class string) error {
	switch class {
	case ClassMalformedJSON:
		return ErrMalformedJSON
	case ClassInvalidRecord:
		return ErrInvalidRecord
	case ClassInvalidDate:
		return ErrInvalidDate
	case ClassWrongType:
		return ErrWrongType
	case ClassUnsupportedSchema:
		return ErrUnsupportedSchema
	}
	return nil
}

func newErr(class, field, problem string) *Error {
	return &Error{Class: class, Field: field, Problem: problem}
}

// Class returns the error class of err for the dead-letter header: one of
// the Class* constants, or "" for a nil error. Errors that did not come from
// this package are classified by what they wrap (the calendarevent sentinels,
// encoding/json and time errors) and are "internal" otherwise.
func Class(err error) string {
	if err == nil {
		return ""
	}
	var te *Error
	if errors.As(err, &te) && te.Class != "" {
		return te.Class
	}
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	var timeErr *time.ParseError
	switch {
	case errors.As(err, &typeErr):
		return ClassWrongType
	case errors.As(err, &timeErr):
		return ClassInvalidDate
	case errors.As(err, &syntaxErr), errors.Is(err, calendarevent.ErrMalformed):
		return ClassMalformedJSON
	case errors.Is(err, calendarevent.ErrUnsupportedSchema):
		return ClassUnsupportedSchema
	case errors.Is(err, calendarevent.ErrInvalid):
		return ClassInvalidRecord
	}
	return ClassInternal
}

// classifyDecode turns a calendarevent.DecodeRaw error into an *Error.
func classifyDecode(err error) *Error {
	return &Error{Class: Class(err), Problem: "decode raw envelope", Err: err}
}
