package extractor_test

import (
	"testing"
	"time"

	"github.com/nsflow/nsflow/pkg/extractor"
	"github.com/nsflow/nsflow/pkg/sandbox"
)

// TestBackfillReadsEveryEventOnce: the first pass of an account is a
// backfill in parallel windows; every live event is published, each once,
// and the events cursor ends at the backfill's end.
func TestBackfillReadsEveryEventOnce(t *testing.T) {
	t.Parallel()
	h := newHarnessWith(t, harnessOptions{sandbox: sandbox.Config{Events: 5000, Seed: 3}})
	x := h.extractor(t, extractor.Config{PageSize: 100, Attendees: extractor.AttendeesOff, Concurrency: 4})
	res, err := x.Pass(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := h.sandboxIDs(t)
	got, n := h.pub.eventIDs()
	if missing, extra := diff(want, got); len(missing)+len(extra) > 0 {
		t.Fatalf("backfill missed %d events (%v) and invented %d (%v)", len(missing), first(missing, 5), len(extra), first(extra, 5))
	}
	st := x.Stats()
	if st.Backfill.Windows < 2 || st.Backfill.WindowsDone != st.Backfill.Windows || !st.Backfill.Planned {
		t.Fatalf("backfill status %+v: want several windows, all done", st.Backfill)
	}
	if n > len(want)+100 { // the incremental pass after it re-reads the overlap window only
		t.Fatalf("published %d event messages for %d events", n, len(want))
	}
	if res.Events != n || st.Cursor.IsZero() {
		t.Fatalf("pass result %+v, stats %+v", res, st)
	}
	t.Logf("%d events in %d windows, %d pages", len(want), st.Backfill.Windows, st.Pages)
}

// TestKeysetPaging250kEventsNoLoss reads 250,000 events (attendees off) and
// compares the set of ids published with the sandbox's, read independently.
// It also holds the backfill to about one SuiteQL request per 1,000 events.
func TestKeysetPaging250kEventsNoLoss(t *testing.T) {
	t.Parallel() // about 30s with -race on two cores; 3s without
	const n = 250_000
	h := newHarnessWith(t, harnessOptions{sandbox: sandbox.Config{Events: n, Seed: 11, ConcurrencyLimit: 4}})
	x := h.extractor(t, extractor.Config{Attendees: extractor.AttendeesOff, Concurrency: 4})
	start := time.Now()
	if _, err := x.Pass(t.Context()); err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	suiteql, _ := apiRequests(h.sb.Counters())
	want := h.sandboxIDs(t)
	got, msgs := h.pub.eventIDs()
	if missing, extra := diff(want, got); len(missing)+len(extra) > 0 {
		t.Fatalf("missed %d events (%v), invented %d (%v)", len(missing), first(missing, 5), len(extra), first(extra, 5))
	}
	st := x.Stats()
	pages := int64(len(want)+999) / 1000
	tombPages := int64(st.Tombstones+999) / 1000
	// Per scan at most one partial page: the backfill's last window, the
	// incremental pass after it, and the deletions.
	if limit := pages + tombPages + 3; suiteql > limit {
		t.Fatalf("%d SuiteQL requests for %d events and %d tombstones, want at most %d", suiteql, len(want), st.Tombstones, limit)
	}
	t.Logf("%d events (%d messages), %d tombstones, %d SuiteQL requests, %d windows, %s",
		len(want), msgs, st.Tombstones, suiteql, st.Backfill.Windows, elapsed.Round(time.Millisecond))
}

// TestRESTAttendeeMode reads each changed event through the record API.
func TestRESTAttendeeMode(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 40)
	x := h.extractor(t, extractor.Config{Attendees: extractor.AttendeesREST, RESTConcurrency: 3})
	res, err := x.Pass(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if res.Events != h.sb.LiveEventCount() {
		t.Fatalf("read %d events, the sandbox has %d", res.Events, h.sb.LiveEventCount())
	}
	if _, record := apiRequests(h.sb.Counters()); record < int64(res.Events) {
		t.Fatalf("rest mode made %d record GETs for %d events", record, res.Events)
	}
}
