// Command nsbench runs nsflow's benchmark harness (package bench, issue #7),
// prints one table and writes the figures as JSON (`make bench`).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/nsflow/nsflow/bench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "nsbench: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	d := bench.Defaults
	fs := flag.NewFlagSet("nsbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := bench.Config{PostgresURL: os.Getenv("NSFLOW_TEST_POSTGRES_URL")}
	fs.IntVar(&cfg.Events, "events", d.Events, "sandbox events of the end-to-end runs")
	fs.IntVar(&cfg.Repeat, "repeat", d.Repeat, "reference/e2e pairs")
	fs.IntVar(&cfg.ExtractionEvents, "extraction-events", d.ExtractionEvents, "sandbox events of the extraction section")
	fs.DurationVar(&cfg.ExtractionLatency, "extraction-latency", d.ExtractionLatency, "sandbox latency per request in the extraction section")
	fs.IntVar(&cfg.ExtractionConcurrency, "extraction-concurrency", d.ExtractionConcurrency, "NetSuite concurrency limit in the extraction section")
	fs.IntVar(&cfg.BacklogEvents, "backlog-events", d.BacklogEvents, "backlog of each stage in the memory section")
	fs.DurationVar(&cfg.BacklogRun, "backlog-run", d.BacklogRun, "how long the transformer and loader run against their backlog")
	fs.IntVar(&cfg.LatencyEvents, "latency-events", d.LatencyEvents, "sandbox events of the latency section")
	fs.IntVar(&cfg.LatencyChanges, "latency-changes", d.LatencyChanges, "changes measured in the latency section")
	fs.DurationVar(&cfg.PollInterval, "poll-interval", d.PollInterval, "extractor polling interval in the latency section")
	fs.StringVar(&cfg.PostgresURL, "postgres", cfg.PostgresURL, "PostgreSQL server for the replay (default $NSFLOW_TEST_POSTGRES_URL; empty skips)")
	fs.StringVar(&cfg.PostgresSkip, "postgres-skip-reason", "", "reason reported when -postgres is empty")
	sections := fs.String("sections", strings.Join(bench.AllSections, ","), "sections to run")
	fs.StringVar(&cfg.ReplayStore, "replay-store", "", "JetStream store directory to replay (default: the last e2e run's)")
	fs.StringVar(&cfg.WorkDir, "work-dir", "", "directory for data (default: a temporary directory, removed afterwards)")
	fs.StringVar(&cfg.BinDir, "bin-dir", "", "directory with the extractor, transformer and loader binaries (default: built)")
	fs.StringVar(&cfg.CPUProfile, "cpuprofile", "", "write a CPU profile of each e2e run to <prefix>-e2e-<n>.pprof")
	fs.Func("stage-env", "stage:KEY=VALUE added to one stage's environment in the memory section (repeatable), e.g. loader:NSFLOW_MAX_IN_FLIGHT=2000", func(v string) error {
		stage, kv, ok := strings.Cut(v, ":")
		if !ok || !strings.Contains(kv, "=") {
			return fmt.Errorf("%q: want stage:KEY=VALUE, e.g. loader:GOMEMLIMIT=64MiB", v)
		}
		switch stage {
		case "extractor", "transformer", "loader":
		default:
			return fmt.Errorf("%q: stage %q is not extractor, transformer or loader", v, stage)
		}
		if cfg.StageEnv == nil {
			cfg.StageEnv = map[string][]string{}
		}
		cfg.StageEnv[stage] = append(cfg.StageEnv[stage], kv)
		return nil
	})
	out := fs.String("out", "bench/results/latest.json", "JSON result file (empty: none)")
	quiet := fs.Bool("quiet", false, "no progress lines")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg.Sections = strings.Split(*sections, ",")
	if !*quiet {
		cfg.Progress = stderr
	}
	res, runErr := bench.Run(ctx, cfg)
	if res == nil {
		return runErr
	}
	fmt.Fprintln(stdout)
	res.WriteTable(stdout)
	if *out != "" {
		if err := res.WriteJSON(*out); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\nwrote %s\n", *out)
	}
	return runErr
}
