package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"
)

// Result is everything a Run measured. The flat *_per_sec, *_ratio, … keys
// are the headline figures issue #7 names (medians where runs repeat); the
// structured fields hold every run.
type Result struct {
	GeneratedAt string  `json:"generated_at"`
	Machine     Machine `json:"machine"`
	Config      struct {
		Events                int     `json:"events"`
		Repeat                int     `json:"repeat"`
		ExtractionEvents      int     `json:"extraction_events"`
		ExtractionLatencyMS   float64 `json:"extraction_latency_ms"`
		ExtractionConcurrency int     `json:"extraction_concurrency"`
		BacklogEvents         int     `json:"backlog_events"`
		BacklogRunSeconds     float64 `json:"backlog_run_seconds"`
		LatencyChanges        int     `json:"latency_changes"`
		PollIntervalMS        float64 `json:"poll_interval_ms"`
	} `json:"config"`

	// Headline figures (issue #7).
	ReferenceEventsPerSec     *float64 `json:"reference_events_per_sec"`
	E2EEventsPerSec           *float64 `json:"e2e_events_per_sec"`
	E2ERatio                  *float64 `json:"e2e_ratio"`
	E2ECPUSecPer1000          *float64 `json:"e2e_cpu_sec_per_1000_events"`
	E2EPeakRSSMB              *float64 `json:"e2e_peak_rss_mb"`
	ReplaySQLiteRowsPerSec    *float64 `json:"replay_sqlite_rows_per_sec"`
	ReplayPostgresRowsPerSec  any      `json:"replay_postgres_rows_per_sec"`
	RequestsPer1000           *float64 `json:"requests_per_1000_events"`
	RequestsPer1000Attendees  *float64 `json:"requests_per_1000_events_with_attendees"`
	ExtractionEventsPerSec    *float64 `json:"extraction_events_per_sec"`
	ExtractionEventsPerSecAtt *float64 `json:"extraction_events_per_sec_with_attendees"`
	ConcurrencyUtilization    *float64 `json:"concurrency_utilization"`
	MaxStageRSSMB             *float64 `json:"max_stage_rss_mb"`
	LatencyP50MS              *float64 `json:"latency_p50_ms"`
	LatencyP99MS              *float64 `json:"latency_p99_ms"`

	// Spreads of the repeated sections.
	Reference *Spread `json:"reference_spread,omitempty"`
	E2E       *Spread `json:"e2e_spread,omitempty"`
	Ratio     *Spread `json:"e2e_ratio_spread,omitempty"`

	ReferenceRuns         []RefRun        `json:"reference_runs,omitempty"`
	E2ERuns               []E2ERun        `json:"e2e_runs,omitempty"`
	ReplaySQLite          *ReplayRun      `json:"replay_sqlite,omitempty"`
	ReplayPostgres        *ReplayRun      `json:"replay_postgres,omitempty"`
	ReplayPostgresSkipped string          `json:"replay_postgres_skipped,omitempty"`
	Extraction            []ExtractionRun `json:"extraction,omitempty"`
	Memory                []StageMemory   `json:"memory,omitempty"`
	Latency               *LatencyRun     `json:"latency,omitempty"`

	Targets        []Target           `json:"targets"`
	SectionSeconds map[string]float64 `json:"section_seconds"`
	TotalSeconds   float64            `json:"total_seconds"`
	Errors         []string           `json:"errors,omitempty"`

	e2eRuns []E2ERun
	refRuns []RefRun
	ratios  []float64
}

// Target is one of issue #7's targets and whether the result meets it.
type Target struct {
	Name   string `json:"name"`
	Want   string `json:"want"`
	Got    string `json:"got"`
	Status string `json:"status"` // met, missed, not measured
}

func newResult(cfg Config) *Result {
	r := &Result{GeneratedAt: time.Now().UTC().Format(time.RFC3339), SectionSeconds: map[string]float64{}}
	c := &r.Config
	c.Events, c.Repeat = cfg.Events, cfg.Repeat
	c.ExtractionEvents, c.ExtractionLatencyMS = cfg.ExtractionEvents, float64(cfg.ExtractionLatency.Milliseconds())
	c.ExtractionConcurrency, c.BacklogEvents = cfg.ExtractionConcurrency, cfg.BacklogEvents
	c.BacklogRunSeconds, c.LatencyChanges = cfg.BacklogRun.Seconds(), cfg.LatencyChanges
	c.PollIntervalMS = float64(cfg.PollInterval.Milliseconds())
	return r
}

func ptr(x float64) *float64 { return &x }

// finish computes the headline figures and the targets.
func (r *Result) finish() {
	r.E2ERuns, r.ReferenceRuns = r.e2eRuns, r.refRuns
	if len(r.refRuns) > 0 {
		xs := make([]float64, len(r.refRuns))
		for i, x := range r.refRuns {
			xs[i] = x.EventsPerSec
		}
		s := spreadOf(xs, 0)
		r.Reference, r.ReferenceEventsPerSec = &s, ptr(s.Median)
	}
	if len(r.e2eRuns) > 0 {
		xs, cpu, rss := make([]float64, len(r.e2eRuns)), make([]float64, len(r.e2eRuns)), 0.0
		for i, x := range r.e2eRuns {
			xs[i], cpu[i], rss = x.EventsPerSec, x.CPUSecPer1000, max(rss, x.PeakRSSMB)
		}
		s := spreadOf(xs, 0)
		r.E2E, r.E2EEventsPerSec = &s, ptr(s.Median)
		r.E2ECPUSecPer1000, r.E2EPeakRSSMB = ptr(spreadOf(cpu, 3).Median), ptr(rss)
	}
	if len(r.ratios) > 0 {
		s := spreadOf(r.ratios, 3)
		r.Ratio, r.E2ERatio = &s, ptr(s.Median)
	}
	if r.ReplaySQLite != nil {
		r.ReplaySQLiteRowsPerSec = ptr(r.ReplaySQLite.RowsPerSec)
	}
	switch {
	case r.ReplayPostgres != nil:
		r.ReplayPostgresRowsPerSec = r.ReplayPostgres.RowsPerSec
	case r.ReplayPostgresSkipped != "":
		r.ReplayPostgresRowsPerSec = "skipped"
	}
	for _, x := range r.Extraction {
		switch x.Attendees {
		case "off":
			r.RequestsPer1000, r.ExtractionEventsPerSec = ptr(x.RequestsPer1000), ptr(x.RecordsPerSec)
			r.ConcurrencyUtilization = ptr(x.Utilization)
		default:
			r.RequestsPer1000Attendees, r.ExtractionEventsPerSecAtt = ptr(x.RequestsPer1000), ptr(x.RecordsPerSec)
			if r.ConcurrencyUtilization == nil || x.Utilization < *r.ConcurrencyUtilization {
				r.ConcurrencyUtilization = ptr(x.Utilization) // the worse of the two backfills
			}
		}
	}
	if len(r.Memory) > 0 {
		m := 0.0
		for _, x := range r.Memory {
			m = max(m, x.PeakRSSMB)
		}
		r.MaxStageRSSMB = ptr(m)
	}
	if r.Latency != nil {
		r.LatencyP50MS, r.LatencyP99MS = ptr(r.Latency.P50MS), ptr(r.Latency.P99MS)
	}
	r.Targets = r.targets()
}

func (r *Result) targets() []Target {
	var ts []Target
	add := func(name, want string, got *float64, format string, ok func(float64) bool) {
		t := Target{Name: name, Want: want, Status: "not measured"}
		if got != nil {
			t.Got = fmt.Sprintf(format, *got)
			t.Status = "missed"
			if ok(*got) {
				t.Status = "met"
			}
		}
		ts = append(ts, t)
	}
	add("e2e events/s", "≥ 20000", r.E2EEventsPerSec, "%.0f", func(x float64) bool { return x >= 20000 })
	add("e2e ratio to reference", "≥ 0.80", r.E2ERatio, "%.2f", func(x float64) bool { return x >= 0.8 })
	add("replay SQLite rows/s", "≥ 30000", r.ReplaySQLiteRowsPerSec, "%.0f", func(x float64) bool { return x >= 30000 })
	var pg *float64
	if r.ReplayPostgres != nil {
		pg = ptr(r.ReplayPostgres.RowsPerSec)
	}
	add("replay PostgreSQL rows/s", "≥ 30000", pg, "%.0f", func(x float64) bool { return x >= 30000 })
	add("requests per 1000 events (headers)", "≤ 1.01", r.RequestsPer1000, "%.3f", func(x float64) bool { return x <= 1.01 })
	add("concurrency budget in use during backfill", "≥ 90%", scale(r.ConcurrencyUtilization, 100), "%.0f%%", func(x float64) bool { return x >= 90 })
	add("max stage RSS under backlog", "< 128 MB", r.MaxStageRSSMB, "%.0f MB", func(x float64) bool { return x < 128 })
	limit := r.Config.PollIntervalMS + 2000
	add("latency p99", fmt.Sprintf("< %.0f ms", limit), r.LatencyP99MS, "%.0f ms", func(x float64) bool { return x < limit })
	return ts
}

func scale(x *float64, f float64) *float64 {
	if x == nil {
		return nil
	}
	return ptr(*x * f)
}

// WriteJSON writes r to path (creating its directory).
func (r *Result) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode result: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// WriteTable prints the figures as one table.
func (r *Result) WriteTable(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	f := func(x *float64, format string) string {
		if x == nil {
			return "-"
		}
		return fmt.Sprintf(format, *x)
	}
	sp := func(s *Spread, format string) string {
		if s == nil || len(s.Runs) < 2 {
			return ""
		}
		return fmt.Sprintf("(%s–%s, %d runs)", fmt.Sprintf(format, s.Min), fmt.Sprintf(format, s.Max), len(s.Runs))
	}
	fmt.Fprintf(tw, "figure\tvalue\tspread / detail\n")
	fmt.Fprintf(tw, "reference_events_per_sec\t%s\t%s\n", f(r.ReferenceEventsPerSec, "%.0f"), sp(r.Reference, "%.0f"))
	fmt.Fprintf(tw, "e2e_events_per_sec\t%s\t%s\n", f(r.E2EEventsPerSec, "%.0f"), sp(r.E2E, "%.0f"))
	fmt.Fprintf(tw, "e2e_ratio\t%s\t%s\n", f(r.E2ERatio, "%.2f"), sp(r.Ratio, "%.2f"))
	fmt.Fprintf(tw, "e2e_cpu_sec_per_1000_events\t%s\t\n", f(r.E2ECPUSecPer1000, "%.3f"))
	fmt.Fprintf(tw, "e2e_peak_rss_mb\t%s\t\n", f(r.E2EPeakRSSMB, "%.0f"))
	fmt.Fprintf(tw, "replay_sqlite_rows_per_sec\t%s\t\n", f(r.ReplaySQLiteRowsPerSec, "%.0f"))
	switch {
	case r.ReplayPostgres != nil:
		fmt.Fprintf(tw, "replay_postgres_rows_per_sec\t%.0f\t\n", r.ReplayPostgres.RowsPerSec)
	case r.ReplayPostgresSkipped != "":
		fmt.Fprintf(tw, "replay_postgres_rows_per_sec\tskipped\t%s\n", r.ReplayPostgresSkipped)
	default:
		fmt.Fprintf(tw, "replay_postgres_rows_per_sec\t-\t\n")
	}
	fmt.Fprintf(tw, "requests_per_1000_events\t%s\t%s\n", f(r.RequestsPer1000, "%.3f"), r.extractionDetail("off"))
	fmt.Fprintf(tw, "requests_per_1000_events_with_attendees\t%s\t%s\n", f(r.RequestsPer1000Attendees, "%.3f"), r.extractionDetail("suiteql"))
	fmt.Fprintf(tw, "concurrency_utilization\t%s\t\n", f(r.ConcurrencyUtilization, "%.3f"))
	var mem []string
	for _, m := range r.Memory {
		mem = append(mem, fmt.Sprintf("%s %.0f MB", m.Stage, m.PeakRSSMB))
	}
	fmt.Fprintf(tw, "max_stage_rss_mb\t%s\t%s\n", f(r.MaxStageRSSMB, "%.0f"), strings.Join(mem, ", "))
	fmt.Fprintf(tw, "latency_p50_ms\t%s\t\n", f(r.LatencyP50MS, "%.0f"))
	fmt.Fprintf(tw, "latency_p99_ms\t%s\t\n", f(r.LatencyP99MS, "%.0f"))
	_ = tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "target\twant\tgot\tstatus\n")
	for _, t := range r.Targets {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.Name, t.Want, t.Got, t.Status)
	}
	_ = tw.Flush()
	for _, e := range r.Errors {
		fmt.Fprintf(w, "error: %s\n", e)
	}
}

func (r *Result) extractionDetail(mode string) string {
	for _, x := range r.Extraction {
		if x.Attendees == mode {
			return fmt.Sprintf("%d requests / %d records, %.0f records/s, %.0f%% of %d slots",
				x.Requests, x.Records, x.RecordsPerSec, x.Utilization*100, x.ConcurrencyLimit)
		}
	}
	return ""
}
