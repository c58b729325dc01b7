package bench

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nsflow/nsflow/pkg/broker"
	"github.com/nsflow/nsflow/pkg/natsembed"
	"github.com/nsflow/nsflow/pkg/pipeline"
	"github.com/nsflow/nsflow/pkg/sandbox"
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
	// InFlightShare[k] is the share of samples with k requests in flight
	// (the last entry: the limit or more).
	InFlightShare []float64 `json:"in_flight_share"`
	Rejected      int64     `json:"concurrency_rejected"`
}

func (b *runner) extraction(ctx context.Context) error {
	for _, mode := range []string{"off", "suiteql"} {
		r, err := b.extractionRun(ctx, mode)
		if err != nil {
			return fmt.Errorf("attendees %s: %w", mode, err)
		}
		b.res.Extraction = append(b.res.Extraction, r)
		b.logf("extraction (attendees %s): %d records, %d requests = %.3f per 1000, %.0f records/s, utilisation %.0f%% (peak %d of %d, %d refused; share of time with 0..%d in flight %v), by endpoint %v",
			mode, r.Records, r.Requests, r.RequestsPer1000, r.RecordsPerSec, r.Utilization*100, r.PeakConcurrency, r.ConcurrencyLimit, r.Rejected, r.ConcurrencyLimit, r.InFlightShare, r.ByEndpoint)
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

	// The extractor runs alone, as its own service does, against its own
	// NATS server: what is measured is how well it keeps NetSuite's
	// concurrency budget busy. Run inside the whole standalone pipeline it
	// shares two cores with the transformer and the loader and is held back
	// by them (utilisation 24% in the first runs), which says nothing about
	// the extractor.
	sc := sb.Config()
	cfg.NetSuite.AccountID, cfg.NetSuite.AuthMode = sc.Account, "refresh_token"
	cfg.NetSuite.ClientID, cfg.NetSuite.ClientSecret = sc.ClientID, sc.ClientSecret
	cfg.NetSuite.RefreshToken, cfg.NetSuite.BaseURL = sb.RefreshToken(), url
	cfg.NetSuite.TokenURL = url + "/services/rest/auth/oauth2/v1/token"
	cfg.NetSuite.TimeZone = sc.TimeZone
	srv, err := natsembed.Start(natsembed.Config{StoreDir: filepath.Join(dir, "nats"), NoListen: true, Logger: b.logger()})
	if err != nil {
		return ExtractionRun{}, err
	}
	defer srv.Shutdown()
	nc, err := srv.Connect()
	if err != nil {
		return ExtractionRun{}, err
	}
	defer nc.Close()
	js, err := broker.JetStream(nc, cfg.NATS)
	if err != nil {
		return ExtractionRun{}, err
	}
	topo := cfg.Topology
	topo.Sinks = []string{"sqlite"}
	if err := broker.Provision(ctx, js, topo); err != nil {
		return ExtractionRun{}, err
	}
	cfg.Extractor.Topology = topo
	x, err := pipeline.NewExtractor(ctx, pipeline.Env{NC: nc, JS: js, Log: b.logger()}, cfg.Extractor)
	if err != nil {
		return ExtractionRun{}, err
	}

	var (
		wg       sync.WaitGroup
		inflight float64
		samples  int
		byLevel  = make([]int, b.cfg.ExtractionConcurrency+1)
	)
	sctx, stopSampling := context.WithCancel(ctx)
	wg.Go(func() {
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-sctx.Done():
				return
			case <-t.C:
			}
			n := sb.Counters().InFlight
			inflight += float64(n)
			samples++
			byLevel[min(max(int(n), 0), len(byLevel)-1)]++
		}
	})
	began := time.Now()
	res, err := x.Once(ctx)
	elapsed := time.Since(began)
	stopSampling()
	wg.Wait()
	if err != nil {
		return ExtractionRun{}, err
	}
	c := sb.Counters()
	r := ExtractionRun{
		Attendees: attendees, Records: uint64(res.Events + res.Tombstones), ByEndpoint: map[string]int64{},
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
	r.Seconds = round(elapsed.Seconds(), 2)
	r.RecordsPerSec = round(perSecond(r.Records, elapsed), 0)
	r.RequestsPer1000 = round(float64(r.Requests)*1000/float64(max(r.Records, 1)), 3)
	if samples > 0 {
		r.Utilization = round(inflight/float64(samples)/float64(b.cfg.ExtractionConcurrency), 3)
		for _, c := range byLevel {
			r.InFlightShare = append(r.InFlightShare, round(float64(c)/float64(samples), 3))
		}
	}
	return r, nil
}
