package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/nsflow/nsflow/pkg/broker"
	"github.com/nsflow/nsflow/pkg/config"
	"github.com/nsflow/nsflow/pkg/loader"
	"github.com/nsflow/nsflow/pkg/sink"
)

// Loader is the loader stage for one sink wired to JetStream.
type Loader struct {
	Stage    *loader.Stage
	Sink     sink.Sink
	SinkName string
	router   *message.Router
	sweeper  *broker.Sweeper
}

// NewLoader opens the sink and builds the loader stage.
func NewLoader(ctx context.Context, env Env, cfg config.Loader) (*Loader, error) {
	name := sink.Name(cfg.Sink)
	log := env.Log.With("stage", "loader", "sink", name)
	deletes, err := sink.ParseDeleteMode(cfg.SinkDeletes)
	if err != nil {
		return nil, fmt.Errorf("NSFLOW_SINK_DELETES: %w", err)
	}
	metrics, err := sink.NewMetrics(env.registerer())
	if err != nil {
		return nil, fmt.Errorf("sink metrics: %w", err)
	}
	opts := sink.Options{Logger: log, Deletes: deletes, Metrics: metrics}
	opts.AEP = cfg.AEP
	s, err := sink.Open(ctx, cfg.Sink, opts)
	if err != nil {
		return nil, fmt.Errorf("open sink: %w", err)
	}
	return NewLoaderWithSink(env, cfg, name, s)
}

// NewLoaderWithSink builds the loader stage around an open sink named name
// (the loader owns it and closes it when Run returns).
func NewLoaderWithSink(env Env, cfg config.Loader, name string, s sink.Sink) (*Loader, error) {
	log := env.Log.With("stage", "loader", "sink", name)
	writers := loader.DefaultWriters
	if n := sink.MaxConcurrentWrites(s); n > 0 && n < writers {
		writers = n
	}
	st, err := loader.New(loader.Config{SinkName: name, BatchSize: cfg.BatchSize, BatchWait: cfg.BatchWait, Writers: writers, Logger: log}, s)
	if err != nil {
		_ = s.Close()
		return nil, err
	}
	inFlight := inFlightWindow(log, cfg, writers)
	pub, err := broker.NewPublisher(env.JS, broker.PublisherConfig{Logger: log})
	if err != nil {
		_ = s.Close()
		return nil, err
	}
	sub, err := broker.NewSubscriber(env.JS, broker.SubscriberConfig{
		MaxInFlight: inFlight, Logger: log, CloseTimeout: cfg.ShutdownTimeout,
		ProgressInterval: progressInterval(cfg.Topology.Consumer.AckWait),
	})
	if err != nil {
		_ = s.Close()
		return nil, err
	}
	r, err := newRouter(log, cfg.ShutdownTimeout)
	if err != nil {
		_ = s.Close()
		return nil, err
	}
	dead := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "nsflow_loader_dead_letters_total", Help: "Events the loader dead-lettered, by sink and error class.",
	}, []string{"sink", "class"})
	_ = env.registerer().Register(dead)
	st.Register(r, sub)
	r.AddMiddleware(broker.Chain(broker.ChainConfig{
		DeadLetter: broker.DeadLetterConfig{
			Publisher: pub, Stage: "loader", Handler: loader.HandlerName + "." + name, Logger: log,
			OnDeadLetter: func(class string) { dead.WithLabelValues(name, class).Inc() },
		},
		// The batcher retries a sink outage itself, without limit; the
		// handler's own errors are permanent (decode) or per-record.
		MaxRetries: 1,
		Timeout:    -1,
		Logger:     log,
	})...)
	loaded := prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "nsflow_loader_events_total", Help: "Events committed to the sink by this loader.",
		ConstLabels: prometheus.Labels{"sink": name},
	}, func() float64 { return float64(st.Loaded()) })
	_ = env.registerer().Register(loaded)
	env.addCheck("loader_router", routerCheck(r))
	env.addCheck("nats", natsCheck(env.NC))
	env.addCheck("sink", func(ctx context.Context) error {
		if !st.Ready() {
			return errors.New("the last sink write failed; the loader is holding its batch and retrying")
		}
		return s.Ping(ctx)
	})
	return &Loader{Stage: st, Sink: s, SinkName: name, router: r, sweeper: broker.NewSweeper(env.JS, pub, log)}, nil
}

// inFlightWindow is the loader's subscription window: cfg.MaxInFlight, or
// when 0 loader.MinInFlight: one batch per writer plus one filling (three
// batches with the default two writers, two for a sink that commits one
// Write at a time, as SQLite). A window of only the writers' batches starves
// the sink: after each commit it waits for acks, pulls and the router to
// refill a whole batch, which takes about as long as the commit it could
// have overlapped. Each in-flight message costs the loader about 20 KiB.
func inFlightWindow(log *slog.Logger, cfg config.Loader, writers int) int {
	least := loader.MinInFlight(cfg.BatchSize, writers)
	n := cfg.MaxInFlight
	if n <= 0 {
		n = least
	} else if n < least {
		log.Warn("the loader's in-flight window (NSFLOW_MAX_IN_FLIGHT) holds fewer batches than its writers plus one: the sink will wait for it to refill after each commit",
			"max_in_flight", n, "batch_size", cfg.BatchSize, "writers", writers, "suggested", least)
	}
	if limit := cfg.Topology.Consumer.MaxAckPending; limit > 0 && limit < n {
		log.Warn("NSFLOW_CONSUMER_MAX_ACK_PENDING is below the loader's in-flight window: the server caps it",
			"max_ack_pending", limit, "max_in_flight", n)
	}
	return n
}

func progressInterval(ackWait time.Duration) time.Duration {
	if ackWait <= 0 {
		ackWait = 2 * time.Minute
	}
	return ackWait / 3
}

// Run runs the stage until ctx is done, then flushes, commits and closes the sink.
func (l *Loader) Run(ctx context.Context) error {
	bctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	batcherDone := make(chan struct{})
	go func() {
		defer close(batcherDone)
		l.Stage.Run(bctx)
	}()
	sweeperDone := make(chan struct{})
	go func() {
		defer close(sweeperDone)
		_ = l.sweeper.Run(ctx)
	}()
	defer func() { <-sweeperDone }()
	err := runRouter(ctx, l.router)
	// The router has waited for in-flight handlers; stop the batcher after it
	// flushed what they handed it.
	stopped := make(chan struct{})
	go func() { l.Stage.Stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(30 * time.Second):
		cancel()
		<-stopped
	}
	<-batcherDone
	if cerr := l.Sink.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("close sink: %w", cerr))
	}
	if err != nil {
		return fmt.Errorf("loader: %w", err)
	}
	return nil
}

// Running is closed once the stage consumes.
func (l *Loader) Running() chan struct{} { return l.router.Running() }
