// Command loader runs the loader stage: canonical events from stream EVENTS
// (durable "loader-<sink>") into the sink named by NSFLOW_SINK. Configuration:
// environment variables, see .env.example.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/nsflow/nsflow/pkg/config"
	"github.com/nsflow/nsflow/pkg/pipeline"
	"github.com/nsflow/nsflow/pkg/sink"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Environ(), os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "loader: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, environ []string, logOut io.Writer) error {
	var cfg config.Loader
	if err := config.Load(environ, &cfg); err != nil {
		return err
	}
	log := pipeline.NewLogger(logOut, cfg.LogLevel, "loader")
	return pipeline.Serve(ctx, cfg.Common, []string{sink.Name(cfg.Sink)}, log, func(ctx context.Context, env pipeline.Env) (pipeline.Runner, error) {
		return pipeline.NewLoader(ctx, env, cfg)
	})
}
