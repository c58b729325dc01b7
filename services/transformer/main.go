// Command transformer runs the transformer stage: raw NetSuite records from
// stream NETSUITE_RAW (durable "transformer") to canonical events on
// netsuite.<account>.calendarevent.v1. Configuration: environment variables,
// see .env.example.
package main

import (
	"context"
	"io"

	"github.com/nsflow/nsflow/pkg/config"
	"github.com/nsflow/nsflow/pkg/pipeline"
)

func main() { pipeline.Main("transformer", pipeline.NoArguments(run)) }

func run(ctx context.Context, environ []string, logOut io.Writer) error {
	var cfg config.Transformer
	if err := config.Load(environ, &cfg); err != nil {
		return err
	}
	log := pipeline.NewLogger(logOut, cfg.LogLevel, "transformer")
	return pipeline.Serve(ctx, cfg.Common, nil, log, func(_ context.Context, env pipeline.Env) (pipeline.Runner, error) {
		return pipeline.NewTransformer(env, cfg)
	})
}
