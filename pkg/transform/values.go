package transform

import (
	"bytes"
	"strconv"
	"strings"

	"github.com/nsflow/nsflow/pkg/calendarevent"
)

// slot is one member of a source object.
type slot struct {
	key []byte // the key literal, quotes included
	val []byte // the value; nil when the member is absent
	j   int32  // index+1 of the member in mapper.members; 0 for none
}

// absent reports whether the member is missing or null: NetSuite omits empty
// fields, and null is read the same way.
func (s slot) absent() bool { return s.val == nil || kindOf(s.val) == kindNull }

// name is the key as the source spelt it, for error messages.
func (s slot) name() string {
	if s.key == nil {
		return ""
	}
	return decodeString(s.key)
}

// field names a source field for an error message. It is spelt out only
// when an error is returned, so the mapping does not build names it never
// shows.
type field struct {
	key  []byte // the key literal; nil for a name given by sub
	list string // sublist rows: "attendees", "attendee.items"...
	idx  int    // row index within list
	sub  string // a fixed name, or a suffix after the key
}

func (s slot) field() field { return field{key: s.key} }

func (f field) String() string {
	var name string
	if f.list != "" {
		name = f.list + "[" + strconv.Itoa(f.idx) + "]"
	}
	if f.key != nil {
		if name != "" {
			name += "."
		}
		name += decodeString(f.key)
	}
	if f.sub != "" {
		if name != "" {
			name += "."
		}
		name += f.sub
	}
	return name
}

// lowerKey returns the lower-cased, decoded key literal: the literal's own
// bytes when it is lower case already (every SuiteQL key), else a copy
// appended to dst. The result must not be kept.
func lowerKey(dst, key []byte) []byte {
	inner := key[1 : len(key)-1]
	if !upperOrEscaped(key) { // the quotes are neither
		return inner
	}
	if bytes.IndexByte(inner, '\\') >= 0 {
		inner = []byte(decodeString(key))
	}
	for _, c := range inner {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// upperOrEscaped reports whether s may hold an upper-case ASCII letter or
// a backslash, eight bytes at a time, the last word overlapping the one
// before (a non-ASCII byte may give a false alarm, which only costs the
// slow path).
func upperOrEscaped(s []byte) bool {
	if len(s) < 8 {
		for _, c := range s {
			if c >= 'A' && c <= 'Z' || c == '\\' {
				return true
			}
		}
		return false
	}
	for i := 0; i+8 <= len(s); i += 8 {
		if upperOrBackslash(le64(s, i)) {
			return true
		}
	}
	return upperOrBackslash(le64(s, len(s)-8))
}

// upperOrBackslash reports whether some byte of w is '\\' or, for the
// seven low bits of each byte, 'A' to 'Z' (adding to the bytes with their
// high bits cleared cannot carry).
func upperOrBackslash(w uint64) bool {
	a := w &^ highs
	return ((a+(0x80-'A')*ones)&^(a+(0x80-'Z'-1)*ones)&highs)|hasZeroByte(w^('\\'*ones)) != 0
}

func wrongType(f field, val []byte, want string) *Error {
	return newErr(ClassWrongType, f.String(), "want "+want+", got "+kindName(kindOf(val)))
}

// slotText reads the value of s as a string (see mapper.lit); absent and
// null are "".
func (m *mapper) slotText(f field, s slot) (string, *Error) {
	switch kindOf(s.val) {
	case kindInvalid, kindNull:
		return "", nil
	case kindString:
		return m.lit(s), nil
	}
	return "", wrongType(f, s.val, "a string")
}

// slotID reads the value of s as an internal id (see decoder.idOf).
func (m *mapper) slotID(s slot) (string, bool) {
	switch kindOf(s.val) {
	case kindString, kindNumber:
		return m.lit(s), true
	}
	return "", false
}

// slotRef reads the value of s as a reference or enum (see
// decoder.refParts).
func (m *mapper) slotRef(s slot) (id, name, typ, problem string) {
	switch kindOf(s.val) {
	case kindString, kindNumber:
		return m.lit(s), "", "", ""
	}
	return m.refParts(s.val)
}

// idOf reads an internal id: a string or, tolerated, a JSON number.
func (d *decoder) idOf(val []byte) (string, bool) {
	switch kindOf(val) {
	case kindString:
		return d.str(val), true
	case kindNumber:
		return d.arena.copy(val), true
	}
	return "", false
}

// refParts reads a reference or enum value in any of the shapes NetSuite
// uses: a bare id or symbolic value (SuiteQL, REST simpleEnumFormat or write
// shape), a JSON number, or an object {links?, id, refName?}. Other keys of
// the object are ignored. problem is set when the value has none of these
// shapes.
func (d *decoder) refParts(val []byte) (id, name, typ, problem string) {
	switch kindOf(val) {
	case kindString:
		return d.str(val), "", "", ""
	case kindNumber:
		return d.arena.copy(val), "", "", ""
	case kindObject:
	default:
		return "", "", "", "want an id or an {id, refName} object, got " + kindName(kindOf(val))
	}
	it, _ := newObjIter(val)
	var buf [16]byte
	for {
		k, v, ok := it.next()
		if !ok {
			break
		}
		switch string(lowerKey(buf[:0], k)) {
		case "id":
			if kindOf(v) == kindNull {
				continue
			}
			s, ok := d.idOf(v)
			if !ok {
				return "", "", "", "id: want a string, got " + kindName(kindOf(v))
			}
			id = s
		case "refname":
			if kindOf(v) == kindNull {
				continue
			}
			if kindOf(v) != kindString {
				return "", "", "", "refName: want a string, got " + kindName(kindOf(v))
			}
			name = d.str(v)
		case "links":
			typ = d.linkRecordType(v)
		}
	}
	if it.err != nil {
		return "", "", "", "not valid JSON"
	}
	if id == "" && name != "" {
		return "", "", "", "the reference has a refName but no id"
	}
	return id, name, typ, ""
}

// isRefObject reports whether val is an object with an id and no keys other
// than links, id and refName: the shape of a REST reference.
func isRefObject(val []byte) bool {
	it, ok := newObjIter(val)
	if !ok {
		return false
	}
	var buf [16]byte
	hasID := false
	for {
		k, v, ok := it.next()
		if !ok {
			break
		}
		switch string(lowerKey(buf[:0], k)) {
		case "id":
			k := kindOf(v)
			hasID = k == kindString || k == kindNumber
		case "refname":
			if kindOf(v) != kindString {
				return false
			}
		case "links":
		default:
			return false
		}
	}
	return hasID && it.err == nil
}

// linkRecordType returns the record type of a REST reference from its
// links, the segment after /record/v1/ in the href of the "self" link (else
// the first link that has one), lower-cased:
// ".../record/v1/employee/5" gives "employee".
func (d *decoder) linkRecordType(links []byte) string {
	it, ok := newArrIter(links)
	if !ok {
		return ""
	}
	var first string
	var buf [8]byte
	for {
		l, ok := it.next()
		if !ok {
			break
		}
		obj, ok := newObjIter(l)
		if !ok {
			continue
		}
		var rel, href string
		for {
			k, v, ok := obj.next()
			if !ok {
				break
			}
			if kindOf(v) != kindString {
				continue
			}
			switch string(lowerKey(buf[:0], k)) {
			case "rel":
				rel = d.str(v)
			case "href":
				href = d.str(v)
			}
		}
		typ := hrefRecordType(href)
		if typ == "" {
			continue
		}
		if rel == "self" {
			return typ
		}
		if first == "" {
			first = typ
		}
	}
	return first
}

func hrefRecordType(href string) string {
	const marker = "/record/v1/"
	i := strings.Index(href, marker)
	if i < 0 {
		return ""
	}
	seg := href[i+len(marker):]
	if j := strings.IndexAny(seg, "/?#"); j >= 0 {
		seg = seg[:j]
	}
	if seg == "" || len(seg) > 64 {
		return ""
	}
	upper := false
	for _, c := range []byte(seg) {
		if !isASCIIAlnum(c) && c != '_' {
			return ""
		}
		upper = upper || (c >= 'A' && c <= 'Z')
	}
	if upper {
		return strings.ToLower(seg)
	}
	return seg
}

// boolOf reads a checkbox: a JSON boolean or the strings "T"/"F" (SuiteQL),
// also "true"/"false", in any case. An empty string is absent.
func boolOf(f field, val []byte) (v, set bool, err *Error) {
	switch kindOf(val) {
	case kindInvalid, kindNull:
		return false, false, nil
	case kindBool:
		return val[0] == 't', true, nil
	case kindString:
		s := string(val[1 : len(val)-1]) // short: no allocation for the compare
		if bytes.IndexByte(val, '\\') >= 0 {
			s = decodeString(val)
		}
		switch {
		case s == "":
			return false, false, nil
		case strings.EqualFold(s, "T"), strings.EqualFold(s, "true"):
			return true, true, nil
		case strings.EqualFold(s, "F"), strings.EqualFold(s, "false"):
			return false, true, nil
		}
		return false, false, newErr(ClassWrongType, f.String(), quoteShort(s)+` is not a boolean (want "T"/"F" or true/false)`)
	}
	return false, false, wrongType(f, val, `a boolean ("T"/"F" or true/false)`)
}

// minutesOf reads a whole, non-negative number of minutes: a JSON number, a
// string, or an enum object whose id is the number (REST reminderMinutes).
func (m *mapper) minutesOf(f field, sl slot) (*int, *Error) {
	var s string
	switch val := sl.val; kindOf(val) {
	case kindInvalid, kindNull:
		return nil, nil
	case kindNumber:
		s = m.lit(sl)
	case kindString, kindObject:
		id, _, _, problem := m.slotRef(sl)
		if problem != "" {
			return nil, newErr(ClassWrongType, f.String(), problem)
		}
		s = id
	default:
		return nil, wrongType(f, val, "a whole number of minutes")
	}
	if s == "" {
		return nil, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 1<<31-1 {
		return nil, newErr(ClassWrongType, f.String(), quoteShort(s)+" is not a whole number of minutes")
	}
	return &n, nil
}

// customValue types a custevent* value. SuiteQL sends every value as a
// string, so a SuiteQL string "T" or "F" becomes a boolean, a string that is
// exactly a JSON number becomes a json.Number, and anything else stays a
// string. REST values keep their JSON type; a reference object becomes a
// Ref, an array of reference objects a []Ref, any other object or array is
// kept verbatim. Empty strings and nulls are absent (ok false).
func (m *mapper) customValue(sl slot, suiteql bool) (v any, ok bool) {
	switch val := sl.val; kindOf(val) {
	case kindNull, kindInvalid:
		return nil, false
	case kindBool:
		return val[0] == 't', true
	case kindNumber:
		n := m.lit(sl)
		if !finite(n) {
			return n, true // 1e999 would break every float64 reader
		}
		return jsonNumber(n), true
	case kindString:
		s := m.lit(sl)
		switch {
		case s == "":
			return nil, false
		case !suiteql:
			return s, true
		case s == "T":
			return true, true
		case s == "F":
			return false, true
		case isJSONNumber(s) && finite(s):
			return jsonNumber(s), true
		}
		return s, true
	case kindObject:
		if isRefObject(val) {
			id, name, typ, _ := m.refParts(val)
			return calendarevent.Ref{ID: id, Name: name, Type: typ}, true
		}
	case kindArray:
		if refs, ok := m.refArray(val); ok {
			return refs, true
		}
	}
	return compactCopy(sl.val), true
}

// finite reports whether the JSON number s fits a float64, which is how
// consumers decoding into any will read it.
func finite(s string) bool {
	if len(s) <= 15 && !hasExponent(s) {
		return true // below 1e15 in magnitude
	}
	_, err := strconv.ParseFloat(s, 64)
	return err == nil
}

// hasExponent reports whether the number s has an exponent part.
func hasExponent(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == 'e' || s[i] == 'E' {
			return true
		}
	}
	return false
}

// refArray reads a non-empty array whose elements are all reference objects.
func (d *decoder) refArray(val []byte) ([]calendarevent.Ref, bool) {
	it, _ := newArrIter(val)
	var refs []calendarevent.Ref
	for {
		v, ok := it.next()
		if !ok {
			break
		}
		if !isRefObject(v) {
			return nil, false
		}
		id, name, typ, _ := d.refParts(v)
		refs = append(refs, calendarevent.Ref{ID: id, Name: name, Type: typ})
	}
	return refs, it.err == nil && len(refs) > 0
}
