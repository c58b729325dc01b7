package transform_test

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/nsflow/nsflow/pkg/calendarevent"
	"github.com/nsflow/nsflow/pkg/transform"
)

// checkDecode wants DecodeEvent and calendarevent.Unmarshal to agree on b:
// the same event, or the same error.
func checkDecode(t *testing.T, b []byte) {
	t.Helper()
	want, wantErr := calendarevent.Unmarshal(b)
	got, gotErr := transform.DecodeEvent(b)
	if (wantErr == nil) != (gotErr == nil) || (wantErr != nil && wantErr.Error() != gotErr.Error()) {
		t.Fatalf("Unmarshal error %v, DecodeEvent error %v\ninput %q", wantErr, gotErr, b)
	}
	if !reflect.DeepEqual(want, got) {
		t.Fatalf("decoders differ on %q:\nUnmarshal   %#v\nDecodeEvent %#v", b, want, got)
	}
}

// decodeCases are canonical encodings (golden files, indented and compact,
// and a fully filled event) plus variants of them.
func decodeCases(t testing.TB) [][]byte {
	var cases [][]byte
	for _, p := range rawFiles(t, "golden") {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		cases = append(cases, b)
		e, err := calendarevent.Unmarshal(b)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		compact, err := transform.AppendEvent(nil, e)
		if err != nil {
			t.Fatal(err)
		}
		cases = append(cases, compact)
	}
	base := `{"schema":"netsuite.calendarevent/v1","account":"A","id":"1","deleted":false,"all_day":false,"timed":true,` +
		`"attendees":null,"resources":null,"last_modified_at":"2024-03-04T05:06:07Z",` +
		`"provenance":{"extracted_at":"2024-03-04T05:06:08.123456789Z","source_api":"suiteql","raw_sequence":7}}`
	variant := func(old, repl string) []byte { return []byte(strings.Replace(base, old, repl, 1)) }
	cases = append(cases,
		[]byte(base),
		[]byte(" \n"+base+"\t "),
		variant(`"id":"1"`, `"id":"1","unknown":{"x":[1,2]}`),
		variant(`"id":"1"`, `"id":"1","id":"2"`),
		variant(`"id":"1"`, `"ID":"2"`),
		variant(`"id":"1"`, `"i\u0064":"2"`),
		variant(`"id":"1"`, `"id":null`),
		variant(`"id":"1"`, `"id":"1","title":null,"message":null,"status":null,"start":null,"local":null`),
		variant(`"id":"1"`, `"id":"\ud83d\ude00 \ud800 \ud800\u0041 \udc00 \u00e9\u2028 \"\\\/\b\f\n\r\t \u003c"`),
		variant(`"id":"1"`, "\"id\":\"caf\xc3\xa9 \xff\xfe bad\""),
		variant(`"id":"1"`, `"id":"1","message":{"html":"a","html":"b"}`),
		variant(`"id":"1"`, `"id":"1","message":{"html":"a"},"message":{"text":"b"}`),
		variant(`"id":"1"`, `"id":"1","message":{}`),
		variant(`"id":"1"`, `"id":"1","reminder":{"minutes":15}`),
		variant(`"id":"1"`, `"id":"1","reminder":{"minutes":1.5}`),
		variant(`"id":"1"`, `"id":"1","reminder":{"minutes":-3,"type":{"id":"POPUP"}}`),
		variant(`"id":"1"`, `"id":"1","reminder":{"minutes":99999999999999999999}`),
		variant(`"id":"1"`, `"id":"1","custom_fields":{"a":1,"b":1e400,"c":[true,null,{"d":"e"}],"a":"x"}`),
		variant(`"id":"1"`, `"id":"1","custom_fields":{"n":12.50,"s":"<b>","r":{"id":"5","name":"x"},"big":12345678901234567890}`),
		variant(`"id":"1"`, `"id":"1","custom_fields":{}`),
		variant(`"id":"1"`, `"id":"1","extra":{"x":{ "a" : 1 },"y":null,"z":"s","w":[ ]}`),
		variant(`"id":"1"`, `"id":"1","attendees":[],"resources":[]`),
		variant(`"id":"1"`, `"id":"1","attendees":[{"entity":{"id":"5","type":"employee"},"response":"ACCEPTED"},{"entity":{"id":"6"}}]`),
		variant(`"id":"1"`, `"id":"1","attendees":[null]`),
		variant(`"id":"1"`, `"id":"1","resources":[{"id":"r","name":"Room"},{}]`),
		variant(`"deleted":false`, `"deleted":true,"deleted_at":"2024-03-04T05:06:07+02:00"`),
		variant(`"deleted":false`, `"deleted":1`),
		variant(`"deleted":false`, `"deleted":null`),
		variant(`"2024-03-04T05:06:07Z"`, `"2024-13-04T05:06:07Z"`),
		variant(`"2024-03-04T05:06:07Z"`, `null`),
		variant(`"raw_sequence":7`, `"raw_sequence":-7`),
		variant(`"raw_sequence":7`, `"raw_sequence":18446744073709551616`),
		variant(`"raw_sequence":7`, `"raw_sequence":7,"notes":["a","b\u003c"]`),
		variant(`"raw_sequence":7`, `"raw_sequence":7,"notes":[]`),
		variant(`"raw_sequence":7`, `"raw_sequence":7,"notes":[1]`),
		variant(`netsuite.calendarevent/v1`, `netsuite.calendarevent/v2`),
		variant(`"account":"A"`, `"account":""`),
		[]byte(base+"x"),
		[]byte(base[:len(base)-1]),
		[]byte(`null`),
		[]byte(`[]`),
		[]byte(``),
	)
	return cases
}

func TestDecodeEventMatchesUnmarshal(t *testing.T) {
	t.Parallel()
	for _, b := range decodeCases(t) {
		checkDecode(t, b)
	}
}

// FuzzDecodeEvent holds DecodeEvent to calendarevent.Unmarshal on any input.
func FuzzDecodeEvent(f *testing.F) {
	for _, b := range decodeCases(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkDecode(t, b)
	})
}

// BenchmarkDecodeEvent compares DecodeEvent with calendarevent.Unmarshal on
// the golden events' canonical encodings.
func BenchmarkDecodeEvent(b *testing.B) {
	var payloads [][]byte
	for i, c := range decodeCases(b)[:42] {
		if i%2 == 1 { // the compact encodings of the golden events
			payloads = append(payloads, c)
		}
	}
	b.Run("DecodeEvent", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if _, err := transform.DecodeEvent(payloads[i%len(payloads)]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Unmarshal", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if _, err := calendarevent.Unmarshal(payloads[i%len(payloads)]); err != nil {
				b.Fatal(err)
			}
		}
	})
}
