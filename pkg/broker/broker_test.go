package broker_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/nsflow/nsflow/pkg/broker"
	"github.com/nsflow/nsflow/pkg/calendarevent"
	"github.com/nsflow/nsflow/pkg/natsembed"
)

// env is an embedded JetStream server with the pipeline's topology provisioned.
type env struct {
	srv *natsembed.Server
	nc  *nats.Conn
	js  jetstream.JetStream
}

func newEnv(t *testing.T) *env {
	t.Helper()
	srv, err := natsembed.Start(natsembed.Config{StoreDir: t.TempDir(), NoListen: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	nc, err := srv.Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := broker.JetStream(nc, broker.NATSConfig{})
	if err != nil {
		t.Fatal(err)
	}
	topo := broker.DefaultTopology()
	topo.Sinks = []string{"sqlite"}
	topo.Consumer.AckWait = 5 * time.Second
	if err := broker.Provision(t.Context(), js, topo); err != nil {
		t.Fatalf("provision: %v", err)
	}
	return &env{srv: srv, nc: nc, js: js}
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestProvisionIsIdempotent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	topo := broker.DefaultTopology()
	topo.Sinks = []string{"sqlite", "postgres"}
	for i := 0; i < 2; i++ {
		if err := broker.Provision(t.Context(), e.js, topo); err != nil {
			t.Fatalf("provision #%d: %v", i+2, err)
		}
	}
	for _, c := range [][2]string{
		{calendarevent.StreamRaw, broker.ConsumerTransformer},
		{calendarevent.StreamEvents, "loader-sqlite"},
		{calendarevent.StreamEvents, "loader-postgres"},
	} {
		info, err := e.js.Consumer(t.Context(), c[0], c[1])
		if err != nil {
			t.Fatalf("consumer %s/%s: %v", c[0], c[1], err)
		}
		if got := info.CachedInfo().Config.AckPolicy; got != jetstream.AckExplicitPolicy {
			t.Errorf("%s ack policy = %v, want explicit", c[1], got)
		}
	}
	for _, b := range []string{"netsuite_state", "netsuite_leases"} {
		if _, err := e.js.KeyValue(t.Context(), b); err != nil {
			t.Errorf("kv %s: %v", b, err)
		}
	}
}

func TestProvisionRejectsDuplicateWindowAboveMaxAge(t *testing.T) {
	t.Parallel()
	topo := broker.DefaultTopology()
	topo.Raw.MaxAge = time.Minute
	topo.Raw.Duplicates = time.Hour
	if err := topo.Validate(); err == nil || !strings.Contains(err.Error(), "NSFLOW_RAW_DUPLICATE_WINDOW") {
		t.Fatalf("Validate = %v, want an error naming the setting", err)
	}
}

func rawMsg(id string) *message.Message {
	m := message.NewMessage(id, []byte(`{"n":"`+id+`"}`))
	m.Metadata.Set(calendarevent.HeaderAccount, "TSTDRV1")
	m.Metadata.Set(calendarevent.HeaderRecordID, id)
	return m
}

func TestPublishSubscribeHeadersAndDedup(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pub, _ := broker.NewPublisher(e.js, broker.PublisherConfig{})
	subject := calendarevent.RawSubject("TSTDRV1")
	if err := pub.Publish(subject, rawMsg("a"), rawMsg("b")); err != nil {
		t.Fatal(err)
	}
	// Same ids again: the server must drop them inside the duplicate window.
	if err := pub.Publish(subject, rawMsg("a"), rawMsg("b")); err != nil {
		t.Fatal(err)
	}
	if p, d := pub.Stats(); p != 4 || d != 2 {
		t.Fatalf("stats published=%d duplicates=%d, want 4 and 2", p, d)
	}
	st, _ := e.js.Stream(t.Context(), calendarevent.StreamRaw)
	info, _ := st.Info(t.Context())
	if info.State.Msgs != 2 {
		t.Fatalf("stream holds %d messages, want 2", info.State.Msgs)
	}

	sub, _ := broker.NewSubscriber(e.js, broker.SubscriberConfig{})
	ch, err := sub.Subscribe(t.Context(), broker.ConsumerTopic(calendarevent.StreamRaw, broker.ConsumerTransformer))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*message.Message{}
	for len(got) < 2 {
		select {
		case m := <-ch:
			got[m.UUID] = m
			m.Ack()
		case <-time.After(5 * time.Second):
			t.Fatalf("received %d of 2", len(got))
		}
	}
	a := got["a"]
	if a == nil || string(a.Payload) != `{"n":"a"}` {
		t.Fatalf("message a missing or payload changed: %+v", a)
	}
	if a.Metadata.Get(calendarevent.HeaderRecordID) != "a" || a.Metadata.Get(calendarevent.HeaderMsgID) != "a" {
		t.Errorf("headers not carried: %v", a.Metadata)
	}
	if a.Metadata.Get(broker.MetaStream) != calendarevent.StreamRaw || a.Metadata.Get(broker.MetaStreamSeq) == "" ||
		a.Metadata.Get(broker.MetaSubject) != subject || a.Metadata.Get(broker.MetaDelivered) != "1" {
		t.Errorf("delivery metadata missing: %v", a.Metadata)
	}
	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}
	cons, _ := e.js.Consumer(t.Context(), calendarevent.StreamRaw, broker.ConsumerTransformer)
	waitFor(t, 5*time.Second, "acks to reach the server", func() bool {
		ci, err := cons.Info(t.Context())
		return err == nil && ci.AckFloor.Stream == 2 && ci.NumAckPending == 0
	})
}

func TestSubscribeUnprovisionedConsumer(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	sub, _ := broker.NewSubscriber(e.js, broker.SubscriberConfig{})
	_, err := sub.Subscribe(t.Context(), broker.ConsumerTopic(calendarevent.StreamEvents, "loader-nope"))
	if !errors.Is(err, broker.ErrConsumerNotFound) {
		t.Fatalf("err = %v, want ErrConsumerNotFound", err)
	}
	if _, err := sub.Subscribe(t.Context(), "no-slash"); err == nil {
		t.Fatal("bad topic accepted")
	}
}

func TestNackRedelivers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pub, _ := broker.NewPublisher(e.js, broker.PublisherConfig{})
	if err := pub.Publish(calendarevent.RawSubject("x"), rawMsg("n1")); err != nil {
		t.Fatal(err)
	}
	sub, _ := broker.NewSubscriber(e.js, broker.SubscriberConfig{NakDelay: 10 * time.Millisecond})
	defer sub.Close()
	ch, err := sub.Subscribe(t.Context(), broker.ConsumerTopic(calendarevent.StreamRaw, broker.ConsumerTransformer))
	if err != nil {
		t.Fatal(err)
	}
	first := <-ch
	first.Nack()
	select {
	case again := <-ch:
		if again.UUID != "n1" || again.Metadata.Get(broker.MetaDelivered) != "2" {
			t.Fatalf("redelivery = %s delivered=%s", again.UUID, again.Metadata.Get(broker.MetaDelivered))
		}
		again.Ack()
	case <-time.After(5 * time.Second):
		t.Fatal("nacked message not redelivered")
	}
}

// TestCloseFinishesInFlight: Close waits for a handler that is still working
// and acks its message; nothing is redelivered to the next subscriber.
func TestCloseFinishesInFlight(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pub, _ := broker.NewPublisher(e.js, broker.PublisherConfig{})
	for i := 0; i < 3; i++ {
		if err := pub.Publish(calendarevent.RawSubject("x"), rawMsg(fmt.Sprint("m", i))); err != nil {
			t.Fatal(err)
		}
	}
	sub, _ := broker.NewSubscriber(e.js, broker.SubscriberConfig{})
	topic := broker.ConsumerTopic(calendarevent.StreamRaw, broker.ConsumerTransformer)
	ch, err := sub.Subscribe(t.Context(), topic)
	if err != nil {
		t.Fatal(err)
	}
	var held []*message.Message
	for len(held) < 3 {
		held = append(held, <-ch)
	}
	closed := make(chan struct{})
	go func() { _ = sub.Close(); close(closed) }()
	select {
	case <-closed:
		t.Fatal("Close returned while messages were in flight")
	case <-time.After(50 * time.Millisecond):
	}
	for _, m := range held {
		m.Ack()
	}
	<-closed
	if _, open := <-ch; open {
		t.Fatal("channel still open after Close")
	}
	sub2, _ := broker.NewSubscriber(e.js, broker.SubscriberConfig{})
	defer sub2.Close()
	ch2, err := sub2.Subscribe(t.Context(), topic)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-ch2:
		t.Fatalf("acked message %s redelivered after restart", m.UUID)
	case <-time.After(300 * time.Millisecond):
	}
}

func TestDeadLetterChain(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pub, _ := broker.NewPublisher(e.js, broker.PublisherConfig{})
	sub, _ := broker.NewSubscriber(e.js, broker.SubscriberConfig{})
	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: 5 * time.Second}, watermill.NopLogger{})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	attempts := map[string]int{}
	router.AddConsumerHandler("test.handler", broker.ConsumerTopic(calendarevent.StreamRaw, broker.ConsumerTransformer), sub,
		func(msg *message.Message) error {
			mu.Lock()
			attempts[msg.UUID]++
			mu.Unlock()
			switch msg.UUID {
			case "bad":
				return broker.Permanent(errors.New("field x: not a date"), "invalid_date")
			case "flaky":
				return errors.New("sink unavailable")
			case "boom":
				panic("mapping bug")
			}
			return nil
		})
	router.AddMiddleware(broker.Chain(broker.ChainConfig{
		DeadLetter:      broker.DeadLetterConfig{Publisher: pub, Stage: "transformer", Handler: "test.handler"},
		MaxRetries:      2,
		InitialInterval: time.Millisecond,
		MaxInterval:     2 * time.Millisecond,
	})...)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() { _ = router.Run(ctx) }()
	<-router.Running()
	for _, id := range []string{"good", "bad", "flaky", "boom"} {
		if err := pub.Publish(calendarevent.RawSubject("TSTDRV1"), rawMsg(id)); err != nil {
			t.Fatal(err)
		}
	}
	dlq, _ := e.js.Stream(t.Context(), calendarevent.StreamDLQ)
	waitFor(t, 10*time.Second, "3 dead letters", func() bool {
		info, err := dlq.Info(t.Context())
		return err == nil && info.State.Msgs == 3
	})
	classes := map[string]string{}
	for seq := uint64(1); seq <= 3; seq++ {
		m, err := dlq.GetMsg(t.Context(), seq)
		if err != nil {
			t.Fatal(err)
		}
		id := m.Header.Get(calendarevent.HeaderRecordID)
		classes[id] = m.Header.Get(calendarevent.HeaderDLQErrorClass)
		if m.Subject != "dlq.transformer.tstdrv1" {
			t.Errorf("dead letter subject %q", m.Subject)
		}
		if m.Header.Get(calendarevent.HeaderDLQStage) != "transformer" || m.Header.Get(calendarevent.HeaderDLQReason) == "" ||
			m.Header.Get(calendarevent.HeaderDLQSequence) == "" || m.Header.Get(calendarevent.HeaderDLQSubject) != "netsuite.tstdrv1.calendarevent.raw" {
			t.Errorf("dead letter %s lacks headers: %v", id, m.Header)
		}
		if string(m.Data) != `{"n":"`+id+`"}` {
			t.Errorf("dead letter %s payload changed: %s", id, m.Data)
		}
	}
	want := map[string]string{"bad": "invalid_date", "flaky": "transient", "boom": "panic"}
	for id, c := range want {
		if classes[id] != c {
			t.Errorf("class of %s = %q, want %q", id, classes[id], c)
		}
	}
	mu.Lock()
	if attempts["bad"] != 1 || attempts["boom"] != 1 || attempts["flaky"] != 3 {
		t.Errorf("attempts = %v, want bad 1, boom 1 (permanent), flaky 3 (1 + 2 retries)", attempts)
	}
	mu.Unlock()
	cons, _ := e.js.Consumer(t.Context(), calendarevent.StreamRaw, broker.ConsumerTransformer)
	waitFor(t, 5*time.Second, "all originals acked", func() bool {
		ci, err := cons.Info(t.Context())
		return err == nil && ci.NumAckPending == 0 && ci.AckFloor.Stream == 4
	})
}

// TestCloseHandsBackPrefetchedMessages: messages the client had pulled but not
// yet handed to the router are naked on Close, so the next subscriber gets
// them at once rather than after AckWait (5s here).
func TestCloseHandsBackPrefetchedMessages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pub, _ := broker.NewPublisher(e.js, broker.PublisherConfig{})
	const n = 40
	for i := 0; i < n; i++ {
		if err := pub.Publish(calendarevent.RawSubject("x"), rawMsg(fmt.Sprint("p", i))); err != nil {
			t.Fatal(err)
		}
	}
	topic := broker.ConsumerTopic(calendarevent.StreamRaw, broker.ConsumerTransformer)
	sub1, _ := broker.NewSubscriber(e.js, broker.SubscriberConfig{MaxInFlight: 8})
	ch1, err := sub1.Subscribe(t.Context(), topic)
	if err != nil {
		t.Fatal(err)
	}
	first := <-ch1
	first.Ack()
	_ = sub1.Close()

	sub2, _ := broker.NewSubscriber(e.js, broker.SubscriberConfig{MaxInFlight: 64})
	defer sub2.Close()
	ch2, err := sub2.Subscribe(t.Context(), topic)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{first.UUID: true}
	deadline := time.After(2 * time.Second)
	for len(got) < n {
		select {
		case m := <-ch2:
			got[m.UUID] = true
			m.Ack()
		case <-deadline:
			t.Fatalf("only %d of %d messages within 2s of the first subscriber closing (AckWait is 5s)", len(got), n)
		}
	}
}

// TestSweeperDeadLettersExhaustedMessages: a message that is never acked (the
// process dies on it every time) reaches MaxDeliver; the sweeper copies it to
// the DLQ instead of letting the server drop it silently.
func TestSweeperDeadLettersExhaustedMessages(t *testing.T) {
	t.Parallel()
	srv, err := natsembed.Start(natsembed.Config{StoreDir: t.TempDir(), NoListen: true})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	nc, _ := srv.Connect()
	defer nc.Close()
	js, _ := broker.JetStream(nc, broker.NATSConfig{})
	topo := broker.DefaultTopology()
	topo.Consumer.MaxDeliver = 2
	if err := broker.Provision(t.Context(), js, topo); err != nil {
		t.Fatal(err)
	}
	pub, _ := broker.NewPublisher(js, broker.PublisherConfig{})
	if err := pub.Publish(calendarevent.RawSubject("ACCT"), rawMsg("crasher")); err != nil {
		t.Fatal(err)
	}
	cons, _ := js.Consumer(t.Context(), calendarevent.StreamRaw, broker.ConsumerTransformer)
	for i := 0; i < 2; i++ { // two deliveries, neither acked
		b, err := cons.Fetch(1, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for m := range b.Messages() {
			_ = m.Nak()
		}
	}
	// The server decides the message is exhausted (and advises so) when it
	// would deliver it again, i.e. on the next pull.
	if b, err := cons.Fetch(1, jetstream.FetchMaxWait(500*time.Millisecond)); err == nil {
		for m := range b.Messages() {
			t.Fatalf("message delivered a third time with MaxDeliver 2: %s", m.Subject())
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() { _ = broker.NewSweeper(js, pub, nil).Run(ctx) }()
	dlq, _ := js.Stream(t.Context(), calendarevent.StreamDLQ)
	waitFor(t, 15*time.Second, "the exhausted message in the DLQ", func() bool {
		info, err := dlq.Info(t.Context())
		return err == nil && info.State.Msgs == 1
	})
	m, err := dlq.GetMsg(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if m.Header.Get(calendarevent.HeaderDLQErrorClass) != "max_deliveries" || m.Header.Get(calendarevent.HeaderRecordID) != "crasher" ||
		m.Header.Get(calendarevent.HeaderDLQStage) != "transformer" || m.Subject != "dlq.transformer.tstdrv1" || string(m.Data) != `{"n":"crasher"}` {
		t.Fatalf("dead letter %s %v %s", m.Subject, m.Header, m.Data)
	}
}

// TestPublishersRaceClose publishes from many goroutines while the publisher
// closes: every call returns (stored, or ErrClosed), none hangs, and every
// call that returned nil was stored.
func TestPublishersRaceClose(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pub, _ := broker.NewPublisher(e.js, broker.PublisherConfig{})
	subject := calendarevent.RawSubject("TSTDRV1")
	var (
		wg       sync.WaitGroup
		ok, shut atomic.Int64
	)
	for g := range 64 {
		wg.Go(func() {
			for i := range 50 {
				err := pub.Publish(subject, rawMsg(fmt.Sprintf("g%d-%d", g, i)))
				switch {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, broker.ErrClosed):
					shut.Add(1)
				default:
					t.Errorf("publish: %v", err)
				}
			}
		})
	}
	waitFor(t, 10*time.Second, "some publishes", func() bool { return ok.Load() > 200 })
	_ = pub.Close()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("publish calls still blocked 10s after Close")
	}
	if ok.Load()+shut.Load() != 64*50 {
		t.Fatalf("%d stored + %d refused != %d calls", ok.Load(), shut.Load(), 64*50)
	}
	st, _ := e.js.Stream(t.Context(), calendarevent.StreamRaw)
	info, _ := st.Info(t.Context())
	if int64(info.State.Msgs) < ok.Load() {
		t.Fatalf("stream holds %d messages, but %d publishes returned nil", info.State.Msgs, ok.Load())
	}
	if err := pub.Publish(subject, rawMsg("after")); !errors.Is(err, broker.ErrClosed) {
		t.Fatalf("publish after Close = %v, want ErrClosed", err)
	}
}
