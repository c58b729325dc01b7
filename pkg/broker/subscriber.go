package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/nsflow/nsflow/pkg/calendarevent"
)

// Metadata keys the Subscriber sets on every message. They are local: the
// Publisher does not turn them into headers.
const (
	MetaStream    = "_nsflow_stream"
	MetaStreamSeq = "_nsflow_stream_seq"
	MetaSubject   = "_nsflow_subject"
	MetaDelivered = "_nsflow_delivered"
)

func isLocalMeta(k string) bool { return strings.HasPrefix(k, "_nsflow_") }

// SubscriberConfig tunes a Subscriber.
type SubscriberConfig struct {
	// MaxInFlight is how many messages one subscription hands to the router
	// before any of them is acked (default 512).
	MaxInFlight int
	// NakDelay is the redelivery delay after a Nack on first delivery; it
	// doubles with each delivery up to MaxNakDelay (defaults 1s and 1m).
	NakDelay    time.Duration
	MaxNakDelay time.Duration
	// ProgressInterval, when set, makes the subscriber tell the server every
	// interval that a message still in flight is being worked on
	// (InProgress), so a handler that waits longer than the consumer's
	// AckWait (a loader holding a batch while its sink is down) is not
	// redelivered meanwhile. Set it below AckWait; 0 disables.
	ProgressInterval time.Duration
	// CloseTimeout bounds how long Close waits for in-flight messages (default 30s).
	CloseTimeout time.Duration
	Logger       *slog.Logger
}

// Subscriber is a Watermill subscriber bound to pre-provisioned durable pull
// consumers. Topics are "<stream>/<consumer>".
type Subscriber struct {
	js  jetstream.JetStream
	cfg SubscriberConfig
	log *slog.Logger

	mu     sync.Mutex
	subs   []*subscription
	closed bool
}

var _ message.Subscriber = (*Subscriber)(nil)

// NewSubscriber returns a Subscriber on js.
func NewSubscriber(js jetstream.JetStream, cfg SubscriberConfig) (*Subscriber, error) {
	if js == nil {
		return nil, errors.New("new subscriber: jetstream is nil")
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = 512
	}
	if cfg.NakDelay <= 0 {
		cfg.NakDelay = time.Second
	}
	if cfg.MaxNakDelay <= 0 {
		cfg.MaxNakDelay = time.Minute
	}
	if cfg.CloseTimeout <= 0 {
		cfg.CloseTimeout = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Subscriber{js: js, cfg: cfg, log: cfg.Logger}, nil
}

// Subscribe binds to the durable consumer named by topic ("<stream>/<consumer>")
// and returns its messages. The channel is closed when ctx is done or the
// Subscriber is closed, after in-flight messages have finished.
func (s *Subscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	stream, consumer, ok := strings.Cut(topic, "/")
	if !ok || stream == "" || consumer == "" {
		return nil, fmt.Errorf("subscribe %q: topic must be <stream>/<consumer>", topic)
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	cons, err := s.js.Consumer(ctx, stream, consumer)
	if err != nil {
		if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) {
			return nil, fmt.Errorf("subscribe %s: %w: provision it first (services do at start unless NSFLOW_PROVISION=false; or run `nsflow provision`)", topic, ErrConsumerNotFound)
		}
		return nil, fmt.Errorf("subscribe %s: %w", topic, err)
	}
	sub := &subscription{
		s:        s,
		topic:    topic,
		out:      make(chan *message.Message),
		sem:      make(chan struct{}, s.cfg.MaxInFlight),
		closing:  make(chan struct{}),
		hardStop: make(chan struct{}),
		acks:     make(chan jetstream.Msg, s.cfg.MaxInFlight),
		ackDone:  make(chan struct{}),
		msgCtx:   context.WithoutCancel(ctx),
	}
	go sub.ackLoop()
	cc, err := cons.Consume(sub.onMessage,
		jetstream.PullMaxMessages(s.cfg.MaxInFlight),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			if errors.Is(err, jetstream.ErrNoHeartbeat) || errors.Is(err, jetstream.ErrConsumerDeleted) || errors.Is(err, jetstream.ErrConsumerNotFound) {
				s.log.Error("consume error", "topic", topic, "err", err)
				return
			}
			s.log.Debug("consume warning", "topic", topic, "err", err)
		}))
	if err != nil {
		close(sub.acks)
		return nil, fmt.Errorf("subscribe %s: %w", topic, err)
	}
	sub.cc = cc
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		sub.close()
		return nil, ErrClosed
	}
	s.subs = append(s.subs, sub)
	s.mu.Unlock()
	go func() {
		select {
		case <-ctx.Done():
			sub.close()
		case <-sub.closing:
		}
	}()
	return sub.out, nil
}

// Close stops every subscription gracefully (see package doc).
func (s *Subscriber) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	subs := s.subs
	s.subs = nil
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, sub := range subs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sub.close()
		}()
	}
	wg.Wait()
	return nil
}

type subscription struct {
	s      *Subscriber
	topic  string
	cc     jetstream.ConsumeContext
	out    chan *message.Message
	sem    chan struct{}
	msgCtx context.Context

	mu        sync.RWMutex
	stopped   bool
	closeOnce sync.Once
	closing   chan struct{}
	hardStop  chan struct{}
	inflight  sync.WaitGroup

	acks    chan jetstream.Msg
	ackDone chan struct{}
}

func (sub *subscription) onMessage(jm jetstream.Msg) {
	sub.mu.RLock()
	defer sub.mu.RUnlock()
	if sub.stopped {
		sub.handBack(jm)
		return
	}
	select {
	case sub.sem <- struct{}{}:
	case <-sub.closing:
		sub.handBack(jm)
		return
	}
	wm := sub.toWatermill(jm)
	ctx, cancel := context.WithCancel(sub.msgCtx)
	wm.SetContext(ctx)
	sub.inflight.Add(1)
	select {
	case sub.out <- wm:
	case <-sub.closing:
		cancel()
		sub.inflight.Done()
		<-sub.sem
		sub.handBack(jm)
		return
	}
	go sub.watch(jm, wm, cancel)
}

// watch waits for the router's verdict on wm. The message context is
// cancelled once the message is acked, nacked or abandoned (Watermill's contract).
func (sub *subscription) watch(jm jetstream.Msg, wm *message.Message, cancel context.CancelFunc) {
	defer func() {
		cancel()
		<-sub.sem
		sub.inflight.Done()
	}()
	var progress <-chan time.Time
	if d := sub.s.cfg.ProgressInterval; d > 0 {
		t := time.NewTicker(d)
		defer t.Stop()
		progress = t.C
	}
	for {
		select {
		case <-wm.Acked():
			sub.acks <- jm
			return
		case <-wm.Nacked():
			_ = jm.NakWithDelay(sub.nakDelay(wm))
			return
		case <-sub.hardStop:
			sub.handBack(jm)
			return
		case <-progress:
			_ = jm.InProgress()
		}
	}
}

// handBack returns a message this closing subscription will not handle. The
// short delay keeps the server from redelivering it into this subscription's
// still-open pull request; another replica (or the restarted process) gets it
// after the delay instead of after AckWait.
func (sub *subscription) handBack(jm jetstream.Msg) {
	_ = jm.NakWithDelay(closingNakDelay)
}

const closingNakDelay = time.Second

func (sub *subscription) nakDelay(wm *message.Message) time.Duration {
	d := sub.s.cfg.NakDelay
	n, _ := strconv.Atoi(wm.Metadata.Get(MetaDelivered))
	for i := 1; i < n && d < sub.s.cfg.MaxNakDelay; i++ {
		d *= 2
	}
	return min(d, sub.s.cfg.MaxNakDelay)
}

// ackLoop sends acks in bursts from one goroutine so that the connection's
// flusher writes many acks per syscall.
func (sub *subscription) ackLoop() {
	defer close(sub.ackDone)
	for jm := range sub.acks {
		if err := jm.Ack(); err != nil {
			sub.s.log.Warn("ack failed; the message will be redelivered", "topic", sub.topic, "err", err)
		}
	}
}

func (sub *subscription) close() {
	sub.closeOnce.Do(func() {
		close(sub.closing)
		sub.mu.Lock()
		sub.stopped = true
		sub.mu.Unlock()
		if sub.cc != nil {
			// Drain (not Stop): messages the client has already pulled are
			// handed to onMessage, which naks them now, so they are
			// redelivered at once instead of after AckWait.
			sub.cc.Drain()
			select {
			case <-sub.cc.Closed():
			case <-time.After(sub.s.cfg.CloseTimeout):
				sub.cc.Stop()
			}
		}
		done := make(chan struct{})
		go func() {
			sub.inflight.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(sub.s.cfg.CloseTimeout):
			sub.s.log.Warn("in-flight messages did not finish before the close timeout; they are nacked", "topic", sub.topic)
			close(sub.hardStop)
			<-done
		}
		close(sub.out)
		close(sub.acks)
		<-sub.ackDone
	})
}

func (sub *subscription) toWatermill(jm jetstream.Msg) *message.Message {
	h := jm.Headers()
	md := make(message.Metadata, len(h)+4)
	for k, v := range h {
		if len(v) > 0 {
			md[k] = v[0]
		}
	}
	uuid := md[calendarevent.HeaderCEID]
	if uuid == "" {
		uuid = md[calendarevent.HeaderMsgID]
	}
	if uuid == "" {
		uuid = watermill.NewUUID()
	}
	md[MetaSubject] = jm.Subject()
	if meta, err := jm.Metadata(); err == nil {
		md[MetaStream] = meta.Stream
		md[MetaStreamSeq] = strconv.FormatUint(meta.Sequence.Stream, 10)
		md[MetaDelivered] = strconv.FormatUint(meta.NumDelivered, 10)
	}
	wm := message.NewMessage(uuid, jm.Data())
	wm.Metadata = md
	return wm
}
