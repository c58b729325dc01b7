// Command loader runs the loader stage: canonical events from stream EVENTS
// (durable "loader-<sink>") into the sink named by NSFLOW_SINK. Configuration:
// environment variables, see .env.example.
package main

import (
	"context"
	"io"

	"github.com/nsflow/nsflow/pkg/config"
	"github.com/nsflow/nsflow/pkg/pipeline"
	"github.com/nsflow/nsflow/pkg/sink"
)

func main() { pipeline.Main("loader", pipeline.NoArguments(run)) }

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
