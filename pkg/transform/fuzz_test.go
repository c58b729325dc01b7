package transform_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/nsflow/nsflow/pkg/calendarevent"
	"github.com/nsflow/nsflow/pkg/transform"
)

var knownClasses = map[string]bool{
	transform.ClassMalformedJSON: true, transform.ClassInvalidRecord: true, transform.ClassInvalidDate: true,
	transform.ClassWrongType: true, transform.ClassUnsupportedSchema: true,
}

// FuzzTransformBytes: any payload gives either a classified error or an
// event that encodes, validates against the schema, and comes out the same
// through Transform on DecodeRaw's result and on a second run.
func FuzzTransformBytes(f *testing.F) {
	for _, dir := range []string{"raw", "bad"} {
		files, _ := filepath.Glob(filepath.Join("testdata", dir, "*.json"))
		for _, p := range files {
			b, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
			if raw, err := calendarevent.DecodeRaw(b); err == nil {
				f.Add(raw.AppendJSON(nil)) // the compact shape the extractor writes
			}
		}
	}
	tr := newTransformer(f)
	f.Fuzz(func(t *testing.T, payload []byte) {
		ev, err := tr.TransformBytes(payload, transform.Meta{RawSequence: 3})
		if err != nil {
			if c := transform.Class(err); !knownClasses[c] {
				t.Fatalf("error class %q for %v", c, err)
			}
			if raw, derr := calendarevent.DecodeRaw(payload); derr == nil {
				if _, err2 := tr.Transform(raw, transform.Meta{RawSequence: 3}); transform.Class(err2) != transform.Class(err) {
					t.Fatalf("TransformBytes says %v, Transform says %v", err, err2)
				}
			}
			return
		}
		b, err := calendarevent.Marshal(ev)
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		if err := validate(t, b); err != nil {
			t.Fatalf("output does not validate: %v\n%s", err, b)
		}
		if _, err := calendarevent.Unmarshal(b); err != nil {
			t.Fatalf("calendarevent.Unmarshal: %v", err)
		}
		raw, err := calendarevent.DecodeRaw(payload)
		if err != nil {
			t.Fatalf("TransformBytes accepted what DecodeRaw rejects: %v", err)
		}
		ev2, err := tr.Transform(raw, transform.Meta{RawSequence: 3})
		if err != nil {
			t.Fatalf("Transform fails where TransformBytes succeeded: %v", err)
		}
		if b2, _ := calendarevent.Marshal(ev2); !bytes.Equal(b, b2) {
			t.Fatalf("entry points differ:\n%s\n%s", b, b2)
		}
		ev3, _ := tr.TransformBytes(payload, transform.Meta{RawSequence: 3})
		if b3, _ := calendarevent.Marshal(ev3); !bytes.Equal(b, b3) {
			t.Fatalf("not deterministic")
		}
	})
}

// FuzzTransformRecord fuzzes the record and one sublist row inside a valid
// envelope, where byte-level mutation of whole payloads rarely reaches.
func FuzzTransformRecord(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "raw", "*.json"))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		raw, err := calendarevent.DecodeRaw(b)
		if err != nil {
			f.Fatal(err)
		}
		var row []byte
		if len(raw.Attendees) > 0 {
			row = raw.Attendees[0]
		}
		f.Add(raw.API, raw.TimeZone, []byte(raw.Record), row, raw.AttendeesFetched)
	}
	tr := newTransformer(f)
	f.Fuzz(func(t *testing.T, api, zone string, record, row []byte, fetched bool) {
		kind := calendarevent.KindEvent
		if api == calendarevent.APIDeletedRecord {
			kind = calendarevent.KindTombstone
		}
		raw := &calendarevent.Raw{Kind: kind, Account: "A", API: api, RecordID: "100425", TimeZone: zone, Record: record, AttendeesFetched: fetched}
		if len(row) > 0 {
			raw.Attendees = append(raw.Attendees, row)
			raw.Resources = append(raw.Resources, row)
		}
		ev, err := tr.Transform(raw, transform.Meta{})
		if err != nil {
			if c := transform.Class(err); !knownClasses[c] {
				t.Fatalf("error class %q for %v", c, err)
			}
			return
		}
		b, err := calendarevent.Marshal(ev)
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		if err := validate(t, b); err != nil {
			t.Fatalf("output does not validate: %v\n%s", err, b)
		}
		if _, err := calendarevent.Unmarshal(b); err != nil {
			t.Fatalf("calendarevent.Unmarshal: %v", err)
		}
		// The same message through the byte entry point gives the same bytes.
		ev2, err := tr.TransformBytes(raw.AppendJSON(nil), transform.Meta{})
		if err != nil {
			t.Fatalf("TransformBytes fails where Transform succeeded: %v", err)
		}
		if b2, _ := calendarevent.Marshal(ev2); !bytes.Equal(b, b2) {
			t.Fatalf("entry points differ:\n%s\n%s", b, b2)
		}
	})
}
