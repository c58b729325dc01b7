package extractor_test

import (
	"context"
	"testing"
	"time"

	"github.com/nsflow/nsflow/pkg/extractor"
	"github.com/nsflow/nsflow/pkg/governor"
	"github.com/nsflow/nsflow/pkg/sandbox"
)

// BenchmarkExtract measures a whole first extraction (a backfill) against
// the sandbox with 200 ms latency on every request and a concurrency budget
// of 4 (the sandbox's limit and the extractor's), the shape of a real
// account far away: NetSuite requests per 1,000 events and events per
// second, headers only and with attendees from SuiteQL. Deletions are off so
// the figures are the events path alone.
//
//	go test -run '^$' -bench BenchmarkExtract -benchtime 1x ./pkg/extractor/
func BenchmarkExtract(b *testing.B) {
	for _, tc := range []struct {
		name   string
		mode   extractor.AttendeeMode
		events int
	}{
		{"headers", extractor.AttendeesOff, 100_000},
		{"attendees=suiteql", extractor.AttendeesSuiteQL, 20_000},
	} {
		b.Run(tc.name, func(b *testing.B) {
			h := newHarnessWith(b, harnessOptions{sandbox: sandbox.Config{Events: tc.events, Seed: 21, ConcurrencyLimit: 4}})
			h.noDeletes = true
			var requests, events, tokens int64
			var elapsed time.Duration
			for b.Loop() {
				b.StopTimer()
				h.resetState(b)
				lim, err := governor.NewLocal(4)
				if err != nil {
					b.Fatal(err)
				}
				x := h.extractorWith(b, extractor.Config{Attendees: tc.mode, Concurrency: 4}, h.client(b, clientOptions{limiter: lim}))
				h.sb.SetLatency(200 * time.Millisecond)
				h.sb.ResetCounters()
				b.StartTimer()
				start := time.Now()
				res, err := x.Pass(context.Background())
				elapsed += time.Since(start)
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				h.sb.SetLatency(0)
				c := h.sb.Counters()
				sq, rec := apiRequests(c)
				requests += sq + rec
				tokens += statusCount(c, "oauth2.token", 200)
				events += int64(res.Events)
				if peak := c.PeakConcurrency; peak > 4 || c.ConcurrencyRejected > 0 {
					b.Fatalf("peak concurrency %d, %d refused", peak, c.ConcurrencyRejected)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(requests)*1000/float64(events), "requests/1000events")
			b.ReportMetric(float64(events)/elapsed.Seconds(), "events/s")
			b.ReportMetric(float64(tokens)/float64(b.N), "token-requests/op")
		})
	}
}

// resetState deletes every key of the state bucket: cursors and backfill
// plans, so the next pass starts from scratch.
func (h *harness) resetState(b testing.TB) {
	b.Helper()
	keys, err := h.state.ListKeys(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	for k := range keys.Keys() {
		if err := h.state.Purge(context.Background(), k); err != nil {
			b.Fatal(err)
		}
	}
}
