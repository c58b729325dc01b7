package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
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
	// Direct makes every PublishContext call hand its messages to nats.go
	// itself. By default calls queue them to one writer goroutine that
	// hands over whatever has queued meanwhile in one go: the connection
	// then writes many messages per syscall instead of being woken for each
	// (Watermill runs every handler on a goroutine of its own, and each
	// publishes one message), and the encoding runs on a long-lived stack
	// instead of growing a fresh handler goroutine's.
	Direct bool
	Logger *slog.Logger
}

// Publisher is a Watermill publisher on JetStream. It is safe for concurrent use.
type Publisher struct {
	js         jetstream.JetStream
	ackTimeout time.Duration
	log        *slog.Logger
	closed     atomic.Bool

	// The writer (see PublisherConfig.Direct): started on first use,
	// stopped by Close. Callers append to queue under mu and wake the
	// writer through wake (one slot: a pending wake-up covers every call
	// queued before the writer takes the queue); each then waits on its own
	// call's done channel only. Hundreds of handler goroutines waiting in a
	// select on channels they all share (the queue, a stop channel) spent
	// ~9% of the transformer's CPU on those channels' locks.
	direct    bool
	mu        sync.Mutex
	queue     []*pubCall
	spare     []*pubCall
	closing   bool
	wake      chan struct{}
	startOnce sync.Once
	stop      chan struct{}
	stopOnce  sync.Once
	stopped   chan struct{}

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
	return &Publisher{js: js, ackTimeout: cfg.AckTimeout, log: cfg.Logger, direct: cfg.Direct,
		wake: make(chan struct{}, 1), stop: make(chan struct{}), stopped: make(chan struct{})}, nil
}

// pubCall is one PublishContext call's messages on their way through the
// writer.
type pubCall struct {
	topic   string
	msgs    []*message.Message
	sent    []*nats.Msg
	futures []jetstream.PubAckFuture
	err     error
	done    chan struct{}
}

// submit hands c's messages to nats.go (PublishMsgAsync), filling c.sent
// and c.futures, or c.err with the first failure.
func (p *Publisher) submit(c *pubCall) {
	for _, m := range c.msgs {
		nm := toNATS(c.topic, m)
		// With PublishAsyncMaxPending acknowledgements outstanding, wait
		// for room (up to AckTimeout) rather than fail after nats.go's
		// default 200ms stall: a busy server is backpressure, not an error.
		f, err := p.js.PublishMsgAsync(nm, jetstream.WithStallWait(p.ackTimeout))
		if err != nil {
			c.err = fmt.Errorf("publish to %s: %w", c.topic, err)
			return
		}
		c.futures = append(c.futures, f)
		c.sent = append(c.sent, nm)
	}
}

// write is the writer goroutine: it takes the queued calls and submits
// each, all of those that queued while it was busy back to back. When
// stopped it fails the calls still queued with ErrClosed.
func (p *Publisher) write() {
	defer close(p.stopped)
	for {
		select {
		case <-p.wake:
		case <-p.stop:
			p.mu.Lock()
			p.closing = true
			calls := p.queue
			p.queue = nil
			p.mu.Unlock()
			for _, c := range calls {
				c.err = ErrClosed
				close(c.done)
			}
			return
		}
		p.mu.Lock()
		calls := p.queue
		p.queue, p.spare = p.spare[:0], nil
		p.mu.Unlock()
		for i, c := range calls {
			p.submit(c)
			close(c.done)
			calls[i] = nil
		}
		p.mu.Lock()
		if p.spare == nil {
			p.spare = calls[:0]
		}
		p.mu.Unlock()
	}
}

// enqueue hands c to the writer; false when the publisher is closing.
func (p *Publisher) enqueue(c *pubCall) bool {
	p.mu.Lock()
	if p.closing {
		p.mu.Unlock()
		return false
	}
	p.queue = append(p.queue, c)
	first := len(p.queue) == 1
	p.mu.Unlock()
	if first {
		select {
		case p.wake <- struct{}{}:
		default: // a wake-up is pending already
		}
	}
	return true
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
	c := &pubCall{topic: topic, msgs: msgs}
	if n := len(msgs); n > 1 {
		c.futures = make([]jetstream.PubAckFuture, 0, n)
		c.sent = make([]*nats.Msg, 0, n)
	}
	if p.direct {
		p.submit(c)
	} else {
		p.startOnce.Do(func() { go p.write() })
		c.done = make(chan struct{})
		if !p.enqueue(c) {
			return ErrClosed
		}
		<-c.done // the writer completes every call it queued, also when stopped
	}
	if c.err != nil {
		return c.err
	}
	futures, sent := c.futures, c.sent
	// AckTimeout bounds the wait, unless ctx ends sooner anyway (a
	// handler's Timeout middleware): then no timer is armed. A select that
	// blocks on a timer's channel puts the timer on the runtime's heap,
	// under a lock all handler goroutines share (~6% of the transformer's
	// CPU).
	var expired <-chan time.Time
	if dl, ok := ctx.Deadline(); !ok || time.Until(dl) > p.ackTimeout {
		timer := time.NewTimer(p.ackTimeout)
		defer timer.Stop()
		expired = timer.C
	}
	for i, f := range futures {
		select {
		case ack := <-f.Ok():
			p.published.Add(1)
			if ack.Duplicate {
				p.duplicates.Add(1)
			}
		case err := <-f.Err():
			return fmt.Errorf("publish message %d of %d to %s: %w", i+1, len(futures), topic, err)
		case <-expired:
			return fmt.Errorf("publish to %s: no acknowledgement within %s", topic, p.ackTimeout)
		case <-ctx.Done():
			return fmt.Errorf("publish to %s: %w", topic, ctx.Err())
		}
		// The server has answered: nats.go no longer needs the message
		// (it keeps it only to publish it again before the answer).
		releaseHeader(sent[i].Header)
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
	p.stopOnce.Do(func() {
		p.mu.Lock()
		p.closing = true // enqueue refuses from now on; the writer fails what is queued
		p.mu.Unlock()
		close(p.stop)
		p.startOnce.Do(func() { close(p.stopped) }) // no writer was started
		<-p.stopped
	})
	return nil
}

// headerPool recycles the header maps of published messages. Every message
// carries some fifteen headers, and allocating a map that size cost more
// than encoding it (9% of the transformer's CPU, measured); a map is reused
// only after the server has answered for its message.
var headerPool = sync.Pool{New: func() any { return make(nats.Header, 24) }}

func releaseHeader(h nats.Header) {
	if len(h) > 32 {
		return // an unusually large map: let it go
	}
	clear(h)
	headerPool.Put(h)
}

func toNATS(subject string, m *message.Message) *nats.Msg {
	h := headerPool.Get().(nats.Header)
	// One backing array for every header's single value instead of one
	// slice each.
	vals := make([]string, 0, len(m.Metadata)+2)
	set := func(k, v string) {
		vals = append(vals, v)
		h[k] = vals[len(vals)-1 : len(vals) : len(vals)]
	}
	for k, v := range m.Metadata {
		if isLocalMeta(k) {
			continue
		}
		set(k, v)
	}
	if _, ok := h[calendarevent.HeaderMsgID]; !ok && m.UUID != "" {
		set(calendarevent.HeaderMsgID, m.UUID)
	}
	if _, ok := h[calendarevent.HeaderCEID]; !ok && m.UUID != "" {
		set(calendarevent.HeaderCEID, m.UUID)
	}
	return &nats.Msg{Subject: subject, Header: h, Data: m.Payload}
}
