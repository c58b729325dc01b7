package loader

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/nsflow/nsflow/pkg/broker"
	"github.com/nsflow/nsflow/pkg/calendarevent"
	"github.com/nsflow/nsflow/pkg/sink/sinktest"
)

func start(t *testing.T, cfg Config) (*Stage, *sinktest.Memory) {
	t.Helper()
	mem := sinktest.NewMemory()
	if cfg.SinkName == "" {
		cfg.SinkName = "memory"
	}
	st, err := New(cfg, mem)
	if err != nil {
		t.Fatal(err)
	}
	go st.Run(context.Background())
	t.Cleanup(st.Stop)
	return st, mem
}

func msgFor(t *testing.T, e *calendarevent.Event) *message.Message {
	t.Helper()
	b, err := calendarevent.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return message.NewMessage(e.ID, b)
}

func handleAll(st *Stage, msgs []*message.Message) []error {
	errs := make([]error, len(msgs))
	var wg sync.WaitGroup
	for i, m := range msgs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = st.Handle(m)
		}()
	}
	wg.Wait()
	return errs
}

func TestBatchesAndCommitsBeforeReturning(t *testing.T) {
	t.Parallel()
	st, mem := start(t, Config{BatchSize: 25, BatchWait: 20 * time.Millisecond})
	evs := sinktest.Batch("A", "e", 100, time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), 1)
	msgs := make([]*message.Message, len(evs))
	for i, e := range evs {
		msgs[i] = msgFor(t, e)
	}
	for i, err := range handleAll(st, msgs) {
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
	}
	if mem.Len() != 100 || st.Loaded() != 100 {
		t.Fatalf("sink holds %d, loaded %d, want 100", mem.Len(), st.Loaded())
	}
	if n := len(mem.Writes()); n > 10 {
		t.Errorf("%d sink writes for 100 events with batch size 25: not batching", n)
	}
	for _, w := range mem.Writes() {
		if len(w) > 25 {
			t.Errorf("batch of %d exceeds BatchSize 25", len(w))
		}
	}
}

// TestSinkOutageHoldsAndResumes: while the sink fails, handlers wait (the
// subscription's window fills and the loader stops pulling), Ready is false;
// when it recovers everything commits and nothing is lost or dead-lettered.
func TestSinkOutageHoldsAndResumes(t *testing.T) {
	t.Parallel()
	st, mem := start(t, Config{BatchSize: 10, BatchWait: 5 * time.Millisecond, RetryMax: 20 * time.Millisecond})
	mem.Fail(errors.New("database is locked"))
	evs := sinktest.Batch("A", "o", 30, time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), 1)
	done := make(chan []error, 1)
	go func() {
		msgs := make([]*message.Message, len(evs))
		for i, e := range evs {
			msgs[i] = msgFor(t, e)
		}
		done <- handleAll(st, msgs)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for st.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("loader still ready while the sink fails")
		}
		time.Sleep(time.Millisecond)
	}
	select {
	case <-done:
		t.Fatal("handlers returned while the sink was down")
	case <-time.After(50 * time.Millisecond):
	}
	mem.Fail(nil)
	select {
	case errs := <-done:
		for i, err := range errs {
			if err != nil {
				t.Fatalf("event %d: %v", i, err)
			}
		}
	case <-time.After(10 * time.Second):
		t.Fatal("handlers still waiting after the sink recovered")
	}
	if mem.Len() != 30 || !st.Ready() {
		t.Fatalf("sink holds %d (want 30), ready %v", mem.Len(), st.Ready())
	}
}

func TestBadRecordIsIsolated(t *testing.T) {
	t.Parallel()
	for _, partial := range []bool{false, true} {
		t.Run(fmt.Sprintf("partial=%v", partial), func(t *testing.T) {
			t.Parallel()
			st, mem := start(t, Config{BatchSize: 16, BatchWait: 50 * time.Millisecond})
			mem.Reject(func(e *calendarevent.Event) bool { return e.ID == "b5" }, partial)
			evs := sinktest.Batch("A", "b", 16, time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), 1)
			msgs := make([]*message.Message, len(evs))
			for i, e := range evs {
				msgs[i] = msgFor(t, e)
			}
			errs := handleAll(st, msgs)
			for i, err := range errs {
				if evs[i].ID == "b5" {
					if err == nil || !broker.IsPermanent(err) || broker.ErrorClass(err) != "sink_rejected" {
						t.Errorf("bad event: err = %v, want a permanent sink_rejected error", err)
					}
					continue
				}
				if err != nil {
					t.Errorf("good event %s: %v", evs[i].ID, err)
				}
			}
			if mem.Len() != 15 || mem.Get("A", "b5") != nil {
				t.Fatalf("sink holds %d rows (want the 15 good ones)", mem.Len())
			}
		})
	}
}

func TestUndecodablePayloadIsPermanent(t *testing.T) {
	t.Parallel()
	st, _ := start(t, Config{})
	err := st.Handle(message.NewMessage("x", []byte(`{"schema":"netsuite.calendarevent/v7","account":"a","id":"1"}`)))
	if !broker.IsPermanent(err) {
		t.Fatalf("err = %v, want permanent", err)
	}
}

func TestStopFlushesPending(t *testing.T) {
	t.Parallel()
	mem := sinktest.NewMemory()
	st, err := New(Config{SinkName: "m", BatchSize: 1000, BatchWait: time.Hour}, mem)
	if err != nil {
		t.Fatal(err)
	}
	go st.Run(context.Background())
	e := sinktest.NewEvent("A", "s1", time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), 1)
	res := make(chan error, 1)
	go func() { res <- st.Handle(msgFor(t, e)) }()
	deadline := time.Now().Add(5 * time.Second)
	for st.Held() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("event never reached the batch")
		}
		time.Sleep(time.Millisecond)
	}
	st.Stop()
	if err := <-res; err != nil {
		t.Fatalf("pending event not committed on Stop: %v", err)
	}
	if mem.Len() != 1 {
		t.Fatal("pending event not in the sink after Stop")
	}
}

// TestUndecodableEventDoesNotFailItsBatch: events are decoded in the writer,
// batch by batch; one that does not decode fails alone (permanently, to be
// dead-lettered) and the rest of its batch commits.
func TestUndecodableEventDoesNotFailItsBatch(t *testing.T) {
	t.Parallel()
	st, mem := start(t, Config{BatchSize: 8, BatchWait: time.Hour})
	evs := sinktest.Batch("A", "d", 7, time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), 1)
	msgs := make([]*message.Message, 0, 8)
	for _, e := range evs {
		msgs = append(msgs, msgFor(t, e))
	}
	msgs = append(msgs, message.NewMessage("bad", []byte(`{"schema":"netsuite.calendarevent/v7"}`)))
	errs := handleAll(st, msgs)
	for i, err := range errs[:7] {
		if err != nil {
			t.Errorf("good event %d: %v", i, err)
		}
	}
	if err := errs[7]; !broker.IsPermanent(err) || broker.ErrorClass(err) != "invalid_event" {
		t.Errorf("undecodable event: err = %v, want a permanent invalid_event error", err)
	}
	if mem.Len() != 7 || len(mem.Writes()) != 1 {
		t.Fatalf("sink holds %d rows in %d writes, want the 7 good ones in one", mem.Len(), len(mem.Writes()))
	}
}

func TestMinInFlightHoldsAFillingBatchBesidesTheWriters(t *testing.T) {
	t.Parallel()
	if got := MinInFlight(0, 0); got != (DefaultWriters+1)*DefaultBatchSize {
		t.Errorf("MinInFlight(0, 0) = %d", got)
	}
	if got := MinInFlight(500, 3); got != 2000 {
		t.Errorf("MinInFlight(500, 3) = %d, want 2000", got)
	}
}
