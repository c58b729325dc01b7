package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"time"
)

// Section names, in the order Run runs them.
const (
	SectionReference  = "reference"
	SectionE2E        = "e2e"
	SectionReplay     = "replay"
	SectionExtraction = "extraction"
	SectionMemory     = "memory"
	SectionLatency    = "latency"
)

// AllSections lists every section in run order.
var AllSections = []string{SectionReference, SectionE2E, SectionReplay, SectionExtraction, SectionMemory, SectionLatency}

// Config sizes a run. The zero value of a field takes the value of Defaults.
type Config struct {
	// Events is the sandbox size of the end-to-end run (the reference relays
	// as many messages as that run carried).
	Events int
	// Repeat is the number of reference/e2e pairs.
	Repeat int
	// ExtractionEvents is the sandbox size of the extraction section, run at
	// ExtractionLatency per request with ExtractionConcurrency.
	ExtractionEvents      int
	ExtractionLatency     time.Duration
	ExtractionConcurrency int
	// BacklogEvents is the backlog each stage faces in the memory section;
	// BacklogRun bounds how long the transformer and loader run against it.
	BacklogEvents int
	BacklogRun    time.Duration
	// LatencyEvents is the sandbox size and LatencyChanges the number of
	// changes of the latency section, polled every PollInterval.
	LatencyEvents  int
	LatencyChanges int
	PollInterval   time.Duration
	// PostgresURL is the server of the PostgreSQL replay ("" skips it); the
	// replay creates and drops its own schema.
	PostgresURL string
	// PostgresSkip is the reason reported when PostgresURL is empty.
	PostgresSkip string
	// ReplayStore, when set, is the JetStream store directory (<data
	// dir>/nats of an earlier run) the replay reads instead of the last e2e
	// run's, so that the replay can run alone.
	ReplayStore string
	// Sections limits the run (nil: AllSections).
	Sections []string
	// WorkDir holds data directories (default: a temporary directory,
	// removed at the end).
	WorkDir string
	// BinDir holds the service binaries of the memory section; empty: they
	// are built there with `go build`.
	BinDir string
	// StageEnv adds environment variables to one stage's service in the
	// memory section, keyed by stage ("extractor", "transformer", "loader"),
	// each "KEY=VALUE" (e.g. loader: NSFLOW_MAX_IN_FLIGHT=2000, GOMEMLIMIT=64MiB).
	StageEnv map[string][]string
	// CPUProfile, when set, is a file prefix: each e2e run and each replay
	// writes a CPU profile to <prefix>-e2e-<i>.pprof, <prefix>-replay-<sink>.pprof.
	CPUProfile string
	// Progress receives one line per step (nil: none).
	Progress io.Writer
}

// Defaults are the sizes `make bench` uses (issue #7).
var Defaults = Config{
	Events:                200_000,
	Repeat:                3,
	ExtractionEvents:      200_000,
	ExtractionLatency:     200 * time.Millisecond,
	ExtractionConcurrency: 4,
	BacklogEvents:         1_000_000,
	BacklogRun:            20 * time.Second,
	LatencyEvents:         2_000,
	LatencyChanges:        100,
	PollInterval:          time.Second,
}

func (c Config) withDefaults() Config {
	d := Defaults
	set := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	setD := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	set(&c.Events, d.Events)
	set(&c.Repeat, d.Repeat)
	set(&c.ExtractionEvents, d.ExtractionEvents)
	setD(&c.ExtractionLatency, d.ExtractionLatency)
	set(&c.ExtractionConcurrency, d.ExtractionConcurrency)
	set(&c.BacklogEvents, d.BacklogEvents)
	setD(&c.BacklogRun, d.BacklogRun)
	set(&c.LatencyEvents, d.LatencyEvents)
	set(&c.LatencyChanges, d.LatencyChanges)
	setD(&c.PollInterval, d.PollInterval)
	if len(c.Sections) == 0 {
		c.Sections = AllSections
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	return c
}

func (c Config) has(section string) bool { return slices.Contains(c.Sections, section) }

// Run runs the configured sections and returns their figures. A section that
// fails is recorded in Result.Errors and the others still run; the returned
// error joins those failures.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg = cfg.withDefaults()
	for _, s := range cfg.Sections {
		if !slices.Contains(AllSections, s) {
			return nil, fmt.Errorf("unknown section %q (want %s)", s, strings.Join(AllSections, ", "))
		}
	}
	work := cfg.WorkDir
	if work == "" {
		dir, err := os.MkdirTemp("", "nsbench-")
		if err != nil {
			return nil, fmt.Errorf("create work dir: %w", err)
		}
		defer os.RemoveAll(dir)
		work = dir
	}
	b := &runner{cfg: cfg, work: work, res: newResult(cfg)}
	b.res.Machine = machineInfo()
	start := time.Now()
	var errs []error
	step := func(name string, f func(context.Context) error) {
		if ctx.Err() != nil {
			return
		}
		b.logf("== %s", name)
		t0 := time.Now()
		freeMemory()
		if err := f(ctx); err != nil {
			err = fmt.Errorf("%s: %w", name, err)
			b.res.Errors = append(b.res.Errors, err.Error())
			errs = append(errs, err)
			b.logf("%s failed: %v", name, err)
		}
		b.res.SectionSeconds[name] = time.Since(t0).Seconds()
	}
	if cfg.has(SectionReference) || cfg.has(SectionE2E) || (cfg.has(SectionReplay) && cfg.ReplayStore == "") {
		step("reference+e2e", b.pairs)
	}
	if cfg.has(SectionReplay) {
		step(SectionReplay, b.replay)
	}
	if cfg.has(SectionExtraction) {
		step(SectionExtraction, b.extraction)
	}
	if cfg.has(SectionMemory) {
		step(SectionMemory, b.memory)
	}
	if cfg.has(SectionLatency) {
		step(SectionLatency, b.latency)
	}
	b.res.TotalSeconds = time.Since(start).Seconds()
	b.res.finish()
	if err := ctx.Err(); err != nil {
		errs = append(errs, err)
	}
	return b.res, errors.Join(errs...)
}

// runner carries one Run's state between sections.
type runner struct {
	cfg  Config
	work string
	res  *Result
	// lastE2EDir is the data directory of the last e2e run (its JetStream
	// store feeds the replay).
	lastE2EDir string
	// sample holds raw messages read from an e2e run (the reference relays
	// messages like them).
	sample []sampledMsg
}

func (b *runner) logf(format string, args ...any) {
	fmt.Fprintf(b.cfg.Progress, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

func (b *runner) dir(name string) (string, error) {
	d := filepath.Join(b.work, name)
	if err := os.RemoveAll(d); err != nil {
		return "", fmt.Errorf("clear %s: %w", d, err)
	}
	if err := os.MkdirAll(d, 0o750); err != nil {
		return "", fmt.Errorf("create %s: %w", d, err)
	}
	return d, nil
}

// freeMemory returns the previous section's garbage to the OS, so that RSS
// figures of the next one start from the harness's own footprint.
func freeMemory() {
	runtime.GC()
	debug.FreeOSMemory()
}
