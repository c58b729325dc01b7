package netsuite

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// This file holds the SuiteQL page splitter: one pass over the response that
// validates it as JSON (RFC 8259 grammar, as strict as encoding/json except
// that it does not check UTF-8) and records where each element of the
// top-level "items" array starts and ends. Items are handed out as subslices
// of the body, so no row is decoded or re-encoded.

const maxJSONDepth = 1000

var errUnexpectedEnd = errors.New("unexpected end of JSON input")

type jsonScanner struct {
	b []byte
	i int
}

func (s *jsonScanner) syntaxErr(what string) error {
	if s.i >= len(s.b) {
		return errUnexpectedEnd
	}
	return fmt.Errorf("invalid JSON at offset %d: %s", s.i, what)
}

func (s *jsonScanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// expect consumes c (after whitespace) or fails.
func (s *jsonScanner) expect(c byte, what string) error {
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != c {
		return s.syntaxErr("expected " + what)
	}
	s.i++
	return nil
}

// value skips one JSON value starting at s.i (whitespace already skipped).
func (s *jsonScanner) value(depth int) error {
	if s.i >= len(s.b) {
		return errUnexpectedEnd
	}
	switch c := s.b[s.i]; c {
	case '{':
		return s.object(depth + 1)
	case '[':
		return s.array(depth + 1)
	case '"':
		return s.str()
	case 't':
		return s.lit("true")
	case 'f':
		return s.lit("false")
	case 'n':
		return s.lit("null")
	default:
		if c == '-' || (c >= '0' && c <= '9') {
			return s.number()
		}
		return s.syntaxErr("unexpected character")
	}
}

func (s *jsonScanner) lit(word string) error {
	end := s.i + len(word)
	if end > len(s.b) {
		if string(s.b[s.i:]) == word[:len(s.b)-s.i] {
			s.i = len(s.b)
			return errUnexpectedEnd
		}
		return s.syntaxErr("invalid literal")
	}
	if string(s.b[s.i:end]) != word {
		return s.syntaxErr("invalid literal")
	}
	s.i = end
	return nil
}

// strSafe marks bytes that may appear unescaped inside a JSON string.
var strSafe = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// str skips a string; s.b[s.i] is the opening quote.
func (s *jsonScanner) str() error {
	b := s.b
	i := s.i + 1
	for {
		for i < len(b) && strSafe[b[i]] {
			i++
		}
		if i >= len(b) {
			s.i = i
			return errUnexpectedEnd
		}
		switch b[i] {
		case '"':
			s.i = i + 1
			return nil
		case '\\':
			if i+1 >= len(b) {
				s.i = len(b)
				return errUnexpectedEnd
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) {
					s.i = len(b)
					return errUnexpectedEnd
				}
				if !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) || !isHex(b[i+5]) {
					s.i = i
					return s.syntaxErr("invalid \\u escape")
				}
				i += 6
			default:
				s.i = i
				return s.syntaxErr("invalid escape")
			}
		default: // control character
			s.i = i
			return s.syntaxErr("control character in string")
		}
	}
}

func (s *jsonScanner) digits() int {
	n := 0
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
		n++
	}
	return n
}

// number skips -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *jsonScanner) number() error {
	if s.b[s.i] == '-' {
		s.i++
	}
	if s.i >= len(s.b) {
		return errUnexpectedEnd
	}
	if s.b[s.i] == '0' {
		s.i++
	} else if s.digits() == 0 {
		return s.syntaxErr("invalid number")
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if s.digits() == 0 {
			return s.syntaxErr("invalid number")
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if s.digits() == 0 {
			return s.syntaxErr("invalid number")
		}
	}
	return nil
}

// object skips an object; s.b[s.i] is '{'.
func (s *jsonScanner) object(depth int) error {
	if depth > maxJSONDepth {
		return s.syntaxErr("nested too deeply")
	}
	s.i++
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		return nil
	}
	for {
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != '"' {
			return s.syntaxErr("expected object key")
		}
		if err := s.str(); err != nil {
			return err
		}
		if err := s.expect(':', "':'"); err != nil {
			return err
		}
		s.ws()
		if err := s.value(depth); err != nil {
			return err
		}
		s.ws()
		if s.i >= len(s.b) {
			return errUnexpectedEnd
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case '}':
			s.i++
			return nil
		default:
			return s.syntaxErr("expected ',' or '}'")
		}
	}
}

// array skips an array; s.b[s.i] is '['.
func (s *jsonScanner) array(depth int) error {
	return s.elements(depth, nil)
}

// elements walks an array (s.b[s.i] is '['), calling each with the raw bytes
// of every element when each is not nil.
func (s *jsonScanner) elements(depth int, each func(raw []byte)) error {
	if depth > maxJSONDepth {
		return s.syntaxErr("nested too deeply")
	}
	s.i++
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == ']' {
		s.i++
		return nil
	}
	for {
		s.ws()
		start := s.i
		if err := s.value(depth); err != nil {
			return err
		}
		if each != nil {
			each(s.b[start:s.i:s.i])
		}
		s.ws()
		if s.i >= len(s.b) {
			return errUnexpectedEnd
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case ']':
			s.i++
			return nil
		default:
			return s.syntaxErr("expected ',' or ']'")
		}
	}
}

// key reads an object key (s.b[s.i] is '"') and returns it unescaped.
func (s *jsonScanner) key() (string, error) {
	start := s.i
	if err := s.str(); err != nil {
		return "", err
	}
	raw := s.b[start+1 : s.i-1]
	for _, c := range raw {
		if c == '\\' {
			var k string
			if err := json.Unmarshal(s.b[start:s.i], &k); err != nil {
				return "", fmt.Errorf("decode object key: %w", err)
			}
			return k, nil
		}
	}
	return string(raw), nil
}

// intValue reads a value that should be an integer. A value of another type
// is validated and skipped (ok=false): paging figures are informative, and an
// unexpected type there is not worth failing a page for.
func (s *jsonScanner) intValue() (n int, ok bool, err error) {
	start := s.i
	if err := s.value(1); err != nil {
		return 0, false, err
	}
	raw := s.b[start:s.i]
	if len(raw) == 0 || (raw[0] != '-' && (raw[0] < '0' || raw[0] > '9')) {
		return 0, false, nil
	}
	if v, err := strconv.Atoi(string(raw)); err == nil {
		return v, true, nil
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil {
		return 0, false, nil
	}
	return int(f), true, nil
}

// parseSuiteQL splits a SuiteQL response body into a page. Each item is a
// subslice of body (capacity clipped to its length).
func parseSuiteQL(body []byte) (*SuiteQLPage, error) {
	s := jsonScanner{b: body}
	page := &SuiteQLPage{}
	if err := s.expect('{', "'{' at start of SuiteQL response"); err != nil {
		return nil, err
	}
	sawItems := false
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
	} else {
		for {
			s.ws()
			if s.i >= len(s.b) || s.b[s.i] != '"' {
				return nil, s.syntaxErr("expected object key")
			}
			k, err := s.key()
			if err != nil {
				return nil, err
			}
			if err := s.expect(':', "':'"); err != nil {
				return nil, err
			}
			s.ws()
			switch k {
			case "items":
				if s.i >= len(s.b) || s.b[s.i] != '[' {
					if s.i >= len(s.b) {
						return nil, errUnexpectedEnd
					}
					return nil, s.syntaxErr(`"items" is not an array`)
				}
				sawItems = true
				hint := page.Count
				if hint <= 0 || hint > 1000 {
					hint = 16
				}
				items := make([]json.RawMessage, 0, hint)
				if err := s.elements(1, func(raw []byte) { items = append(items, raw) }); err != nil {
					return nil, err
				}
				page.Items = items
			case "count", "offset", "totalResults":
				n, ok, err := s.intValue()
				if err != nil {
					return nil, err
				}
				if ok {
					switch k {
					case "count":
						page.Count = n
					case "offset":
						page.Offset = n
					default:
						page.TotalResults = n
					}
				}
			case "hasMore":
				start := s.i
				if err := s.value(1); err != nil {
					return nil, err
				}
				page.HasMore = string(s.b[start:s.i]) == "true"
			default:
				if err := s.value(1); err != nil {
					return nil, err
				}
			}
			s.ws()
			if s.i >= len(s.b) {
				return nil, errUnexpectedEnd
			}
			if s.b[s.i] == ',' {
				s.i++
				continue
			}
			if s.b[s.i] == '}' {
				s.i++
				break
			}
			return nil, s.syntaxErr("expected ',' or '}'")
		}
	}
	s.ws()
	if s.i != len(s.b) {
		return nil, s.syntaxErr("data after top-level object")
	}
	if !sawItems {
		return nil, errors.New(`response has no "items" array`)
	}
	return page, nil
}
