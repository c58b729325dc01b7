package transform

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"strconv"
	"unicode/utf8"
)

// This file is a small, strict JSON reader over byte slices. It exists for
// speed: a SuiteQL row is a flat object of strings, and walking it in place
// is several times cheaper than decoding it into a map. It accepts exactly
// what encoding/json accepts (RFC 8259; invalid UTF-8 inside strings is
// tolerated and decoded to U+FFFD, as encoding/json does), and a differential
// fuzz test holds it to that.

// maxDepth bounds nesting, as encoding/json does, so hostile input cannot
// exhaust the stack.
const maxDepth = 10000

var errSyntax = errors.New("invalid JSON")

// JSON value kinds, named by their first byte.
const (
	kindInvalid = iota
	kindNull
	kindBool
	kindNumber
	kindString
	kindObject
	kindArray
)

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// kindOf reports the kind of the complete JSON value v (no surrounding space).
func kindOf(v []byte) int {
	if len(v) == 0 {
		return kindInvalid
	}
	switch v[0] {
	case 'n':
		return kindNull
	case 't', 'f':
		return kindBool
	case '"':
		return kindString
	case '{':
		return kindObject
	case '[':
		return kindArray
	default:
		return kindNumber
	}
}

// kindName is used in error messages ("want a string, got an object").
func kindName(k int) string {
	switch k {
	case kindNull:
		return "null"
	case kindBool:
		return "a boolean"
	case kindNumber:
		return "a number"
	case kindString:
		return "a string"
	case kindObject:
		return "an object"
	case kindArray:
		return "an array"
	default:
		return "nothing"
	}
}

// validJSON reports whether b is exactly one JSON value with optional
// surrounding white space.
func validJSON(b []byte) bool {
	i := skipSpace(b, 0)
	end, err := skipValue(b, i, 0)
	if err != nil {
		return false
	}
	return skipSpace(b, end) == len(b)
}

// skipValue validates the value starting at b[i] and returns the index just
// past it.
func skipValue(b []byte, i, depth int) (int, error) {
	if i >= len(b) {
		return i, errSyntax
	}
	switch c := b[i]; {
	case c == '"':
		end, _, err := scanString(b, i)
		return end, err
	case c == '{':
		if depth >= maxDepth {
			return i, errSyntax
		}
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == '}' {
			return i + 1, nil
		}
		for {
			if i >= len(b) || b[i] != '"' {
				return i, errSyntax
			}
			end, _, err := scanString(b, i)
			if err != nil {
				return end, err
			}
			i = skipSpace(b, end)
			if i >= len(b) || b[i] != ':' {
				return i, errSyntax
			}
			i = skipSpace(b, i+1)
			if i, err = skipValue(b, i, depth+1); err != nil {
				return i, err
			}
			i = skipSpace(b, i)
			if i >= len(b) {
				return i, errSyntax
			}
			if b[i] == '}' {
				return i + 1, nil
			}
			if b[i] != ',' {
				return i, errSyntax
			}
			i = skipSpace(b, i+1)
		}
	case c == '[':
		if depth >= maxDepth {
			return i, errSyntax
		}
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == ']' {
			return i + 1, nil
		}
		for {
			var err error
			if i, err = skipValue(b, i, depth+1); err != nil {
				return i, err
			}
			i = skipSpace(b, i)
			if i >= len(b) {
				return i, errSyntax
			}
			if b[i] == ']' {
				return i + 1, nil
			}
			if b[i] != ',' {
				return i, errSyntax
			}
			i = skipSpace(b, i+1)
		}
	case c == 't':
		return skipLiteral(b, i, "true")
	case c == 'f':
		return skipLiteral(b, i, "false")
	case c == 'n':
		return skipLiteral(b, i, "null")
	case c == '-' || (c >= '0' && c <= '9'):
		return scanNumber(b, i)
	default:
		return i, errSyntax
	}
}

func skipLiteral(b []byte, i int, lit string) (int, error) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return i, errSyntax
	}
	return i + len(lit), nil
}

// scanNumber validates the RFC 8259 number grammar.
func scanNumber(b []byte, i int) (int, error) {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return i, errSyntax
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return i, errSyntax
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return i, errSyntax
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	return i, nil
}

// isJSONNumber reports whether s is exactly a JSON number.
func isJSONNumber(s string) bool {
	if s == "" {
		return false
	}
	end, err := scanNumber([]byte(s), 0)
	return err == nil && end == len(s)
}

// scanString validates the string starting at b[i] (the opening quote) and
// returns the index past the closing quote and whether the string needs
// decoding (escapes or non-ASCII bytes).
func scanString(b []byte, i int) (end int, complex bool, err error) {
	i++
	for i < len(b) {
		// Eight bytes at a time while none needs a look, then byte by byte.
		for i+8 <= len(b) && !specialWord(binary.LittleEndian.Uint64(b[i:])) {
			i += 8
		}
		for i < len(b) && plainByte[b[i]] {
			i++
		}
		if i >= len(b) {
			break
		}
		c := b[i]
		switch {
		case c == '"':
			return i + 1, complex, nil
		case c < 0x20:
			return i, false, errSyntax
		case c == '\\':
			complex = true
			i++
			if i >= len(b) {
				return i, false, errSyntax
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				if len(b)-i < 5 {
					return i, false, errSyntax
				}
				for _, h := range b[i+1 : i+5] {
					if !isHex(h) {
						return i, false, errSyntax
					}
				}
				i += 5
			default:
				return i, false, errSyntax
			}
		case c >= utf8.RuneSelf:
			complex = true
			i++
		default:
			i++
		}
	}
	return i, false, errSyntax
}

// plainByte marks the bytes a string scan can pass over without a look:
// printable ASCII other than '"' and '\\'.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// quoteOrBackslash reports whether any byte of w is '"' or '\\'.
func quoteOrBackslash(w uint64) bool {
	return hasZeroByte(w^('"'*ones))|hasZeroByte(w^('\\'*ones)) != 0
}

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// hasZeroByte is non-zero when some byte of v is zero.
func hasZeroByte(v uint64) uint64 { return (v - ones) & ^v & highs }

// specialWord reports whether any byte of w is '"', '\\', a control
// character (< 0x20) or non-ASCII (>= 0x80), with the usual SWAR tricks.
func specialWord(w uint64) bool {
	return (w&highs)|((w-0x20*ones)&^w&highs)|hasZeroByte(w^('"'*ones))|hasZeroByte(w^('\\'*ones)) != 0
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// decodeString decodes the JSON string literal s (with quotes), which must
// already be valid. Plain ASCII is sliced; anything else goes through
// encoding/json so escapes and invalid UTF-8 decode exactly as it decodes them.
func decodeString(s []byte) string {
	inner := s[1 : len(s)-1]
	plain := true
	for _, c := range inner {
		if c == '\\' || c >= utf8.RuneSelf {
			plain = false
			break
		}
	}
	if plain {
		return string(inner)
	}
	if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		return string(inner)
	}
	var out string
	if err := json.Unmarshal(s, &out); err != nil {
		// Unreachable for validated input; keep the bytes rather than lose them.
		return string(inner)
	}
	return out
}

// decoder turns string literals into Go strings. Literals that need no
// unescaping are returned as substrings of src, one copy of the whole
// payload, instead of one allocation each. Only a literal that lies in base
// itself (checked by address) is taken from src; any other (a zero decoder,
// a literal from another buffer) is copied.
type decoder struct {
	src  string // string(base)
	base []byte // the buffer the literals are sub-slices of
}

func newDecoder(base []byte) decoder {
	return decoder{src: string(base), base: base}
}

// str decodes the valid string literal lit.
func (d *decoder) str(lit []byte) string {
	inner := lit[1 : len(lit)-1]
	i := 0
	for i+8 <= len(inner) && !backslashOrHigh(binary.LittleEndian.Uint64(inner[i:])) {
		i += 8
	}
	for ; i < len(inner); i++ {
		if c := inner[i]; c == '\\' || c >= utf8.RuneSelf {
			return decodeString(lit)
		}
	}
	off := cap(d.base) - cap(lit)
	if off >= 0 && off+len(lit) <= len(d.src) && &d.base[off] == &lit[0] {
		return d.src[off+1 : off+len(lit)-1]
	}
	return string(inner)
}

// backslashOrHigh reports whether any byte of w is '\\' or non-ASCII.
func backslashOrHigh(w uint64) bool {
	return (w&highs)|hasZeroByte(w^('\\'*ones)) != 0
}

// skipFast returns the index just past the value starting at b[i], which is
// known to be valid JSON (validated once, up front): strings are skipped with
// IndexByte, containers by counting brackets. On invalid input it stops with
// an error; it never panics and always advances.
func skipFast(b []byte, i int) (int, error) {
	if i >= len(b) {
		return i, errSyntax
	}
	switch b[i] {
	case '"':
		return skipStringFast(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				end, err := skipStringFast(b, i)
				if err != nil {
					return end, err
				}
				i = end
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1, nil
				}
			}
			i++
		}
		return i, errSyntax
	}
	start := i
	for i < len(b) {
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			if i == start {
				return i, errSyntax
			}
			return i, nil
		}
		i++
	}
	return i, nil
}

// skipStringFast returns the index past the closing quote of the string
// starting at b[i], eight bytes at a time where it can.
func skipStringFast(b []byte, i int) (int, error) {
	j := i + 1
	for j < len(b) {
		for j+8 <= len(b) && !quoteOrBackslash(binary.LittleEndian.Uint64(b[j:])) {
			j += 8
		}
		if j >= len(b) {
			break
		}
		switch b[j] {
		case '"':
			return j + 1, nil
		case '\\':
			j += 2
		default:
			j++
		}
	}
	return len(b), errSyntax
}

// objIter walks the members of a JSON object in place. Values are returned as
// sub-slices of the input. A strict iterator validates as it goes; the
// others trust input that was validated before.
type objIter struct {
	b      []byte
	i      int
	n      int // members returned so far
	strict bool
	// lazy names a key (literal with quotes) whose value a strict iterator
	// skips without validating: the caller validates it later.
	lazy string
	err  error
}

// newObjIter starts iterating the object v (a complete, validated value, no
// surrounding space). It reports false when v is not an object.
func newObjIter(v []byte) (objIter, bool) {
	if len(v) == 0 || v[0] != '{' {
		return objIter{}, false
	}
	return objIter{b: v, i: 1}, true
}

// newStrictObjIter is newObjIter for input not validated yet.
func newStrictObjIter(v []byte) (objIter, bool) {
	it, ok := newObjIter(v)
	it.strict = true
	return it, ok
}

func (it *objIter) skip(i int) (int, error) {
	if it.strict {
		return skipValue(it.b, i, 1)
	}
	return skipFast(it.b, i)
}

func (it *objIter) skipKey(i int) (int, error) {
	if it.strict {
		end, _, err := scanString(it.b, i)
		return end, err
	}
	return skipStringFast(it.b, i)
}

// next returns the next member; ok is false at the end or on error (see err).
// key is the raw key literal including quotes.
func (it *objIter) next() (key, val []byte, ok bool) {
	if it.err != nil {
		return nil, nil, false
	}
	i := skipSpace(it.b, it.i)
	if it.n > 0 {
		if i < len(it.b) && it.b[i] == '}' {
			it.end(i)
			return nil, nil, false
		}
		if i >= len(it.b) || it.b[i] != ',' {
			it.err = errSyntax
			return nil, nil, false
		}
		i = skipSpace(it.b, i+1)
	} else if i < len(it.b) && it.b[i] == '}' {
		it.end(i)
		return nil, nil, false
	}
	if i >= len(it.b) || it.b[i] != '"' {
		it.err = errSyntax
		return nil, nil, false
	}
	kEnd, err := it.skipKey(i)
	if err != nil {
		it.err = err
		return nil, nil, false
	}
	key = it.b[i:kEnd]
	i = skipSpace(it.b, kEnd)
	if i >= len(it.b) || it.b[i] != ':' {
		it.err = errSyntax
		return nil, nil, false
	}
	i = skipSpace(it.b, i+1)
	var vEnd int
	if it.lazy != "" && string(key) == it.lazy {
		vEnd, err = skipFast(it.b, i)
	} else {
		vEnd, err = it.skip(i)
	}
	if err != nil {
		it.err = err
		return nil, nil, false
	}
	val = it.b[i:vEnd]
	it.i = vEnd
	it.n++
	return key, val, true
}

// end records the closing bracket at i, which must be the last byte.
func (it *objIter) end(i int) {
	if i != len(it.b)-1 {
		it.err = errSyntax
	}
	it.i = len(it.b)
}

// arrIter walks the elements of a JSON array in place, like objIter.
type arrIter struct {
	b      []byte
	i      int
	n      int
	strict bool
	err    error
}

func newArrIter(v []byte) (arrIter, bool) {
	if len(v) == 0 || v[0] != '[' {
		return arrIter{}, false
	}
	return arrIter{b: v, i: 1}, true
}

func newStrictArrIter(v []byte) (arrIter, bool) {
	it, ok := newArrIter(v)
	it.strict = true
	return it, ok
}

func (it *arrIter) next() (val []byte, ok bool) {
	if it.err != nil {
		return nil, false
	}
	i := skipSpace(it.b, it.i)
	if it.n > 0 {
		if i < len(it.b) && it.b[i] == ']' {
			it.end(i)
			return nil, false
		}
		if i >= len(it.b) || it.b[i] != ',' {
			it.err = errSyntax
			return nil, false
		}
		i = skipSpace(it.b, i+1)
	} else if i < len(it.b) && it.b[i] == ']' {
		it.end(i)
		return nil, false
	}
	var vEnd int
	var err error
	if it.strict {
		vEnd, err = skipValue(it.b, i, 1)
	} else {
		vEnd, err = skipFast(it.b, i)
	}
	if err != nil {
		it.err = err
		return nil, false
	}
	val = it.b[i:vEnd]
	it.i = vEnd
	it.n++
	return val, true
}

func (it *arrIter) end(i int) {
	if i != len(it.b)-1 {
		it.err = errSyntax
	}
	it.i = len(it.b)
}

// trimValue strips surrounding JSON white space from a raw value.
func trimValue(v []byte) []byte {
	i, j := 0, len(v)
	for i < j && isSpace(v[i]) {
		i++
	}
	for j > i && isSpace(v[j-1]) {
		j--
	}
	return v[i:j]
}

// quoteShort quotes s for an error message, cut to a length that shows the
// shape of a bad date or code without carrying a payload.
func quoteShort(s string) string {
	const max = 40
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return strconv.Quote(s[:cut]) + "…"
	}
	return strconv.Quote(s)
}
