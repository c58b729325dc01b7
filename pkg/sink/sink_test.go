package sink_test

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nsflow/nsflow/pkg/calendarevent"
	"github.com/nsflow/nsflow/pkg/sink"
	"github.com/nsflow/nsflow/pkg/sink/aep"
	"github.com/nsflow/nsflow/pkg/sink/aep/aeptest"
	"github.com/nsflow/nsflow/pkg/sink/sinktest"
)

func TestName(t *testing.T) {
	for in, want := range map[string]string{
		"sqlite:data/x.db": "sqlite", "sqlite:///var/x.db": "sqlite", "SQLite:x": "sqlite",
		"postgres://u@h/db": "postgres", "postgresql://h/db": "postgres",
		"jsonl:-": "jsonl", "jsonl:/tmp/x.jsonl": "jsonl", "aep:": "aep",
		"mysql://h/db": "", "x.db": "", "": "",
	} {
		if got := sink.Name(in); got != want {
			t.Errorf("Name(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	f := aeptest.NewServer(t, aeptest.Options{})
	cfg := aep.Config{TenantID: "t", SchemaID: "https://ns.adobe.com/t/schemas/s", IMSOrgID: "O@AdobeOrg", DatasetID: "d", InletURL: "https://unused.example"}
	for _, u := range []string{
		"sqlite:" + filepath.Join(dir, "a.db"),
		"sqlite://" + filepath.Join(dir, "b.db") + "?busy_timeout=1s",
		"jsonl:" + filepath.Join(dir, "c.jsonl"),
		"aep:" + f.InletURL(),
	} {
		s, err := sink.Open(t.Context(), u, sink.Options{AEP: cfg})
		if err != nil {
			t.Fatalf("Open(%q): %v", u, err)
		}
		if err := s.Write(t.Context(), []*calendarevent.Event{sinktest.NewEvent("A", "1", sinktest.T0, 1)}); err != nil {
			t.Fatalf("%s: Write: %v", u, err)
		}
		if err := errors.Join(s.Ping(t.Context()), s.Close()); err != nil {
			t.Fatalf("%s: %v", u, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "b.db")); err != nil {
		t.Fatalf("sqlite:// path: %v", err)
	}
	if len(f.Entities()) != 1 {
		t.Fatal("aep:INLET_URL did not override the configured inlet")
	}
	_, err := sink.Open(t.Context(), "mysql://h/db", sink.Options{})
	if !errors.Is(err, sink.ErrUnknownScheme) || !strings.Contains(err.Error(), "sqlite:PATH") || !strings.Contains(err.Error(), "aep:") {
		t.Fatalf("Open(mysql) = %v, want ErrUnknownScheme naming the accepted forms", err)
	}
	if _, err := sink.Open(t.Context(), "aep:", sink.Options{}); err == nil {
		t.Fatal("Open(aep:) without configuration succeeded")
	}
	if _, err := sink.Open(t.Context(), "postgres://nsflow:pw@127.0.0.1:1/x?connect_timeout=1", sink.Options{}); err == nil || strings.Contains(err.Error(), "pw@") {
		t.Fatalf("Open(unreachable postgres) = %v: want an error that does not show the password", err)
	}
}

func TestParseDeleteMode(t *testing.T) {
	for in, want := range map[string]sink.DeleteMode{"": sink.DeleteRow, "delete-row": sink.DeleteRow, "mark-deleted": sink.MarkDeleted, "MARK": sink.MarkDeleted} {
		if got, err := sink.ParseDeleteMode(in); err != nil || got != want {
			t.Errorf("ParseDeleteMode(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := sink.ParseDeleteMode("soft"); err == nil {
		t.Error("ParseDeleteMode(soft) succeeded")
	}
}

func TestIsPermanent(t *testing.T) {
	base := errors.New("constraint")
	if !sink.IsPermanent(sink.Permanent(base)) || sink.IsPermanent(base) || sink.IsPermanent(nil) {
		t.Fatal("IsPermanent misclassifies")
	}
	wrapped := errors.Join(errors.New("ctx"), sink.Permanent(base))
	if !sink.IsPermanent(wrapped) || !errors.Is(wrapped, base) {
		t.Fatal("IsPermanent must see through wrapping")
	}
	pe := &sink.PartialError{Failed: []sink.RecordError{{Index: 2, Err: sink.Permanent(base), Permanent: true}}}
	if sink.IsPermanent(pe) || !errors.Is(pe, base) || !strings.Contains(pe.Error(), "record 2") {
		t.Fatalf("PartialError: IsPermanent=%v, Error=%q", sink.IsPermanent(pe), pe.Error())
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := sink.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sink.NewMetrics(reg); err != nil {
		t.Fatalf("second NewMetrics on one registry: %v", err)
	}
	mem := sinktest.NewMemory()
	mem.Reject(func(e *calendarevent.Event) bool { return e.ID == "bad" }, true)
	s := m.Instrument("memory", mem)
	events := sinktest.Batch("A", "m", 3, sinktest.T0, 1)
	if err := s.Write(t.Context(), events); err != nil {
		t.Fatal(err)
	}
	events[1].ID = "bad"
	var pe *sink.PartialError
	if err := s.Write(t.Context(), events); !errors.As(err, &pe) {
		t.Fatalf("Write = %v", err)
	}
	mem.Fail(errors.New("down"))
	_ = s.Write(t.Context(), events)
	for _, c := range []struct {
		result string
		want   float64
	}{{"written", 5}, {"rejected", 1}, {"failed", 3}} {
		got := counter(t, reg, "nsflow_sink_records_total", map[string]string{"sink": "memory", "result": c.result})
		if got != c.want {
			t.Errorf("records{result=%s} = %v, want %v", c.result, got, c.want)
		}
	}
	if got := histogramCount(t, reg, "nsflow_sink_write_duration_seconds"); got != 3 {
		t.Errorf("duration observations = %d, want 3", got)
	}
	if u, ok := s.(interface{ Unwrap() sink.Sink }); !ok || u.Unwrap() != mem {
		t.Error("instrumented sink does not unwrap to the memory sink")
	}
}

// counter returns the value of the counter name{labels}.
func counter(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, lp := range m.GetLabel() {
				got[lp.GetName()] = lp.GetValue()
			}
			if maps.Equal(got, labels) {
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no %s%v", name, labels)
	return 0
}

func histogramCount(t *testing.T, reg *prometheus.Registry, name string) uint64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	t.Fatalf("no %s", name)
	return 0
}

func TestMaxConcurrentWrites(t *testing.T) {
	m, err := sink.NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for u, want := range map[string]int{"sqlite:" + filepath.Join(dir, "a.db"): 1, "jsonl:" + filepath.Join(dir, "b.jsonl"): 0} {
		s, err := sink.Open(t.Context(), u, sink.Options{Metrics: m})
		if err != nil {
			t.Fatal(err)
		}
		if got := sink.MaxConcurrentWrites(s); got != want {
			t.Errorf("MaxConcurrentWrites(%s, instrumented) = %d, want %d", u, got, want)
		}
		_ = s.Close()
	}
}
