package bench

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"time"

	_ "modernc.org/sqlite" // database/sql driver "sqlite"

	"github.com/nsflow/nsflow/pkg/sandbox"
	"github.com/nsflow/nsflow/pkg/standalone"
)

// LatencyRun is the change-to-row latency at a polling interval.
type LatencyRun struct {
	PollIntervalMS float64 `json:"poll_interval_ms"`
	Changes        int     `json:"changes"`
	P50MS          float64 `json:"p50_ms"`
	P90MS          float64 `json:"p90_ms"`
	P99MS          float64 `json:"p99_ms"`
	MaxMS          float64 `json:"max_ms"`
}

// latency runs the standalone pipeline polling every PollInterval, waits
// for the initial load, then changes the title of LatencyChanges events at
// random moments (gaps uniform in 0–300 ms, so changes fall at every phase of
// the polling cycle) and measures, for each, the time until SQLite holds the
// new title.
func (b *runner) latency(ctx context.Context) error {
	dir, err := b.dir("latency")
	if err != nil {
		return err
	}
	cfg, err := standaloneConfig(dir, b.cfg.LatencyEvents)
	if err != nil {
		return err
	}
	cfg.PollInterval = b.cfg.PollInterval
	sb, err := sandbox.New(sandbox.Config{Events: b.cfg.LatencyEvents, Seed: cfg.SandboxSeed, TimeZone: cfg.NetSuite.TimeZone})
	if err != nil {
		return err
	}
	defer sb.Close()
	url, err := sb.Start("127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("start sandbox: %w", err)
	}
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	ready := make(chan *standalone.Pipeline, 1)
	runErr := make(chan error, 1)
	go func() {
		_, err := standalone.Run(rctx, cfg, standalone.Options{Sandbox: sb, SandboxURL: url, Logger: b.logger(),
			Ready: func(p *standalone.Pipeline) { ready <- p }})
		runErr <- err
	}()
	var p *standalone.Pipeline
	select {
	case p = <-ready:
	case err := <-runErr:
		return fmt.Errorf("pipeline stopped: %w", err)
	case <-ctx.Done():
		return ctx.Err()
	}
	lats, err := b.measureLatency(rctx, p, sb, filepath.Join(dir, "events.db"))
	stop()
	if rerr := <-runErr; rerr != nil && !errors.Is(rerr, context.Canceled) && err == nil {
		err = rerr
	}
	if err != nil {
		return err
	}
	r := LatencyRun{PollIntervalMS: float64(b.cfg.PollInterval.Milliseconds()), Changes: len(lats),
		P50MS: round(percentile(lats, 50), 0), P90MS: round(percentile(lats, 90), 0),
		P99MS: round(percentile(lats, 99), 0), MaxMS: round(percentile(lats, 100), 0)}
	b.res.Latency = &r
	b.logf("latency at %s polling: %d changes, p50 %.0f ms, p90 %.0f ms, p99 %.0f ms, max %.0f ms",
		b.cfg.PollInterval, r.Changes, r.P50MS, r.P90MS, r.P99MS, r.MaxMS)
	return nil
}

func (b *runner) measureLatency(ctx context.Context, p *standalone.Pipeline, sb *sandbox.Sandbox, dbPath string) ([]float64, error) {
	// The initial load: the first pass, drained into SQLite.
	for p.Extractor.X.Stats().Passes == 0 {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	if err := p.WaitDrained(ctx); err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", "file:"+dbPath+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	defer db.Close()
	var ids []string
	rows, err := db.QueryContext(ctx, `SELECT id FROM calendar_events ORDER BY random() LIMIT ?`, b.cfg.LatencyChanges)
	if err != nil {
		return nil, fmt.Errorf("pick events: %w", err)
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			_ = rows.Close()
			return nil, err
		}
		ids = append(ids, id)
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, errors.New("no events loaded")
	}
	type change struct {
		title string
		at    time.Time
	}
	var (
		mu      sync.Mutex
		pending = map[string]change{}
		lats    []float64
		issued  = make(chan struct{})
	)
	watchErr := make(chan error, 1)
	go func(issued <-chan struct{}) {
		q, err := db.PrepareContext(ctx, `SELECT title FROM calendar_events WHERE id = ?`)
		if err != nil {
			watchErr <- err
			return
		}
		defer q.Close()
		allIssued := false
		deadline := time.Time{}
		for {
			select {
			case <-ctx.Done():
				watchErr <- ctx.Err()
				return
			case <-issued:
				allIssued, issued = true, nil
				deadline = time.Now().Add(30*time.Second + 3*b.cfg.PollInterval)
			case <-time.After(5 * time.Millisecond):
			}
			mu.Lock()
			for id, c := range pending {
				var title sql.NullString
				if err := q.QueryRowContext(ctx, id).Scan(&title); err != nil && !errors.Is(err, sql.ErrNoRows) {
					continue // the loader holds the write lock; read again next round
				}
				if title.String == c.title {
					lats = append(lats, float64(time.Since(c.at).Microseconds())/1000)
					delete(pending, id)
				}
			}
			left := len(pending)
			mu.Unlock()
			if allIssued && left == 0 {
				watchErr <- nil
				return
			}
			if allIssued && time.Now().After(deadline) {
				watchErr <- fmt.Errorf("%d changes never reached the sink", left)
				return
			}
		}
	}(issued)
	for i, id := range ids {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(rand.N(300 * time.Millisecond)):
		}
		title := fmt.Sprintf("nsbench latency %d %d", i, time.Now().UnixNano())
		mu.Lock()
		at := time.Now()
		err := sb.UpdateEvent(id, sandbox.EventInput{Title: &title})
		if err == nil {
			pending[id] = change{title: title, at: at}
		}
		mu.Unlock()
		if err != nil {
			return nil, fmt.Errorf("update event %s: %w", id, err)
		}
	}
	close(issued)
	if err := <-watchErr; err != nil {
		return nil, err
	}
	return lats, nil
}
