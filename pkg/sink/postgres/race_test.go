package postgres_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/nsflow/nsflow/pkg/calendarevent"
	"github.com/nsflow/nsflow/pkg/sink"
	"github.com/nsflow/nsflow/pkg/sink/sinktest"
)

// TestDeleteRaceNeverResurrects races, key by key, a tombstone from one
// loader against an older version of the same event from another, both for
// events that have a row and events that never had one. Whatever the
// interleaving, no row may survive (DeleteRow): the older version must not
// slip in after the tombstone's delete.
func TestDeleteRaceNeverResurrects(t *testing.T) {
	raw := newSchema(t, baseURL(t))
	a, b := open(t, raw, sink.DeleteRow), open(t, raw, sink.DeleteRow)
	const keys, rounds = 40, 6
	for round := range rounds {
		var existing []*calendarevent.Event
		for k := range keys {
			if k%2 == 0 {
				existing = append(existing, sinktest.NewEvent("ACCT", fmt.Sprintf("r%d-k%d", round, k), sinktest.T0, 1))
			}
		}
		if err := a.Write(t.Context(), existing); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		for k := range keys {
			id := fmt.Sprintf("r%d-k%d", round, k)
			tomb := sinktest.Tombstone("ACCT", id, sinktest.T0.Add(50), 50)
			older := sinktest.NewEvent("ACCT", id, sinktest.T0.Add(30), 30)
			wg.Go(func() { <-start; writeOrFail(t, a, tomb) })
			wg.Go(func() { <-start; writeOrFail(t, b, older) })
		}
		close(start)
		wg.Wait()
		for k := range keys {
			id := fmt.Sprintf("r%d-k%d", round, k)
			if e, err := a.Lookup(t.Context(), "ACCT", id); err != nil || e != nil {
				t.Fatalf("%s resurrected (row %v, err %v)", id, e != nil, err)
			}
		}
	}
}

func writeOrFail(t *testing.T, s sink.Sink, e *calendarevent.Event) {
	for range 10 {
		if err := s.Write(t.Context(), []*calendarevent.Event{e}); err == nil {
			return
		} else if sink.IsPermanent(err) {
			t.Errorf("write %s: %v", e.ID, err)
			return
		}
	}
	t.Errorf("write %s: kept failing", e.ID)
}
