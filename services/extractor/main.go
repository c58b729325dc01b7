// Command extractor runs the extractor stage for one NetSuite account: it
// polls NetSuite (SuiteQL, keyset pages of 1,000) and publishes raw records to
// netsuite.<account>.calendarevent.raw. Replicas elect a leader per account.
// With NSFLOW_ONCE=true it runs one pass and exits (a backfill or cron job).
// Configuration: environment variables, see .env.example.
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
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Environ(), os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "extractor: %v\n", err)
		os.Exit(1)
	}
}

type oncer struct{ x *pipeline.Extractor }

func (o oncer) Run(ctx context.Context) error {
	_, err := o.x.Once(ctx)
	return err
}

func run(ctx context.Context, environ []string, logOut io.Writer) error {
	var cfg config.Extractor
	if err := config.Load(environ, &cfg); err != nil {
		return err
	}
	log := pipeline.NewLogger(logOut, cfg.LogLevel, "extractor")
	return pipeline.Serve(ctx, cfg.Common, nil, log, func(ctx context.Context, env pipeline.Env) (pipeline.Runner, error) {
		x, err := pipeline.NewExtractor(ctx, env, cfg)
		if err != nil {
			return nil, err
		}
		if cfg.Once {
			return oncer{x}, nil
		}
		return x, nil
	})
}
