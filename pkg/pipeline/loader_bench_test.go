package pipeline_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/nsflow/nsflow/pkg/broker"
	"github.com/nsflow/nsflow/pkg/calendarevent"
	"github.com/nsflow/nsflow/pkg/config"
	"github.com/nsflow/nsflow/pkg/natsembed"
	"github.com/nsflow/nsflow/pkg/natsembed/natstest"
	"github.com/nsflow/nsflow/pkg/pipeline"
	"github.com/nsflow/nsflow/pkg/sink"
	"github.com/nsflow/nsflow/pkg/sink/sinktest"
	"github.com/nsflow/nsflow/pkg/transform"
)

// benchServerEnv, when set to a directory, makes the test binary a NATS
// server storing there instead of running tests (see TestMain): the loader
// benchmark runs the server in a process of its own, so the loader's CPU
// figures are the loader's alone, as when every stage is its own process.
const benchServerEnv = "NSFLOW_BENCH_NATS_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(benchServerEnv); dir != "" {
		os.Exit(serveBenchNATS(dir))
	}
	os.Exit(m.Run())
}

// serveBenchNATS runs a server until standard input closes, after printing
// its client URL.
func serveBenchNATS(dir string) int {
	srv, err := natsembed.Start(natsembed.Config{StoreDir: dir, Port: -1})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("NATS_URL=" + srv.ClientURL())
	_, _ = io.Copy(io.Discard, os.Stdin)
	srv.Shutdown()
	return 0
}

// startBenchNATS starts the server process and returns its URL; it is
// stopped when b ends.
func startBenchNATS(b *testing.B) string {
	b.Helper()
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), benchServerEnv+"="+b.TempDir())
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Wait()
	})
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if u, ok := strings.CutPrefix(sc.Text(), "NATS_URL="); ok {
			go func() { _, _ = io.Copy(io.Discard, stdout) }()
			return u
		}
	}
	b.Fatal("bench NATS server did not start")
	return ""
}

// benchEvents is how many canonical events BenchmarkLoaderStage drains per
// iteration.
const benchEvents = 50_000

// BenchmarkLoaderStage runs the loader stage as the product wires it
// (pipeline.NewLoaderWithSink: broker subscriber, Watermill router, the
// middleware chain, the batcher) over a backlog of benchEvents canonical
// events with three attendees each and the transformer's fifteen headers,
// on a JetStream server in another process, into one of these sinks:
//
//	discard             commits at once: the stage's own cost and ceiling
//	serial-25us         one batch at a time, 25 µs of wall time and no CPU
//	                    per event (a latency-bound sink at 40,000 events/s):
//	                    sink-busy-% shows whether the batcher keeps it fed
//	serial-40us         the same at 40 µs per event
//	serial-40us-stalls  the same, and every 16th write takes 100 ms more
//	                    (as SQLite's WAL checkpoints do)
//	serial-cpu-40us     one batch at a time, 40 µs of this process's CPU per
//	                    event (an embedded sink competing for the cores);
//	                    cpu-µs/event includes the 40
//	sqlite              a fresh SQLite file; cpu-µs/event includes SQLite's,
//	                    sink-busy-% is the time some batch was in the sink
//
// Each iteration drains a fresh durable consumer. It reports events/s (wall
// clock, until every message is acked), cpu-µs/event (user+system CPU of
// this process, which does not run the server), the part of it the garbage
// collector took (gc-cpu-µs/event, the runtime's estimate), allocs/event,
// events/write, the most memory the runtime held meanwhile (peak-MiB,
// sampled) and the process's context switches per event; it asserts no
// speed. The loader's settings come from the environment as in the service
// (NSFLOW_MAX_IN_FLIGHT=2048 go test -bench LoaderStage …).
func BenchmarkLoaderStage(b *testing.B) {
	url := startBenchNATS(b)
	nc, js := natstest.Connect(b, url)
	topo := broker.DefaultTopology()
	if err := broker.Provision(b.Context(), js, topo); err != nil {
		b.Fatal(err)
	}
	publishBenchEvents(b, js)
	for _, sc := range []struct {
		name     string
		perEvent time.Duration
		burn     bool
		stall    time.Duration
		sqlite   bool
	}{
		{name: "discard"},
		{name: "serial-25us", perEvent: 25 * time.Microsecond},
		{name: "serial-40us", perEvent: 40 * time.Microsecond},
		{name: "serial-40us-stalls", perEvent: 40 * time.Microsecond, stall: 100 * time.Millisecond},
		{name: "serial-cpu-40us", perEvent: 40 * time.Microsecond, burn: true},
		{name: "sqlite", sqlite: true},
	} {
		b.Run(sc.name, func(b *testing.B) {
			var total loaderRun
			for i := 0; b.Loop(); i++ {
				s := &benchSink{perEvent: sc.perEvent, burn: sc.burn, stall: sc.stall}
				if sc.sqlite {
					b.StopTimer()
					next, err := sink.Open(b.Context(), "sqlite:"+filepath.Join(b.TempDir(), "events.db"), sink.Options{})
					if err != nil {
						b.Fatal(err)
					}
					s.next = next
					b.StartTimer()
				}
				r := runLoaderOnce(b, pipeline.Env{NC: nc, JS: js, Log: testLog()}, topo, fmt.Sprintf("bench-%s-%d", sc.name, i), s)
				total.add(r)
			}
			total.report(b)
		})
	}
}

type loaderRun struct {
	events  int
	wall    time.Duration
	cpu     time.Duration
	gc      time.Duration
	allocs  uint64
	sinkBsy time.Duration
	peak    uint64 // bytes of memory the runtime held at most (sampled)
	csw     int64  // the process's context switches (voluntary and not)
	writes  int64  // sink writes
}

func (r *loaderRun) add(o loaderRun) {
	r.events += o.events
	r.wall += o.wall
	r.cpu += o.cpu
	r.gc += o.gc
	r.allocs += o.allocs
	r.sinkBsy += o.sinkBsy
	r.peak = max(r.peak, o.peak)
	r.csw += o.csw
	r.writes += o.writes
}

// heldMemory is the memory the Go runtime holds from the OS (all of it, less
// what it has returned).
func heldMemory() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64() - s[1].Value.Uint64()
}

// gcCPU is the CPU time the runtime has spent collecting garbage (an
// estimate the runtime keeps; it includes the assists charged to
// allocating goroutines).
func gcCPU() time.Duration {
	s := []metrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}}
	metrics.Read(s)
	return time.Duration(s[0].Value.Float64() * float64(time.Second))
}

func (r loaderRun) report(b *testing.B) {
	n := float64(r.events)
	b.ReportMetric(n/r.wall.Seconds(), "events/s")
	b.ReportMetric(float64(r.cpu.Microseconds())/n, "cpu-µs/event")
	b.ReportMetric(float64(r.gc.Microseconds())/n, "gc-cpu-µs/event")
	b.ReportMetric(100*r.cpu.Seconds()/r.wall.Seconds(), "cpu-%")
	b.ReportMetric(float64(r.allocs)/n, "allocs/event")
	b.ReportMetric(float64(r.peak)/(1<<20), "peak-MiB")
	b.ReportMetric(float64(r.csw)/n, "ctxsw/event")
	b.ReportMetric(n/float64(r.writes), "events/write")
	if r.sinkBsy > 0 {
		b.ReportMetric(100*r.sinkBsy.Seconds()/r.wall.Seconds(), "sink-busy-%")
	}
	b.ReportMetric(0, "ns/op")
}

// publishBenchEvents stores benchEvents canonical events in EVENTS, as the
// transformer publishes them.
func publishBenchEvents(b *testing.B, js jetstream.JetStream) {
	b.Helper()
	pub, err := broker.NewPublisher(js, broker.PublisherConfig{})
	if err != nil {
		b.Fatal(err)
	}
	defer pub.Close()
	const account = "TSTDRV1"
	t0 := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	const chunk = 1000
	for start := 0; start < benchEvents; start += chunk {
		evs := sinktest.Batch(account, fmt.Sprintf("b%d-", start), chunk, t0, uint64(start+1))
		msgs := make([]*message.Message, len(evs))
		for i, ev := range evs {
			payload, err := transform.AppendEvent(nil, ev)
			if err != nil {
				b.Fatal(err)
			}
			rawID := calendarevent.RawMsgID(ev.Account, calendarevent.KindEvent, ev.ID, ev.LastModifiedAt)
			id := calendarevent.EventMsgID(rawID)
			lm := ev.LastModifiedAt.Format(time.RFC3339)
			m := message.NewMessage(id, payload)
			m.Metadata = message.Metadata{
				calendarevent.HeaderMsgID:         id,
				calendarevent.HeaderCEID:          id,
				calendarevent.HeaderCEType:        calendarevent.CETypeEvent,
				calendarevent.HeaderCESource:      "/netsuite/" + calendarevent.AccountToken(ev.Account) + "/calendarevent",
				calendarevent.HeaderCESpecVersion: calendarevent.CESpecVersion,
				calendarevent.HeaderCESubject:     ev.ID,
				calendarevent.HeaderCETime:        lm,
				calendarevent.HeaderAccount:       ev.Account,
				calendarevent.HeaderRecordID:      ev.ID,
				calendarevent.HeaderLastModified:  lm,
				calendarevent.HeaderExtractedAt:   t0.Add(time.Hour).Format(time.RFC3339Nano),
				calendarevent.HeaderSchema:        calendarevent.EventSchema,
				calendarevent.HeaderKind:          calendarevent.KindEvent,
				calendarevent.HeaderRawSequence:   strconv.FormatUint(ev.Provenance.RawSequence, 10),
				calendarevent.HeaderCorrelationID: rawID,
			}
			msgs[i] = m
		}
		if err := pub.PublishContext(b.Context(), calendarevent.EventSubject(account), msgs...); err != nil {
			b.Fatal(err)
		}
	}
}

// runLoaderOnce drains EVENTS through a new loader consumer named after
// sinkName into a benchSink.
func runLoaderOnce(b *testing.B, env pipeline.Env, topo broker.Topology, sinkName string, s *benchSink) loaderRun {
	b.Helper()
	b.StopTimer()
	topo.Sinks = []string{sinkName}
	if err := broker.Provision(b.Context(), env.JS, topo); err != nil {
		b.Fatal(err)
	}
	consumer := broker.LoaderConsumer(sinkName)
	defer func() { _ = env.JS.DeleteConsumer(context.Background(), calendarevent.StreamEvents, consumer) }()
	cons, err := env.JS.Consumer(b.Context(), calendarevent.StreamEvents, consumer)
	if err != nil {
		b.Fatal(err)
	}
	// The loader's defaults, and whatever of its settings the environment
	// sets, to compare settings.
	var environ []string
	known := config.Known()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); known[k] {
			environ = append(environ, kv)
		}
	}
	var cfg config.Loader
	if err := config.Load(environ, &cfg); err != nil {
		b.Fatal(err)
	}
	cfg.Topology = topo
	l, err := pipeline.NewLoaderWithSink(env, cfg, sinkName, s)
	if err != nil {
		b.Fatal(err)
	}
	debug.FreeOSMemory() // so that peak-MiB is the run's
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	allocs0 := ms.Mallocs
	ctx, cancel := context.WithCancel(b.Context())
	done := make(chan error, 1)
	b.StartTimer()
	cpu0, gc0, csw0, start := cpuTime(), gcCPU(), contextSwitches(), time.Now()
	go func() { done <- l.Run(ctx) }()
	deadline := start.Add(5 * time.Minute)
	var peak uint64
	for {
		peak = max(peak, heldMemory())
		if s.count.Load() >= benchEvents {
			info, err := cons.Info(b.Context())
			if err != nil {
				b.Fatal(err)
			}
			if info.NumPending == 0 && info.NumAckPending == 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("not drained after 5m: sink has %d of %d", s.count.Load(), benchEvents)
		}
		time.Sleep(2 * time.Millisecond)
	}
	r := loaderRun{events: benchEvents, wall: time.Since(start), cpu: cpuTime() - cpu0, gc: gcCPU() - gc0, csw: contextSwitches() - csw0}
	b.StopTimer()
	runtime.ReadMemStats(&ms)
	r.allocs = ms.Mallocs - allocs0
	r.sinkBsy = time.Duration(s.busy.Load())
	r.peak = peak
	r.writes = s.calls.Load()
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	if got := s.count.Load(); got != benchEvents {
		b.Fatalf("sink got %d events, want %d", got, benchEvents)
	}
	b.StartTimer()
	return r
}

// benchSink commits at once (perEvent 0), or one batch at a time after
// perEvent for each event, sleeping (a latency-bound sink that costs this
// process no CPU) or spinning (burn: a CPU-bound one), or writes to next.
type benchSink struct {
	perEvent time.Duration
	burn     bool
	stall    time.Duration // added to every 16th write
	next     sink.Sink
	mu       sync.Mutex
	writes   int // under mu
	count    atomic.Int64
	calls    atomic.Int64
	busy     atomic.Int64 // ns with at least one Write in the sink
	inside   int          // Writes in next, under mu
	since    time.Time    // when inside became non-zero
}

var _ sink.EncodedWriter = (*benchSink)(nil)

func (s *benchSink) Write(ctx context.Context, events []*calendarevent.Event) error {
	return s.WriteEncoded(ctx, events, nil)
}

func (s *benchSink) WriteEncoded(ctx context.Context, events []*calendarevent.Event, encoded [][]byte) error {
	switch {
	case s.next != nil:
		s.enter()
		err := sink.WriteEncoded(ctx, s.next, events, encoded)
		s.leave()
		if err != nil {
			return err
		}
	case s.perEvent > 0:
		s.mu.Lock()
		t0 := time.Now()
		d := time.Duration(len(events)) * s.perEvent
		if s.writes++; s.writes%16 == 0 {
			d += s.stall
		}
		if s.burn {
			burnCPU(d)
		} else {
			time.Sleep(d)
		}
		s.busy.Add(int64(time.Since(t0)))
		s.mu.Unlock()
	}
	s.count.Add(int64(len(events)))
	s.calls.Add(1)
	return nil
}

func (s *benchSink) enter() {
	s.mu.Lock()
	if s.inside == 0 {
		s.since = time.Now()
	}
	s.inside++
	s.mu.Unlock()
}

func (s *benchSink) leave() {
	s.mu.Lock()
	if s.inside--; s.inside == 0 {
		s.busy.Add(int64(time.Since(s.since)))
	}
	s.mu.Unlock()
}

func (s *benchSink) Ping(context.Context) error { return nil }

func (s *benchSink) Close() error {
	if s.next != nil {
		return s.next.Close()
	}
	return nil
}

// burnCPU spins until this thread has used d of CPU (or, where there is no
// per-thread CPU clock, until d has passed).
func burnCPU(d time.Duration) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	const rusageThread = 1 // RUSAGE_THREAD on Linux
	thread := func() time.Duration {
		var ru syscall.Rusage
		if err := syscall.Getrusage(rusageThread, &ru); err != nil {
			return -1
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	if t0 := thread(); t0 >= 0 {
		for thread()-t0 < d {
		}
		return
	}
	for t0 := time.Now(); time.Since(t0) < d; {
	}
}

// contextSwitches counts the times this process's threads were switched
// out: a thread parks when its goroutines hand work to one another faster
// than it finds more, so fewer switches mean fewer hand-offs that went idle.
func contextSwitches() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Nvcsw + ru.Nivcsw
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
