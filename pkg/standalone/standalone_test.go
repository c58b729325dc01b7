package standalone_test

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/nsflow/nsflow/pkg/calendarevent"
	"github.com/nsflow/nsflow/pkg/config"
	"github.com/nsflow/nsflow/pkg/sandbox"
	"github.com/nsflow/nsflow/pkg/standalone"
)

func testConfig(t *testing.T, dataDir string) config.Standalone {
	t.Helper()
	var cfg config.Standalone
	if err := config.Load(nil, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg.DataDir = dataDir
	cfg.OpsAddr = ""
	cfg.NATSListen = ""
	cfg.PollInterval = 100 * time.Millisecond
	cfg.LogLevel = "warn"
	return cfg
}

func newSandbox(t *testing.T, events int) *sandbox.Sandbox {
	t.Helper()
	sb, err := sandbox.New(sandbox.Config{Events: events, Seed: 42})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	url, err := sb.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	urlsMu.Lock()
	sandboxURLs[sb] = url
	urlsMu.Unlock()
	return sb
}

var sandboxURLs = map[*sandbox.Sandbox]string{}

func openDB(t *testing.T, dataDir string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dataDir, "events.db")+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func count(t *testing.T, db *sql.DB, q string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRow(q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type running struct {
	p      *standalone.Pipeline
	cancel context.CancelFunc
	done   chan result
}

type result struct {
	sum standalone.Summary
	err error
}

func start(t *testing.T, cfg config.Standalone, sb *sandbox.Sandbox) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan *standalone.Pipeline, 1)
	r := &running{cancel: cancel, done: make(chan result, 1)}
	go func() {
		sum, err := standalone.Run(ctx, cfg, standalone.Options{Logger: testLogger(t), Sandbox: sb, SandboxURL: urlOf(sb), Ready: func(p *standalone.Pipeline) { ready <- p }})
		r.done <- result{sum, err}
	}()
	select {
	case r.p = <-ready:
	case res := <-r.done:
		cancel()
		t.Fatalf("pipeline stopped before it was ready: %v", res.err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("pipeline not ready within 30s")
	}
	t.Cleanup(func() { r.stop(t) })
	return r
}

func (r *running) stop(t *testing.T) result {
	t.Helper()
	r.cancel()
	select {
	case res, ok := <-r.done:
		if ok {
			close(r.done)
		}
		if res.err != nil && !errors.Is(res.err, context.Canceled) {
			t.Errorf("pipeline: %v", res.err)
		}
		return res
	case <-time.After(60 * time.Second):
		t.Fatal("pipeline did not shut down within 60s")
	}
	return result{}
}

// TestPipelineMovesEveryEventExactlyOnceAndFollowsChanges is the foundation's
// end-to-end component test: sandbox → extractor → transformer → loader →
// SQLite on an in-process JetStream server.
func TestPipelineMovesEveryEventExactlyOnceAndFollowsChanges(t *testing.T) {
	t.Parallel()
	const n = 1500
	sb := newSandbox(t, n)
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	r := start(t, cfg, sb)
	db := openDB(t, dir)

	live := sb.LiveEventCount()
	eventually(t, 3*time.Minute, "every live event in SQLite", func() bool {
		got := count(t, db, "SELECT COUNT(*) FROM calendar_events")
		return got == live
	})
	if d := count(t, db, "SELECT COUNT(DISTINCT account || '/' || id) FROM calendar_events"); d != live {
		t.Fatalf("%d distinct events for %d rows", d, live)
	}
	// Exactly once: overlap re-reads were dropped as duplicates by Nats-Msg-Id,
	// every raw message became exactly one canonical event, and every
	// canonical event is one row or one tombstone in the sink.
	if err := r.p.WaitDrained(context.Background()); err != nil {
		t.Fatal(err)
	}
	rawMsgs, eventMsgs := streamMsgs(t, r, calendarevent.StreamRaw), streamMsgs(t, r, calendarevent.StreamEvents)
	tombstones := count(t, db, "SELECT COUNT(*) FROM calendar_event_tombstones")
	if rawMsgs != eventMsgs || eventMsgs != uint64(live+tombstones) {
		t.Fatalf("raw stream %d, canonical stream %d, sink rows %d + tombstones %d: not exactly once", rawMsgs, eventMsgs, live, tombstones)
	}
	if ex := r.p.Extractor.X.Stats(); ex.Events+ex.Tombstones < rawMsgs {
		t.Fatalf("extractor published %d+%d, fewer than the %d stored", ex.Events, ex.Tombstones, rawMsgs)
	}
	if got := count(t, db, "SELECT COUNT(*) FROM calendar_events WHERE deleted = 1"); got != 0 {
		t.Fatalf("%d rows marked deleted in delete-row mode", got)
	}

	// Change one event and delete another while the pipeline runs.
	var changed, deleted string
	rows, err := db.Query("SELECT id FROM calendar_events ORDER BY CAST(id AS INTEGER) LIMIT 2")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for rows.Next() {
		var id string
		_ = rows.Scan(&id)
		ids = append(ids, id)
	}
	rows.Close()
	changed, deleted = ids[0], ids[1]
	title := "Renamed during the run " + strconv.Itoa(time.Now().Nanosecond())
	if err := sb.UpdateEvent(changed, sandbox.EventInput{Title: &title}); err != nil {
		t.Fatal(err)
	}
	if err := sb.DeleteEvent(deleted); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Minute, "the change and the deletion in SQLite", func() bool {
		var got string
		_ = db.QueryRow("SELECT title FROM calendar_events WHERE id = ?", changed).Scan(&got)
		return got == title && count(t, db, "SELECT COUNT(*) FROM calendar_events WHERE id = ?", deleted) == 0
	})
	if got := count(t, db, "SELECT COUNT(*) FROM calendar_events"); got != live-1 {
		t.Fatalf("%d rows after one deletion, want %d", got, live-1)
	}
	if got := count(t, db, "SELECT COUNT(*) FROM calendar_event_attendees WHERE event_id = ?", deleted); got != 0 {
		t.Fatalf("deleted event keeps %d attendee rows", got)
	}
	res := r.stop(t)
	if res.sum.DeadLetters != 0 {
		t.Fatalf("%d dead letters from a clean data set", res.sum.DeadLetters)
	}
}

func streamMsgs(t *testing.T, r *running, name string) uint64 {
	t.Helper()
	st, err := r.p.JS.Stream(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

// TestOnceLoadsEverythingAndExits: `nsflow run --once` semantics.
func TestOnceLoadsEverythingAndExits(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t, 1000)
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sum, err := standalone.Run(ctx, cfg, standalone.Options{Once: true, Sandbox: sb, SandboxURL: urlOf(sb)})
	if err != nil {
		t.Fatal(err)
	}
	db := openDB(t, dir)
	live := sb.LiveEventCount()
	if got := count(t, db, "SELECT COUNT(*) FROM calendar_events"); got != live {
		t.Fatalf("%d rows after --once, sandbox has %d live events", got, live)
	}
	if sum.Extracted < uint64(live) || sum.Loaded < uint64(live) || sum.DeadLetters != 0 {
		t.Fatalf("summary %+v for %d live events", sum, live)
	}
}

// TestExtractorRestartResumesFromCursor stops the whole pipeline in the middle
// of the first extraction and starts it again on the same data directory: the
// second run continues from the saved cursor (it does not re-read what was
// stored) and the sink ends up with every event exactly once.
func TestExtractorRestartResumesFromCursor(t *testing.T) {
	t.Parallel()
	const n = 2000
	sb := newSandbox(t, n)
	sb.SetLatency(5 * time.Millisecond) // so the first run can be stopped mid-way
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	cfg.PageSize = 100
	// One pass per run: later polls would re-read the overlap window and blur
	// what the second run's first pass read.
	cfg.PollInterval = time.Hour

	r1 := start(t, cfg, sb)
	eventually(t, 3*time.Minute, "the first run to be part-way", func() bool {
		return r1.p.Extractor.X.Stats().Events >= 600
	})
	first := r1.stop(t)
	if first.sum.Extracted >= uint64(n) {
		t.Fatalf("first run extracted everything (%d) before it was stopped; the test proves nothing", first.sum.Extracted)
	}
	sb.SetLatency(0)
	r2 := start(t, cfg, sb)
	db := openDB(t, dir)
	live := sb.LiveEventCount()
	eventually(t, 3*time.Minute, "every event after the restart", func() bool {
		return count(t, db, "SELECT COUNT(*) FROM calendar_events") == live
	})
	second := r2.p.Extractor.X.Stats().Events
	// Resumed, not restarted: the second run read the rest plus at most one
	// page and the overlap window, not the whole account again.
	if second+first.sum.Extracted > uint64(n)+uint64(cfg.PageSize)+200 {
		t.Fatalf("second run re-read %d events after the first read %d of %d: it did not resume from the cursor", second, first.sum.Extracted, n)
	}
	if d := count(t, db, "SELECT COUNT(DISTINCT id) FROM calendar_events"); d != live {
		t.Fatalf("%d distinct ids, want %d", d, live)
	}
}

var urlsMu sync.Mutex

func urlOf(sb *sandbox.Sandbox) string {
	urlsMu.Lock()
	defer urlsMu.Unlock()
	return sandboxURLs[sb]
}

func testLogger(t *testing.T) *slog.Logger {
	if os.Getenv("NSFLOW_TEST_LOG") == "" {
		return nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
