package pipeline

import (
	"context"
	"fmt"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/nsflow/nsflow/pkg/broker"
	"github.com/nsflow/nsflow/pkg/config"
	"github.com/nsflow/nsflow/pkg/transformer"
)

// Transformer is the transformer stage wired to JetStream.
type Transformer struct {
	Stage   *transformer.Stage
	router  *message.Router
	sweeper *broker.Sweeper
}

// NewTransformer builds the transformer stage.
func NewTransformer(env Env, cfg config.Transformer) (*Transformer, error) {
	log := env.Log.With("stage", "transformer")
	pub, err := broker.NewPublisher(env.JS, broker.PublisherConfig{Logger: log})
	if err != nil {
		return nil, err
	}
	sub, err := broker.NewSubscriber(env.JS, broker.SubscriberConfig{MaxInFlight: cfg.MaxInFlight, Logger: log, CloseTimeout: cfg.ShutdownTimeout})
	if err != nil {
		return nil, err
	}
	st, err := transformer.New(transformer.Config{DefaultTimeZone: cfg.DefaultTimeZone, Logger: log}, pub)
	if err != nil {
		return nil, err
	}
	r, err := newRouter(log, cfg.ShutdownTimeout)
	if err != nil {
		return nil, err
	}
	dead := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "nsflow_dead_letters_total", Help: "Messages dead-lettered, by stage and error class.",
	}, []string{"stage", "class"})
	_ = env.registerer().Register(dead)
	st.Register(r, sub)
	r.AddMiddleware(broker.Chain(broker.ChainConfig{
		DeadLetter: broker.DeadLetterConfig{
			Publisher: pub, Stage: "transformer", Handler: transformer.HandlerName, Logger: log,
			OnDeadLetter: func(class string) { dead.WithLabelValues("transformer", class).Inc() },
		},
		Timeout: cfg.HandlerTimeout,
		Logger:  log,
	})...)
	transformed := prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "nsflow_transformer_events_total", Help: "Canonical events published by this transformer.",
	}, func() float64 { return float64(st.Transformed()) })
	_ = env.registerer().Register(transformed)
	env.addCheck("transformer_router", routerCheck(r))
	env.addCheck("nats", natsCheck(env.NC))
	return &Transformer{Stage: st, router: r, sweeper: broker.NewSweeper(env.JS, pub, log)}, nil
}

// Run runs the stage until ctx is done, then shuts down gracefully.
// It also runs the dead-letter sweeper (see broker.Sweeper).
func (t *Transformer) Run(ctx context.Context) error {
	sweeperDone := make(chan struct{})
	go func() {
		defer close(sweeperDone)
		_ = t.sweeper.Run(ctx)
	}()
	defer func() { <-sweeperDone }()
	if err := runRouter(ctx, t.router); err != nil {
		return fmt.Errorf("transformer: %w", err)
	}
	return nil
}

// Running is closed once the stage consumes.
func (t *Transformer) Running() chan struct{} { return t.router.Running() }
