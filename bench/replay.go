package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/nsflow/nsflow/pkg/broker"
	"github.com/nsflow/nsflow/pkg/calendarevent"
	"github.com/nsflow/nsflow/pkg/config"
	"github.com/nsflow/nsflow/pkg/pipeline"
	"github.com/nsflow/nsflow/pkg/sink"
)

// ReplayRun is one replay of the canonical stream into a fresh sink.
type ReplayRun struct {
	Rows       uint64  `json:"rows"`
	Seconds    float64 `json:"seconds"`
	RowsPerSec float64 `json:"rows_per_sec"`
	// CPUSecPer1000 is this process's CPU per 1,000 rows: the loader and
	// NATS server, plus SQLite itself (embedded) but not a PostgreSQL server.
	CPUSecPer1000 float64 `json:"cpu_sec_per_1000_rows"`
	// WrittenKBPerRow is what the process wrote to storage per row (the
	// SQLite file and WAL; the JetStream store only for acks).
	WrittenKBPerRow float64 `json:"written_kb_per_row"`
}

// replay re-reads the EVENTS stream of the last e2e run with a new durable
// consumer, through the loader stage as the product runs it (batch 1000 /
// 50 ms, 2048 in flight), into a fresh SQLite file and a fresh PostgreSQL
// schema.
func (b *runner) replay(ctx context.Context) error {
	store := b.cfg.ReplayStore
	if store == "" {
		if b.lastE2EDir == "" {
			return errors.New("no e2e run to replay (it failed or was not selected)")
		}
		store = filepath.Join(b.lastE2EDir, "nats")
	}
	srv, nc, js, err := openStore(store)
	if err != nil {
		return err
	}
	defer srv.Shutdown()
	defer nc.Close()
	env := pipeline.Env{NC: nc, JS: js, Log: b.logger()}

	var errs []error
	dir, err := b.dir("replay")
	if err != nil {
		return err
	}
	if r, err := b.replayInto(ctx, env, "sqlite:"+filepath.Join(dir, "events.db")); err != nil {
		errs = append(errs, fmt.Errorf("sqlite: %w", err))
	} else {
		b.res.ReplaySQLite = &r
		b.logf("replay sqlite: %d rows in %.1fs = %.0f rows/s, %.3f CPU-s/1000, %.1f KB written/row", r.Rows, r.Seconds, r.RowsPerSec, r.CPUSecPer1000, r.WrittenKBPerRow)
	}
	if b.cfg.PostgresURL == "" {
		b.res.ReplayPostgresSkipped = b.cfg.PostgresSkip
		if b.res.ReplayPostgresSkipped == "" {
			b.res.ReplayPostgresSkipped = "no PostgreSQL URL (set NSFLOW_TEST_POSTGRES_URL or run .ci/postgres.sh)"
		}
		b.logf("replay postgres: skipped: %s", b.res.ReplayPostgresSkipped)
		return errors.Join(errs...)
	}
	schemaURL, drop, err := freshSchema(ctx, b.cfg.PostgresURL)
	if err != nil {
		b.res.ReplayPostgresSkipped = err.Error()
		b.logf("replay postgres: skipped: %v", err)
		return errors.Join(errs...)
	}
	defer drop()
	if r, err := b.replayInto(ctx, env, schemaURL); err != nil {
		errs = append(errs, fmt.Errorf("postgres: %w", err))
	} else {
		b.res.ReplayPostgres = &r
		b.logf("replay postgres: %d rows in %.1fs = %.0f rows/s, %.3f CPU-s/1000 (client side)", r.Rows, r.Seconds, r.RowsPerSec, r.CPUSecPer1000)
	}
	return errors.Join(errs...)
}

func (b *runner) replayInto(ctx context.Context, env pipeline.Env, sinkURL string) (ReplayRun, error) {
	var cfg config.Loader
	if err := config.Load(nil, &cfg); err != nil {
		return ReplayRun{}, fmt.Errorf("loader defaults: %w", err)
	}
	cfg.Sink = sinkURL
	name := sink.Name(sinkURL)
	consumer := broker.LoaderConsumer(name)
	// A replay is a new durable from the first message (as `nsflow replay`).
	if err := env.JS.DeleteConsumer(ctx, calendarevent.StreamEvents, consumer); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return ReplayRun{}, fmt.Errorf("delete consumer %s: %w", consumer, err)
	}
	topo := cfg.Topology
	topo.Sinks = []string{name}
	if err := broker.Provision(ctx, env.JS, topo); err != nil {
		return ReplayRun{}, err
	}
	cons, err := env.JS.Consumer(ctx, calendarevent.StreamEvents, consumer)
	if err != nil {
		return ReplayRun{}, fmt.Errorf("consumer %s: %w", consumer, err)
	}
	metrics, err := sink.NewMetrics(prometheus.NewRegistry())
	if err != nil {
		return ReplayRun{}, err
	}
	s, err := sink.Open(ctx, sinkURL, sink.Options{Logger: env.Log, Metrics: metrics})
	if err != nil {
		return ReplayRun{}, fmt.Errorf("open sink: %w", err)
	}
	l, err := pipeline.NewLoaderWithSink(env, cfg, name, s)
	if err != nil {
		return ReplayRun{}, err
	}
	freeMemory()
	stopProfile := b.startProfile("replay-" + name)
	defer stopProfile()
	heapCtx, stopHeap := context.WithCancel(ctx)
	defer stopHeap()
	go b.heapProfile(heapCtx, "replay-"+name)
	lctx, stop := context.WithCancel(ctx)
	defer stop()
	runErr := make(chan error, 1)
	cpu0, w0 := cpuTime(), writtenBytes()
	start := time.Now()
	go func() { runErr <- l.Run(lctx) }()
	if err := waitDrained(ctx, cons, runErr); err != nil {
		stop()
		<-runErr
		return ReplayRun{}, err
	}
	elapsed := time.Since(start)
	cpu, written := cpuTime()-cpu0, writtenBytes()-w0
	stop()
	if err := <-runErr; err != nil {
		return ReplayRun{}, err
	}
	rows := l.Stage.Loaded()
	return ReplayRun{
		Rows: rows, Seconds: round(elapsed.Seconds(), 2), RowsPerSec: round(perSecond(rows, elapsed), 0),
		CPUSecPer1000:   round(cpu.Seconds()/float64(max(rows, 1))*1000, 3),
		WrittenKBPerRow: round(float64(written)/1024/float64(max(rows, 1)), 1),
	}, nil
}

// waitDrained waits until cons has nothing pending or unacknowledged.
func waitDrained(ctx context.Context, cons jetstream.Consumer, failed <-chan error) error {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		info, err := cons.Info(ctx)
		if err != nil {
			return fmt.Errorf("consumer info: %w", err)
		}
		if info.NumPending == 0 && info.NumAckPending == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-failed:
			return fmt.Errorf("stage stopped before draining: %w", err)
		case <-t.C:
		}
	}
}

// freshSchema creates an empty schema on the server base names and returns a
// URL whose search_path points at it, and a function dropping it.
func freshSchema(ctx context.Context, base string) (string, func(), error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", nil, errors.New("PostgreSQL URL does not parse")
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(cctx, base)
	if err != nil {
		return "", nil, fmt.Errorf("PostgreSQL unreachable at %s: %w", u.Host, err)
	}
	defer conn.Close(context.Background())
	rb := make([]byte, 6)
	_, _ = rand.Read(rb)
	schema := "nsbench_" + hex.EncodeToString(rb)
	if _, err := conn.Exec(cctx, "CREATE SCHEMA "+schema); err != nil {
		return "", nil, fmt.Errorf("create schema: %w", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	drop := func() {
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if c, err := pgx.Connect(dctx, base); err == nil {
			_, _ = c.Exec(dctx, "DROP SCHEMA "+schema+" CASCADE")
			_ = c.Close(dctx)
		}
	}
	return u.String(), drop, nil
}
