package sinktest_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/nsflow/nsflow/pkg/calendarevent"
	"github.com/nsflow/nsflow/pkg/sink"
	"github.com/nsflow/nsflow/pkg/sink/sinktest"
)

var errDown = errors.New("backend down")

func memoryCaps(mode sink.DeleteMode) sinktest.Capabilities {
	return sinktest.Capabilities{
		Read: func(t *testing.T, s sink.Sink, account, id string) *calendarevent.Event {
			return s.(*sinktest.Memory).Get(account, id)
		},
		Lossless:     true,
		Deletes:      mode,
		BadRecord:    func(e *calendarevent.Event) { e.ID = "reject-" + e.ID },
		AllOrNothing: true,
		Outage: func(t *testing.T, s sink.Sink) func() {
			s.(*sinktest.Memory).Fail(errDown)
			return func() { s.(*sinktest.Memory).Fail(nil) }
		},
	}
}

func newMemory(mode sink.DeleteMode, partial bool) *sinktest.Memory {
	m := sinktest.NewMemory()
	m.SetDeleteMode(mode)
	m.Reject(func(e *calendarevent.Event) bool { return strings.HasPrefix(e.ID, "reject-") }, partial)
	return m
}

func TestMemoryContract(t *testing.T) {
	for _, mode := range []sink.DeleteMode{sink.DeleteRow, sink.MarkDeleted} {
		t.Run(mode.String(), func(t *testing.T) {
			sinktest.Run(t, func(*testing.T) sink.Sink { return newMemory(mode, false) }, memoryCaps(mode))
		})
	}
}

// TestMemoryAsLog runs the suite's append-log path (used by JSONL and AEP)
// against Memory's record of writes, with partial failures like AEP's.
func TestMemoryAsLog(t *testing.T) {
	caps := memoryCaps(sink.MarkDeleted)
	caps.Read = nil
	caps.Lossless = false
	caps.AllOrNothing = false
	caps.Log = func(t *testing.T, s sink.Sink) []*calendarevent.Event {
		var out []*calendarevent.Event
		for _, e := range sinktest.LogFromMemoryWrites(s.(*sinktest.Memory)) {
			if !strings.HasPrefix(e.ID, "reject-") {
				out = append(out, e)
			}
		}
		return out
	}
	sinktest.Run(t, func(*testing.T) sink.Sink { return newMemory(sink.MarkDeleted, true) }, caps)
}

func TestMemoryHooks(t *testing.T) {
	m := sinktest.NewMemory()
	events := sinktest.Batch("A", "h", 3, sinktest.T0, 1)
	m.SetWriteHook(func(_ context.Context, ev []*calendarevent.Event) error {
		return &sink.PartialError{Failed: []sink.RecordError{{Index: 1, Err: errors.New("no"), Permanent: false}}}
	})
	var pe *sink.PartialError
	if err := m.Write(t.Context(), events); !errors.As(err, &pe) {
		t.Fatalf("Write = %v", err)
	}
	if m.Get("A", "h0") == nil || m.Get("A", "h1") != nil || m.Get("A", "h2") == nil || m.Len() != 2 {
		t.Fatal("a PartialError from the hook must commit the other records only")
	}
	m.SetWriteHook(func(context.Context, []*calendarevent.Event) error { return errDown })
	if err := m.Write(t.Context(), events); !errors.Is(err, errDown) || m.Get("A", "h1") != nil {
		t.Fatalf("Write = %v; a failing hook must commit nothing", err)
	}
	m.SetWriteHook(nil)
	if err := m.Write(t.Context(), events); err != nil || m.Get("A", "h1") == nil {
		t.Fatalf("Write = %v", err)
	}
	if w := m.Writes(); len(w) != 2 || len(w[0]) != 3 {
		t.Fatalf("Writes() = %d batches", len(w))
	}
}
