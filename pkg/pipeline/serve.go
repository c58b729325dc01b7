package pipeline

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"golang.org/x/sync/errgroup"

	"github.com/nsflow/nsflow/pkg/broker"
	"github.com/nsflow/nsflow/pkg/config"
	"github.com/nsflow/nsflow/pkg/ops"
)

// Runner is a stage that runs until its context is done.
type Runner interface {
	Run(ctx context.Context) error
}

// Serve is the body of a service binary: connect to NATS, provision (unless
// disabled), start the ops server, build the stage with build and run it
// until ctx is done, then shut down gracefully.
func Serve(ctx context.Context, common config.Common, sinks []string, log *slog.Logger, build func(ctx context.Context, env Env) (Runner, error)) error {
	nc, err := broker.Connect(ctx, common.NATS, log)
	if err != nil {
		return err
	}
	defer func() { _ = nc.Drain() }()
	js, err := broker.JetStream(nc, common.NATS)
	if err != nil {
		return err
	}
	if common.Provision {
		topo := common.Topology
		topo.Sinks = sinks
		if err := broker.Provision(ctx, js, topo); err != nil {
			return err
		}
	}
	srv := ops.New(common.OpsAddr, nil, log)
	if common.Pprof {
		srv.EnablePprof()
	}
	addr, err := srv.Listen()
	if err != nil {
		return err
	}
	stage, err := build(ctx, Env{NC: nc, JS: js, Log: log, Ops: srv})
	if err != nil {
		return fmt.Errorf("build stage: %w", err)
	}
	g, gctx := errgroup.WithContext(ctx)
	opsCtx, stopOps := context.WithCancel(gctx)
	defer stopOps()
	g.Go(func() error { return srv.Run(opsCtx) })
	g.Go(func() error {
		// A stage that finishes on its own (a one-shot extraction) ends the
		// service: stop the ops server too.
		defer stopOps()
		return stage.Run(gctx)
	})
	log.Info("started", "ops_addr", addr, "nats_url", nc.ConnectedUrlRedacted())
	err = g.Wait()
	log.Info("stopped")
	return err
}

// NewLogger returns the services' JSON logger at level on w.
func NewLogger(w io.Writer, level, service string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l})).With("service", service)
}
