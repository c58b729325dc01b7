package bench_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nsflow/nsflow/bench"
)

// TestHarnessSmall runs every section at a tiny size: it proves the harness
// works, not how fast anything is (no figure is checked against a target).
// PostgreSQL is replayed into when NSFLOW_TEST_POSTGRES_URL is set.
func TestHarnessSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the service binaries and runs every stage; skipped with -short")
	}
	cfg := bench.Config{
		Events:            2000,
		Repeat:            1,
		ExtractionEvents:  2000,
		ExtractionLatency: 20 * time.Millisecond,
		BacklogEvents:     2000,
		BacklogRun:        5 * time.Second,
		LatencyEvents:     500,
		LatencyChanges:    5,
		PollInterval:      200 * time.Millisecond,
		PostgresURL:       os.Getenv("NSFLOW_TEST_POSTGRES_URL"),
		PostgresSkip:      "NSFLOW_TEST_POSTGRES_URL is not set",
		WorkDir:           t.TempDir(),
	}
	if testing.Verbose() {
		cfg.Progress = os.Stderr
	}
	res, err := bench.Run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.E2ERuns) != 1 || len(res.ReferenceRuns) != 1 || res.E2ERatio == nil {
		t.Fatalf("want one e2e/reference pair, got %d/%d", len(res.E2ERuns), len(res.ReferenceRuns))
	}
	if res.E2ERuns[0].Events < 2000 || res.ReferenceRuns[0].Messages != int(res.E2ERuns[0].Events) {
		t.Errorf("e2e loaded %d events, reference relayed %d", res.E2ERuns[0].Events, res.ReferenceRuns[0].Messages)
	}
	if res.ReplaySQLite == nil || res.ReplaySQLite.Rows != res.E2ERuns[len(res.E2ERuns)-1].Events {
		t.Errorf("replay into SQLite: %+v", res.ReplaySQLite)
	}
	if os.Getenv("NSFLOW_TEST_POSTGRES_URL") != "" && res.ReplayPostgres == nil {
		t.Errorf("replay into PostgreSQL did not run: %s", res.ReplayPostgresSkipped)
	}
	if len(res.Extraction) != 2 || res.RequestsPer1000 == nil || res.RequestsPer1000Attendees == nil {
		t.Errorf("extraction: %+v", res.Extraction)
	}
	if len(res.Memory) != 3 {
		t.Errorf("memory: want 3 stages, got %+v", res.Memory)
	}
	if res.Latency == nil || res.Latency.Changes != cfg.LatencyChanges {
		t.Errorf("latency: %+v", res.Latency)
	}
	out := filepath.Join(t.TempDir(), "latest.json")
	if err := res.WriteJSON(out); err != nil {
		t.Fatal(err)
	}
	var table strings.Builder
	res.WriteTable(&table)
	t.Log("\n" + table.String())
}
