package transform_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nsflow/nsflow/pkg/calendarevent"
	"github.com/nsflow/nsflow/pkg/transform"
)

// checkAppendEvent wants AppendEvent and calendarevent.Marshal to agree
// byte for byte, errors included.
func checkAppendEvent(t *testing.T, e *calendarevent.Event) {
	t.Helper()
	want, wantErr := calendarevent.Marshal(e)
	got, gotErr := transform.AppendEvent([]byte("prefix"), e)
	if (wantErr != nil) != (gotErr != nil) {
		t.Fatalf("Marshal error %v, AppendEvent error %v", wantErr, gotErr)
	}
	if wantErr != nil {
		return
	}
	if !bytes.HasPrefix(got, []byte("prefix")) || !bytes.Equal(got[len("prefix"):], want) {
		t.Fatalf("encoders differ:\nMarshal     %s\nAppendEvent %s", want, got[len("prefix"):])
	}
}

// tricky is a string that exercises every escaping rule.
const tricky = "a\"b\\c\x00\x01\x1f\b\f\n\r\t<>&\u2028\u2029\x7f é ☺ \xff\xfe end"

// fill sets every field reachable from v to a non-zero value, so that a
// field added to calendarevent.Event shows up in Marshal's output and fails
// the comparison until AppendEvent writes it too.
func fill(t *testing.T, v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(tricky)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64:
		v.SetInt(42)
	case reflect.Uint64:
		v.SetUint(1 << 63)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(t, v.Elem())
	case reflect.Slice:
		if v.Type() == reflect.TypeFor[json.RawMessage]() {
			v.SetBytes([]byte(`{ "a" : [1, "<&>\u2028"] }`))
			return
		}
		s := reflect.MakeSlice(v.Type(), 2, 2)
		fill(t, s.Index(0))
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		for _, k := range []string{"custevent_b", "custevent_a<", "custevent_\u00e9"} {
			val := reflect.New(v.Type().Elem()).Elem()
			fill(t, val)
			m.SetMapIndex(reflect.ValueOf(k), val)
		}
		v.Set(m)
	case reflect.Interface:
		v.Set(reflect.ValueOf(calendarevent.Ref{ID: "1", Name: tricky, Type: "employee"}))
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Date(2024, 3, 4, 5, 6, 7, 890, time.UTC)))
			return
		}
		for i := range v.NumField() {
			fill(t, v.Field(i))
		}
	default:
		t.Fatalf("fill: no rule for %s; extend the test", v.Type())
	}
}

func TestAppendEventMatchesMarshal(t *testing.T) {
	t.Parallel()
	var full calendarevent.Event
	fill(t, reflect.ValueOf(&full).Elem())
	checkAppendEvent(t, &full)

	checkAppendEvent(t, &calendarevent.Event{})
	checkAppendEvent(t, &calendarevent.Event{Attendees: []calendarevent.Attendee{}, Resources: []calendarevent.Ref{}, Reminder: &calendarevent.Reminder{}})

	min := 0
	local, _ := time.LoadLocation("Asia/Kolkata")
	now := time.Date(2024, 3, 4, 5, 6, 7, 0, local)
	checkAppendEvent(t, &calendarevent.Event{
		Reminder:  &calendarevent.Reminder{Minutes: &min},
		Start:     &now,
		Resources: []calendarevent.Ref{{ID: "1"}},
		CustomFields: map[string]any{
			"n": json.Number("12.50"), "z": json.Number(""), "t": true, "s": "", "refs": []calendarevent.Ref(nil),
			"raw": json.RawMessage(nil), "ref": calendarevent.Ref{ID: "x"},
		},
		Extra:      map[string]json.RawMessage{"a": json.RawMessage("\"<b>\u2028\u2029\\\"&\""), "n": nil, "o": json.RawMessage("{\n\"x\" :\t[ ]}")},
		Provenance: calendarevent.Provenance{Notes: []string{"one", tricky}},
	})
	// Types the transformer never produces fall back to encoding/json.
	checkAppendEvent(t, &calendarevent.Event{CustomFields: map[string]any{"f": 1.5, "m": map[string]int{"b": 1, "a": 2}, "p": &calendarevent.Ref{ID: "1"}}})
	// Errors agree: a bad number, bad raw JSON, a year out of range.
	checkAppendEvent(t, &calendarevent.Event{CustomFields: map[string]any{"n": json.Number("1.")}})
	checkAppendEvent(t, &calendarevent.Event{Extra: map[string]json.RawMessage{"x": json.RawMessage(`{`)}})
	checkAppendEvent(t, &calendarevent.Event{Extra: map[string]json.RawMessage{"x": json.RawMessage{}}})
	checkAppendEvent(t, &calendarevent.Event{LastModifiedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)})
	if b, err := transform.AppendEvent(nil, nil); err != nil || string(b) != "null" {
		t.Errorf("nil event: %q %v", b, err)
	}
}

func TestAppendEventGolden(t *testing.T) {
	t.Parallel()
	tr := newTransformer(t)
	for _, path := range rawFiles(t, "raw") {
		ev := transformFile(t, tr, path)
		checkAppendEvent(t, ev)
	}
}

// FuzzAppendEvent fuzzes the strings of an event through both encoders.
func FuzzAppendEvent(f *testing.F) {
	f.Add(tricky, "custevent_x", `{"a":1}`, "12")
	f.Add("", "", "", "")
	f.Fuzz(func(t *testing.T, s, key, raw, num string) {
		ev := &calendarevent.Event{
			Title: s, Message: &calendarevent.Message{HTML: s, Text: strings.ToUpper(s)},
			Organizer:    &calendarevent.Ref{ID: s, Name: s, Type: s},
			Attendees:    []calendarevent.Attendee{{Entity: calendarevent.Ref{ID: key}, Response: s}},
			CustomFields: map[string]any{key: s, key + "n": json.Number(num), key + "r": json.RawMessage(raw)},
			Extra:        map[string]json.RawMessage{s: json.RawMessage(raw)},
			Provenance:   calendarevent.Provenance{Notes: []string{s}},
		}
		checkAppendEvent(t, ev)
	})
}
