// Command extractor runs the extractor stage for the configured NetSuite
// accounts (NETSUITE_ACCOUNT_ID, or several in NETSUITE_ACCOUNTS): it polls
// NetSuite (SuiteQL, keyset pages of 1,000) and publishes raw records to
// netsuite.<account>.calendarevent.raw. Replicas elect a leader per account.
// The first pass of an account, and a pass after --since (NSFLOW_SINCE) is
// set, is a backfill in parallel windows, checkpointed and resumable. With
// --once (NSFLOW_ONCE=true) it runs one pass and exits (a backfill or cron
// job). Configuration: environment variables (see .env.example); the flags
// override them.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/nsflow/nsflow/pkg/config"
	"github.com/nsflow/nsflow/pkg/pipeline"
)

func main() { pipeline.Main("extractor", run) }

// oncer runs one pass, then stops the service (the ops server included).
type oncer struct {
	x    *pipeline.Extractor
	stop context.CancelFunc
}

func (o oncer) Run(ctx context.Context) error {
	defer o.stop()
	_, err := o.x.Once(ctx)
	return err
}

// withFlags parses args and returns environ with the flags' settings
// appended, so they override the environment and go through the same
// validation.
func withFlags(args, environ []string, out io.Writer) ([]string, error) {
	fs := flag.NewFlagSet("extractor", flag.ContinueOnError)
	fs.SetOutput(out)
	since := fs.String("since", "", "backfill events modified since this time (RFC 3339; NSFLOW_SINCE)")
	until := fs.String("until", "", "and up to this time (RFC 3339; NSFLOW_UNTIL); also bounds later passes")
	window := fs.String("backfill-window-rows", "", "events per backfill window (NSFLOW_BACKFILL_WINDOW_ROWS; 0 = split as many ways as there are readers)")
	readers := fs.String("backfill-readers", "", "backfill windows read at once (NSFLOW_BACKFILL_READERS; 0 = twice NETSUITE_CONCURRENCY)")
	once := fs.Bool("once", false, "run one pass (for example the backfill) and exit (NSFLOW_ONCE)")
	if err := fs.Parse(args); err != nil {
		return nil, err //nolint:wrapcheck // the flag package's message names the flag
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q: settings are flags or environment variables", fs.Args())
	}
	env := append([]string(nil), environ...)
	set := map[string]string{"NSFLOW_SINCE": *since, "NSFLOW_UNTIL": *until, "NSFLOW_BACKFILL_WINDOW_ROWS": *window, "NSFLOW_BACKFILL_READERS": *readers}
	for _, k := range []string{"NSFLOW_SINCE", "NSFLOW_UNTIL", "NSFLOW_BACKFILL_WINDOW_ROWS", "NSFLOW_BACKFILL_READERS"} {
		if set[k] != "" {
			env = append(env, k+"="+set[k])
		}
	}
	if *once {
		env = append(env, "NSFLOW_ONCE=true")
	}
	return env, nil
}

func run(ctx context.Context, args, environ []string, logOut io.Writer) error {
	environ, err := withFlags(args, environ, logOut)
	if err != nil {
		return err
	}
	var cfg config.Extractor
	if err := config.Load(environ, &cfg); err != nil {
		return err
	}
	log := pipeline.NewLogger(logOut, cfg.LogLevel, "extractor")
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	return pipeline.Serve(ctx, cfg.Common, nil, log, func(ctx context.Context, env pipeline.Env) (pipeline.Runner, error) {
		x, err := pipeline.NewExtractor(ctx, env, cfg)
		if err != nil {
			return nil, err
		}
		if cfg.Once {
			return oncer{x: x, stop: stop}, nil
		}
		return x, nil
	})
}
