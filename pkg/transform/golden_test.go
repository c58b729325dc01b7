package transform_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/nsflow/nsflow/pkg/calendarevent"
	"github.com/nsflow/nsflow/pkg/transform"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the current output")

// goldenMeta is the Meta every golden case is transformed with.
var goldenMeta = transform.Meta{RawSequence: 42}

const schemaPath = "../../schema/calendar-event.v1.schema.json"

func newTransformer(tb testing.TB) *transform.Transformer {
	tb.Helper()
	tr, err := transform.New(transform.Options{})
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return tr
}

var (
	schemaOnce sync.Once
	schema     *jsonschema.Schema
	schemaErr  error
)

// eventSchema compiles schema/calendar-event.v1.schema.json once, with
// format assertions on.
func eventSchema(tb testing.TB) *jsonschema.Schema {
	tb.Helper()
	schemaOnce.Do(func() {
		f, err := os.Open(schemaPath)
		if err != nil {
			schemaErr = err
			return
		}
		defer f.Close()
		doc, err := jsonschema.UnmarshalJSON(f)
		if err != nil {
			schemaErr = err
			return
		}
		c := jsonschema.NewCompiler()
		c.AssertFormat()
		if schemaErr = c.AddResource(schemaPath, doc); schemaErr != nil {
			return
		}
		schema, schemaErr = c.Compile(schemaPath)
	})
	if schemaErr != nil {
		tb.Fatalf("compile schema: %v", schemaErr)
	}
	return schema
}

// validate checks encoded event bytes against the schema.
func validate(tb testing.TB, b []byte) error {
	tb.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return err
	}
	return eventSchema(tb).Validate(inst)
}

func rawFiles(tb testing.TB, dir string) []string {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", dir, "*.json"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("no testdata in %s: %v", dir, err)
	}
	return files
}

func transformFile(tb testing.TB, tr *transform.Transformer, path string) *calendarevent.Event {
	tb.Helper()
	payload, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	ev, err := tr.TransformBytes(payload, goldenMeta)
	if err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	return ev
}

func marshal(tb testing.TB, ev *calendarevent.Event) []byte {
	tb.Helper()
	b, err := calendarevent.Marshal(ev)
	if err != nil {
		tb.Fatalf("Marshal: %v", err)
	}
	return b
}

// TestGolden transforms every raw envelope in testdata/raw and compares the
// calendarevent.Marshal bytes with testdata/golden. Golden files are stored
// indented for review; compacting them gives back Marshal's bytes exactly.
// Run with -update to rewrite them.
func TestGolden(t *testing.T) {
	t.Parallel()
	tr := newTransformer(t)
	for _, path := range rawFiles(t, "raw") {
		name := filepath.Base(path)
		t.Run(strings.TrimSuffix(name, ".json"), func(t *testing.T) {
			t.Parallel()
			payload, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			ev, err := tr.TransformBytes(payload, goldenMeta)
			if err != nil {
				t.Fatalf("TransformBytes: %v", err)
			}
			got := marshal(t, ev)
			goldenPath := filepath.Join("testdata", "golden", name)
			if *update {
				var ind bytes.Buffer
				if err := json.Indent(&ind, got, "", "  "); err != nil {
					t.Fatal(err)
				}
				ind.WriteByte('\n')
				if err := os.WriteFile(goldenPath, ind.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(goldenPath)
			if err != nil {
				t.Fatalf("read golden (run with -update to create): %v", err)
			}
			var compact bytes.Buffer
			if err := json.Compact(&compact, want); err != nil {
				t.Fatalf("golden %s: %v", goldenPath, err)
			}
			if !bytes.Equal(got, compact.Bytes()) {
				var ind bytes.Buffer
				_ = json.Indent(&ind, got, "", "  ")
				t.Errorf("output differs from %s (run with -update if intended)\n got: %s\nwant: %s", goldenPath, ind.Bytes(), want)
			}
		})
	}
}

// TestGoldenValidatesAgainstSchema checks every golden file against the
// JSON Schema and that the loader's decoder reads it back to the same event.
func TestGoldenValidatesAgainstSchema(t *testing.T) {
	t.Parallel()
	for _, path := range rawFiles(t, "golden") {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := validate(t, b); err != nil {
			t.Errorf("%s does not validate: %v", path, err)
		}
		if _, err := calendarevent.Unmarshal(b); err != nil {
			t.Errorf("%s: calendarevent.Unmarshal: %v", path, err)
		}
	}
	if n, m := len(rawFiles(t, "golden")), len(rawFiles(t, "raw")); n != m {
		t.Errorf("%d golden files for %d raw files (run with -update)", n, m)
	}
}

// TestDeterministic transforms each input twice, on fresh and shared
// transformers, by both entry points, and wants identical bytes.
func TestDeterministic(t *testing.T) {
	t.Parallel()
	tr := newTransformer(t)
	for _, path := range rawFiles(t, "raw") {
		payload, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		ev1, err := tr.TransformBytes(payload, goldenMeta)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		ev2, err := newTransformer(t).TransformBytes(payload, goldenMeta)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		raw, err := calendarevent.DecodeRaw(payload)
		if err != nil {
			t.Fatalf("%s: DecodeRaw: %v", path, err)
		}
		ev3, err := tr.Transform(raw, goldenMeta)
		if err != nil {
			t.Fatalf("%s: Transform: %v", path, err)
		}
		// The extractor's own encoding of the same envelope takes the fast path.
		ev4, err := tr.TransformBytes(raw.AppendJSON(nil), goldenMeta)
		if err != nil {
			t.Fatalf("%s: TransformBytes(AppendJSON): %v", path, err)
		}
		b1 := marshal(t, ev1)
		for i, ev := range []*calendarevent.Event{ev2, ev3, ev4} {
			if b := marshal(t, ev); !bytes.Equal(b1, b) {
				t.Errorf("%s: run %d differs:\n%s\n%s", path, i+2, b1, b)
			}
		}
	}
}

// TestBadInputs runs the corpus of bad raw messages: testdata/bad/<class>__<name>.json
// must fail with <class>, and the error must not echo the personal data
// planted in the inputs (SECRET-*).
func TestBadInputs(t *testing.T) {
	t.Parallel()
	tr := newTransformer(t)
	for _, path := range rawFiles(t, "bad") {
		name := strings.TrimSuffix(filepath.Base(path), ".json")
		wantClass, _, ok := strings.Cut(name, "__")
		if !ok {
			t.Fatalf("%s: name must be <class>__<case>.json", path)
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			payload, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			ev, err := tr.TransformBytes(payload, goldenMeta)
			checkBad(t, ev, err, wantClass)
			// Transform on a decoded envelope fails the same way.
			if raw, derr := calendarevent.DecodeRaw(payload); derr == nil {
				ev, err := tr.Transform(raw, goldenMeta)
				checkBad(t, ev, err, wantClass)
			}
		})
	}
}

func checkBad(t *testing.T, ev *calendarevent.Event, err error, wantClass string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, got event %+v", ev)
	}
	if got := transform.Class(err); got != wantClass {
		t.Errorf("Class = %q, want %q (error: %v)", got, wantClass, err)
	}
	var te *transform.Error
	if !errors.As(err, &te) {
		t.Errorf("error %T is not a *transform.Error", err)
	}
	if strings.Contains(err.Error(), "SECRET") {
		t.Errorf("error echoes personal data: %v", err)
	}
	if strings.ContainsAny(err.Error(), "\n\r") {
		t.Errorf("error spans lines (unfit for a header): %q", err)
	}
}

func TestUnsupportedSchema(t *testing.T) {
	t.Parallel()
	tr := newTransformer(t)
	payload, err := os.ReadFile("testdata/raw/suiteql_minimal.json")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		schema    string
		wantClass string
	}{
		{"", ""},
		{calendarevent.RawSchema, ""},
		{"netsuite.calendarevent.raw/v0", ""},
		{"netsuite.calendarevent.raw/v1.3", ""},
		{"netsuite.calendarevent.raw/v2", transform.ClassUnsupportedSchema},
		{"netsuite.calendarevent.raw/v10", transform.ClassUnsupportedSchema},
		{"netsuite.calendarevent.raw/vx", transform.ClassUnsupportedSchema},
		{"netsuite.calendarevent/v1", transform.ClassUnsupportedSchema},
		{"something/else", transform.ClassUnsupportedSchema},
	}
	for _, tt := range tests {
		_, err := tr.TransformBytes(payload, transform.Meta{RawSchema: tt.schema})
		if got := transform.Class(err); got != tt.wantClass {
			t.Errorf("RawSchema %q: Class = %q, want %q (%v)", tt.schema, got, tt.wantClass, err)
		}
		raw, _ := calendarevent.DecodeRaw(payload)
		_, err = tr.Transform(raw, transform.Meta{RawSchema: tt.schema})
		if got := transform.Class(err); got != tt.wantClass {
			t.Errorf("Transform, RawSchema %q: Class = %q, want %q", tt.schema, got, tt.wantClass)
		}
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	for _, zone := range []string{"", "UTC", "America/Los_Angeles"} {
		if _, err := transform.New(transform.Options{DefaultTimeZone: zone}); err != nil {
			t.Errorf("New(%q): %v", zone, err)
		}
	}
	for _, zone := range []string{"Local", "Mars/Base", "../etc/passwd", "/etc/localtime"} {
		if _, err := transform.New(transform.Options{DefaultTimeZone: zone}); err == nil {
			t.Errorf("New(%q) accepted a bad zone", zone)
		}
	}
}

func TestClass(t *testing.T) {
	t.Parallel()
	var syntaxErr error = &json.SyntaxError{}
	tests := []struct {
		err  error
		want string
	}{
		{nil, ""},
		{errors.New("boom"), transform.ClassInternal},
		{calendarevent.ErrMalformed, transform.ClassMalformedJSON},
		{calendarevent.ErrInvalid, transform.ClassInvalidRecord},
		{calendarevent.ErrUnsupportedSchema, transform.ClassUnsupportedSchema},
		{syntaxErr, transform.ClassMalformedJSON},
		{&json.UnmarshalTypeError{}, transform.ClassWrongType},
		{&transform.Error{Class: transform.ClassInvalidDate}, transform.ClassInvalidDate},
	}
	for _, tt := range tests {
		if got := transform.Class(tt.err); got != tt.want {
			t.Errorf("Class(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
	err := error(&transform.Error{Class: transform.ClassWrongType, Field: "title", Problem: "want a string, got an object"})
	if !errors.Is(err, transform.ErrWrongType) || errors.Is(err, transform.ErrInvalidDate) {
		t.Error("errors.Is does not follow the class")
	}
	if got, want := err.Error(), "transform calendar event: field title: want a string, got an object"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

// TestTransformNilAndGarbage covers inputs a caller can build by hand.
func TestTransformNilAndGarbage(t *testing.T) {
	t.Parallel()
	tr := newTransformer(t)
	if _, err := tr.Transform(nil, transform.Meta{}); transform.Class(err) != transform.ClassInvalidRecord {
		t.Errorf("nil raw: %v", err)
	}
	raw := &calendarevent.Raw{Kind: "event", Account: "a", API: "suiteql", RecordID: "1", Record: json.RawMessage(`{"id":"1"`)}
	if _, err := tr.Transform(raw, transform.Meta{}); transform.Class(err) != transform.ClassMalformedJSON {
		t.Errorf("truncated record: %v", err)
	}
	raw.Record = json.RawMessage(`{"id":"1","ns_lastmodified":"2024-03-02 09:15:00"}`)
	raw.Attendees = []json.RawMessage{json.RawMessage(`{"attendee":`)}
	raw.AttendeesFetched = true
	if _, err := tr.Transform(raw, transform.Meta{}); transform.Class(err) != transform.ClassMalformedJSON {
		t.Errorf("truncated attendee: %v", err)
	}
	raw.Attendees = []json.RawMessage{json.RawMessage(` {"attendee":"5"} `)}
	ev, err := tr.Transform(raw, transform.Meta{})
	if err != nil || len(ev.Attendees) != 1 {
		t.Errorf("attendee with spaces: %v %+v", err, ev)
	}
}

// TestEventFieldsCovered fails when calendarevent.Event grows a field that no
// golden output sets, so a contract addition comes with a golden case.
func TestEventFieldsCovered(t *testing.T) {
	t.Parallel()
	set := map[string]bool{}
	for _, path := range rawFiles(t, "golden") {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		for k, v := range m {
			if string(v) != "null" {
				set[k] = true
			}
		}
	}
	typ := reflect.TypeFor[calendarevent.Event]()
	for i := range typ.NumField() {
		name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
		if !set[name] {
			t.Errorf("no golden output sets %q", name)
		}
	}
}

// TestConcurrentUse shares one Transformer between goroutines (run with
// -race): its zone cache is the only shared state.
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	tr := newTransformer(t)
	files := rawFiles(t, "raw")
	want := make([][]byte, len(files))
	payloads := make([][]byte, len(files))
	for i, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		payloads[i] = b
		ev, err := newTransformer(t).TransformBytes(b, goldenMeta)
		if err != nil {
			t.Fatal(err)
		}
		want[i] = marshal(t, ev)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for n := range 3 * len(files) {
				i := (n + g) % len(files)
				ev, err := tr.TransformBytes(payloads[i], goldenMeta)
				if err != nil {
					t.Error(err)
					return
				}
				if b, _ := calendarevent.Marshal(ev); !bytes.Equal(b, want[i]) {
					t.Errorf("%s differs under concurrency", files[i])
				}
			}
		})
	}
	wg.Wait()
}

// TestSchemaRejects checks the schema catches contract drift.
func TestSchemaRejects(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("testdata/golden/suiteql_full.json")
	if err != nil {
		t.Fatal(err)
	}
	edits := map[string]func(m map[string]any){
		"unknown top-level field": func(m map[string]any) { m["surprise"] = 1 },
		"missing id":              func(m map[string]any) { delete(m, "id") },
		"other schema":            func(m map[string]any) { m["schema"] = "netsuite.calendarevent/v2" },
		"all-day and timed":       func(m map[string]any) { m["all_day"] = true },
		"deleted without time":    func(m map[string]any) { m["deleted"] = true },
		"deleted_at on an event":  func(m map[string]any) { m["deleted_at"] = "2024-03-02T17:15:00Z" },
		"instant with offset":     func(m map[string]any) { m["start"] = "2024-03-04T09:30:00-05:00" },
		"bad local time":          func(m map[string]any) { m["local"].(map[string]any)["start_time"] = "24:00:00" },
		"unknown ref field":       func(m map[string]any) { m["organizer"].(map[string]any)["email"] = "x@example.com" },
		"null custom field":       func(m map[string]any) { m["custom_fields"].(map[string]any)["custevent_x"] = nil },
		"non-custom custom field": func(m map[string]any) { m["custom_fields"].(map[string]any)["title"] = "x" },
		"bad zone source":         func(m map[string]any) { m["local"].(map[string]any)["time_zone_source"] = "guess" },
		"negative minutes":        func(m map[string]any) { m["reminder"].(map[string]any)["minutes"] = -1 },
	}
	for name, edit := range edits {
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		edit(m)
		doc, _ := json.Marshal(m)
		if err := validate(t, doc); err == nil {
			t.Errorf("%s: schema accepted it", name)
		}
	}
}
