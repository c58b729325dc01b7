package suiteql

import (
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/nsflow/nsflow/pkg/sandbox/nstime"
)

// Kind is the runtime type of a Value.
type Kind uint8

// Value kinds. Checkbox (boolean) columns are Strings holding "T" or "F", as
// SuiteQL returns them.
const (
	KindNull Kind = iota
	KindString
	KindNumber
	KindDate      // Time is a civil time at midnight
	KindTimestamp // Time is a civil time, second precision
)

// Value is a SuiteQL value. Dates and timestamps are civil times (see
// package nstime) in the session time zone.
type Value struct {
	Kind Kind
	Str  string
	Num  float64
	Time int64
}

// Null is the SQL NULL.
var Null = Value{}

// Str returns a string value; the empty string is NULL, as in Oracle.
func Str(s string) Value {
	if s == "" {
		return Null
	}
	return Value{Kind: KindString, Str: s}
}

// Num returns a number value.
func Num(f float64) Value { return Value{Kind: KindNumber, Num: f} }

// Int returns an integer number value.
func Int(i int64) Value { return Value{Kind: KindNumber, Num: float64(i)} }

// Date returns a date value for civil time c (truncated to midnight).
func Date(c int64) Value { return Value{Kind: KindDate, Time: nstime.TruncDay(c)} }

// Timestamp returns a timestamp value for civil time c.
func Timestamp(c int64) Value { return Value{Kind: KindTimestamp, Time: c} }

// Bool returns the checkbox value "T" or "F".
func Bool(b bool) Value {
	if b {
		return Value{Kind: KindString, Str: "T"}
	}
	return Value{Kind: KindString, Str: "F"}
}

// IsNull reports whether v is NULL.
func (v Value) IsNull() bool { return v.Kind == KindNull }

// AppendNumber appends a number the way SuiteQL renders it.
func AppendNumber(b []byte, f float64) []byte {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.AppendInt(b, int64(f), 10)
	}
	return strconv.AppendFloat(b, f, 'f', -1, 64)
}

// appendText appends the textual rendering of v (not JSON-escaped).
func appendText(b []byte, v Value, pref *nstime.DatePref) []byte {
	switch v.Kind {
	case KindString:
		return append(b, v.Str...)
	case KindNumber:
		return AppendNumber(b, v.Num)
	case KindDate:
		return pref.AppendDate(b, v.Time)
	case KindTimestamp:
		return pref.AppendDateTime(b, v.Time)
	}
	return b
}

func textOf(v Value, pref *nstime.DatePref) string {
	if v.Kind == KindString {
		return v.Str
	}
	return string(appendText(nil, v, pref))
}

func kindName(k Kind) string {
	switch k {
	case KindString:
		return "CHAR"
	case KindNumber:
		return "NUMBER"
	case KindDate:
		return "DATE"
	case KindTimestamp:
		return "TIMESTAMP"
	}
	return "NULL"
}

// compareValues compares two non-NULL values with Oracle's implicit
// conversions: a string meets a number as a number and a date as a date in
// the date-format preference.
func compareValues(a, b Value, pref *nstime.DatePref) (int, error) {
	if a.Kind == b.Kind {
		switch a.Kind {
		case KindString:
			return strings.Compare(a.Str, b.Str), nil
		case KindNumber:
			return cmpFloat(a.Num, b.Num), nil
		default:
			return cmpInt(a.Time, b.Time), nil
		}
	}
	isTime := func(k Kind) bool { return k == KindDate || k == KindTimestamp }
	switch {
	case isTime(a.Kind) && isTime(b.Kind):
		return cmpInt(a.Time, b.Time), nil
	case a.Kind == KindNumber && b.Kind == KindString:
		f, err := toNumber(b)
		if err != nil {
			return 0, err
		}
		return cmpFloat(a.Num, f), nil
	case a.Kind == KindString && b.Kind == KindNumber:
		f, err := toNumber(a)
		if err != nil {
			return 0, err
		}
		return cmpFloat(f, b.Num), nil
	case isTime(a.Kind) && b.Kind == KindString:
		t, err := toTime(b, pref)
		if err != nil {
			return 0, err
		}
		return cmpInt(a.Time, t), nil
	case a.Kind == KindString && isTime(b.Kind):
		t, err := toTime(a, pref)
		if err != nil {
			return 0, err
		}
		return cmpInt(t, b.Time), nil
	}
	return 0, errorf(-1, "inconsistent datatypes: expected %s got %s", kindName(a.Kind), kindName(b.Kind))
}

func toNumber(v Value) (float64, error) {
	switch v.Kind {
	case KindNumber:
		return v.Num, nil
	case KindString:
		f, err := strconv.ParseFloat(strings.TrimSpace(v.Str), 64)
		if err != nil {
			return 0, errorf(-1, "invalid number '%s'", v.Str)
		}
		return f, nil
	}
	return 0, errorf(-1, "inconsistent datatypes: expected NUMBER got %s", kindName(v.Kind))
}

func toTime(v Value, pref *nstime.DatePref) (int64, error) {
	switch v.Kind {
	case KindDate, KindTimestamp:
		return v.Time, nil
	case KindString:
		c, _, err := pref.Parse(v.Str)
		if err != nil {
			return 0, errorf(-1, "Parse of date/time \"%s\" failed with date format \"%s\"", v.Str, pref)
		}
		return c, nil
	}
	return 0, errorf(-1, "inconsistent datatypes: expected DATE got %s", kindName(v.Kind))
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// appendJSONString appends s as a JSON string literal. Invalid UTF-8 is
// replaced by U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	b = appendJSONBody(b, s)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

// appendJSONBody appends s JSON-escaped, without quotes.
func appendJSONBody(b []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < 0x80 {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := decodeRune(s[i:])
		if r == 0xFFFD && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, "\ufffd"...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(b, s[start:]...)
}

func decodeRune(s string) (rune, int) { return utf8.DecodeRuneInString(s) }

// AppendJSONString appends s as a JSON string literal (exported for callers
// that render the surrounding envelope).
func AppendJSONString(b []byte, s string) []byte { return appendJSONString(b, s) }
