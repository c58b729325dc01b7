package pipeline_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/nsflow/nsflow/pkg/broker"
	"github.com/nsflow/nsflow/pkg/calendarevent"
	"github.com/nsflow/nsflow/pkg/config"
	"github.com/nsflow/nsflow/pkg/natsembed"
	"github.com/nsflow/nsflow/pkg/pipeline"
)

// TestTransformerSplitsGoodAndBadRecords runs the transformer stage on an
// in-process JetStream server over the transform package's corpus: every good
// raw record becomes exactly one canonical event, every bad one becomes a
// dead letter with the expected error class, and the stage keeps going.
func TestTransformerSplitsGoodAndBadRecords(t *testing.T) {
	t.Parallel()
	srv, err := natsembed.Start(natsembed.Config{StoreDir: t.TempDir(), NoListen: true})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	nc, _ := srv.Connect()
	defer nc.Close()
	js, _ := broker.JetStream(nc, broker.NATSConfig{})
	if err := broker.Provision(t.Context(), js, broker.DefaultTopology()); err != nil {
		t.Fatal(err)
	}

	good := readCorpus(t, "../transform/testdata/raw")
	bad := readCorpus(t, "../transform/testdata/bad")
	pub, _ := broker.NewPublisher(js, broker.PublisherConfig{})
	wantClass := map[string]string{}
	publish := func(name string, payload []byte) {
		m := message.NewMessage("corpus:"+name, payload)
		m.Metadata.Set(calendarevent.HeaderAccount, "TSTDRV1")
		m.Metadata.Set(calendarevent.HeaderRecordID, name)
		m.Metadata.Set(calendarevent.HeaderSchema, calendarevent.RawSchema)
		if err := pub.Publish(calendarevent.RawSubject("TSTDRV1"), m); err != nil {
			t.Fatal(err)
		}
	}
	for name, b := range good {
		publish(name, b)
	}
	for name, b := range bad {
		publish(name, b)
		wantClass[name] = strings.SplitN(name, "__", 2)[0]
	}

	var cfg config.Transformer
	if err := config.Load(nil, &cfg); err != nil {
		t.Fatal(err)
	}
	tr, err := pipeline.NewTransformer(pipeline.Env{NC: nc, JS: js, Log: testLog()}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tr.Run(ctx) }()
	defer func() { cancel(); <-done }()

	events, _ := js.Stream(t.Context(), calendarevent.StreamEvents)
	dlq, _ := js.Stream(t.Context(), calendarevent.StreamDLQ)
	deadline := time.Now().Add(60 * time.Second)
	for {
		ei, _ := events.Info(t.Context())
		di, _ := dlq.Info(t.Context())
		if ei.State.Msgs == uint64(len(good)) && di.State.Msgs == uint64(len(bad)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("events %d (want %d), dead letters %d (want %d)", ei.State.Msgs, len(good), di.State.Msgs, len(bad))
		}
		time.Sleep(10 * time.Millisecond)
	}
	cons, _ := js.Consumer(t.Context(), calendarevent.StreamRaw, broker.ConsumerTransformer)
	for {
		ci, _ := cons.Info(t.Context())
		if ci.NumPending == 0 && ci.NumAckPending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("raw records still pending: %+v", ci)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for seq := uint64(1); seq <= uint64(len(bad)); seq++ {
		m, err := dlq.GetMsg(t.Context(), seq)
		if err != nil {
			t.Fatal(err)
		}
		name := m.Header.Get(calendarevent.HeaderRecordID)
		if got := m.Header.Get(calendarevent.HeaderDLQErrorClass); got != wantClass[name] {
			t.Errorf("%s: dead-letter class %q, want %q (reason %q)", name, got, wantClass[name], m.Header.Get(calendarevent.HeaderDLQReason))
		}
		if m.Header.Get(calendarevent.HeaderDLQStage) != "transformer" || m.Header.Get(calendarevent.HeaderDLQSequence) == "" ||
			m.Header.Get(calendarevent.HeaderDLQReason) == "" || string(m.Data) != string(bad[name]) {
			t.Errorf("%s: dead letter lacks its origin, reason or payload: %v", name, m.Header)
		}
	}
	// Every canonical event decodes and carries the raw sequence it came from.
	consumer, err := js.OrderedConsumer(t.Context(), calendarevent.StreamEvents, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := consumer.Fetch(len(good), jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for m := range batch.Messages() {
		ev, err := calendarevent.Unmarshal(m.Data())
		if err != nil {
			t.Fatalf("canonical event does not decode: %v", err)
		}
		if ev.Provenance.RawSequence == 0 || m.Headers().Get(calendarevent.HeaderRawSequence) == "" {
			t.Errorf("event %s lacks its raw sequence", ev.ID)
		}
		n++
	}
	if n != len(good) {
		t.Fatalf("read %d canonical events, want %d", n, len(good))
	}
}

func readCorpus(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[strings.TrimSuffix(e.Name(), ".json")] = b
	}
	if len(out) == 0 {
		t.Fatalf("no corpus in %s", dir)
	}
	return out
}
