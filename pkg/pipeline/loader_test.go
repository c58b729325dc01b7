package pipeline_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
	_ "modernc.org/sqlite"

	"github.com/nsflow/nsflow/pkg/broker"
	"github.com/nsflow/nsflow/pkg/calendarevent"
	"github.com/nsflow/nsflow/pkg/config"
	"github.com/nsflow/nsflow/pkg/natsembed"
	"github.com/nsflow/nsflow/pkg/pipeline"
	"github.com/nsflow/nsflow/pkg/sink"
	"github.com/nsflow/nsflow/pkg/sink/sinktest"
)

// crashAfterCommit wraps a sink: after its first committed batch it closes the
// loader's NATS connection before the handlers return, so the messages of a
// committed batch are never acked — a loader killed between commit and ack.
type crashAfterCommit struct {
	sink.Sink
	nc      *nats.Conn
	crashed atomic.Bool
}

func (c *crashAfterCommit) Write(ctx context.Context, evs []*calendarevent.Event) error {
	if err := c.Sink.Write(ctx, evs); err != nil {
		return err
	}
	if c.crashed.CompareAndSwap(false, true) {
		c.nc.Close()
	}
	return nil
}

func TestLoaderKilledBetweenCommitAndAckLeavesNoDuplicates(t *testing.T) {
	t.Parallel()
	srv, err := natsembed.Start(natsembed.Config{StoreDir: t.TempDir(), NoListen: true})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	ctl, _ := srv.Connect()
	defer ctl.Close()
	js, _ := broker.JetStream(ctl, broker.NATSConfig{})
	topo := broker.DefaultTopology()
	topo.Sinks = []string{"sqlite"}
	topo.Consumer.AckWait = time.Second // redeliver unacked messages quickly
	if err := broker.Provision(t.Context(), js, topo); err != nil {
		t.Fatal(err)
	}
	const n = 500
	pub, _ := broker.NewPublisher(js, broker.PublisherConfig{})
	evs := sinktest.Batch("TSTDRV1", "k", n, time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC), 1)
	msgs := make([]*message.Message, n)
	for i, e := range evs {
		b, err := calendarevent.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		msgs[i] = message.NewMessage("ev-"+e.ID, b)
	}
	if err := pub.Publish(calendarevent.EventSubject("TSTDRV1"), msgs...); err != nil {
		t.Fatal(err)
	}

	dbPath := filepath.Join(t.TempDir(), "events.db")
	var cfg config.Loader
	if err := config.Load(nil, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg.Sink, cfg.BatchSize, cfg.BatchWait, cfg.ShutdownTimeout = "sqlite:"+dbPath, 100, 10*time.Millisecond, 2*time.Second
	cfg.Topology = topo

	runLoader := func(wrap func(sink.Sink, *nats.Conn) sink.Sink) (*pipeline.Loader, context.CancelFunc, chan error) {
		nc, err := srv.Connect()
		if err != nil {
			t.Fatal(err)
		}
		ljs, _ := broker.JetStream(nc, broker.NATSConfig{})
		s, err := sink.Open(t.Context(), cfg.Sink, sink.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if wrap != nil {
			s = wrap(s, nc)
		}
		l, err := pipeline.NewLoaderWithSink(pipeline.Env{NC: nc, JS: ljs, Log: testLog()}, cfg, "sqlite", s)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- l.Run(ctx); nc.Close() }()
		return l, cancel, done
	}

	crash := &crashAfterCommit{}
	_, cancel1, done1 := runLoader(func(s sink.Sink, nc *nats.Conn) sink.Sink {
		crash.Sink, crash.nc = s, nc
		return crash
	})
	deadline := time.Now().Add(30 * time.Second)
	for !crash.crashed.Load() {
		if time.Now().After(deadline) {
			t.Fatal("first loader never committed")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel1()
	<-done1

	l2, cancel2, done2 := runLoader(nil)
	defer func() { cancel2(); <-done2 }()
	cons, _ := js.Consumer(t.Context(), calendarevent.StreamEvents, broker.LoaderConsumer("sqlite"))
	for {
		info, err := cons.Info(t.Context())
		if err == nil && info.NumPending == 0 && info.NumAckPending == 0 {
			if info.NumRedelivered == 0 && info.Delivered.Consumer <= n {
				t.Fatalf("nothing was redelivered (delivered %d): the crash did not leave committed messages unacked", info.Delivered.Consumer)
			}
			break
		}
		if time.Now().After(deadline.Add(30 * time.Second)) {
			t.Fatalf("second loader did not drain: %+v", info)
		}
		time.Sleep(10 * time.Millisecond)
	}
	db, err := sql.Open("sqlite", "file:"+dbPath+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var rows, distinct int
	if err := db.QueryRow("SELECT COUNT(*), COUNT(DISTINCT id) FROM calendar_events").Scan(&rows, &distinct); err != nil {
		t.Fatal(err)
	}
	if rows != n || distinct != n {
		t.Fatalf("%d rows (%d distinct) after the crash and redelivery, want %d", rows, distinct, n)
	}
	if l2.Stage.Loaded() == 0 {
		t.Fatal("second loader loaded nothing")
	}
}
