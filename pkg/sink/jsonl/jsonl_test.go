package jsonl_test

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/nsflow/nsflow/pkg/calendarevent"
	"github.com/nsflow/nsflow/pkg/sink"
	"github.com/nsflow/nsflow/pkg/sink/jsonl"
	"github.com/nsflow/nsflow/pkg/sink/sinktest"
)

func open(t *testing.T, path string) *jsonl.Sink {
	t.Helper()
	s, err := jsonl.Open(path, jsonl.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func readLog(t *testing.T, path string) []*calendarevent.Event {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	events, err := jsonl.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return events
}

func TestContract(t *testing.T) {
	sinktest.Run(t, func(t *testing.T) sink.Sink {
		return open(t, filepath.Join(t.TempDir(), "events.jsonl"))
	}, sinktest.Capabilities{
		Log: func(t *testing.T, s sink.Sink) []*calendarevent.Event {
			return readLog(t, s.(*jsonl.Sink).Path())
		},
		Lossless: true,
		// A custom field JSON cannot encode: the whole batch is refused.
		BadRecord:    func(e *calendarevent.Event) { e.CustomFields["custevent_ratio"] = math.NaN() },
		AllOrNothing: true,
		SkipReason: map[string]string{
			"Outage": "lose its backend: it appends to a local file (write and fsync errors are returned as transient)",
		},
	})
}

func TestStdout(t *testing.T) {
	var buf bytes.Buffer
	s, err := jsonl.Open("-", jsonl.Options{Stdout: &buf})
	if err != nil {
		t.Fatal(err)
	}
	e := sinktest.NewEvent("A", "1", sinktest.T0, 1)
	if err := s.Write(t.Context(), []*calendarevent.Event{e, e}); err != nil {
		t.Fatal(err)
	}
	want, _ := calendarevent.Marshal(e)
	if got := buf.String(); got != string(want)+"\n"+string(want)+"\n" {
		t.Fatalf("stdout = %q", got)
	}
	if err := s.Close(); err != nil || s.Ping(t.Context()) == nil {
		t.Fatalf("Close = %v, then Ping must fail", err)
	}
}

func TestTornLineIsIsolated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "torn.jsonl")
	good, _ := calendarevent.Marshal(sinktest.NewEvent("A", "1", sinktest.T0, 1))
	// A crash left half a line.
	if err := os.WriteFile(path, append(append(good, '\n'), good[:40]...), 0o600); err != nil {
		t.Fatal(err)
	}
	s := open(t, path)
	if err := s.Write(t.Context(), []*calendarevent.Event{sinktest.NewEvent("A", "2", sinktest.T0, 2)}); err != nil {
		t.Fatal(err)
	}
	events := readLog(t, path)
	if len(events) != 2 || events[0].ID != "1" || events[1].ID != "2" {
		t.Fatalf("read %d events after a torn line", len(events))
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", st.Mode().Perm())
	}
}
