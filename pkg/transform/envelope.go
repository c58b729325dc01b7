package transform

import (
	"encoding/json"

	"github.com/nsflow/nsflow/pkg/calendarevent"
)

// decodeRawFast decodes a raw envelope in place, without reflection. It
// handles the shape calendarevent.Raw.AppendJSON writes (any key order and
// white space) and gives up (ok false) on anything it is not sure to decode
// exactly as calendarevent.DecodeRaw does: unknown, repeated or differently
// cased keys, nulls, invalid JSON, a failed Validate. The caller then uses
// DecodeRaw, which also produces the error. The returned Raw aliases payload.
//
// Everything is validated except the record, which the mapping reads in full
// with a validating iterator anyway (validation "record"); the caller must
// fall back to DecodeRaw when the mapping then fails, so that a record that
// is not valid JSON is reported as DecodeRaw reports it.
func decodeRawFast(payload []byte, d *decoder) (*calendarevent.Raw, bool) {
	b := trimValue(payload)
	it, ok := newStrictObjIter(b)
	if !ok {
		return nil, false
	}
	it.lazy = `"record"`
	var r calendarevent.Raw
	var seen uint16
	for {
		key, val, ok := it.next()
		if !ok {
			break
		}
		if kindOf(val) == kindNull {
			return nil, false
		}
		var bit uint16
		switch string(key) {
		case `"kind"`:
			bit = 1 << 0
			if !decodeStringTo(d, val, &r.Kind) {
				return nil, false
			}
		case `"account"`:
			bit = 1 << 1
			if !decodeStringTo(d, val, &r.Account) {
				return nil, false
			}
		case `"api"`:
			bit = 1 << 2
			if !decodeStringTo(d, val, &r.API) {
				return nil, false
			}
		case `"record_id"`:
			bit = 1 << 3
			if !decodeStringTo(d, val, &r.RecordID) {
				return nil, false
			}
		case `"time_zone"`:
			bit = 1 << 4
			if !decodeStringTo(d, val, &r.TimeZone) {
				return nil, false
			}
		case `"last_modified"`:
			bit = 1 << 5
			if kindOf(val) != kindString || r.LastModified.UnmarshalJSON(val) != nil {
				return nil, false
			}
		case `"extracted_at"`:
			bit = 1 << 6
			if kindOf(val) != kindString || r.ExtractedAt.UnmarshalJSON(val) != nil {
				return nil, false
			}
		case `"record"`:
			bit = 1 << 7
			r.Record = json.RawMessage(val)
		case `"attendees"`:
			bit = 1 << 8
			if r.Attendees, ok = rawList(val); !ok {
				return nil, false
			}
		case `"resources"`:
			bit = 1 << 9
			if r.Resources, ok = rawList(val); !ok {
				return nil, false
			}
		case `"attendees_fetched"`:
			bit = 1 << 10
			switch string(val) {
			case "true":
				r.AttendeesFetched = true
			case "false":
				r.AttendeesFetched = false
			default:
				return nil, false
			}
		default:
			return nil, false
		}
		if seen&bit != 0 {
			return nil, false
		}
		seen |= bit
	}
	if it.err != nil || r.Validate() != nil {
		return nil, false
	}
	return &r, true
}

func decodeStringTo(d *decoder, val []byte, dst *string) bool {
	if kindOf(val) != kindString {
		return false
	}
	*dst = d.str(val)
	return true
}

// rawList splits a JSON array into its elements; it gives up on a null
// element, which encoding/json would keep as the literal "null".
func rawList(val []byte) ([]json.RawMessage, bool) {
	it, ok := newStrictArrIter(val)
	if !ok {
		return nil, false
	}
	out := make([]json.RawMessage, 0, 4)
	for {
		v, ok := it.next()
		if !ok {
			break
		}
		if kindOf(v) == kindNull {
			return nil, false
		}
		out = append(out, json.RawMessage(v))
	}
	return out, it.err == nil
}
