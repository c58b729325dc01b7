// Package standalone runs the whole pipeline in one process: an embedded NATS
// server with JetStream (store under the data directory), the NetSuite
// sandbox unless a real account is configured, the extractor, transformer and
// loader stages, and a sink (SQLite under the data directory by default).
// It is what `nsflow run` and `make run` execute, and what the end-to-end
// component tests drive.
package standalone

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"github.com/nsflow/nsflow/pkg/broker"
	"github.com/nsflow/nsflow/pkg/calendarevent"
	"github.com/nsflow/nsflow/pkg/config"
	"github.com/nsflow/nsflow/pkg/natsembed"
	"github.com/nsflow/nsflow/pkg/ops"
	"github.com/nsflow/nsflow/pkg/pipeline"
	"github.com/nsflow/nsflow/pkg/sandbox"
	"github.com/nsflow/nsflow/pkg/sink"
)

// Options are the parts of a standalone run that are not environment settings.
type Options struct {
	// Once stops when everything the source had at start is in the sink.
	Once bool
	// Progress receives a progress line every ProgressEvery (nil = none).
	Progress      io.Writer
	ProgressEvery time.Duration
	// Sandbox, when set, is used instead of starting one (tests drive it);
	// SandboxURL is its base URL when the caller has already started it.
	Sandbox    *sandbox.Sandbox
	SandboxURL string
	// Ready is called with the running pipeline (tests use it).
	Ready  func(*Pipeline)
	Logger *slog.Logger
}

// Summary is what a run did.
type Summary struct {
	Extracted   uint64
	Tombstones  uint64
	Transformed uint64
	Loaded      uint64
	DeadLetters uint64
	Elapsed     time.Duration
	Sink        string
	SandboxURL  string
	NATSURL     string
}

// EventsPerSecond is the loaded rate over the run.
func (s Summary) EventsPerSecond() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Loaded) / s.Elapsed.Seconds()
}

// Pipeline is a running standalone pipeline.
type Pipeline struct {
	JS          jetstream.JetStream
	Extractor   *pipeline.Extractor
	Transformer *pipeline.Transformer
	Loader      *pipeline.Loader
	Sandbox     *sandbox.Sandbox
	SandboxURL  string
	NATSURL     string
	Ops         *ops.Server
	OpsAddr     string
	cfg         config.Standalone
	started     time.Time
	loaderName  string
}

// Run runs the pipeline until ctx is done (or, with Once, until drained).
func Run(ctx context.Context, cfg config.Standalone, opt Options) (Summary, error) {
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return Summary{}, fmt.Errorf("create data dir: %w", err)
	}
	if cfg.Sink == "" {
		cfg.Sink = "sqlite:" + filepath.Join(cfg.DataDir, "events.db")
	}
	host, port, err := splitListen(cfg.NATSListen)
	if err != nil {
		return Summary{}, err
	}
	srv, err := natsembed.Start(natsembed.Config{
		StoreDir: filepath.Join(cfg.DataDir, "nats"), Host: host, Port: port, NoListen: cfg.NATSListen == "",
		SyncAlways: cfg.NATSSyncAlways, Logger: log,
	})
	if err != nil {
		return Summary{}, err
	}
	defer srv.Shutdown()
	nc, err := srv.Connect()
	if err != nil {
		return Summary{}, err
	}
	conns := []*nats.Conn{nc}
	defer func() {
		// Acks and naks are buffered publishes: flush them before closing so
		// nothing in flight waits for AckWait after a restart.
		for _, c := range conns {
			_ = c.FlushTimeout(5 * time.Second)
			c.Close()
		}
	}()
	js, err := broker.JetStream(nc, cfg.NATS)
	if err != nil {
		return Summary{}, err
	}
	sinkName := sink.Name(cfg.Sink)
	topo := cfg.Topology
	topo.Sinks = []string{sinkName}
	if err := broker.Provision(ctx, js, topo); err != nil {
		return Summary{}, err
	}
	cfg.Topology = topo

	p := &Pipeline{JS: js, NATSURL: srv.ClientURL(), cfg: cfg, loaderName: broker.LoaderConsumer(sinkName)}
	if cfg.UseSandbox() {
		sb := opt.Sandbox
		if sb == nil {
			epoch, err := sandboxEpoch(cfg.DataDir, cfg.SandboxSeed, cfg.SandboxEvents, time.Now())
			if err != nil {
				return Summary{}, err
			}
			sb, err = sandbox.New(sandbox.Config{Events: cfg.SandboxEvents, Seed: cfg.SandboxSeed, Epoch: epoch, TimeZone: cfg.NetSuite.TimeZone, Logger: log.With("component", "sandbox")})
			if err != nil {
				return Summary{}, err
			}
			defer sb.Close()
		}
		url := opt.SandboxURL
		if url == "" {
			if url, err = sb.Start("127.0.0.1:0"); err != nil {
				return Summary{}, fmt.Errorf("start sandbox: %w", err)
			}
		}
		sc := sb.Config()
		cfg.NetSuite.AccountID = sc.Account
		cfg.NetSuite.AuthMode = "refresh_token"
		cfg.NetSuite.ClientID = sc.ClientID
		cfg.NetSuite.ClientSecret = sc.ClientSecret
		cfg.NetSuite.RefreshToken = sb.RefreshToken()
		cfg.NetSuite.BaseURL = url
		cfg.NetSuite.TokenURL = url + "/services/rest/auth/oauth2/v1/token"
		cfg.NetSuite.TimeZone = sc.TimeZone
		p.Sandbox, p.SandboxURL = sb, url
	}
	p.Ops = ops.New(cfg.OpsAddr, nil, log)
	if cfg.Pprof {
		p.Ops.EnablePprof()
	}
	if p.OpsAddr, err = p.Ops.Listen(); err != nil {
		return Summary{}, err
	}
	// Each stage gets its own connection, as it has when it runs as a
	// service: one connection shared by three stages serialises every
	// publish, delivery and ack of the process through one socket, one
	// reader and one flusher.
	stageEnv := func() (pipeline.Env, error) {
		snc, err := srv.Connect()
		if err != nil {
			return pipeline.Env{}, err
		}
		conns = append(conns, snc)
		sjs, err := broker.JetStream(snc, cfg.NATS)
		if err != nil {
			return pipeline.Env{}, err
		}
		return pipeline.Env{NC: snc, JS: sjs, Log: log, Ops: p.Ops}, nil
	}
	xenv, err := stageEnv()
	if err != nil {
		return Summary{}, err
	}
	if p.Extractor, err = pipeline.NewExtractor(ctx, xenv, cfg.Extractor); err != nil {
		return Summary{}, err
	}
	tenv, err := stageEnv()
	if err != nil {
		return Summary{}, err
	}
	if p.Transformer, err = pipeline.NewTransformer(tenv, config.Transformer{Common: cfg.Common, DefaultTimeZone: "UTC", MaxInFlight: 512, HandlerTimeout: 30 * time.Second}); err != nil {
		return Summary{}, err
	}
	lenv, err := stageEnv()
	if err != nil {
		return Summary{}, err
	}
	if p.Loader, err = pipeline.NewLoader(ctx, lenv, config.Loader{Common: cfg.Common, Sink: cfg.Sink, BatchSize: 1000, BatchWait: 50 * time.Millisecond, SinkDeletes: cfg.SinkDeletes}); err != nil {
		return Summary{}, err
	}
	log.Info("pipeline starting", "data_dir", cfg.DataDir, "sink", sinkName, "nats_url", p.NATSURL, "sandbox_url", p.SandboxURL, "ops_addr", p.OpsAddr)
	p.started = time.Now()

	stagesCtx, stopStages := context.WithCancel(context.WithoutCancel(ctx))
	defer stopStages()
	stages, sctx := errgroup.WithContext(stagesCtx)
	stages.Go(func() error { return p.Transformer.Run(sctx) })
	stages.Go(func() error { return p.Loader.Run(sctx) })
	stages.Go(func() error { return p.Ops.Run(sctx) })

	var progressDone atomic.Bool
	if opt.Progress != nil {
		every := opt.ProgressEvery
		if every <= 0 {
			every = time.Second
		}
		go p.progress(sctx, opt.Progress, every, &progressDone)
	}
	if opt.Ready != nil {
		<-p.Transformer.Running()
		<-p.Loader.Running()
		opt.Ready(p)
	}

	var runErr error
	if opt.Once {
		runErr = p.once(ctx)
	} else {
		runErr = p.Extractor.Run(ctx)
	}
	stopStages()
	if err := stages.Wait(); err != nil && runErr == nil {
		runErr = err
	}
	progressDone.Store(true)
	sum := p.Summary(context.WithoutCancel(ctx))
	return sum, runErr
}

// once runs one extraction pass and waits until both consumers have drained.
func (p *Pipeline) once(ctx context.Context) error {
	if _, err := p.Extractor.Once(ctx); err != nil {
		return fmt.Errorf("extract: %w", err)
	}
	return p.WaitDrained(ctx)
}

// WaitDrained waits until the transformer and loader consumers have nothing
// pending or unacknowledged.
func (p *Pipeline) WaitDrained(ctx context.Context) error {
	for {
		t, err1 := p.pending(ctx, calendarevent.StreamRaw, broker.ConsumerTransformer)
		l, err2 := p.pending(ctx, calendarevent.StreamEvents, p.loaderName)
		if err := errors.Join(err1, err2); err != nil {
			return err
		}
		if t == 0 && l == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (p *Pipeline) pending(ctx context.Context, stream, consumer string) (uint64, error) {
	c, err := p.JS.Consumer(ctx, stream, consumer)
	if err != nil {
		return 0, fmt.Errorf("consumer %s: %w", consumer, err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("consumer %s info: %w", consumer, err)
	}
	return info.NumPending + uint64(info.NumAckPending), nil
}

// Summary reads the counters.
func (p *Pipeline) Summary(ctx context.Context) Summary {
	st := p.Extractor.X.Stats()
	s := Summary{
		Extracted: st.Events, Tombstones: st.Tombstones,
		Transformed: p.Transformer.Stage.Transformed(), Loaded: p.Loader.Stage.Loaded(),
		Elapsed: time.Since(p.started), Sink: p.cfg.Sink, SandboxURL: p.SandboxURL, NATSURL: p.NATSURL,
	}
	if dlq, err := p.JS.Stream(ctx, calendarevent.StreamDLQ); err == nil {
		if info, err := dlq.Info(ctx); err == nil {
			s.DeadLetters = info.State.Msgs
		}
	}
	return s
}

func (p *Pipeline) progress(ctx context.Context, w io.Writer, every time.Duration, done *atomic.Bool) {
	t := time.NewTicker(every)
	defer t.Stop()
	var lastLoaded uint64
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if done.Load() {
				return
			}
			s := p.Summary(ctx)
			rate := float64(s.Loaded-lastLoaded) / now.Sub(last).Seconds()
			lastLoaded, last = s.Loaded, now
			fmt.Fprintf(w, "extracted %d (+%d deleted)  transformed %d  loaded %d  dead letters %d  %.0f events/s\n",
				s.Extracted, s.Tombstones, s.Transformed, s.Loaded, s.DeadLetters, rate)
		}
	}
}

// WriteSummary prints s as one screen of text.
func WriteSummary(w io.Writer, s Summary) {
	fmt.Fprintf(w, "\nnsflow run summary\n")
	fmt.Fprintf(w, "  extracted     %d events, %d deletions\n", s.Extracted, s.Tombstones)
	fmt.Fprintf(w, "  transformed   %d\n", s.Transformed)
	fmt.Fprintf(w, "  loaded        %d into %s\n", s.Loaded, s.Sink)
	fmt.Fprintf(w, "  dead letters  %d (list them with NATS_URL=%s nsflow dlq list while it runs)\n", s.DeadLetters, orNone(s.NATSURL))
	fmt.Fprintf(w, "  elapsed       %s\n", s.Elapsed.Round(time.Millisecond))
	fmt.Fprintf(w, "  throughput    %.0f events/s\n", s.EventsPerSecond())
}

func orNone(s string) string {
	if s == "" {
		return "(no TCP listener)"
	}
	return s
}

func splitListen(addr string) (string, int, error) {
	if addr == "" {
		return "", 0, nil
	}
	var host string
	var port int
	i := len(addr) - 1
	for i >= 0 && addr[i] != ':' {
		i--
	}
	if i < 0 {
		return "", 0, fmt.Errorf("NSFLOW_NATS_LISTEN=%q: want host:port (port -1 for any free port)", addr)
	}
	host = addr[:i]
	if _, err := fmt.Sscanf(addr[i+1:], "%d", &port); err != nil {
		return "", 0, fmt.Errorf("NSFLOW_NATS_LISTEN=%q: port: %w", addr, err)
	}
	if port == 0 {
		port = -1
	}
	return host, port, nil
}

// sandboxState is <data-dir>/sandbox.json: the data set the sandbox of this
// data directory generated.
type sandboxState struct {
	Seed   int64     `json:"seed"`
	Events int       `json:"events"`
	Epoch  time.Time `json:"epoch"`
}

// sandboxEpoch returns the epoch of the sandbox data set in dataDir: the one
// recorded by an earlier run with the same seed and size, so a restarted
// `nsflow run` serves the events its cursor has already passed unchanged
// (instead of regenerating every event as a new version), or now, which it
// records.
func sandboxEpoch(dataDir string, seed int64, events int, now time.Time) (time.Time, error) {
	path := filepath.Join(dataDir, "sandbox.json")
	if b, err := os.ReadFile(path); err == nil {
		var st sandboxState
		if json.Unmarshal(b, &st) == nil && st.Seed == seed && st.Events == events && !st.Epoch.IsZero() && !st.Epoch.After(now) {
			return st.Epoch, nil
		}
	}
	st := sandboxState{Seed: seed, Events: events, Epoch: now.UTC().Truncate(time.Second)}
	b, _ := json.Marshal(st)
	if err := os.WriteFile(path, append(b, '\n'), 0o600); err != nil {
		return time.Time{}, fmt.Errorf("record the sandbox data set: %w", err)
	}
	return st.Epoch, nil
}
