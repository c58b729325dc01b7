package transform

import (
	"encoding/json"
	"errors"
	"fmt"
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
	b = append(b, `{"schema":`...)
	b = appendJSONString(b, e.Schema)
	b = append(b, `,"account":`...)
	b = appendJSONString(b, e.Account)
	b = append(b, `,"id":`...)
	b = appendJSONString(b, e.ID)
	b = appendOptString(b, `,"external_id":`, e.ExternalID)
	b = append(b, `,"deleted":`...)
	b = strconv.AppendBool(b, e.Deleted)
	if b, err = appendOptTime(b, `,"deleted_at":`, e.DeletedAt); err != nil {
		return b, err
	}
	b = appendOptString(b, `,"title":`, e.Title)
	if e.Message != nil {
		b = append(b, `,"message":{"html":`...)
		b = appendJSONString(b, e.Message.HTML)
		b = append(b, `,"text":`...)
		b = appendJSONString(b, e.Message.Text)
		b = append(b, '}')
	}
	b = appendOptString(b, `,"location":`, e.Location)
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
	b = appendOptString(b, `,"recurrence":`, e.Recurrence)
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
		b = append(b, `,"local":{"date":`...)
		b = appendJSONString(b, l.Date)
		b = appendOptString(b, `,"start_time":`, l.StartTime)
		b = appendOptString(b, `,"end_time":`, l.EndTime)
		b = appendOptString(b, `,"end_date":`, l.EndDate)
		b = appendOptString(b, `,"time_zone":`, l.TimeZone)
		b = appendOptString(b, `,"time_zone_source":`, l.TimeZoneSource)
		b = append(b, '}')
	}
	b = appendOptString(b, `,"completed_date":`, e.CompletedDate)
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
			b = appendOptString(b, `,"attendance":`, a.Attendance)
			b = appendOptString(b, `,"response":`, a.Response)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, `,"resources":`...)
	b = appendRefs(b, e.Resources)
	if len(e.CustomFields) > 0 {
		b = append(b, `,"custom_fields":{`...)
		for i, k := range sortedKeys(e.CustomFields) {
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
		for i, k := range sortedKeys(e.Extra) {
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
	b = append(b, `,"source_api":`...)
	b = appendJSONString(b, p.SourceAPI)
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

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func appendOptString(b []byte, key, s string) []byte {
	if s == "" {
		return b
	}
	b = append(b, key...)
	return appendJSONString(b, s)
}

func appendOptEnum(b []byte, key string, e *calendarevent.Enum) []byte {
	if e == nil {
		return b
	}
	b = append(b, key...)
	b = append(b, `{"id":`...)
	b = appendJSONString(b, e.ID)
	b = appendOptString(b, `,"name":`, e.Name)
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
	b = append(b, `{"id":`...)
	b = appendJSONString(b, r.ID)
	b = appendOptString(b, `,"name":`, r.Name)
	b = appendOptString(b, `,"type":`, r.Type)
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

// appendTime writes t as time.Time.MarshalJSON does, with its errors.
func appendTime(b []byte, t time.Time) ([]byte, error) {
	b = append(b, '"')
	b, err := t.AppendText(b)
	if err != nil {
		return b, err
	}
	return append(b, '"'), nil
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

// appendJSONString writes s as a JSON string the way encoding/json does by
// default: '"', '\\' and control characters escaped (\b \f \n \r \t short,
// others \u00XX), '<', '>' and '&' escaped for HTML safety, U+2028 and U+2029
// escaped, and each byte of invalid UTF-8 replaced by \ufffd.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if htmlSafe[c] {
			i++
			continue
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
	b = append(b, s[start:]...)
	return append(b, '"')
}
