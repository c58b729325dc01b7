// Package pipeline composes the stages over a NATS connection. The same
// constructors run inside the standalone `nsflow run` and inside each
// service binary: a stage gets a connection and its configuration and never
// knows which topology it runs in.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/nsflow/nsflow/pkg/broker"
	"github.com/nsflow/nsflow/pkg/ops"
)

// Env is what every stage gets from its host process.
type Env struct {
	NC  *nats.Conn
	JS  jetstream.JetStream
	Log *slog.Logger
	// Ops, when set, receives readiness checks and metrics.
	Ops *ops.Server
}

func (e Env) registerer() prometheus.Registerer {
	if e.Ops == nil {
		return prometheus.NewRegistry()
	}
	return e.Ops.Registry()
}

func (e Env) addCheck(name string, c ops.Check) {
	if e.Ops != nil {
		e.Ops.AddCheck(name, c)
	}
}

// natsCheck is ready while the connection is up.
func natsCheck(nc *nats.Conn) ops.Check {
	return func(context.Context) error {
		if s := nc.Status(); s != nats.CONNECTED {
			return fmt.Errorf("nats connection %s", s)
		}
		return nil
	}
}

// newRouter returns a Watermill router with the pipeline's settings.
func newRouter(log *slog.Logger, closeTimeout time.Duration) (*message.Router, error) {
	// broker.RouterLogger demotes the router's per-handler lifecycle chatter
	// to Debug and makes disabled levels free: the router logs at Trace
	// twice per message.
	r, err := message.NewRouter(message.RouterConfig{CloseTimeout: closeTimeout}, broker.RouterLogger(log))
	if err != nil {
		return nil, fmt.Errorf("new router: %w", err)
	}
	return r, nil
}

// runRouter runs r until ctx is done and r has closed gracefully.
func runRouter(ctx context.Context, r *message.Router) error {
	if err := r.Run(ctx); err != nil {
		return fmt.Errorf("router: %w", err)
	}
	if ctx.Err() == nil {
		return errors.New("router stopped unexpectedly")
	}
	return nil
}

// routerCheck is ready while the router runs.
func routerCheck(r *message.Router) ops.Check {
	return func(context.Context) error {
		if !r.IsRunning() {
			return errors.New("router not running")
		}
		return nil
	}
}
