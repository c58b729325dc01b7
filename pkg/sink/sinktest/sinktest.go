// Package sinktest is the contract every sink.Sink passes — one suite, Run,
// run against each sink and against Memory, an in-memory sink that loader
// tests can use too — plus the shared write benchmark (Bench), event
// factories (NewEvent, Tombstone, Batch), a TCP Proxy for simulating network
// outages, and Eventually for polling.
//
// Stateful sinks (SQL, Memory) are read back through Capabilities.Read.
// Append-only sinks (JSON Lines, AEP) cannot be read back as state; they
// give the suite their log (Capabilities.Log) and the suite derives the state
// a consumer folding that log with Event.Newer would compute (replaying it
// into a Memory in MarkDeleted mode), so the same cases apply to them, and
// additionally checks that the log skipped nothing.
package sinktest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nsflow/nsflow/pkg/calendarevent"
	"github.com/nsflow/nsflow/pkg/sink"
)

// Capabilities tells Run what a sink can do and how to look inside it.
type Capabilities struct {
	// Read returns what a stateful sink holds for (account, id), as its
	// Lookup does: the stored event with version and deletion columns and the
	// attendee rows (sorted by entity id) laid over it; nil when there is no
	// row. Set it or Log.
	Read func(t *testing.T, s sink.Sink, account, id string) *calendarevent.Event
	// Log returns, in order, every version an append-only sink has accepted.
	// Set it or Read.
	Log func(t *testing.T, s sink.Sink) []*calendarevent.Event
	// Lossless: the sink gives back the whole canonical event (stored event
	// JSON, or a log of canonical JSON), so the suite compares encodings.
	Lossless bool
	// Deletes is the DeleteMode the sinks open opens use (stateful sinks).
	Deletes sink.DeleteMode
	// BadRecord turns e into a record the backend rejects permanently; nil
	// skips the bad-record case.
	BadRecord func(e *calendarevent.Event)
	// AllOrNothing: a bad record fails the whole batch with a permanent error
	// and nothing is committed (SQL sinks). Otherwise the sink returns a
	// *sink.PartialError and commits the rest (AEP).
	AllOrNothing bool
	// Outage makes the backend of s unavailable until restore is called; nil
	// skips the outage case.
	Outage func(t *testing.T, s sink.Sink) (restore func())
	// Replica opens another sink on the same backend as s, as a second loader
	// replica would; nil makes the concurrency case share s.
	Replica func(t *testing.T, s sink.Sink) sink.Sink
	// SkipReason explains, per skipped case, why the sink cannot do it
	// (printed with the skip); optional.
	SkipReason map[string]string
}

// Run runs the contract cases as subtests, each on a sink from open (which
// must give a fresh, empty backend and register its own cleanup).
func Run(t *testing.T, open func(t *testing.T) sink.Sink, caps Capabilities) {
	t.Helper()
	if (caps.Read == nil) == (caps.Log == nil) {
		t.Fatal("sinktest: set exactly one of Capabilities.Read and Capabilities.Log")
	}
	cases := []struct {
		name string
		run  func(*harness)
	}{
		{"Insert", testInsert},
		{"Update", testUpdate},
		{"StaleIgnored", testStale},
		{"Redelivery", testRedelivery},
		{"Delete", testDelete},
		{"BadRecord", testBadRecord},
		{"Outage", testOutage},
		{"ConcurrentWriters", testConcurrent},
		{"PingClose", testPingClose},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.run(&harness{t: t, open: open, caps: caps})
		})
	}
}

type harness struct {
	t    *testing.T
	open func(t *testing.T) sink.Sink
	caps Capabilities
}

const acct = "TSTDRV1234567"

func (h *harness) ctx() context.Context {
	ctx, cancel := context.WithTimeout(h.t.Context(), 60*time.Second)
	h.t.Cleanup(cancel)
	return ctx
}

func (h *harness) skip(name, fallback string) {
	h.t.Helper()
	reason := fallback
	if r, ok := h.caps.SkipReason[name]; ok {
		reason = r
	}
	h.t.Skipf("sink cannot %s", reason)
}

func (h *harness) write(s sink.Sink, events ...*calendarevent.Event) {
	h.t.Helper()
	if err := s.Write(h.ctx(), events); err != nil {
		h.t.Fatalf("Write(%d events): %v", len(events), err)
	}
}

// deleteMode is how deletions show: append-only sinks are read through a
// MarkDeleted replay.
func (h *harness) deleteMode() sink.DeleteMode {
	if h.caps.Log != nil {
		return sink.MarkDeleted
	}
	return h.caps.Deletes
}

// get returns the state of (account, id).
func (h *harness) get(s sink.Sink, id string) *calendarevent.Event {
	h.t.Helper()
	if h.caps.Read != nil {
		return h.caps.Read(h.t, s, acct, id)
	}
	m := NewMemory()
	m.SetDeleteMode(sink.MarkDeleted)
	for _, e := range h.caps.Log(h.t, s) {
		if err := m.Write(context.Background(), []*calendarevent.Event{e}); err != nil {
			h.t.Fatalf("replay log: %v", err)
		}
	}
	return m.Get(acct, id)
}

// wantVersion fails unless the sink holds a live row of e's version and content.
func (h *harness) wantLive(s sink.Sink, e *calendarevent.Event, wantAttendees []calendarevent.Attendee) {
	h.t.Helper()
	got := h.get(s, e.ID)
	if got == nil {
		h.t.Fatalf("%s: no row, want version %s/%d", e.ID, e.LastModifiedAt.Format(time.RFC3339), e.Provenance.RawSequence)
	}
	if got.Deleted {
		h.t.Fatalf("%s: row is deleted, want live", e.ID)
	}
	h.wantSameVersion(got, e)
	if got.Title != e.Title {
		h.t.Fatalf("%s: title %q, want %q", e.ID, got.Title, e.Title)
	}
	h.wantAttendees(e.ID, got.Attendees, wantAttendees)
}

func (h *harness) wantSameVersion(got, want *calendarevent.Event) {
	h.t.Helper()
	if !got.LastModifiedAt.Equal(want.LastModifiedAt) || got.Provenance.RawSequence != want.Provenance.RawSequence {
		h.t.Fatalf("%s: version %s/%d, want %s/%d", want.ID,
			got.LastModifiedAt.Format(time.RFC3339Nano), got.Provenance.RawSequence,
			want.LastModifiedAt.Format(time.RFC3339Nano), want.Provenance.RawSequence)
	}
}

func (h *harness) wantAttendees(id string, got, want []calendarevent.Attendee) {
	h.t.Helper()
	want = normalizeAttendees(want)
	got = normalizeAttendees(got)
	if !slices.Equal(got, want) {
		h.t.Fatalf("%s: attendees %v, want %v", id, entityIDs(got), entityIDs(want))
	}
}

// wantGone fails unless the event reads as deleted in the sink's mode: no row
// (DeleteRow), or a deleted row at the tombstone's version (MarkDeleted).
func (h *harness) wantGone(s sink.Sink, tomb *calendarevent.Event) {
	h.t.Helper()
	got := h.get(s, tomb.ID)
	if h.deleteMode() == sink.DeleteRow {
		if got != nil {
			h.t.Fatalf("%s: row still there (deleted=%v, version %s/%d), want none",
				tomb.ID, got.Deleted, got.LastModifiedAt.Format(time.RFC3339), got.Provenance.RawSequence)
		}
		return
	}
	if got == nil {
		h.t.Fatalf("%s: no row, want a row marked deleted", tomb.ID)
	}
	if !got.Deleted || got.DeletedAt == nil || !got.DeletedAt.Equal(*tomb.DeletedAt) {
		h.t.Fatalf("%s: deleted=%v deleted_at=%v, want deleted at %s", tomb.ID, got.Deleted, got.DeletedAt, tomb.DeletedAt.Format(time.RFC3339))
	}
	h.wantSameVersion(got, tomb)
}

// wantLogged checks, for append-only sinks, that the log holds exactly the
// versions written, in order: nothing skipped, nothing invented.
func (h *harness) wantLogged(s sink.Sink, written ...*calendarevent.Event) {
	h.t.Helper()
	if h.caps.Log == nil {
		return
	}
	log := h.caps.Log(h.t, s)
	got, want := versions(log), versions(written)
	if !slices.Equal(got, want) {
		h.t.Fatalf("log holds %d versions %v, want %d %v", len(got), got, len(want), want)
	}
}

func versions(es []*calendarevent.Event) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = fmt.Sprintf("%s@%d/%d", e.ID, e.LastModifiedAt.Unix(), e.Provenance.RawSequence)
	}
	return out
}

func entityIDs(as []calendarevent.Attendee) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.Entity.ID + ":" + a.Response
	}
	return out
}

func at(sec int) time.Time { return T0.Add(time.Duration(sec) * time.Second) }

// testInsert: new events are stored, with their attendees (known, empty,
// unknown) and — for lossless sinks — every field of the canonical event.
func testInsert(h *harness) {
	s := h.open(h.t)
	full := NewEvent(acct, "ins-1", at(0), 10)
	none := NewEvent(acct, "ins-2", at(0), 11)
	none.Attendees = []calendarevent.Attendee{}
	unknown := NewEvent(acct, "ins-3", at(0), 12)
	unknown.Attendees = nil
	unknown.Resources = nil
	h.write(s, full, none, unknown)

	h.wantLive(s, full, full.Attendees)
	h.wantLive(s, none, nil)
	h.wantLive(s, unknown, nil)
	h.wantLogged(s, full, none, unknown)

	if h.caps.Lossless {
		got := h.get(s, full.ID)
		want := *full
		want.Attendees = normalizeAttendees(full.Attendees)
		got.Attendees = normalizeAttendees(got.Attendees)
		gb, _ := calendarevent.Marshal(got)
		wb, _ := calendarevent.Marshal(&want)
		if string(gb) != string(wb) {
			h.t.Fatalf("stored event differs from the one written:\n got %s\nwant %s", gb, wb)
		}
	}
}

// testUpdate: a newer version replaces the row; its attendee list replaces
// the attendee rows when known and leaves them alone when unknown (nil); an
// equal LastModifiedAt with a higher RawSequence is newer.
func testUpdate(h *harness) {
	s := h.open(h.t)
	v1 := NewEvent(acct, "upd", at(0), 10)
	h.write(s, v1)

	v2 := NewEvent(acct, "upd", at(60), 20)
	v2.Title = "Moved: " + v2.Title
	v2.Attendees = []calendarevent.Attendee{
		v1.Attendees[1],
		{Entity: calendarevent.Ref{ID: "4400", Name: "Pat Partner", Type: "partner"}, Attendance: "OPTIONAL", Response: "DECLINED"},
	}
	h.write(s, v2)
	h.wantLive(s, v2, v2.Attendees)

	v3 := NewEvent(acct, "upd", at(120), 30)
	v3.Title = "Attendees unknown"
	v3.Attendees = nil
	h.write(s, v3)
	h.wantLive(s, v3, v2.Attendees)

	v4 := NewEvent(acct, "upd", at(180), 40)
	v4.Title = "Attendees none"
	v4.Attendees = []calendarevent.Attendee{}
	h.write(s, v4)
	h.wantLive(s, v4, nil)

	v5 := NewEvent(acct, "upd", at(180), 41) // same LastModifiedAt, higher sequence
	v5.Title = "Tie broken by sequence"
	h.write(s, v5)
	h.wantLive(s, v5, v5.Attendees)
	h.wantLogged(s, v1, v2, v3, v4, v5)
}

// testStale: an older LastModifiedAt, or the same one with a lower (or equal)
// RawSequence, changes nothing — neither the row nor its attendees.
func testStale(h *harness) {
	s := h.open(h.t)
	cur := NewEvent(acct, "stale", at(600), 500)
	cur.Title = "current"
	h.write(s, cur)

	older := NewEvent(acct, "stale", at(300), 900) // higher sequence does not help
	older.Title = "older"
	older.Attendees = older.Attendees[:1]
	lowerSeq := NewEvent(acct, "stale", at(600), 499)
	lowerSeq.Title = "lower sequence"
	lowerSeq.Attendees = []calendarevent.Attendee{}
	equal := NewEvent(acct, "stale", at(600), 500)
	equal.Title = "equal version"
	h.write(s, older)
	h.write(s, lowerSeq, equal)
	h.wantLive(s, cur, cur.Attendees)
	h.wantLogged(s, cur, older, lowerSeq, equal)
}

// testRedelivery: the same batch written again (and an event repeated within
// a batch) leaves exactly the same state: no duplicate rows or attendees.
func testRedelivery(h *harness) {
	s := h.open(h.t)
	a := NewEvent(acct, "redeliver-a", at(0), 1)
	b := NewEvent(acct, "redeliver-b", at(0), 2)
	batch := []*calendarevent.Event{a, b, a}
	h.write(s, batch...)
	before := [][]byte{h.encoded(s, a.ID), h.encoded(s, b.ID)}
	h.write(s, batch...)
	h.write(s, b)
	after := [][]byte{h.encoded(s, a.ID), h.encoded(s, b.ID)}
	for i := range before {
		if string(before[i]) != string(after[i]) {
			h.t.Fatalf("redelivery changed the stored event:\nbefore %s\n after %s", before[i], after[i])
		}
	}
	h.wantLive(s, a, a.Attendees)
	h.wantLive(s, b, b.Attendees)
	h.wantLogged(s, a, b, a, a, b, a, b)
}

func (h *harness) encoded(s sink.Sink, id string) []byte {
	h.t.Helper()
	e := h.get(s, id)
	if e == nil {
		h.t.Fatalf("%s: no row", id)
	}
	e.Attendees = normalizeAttendees(e.Attendees)
	b, err := calendarevent.Marshal(e)
	if err != nil {
		h.t.Fatal(err)
	}
	return b
}

// testDelete: a tombstone removes (DeleteRow) or marks (MarkDeleted) the
// event; an older version arriving afterwards — or before any version was
// seen — does not resurrect it; a stale tombstone does not delete a newer
// row; a version newer than the tombstone does come back.
func testDelete(h *harness) {
	s := h.open(h.t)

	// Live, then deleted, then an old version replayed.
	v1 := NewEvent(acct, "del-x", at(0), 10)
	h.write(s, v1)
	tomb := Tombstone(acct, "del-x", at(100), 50)
	h.write(s, tomb)
	h.wantGone(s, tomb)
	if h.deleteMode() == sink.MarkDeleted {
		if got := h.get(s, tomb.ID); got.Title != v1.Title {
			h.t.Fatalf("mark-deleted row lost its content: title %q, want %q", got.Title, v1.Title)
		}
	}
	h.write(s, v1, NewEvent(acct, "del-x", at(50), 40))
	h.wantGone(s, tomb)
	h.write(s, tomb) // redelivered tombstone
	h.wantGone(s, tomb)

	// Tombstone first (the event was never seen), then an older version.
	tombY := Tombstone(acct, "del-y", at(100), 60)
	h.write(s, tombY)
	h.write(s, NewEvent(acct, "del-y", at(10), 5))
	h.wantGone(s, tombY)

	// A stale tombstone does not delete a newer version.
	z := NewEvent(acct, "del-z", at(200), 70)
	h.write(s, z)
	h.write(s, Tombstone(acct, "del-z", at(150), 65))
	h.wantLive(s, z, z.Attendees)

	// Live and its tombstone in one batch: the tombstone wins, in any order.
	w := NewEvent(acct, "del-w", at(0), 80)
	tombW := Tombstone(acct, "del-w", at(30), 81)
	h.write(s, tombW, w)
	h.wantGone(s, tombW)

	// A version newer than the tombstone is a new state of the event.
	back := NewEvent(acct, "del-x", at(300), 90)
	back.Title = "restored"
	h.write(s, back)
	h.wantLive(s, back, back.Attendees)
}

// testBadRecord: a batch with one record the backend rejects. All-or-nothing
// sinks fail the whole batch with a permanent error and commit nothing (the
// loader then splits it); others commit the rest and report the record in a
// *sink.PartialError.
func testBadRecord(h *harness) {
	if h.caps.BadRecord == nil {
		h.skip("BadRecord", "be given a record its backend rejects")
	}
	s := h.open(h.t)
	g0 := NewEvent(acct, "bad-batch-0", at(0), 1)
	h.write(s, g0)

	g0v2 := NewEvent(acct, "bad-batch-0", at(60), 2)
	g0v2.Title = "updated in the bad batch"
	bad := NewEvent(acct, "bad-batch-2", at(60), 4)
	h.caps.BadRecord(bad)
	batch := []*calendarevent.Event{
		g0v2, NewEvent(acct, "bad-batch-1", at(60), 3), bad,
		NewEvent(acct, "bad-batch-3", at(60), 5), NewEvent(acct, "bad-batch-4", at(60), 6),
	}
	err := s.Write(h.ctx(), batch)
	if err == nil {
		h.t.Fatal("Write with a bad record succeeded")
	}
	var pe *sink.PartialError
	if h.caps.AllOrNothing {
		if errors.As(err, &pe) || !sink.IsPermanent(err) {
			h.t.Fatalf("Write error %v: want a permanent whole-batch error (IsPermanent=%v)", err, sink.IsPermanent(err))
		}
		h.wantLive(s, g0, g0.Attendees) // rolled back
		for _, e := range batch[1:] {
			if got := h.get(s, e.ID); got != nil {
				h.t.Fatalf("%s was committed although the batch failed", e.ID)
			}
		}
		good := slices.Delete(slices.Clone(batch), 2, 3)
		h.write(s, good...)
	} else {
		if !errors.As(err, &pe) {
			h.t.Fatalf("Write error %v (%T): want *sink.PartialError", err, err)
		}
		if len(pe.Failed) != 1 || pe.Failed[0].Index != 2 || !pe.Failed[0].Permanent {
			h.t.Fatalf("PartialError.Failed = %+v, want one permanent failure at index 2", pe.Failed)
		}
		if sink.IsPermanent(err) {
			h.t.Fatal("IsPermanent(PartialError) = true, want false")
		}
	}
	h.wantLive(s, g0v2, g0v2.Attendees)
	for _, e := range batch[1:] {
		if e == bad {
			if h.caps.Read != nil && h.get(s, e.ID) != nil {
				h.t.Fatalf("bad record %s was stored", e.ID)
			}
			continue
		}
		h.wantLive(s, e, e.Attendees)
	}
}

// testOutage: while the backend is unavailable Write fails transiently and
// Ping fails; after recovery Ping succeeds, the same Write succeeds and
// nothing written before or after is lost.
func testOutage(h *harness) {
	if h.caps.Outage == nil {
		h.skip("Outage", "simulate a backend outage")
	}
	s := h.open(h.t)
	before := Batch(acct, "outage-a", 3, at(0), 1)
	h.write(s, before...)
	restore := h.caps.Outage(h.t, s)
	restored := false
	defer func() {
		if !restored {
			restore()
		}
	}()
	during := Batch(acct, "outage-b", 3, at(10), 10)
	err := s.Write(h.ctx(), during)
	if err == nil {
		h.t.Fatal("Write during the outage succeeded")
	}
	if sink.IsPermanent(err) {
		h.t.Fatalf("Write during the outage: %v is permanent, want transient", err)
	}
	if err := s.Ping(h.ctx()); err == nil {
		h.t.Fatal("Ping during the outage succeeded")
	}
	restore()
	restored = true
	Eventually(h.t, 20*time.Second, func() error { return s.Ping(h.ctx()) })
	h.write(s, during...)
	for _, e := range append(before, during...) {
		h.wantLive(s, e, e.Attendees)
	}
}

// testConcurrent: four writers (replicas when the sink supports them) write
// interleaved versions — some ending in a tombstone — of the same ids; every
// id ends at its newest version.
func testConcurrent(h *harness) {
	s := h.open(h.t)
	const (
		ids      = 12
		versions = 8
		writers  = 4
		perBatch = 6
	)
	newest := make([]*calendarevent.Event, ids)
	var all []*calendarevent.Event
	for id := range ids {
		for v := 1; v <= versions; v++ {
			name := fmt.Sprintf("conc-%02d", id)
			var e *calendarevent.Event
			if v == versions && id%3 == 0 {
				e = Tombstone(acct, name, at(v*10), uint64(v*100+id))
			} else {
				e = NewEvent(acct, name, at(v*10), uint64(v*100+id))
				e.Title = fmt.Sprintf("%s v%d", name, v)
				e.Attendees = e.Attendees[:1+(v+id)%3]
			}
			all = append(all, e)
			if v == versions {
				newest[id] = e
			}
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })

	sinks := []sink.Sink{s}
	for range writers - 1 {
		if h.caps.Replica != nil {
			sinks = append(sinks, h.caps.Replica(h.t, s))
		} else {
			sinks = append(sinks, s)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		var mine []*calendarevent.Event
		for i := w; i < len(all); i += writers {
			mine = append(mine, all[i])
		}
		wg.Go(func() {
			for len(mine) > 0 {
				n := min(perBatch, len(mine))
				if err := writeRetrying(h.ctx(), sinks[w], mine[:n]); err != nil {
					errs <- fmt.Errorf("writer %d: %w", w, err)
					return
				}
				mine = mine[n:]
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		h.t.Fatal(err)
	}
	for _, e := range newest {
		if e.Deleted {
			h.wantGone(s, e)
		} else {
			h.wantLive(s, e, e.Attendees)
		}
	}
}

// writeRetrying retries transient failures, as the loader would.
func writeRetrying(ctx context.Context, s sink.Sink, events []*calendarevent.Event) error {
	var err error
	for range 20 {
		if err = s.Write(ctx, events); err == nil || sink.IsPermanent(err) || ctx.Err() != nil {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
	return err
}

// testPingClose: a healthy sink pings; Close succeeds.
func testPingClose(h *harness) {
	s := h.open(h.t)
	if err := s.Ping(h.ctx()); err != nil {
		h.t.Fatalf("Ping: %v", err)
	}
	if err := s.Write(h.ctx(), nil); err != nil {
		h.t.Fatalf("Write(nil): %v", err)
	}
	if err := s.Close(); err != nil {
		h.t.Fatalf("Close: %v", err)
	}
}

// Eventually polls f until it returns nil or timeout passes.
func Eventually(t testing.TB, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s: %v", timeout, err)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// LogFromMemoryWrites flattens a Memory's recorded batches into a log, for
// tests that use Memory as an append-only sink.
func LogFromMemoryWrites(m *Memory) []*calendarevent.Event {
	var out []*calendarevent.Event
	for _, b := range m.Writes() {
		out = append(out, b...)
	}
	return out
}
