package transform

import (
	"encoding/json"
	"time"
)

// Sublists of the envelope, indexes of mapper.envRows.
const (
	listAttendees = iota
	listResources
)

// span is a range of mapper.members: the members of the record or of one
// sublist row. lo is -1 for a row that is not an object.
type span struct{ lo, hi int32 }

// decodeEnvelope decodes a raw envelope in place, without reflection, into
// m.rawBuf, in one validating pass over the payload that also splits the
// record and the envelope's sublist rows into their members (m.members,
// m.rec, m.envRows), so that the mapping never scans them again. It handles
// the shape calendarevent.Raw.AppendJSON writes (any key order and white
// space) and gives up (false) on anything it is not sure to decode exactly
// as calendarevent.DecodeRaw does: unknown, repeated or differently cased
// keys, nulls, a record that is not an object, invalid JSON, a failed
// Validate. The caller then uses DecodeRaw, which also produces the error.
// Record, Attendees and Resources alias payload; the strings are in the
// string block (fillStrings).
func (m *mapper) decodeEnvelope(payload []byte) bool {
	b := trimValue(payload)
	if len(b) == 0 || b[0] != '{' {
		return false
	}
	m.buf = b
	r := &m.rawBuf
	var seen uint16
	var strs [5]int32 // members holding kind, account, api, record_id, time_zone
	i, more := skipSpace(b, 1), true
	if i < len(b) && b[i] == '}' {
		i, more = i+1, false
	}
	for more {
		key, v, err := scanKey(b, i)
		if err != nil {
			return false
		}
		var bit uint16
		end := -1
		switch string(key) {
		case `"kind"`:
			bit, end = 1<<0, m.envString(b, v, &strs[0])
		case `"account"`:
			bit, end = 1<<1, m.envString(b, v, &strs[1])
		case `"api"`:
			bit, end = 1<<2, m.envString(b, v, &strs[2])
		case `"record_id"`:
			bit, end = 1<<3, m.envString(b, v, &strs[3])
		case `"time_zone"`:
			bit, end = 1<<4, m.envString(b, v, &strs[4])
		case `"last_modified"`:
			bit, end = 1<<5, envTime(b, v, &r.LastModified)
		case `"extracted_at"`:
			bit, end = 1<<6, envTime(b, v, &r.ExtractedAt)
		case `"record"`:
			bit, end = 1<<7, m.envRecord(b, v)
		case `"attendees"`:
			bit, end = 1<<8, m.envList(b, v, listAttendees, &r.Attendees)
		case `"resources"`:
			bit, end = 1<<9, m.envList(b, v, listResources, &r.Resources)
		case `"attendees_fetched"`:
			bit = 1 << 10
			switch {
			case hasLiteral(b, v, "true"):
				r.AttendeesFetched, end = true, v+len("true")
			case hasLiteral(b, v, "false"):
				r.AttendeesFetched, end = false, v+len("false")
			}
		}
		if end < 0 || seen&bit != 0 {
			return false
		}
		seen |= bit
		if i, more, err = scanSep(b, end, '}'); err != nil {
			return false
		}
	}
	if i != len(b) {
		return false
	}
	m.fillStrings()
	for f, dst := range [...]*string{&r.Kind, &r.Account, &r.API, &r.RecordID, &r.TimeZone} {
		if strs[f] > 0 {
			*dst = m.lit(m.member(strs[f] - 1))
		}
	}
	return r.Validate() == nil
}

// hasLiteral reports whether b holds lit at i.
func hasLiteral(b []byte, i int, lit string) bool {
	return len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit
}

// envString adds the string at b[i] to m.members, outside any span, so
// that fillStrings copies it with the others, sets *idx to its index+1 and
// returns the index past it, or -1 when there is no valid string there.
func (m *mapper) envString(b []byte, i int, idx *int32) int {
	if i >= len(b) || b[i] != '"' {
		return -1
	}
	end, complex, err := scanString(b, i)
	if err != nil {
		return -1
	}
	m.members = append(m.members, member{v: i, vEnd: end, s: -1, plain: !complex})
	*idx = int32(len(m.members))
	return end
}

// envTime decodes the timestamp string at b[i] as time.Time.UnmarshalJSON
// does and returns the index past it, or -1.
func envTime(b []byte, i int, dst *time.Time) int {
	if i >= len(b) || b[i] != '"' {
		return -1
	}
	end, _, err := scanString(b, i)
	if err != nil || dst.UnmarshalJSON(b[i:end]) != nil {
		return -1
	}
	return end
}

// envRecord splits the record object at b[i] into m.members and returns the
// index past it, or -1 (a record that is not an object is left to the slow
// path, which reports it).
func (m *mapper) envRecord(b []byte, i int) int {
	if i >= len(b) || b[i] != '{' {
		return -1
	}
	lo := len(m.members)
	var end int
	var err error
	if m.members, end, err = splitObject(b, i, 1, m.members); err != nil {
		return -1
	}
	m.rec = span{int32(lo), int32(len(m.members))}
	m.rawBuf.Record = json.RawMessage(b[i:end])
	return end
}

// envList reads the sublist array at b[i] into *dst, splitting each row that
// is an object into m.members, and returns the index past it, or -1. A null
// row gives up: encoding/json would keep it as the literal "null".
func (m *mapper) envList(b []byte, i, list int, dst *[]json.RawMessage) int {
	if i >= len(b) || b[i] != '[' {
		return -1
	}
	rows, spans := m.listBuf[list][:0], m.spanBuf[list][:0]
	j, more := skipSpace(b, i+1), true
	if j < len(b) && b[j] == ']' {
		j, more = j+1, false
	}
	for more {
		if j >= len(b) || b[j] == 'n' {
			return -1
		}
		var end int
		var err error
		sp := span{-1, -1}
		if b[j] == '{' {
			lo := len(m.members)
			m.members, end, err = splitObject(b, j, 2, m.members)
			sp = span{int32(lo), int32(len(m.members))}
		} else {
			end, err = skipValue(b, j, 2)
		}
		if err != nil {
			return -1
		}
		rows = append(rows, json.RawMessage(b[j:end]))
		spans = append(spans, sp)
		if j, more, err = scanSep(b, end, ']'); err != nil {
			return -1
		}
	}
	*dst = rows
	m.envRows[list] = spans
	return j
}
