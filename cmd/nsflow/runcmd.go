package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/nsflow/nsflow/pkg/config"
	"github.com/nsflow/nsflow/pkg/standalone"
)

func newRunCmd(environ []string, stdout, stderr io.Writer) *cobra.Command {
	var (
		once          bool
		dataDir       string
		sandboxEvents int
		sinkURL       string
		poll          time.Duration
		attendees     string
		opsAddr       string
		natsListen    string
		seed          int64
		quiet         bool
		logLevel      string
		since, until  string
	)
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the whole pipeline in one process (embedded NATS, sandbox, SQLite)",
		Long: `Run starts an in-process NATS server with JetStream (store under --data-dir),
the NetSuite sandbox (unless NETSUITE_ACCOUNT_ID and credentials are set, in which
case the real account is used), the extractor, transformer and loader, and the
sink (SQLite at <data-dir>/events.db by default). It polls for changes until
interrupted; with --once it exits 0 when everything the source had at start is
in the sink and prints a summary.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var cfg config.Standalone
			if err := config.Load(environ, &cfg); err != nil {
				return err
			}
			f := cmd.Flags()
			if f.Changed("data-dir") || cfg.DataDir == "" {
				cfg.DataDir = dataDir
			}
			if f.Changed("sandbox-events") {
				cfg.SandboxEvents = sandboxEvents
			}
			if f.Changed("sandbox-seed") {
				cfg.SandboxSeed = seed
			}
			if f.Changed("sink") {
				cfg.Sink = sinkURL
			}
			if cfg.Sink == "" {
				cfg.Sink = "sqlite:" + filepath.Join(cfg.DataDir, "events.db")
			}
			if f.Changed("poll-interval") {
				cfg.PollInterval = poll
			}
			if f.Changed("attendees") {
				cfg.Attendees = attendees
			}
			for _, b := range []struct {
				flag string
				val  string
				dst  *time.Time
			}{{"since", since, &cfg.Since}, {"until", until, &cfg.Until}} {
				if f.Changed(b.flag) {
					t, err := time.Parse(time.RFC3339, b.val)
					if err != nil {
						return fmt.Errorf("--%s %q: want RFC 3339, e.g. 2024-01-31T00:00:00Z", b.flag, b.val)
					}
					*b.dst = t
				}
			}
			if f.Changed("nats-listen") {
				cfg.NATSListen = natsListen
			}
			if f.Changed("ops-addr") {
				cfg.OpsAddr = opsAddr
			} else if _, set := envValue(environ, "NSFLOW_OPS_ADDR"); !set {
				cfg.OpsAddr = opsAddr
			}
			if f.Changed("log-level") {
				cfg.LogLevel = logLevel
			} else if _, set := envValue(environ, "NSFLOW_LOG_LEVEL"); !set {
				cfg.LogLevel = "warn"
			}
			if cfg.PollInterval < 100*time.Millisecond {
				return fmt.Errorf("--poll-interval %s: must be at least 100ms", cfg.PollInterval)
			}
			if err := cfg.Validate(); err != nil {
				return err
			}
			opt := standalone.Options{Once: once, Logger: newLogger(stderr, cfg.LogLevel)}
			if !quiet {
				opt.Progress = stdout
				opt.ProgressEvery = time.Second
			}
			if cfg.UseSandbox() {
				fmt.Fprintf(stdout, "nsflow: no NETSUITE_ACCOUNT_ID set: using the built-in NetSuite sandbox with %d generated events\n", cfg.SandboxEvents)
			} else {
				fmt.Fprintf(stdout, "nsflow: extracting NetSuite account %s\n", cfg.NetSuite.AccountID)
			}
			fmt.Fprintf(stdout, "nsflow: data in %s, sink %s; Ctrl-C stops gracefully\n", cfg.DataDir, cfg.Sink)
			sum, err := standalone.Run(cmd.Context(), cfg, opt)
			standalone.WriteSummary(stdout, sum)
			if err != nil && !errors.Is(err, cmd.Context().Err()) {
				return err
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&once, "once", false, "exit when everything the source had at start is in the sink")
	f.StringVar(&dataDir, "data-dir", "./data", "directory for the JetStream store and the default SQLite sink")
	f.IntVar(&sandboxEvents, "sandbox-events", 10000, "size of the sandbox's generated data set")
	f.Int64Var(&seed, "sandbox-seed", 1, "seed of the sandbox's generated data set")
	f.StringVar(&sinkURL, "sink", "", "sink URL (default sqlite:<data-dir>/events.db): sqlite:PATH, postgres://…, jsonl:PATH|-, aep:")
	f.DurationVar(&poll, "poll-interval", time.Minute, "pause between extraction passes")
	f.StringVar(&attendees, "attendees", "suiteql", "attendee source: off, suiteql or rest")
	f.StringVar(&opsAddr, "ops-addr", "127.0.0.1:0", "address of /healthz, /readyz and /metrics (\"\" disables)")
	f.StringVar(&natsListen, "nats-listen", "127.0.0.1:-1", "TCP address of the embedded NATS server (\"\" for in-process only)")
	f.StringVar(&since, "since", "", "backfill from this lastModified (RFC 3339) when there is no cursor yet")
	f.StringVar(&until, "until", "", "stop the backfill at this lastModified (RFC 3339)")
	f.BoolVar(&quiet, "quiet", false, "no progress lines")
	f.StringVar(&logLevel, "log-level", "warn", "log level: debug, info, warn, error")
	return cmd
}
