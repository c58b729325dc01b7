package admin_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/nsflow/nsflow/pkg/admin"
	"github.com/nsflow/nsflow/pkg/broker"
	"github.com/nsflow/nsflow/pkg/calendarevent"
	"github.com/nsflow/nsflow/pkg/natsembed"
)

func setup(t *testing.T) (jetstream.JetStream, *broker.Publisher) {
	t.Helper()
	srv, err := natsembed.Start(natsembed.Config{StoreDir: t.TempDir(), NoListen: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	nc, _ := srv.Connect()
	t.Cleanup(nc.Close)
	js, _ := broker.JetStream(nc, broker.NATSConfig{})
	topo := broker.DefaultTopology()
	topo.Sinks = []string{"sqlite"}
	if err := broker.Provision(t.Context(), js, topo); err != nil {
		t.Fatal(err)
	}
	pub, _ := broker.NewPublisher(js, broker.PublisherConfig{})
	return js, pub
}

// deadLetterOne runs a real transformer-like handler that rejects "bad".
func deadLetterOne(t *testing.T, js jetstream.JetStream, pub *broker.Publisher) {
	t.Helper()
	m := message.NewMessage("acct:bad:1", []byte(`{"not":"a raw record"}`))
	m.Metadata.Set(calendarevent.HeaderAccount, "ACCT")
	m.Metadata.Set(calendarevent.HeaderRecordID, "bad")
	if err := pub.Publish(calendarevent.RawSubject("ACCT"), m); err != nil {
		t.Fatal(err)
	}
	sub, _ := broker.NewSubscriber(js, broker.SubscriberConfig{})
	r, _ := message.NewRouter(message.RouterConfig{}, watermill.NopLogger{})
	r.AddConsumerHandler("h", broker.ConsumerTopic(calendarevent.StreamRaw, broker.ConsumerTransformer), sub, func(*message.Message) error {
		return broker.Permanent(errors.New("record: not a raw envelope"), "malformed_json")
	})
	r.AddMiddleware(broker.Chain(broker.ChainConfig{DeadLetter: broker.DeadLetterConfig{Publisher: pub, Stage: "transformer", Handler: "h"}})...)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { _ = r.Run(ctx); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		dl, err := admin.ListDeadLetters(t.Context(), js, "", 0)
		if err == nil && len(dl) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no dead letter")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
}

func TestDeadLettersListShowRedrive(t *testing.T) {
	t.Parallel()
	js, pub := setup(t)
	deadLetterOne(t, js, pub)
	dl, err := admin.ListDeadLetters(t.Context(), js, "transformer", 10)
	if err != nil || len(dl) != 1 {
		t.Fatalf("list = %v, %v", dl, err)
	}
	d := dl[0]
	if d.Stage != "transformer" || d.Class != "malformed_json" || d.RecordID != "bad" || d.OriginalSubj != "netsuite.acct.calendarevent.raw" || d.Reason == "" {
		t.Fatalf("dead letter described as %+v", d)
	}
	if other, _ := admin.ListDeadLetters(t.Context(), js, "loader", 10); len(other) != 0 {
		t.Fatalf("stage filter returned %d loader dead letters", len(other))
	}
	_, _, payload, err := admin.ShowDeadLetter(t.Context(), js, d.Sequence)
	if err != nil || string(payload) != `{"not":"a raw record"}` {
		t.Fatalf("show = %q, %v", payload, err)
	}
	raw, _ := js.Stream(t.Context(), calendarevent.StreamRaw)
	before, _ := raw.Info(t.Context())
	subj, err := admin.Redrive(t.Context(), js, d.Sequence)
	if err != nil || subj != "netsuite.acct.calendarevent.raw" {
		t.Fatalf("redrive = %q, %v", subj, err)
	}
	after, _ := raw.Info(t.Context())
	if after.State.Msgs != before.State.Msgs+1 {
		t.Fatalf("raw stream %d → %d: the redriven message was not stored (dropped as a duplicate?)", before.State.Msgs, after.State.Msgs)
	}
	if left, _ := admin.ListDeadLetters(t.Context(), js, "", 0); len(left) != 0 {
		t.Fatalf("%d dead letters left after redrive", len(left))
	}
}

func TestReplayRewindsConsumerAndStatusReportsIt(t *testing.T) {
	t.Parallel()
	js, pub := setup(t)
	for _, id := range []string{"a", "b", "c"} {
		m := message.NewMessage("ev-"+id, []byte(`{}`))
		if err := pub.Publish(calendarevent.EventSubject("ACCT"), m); err != nil {
			t.Fatal(err)
		}
	}
	cons, _ := js.Consumer(t.Context(), calendarevent.StreamEvents, "loader-sqlite")
	batch, err := cons.Fetch(3, jetstream.FetchMaxWait(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for m := range batch.Messages() {
		_ = m.DoubleAck(t.Context())
	}
	st, err := admin.ReadStatus(t.Context(), js, "")
	if err != nil {
		t.Fatal(err)
	}
	var loader admin.ConsumerStatus
	for _, c := range st.Consumers {
		if c.Name == "loader-sqlite" {
			loader = c
		}
	}
	if loader.Pending != 0 || loader.AckFloor != 3 {
		t.Fatalf("loader status before replay %+v", loader)
	}
	stream, consumer, err := admin.ReplayTarget("loader", "sqlite")
	if err != nil {
		t.Fatal(err)
	}
	if err := admin.Replay(t.Context(), js, stream, consumer, time.Time{}, 2); err != nil {
		t.Fatal(err)
	}
	st, _ = admin.ReadStatus(t.Context(), js, "")
	for _, c := range st.Consumers {
		if c.Name == "loader-sqlite" && (c.Pending != 2 || c.DeliverPolicy != "by_start_sequence") {
			t.Fatalf("after replay from sequence 2: %+v", c)
		}
	}
	if err := admin.Replay(t.Context(), js, stream, consumer, time.Time{}, 0); err == nil {
		t.Fatal("replay without a start accepted")
	}
	if _, _, err := admin.ReplayTarget("extractor", ""); err == nil {
		t.Fatal("replay target extractor accepted")
	}
}
