package broker_test

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/tests"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/nsflow/nsflow/pkg/broker"
)

// suiteSubscriber adapts the broker Subscriber to Watermill's universal test
// suite, whose topics are used for both publishing and subscribing: it
// provisions a stream for the topic subject and a durable per consumer group,
// as the pipeline's Provision step would, then binds to it.
type suiteSubscriber struct {
	js    jetstream.JetStream
	sub   *broker.Subscriber
	group string
}

func streamFor(topic string) string {
	h := sha1.Sum([]byte(topic))
	return "T" + hex.EncodeToString(h[:8])
}

func (s *suiteSubscriber) SubscribeInitialize(topic string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := s.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: streamFor(topic), Subjects: []string{topic}, Storage: jetstream.MemoryStorage, Duplicates: time.Minute,
	}); err != nil {
		return err
	}
	_, err := s.js.CreateOrUpdateConsumer(ctx, streamFor(topic), jetstream.ConsumerConfig{
		Durable: s.group, AckPolicy: jetstream.AckExplicitPolicy, AckWait: 5 * time.Second, MaxAckPending: 4096,
	})
	return err
}

func (s *suiteSubscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	if err := s.SubscribeInitialize(topic); err != nil {
		return nil, err
	}
	return s.sub.Subscribe(ctx, broker.ConsumerTopic(streamFor(topic), s.group))
}

func (s *suiteSubscriber) Close() error { return s.sub.Close() }

func TestWatermillUniversalSuite(t *testing.T) {
	if testing.Short() {
		t.Skip("universal Pub/Sub suite takes ~1 minute; run without -short")
	}
	e := newEnv(t)
	constructor := func(t *testing.T, group string) (message.Publisher, message.Subscriber) {
		pub, err := broker.NewPublisher(e.js, broker.PublisherConfig{})
		if err != nil {
			t.Fatal(err)
		}
		sub, err := broker.NewSubscriber(e.js, broker.SubscriberConfig{NakDelay: 10 * time.Millisecond, CloseTimeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		return pub, &suiteSubscriber{js: e.js, sub: sub, group: group}
	}
	tests.TestPubSub(t, tests.Features{
		ConsumerGroups:                   true,
		Persistent:                       true,
		NewSubscriberReceivesOldMessages: false,
		GuaranteedOrder:                  false,
		ExactlyOnceDelivery:              false,
	},
		func(t *testing.T) (message.Publisher, message.Subscriber) { return constructor(t, "default") },
		constructor,
	)
}
