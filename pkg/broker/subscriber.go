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
	// PullBatch is how many messages one pull request asks the server for
	// (default min(MaxInFlight, 128)); the client buffers up to that many
	// delivered messages besides those in flight. Larger pulls did not help
	// throughput and cost memory.
	PullBatch int
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
	// PullExpiry is how long one pull request waits at the server (default
	// DefaultPullExpiry). The client notices a pull request the server no
	// longer holds only when two heartbeats (half the expiry each) are
	// missed, and then pulls again: under load nats.go v1.56.0's Consume was
	// seen idle for a whole 30 s default expiry with messages waiting.
	PullExpiry time.Duration
	// PullHeartbeat is the idle heartbeat the server sends while it holds a
	// pull request (default DefaultPullHeartbeat, at most half of
	// PullExpiry). nats.go re-pulls only after two heartbeats are missed, and
	// under load its Consume sometimes counts messages as pending that the
	// server no longer owes (nats.go issue 1622, measured here): the
	// subscription then sits idle for two heartbeats with a backlog waiting.
	// A short heartbeat bounds that stall; it costs one tiny message per
	// heartbeat on an idle subscription.
	PullHeartbeat time.Duration
	// AckFlush is how long acks are gathered before they are sent together
	// (default 1ms): the connection then writes many acks per syscall
	// instead of one.
	AckFlush time.Duration
	// Watchers is the number of goroutines waiting for the router's verdict
	// on in-flight messages (default 16), instead of one goroutine per
	// message.
	Watchers int
	Logger   *slog.Logger
}

// DefaultPullExpiry is SubscriberConfig.PullExpiry's default.
const DefaultPullExpiry = 5 * time.Second

// DefaultPullHeartbeat is SubscriberConfig.PullHeartbeat's default (the
// smallest nats.go accepts).
const DefaultPullHeartbeat = 500 * time.Millisecond

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
	if cfg.PullBatch <= 0 {
		cfg.PullBatch = min(cfg.MaxInFlight, 128)
	}
	if cfg.PullExpiry <= 0 {
		cfg.PullExpiry = DefaultPullExpiry
	}
	if cfg.PullHeartbeat <= 0 {
		cfg.PullHeartbeat = DefaultPullHeartbeat
	}
	cfg.PullHeartbeat = max(min(cfg.PullHeartbeat, cfg.PullExpiry/2), DefaultPullHeartbeat)
	if cfg.PullExpiry < 2*cfg.PullHeartbeat {
		cfg.PullExpiry = 2 * cfg.PullHeartbeat
	}
	if cfg.AckFlush <= 0 {
		cfg.AckFlush = time.Millisecond
	}
	if cfg.Watchers <= 0 {
		cfg.Watchers = 16
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
		out:      make(chan *message.Message, min(s.cfg.MaxInFlight, outBuffer)),
		sem:      make(chan struct{}, s.cfg.MaxInFlight),
		closing:  make(chan struct{}),
		hardStop: make(chan struct{}),
		acks:     make(chan jetstream.Msg, s.cfg.MaxInFlight),
		ackDone:  make(chan struct{}),
		watchQ:   make(chan watched, s.cfg.MaxInFlight),
		msgCtx:   context.WithoutCancel(ctx),
	}
	go sub.ackLoop()
	for range s.cfg.Watchers {
		sub.watchers.Go(sub.watchLoop)
	}
	if s.cfg.ProgressInterval > 0 {
		sub.progress = map[jetstream.Msg]struct{}{}
		sub.watchers.Go(sub.progressLoop)
	}
	cc, err := cons.Consume(sub.onMessage,
		jetstream.PullMaxMessages(s.cfg.PullBatch), jetstream.PullExpiry(s.cfg.PullExpiry),
		jetstream.PullHeartbeat(s.cfg.PullHeartbeat),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			switch {
			case errors.Is(err, jetstream.ErrConsumerDeleted) || errors.Is(err, jetstream.ErrConsumerNotFound):
				s.log.Error("consume error", "topic", topic, "err", err)
				return
			case errors.Is(err, jetstream.ErrNoHeartbeat):
				// nats.go pulls again at once (see PullHeartbeat): a pause
				// of two heartbeats, not a failure. Frequent ones mean the
				// server or this process is starved of CPU or network.
				s.log.Warn("no pull heartbeat from the server; pulling again", "topic", topic, "heartbeat", s.cfg.PullHeartbeat)
				return
			}
			s.log.Debug("consume warning", "topic", topic, "err", err)
		}))
	if err != nil {
		close(sub.watchQ)
		close(sub.closing)
		sub.watchers.Wait()
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

// outBuffer is how many messages onMessage may queue for the router before
// it waits for the router to take one. Through an unbuffered channel, nats.go's
// delivery goroutine and Watermill's (which takes each message on to the
// handler goroutine) wake each other for every message; with a few messages of
// slack each runs for several in a row.
const outBuffer = 64

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

	// watchQ feeds the watcher goroutines; it holds at most MaxInFlight
	// messages (sem), so sending never blocks.
	watchQ   chan watched
	watchers sync.WaitGroup

	// progress holds the in-flight messages progressLoop reports as in
	// progress (nil when ProgressInterval is 0).
	progressMu sync.Mutex
	progress   map[jetstream.Msg]struct{}
}

type watched struct {
	jm     jetstream.Msg
	wm     *message.Message
	cancel context.CancelFunc
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
	if sub.progress != nil {
		sub.progressMu.Lock()
		sub.progress[jm] = struct{}{}
		sub.progressMu.Unlock()
	}
	sub.watchQ <- watched{jm: jm, wm: wm, cancel: cancel}
}

// watchLoop is one of the watcher goroutines: it takes in-flight messages in
// the order they were handed to the router and waits for each verdict.
func (sub *subscription) watchLoop() {
	for w := range sub.watchQ {
		sub.watch(w)
	}
}

// watch waits for the router's verdict on one message. The message context
// is cancelled once the message is acked, nacked or abandoned (Watermill's
// contract).
func (sub *subscription) watch(w watched) {
	select {
	case <-w.wm.Acked():
		sub.acks <- w.jm
	case <-w.wm.Nacked():
		_ = w.jm.NakWithDelay(sub.nakDelay(w.wm))
	case <-sub.hardStop:
		sub.handBack(w.jm)
	}
	if sub.progress != nil {
		sub.progressMu.Lock()
		delete(sub.progress, w.jm)
		sub.progressMu.Unlock()
	}
	w.cancel()
	<-sub.sem
	sub.inflight.Done()
}

// progressLoop tells the server every ProgressInterval that the messages
// still in flight are being worked on.
func (sub *subscription) progressLoop() {
	t := time.NewTicker(sub.s.cfg.ProgressInterval)
	defer t.Stop()
	for {
		select {
		case <-sub.closing:
			return
		case <-t.C:
		}
		sub.progressMu.Lock()
		msgs := make([]jetstream.Msg, 0, len(sub.progress))
		for jm := range sub.progress {
			msgs = append(msgs, jm)
		}
		sub.progressMu.Unlock()
		for _, jm := range msgs {
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

// ackLoop sends acks in bursts from one goroutine: after the first ack of a
// burst it gathers what arrives within AckFlush (up to 256), then sends them
// back to back, so that the connection's flusher writes many acks per
// syscall instead of being woken for each.
func (sub *subscription) ackLoop() {
	defer close(sub.ackDone)
	burst := make([]jetstream.Msg, 0, 256)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	open := true
	for open {
		jm, ok := <-sub.acks
		if !ok {
			return
		}
		burst = append(burst[:0], jm)
		timer.Reset(sub.s.cfg.AckFlush)
	gather:
		for len(burst) < cap(burst) {
			select {
			case jm, ok := <-sub.acks:
				if !ok {
					open = false
					break gather
				}
				burst = append(burst, jm)
			case <-timer.C:
				break gather
			}
		}
		timer.Stop()
		for _, jm := range burst {
			if err := jm.Ack(); err != nil {
				sub.s.log.Warn("ack failed; the message will be redelivered", "topic", sub.topic, "err", err)
			}
		}
	}
}

func (sub *subscription) close() {
	sub.closeOnce.Do(func() {
		close(sub.closing)
		sub.mu.Lock()
		sub.stopped = true
		sub.mu.Unlock()
		// onMessage hands nothing more to out. What waits in its buffer has
		// not reached the handler: nack it, so it is redelivered at once
		// (the watcher naks it) rather than when the router gets to it.
		for drained := false; !drained; {
			select {
			case wm := <-sub.out:
				wm.Nack()
			default:
				drained = true
			}
		}
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
		close(sub.watchQ)
		sub.watchers.Wait()
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
	if stream, delivered, seq, ok := ackReplyFields(jm.Reply()); ok {
		md[MetaStream], md[MetaStreamSeq], md[MetaDelivered] = stream, seq, delivered
	} else if meta, err := jm.Metadata(); err == nil {
		md[MetaStream] = meta.Stream
		md[MetaStreamSeq] = strconv.FormatUint(meta.Sequence.Stream, 10)
		md[MetaDelivered] = strconv.FormatUint(meta.NumDelivered, 10)
	}
	wm := message.NewMessage(uuid, jm.Data())
	wm.Metadata = md
	return wm
}

// ackReplyFields returns the stream name, delivery count and stream
// sequence a JetStream ack subject carries, as substrings of reply (no
// allocation, unlike jetstream.Msg.Metadata and formatting its numbers
// again): "$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>",
// or with "<domain>.<account hash>." before the stream and possibly more
// tokens after pending. ok is false for anything else.
func ackReplyFields(reply string) (stream, delivered, streamSeq string, ok bool) {
	rest, found := strings.CutPrefix(reply, "$JS.ACK.")
	if !found {
		return "", "", "", false
	}
	var tokens [9]string // up to pending, after $JS.ACK.
	n := 0
	for n < len(tokens) {
		tok, after, more := strings.Cut(rest, ".")
		tokens[n] = tok
		n++
		if !more {
			rest = ""
			break
		}
		rest = after
	}
	var at int // index of the stream token
	switch {
	case n == 7 && rest == "": // exactly the old 9-token form
		at = 0
	case n == 9: // the domain form (11 or more tokens)
		at = 2
	default:
		return "", "", "", false
	}
	stream, delivered, streamSeq = tokens[at], tokens[at+2], tokens[at+3]
	if stream == "" || !isDigits(delivered) || !isDigits(streamSeq) {
		return "", "", "", false
	}
	return stream, delivered, streamSeq, true
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
