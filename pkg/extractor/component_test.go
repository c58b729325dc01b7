package extractor_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/nsflow/nsflow/pkg/calendarevent"
	"github.com/nsflow/nsflow/pkg/extractor"
	"github.com/nsflow/nsflow/pkg/governor"
	"github.com/nsflow/nsflow/pkg/netsuite"
	"github.com/nsflow/nsflow/pkg/sandbox"
	"github.com/nsflow/nsflow/pkg/tokencache"
)

// TestBackfillResumesAfterCrash stops a backfill in the middle and runs it
// again on the same KV state: finished windows are skipped (not even one
// request each), unfinished ones continue from their cursor, and no event
// is lost.
func TestBackfillResumesAfterCrash(t *testing.T) {
	t.Parallel()
	h := newHarnessWith(t, harnessOptions{sandbox: sandbox.Config{Events: 4000, Seed: 5}})
	h.noDeletes = true
	const pageSize, concurrency = 100, 3
	cfg := extractor.Config{PageSize: pageSize, Attendees: extractor.AttendeesOff, Concurrency: concurrency, WindowRows: 500}
	x1 := h.extractor(t, cfg)
	ctx, crash := context.WithCancel(t.Context())
	var pages atomic.Int64
	x1.OnPage(func(extractor.PassResult) {
		if pages.Add(1) == 22 {
			crash()
		}
	})
	if _, err := x1.Pass(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("first run: %v, want it cancelled mid-way", err)
	}
	st1 := x1.Stats().Backfill
	firstIDs, firstMsgs := h.pub.eventIDs()
	live := h.sb.LiveEventCount()
	if len(firstIDs) >= live || st1.WindowsDone == 0 || st1.WindowsDone == st1.Windows {
		t.Fatalf("first run read %d of %d events, finished %d of %d windows: the crash came at the wrong time to prove anything",
			len(firstIDs), live, st1.WindowsDone, st1.Windows)
	}
	// What `nsflow status` shows of the stopped backfill: its windows as stored.
	stored, err := extractor.ReadBackfills(t.Context(), h.state)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != 1 || stored[0].Done || stored[0].Windows != st1.Windows || stored[0].WindowsDone != st1.WindowsDone ||
		stored[0].Account != calendarevent.AccountToken(h.sb.Config().Account) {
		t.Fatalf("stored backfill after the crash: %+v, want %d of %d windows read, not done", stored, st1.WindowsDone, st1.Windows)
	}
	client := &countingNS{NetSuite: h.client(t, clientOptions{})}
	x2 := h.extractorWith(t, cfg, client)
	if _, err := x2.Pass(t.Context()); err != nil {
		t.Fatal(err)
	}
	requests := client.suiteql.Load()
	got, msgs := h.pub.eventIDs()
	if missing, extra := diff(h.sandboxIDs(t), got); len(missing)+len(extra) > 0 {
		t.Fatalf("after the restart %d events are missing (%v), %d invented", len(missing), first(missing, 5), len(extra))
	}
	// Resumed, not restarted: the second run read what was left, plus at
	// most the pages in flight when the first run stopped (one per window
	// and the planner's) and the incremental pass's overlap.
	second := msgs - firstMsgs
	left := live - len(firstIDs)
	if slack := (concurrency+1)*pageSize + 100; second > left+slack {
		t.Fatalf("second run published %d events after the first stored %d of %d: it did not resume", second, len(firstIDs), live)
	}
	// Requests: the pages left and the incremental pass after the backfill;
	// a finished window read again would add one each.
	st2 := x2.Stats().Backfill
	if limit := int64((left+pageSize-1)/pageSize + 1); requests > limit {
		t.Fatalf("second run made %d SuiteQL requests for %d events left (limit %d); %d windows were finished before",
			requests, left, limit, st1.WindowsDone)
	}
	if st2.Active || !st2.Planned || st2.WindowsDone != st2.Windows {
		t.Fatalf("backfill status after the second run: %+v", st2)
	}
	if stored, err = extractor.ReadBackfills(t.Context(), h.state); err != nil || len(stored) != 1 || !stored[0].Done || stored[0].Windows != 0 {
		t.Fatalf("stored backfill after the second run: %+v, %v; want done, its window records removed", stored, err)
	}
}

// TestBackfillSinceUntil backfills a bounded range in windows of a fixed
// size: exactly the events modified in [since, until] are read, the events
// cursor ends at until, and the finished backfill is not run again.
func TestBackfillSinceUntil(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	h := newHarnessWith(t, harnessOptions{sandbox: sandbox.Config{Events: 3000, Seed: 9, Now: func() time.Time { return now }}})
	h.noDeletes = true
	since, until := now.AddDate(0, -9, 0), now.AddDate(0, -3, 0)
	cfg := extractor.Config{PageSize: 50, Attendees: extractor.AttendeesOff, Concurrency: 3, WindowRows: 200,
		Since: since, Until: until, Clock: func() time.Time { return now }}
	x := h.extractor(t, cfg)
	if _, err := x.Pass(t.Context()); err != nil {
		t.Fatal(err)
	}
	want := h.idsModifiedBetween(t, since, until)
	got, _ := h.pub.eventIDs()
	if missing, extra := diff(want, got); len(missing)+len(extra) > 0 {
		t.Fatalf("range backfill: %d missing (%v), %d outside [since, until] (%v)", len(missing), first(missing, 5), len(extra), first(extra, 5))
	}
	st := x.Stats()
	if wantWindows := (len(want) + 199) / 200; st.Backfill.Windows < wantWindows-2 || st.Backfill.Windows > wantWindows+1 {
		t.Fatalf("%d windows for %d events in windows of 200", st.Backfill.Windows, len(want))
	}
	if !st.Cursor.LastModified.Equal(until) {
		t.Fatalf("events cursor %v after the backfill, want until %v", st.Cursor, until)
	}
	before := len(h.pub.snapshot())
	again := h.extractor(t, cfg)
	if _, err := again.Pass(t.Context()); err != nil {
		t.Fatal(err)
	}
	if st := again.Stats().Backfill; st.Windows != 0 {
		t.Fatalf("a finished backfill ran again: %+v", st)
	}
	if n := len(h.pub.snapshot()) - before; n > 200 {
		t.Fatalf("the pass after a finished backfill read %d events; want only the overlap before until", n)
	}
}

// idsModifiedBetween lists the ids of events last modified in [from, to].
func (h *harness) idsModifiedBetween(t *testing.T, from, to time.Time) map[string]bool {
	t.Helper()
	loc, err := time.LoadLocation(h.sb.Config().TimeZone)
	if err != nil {
		t.Fatal(err)
	}
	client := h.client(t, clientOptions{})
	ids := map[string]bool{}
	lit := func(t time.Time) string {
		return "TO_TIMESTAMP('" + t.In(loc).Format("2006-01-02 15:04:05") + "', 'YYYY-MM-DD HH24:MI:SS')"
	}
	last := "0"
	for {
		page, err := client.SuiteQL(t.Context(), "SELECT ce.id FROM calendarevent ce WHERE ce.lastmodifieddate >= "+lit(from)+
			" AND ce.lastmodifieddate <= "+lit(to)+" AND ce.id > "+last+" ORDER BY ce.id", 1000, 0)
		if err != nil {
			t.Fatal(err)
		}
		row := make([]string, 1)
		for _, it := range page.Items {
			if err := jsonField(it, "id", row); err != nil {
				t.Fatal(err)
			}
			ids[row[0]], last = true, row[0]
		}
		if !page.HasMore {
			return ids
		}
	}
}

// TestIncrementalCursorAndOverlap: after the backfill, an incremental pass
// moves the cursor forward page by page through events changed within the
// same second; the next pass re-reads only the overlap window, whose
// duplicates JetStream drops, and never moves the cursor back.
func TestIncrementalCursorAndOverlap(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 600)
	x := h.extractor(t, extractor.Config{PageSize: 50, Overlap: time.Hour})
	if _, err := x.Pass(t.Context()); err != nil {
		t.Fatal(err)
	}
	for id := 1000; id < 1300; id++ {
		title := "changed"
		if err := h.sb.UpdateEvent(strconv.Itoa(id), sandbox.EventInput{Title: &title}); err != nil && !errors.Is(err, sandbox.ErrNotFound) {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	var cursors []extractor.Cursor
	x.OnPage(func(p extractor.PassResult) {
		if p.Events > 0 {
			mu.Lock()
			cursors = append(cursors, x.Stats().Cursor)
			mu.Unlock()
		}
	})
	res, err := x.Pass(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if res.Events < 280 || len(cursors) < 5 {
		t.Fatalf("incremental pass read %d events in %d pages, want the ~290 changed ones in pages of 50", res.Events, len(cursors))
	}
	for i := 1; i < len(cursors); i++ {
		prev, cur := cursors[i-1], cursors[i]
		if !cur.Before(prev.LastModified, prev.ID) { // prev must be strictly before cur
			t.Fatalf("page %d moved the cursor from %+v to %+v", i, prev, cur)
		}
	}
	saved, err := h.cursors.Load(t.Context(), extractor.CursorKey(h.sb.Config().Account, extractor.CursorEvents))
	if err != nil || saved.LastModified != cursors[len(cursors)-1].LastModified || saved.ID != cursors[len(cursors)-1].ID {
		t.Fatalf("saved cursor %+v (%v), want the last page's %+v", saved, err, cursors[len(cursors)-1])
	}
	stored := h.streamMsgs(t)
	again, err := x.Pass(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if again.Events == 0 || again.Events > res.Events+50 {
		t.Fatalf("next pass read %d events: want the overlap window again", again.Events)
	}
	if n := h.streamMsgs(t); n != stored {
		t.Fatalf("overlap re-reads were stored again: %d → %d raw messages", stored, n)
	}
	after, _ := h.cursors.Load(t.Context(), extractor.CursorKey(h.sb.Config().Account, extractor.CursorEvents))
	if saved.Before(after.LastModified, after.ID) {
		t.Fatalf("cursor moved back from %+v to %+v", saved, after)
	}
}

func (h *harness) streamMsgs(t *testing.T) uint64 {
	t.Helper()
	st, err := h.js.Stream(t.Context(), calendarevent.StreamRaw)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

// clock is a settable clock for the sandbox and the extractor.
type clock struct{ ns atomic.Int64 }

func newClock(t time.Time) *clock {
	c := &clock{}
	c.set(t)
	return c
}

func (c *clock) now() time.Time  { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) set(t time.Time) { c.ns.Store(t.UnixNano()) }

// TestEditsInsideOverlapWindow: edits whose key falls behind the cursor
// after the cursor passed them — an edit in the same second as the last row
// read but with a lower id, and a late commit a few seconds back — are read
// by the next pass because it starts Overlap before the cursor.
func TestEditsInsideOverlapWindow(t *testing.T) {
	t.Parallel()
	clk := newClock(time.Date(2026, 3, 10, 15, 0, 0, 0, time.UTC))
	h := newHarnessWith(t, harnessOptions{sandbox: sandbox.Config{Events: 500, Seed: 4, Now: clk.now}, jetstream: true})
	x := h.extractor(t, extractor.Config{PageSize: 100, Overlap: time.Minute, Clock: clk.now})
	if _, err := x.Pass(t.Context()); err != nil {
		t.Fatal(err)
	}
	title := "edited"
	edit := func(id string) time.Time {
		t.Helper()
		if err := h.sb.UpdateEvent(id, sandbox.EventInput{Title: &title}); err != nil {
			t.Fatal(err)
		}
		return clk.now().Truncate(time.Second)
	}
	ids, _ := h.pub.eventIDs()
	var live []int
	for id := range ids {
		n, _ := strconv.Atoi(id)
		live = append(live, n)
	}
	slices.Sort(live)
	high, low, other := strconv.Itoa(live[len(live)-1]), strconv.Itoa(live[0]), strconv.Itoa(live[len(live)/2])
	// The highest id changes at T; the next pass reads it and the cursor
	// passes it.
	t0 := clk.now().Add(30 * time.Second)
	clk.set(t0)
	edit(high)
	if _, err := x.Pass(t.Context()); err != nil {
		t.Fatal(err)
	}
	if c := x.Stats().Cursor; !c.LastModified.Equal(t0) || strconv.FormatInt(c.ID, 10) != high {
		t.Fatalf("cursor %+v, want (%v, %s)", c, t0, high)
	}
	// Within the same second, an event with a lower id changes: its key is
	// behind the cursor. And a late commit stamped 20 seconds earlier.
	sameSecond := edit(low)
	clk.set(t0.Add(-20 * time.Second))
	late := edit(other)
	clk.set(t0.Add(5 * time.Second))
	if _, err := x.Pass(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !h.pub.has(calendarevent.KindEvent, low, sameSecond) {
		t.Error("the same-second edit behind the cursor was not read")
	}
	if !h.pub.has(calendarevent.KindEvent, other, late) {
		t.Error("the late commit inside the overlap window was not read")
	}
}

// TestDeletesBecomeTombstones: events deleted after a pass come back as
// tombstones stamped with the deletion time.
func TestDeletesBecomeTombstones(t *testing.T) {
	t.Parallel()
	clk := newClock(time.Date(2026, 3, 10, 15, 0, 0, 0, time.UTC))
	h := newHarnessWith(t, harnessOptions{sandbox: sandbox.Config{Events: 300, Seed: 6, Now: clk.now}, jetstream: true})
	x := h.extractor(t, extractor.Config{PageSize: 100, Clock: clk.now})
	if _, err := x.Pass(t.Context()); err != nil {
		t.Fatal(err)
	}
	clk.set(clk.now().Add(time.Minute))
	deleted := []string{"1002", "1050", "1203"}
	for _, id := range deleted {
		if err := h.sb.DeleteEvent(id); err != nil {
			t.Fatal(err)
		}
	}
	res, err := x.Pass(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range deleted {
		if !h.pub.has(calendarevent.KindTombstone, id, clk.now().Truncate(time.Second)) {
			t.Errorf("no tombstone for deleted event %s", id)
		}
	}
	if res.Tombstones < len(deleted) {
		t.Fatalf("pass result %+v", res)
	}
}

// TestAccessTokenExpiryMidSync: access tokens expire between pages; the
// client refreshes once on the 401 and the backfill finishes complete.
func TestAccessTokenExpiryMidSync(t *testing.T) {
	t.Parallel()
	h := newHarnessWith(t, harnessOptions{sandbox: sandbox.Config{Events: 3000, Seed: 8}})
	x := h.extractor(t, extractor.Config{PageSize: 100, Attendees: extractor.AttendeesOff})
	var pages atomic.Int64
	x.OnPage(func(extractor.PassResult) {
		if pages.Add(1)%7 == 0 {
			h.sb.ExpireAccessTokens()
		}
	})
	if _, err := x.Pass(t.Context()); err != nil {
		t.Fatal(err)
	}
	got, _ := h.pub.eventIDs()
	if missing, _ := diff(h.sandboxIDs(t), got); len(missing) > 0 {
		t.Fatalf("%d events missing after token expiries (%v)", len(missing), first(missing, 5))
	}
	c := h.sb.Counters()
	if statusCount(c, "suiteql", 401) == 0 || statusCount(c, "oauth2.token", 200) < 3 {
		t.Fatalf("want 401s answered by refreshes: suiteql 401 = %d, token grants = %d",
			statusCount(c, "suiteql", 401), statusCount(c, "oauth2.token", 200))
	}
}

// TestThrottleStormThreeReplicasShareGovernor: three replicas extract the
// same account at once, under a storm of injected 429s, with one KV
// governor of NETSUITE_CONCURRENCY=4 between them and the sandbox's own
// limit at 4. The sandbox never refuses a request for concurrency (the
// governor kept all replicas within the limit together), its peak stays at
// the limit, the budget is used, and no event is lost.
func TestThrottleStormThreeReplicasShareGovernor(t *testing.T) {
	t.Parallel()
	const limit = 4
	h := newHarnessWith(t, harnessOptions{sandbox: sandbox.Config{Events: 3000, Seed: 12, ConcurrencyLimit: limit, Latency: 3 * time.Millisecond}})
	h.sb.SetFaults(sandbox.Faults{Rate429: 0.25})
	account := h.sb.Config().Account
	g, ctx := errgroup.WithContext(t.Context())
	for i := range 3 {
		gov, err := governor.NewKV(h.leases, account, limit, governor.KVConfig{LeaseTTL: 3 * time.Second, Holder: "replica-" + strconv.Itoa(i),
			PollInterval: 20 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = gov.Close() })
		x := h.extractorWith(t, extractor.Config{PageSize: 100, Attendees: extractor.AttendeesSuiteQL, Concurrency: limit},
			h.client(t, clientOptions{limiter: gov, store: tokencache.New(h.state, account)}))
		g.Go(func() error {
			_, err := x.Pass(ctx)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	h.sb.SetFaults(sandbox.Faults{})
	c := h.sb.Counters()
	if c.ConcurrencyRejected != 0 || c.PeakConcurrency > limit {
		t.Fatalf("sandbox refused %d requests over its limit (peak %d, limit %d): the replicas did not share one budget",
			c.ConcurrencyRejected, c.PeakConcurrency, limit)
	}
	if c.FaultsInjected["429"] < 10 || c.PeakConcurrency < 2 {
		t.Fatalf("no storm (%d injected 429s) or no parallelism (peak %d)", c.FaultsInjected["429"], c.PeakConcurrency)
	}
	got, _ := h.pub.eventIDs()
	if missing, _ := diff(h.sandboxIDs(t), got); len(missing) > 0 {
		t.Fatalf("%d events lost in the storm (%v)", len(missing), first(missing, 5))
	}
	t.Logf("429s injected %d, peak concurrency %d", c.FaultsInjected["429"], c.PeakConcurrency)
}

// TestInvalidGrantStopsAccount: once the refresh token is revoked, the pass
// fails with ErrReauthorizationRequired, the account reports it, Run stops
// instead of looping, and later passes do not call the token endpoint (or
// anything else) again.
func TestInvalidGrantStopsAccount(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 200)
	x := h.extractor(t, extractor.Config{PageSize: 100, PollInterval: 10 * time.Millisecond})
	if _, err := x.Pass(t.Context()); err != nil {
		t.Fatal(err)
	}
	h.sb.RevokeRefreshTokens() // also invalidates the access tokens issued from it
	_, err := x.Pass(t.Context())
	if !errors.Is(err, netsuite.ErrReauthorizationRequired) {
		t.Fatalf("pass after revocation: %v, want ErrReauthorizationRequired", err)
	}
	if st := x.Stats(); !st.Reauthorize || st.LastError == "" {
		t.Fatalf("stats %+v: want reauthorization reported", st)
	}
	before := h.sb.Counters()
	if err := x.Run(t.Context()); !errors.Is(err, netsuite.ErrReauthorizationRequired) {
		t.Fatalf("Run: %v, want it to stop with ErrReauthorizationRequired", err)
	}
	for range 3 {
		if _, err := x.Pass(t.Context()); !errors.Is(err, netsuite.ErrReauthorizationRequired) {
			t.Fatal(err)
		}
	}
	after := h.sb.Counters()
	tokenBefore := statusCount(before, "oauth2.token", 400) + statusCount(before, "oauth2.token", 200)
	tokenAfter := statusCount(after, "oauth2.token", 400) + statusCount(after, "oauth2.token", 200)
	sq1, _ := apiRequests(before)
	sq2, _ := apiRequests(after)
	if tokenAfter != tokenBefore || sq2 != sq1 {
		t.Fatalf("after invalid_grant the account kept calling NetSuite: token %d → %d, suiteql %d → %d", tokenBefore, tokenAfter, sq1, sq2)
	}
}

// TestSuiteQLAttendeesAttached: in suiteql mode every event carries its
// attendee rows, fetched with at most a few extra queries per page.
func TestSuiteQLAttendeesAttached(t *testing.T) {
	t.Parallel()
	h := newHarnessWith(t, harnessOptions{sandbox: sandbox.Config{Events: 1500, Seed: 2}})
	h.pub.countAttendees = true
	x := h.extractor(t, extractor.Config{PageSize: 500, Attendees: extractor.AttendeesSuiteQL})
	if _, err := x.Pass(t.Context()); err != nil {
		t.Fatal(err)
	}
	got := 0
	for _, p := range h.pub.snapshot() {
		got += p.attendees
	}
	client := h.client(t, clientOptions{})
	page, err := client.SuiteQL(t.Context(), "SELECT COUNT(*) AS n FROM calendareventattendee att", 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := make([]string, 1)
	if err := jsonField(page.Items[0], "n", n); err != nil {
		t.Fatal(err)
	}
	want, _ := strconv.Atoi(n[0])
	if got < want { // overlap re-reads may add some twice
		t.Fatalf("events carry %d attendee rows, the sandbox has %d", got, want)
	}
}

// TestLeaseDoWaitsForLeader: a one-shot pass does not run beside a replica
// that leads the account; it runs once the lease is free.
func TestLeaseDoWaitsForLeader(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 10)
	account := h.sb.Config().Account
	leader, err := extractor.NewLease(h.leases, account, "leader", 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := leader.TryAcquire(t.Context()); !ok || err != nil {
		t.Fatalf("leader: %v %v", ok, err)
	}
	job, err := extractor.NewLease(h.leases, account, "job", 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ran := false
	err = job.Do(t.Context(), 1500*time.Millisecond, slog.New(slog.DiscardHandler), func(context.Context) error { ran = true; return nil })
	if !errors.Is(err, extractor.ErrLeaseHeld) || ran {
		t.Fatalf("Do beside a leader: ran=%v err=%v, want ErrLeaseHeld without running", ran, err)
	}
	leader.Release(t.Context())
	if err := job.Do(t.Context(), time.Second, slog.New(slog.DiscardHandler), func(context.Context) error { ran = true; return nil }); err != nil || !ran {
		t.Fatalf("Do with the lease free: ran=%v err=%v", ran, err)
	}
	if ok, _ := leader.TryAcquire(t.Context()); !ok {
		t.Fatal("Do did not give the lease back")
	}
}

// queryLog records the SuiteQL queries a pass makes, in the order their
// answers arrive.
type queryLog struct {
	extractor.NetSuite
	mu      sync.Mutex
	queries []string
}

func (l *queryLog) SuiteQL(ctx context.Context, q string, limit, offset int) (*netsuite.SuiteQLPage, error) {
	p, err := l.NetSuite.SuiteQL(ctx, q, limit, offset)
	l.mu.Lock()
	l.queries = append(l.queries, q)
	l.mu.Unlock()
	return p, err
}

// TestCatchUpRunsBesideBackfill: the read after the backfill's end (the
// events changed since the backfill started, from End minus the overlap) is
// made while the backfill's windows are still being read, not alone after
// them; the events cursor still ends at or after End, and nothing is lost.
func TestCatchUpRunsBesideBackfill(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	h := newHarnessWith(t, harnessOptions{sandbox: sandbox.Config{
		Events: 3000, Seed: 11, Now: func() time.Time { return now }, Latency: 5 * time.Millisecond,
	}})
	h.noDeletes = true
	log := &queryLog{NetSuite: h.client(t, clientOptions{})}
	cfg := extractor.Config{PageSize: 100, Attendees: extractor.AttendeesOff, Concurrency: 3, WindowRows: 500,
		Clock: func() time.Time { return now }}
	x := h.extractorWith(t, cfg, log)
	if _, err := x.Pass(t.Context()); err != nil {
		t.Fatal(err)
	}
	got, _ := h.pub.eventIDs()
	if missing, extra := diff(h.sandboxIDs(t), got); len(missing)+len(extra) > 0 {
		t.Fatalf("%d events missing (%v), %d invented", len(missing), first(missing, 5), len(extra))
	}
	loc, err := time.LoadLocation(h.sb.Config().TimeZone)
	if err != nil {
		t.Fatal(err)
	}
	from := "TO_TIMESTAMP('" + now.Add(-5*time.Minute).In(loc).Format("2006-01-02 15:04:05")
	catchUp := slices.IndexFunc(log.queries, func(q string) bool { return strings.Contains(q, from) })
	if catchUp < 0 {
		t.Fatalf("no catch-up read from %s among %d queries", from, len(log.queries))
	}
	if last := len(log.queries) - 1; catchUp >= last-3 {
		t.Fatalf("the catch-up read was answered as query %d of %d: after the backfill, not beside it", catchUp+1, last+1)
	}
	if c := x.Stats().Cursor; c.LastModified.Before(now) {
		t.Fatalf("events cursor %v after the pass, want at or after the backfill's end %v", c.LastModified, now)
	}
}
