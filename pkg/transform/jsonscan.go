package transform

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math/bits"
	"strconv"
	"strings"
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
	if end := shortString(b, i); end > 0 {
		return end, false, nil
	}
	return scanStringLong(b, i+1)
}

// scanStringLong is scanString from b[i], past the opening quote.
func scanStringLong(b []byte, i int) (end int, complex bool, err error) {
	for {
		// Eight bytes at a time: the lowest set bit of the mask marks the
		// first byte that needs a look. The tail goes byte by byte.
		if i+8 <= len(b) {
			mask := specialMask(le64(b, i))
			if mask == 0 {
				i += 8
				continue
			}
			i += bits.TrailingZeros64(mask) >> 3
		} else {
			for i < len(b) && plainByte[b[i]] {
				i++
			}
			if i >= len(b) {
				return i, false, errSyntax
			}
		}
		switch c := b[i]; {
		case c == '"':
			return i + 1, complex, nil
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
		case c < 0x20:
			return i, false, errSyntax
		default: // non-ASCII
			complex = true
			i++
		}
	}
}

// plainByte marks the bytes a string scan can pass over without a look:
// printable ASCII other than '"' and '\\'.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// hasZeroByte is non-zero when some byte of v is zero.
func hasZeroByte(v uint64) uint64 { return (v - ones) & ^v & highs }

// specialMask has the high bit set in each byte of w that is '"', '\\', a
// control character (< 0x20) or non-ASCII (>= 0x80), with the usual SWAR
// tricks: a byte below 0x20 borrows, so x-0x20 sets its high bit, and a byte
// equal to c is zero after xor, so x-1 sets it. (A byte whose high bit such
// a difference sets otherwise is non-ASCII, marked anyway.) Bits above the
// lowest set one may be false alarms (borrows); the lowest is exact.
func specialMask(w uint64) uint64 {
	q := w ^ ('"' * ones)
	s := w ^ ('\\' * ones)
	return (w | (w - 0x20*ones) | (q - ones) | (s - ones)) & highs
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
// unescaping are copied into shared chunks (strArena) rather than allocated
// one by one, and nothing is kept of the input: an event keeps alive its
// own strings, not the payload they came from.
type decoder struct {
	arena strArena
}

// newDecoder returns a decoder for literals from base, whose size guides
// the arena's first chunk (half of it: the strings an event keeps are
// about a third of a typical payload).
func newDecoder(base []byte) decoder {
	return decoder{arena: strArena{next: min(max(len(base)/2, 64), arenaChunk)}}
}

// str decodes the valid string literal lit.
func (d *decoder) str(lit []byte) string {
	if !plainText(lit) {
		return decodeString(lit)
	}
	return d.arena.copy(lit[1 : len(lit)-1])
}

// arenaChunk bounds the first chunk of a strArena; later ones double.
const arenaChunk = 2048

// strArena copies byte strings into chunks that it hands out substrings of.
// A strings.Builder never changes bytes it has written, so its String is
// safe to slice and keep; a full chunk is left to the strings that point
// into it and a new one started. The zero strArena starts with small
// chunks. A strArena must not be copied once used (strings.Builder).
type strArena struct {
	sb   strings.Builder
	next int // size of the next chunk
}

// block starts a new chunk with room for b and reserve more bytes, puts b
// in it and returns it as a string.
func (a *strArena) block(b []byte, reserve int) string {
	a.sb = strings.Builder{}
	a.sb.Grow(len(b) + reserve)
	a.sb.Write(b)
	return a.sb.String()
}

// copy returns a string with the bytes of b.
func (a *strArena) copy(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if a.sb.Cap()-a.sb.Len() < len(b) {
		size := max(a.next, 64)
		a.next = min(2*size, 16*arenaChunk)
		a.sb = strings.Builder{}
		a.sb.Grow(max(size, len(b)))
	}
	n := a.sb.Len()
	a.sb.Write(b)
	return a.sb.String()[n:]
}

// plainText reports whether s has neither a backslash nor a non-ASCII byte,
// eight bytes at a time; the last word overlaps the one before rather than
// going byte by byte.
func plainText(s []byte) bool {
	if len(s) < 8 {
		for _, c := range s {
			if c == '\\' || c >= utf8.RuneSelf {
				return false
			}
		}
		return true
	}
	for i := 0; i+8 <= len(s); i += 8 {
		if backslashOrHigh(le64(s, i)) {
			return false
		}
	}
	return !backslashOrHigh(le64(s, len(s)-8))
}

// le64 reads b[i:i+8] as a little-endian word.
func le64(b []byte, i int) uint64 { return binary.LittleEndian.Uint64(b[i : i+8]) }

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
// starting at b[i], eight bytes at a time to the next quote or backslash.
func skipStringFast(b []byte, i int) (int, error) {
	j := i + 1
	for {
		if len(b)-j >= 8 {
			w := le64(b, j)
			q, s := w^('"'*ones), w^('\\'*ones)
			mask := ((q-ones)&^q | (s-ones)&^s) & highs
			if mask == 0 {
				j += 8
				continue
			}
			j += bits.TrailingZeros64(mask) >> 3
		} else {
			for j < len(b) && b[j] != '"' && b[j] != '\\' {
				j++
			}
			if j >= len(b) {
				return len(b), errSyntax
			}
		}
		if b[j] == '"' {
			return j + 1, nil
		}
		j += 2 // a backslash and the byte it escapes
	}
}

// objIter walks the members of a JSON object in place. Values are returned as
// sub-slices of the input. A strict iterator validates as it goes; the
// others trust input that was validated before.
type objIter struct {
	b      []byte
	i      int
	n      int // members returned so far
	strict bool
	// shallow: a strict iterator skips nested objects and arrays without
	// validating them; the caller reads each with a strict iterator.
	shallow bool
	// depth is the number of containers around the object, for the depth
	// limit of a strict iterator.
	depth int
	err   error
}

// newObjIter starts iterating the object v (a complete, validated value, no
// surrounding space). It reports false when v is not an object.
func newObjIter(v []byte) (objIter, bool) {
	if len(v) == 0 || v[0] != '{' {
		return objIter{}, false
	}
	return objIter{b: v, i: 1}, true
}

func (it *objIter) skip(i int) (int, error) {
	if it.strict && !(it.shallow && i < len(it.b) && (it.b[i] == '{' || it.b[i] == '[')) {
		return skipValue(it.b, i, it.depth+1)
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
	vEnd, err := it.skip(i)
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
	b       []byte
	i       int
	n       int
	strict  bool
	shallow bool // as for objIter
	err     error
}

func newArrIter(v []byte) (arrIter, bool) {
	if len(v) == 0 || v[0] != '[' {
		return arrIter{}, false
	}
	return arrIter{b: v, i: 1}, true
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
	if it.strict && !(it.shallow && i < len(it.b) && (it.b[i] == '{' || it.b[i] == '[')) {
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

// scanKey validates the member key at b[i] and the colon after it. It
// returns the key literal (quotes included) and the index of the value,
// white space skipped.
func scanKey(b []byte, i int) (key []byte, val int, err error) {
	if i >= len(b) || b[i] != '"' {
		return nil, i, errSyntax
	}
	end, _, err := scanString(b, i)
	if err != nil {
		return nil, end, err
	}
	j := skipSpace(b, end)
	if j >= len(b) || b[j] != ':' {
		return nil, j, errSyntax
	}
	return b[i:end], skipSpace(b, j+1), nil
}

// scanSep validates what follows the member or element that ends at b[i]:
// a comma (more is true and next is the index of the next member or
// element) or the closing bracket close (more is false and next is past it).
func scanSep(b []byte, i int, close byte) (next int, more bool, err error) {
	i = skipSpace(b, i)
	if i < len(b) {
		switch b[i] {
		case ',':
			return skipSpace(b, i+1), true, nil
		case close:
			return i + 1, false, nil
		}
	}
	return i, false, errSyntax
}

// member is one member of a split object: its key and value literals as
// offsets into the buffer that was split, so that splitting stores plain
// integers rather than slices. plain says the value is a number or a string
// with nothing to decode; s and sEnd then locate it in the mapper's string
// block once fillStrings has run (s < 0 before).
type member struct {
	k, kEnd, v, vEnd int
	s, sEnd          int32
	plain            bool
}

// splitObject validates the object at b[i] (b[i] == '{'), which lies inside
// depth containers, and appends its members, as offsets into b, to dst. It
// returns the index just past the closing brace. This is the one pass the
// fast path makes over the record and the sublist rows, so it is written
// for speed: keys and string values share one scan, which goes eight bytes
// at a time to the first byte that needs a look (usually the closing
// quote) and leaves escapes, non-ASCII bytes and the end of the input to
// scanStringLong.
func splitObject(b []byte, i, depth int, dst []member) ([]member, int, error) {
	return splitMembers(b, i, depth, dst, true)
}

// splitShallow is splitObject that leaves the insides of nested objects and
// arrays unvalidated: their ends are found by skipFast, and the caller must
// read each of them with a strict iterator.
func splitShallow(b []byte, i, depth int, dst []member) ([]member, int, error) {
	return splitMembers(b, i, depth, dst, false)
}

// splitMembers is splitObject; nested says whether nested objects and
// arrays are validated.
func splitMembers(b []byte, i, depth int, dst []member, nested bool) ([]member, int, error) {
	if depth >= maxDepth {
		return dst, i, errSyntax
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return dst, i + 1, nil
	}
	mb := member{s: -1}
	inKey := true
	for {
		start := i
		if i < len(b) && b[i] == '"' {
			plain := true
			for i++; ; {
				if len(b)-i >= 8 {
					mask := specialMask(le64(b, i))
					if mask == 0 {
						i += 8
						continue
					}
					if i += bits.TrailingZeros64(mask) >> 3; b[i] == '"' {
						i++
						break
					}
				}
				var complex bool
				var err error
				if i, complex, err = scanStringLong(b, i); err != nil {
					return dst, i, err
				}
				plain = !complex
				break
			}
			if inKey {
				mb.k, mb.kEnd = start, i
				if i >= len(b) || b[i] != ':' {
					if i = skipSpace(b, i); i >= len(b) || b[i] != ':' {
						return dst, i, errSyntax
					}
				}
				if i++; i < len(b) && isSpace(b[i]) {
					i = skipSpace(b, i)
				}
				inKey = false
				continue
			}
			mb.v, mb.vEnd, mb.plain = start, i, plain
		} else {
			if inKey {
				return dst, i, errSyntax
			}
			var err error
			if start < len(b) && !nested && (b[start] == '{' || b[start] == '[') {
				i, err = skipFast(b, start)
			} else {
				i, err = skipValue(b, start, depth+1)
			}
			if err != nil {
				return dst, i, err
			}
			c := b[start]
			mb.v, mb.vEnd, mb.plain = start, i, c == '-' || c >= '0' && c <= '9'
		}
		dst = append(dst, mb)
		inKey = true
		if i < len(b) && isSpace(b[i]) {
			i = skipSpace(b, i)
		}
		switch {
		case i >= len(b):
			return dst, i, errSyntax
		case b[i] == ',':
			if i++; i < len(b) && isSpace(b[i]) {
				i = skipSpace(b, i)
			}
		case b[i] == '}':
			return dst, i + 1, nil
		default:
			return dst, i, errSyntax
		}
	}
}

// shortString returns the index past the string at b[i] when the first byte
// of the eight after the opening quote that needs a look is the closing
// quote, or it is the ninth (most short strings), else 0, and scanString
// goes on with scanStringLong. It is small enough to be inlined.
func shortString(b []byte, i int) int {
	if len(b)-i > 9 {
		if j := i + 1 + bits.TrailingZeros64(specialMask(le64(b, i+1)))>>3; b[j] == '"' {
			return j + 1
		}
	}
	return 0
}
