package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/nsflow/nsflow/pkg/calendarevent"
)

// PublisherConfig tunes a Publisher.
type PublisherConfig struct {
	// AckTimeout bounds the wait for the server to store one Publish call's
	// messages (default 30s).
	AckTimeout time.Duration
	Logger     *slog.Logger
}

// Publisher is a Watermill publisher on JetStream. It is safe for concurrent use.
type Publisher struct {
	js         jetstream.JetStream
	ackTimeout time.Duration
	log        *slog.Logger
	closed     atomic.Bool

	published  atomic.Uint64
	duplicates atomic.Uint64
}

var _ message.Publisher = (*Publisher)(nil)

// NewPublisher returns a Publisher on js.
func NewPublisher(js jetstream.JetStream, cfg PublisherConfig) (*Publisher, error) {
	if js == nil {
		return nil, errors.New("new publisher: jetstream is nil")
	}
	if cfg.AckTimeout <= 0 {
		cfg.AckTimeout = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Publisher{js: js, ackTimeout: cfg.AckTimeout, log: cfg.Logger}, nil
}

// Publish stores msgs on subject topic and returns when the server has
// acknowledged every one of them. The context of the first message bounds the
// wait together with AckTimeout.
func (p *Publisher) Publish(topic string, msgs ...*message.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	return p.PublishContext(msgs[0].Context(), topic, msgs...)
}

// PublishContext is Publish with an explicit context.
func (p *Publisher) PublishContext(ctx context.Context, topic string, msgs ...*message.Message) error {
	if p.closed.Load() {
		return ErrClosed
	}
	if ctx == nil {
		ctx = context.Background()
	}
	var one [1]jetstream.PubAckFuture
	futures := one[:0]
	if len(msgs) > 1 {
		futures = make([]jetstream.PubAckFuture, 0, len(msgs))
	}
	for _, m := range msgs {
		// With PublishAsyncMaxPending acknowledgements outstanding, wait
		// for room (up to AckTimeout) rather than fail after nats.go's
		// default 200ms stall: a busy server is backpressure, not an error.
		f, err := p.js.PublishMsgAsync(toNATS(topic, m), jetstream.WithStallWait(p.ackTimeout))
		if err != nil {
			return fmt.Errorf("publish to %s: %w", topic, err)
		}
		futures = append(futures, f)
	}
	timer := time.NewTimer(p.ackTimeout)
	defer timer.Stop()
	for i, f := range futures {
		select {
		case ack := <-f.Ok():
			p.published.Add(1)
			if ack.Duplicate {
				p.duplicates.Add(1)
			}
		case err := <-f.Err():
			return fmt.Errorf("publish message %d of %d to %s: %w", i+1, len(futures), topic, err)
		case <-timer.C:
			return fmt.Errorf("publish to %s: no acknowledgement within %s", topic, p.ackTimeout)
		case <-ctx.Done():
			return fmt.Errorf("publish to %s: %w", topic, ctx.Err())
		}
	}
	return nil
}

// Stats returns how many messages were stored and how many of those the
// server reported as duplicates.
func (p *Publisher) Stats() (published, duplicates uint64) {
	return p.published.Load(), p.duplicates.Load()
}

// Close marks the publisher closed. The NATS connection belongs to the caller.
func (p *Publisher) Close() error {
	p.closed.Store(true)
	return nil
}

func toNATS(subject string, m *message.Message) *nats.Msg {
	h := make(nats.Header, len(m.Metadata)+2)
	for k, v := range m.Metadata {
		if isLocalMeta(k) {
			continue
		}
		h[k] = []string{v}
	}
	if _, ok := h[calendarevent.HeaderMsgID]; !ok && m.UUID != "" {
		h[calendarevent.HeaderMsgID] = []string{m.UUID}
	}
	if _, ok := h[calendarevent.HeaderCEID]; !ok && m.UUID != "" {
		h[calendarevent.HeaderCEID] = []string{m.UUID}
	}
	return &nats.Msg{Subject: subject, Header: h, Data: m.Payload}
}
