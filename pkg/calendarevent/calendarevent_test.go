package calendarevent

import (
	"encoding/json"
	"testing"
	"time"
)

func TestAccountToken(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"1234567_SB1", "1234567-sb1"},
		{"TSTDRV1234567", "tstdrv1234567"},
		{"a.b*c>d e", "a-b-c-d-e"},
	}
	for _, tt := range tests {
		if got := AccountToken(tt.in); got != tt.want {
			t.Errorf("AccountToken(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSubjects(t *testing.T) {
	t.Parallel()
	if got, want := RawSubject("1234567_SB1"), "netsuite.1234567-sb1.calendarevent.raw"; got != want {
		t.Errorf("RawSubject = %q, want %q", got, want)
	}
	if got, want := EventSubject("X"), "netsuite.x.calendarevent.v1"; got != want {
		t.Errorf("EventSubject = %q, want %q", got, want)
	}
	if got, want := DLQSubject("transformer", ""), "dlq.transformer.unknown"; got != want {
		t.Errorf("DLQSubject = %q, want %q", got, want)
	}
	if got := AccountFromSubject("netsuite.abc.calendarevent.v1"); got != "abc" {
		t.Errorf("AccountFromSubject = %q", got)
	}
	if got := AccountFromSubject("dlq.x.y"); got != "" {
		t.Errorf("AccountFromSubject(dlq) = %q, want empty", got)
	}
}

func TestRawAppendJSONRoundTrip(t *testing.T) {
	t.Parallel()
	in := Raw{
		Kind: KindEvent, Account: "TSTDRV1", API: APISuiteQL, RecordID: "42", TimeZone: "America/Los_Angeles",
		LastModified:     time.Date(2024, 3, 2, 9, 15, 0, 0, time.UTC),
		ExtractedAt:      time.Date(2024, 3, 2, 9, 16, 0, 123, time.UTC),
		Record:           json.RawMessage(`{"links":[],"id":"42","title":"Caf\u00e9 \"q\""}`),
		Attendees:        []json.RawMessage{json.RawMessage(`{"attendee":"5"}`), json.RawMessage(`{"attendee":"6"}`)},
		AttendeesFetched: true,
	}
	b := in.AppendJSON(nil)
	if !json.Valid(b) {
		t.Fatalf("AppendJSON produced invalid JSON: %s", b)
	}
	out, err := DecodeRaw(b)
	if err != nil {
		t.Fatalf("DecodeRaw: %v", err)
	}
	if out.RecordID != "42" || out.TimeZone != in.TimeZone || !out.LastModified.Equal(in.LastModified) ||
		!out.ExtractedAt.Equal(in.ExtractedAt) || len(out.Attendees) != 2 || string(out.Record) != string(in.Record) || !out.AttendeesFetched {
		t.Fatalf("round trip mismatch: %+v", out)
	}
}

func TestDecodeRawRejects(t *testing.T) {
	t.Parallel()
	for name, in := range map[string]string{
		"not json":   `{`,
		"bad kind":   `{"kind":"x","account":"a","record_id":"1","record":{}}`,
		"no account": `{"kind":"event","record_id":"1","record":{}}`,
		"no id":      `{"kind":"event","account":"a","record":{}}`,
		"no record":  `{"kind":"event","account":"a","record_id":"1"}`,
	} {
		if _, err := DecodeRaw([]byte(in)); err == nil {
			t.Errorf("%s: DecodeRaw accepted %s", name, in)
		}
	}
}

func TestMsgIDsAreDeterministic(t *testing.T) {
	t.Parallel()
	lm := time.Date(2024, 3, 2, 9, 15, 0, 0, time.UTC)
	a := RawMsgID("ACCT_1", KindEvent, "7", lm)
	if a != "acct-1:7:1709370900" {
		t.Fatalf("RawMsgID = %q", a)
	}
	if b := RawMsgID("ACCT_1", KindTombstone, "7", lm); b == a {
		t.Fatalf("tombstone and event share id %q", b)
	}
	if EventMsgID(a) != a+":v1" {
		t.Fatalf("EventMsgID = %q", EventMsgID(a))
	}
}

func TestNewer(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	e := &Event{LastModifiedAt: t0, Provenance: Provenance{RawSequence: 10}}
	if !e.Newer(t0.Add(-time.Second), 99) {
		t.Error("later lastModified must win over a higher sequence")
	}
	if e.Newer(t0.Add(time.Second), 1) {
		t.Error("earlier lastModified must lose")
	}
	if !e.Newer(t0, 9) || e.Newer(t0, 10) || e.Newer(t0, 11) {
		t.Error("same lastModified: strictly higher sequence wins")
	}
}

func TestUnmarshalChecksSchema(t *testing.T) {
	t.Parallel()
	e := &Event{Schema: EventSchema, Account: "a", ID: "1", LastModifiedAt: time.Unix(0, 0).UTC()}
	b, err := Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Unmarshal(b); err != nil {
		t.Fatalf("Unmarshal: %v", err)
	}
	if _, err := Unmarshal([]byte(`{"schema":"netsuite.calendarevent/v9","account":"a","id":"1"}`)); err == nil {
		t.Fatal("Unmarshal accepted an unknown schema")
	}
}
