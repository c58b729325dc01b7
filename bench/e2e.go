package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/nsflow/nsflow/pkg/broker"
	"github.com/nsflow/nsflow/pkg/calendarevent"
	"github.com/nsflow/nsflow/pkg/config"
	"github.com/nsflow/nsflow/pkg/natsembed"
	"github.com/nsflow/nsflow/pkg/standalone"
)

// E2ERun is one end-to-end run of the product in standalone mode.
type E2ERun struct {
	// Events is the number of events (and deletions) committed to SQLite.
	Events       uint64  `json:"events"`
	Seconds      float64 `json:"seconds"`
	EventsPerSec float64 `json:"events_per_sec"`
	// CPUSecPer1000 is the process's CPU (every stage, the NATS server and
	// the sandbox) per 1,000 events, from the start of extraction to the end.
	CPUSecPer1000 float64 `json:"cpu_sec_per_1000_events"`
	PeakRSSMB     float64 `json:"peak_rss_mb"`
	// RawBytes and EventBytes are the mean stored message sizes of the two
	// streams (headers and payload).
	RawBytes   float64 `json:"raw_msg_bytes"`
	EventBytes float64 `json:"event_msg_bytes"`
	// SinkBusy is the time spent in sink writes over the run's duration
	// (above 1 when the loader's writers overlap).
	SinkBusy float64 `json:"sink_busy"`
}

// RefRun is one run of the plain relay.
type RefRun struct {
	Messages      int     `json:"messages"`
	PayloadBytes  int     `json:"payload_bytes_median"`
	Seconds       float64 `json:"seconds"`
	EventsPerSec  float64 `json:"events_per_sec"`
	CPUMicrosPerE float64 `json:"cpu_us_per_event"`
}

type sampledMsg struct {
	subject string
	header  nats.Header
	data    []byte
}

func (b *runner) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(b.cfg.Progress, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// startProfile starts a CPU profile to <CPUProfile>-<name>.pprof when
// profiling is on, and returns the function that stops it.
func (b *runner) startProfile(name string) func() {
	if b.cfg.CPUProfile == "" {
		return func() {}
	}
	f, err := os.Create(b.cfg.CPUProfile + "-" + name + ".pprof")
	if err != nil {
		b.logf("cpu profile: %v", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.logf("cpu profile: %v", err)
		_ = f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}
}

// heapProfile, when profiling is on, writes a heap profile to
// <CPUProfile>-<name>-heap.pprof each time the heap in use reaches a new
// high (checked every 250 ms), until ctx is done: the last one written is
// the profile at the peak.
func (b *runner) heapProfile(ctx context.Context, name string) {
	if b.cfg.CPUProfile == "" {
		return
	}
	var peak uint64
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		if ms.HeapInuse < peak+peak/10 {
			continue
		}
		peak = ms.HeapInuse
		f, err := os.Create(b.cfg.CPUProfile + "-" + name + "-heap.pprof")
		if err != nil {
			return
		}
		_ = pprof.Lookup("heap").WriteTo(f, 0)
		_ = f.Close()
	}
}

// standaloneConfig is `nsflow run` with no environment: the sandbox, SQLite
// under dataDir, no TCP listeners.
func standaloneConfig(dataDir string, events int) (config.Standalone, error) {
	var cfg config.Standalone
	if err := config.Load(nil, &cfg); err != nil {
		return cfg, fmt.Errorf("standalone defaults: %w", err)
	}
	cfg.DataDir = dataDir
	cfg.SandboxEvents = events
	cfg.OpsAddr = ""
	cfg.NATSListen = ""
	cfg.LogLevel = "warn"
	cfg.PollInterval = time.Hour
	return cfg, nil
}

// pairs runs the e2e/reference pairs (sections 1 and 2; one e2e run when
// only the replay needs its stream).
func (b *runner) pairs(ctx context.Context) error {
	runs := b.cfg.Repeat
	if !b.cfg.has(SectionReference) && !b.cfg.has(SectionE2E) {
		runs = 1
	}
	var errs []error
	for i := range runs {
		e, err := b.e2e(ctx, i)
		if err != nil {
			errs = append(errs, fmt.Errorf("e2e run %d: %w", i+1, err))
			continue
		}
		b.res.e2eRuns = append(b.res.e2eRuns, e)
		b.logf("e2e %d: %d events in %.1fs = %.0f events/s, %.2f CPU-s/1000, peak RSS %.0f MB, raw msg %.0f B, sink busy %.2f",
			i+1, e.Events, e.Seconds, e.EventsPerSec, e.CPUSecPer1000, e.PeakRSSMB, e.RawBytes, e.SinkBusy)
		if !b.cfg.has(SectionReference) {
			continue
		}
		r, err := b.reference(ctx, int(e.Events))
		if err != nil {
			errs = append(errs, fmt.Errorf("reference run %d: %w", i+1, err))
			continue
		}
		b.res.refRuns = append(b.res.refRuns, r)
		b.res.ratios = append(b.res.ratios, e.EventsPerSec/r.EventsPerSec)
		b.logf("reference %d: %d msgs of ~%d B in %.1fs = %.0f msgs/s, %.0f CPU-µs/msg; ratio %.2f",
			i+1, r.Messages, r.PayloadBytes, r.Seconds, r.EventsPerSec, r.CPUMicrosPerE, e.EventsPerSec/r.EventsPerSec)
	}
	return errors.Join(errs...)
}

func (b *runner) e2e(ctx context.Context, i int) (E2ERun, error) {
	if b.lastE2EDir != "" {
		_ = os.RemoveAll(b.lastE2EDir) // keep one store on disk at a time
		b.lastE2EDir = ""
	}
	dir, err := b.dir(fmt.Sprintf("e2e-%d", i))
	if err != nil {
		return E2ERun{}, err
	}
	cfg, err := standaloneConfig(dir, b.cfg.Events)
	if err != nil {
		return E2ERun{}, err
	}
	freeMemory()
	resetPeakRSS()
	var (
		cpu0        time.Duration
		stopProfile = func() {}
	)
	heapCtx, stopHeap := context.WithCancel(ctx)
	defer stopHeap()
	var pl *standalone.Pipeline
	opt := standalone.Options{Once: true, Logger: b.logger(), Ready: func(p *standalone.Pipeline) {
		pl = p
		cpu0 = cpuTime()
		stopProfile = b.startProfile(fmt.Sprintf("e2e-%d", i+1))
		go b.heapProfile(heapCtx, fmt.Sprintf("e2e-%d", i+1))
	}}
	sum, err := standalone.Run(ctx, cfg, opt)
	cpu := cpuTime() - cpu0
	stopProfile()
	stopHeap()
	if err != nil {
		return E2ERun{}, err
	}
	hwm, _ := procStatusKB(0, "VmHWM")
	if sum.DeadLetters > 0 || sum.Loaded != sum.Transformed || sum.Loaded == 0 {
		return E2ERun{}, fmt.Errorf("run incomplete: transformed %d, loaded %d, dead letters %d", sum.Transformed, sum.Loaded, sum.DeadLetters)
	}
	b.lastE2EDir = dir
	var busy float64
	if pl != nil && pl.Ops != nil {
		busy = sinkWriteSeconds(pl.Ops.Registry()) / sum.Elapsed.Seconds()
	}
	run := E2ERun{
		SinkBusy: round(busy, 2),
		Events:   sum.Loaded, Seconds: round(sum.Elapsed.Seconds(), 2), EventsPerSec: round(sum.EventsPerSecond(), 0),
		CPUSecPer1000: round(cpu.Seconds()/float64(sum.Loaded)*1000, 3), PeakRSSMB: mb(hwm),
	}
	raw, events, sample, err := inspectStore(ctx, filepath.Join(dir, "nats"))
	if err != nil {
		return E2ERun{}, err
	}
	if raw.Msgs != sum.Loaded {
		return E2ERun{}, fmt.Errorf("run incomplete: %d raw messages stored, %d events loaded", raw.Msgs, sum.Loaded)
	}
	run.RawBytes = round(float64(raw.Bytes)/float64(max(raw.Msgs, 1)), 0)
	run.EventBytes = round(float64(events.Bytes)/float64(max(events.Msgs, 1)), 0)
	if len(b.sample) == 0 {
		b.sample = sample
	}
	return run, nil
}

// sinkWriteSeconds is the sum of nsflow_sink_write_duration_seconds in reg.
func sinkWriteSeconds(reg *prometheus.Registry) float64 {
	mfs, err := reg.Gather()
	if err != nil {
		return 0
	}
	var total float64
	for _, mf := range mfs {
		if mf.GetName() != "nsflow_sink_write_duration_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			total += m.GetHistogram().GetSampleSum()
		}
	}
	return total
}

// inspectStore opens a stopped standalone run's JetStream store and returns
// the state of the raw and canonical streams and a sample of raw messages
// spread over the raw stream.
func inspectStore(ctx context.Context, storeDir string) (raw, events jetstream.StreamState, sample []sampledMsg, err error) {
	srv, nc, js, err := openStore(storeDir)
	if err != nil {
		return raw, events, nil, err
	}
	defer srv.Shutdown()
	defer nc.Close()
	rs, err := js.Stream(ctx, calendarevent.StreamRaw)
	if err != nil {
		return raw, events, nil, fmt.Errorf("raw stream: %w", err)
	}
	ri, err := rs.Info(ctx)
	if err != nil {
		return raw, events, nil, fmt.Errorf("raw stream info: %w", err)
	}
	es, err := js.Stream(ctx, calendarevent.StreamEvents)
	if err != nil {
		return raw, events, nil, fmt.Errorf("events stream: %w", err)
	}
	ei, err := es.Info(ctx)
	if err != nil {
		return raw, events, nil, fmt.Errorf("events stream info: %w", err)
	}
	raw, events = ri.State, ei.State
	const want = 256
	step := max(raw.Msgs/want, 1)
	for seq := raw.FirstSeq; seq <= raw.LastSeq && len(sample) < want; seq += step {
		m, err := rs.GetMsg(ctx, seq)
		if err != nil {
			continue
		}
		if kind := m.Header.Get(calendarevent.HeaderKind); kind != "" && kind != calendarevent.KindEvent {
			continue // sample events, not deletions
		}
		sample = append(sample, sampledMsg{subject: m.Subject, header: m.Header, data: m.Data})
	}
	if len(sample) == 0 {
		return raw, events, nil, errors.New("no raw message to sample")
	}
	return raw, events, sample, nil
}

// openStore starts an embedded server on an existing store directory.
func openStore(storeDir string) (*natsembed.Server, *nats.Conn, jetstream.JetStream, error) {
	srv, err := natsembed.Start(natsembed.Config{StoreDir: storeDir, NoListen: true})
	if err != nil {
		return nil, nil, nil, err
	}
	nc, err := srv.Connect()
	if err != nil {
		srv.Shutdown()
		return nil, nil, nil, err
	}
	js, err := broker.JetStream(nc, broker.NATSConfig{PublishAsyncMaxPending: 4096})
	if err != nil {
		nc.Close()
		srv.Shutdown()
		return nil, nil, nil, err
	}
	return srv, nc, js, nil
}
