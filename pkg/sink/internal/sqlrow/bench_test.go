package sqlrow_test

import (
	"testing"

	"github.com/nsflow/nsflow/pkg/calendarevent"
	"github.com/nsflow/nsflow/pkg/sink/internal/sqlrow"
	"github.com/nsflow/nsflow/pkg/sink/sinktest"
)

// BenchmarkPrepare measures the Go-side encoding of a 1,000-event batch.
func BenchmarkPrepare(b *testing.B) {
	events := sinktest.Batch("BENCH", "ev-", 1000, sinktest.T0, 1)
	for b.Loop() {
		if _, err := sqlrow.Prepare(events); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*1000), "µs/row")
}

// BenchmarkMarshal is the canonical JSON encoding alone, one core.
func BenchmarkMarshal(b *testing.B) {
	e := sinktest.NewEvent("BENCH", "ev", sinktest.T0, 1)
	for b.Loop() {
		if _, err := calendarevent.Marshal(e); err != nil {
			b.Fatal(err)
		}
	}
}
