package standalone

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestSandboxEpoch: the first run of a data directory records its epoch; a
// later run with the same seed and size gets it back (so the sandbox serves
// the same data set); another seed or size, or a recorded epoch in the
// future, starts a new data set at now.
func TestSandboxEpoch(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	later := t0.Add(30 * 24 * time.Hour)
	must := func(got time.Time, err error) time.Time {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := must(sandboxEpoch(dir, 1, 100, t0)); !got.Equal(t0) {
		t.Fatalf("first run: epoch %v, want %v", got, t0)
	}
	if got := must(sandboxEpoch(dir, 1, 100, later)); !got.Equal(t0) {
		t.Fatalf("restart: epoch %v, want the first run's %v", got, t0)
	}
	if got := must(sandboxEpoch(dir, 2, 100, later)); !got.Equal(later) {
		t.Fatalf("another seed: epoch %v, want now %v", got, later)
	}
	if got := must(sandboxEpoch(dir, 2, 500, later.Add(time.Hour))); !got.Equal(later.Add(time.Hour)) {
		t.Fatalf("another size: epoch %v, want now", got)
	}
	if got := must(sandboxEpoch(dir, 2, 500, t0)); !got.Equal(t0) {
		t.Fatalf("recorded epoch in the future: got %v, want now %v", got, t0)
	}
	if err := os.WriteFile(filepath.Join(dir, "sandbox.json"), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := must(sandboxEpoch(dir, 2, 500, later)); !got.Equal(later) {
		t.Fatalf("unreadable sandbox.json: epoch %v, want now", got)
	}
	st, err := os.Stat(filepath.Join(dir, "sandbox.json"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("sandbox.json: %v, %v", st, err)
	}
}
