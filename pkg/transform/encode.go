package transform

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/nsflow/nsflow/pkg/calendarevent"
)

// AppendEvent appends the JSON encoding of e to dst: exactly the bytes
// calendarevent.Marshal writes (encoding/json, with its HTML escaping, map key
// order and RawMessage compaction), several times faster because it does not
// reflect. A custom field value of a type the transformer does not produce
// makes it fall back to calendarevent.Marshal. Tests hold the two encoders
// to the same bytes for every golden event, a reflectively filled event and
// fuzzed events; a field added to calendarevent.Event fails them until it is
// added here.
func AppendEvent(dst []byte, e *calendarevent.Event) ([]byte, error) {
	if e == nil {
		return append(dst, "null"...), nil
	}
	out, err := appendEvent(dst, e)
	if errors.Is(err, errFallback) {
		b, err := calendarevent.Marshal(e)
		if err != nil {
			return dst, err
		}
		return append(dst, b...), nil
	}
	if err != nil {
		return dst, fmt.Errorf("encode canonical event %s/%s: %w", e.Account, e.ID, err)
	}
	return out, nil
}

var errFallback = errors.New("value needs encoding/json")

func appendEvent(b []byte, e *calendarevent.Event) ([]byte, error) {
	var err error
	b = append(b, `{"schema":"`...)
	b = appendStringTail(b, e.Schema)
	b = append(b, `,"account":"`...)
	b = appendStringTail(b, e.Account)
	b = append(b, `,"id":"`...)
	b = appendStringTail(b, e.ID)
	b = appendOptString(b, `,"external_id":"`, e.ExternalID)
	b = append(b, `,"deleted":`...)
	b = strconv.AppendBool(b, e.Deleted)
	if b, err = appendOptTime(b, `,"deleted_at":`, e.DeletedAt); err != nil {
		return b, err
	}
	b = appendOptString(b, `,"title":"`, e.Title)
	if e.Message != nil {
		b = append(b, `,"message":{"html":"`...)
		b = appendStringTail(b, e.Message.HTML)
		b = append(b, `,"text":"`...)
		b = appendStringTail(b, e.Message.Text)
		b = append(b, '}')
	}
	b = appendOptString(b, `,"location":"`, e.Location)
	b = appendOptEnum(b, `,"status":`, e.Status)
	b = appendOptEnum(b, `,"access_level":`, e.AccessLevel)
	b = appendOptEnum(b, `,"response":`, e.Response)
	if r := e.Reminder; r != nil {
		b = append(b, `,"reminder":{`...)
		sep := ""
		if r.Type != nil {
			b = appendOptEnum(b, `"type":`, r.Type)
			sep = ","
		}
		if r.Minutes != nil {
			b = append(b, sep...)
			b = append(b, `"minutes":`...)
			b = strconv.AppendInt(b, int64(*r.Minutes), 10)
		}
		b = append(b, '}')
	}
	b = appendOptString(b, `,"recurrence":"`, e.Recurrence)
	b = appendOptRef(b, `,"organizer":`, e.Organizer)
	b = appendOptRef(b, `,"owner":`, e.Owner)
	b = appendOptRef(b, `,"company":`, e.Company)
	b = appendOptRef(b, `,"contact":`, e.Contact)
	b = appendOptRef(b, `,"support_case":`, e.SupportCase)
	b = appendOptRef(b, `,"transaction":`, e.Transaction)
	b = appendOptRef(b, `,"related_item":`, e.RelatedItem)
	if b, err = appendOptTime(b, `,"start":`, e.Start); err != nil {
		return b, err
	}
	if b, err = appendOptTime(b, `,"end":`, e.End); err != nil {
		return b, err
	}
	b = append(b, `,"all_day":`...)
	b = strconv.AppendBool(b, e.AllDay)
	b = append(b, `,"timed":`...)
	b = strconv.AppendBool(b, e.Timed)
	if l := e.Local; l != nil {
		b = append(b, `,"local":{"date":"`...)
		b = appendStringTail(b, l.Date)
		b = appendOptString(b, `,"start_time":"`, l.StartTime)
		b = appendOptString(b, `,"end_time":"`, l.EndTime)
		b = appendOptString(b, `,"end_date":"`, l.EndDate)
		b = appendOptString(b, `,"time_zone":"`, l.TimeZone)
		b = appendOptString(b, `,"time_zone_source":"`, l.TimeZoneSource)
		b = append(b, '}')
	}
	b = appendOptString(b, `,"completed_date":"`, e.CompletedDate)
	b = append(b, `,"attendees":`...)
	if e.Attendees == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, a := range e.Attendees {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"entity":`...)
			b = appendRef(b, a.Entity)
			b = appendOptString(b, `,"attendance":"`, a.Attendance)
			b = appendOptString(b, `,"response":"`, a.Response)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, `,"resources":`...)
	b = appendRefs(b, e.Resources)
	if len(e.CustomFields) > 0 {
		b = append(b, `,"custom_fields":{`...)
		var buf [16]string
		for i, k := range sortedKeys(e.CustomFields, buf[:0]) {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			if b, err = appendCustomValue(b, e.CustomFields[k]); err != nil {
				return b, err
			}
		}
		b = append(b, '}')
	}
	if len(e.Extra) > 0 {
		b = append(b, `,"extra":{`...)
		var buf [16]string
		for i, k := range sortedKeys(e.Extra, buf[:0]) {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			if b, err = appendRawJSON(b, e.Extra[k]); err != nil {
				return b, err
			}
		}
		b = append(b, '}')
	}
	if b, err = appendOptTime(b, `,"created_at":`, e.CreatedAt); err != nil {
		return b, err
	}
	b = append(b, `,"last_modified_at":`...)
	if b, err = appendTime(b, e.LastModifiedAt); err != nil {
		return b, err
	}
	p := &e.Provenance
	b = append(b, `,"provenance":{"extracted_at":`...)
	if b, err = appendTime(b, p.ExtractedAt); err != nil {
		return b, err
	}
	b = append(b, `,"source_api":"`...)
	b = appendStringTail(b, p.SourceAPI)
	b = append(b, `,"raw_sequence":`...)
	b = strconv.AppendUint(b, p.RawSequence, 10)
	if len(p.Notes) > 0 {
		b = append(b, `,"notes":[`...)
		for i, n := range p.Notes {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, n)
		}
		b = append(b, ']')
	}
	return append(b, "}}"...), nil
}

// sortedKeys appends the keys of m to keys, sorted; a small keys buffer on
// the caller's stack saves an allocation.
func sortedKeys[V any](m map[string]V, keys []string) []string {
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// appendOptString writes key (which ends with the string's opening quote)
// and s, unless s is empty.
func appendOptString(b []byte, key, s string) []byte {
	if s == "" {
		return b
	}
	b = append(b, key...)
	return appendStringTail(b, s)
}

func appendOptEnum(b []byte, key string, e *calendarevent.Enum) []byte {
	if e == nil {
		return b
	}
	b = append(b, key...)
	b = append(b, `{"id":"`...)
	b = appendStringTail(b, e.ID)
	b = appendOptString(b, `,"name":"`, e.Name)
	return append(b, '}')
}

func appendOptRef(b []byte, key string, r *calendarevent.Ref) []byte {
	if r == nil {
		return b
	}
	b = append(b, key...)
	return appendRef(b, *r)
}

func appendRef(b []byte, r calendarevent.Ref) []byte {
	b = append(b, `{"id":"`...)
	b = appendStringTail(b, r.ID)
	b = appendOptString(b, `,"name":"`, r.Name)
	b = appendOptString(b, `,"type":"`, r.Type)
	return append(b, '}')
}

func appendRefs(b []byte, refs []calendarevent.Ref) []byte {
	if refs == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, r := range refs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendRef(b, r)
	}
	return append(b, ']')
}

func appendOptTime(b []byte, key string, t *time.Time) ([]byte, error) {
	if t == nil {
		return b, nil
	}
	b = append(b, key...)
	return appendTime(b, *t)
}

// appendTime writes t as time.Time.MarshalJSON does, with its errors. A UTC
// time in the years 0000-9999 (every time the transformer makes) is written
// here; any other goes through time.Time.AppendText.
func appendTime(b []byte, t time.Time) ([]byte, error) {
	b = append(b, '"')
	if t.Location() == time.UTC {
		if out, ok := appendUTC(b, t); ok {
			return append(out, '"'), nil
		}
	}
	b, err := t.AppendText(b)
	if err != nil {
		return b, err
	}
	return append(b, '"'), nil
}

// appendUTC writes the UTC time t in RFC 3339 with the fraction of a second
// trimmed of trailing zeros (time.RFC3339Nano); ok is false outside the
// years 0000-9999.
func appendUTC(b []byte, t time.Time) ([]byte, bool) {
	sec := t.Unix()
	days := sec / 86400
	if sec%86400 < 0 {
		days--
	}
	clock := int(sec - days*86400)
	y, m, d := civilFromDays(days)
	if y < 0 || y > 9999 {
		return b, false
	}
	var buf [30]byte
	p := buf[:20]
	put2(p[0:2], int(y)/100)
	put2(p[2:4], int(y)%100)
	p[4] = '-'
	put2(p[5:7], m)
	p[7] = '-'
	put2(p[8:10], d)
	p[10] = 'T'
	put2(p[11:13], clock/3600)
	p[13] = ':'
	put2(p[14:16], clock/60%60)
	p[16] = ':'
	put2(p[17:19], clock%60)
	n := 19
	if ns := t.Nanosecond(); ns != 0 {
		p = buf[:29]
		p[19] = '.'
		put(p[20:29], ns)
		n = 29
		for p[n-1] == '0' {
			n--
		}
	}
	buf[n] = 'Z'
	return append(b, buf[:n+1]...), true
}

// put2 writes v, in 0-99, as two decimal digits.
func put2(b []byte, v int) {
	const digits = "00010203040506070809101112131415161718192021222324252627282930313233343536373839404142434445464748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899"
	b[0], b[1] = digits[2*v], digits[2*v+1]
}

// civilFromDays returns the proleptic Gregorian date of the day that is days
// after 1970-01-01 (Howard Hinnant's days_from_civil, inverted).
func civilFromDays(days int64) (y int64, m, d int) {
	z := days + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097                                  // [0, 146096]
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365 // [0, 399]
	doy := doe - (365*yoe + yoe/4 - yoe/100)               // [0, 365]
	mp := (5*doy + 2) / 153                                // [0, 11], March first
	d = int(doy - (153*mp+2)/5 + 1)
	m = int(mp + 3)
	if m > 12 {
		m -= 12
	}
	y = yoe + era*400
	if m <= 2 {
		y++
	}
	return y, m, d
}

// appendCustomValue writes the value types the transformer puts in
// CustomFields; anything else asks for the encoding/json fallback.
func appendCustomValue(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case string:
		return appendJSONString(b, v), nil
	case bool:
		return strconv.AppendBool(b, v), nil
	case json.Number:
		s := string(v)
		if s == "" {
			s = "0"
		}
		if !isJSONNumber(s) {
			return b, fmt.Errorf("json: invalid number literal %q", s)
		}
		return append(b, s...), nil
	case calendarevent.Ref:
		return appendRef(b, v), nil
	case []calendarevent.Ref:
		return appendRefs(b, v), nil
	case json.RawMessage:
		return appendRawJSON(b, v)
	}
	return b, errFallback
}

// appendRawJSON writes a json.RawMessage as encoding/json does: nil is null;
// anything else must be valid JSON and is compacted, with <, >, & and
// U+2028/U+2029 inside strings escaped.
func appendRawJSON(b []byte, v json.RawMessage) ([]byte, error) {
	if v == nil {
		return append(b, "null"...), nil
	}
	if !validJSON(v) {
		return b, errors.New("json: invalid RawMessage")
	}
	inString, escaped := false, false
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !inString {
			if isSpace(c) {
				continue
			}
			inString = c == '"'
			b = append(b, c)
			continue
		}
		switch {
		case escaped:
			escaped = false
		case c == '\\':
			escaped = true
		case c == '"':
			inString = false
		case c == '<' || c == '>' || c == '&':
			b = append(b, '\\', 'u', '0', '0', hexDigit[c>>4], hexDigit[c&0xF])
			continue
		case c == 0xE2 && i+2 < len(v) && v[i+1] == 0x80 && (v[i+2] == 0xA8 || v[i+2] == 0xA9):
			b = append(b, '\\', 'u', '2', '0', '2', hexDigit[v[i+2]&0xF])
			i += 2
			continue
		}
		b = append(b, c)
	}
	return b, nil
}

const hexDigit = "0123456789abcdef"

// htmlSafe marks the bytes a JSON string can carry as they are: printable
// ASCII other than '"', '\\', '<', '>' and '&'.
var htmlSafe = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// escapeMask has the high bit set in each byte of w that htmlSafe does not
// pass (see specialMask for the tricks; '"' and '&', and '<' and '>',
// differ in one bit, so each pair takes one compare). The lowest set bit is
// exact for the first byte of w.
func escapeMask(w uint64) uint64 {
	qa := (w | 0x04*ones) ^ ('&' * ones) // '"' or '&'
	lg := (w | 0x02*ones) ^ ('>' * ones) // '<' or '>'
	bs := w ^ ('\\' * ones)
	return (w | (w - 0x20*ones) | (qa - ones) | (lg - ones) | (bs - ones)) & highs
}

// load32 reads s[i:i+4] as a little-endian word.
func load32(s string, i int) uint64 {
	s = s[i : i+4]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24
}

// load64 reads s[i:i+8] as a little-endian word.
func load64(s string, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// appendJSONString writes s as a JSON string the way encoding/json does by
// default: '"', '\\' and control characters escaped (\b \f \n \r \t short,
// others \u00XX), '<', '>' and '&' escaped for HTML safety, U+2028 and U+2029
// escaped, and each byte of invalid UTF-8 replaced by \ufffd.
func appendJSONString(b []byte, s string) []byte {
	return appendStringTail(append(b, '"'), s)
}

// appendStringTail writes s as the rest of a JSON string whose opening
// quote is written already (see appendJSONString).
func appendStringTail(b []byte, s string) []byte {
	i := safePrefix(s)
	b = append(b, s[:i]...)
	if i < len(s) {
		b = appendEscaped(b, s[i:])
	}
	return append(b, '"')
}

// safePrefix returns the length of the longest prefix of s that needs no
// escaping, eight bytes at a time; a last short stretch is read as the word
// that ends s (the bytes it shares with the word before are safe, and safe
// bytes do not borrow, so its lowest mark is exact).
func safePrefix(s string) int {
	if len(s) < 8 {
		if len(s) < 4 {
			for i := 0; i < len(s); i++ {
				if !htmlSafe[s[i]] {
					return i
				}
			}
			return len(s)
		}
		// Two words of four that overlap, as one.
		mask := escapeMask(load32(s, 0) | load32(s, len(s)-4)<<32)
		switch {
		case mask == 0:
			return len(s)
		case uint32(mask) != 0:
			return bits.TrailingZeros64(mask) >> 3
		}
		return len(s) - 4 + (bits.TrailingZeros64(mask)-32)>>3
	}
	i := 0
	for ; i+8 <= len(s); i += 8 {
		if mask := escapeMask(load64(s, i)); mask != 0 {
			return i + bits.TrailingZeros64(mask)>>3
		}
	}
	if i == len(s) {
		return i
	}
	if mask := escapeMask(load64(s, len(s)-8)); mask != 0 {
		return len(s) - 8 + bits.TrailingZeros64(mask)>>3
	}
	return len(s)
}

// appendEscaped writes the inside of a JSON string for s, whose first byte
// needs escaping (see appendJSONString).
func appendEscaped(b []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if htmlSafe[c] {
			if n := safePrefix(s[i:]); n > 0 {
				i += n
				continue
			}
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigit[c>>4], hexDigit[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigit[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	return append(b, s[start:]...)
}
