//go:build !race

package sqlite_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/nsflow/nsflow/pkg/sink"
	"github.com/nsflow/nsflow/pkg/sink/sinktest"
)

// TestMemoryBounded writes 60,000 events and checks that the process's
// anonymous memory stops growing once SQLite's page cache is full (768
// pages of 16 KiB). A cache_size given as a size in KiB is turned into a
// page count while a new file still has 4 KiB pages; with the 32 KiB pages
// it then got, the cache held eight times its size: 512 MiB for "64 MiB",
// and the loader's RSS grew with every event it wrote. The
// race detector's shadow memory would blur the figure, hence !race; `make
// test` runs this test without it too.
func TestMemoryBounded(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "mem.db"), sink.DeleteRow)
	write := func(from, to int) {
		for i := from; i < to; i++ {
			if err := s.Write(t.Context(), sinktest.Batch("A", fmt.Sprintf("m%d-", i), 1000, sinktest.T0, uint64(i))); err != nil {
				t.Fatal(err)
			}
		}
	}
	write(0, 15) // ~60 MB of data: the cache is full
	base := rssAnonKB(t)
	write(15, 60) // ~180 MB more
	grown := rssAnonKB(t) - base
	t.Logf("anonymous memory after 15k events %d MB, grown by %d MB over the next 45k", base>>10, grown>>10)
	if grown > 48<<10 {
		t.Fatalf("anonymous memory grew by %d MB while writing 45,000 events: the SQLite cache is not bounded", grown>>10)
	}
}

func rssAnonKB(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc/self/status: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "RssAnon:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb
		}
	}
	t.Skip("no RssAnon in /proc/self/status")
	return 0
}
