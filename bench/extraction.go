package bench

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/nsflow/nsflow/pkg/sandbox"
	"github.com/nsflow/nsflow/pkg/standalone"
)

// ExtractionRun is one backfill against the sandbox with latency and a
// concurrency limit.
type ExtractionRun struct {
	Attendees string `json:"attendees"`
	// Records is the number of distinct records (events and deletions) the
	// backfill delivered; Requests the NetSuite API requests it made (SuiteQL
	// and REST, not OAuth), by endpoint in ByEndpoint.
	Records          uint64           `json:"records"`
	Requests         int64            `json:"requests"`
	RequestsPer1000  float64          `json:"requests_per_1000_records"`
	ByEndpoint       map[string]int64 `json:"requests_by_endpoint"`
	TokenRequests    int64            `json:"token_requests"`
	Seconds          float64          `json:"extraction_seconds"`
	RecordsPerSec    float64          `json:"records_per_sec"`
	ConcurrencyLimit int              `json:"concurrency_limit"`
	PeakConcurrency  int64            `json:"peak_concurrency"`
	// Utilization is the mean number of requests in flight at NetSuite,
	// sampled every 10 ms from the start of the backfill to its end, over
	// the limit.
	Utilization float64 `json:"concurrency_utilization"`
	Rejected    int64   `json:"concurrency_rejected"`
}

func (b *runner) extraction(ctx context.Context) error {
	for _, mode := range []string{"off", "suiteql"} {
		r, err := b.extractionRun(ctx, mode)
		if err != nil {
			return fmt.Errorf("attendees %s: %w", mode, err)
		}
		b.res.Extraction = append(b.res.Extraction, r)
		b.logf("extraction (attendees %s): %d records, %d requests = %.3f per 1000, %.0f records/s, utilisation %.0f%% (peak %d of %d, %d refused), by endpoint %v",
			mode, r.Records, r.Requests, r.RequestsPer1000, r.RecordsPerSec, r.Utilization*100, r.PeakConcurrency, r.ConcurrencyLimit, r.Rejected, r.ByEndpoint)
	}
	return nil
}

func (b *runner) extractionRun(ctx context.Context, attendees string) (ExtractionRun, error) {
	dir, err := b.dir("extraction-" + attendees)
	if err != nil {
		return ExtractionRun{}, err
	}
	cfg, err := standaloneConfig(dir, b.cfg.ExtractionEvents)
	if err != nil {
		return ExtractionRun{}, err
	}
	cfg.Attendees = attendees
	cfg.NetSuite.Concurrency = b.cfg.ExtractionConcurrency
	sb, err := sandbox.New(sandbox.Config{
		Events: b.cfg.ExtractionEvents, Seed: cfg.SandboxSeed, TimeZone: cfg.NetSuite.TimeZone,
		Latency: b.cfg.ExtractionLatency, ConcurrencyLimit: b.cfg.ExtractionConcurrency,
	})
	if err != nil {
		return ExtractionRun{}, err
	}
	defer sb.Close()
	url, err := sb.Start("127.0.0.1:0")
	if err != nil {
		return ExtractionRun{}, fmt.Errorf("start sandbox: %w", err)
	}

	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		inflight float64
		samples  int
		began    time.Time
		ended    time.Time
	)
	sctx, stopSampling := context.WithCancel(ctx)
	defer stopSampling()
	ready := func(p *standalone.Pipeline) {
		mu.Lock()
		began = time.Now()
		mu.Unlock()
		wg.Go(func() {
			t := time.NewTicker(10 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-sctx.Done():
					return
				case <-t.C:
				}
				c := sb.Counters()
				done := p.Extractor.X.Stats().Passes > 0
				mu.Lock()
				if done {
					ended = time.Now()
					mu.Unlock()
					return
				}
				inflight += float64(c.InFlight)
				samples++
				mu.Unlock()
			}
		})
	}
	sum, err := standalone.Run(ctx, cfg, standalone.Options{Once: true, Sandbox: sb, SandboxURL: url, Ready: ready, Logger: b.logger()})
	stopSampling()
	wg.Wait()
	if err != nil {
		return ExtractionRun{}, err
	}
	mu.Lock()
	defer mu.Unlock()
	if ended.IsZero() {
		ended = began.Add(sum.Elapsed)
	}
	c := sb.Counters()
	r := ExtractionRun{
		Attendees: attendees, Records: sum.Loaded, ByEndpoint: map[string]int64{},
		ConcurrencyLimit: b.cfg.ExtractionConcurrency, PeakConcurrency: c.PeakConcurrency, Rejected: c.ConcurrencyRejected,
	}
	for ep, byStatus := range c.Requests {
		var n int64
		for k := range maps.Values(byStatus) {
			n += k
		}
		if strings.HasPrefix(ep, "oauth2.") {
			r.TokenRequests += n
			continue
		}
		r.ByEndpoint[ep] = n
		r.Requests += n
	}
	elapsed := ended.Sub(began)
	r.Seconds = round(elapsed.Seconds(), 2)
	r.RecordsPerSec = round(perSecond(r.Records, elapsed), 0)
	r.RequestsPer1000 = round(float64(r.Requests)*1000/float64(max(r.Records, 1)), 3)
	if samples > 0 {
		r.Utilization = round(inflight/float64(samples)/float64(b.cfg.ExtractionConcurrency), 3)
	}
	return r, nil
}
