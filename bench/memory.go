package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/nsflow/nsflow/pkg/broker"
	"github.com/nsflow/nsflow/pkg/calendarevent"
	"github.com/nsflow/nsflow/pkg/natsembed"
	"github.com/nsflow/nsflow/pkg/sandbox"
)

// StageMemory is one stage process run against its backlog.
type StageMemory struct {
	Stage string `json:"stage"`
	// Backlog is what waited in the stage's input when it started;
	// Processed how much of it the stage got through in Seconds.
	Backlog   uint64  `json:"backlog"`
	Processed uint64  `json:"processed"`
	Seconds   float64 `json:"seconds"`
	PeakRSSMB float64 `json:"peak_rss_mb"`
	// LastRSSMB is the RSS when the stage was stopped; Anon, File and Shmem
	// split the largest RSS sampled (VmRSS) as /proc/<pid>/status does.
	LastRSSMB  float64 `json:"last_rss_mb"`
	MaxAnonMB  float64 `json:"rss_anon_mb"`
	MaxFileMB  float64 `json:"rss_file_mb"`
	MaxShmemMB float64 `json:"rss_shmem_mb"`
	// CPUMicrosPerEvent is the stage process's CPU time (user and system,
	// not the NATS server's) per event processed: what one stage costs
	// when it runs alone.
	CPUMicrosPerEvent float64 `json:"cpu_us_per_event"`
	EventsPerSec      float64 `json:"events_per_sec"`
}

// memory runs each stage's service binary, one at a time, against a NATS
// server run here (TCP on 127.0.0.1), with the backlog waiting in its input:
//
//	extractor:   a sandbox of BacklogEvents events, not yet extracted; it
//	             runs one pass to the end (NSFLOW_ONCE), filling NETSUITE_RAW
//	transformer: NETSUITE_RAW as the extractor left it; it runs BacklogRun
//	loader:      EVENTS topped up to BacklogEvents (copies of the canonical
//	             events the transformer wrote, each with its own id); it runs
//	             BacklogRun into a fresh SQLite file
//
// and reads each process's VmHWM from /proc every 100 ms.
func (b *runner) memory(ctx context.Context) error {
	bins, err := b.serviceBinaries(ctx)
	if err != nil {
		return err
	}
	dir, err := b.dir("memory")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	srv, err := natsembed.Start(natsembed.Config{StoreDir: filepath.Join(dir, "nats"), Host: "127.0.0.1", Port: -1})
	if err != nil {
		return err
	}
	defer srv.Shutdown()
	nc, err := srv.Connect()
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := broker.JetStream(nc, broker.NATSConfig{PublishAsyncMaxPending: 4096})
	if err != nil {
		return err
	}
	cfg, err := standaloneConfig(dir, 0)
	if err != nil {
		return err
	}
	topo := cfg.Topology
	topo.Sinks = []string{"sqlite"}
	if err := broker.Provision(ctx, js, topo); err != nil {
		return err
	}
	common := []string{
		"NATS_URL=" + srv.ClientURL(), "NSFLOW_OPS_ADDR=127.0.0.1:0", "NSFLOW_LOG_LEVEL=warn",
	}

	// Extractor: the sandbox holds the backlog.
	sb, err := sandbox.New(sandbox.Config{Events: b.cfg.BacklogEvents, Seed: cfg.SandboxSeed, TimeZone: cfg.NetSuite.TimeZone})
	if err != nil {
		return err
	}
	defer sb.Close()
	url, err := sb.Start("127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("start sandbox: %w", err)
	}
	sc := sb.Config()
	xenv := append(common[:len(common):len(common)],
		"NETSUITE_ACCOUNT_ID="+sc.Account, "NETSUITE_CLIENT_ID="+sc.ClientID, "NETSUITE_CLIENT_SECRET="+sc.ClientSecret,
		"NETSUITE_REFRESH_TOKEN="+sb.RefreshToken(), "NETSUITE_BASE_URL="+url,
		"NETSUITE_TOKEN_URL="+url+"/services/rest/auth/oauth2/v1/token", "NETSUITE_TIME_ZONE="+sc.TimeZone,
		"NSFLOW_ONCE=true")
	xenv = append(xenv, b.cfg.StageEnv["extractor"]...)
	raw := streamCounter(js, calendarevent.StreamRaw)
	xm, err := b.runStage(ctx, "extractor", bins, xenv, uint64(sb.LiveEventCount()), raw, 0, 3*time.Second,
		time.Duration(b.cfg.BacklogEvents)*time.Millisecond+2*time.Minute)
	if err != nil {
		return err
	}
	b.res.Memory = append(b.res.Memory, xm)

	// Transformer: NETSUITE_RAW holds the backlog.
	rawN, err := raw(ctx)
	if err != nil {
		return err
	}
	events := streamCounter(js, calendarevent.StreamEvents)
	tenv := append(common[:len(common):len(common)], b.cfg.StageEnv["transformer"]...)
	tm, err := b.runStage(ctx, "transformer", bins, tenv, rawN, events, rawN, 0, b.cfg.BacklogRun)
	if err != nil {
		return err
	}
	b.res.Memory = append(b.res.Memory, tm)

	// Loader: EVENTS topped up to the backlog size.
	if err := topUpEvents(ctx, js, uint64(b.cfg.BacklogEvents)); err != nil {
		return err
	}
	evN, err := events(ctx)
	if err != nil {
		return err
	}
	lenv := append(common[:len(common):len(common)], "NSFLOW_SINK=sqlite:"+filepath.Join(dir, "events.db"))
	lenv = append(lenv, b.cfg.StageEnv["loader"]...)
	loaded := consumerAcked(js, calendarevent.StreamEvents, broker.LoaderConsumer("sqlite"))
	lm, err := b.runStage(ctx, "loader", bins, lenv, evN, loaded, evN, 0, b.cfg.BacklogRun)
	if err != nil {
		return err
	}
	b.res.Memory = append(b.res.Memory, lm)
	return nil
}

type counter func(context.Context) (uint64, error)

func streamCounter(js jetstream.JetStream, stream string) counter {
	return func(ctx context.Context) (uint64, error) {
		s, err := js.Stream(ctx, stream)
		if err != nil {
			return 0, fmt.Errorf("stream %s: %w", stream, err)
		}
		info, err := s.Info(ctx)
		if err != nil {
			return 0, fmt.Errorf("stream %s info: %w", stream, err)
		}
		return info.State.Msgs, nil
	}
}

func consumerAcked(js jetstream.JetStream, stream, consumer string) counter {
	return func(ctx context.Context) (uint64, error) {
		c, err := js.Consumer(ctx, stream, consumer)
		if err != nil {
			return 0, fmt.Errorf("consumer %s: %w", consumer, err)
		}
		info, err := c.Info(ctx)
		if err != nil {
			return 0, fmt.Errorf("consumer %s info: %w", consumer, err)
		}
		return info.AckFloor.Stream, nil
	}
}

// runStage starts bins/<stage> with env and samples its memory until it
// exits, progress reaches target (when target > 0), progress has not moved
// for stable (when stable > 0) or limit has passed; then it stops it
// (SIGTERM, then SIGKILL after 30 s).
func (b *runner) runStage(ctx context.Context, stage, bins string, env []string, backlog uint64, progress counter,
	target uint64, stable, limit time.Duration) (StageMemory, error) {
	start0, err := progress(ctx)
	if err != nil {
		return StageMemory{}, err
	}
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, filepath.Join(bins, stage))
	cmd.Env = append(baseEnv(), env...)
	cmd.Stderr = &stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return StageMemory{}, fmt.Errorf("start %s: %w", stage, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	pid := cmd.Process.Pid
	var (
		peak, last, maxRSS int64
		anon, file, shmem  int64
		done               uint64
		lastMove           = time.Now()
		exitErr            error
		hasExited          bool
	)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
loop:
	for {
		select {
		case exitErr = <-exited:
			hasExited = true
			break loop
		case <-ctx.Done():
			break loop
		case <-tick.C:
		}
		if hwm, err := procStatusKB(pid, "VmHWM"); err == nil {
			peak = max(peak, hwm)
		}
		if rss, err := procStatusKB(pid, "VmRSS"); err == nil {
			last = rss
			if rss > maxRSS {
				maxRSS = rss
				anon, _ = procStatusKB(pid, "RssAnon")
				file, _ = procStatusKB(pid, "RssFile")
				shmem, _ = procStatusKB(pid, "RssShmem")
			}
		}
		n, err := progress(ctx)
		if err != nil {
			continue
		}
		if n != done {
			done, lastMove = n, time.Now()
		}
		switch {
		case target > 0 && done-start0 >= target:
			break loop
		case stable > 0 && done > start0 && time.Since(lastMove) > stable:
			break loop
		case time.Since(start) > limit:
			break loop
		}
	}
	elapsed := time.Since(start)
	if !hasExited {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case exitErr = <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			exitErr = <-exited
		}
	}
	if n, err := progress(context.WithoutCancel(ctx)); err == nil {
		done = n
	}
	if exitErr != nil && !isTerminated(exitErr) {
		return StageMemory{}, fmt.Errorf("%s: %w: %s", stage, exitErr, lastLines(stderr.String(), 5))
	}
	if done <= start0 {
		return StageMemory{}, fmt.Errorf("%s made no progress in %s: %s", stage, elapsed.Round(time.Second), lastLines(stderr.String(), 5))
	}
	m := StageMemory{Stage: stage, Backlog: backlog, Processed: done - start0, Seconds: round(elapsed.Seconds(), 1),
		PeakRSSMB: mb(peak), LastRSSMB: mb(last), MaxAnonMB: mb(anon), MaxFileMB: mb(file), MaxShmemMB: mb(shmem),
		EventsPerSec: round(perSecond(done-start0, elapsed), 0)}
	if ps := cmd.ProcessState; ps != nil {
		m.CPUMicrosPerEvent = round(float64((ps.UserTime()+ps.SystemTime()).Microseconds())/float64(m.Processed), 1)
	}
	b.logf("memory %s: backlog %d, processed %d in %.0fs (%.0f/s, %.1f CPU-µs each), peak RSS %.1f MB (last %.1f MB; at the largest sample anon %.0f, file %.0f, shmem %.0f MB)",
		stage, m.Backlog, m.Processed, m.Seconds, m.EventsPerSec, m.CPUMicrosPerEvent, m.PeakRSSMB, m.LastRSSMB, m.MaxAnonMB, m.MaxFileMB, m.MaxShmemMB)
	return m, nil
}

func isTerminated(err error) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGTERM {
		return true
	}
	return false
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], " | ")
}

// baseEnv is the part of the harness's environment a service may see: not
// NSFLOW_, NETSUITE_ or NATS_ variables (a service rejects names it does not
// know, and the harness's own settings are not the stage's).
func baseEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "NSFLOW_") || strings.HasPrefix(kv, "NETSUITE_") || strings.HasPrefix(kv, "NATS_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// serviceBinaries returns a directory holding the extractor, transformer and
// loader binaries, building them when Config.BinDir is empty.
func (b *runner) serviceBinaries(ctx context.Context) (string, error) {
	if b.cfg.BinDir != "" {
		return b.cfg.BinDir, nil
	}
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("find module root (go env GOMOD): %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(out)))
	bins := filepath.Join(b.work, "bin")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bins+string(os.PathSeparator),
		"./services/extractor", "./services/transformer", "./services/loader")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build services: %w: %s", err, out)
	}
	return bins, nil
}

// topUpEvents publishes copies of the canonical events already in EVENTS,
// each with a new id, until the stream holds want messages.
func topUpEvents(ctx context.Context, js jetstream.JetStream, want uint64) error {
	s, err := js.Stream(ctx, calendarevent.StreamEvents)
	if err != nil {
		return fmt.Errorf("events stream: %w", err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return fmt.Errorf("events stream info: %w", err)
	}
	have := info.State.Msgs
	if have == 0 {
		return errors.New("no canonical events to copy")
	}
	if have >= want {
		return nil
	}
	const sampleN = 1000
	var sample []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && len(sample) < sampleN; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			continue
		}
		if m.Header.Get(calendarevent.HeaderKind) == calendarevent.KindEvent {
			sample = append(sample, m)
		}
	}
	if len(sample) == 0 {
		return errors.New("no canonical event to copy")
	}
	for i := range want - have {
		m := sample[int(i)%len(sample)]
		suffix := "-c" + strconv.FormatUint(i, 10)
		data, ok := withIDSuffix(m.Data, m.Header.Get(calendarevent.HeaderRecordID), suffix)
		if !ok {
			return errors.New("canonical event without the expected id field")
		}
		h := make(nats.Header, len(m.Header))
		for k, v := range m.Header {
			h[k] = v
		}
		h.Set(calendarevent.HeaderMsgID, h.Get(calendarevent.HeaderMsgID)+suffix)
		h.Set(calendarevent.HeaderRecordID, h.Get(calendarevent.HeaderRecordID)+suffix)
		if _, err := js.PublishMsgAsync(&nats.Msg{Subject: m.Subject, Header: h, Data: data}); err != nil {
			return fmt.Errorf("publish copy: %w", err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// withIDSuffix rewrites the event's top-level "id":"<id>" (the first
// occurrence: the canonical encoding writes schema, account, id first).
func withIDSuffix(data []byte, id, suffix string) ([]byte, bool) {
	old := []byte(`"id":` + strconv.Quote(id))
	i := bytes.Index(data, old)
	if id == "" || i < 0 {
		return nil, false
	}
	out := make([]byte, 0, len(data)+len(suffix))
	out = append(out, data[:i]...)
	out = append(out, `"id":`+strconv.Quote(id+suffix)...)
	return append(out, data[i+len(old):]...), true
}
