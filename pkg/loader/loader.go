// Package loader is the loader stage: a Watermill handler on the EVENTS stream
// (durable "loader-<sink>") that writes canonical events into a sink in
// batches.
//
// # Contract
//
// Batching. Handlers add their event to the batch being filled and wait. A
// batch is written when it holds BatchSize events or BatchWait has passed
// since its first event; every handler returns only after the batch
// containing its event has been committed by the sink, so the message is
// acked only after the commit. The sink applies the version guard (see package sink), so a
// redelivered or replayed message changes nothing.
//
// Failures. A sink error that is not about the data (the sink is down) is
// retried with backoff for as long as it takes: handlers keep waiting, the
// subscription's in-flight window fills, so the loader stops pulling and the
// stream holds the backlog (backpressure); Ready reports false meanwhile and
// true again after the next commit. A permanent error (the data is bad) splits
// the batch in halves until the bad events are isolated: they fail with a
// permanent error and are dead-lettered (dlq.loader.<account>) with the sink's
// reason, while the rest commit. A sink that reports per-record failures
// (AEP's 207) has them dead-lettered the same way.
package loader

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/nsflow/nsflow/pkg/broker"
	"github.com/nsflow/nsflow/pkg/calendarevent"
	"github.com/nsflow/nsflow/pkg/sink"
	"github.com/nsflow/nsflow/pkg/transform"
)

// HandlerName is the stable handler name prefix; the sink name is appended.
const HandlerName = "loader.write_calendar_event"

// Defaults of Config.
const (
	DefaultBatchSize = 1000
	DefaultWriters   = 2
)

// Config configures the stage.
type Config struct {
	// SinkName names the durable consumer (loader-<SinkName>).
	SinkName string
	// BatchSize and BatchWait bound a batch (defaults DefaultBatchSize and 50ms).
	BatchSize int
	BatchWait time.Duration
	// RetryMax caps the backoff between attempts while the sink is down (default 30s).
	RetryMax time.Duration
	// Writers is how many batches may be written at once (default
	// DefaultWriters): while the sink commits one, the next is decoded and
	// prepared (rows flattened, arguments bound) instead of waiting. The
	// version guard makes their order irrelevant, as between loader
	// replicas. The subscription's in-flight window must hold more than
	// Writers batches for the sink to be fed continuously (see
	// MinInFlight).
	Writers int
	Logger  *slog.Logger
}

// MinInFlight is the smallest in-flight window that keeps a sink fed with
// batchSize-event batches and writers writers: the batches being written,
// plus one whole batch being filled meanwhile, so that a writer finds the
// next batch complete when it is done instead of waiting for acks, pulls
// and the router to refill the window.
func MinInFlight(batchSize, writers int) int {
	if batchSize <= 0 {
		batchSize = DefaultBatchSize
	}
	if writers <= 0 {
		writers = DefaultWriters
	}
	return (writers + 1) * batchSize
}

// Stage is the loader stage for one sink.
//
// # Hand-off
//
// Watermill runs every message's handler on a goroutine of its own, so the
// per-message path is kept to what that goroutine must do itself: Handle
// appends the payload to the batch being filled under a mutex (no channel
// send, no goroutine woken per event) and waits on the batch's done channel,
// which the writer closes once for the whole batch (one wake-up per handler,
// no channel per event). Decoding happens in the writer, on a long-lived
// goroutine with a grown stack, just before the sink call: a fresh handler
// goroutine would grow its stack to decode, and handing the decode to a
// worker pool costs two goroutine switches per event.
type Stage struct {
	cfg  Config
	sink sink.Sink
	log  *slog.Logger

	mu       sync.Mutex
	ready    sync.Cond // on mu: a batch was queued, or stopping
	cur      *batch    // being filled; nil when none
	queue    []*batch  // full (or timed-out) batches waiting for a writer
	stopping bool

	done     chan struct{}
	healthy  atomic.Bool
	loaded   atomic.Uint64
	written  atomic.Uint64
	failures atomic.Uint64
	held     atomic.Int64
	stopOnce sync.Once
	stop     chan struct{}
}

// batch is a set of events written together. Handlers wait on done; each
// item's err is final once done is closed.
type batch struct {
	items []item
	done  chan struct{}
	timer *time.Timer // seals the batch BatchWait after its first item
}

type item struct {
	// payload is the canonical encoding ev is decoded from; SQL sinks store
	// it as event_json instead of encoding ev again.
	payload []byte
	ev      *calendarevent.Event
	err     error
}

// New returns a Stage writing to s. Run must be called for handlers to return.
func New(cfg Config, s sink.Sink) (*Stage, error) {
	if s == nil {
		return nil, errors.New("new loader: sink is nil")
	}
	if cfg.SinkName == "" {
		return nil, errors.New("new loader: sink name is required")
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.BatchWait <= 0 {
		cfg.BatchWait = 50 * time.Millisecond
	}
	if cfg.RetryMax <= 0 {
		cfg.RetryMax = 30 * time.Second
	}
	if cfg.Writers <= 0 {
		cfg.Writers = DefaultWriters
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	st := &Stage{
		cfg: cfg, sink: s, log: cfg.Logger.With("sink", cfg.SinkName),
		done: make(chan struct{}), stop: make(chan struct{}),
	}
	st.ready.L = &st.mu
	st.healthy.Store(true)
	return st, nil
}

// Topic is the subscriber topic of the stage's durable consumer.
func (s *Stage) Topic() string {
	return broker.ConsumerTopic(calendarevent.StreamEvents, broker.LoaderConsumer(s.cfg.SinkName))
}

// Register adds the stage's handler to router, consuming through sub.
func (s *Stage) Register(router *message.Router, sub message.Subscriber) {
	router.AddConsumerHandler(HandlerName+"."+s.cfg.SinkName, s.Topic(), sub, s.Handle)
}

// Loaded is how many events the sink has committed through this stage.
func (s *Stage) Loaded() uint64 { return s.loaded.Load() }

// Held is how many events the stage holds: in the batch being filled and in
// batches waiting for or in the sink.
func (s *Stage) Held() int { return int(s.held.Load()) }

// Ready reports whether the last write reached the sink.
func (s *Stage) Ready() bool { return s.healthy.Load() }

// Run runs the writers until Stop is called (not when ctx is cancelled:
// in-flight handlers must still get their batches committed during a
// graceful shutdown). ctx bounds sink calls after Stop.
func (s *Stage) Run(ctx context.Context) {
	defer close(s.done)
	var writers sync.WaitGroup
	for range s.cfg.Writers {
		writers.Go(func() {
			for b := s.next(); b != nil; b = s.next() {
				s.write(ctx, b)
			}
		})
	}
	<-s.stop
	s.mu.Lock()
	s.stopping = true
	if s.cur != nil {
		s.seal(s.cur)
	}
	s.ready.Broadcast()
	s.mu.Unlock()
	writers.Wait()
}

// Stop ends Run after flushing what it holds and waits for it.
func (s *Stage) Stop() {
	s.stopOnce.Do(func() { close(s.stop) })
	<-s.done
}

// Handle adds one canonical event to the batch being filled and waits until
// that batch has been committed (or the event has failed on its own).
func (s *Stage) Handle(msg *message.Message) error {
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		return fmt.Errorf("loader stopping: %w", context.Canceled)
	}
	b := s.cur
	if b == nil {
		b = &batch{items: make([]item, 0, s.cfg.BatchSize), done: make(chan struct{})}
		b.timer = time.AfterFunc(s.cfg.BatchWait, func() { s.expire(b) })
		s.cur = b
	}
	i := len(b.items)
	b.items = append(b.items, item{payload: msg.Payload})
	s.held.Add(1)
	if len(b.items) >= s.cfg.BatchSize {
		b.timer.Stop()
		s.seal(b)
	}
	s.mu.Unlock()
	<-b.done
	return b.items[i].err
}

// expire seals b when BatchWait has passed since its first event, unless it
// filled up first.
func (s *Stage) expire(b *batch) {
	s.mu.Lock()
	if s.cur == b {
		s.seal(b)
	}
	s.mu.Unlock()
}

// seal ends filling b and queues it for a writer. s.mu is held.
func (s *Stage) seal(b *batch) {
	s.cur = nil
	s.queue = append(s.queue, b)
	s.ready.Signal()
}

// next waits for a queued batch; nil once stopping and nothing is left.
func (s *Stage) next() *batch {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.queue) == 0 {
		if s.stopping {
			return nil
		}
		s.ready.Wait()
	}
	b := s.queue[0]
	s.queue[0] = nil
	s.queue = s.queue[1:]
	if len(s.queue) == 0 {
		s.queue = nil // start again at the front of a new array
	}
	return b
}

// write decodes b's events, commits the valid ones and completes every
// handler waiting on b.
func (s *Stage) write(ctx context.Context, b *batch) {
	valid := make([]*item, 0, len(b.items))
	for i := range b.items {
		it := &b.items[i]
		if it.ev, it.err = s.decode(it.payload); it.err == nil {
			valid = append(valid, it)
		}
	}
	if len(valid) > 0 {
		s.writeBatch(ctx, valid)
	}
	s.held.Add(-int64(len(b.items)))
	close(b.done)
}

// decode decodes one canonical event; a payload that does not decode, or
// makes the decoder panic, is a permanent error (dead-lettered), as the
// Recover middleware would make of a panic in the handler.
func (s *Stage) decode(payload []byte) (ev *calendarevent.Event, err error) {
	defer func() {
		if r := recover(); r != nil {
			pe := &broker.PanicError{Value: r, Stack: string(debug.Stack())}
			s.log.Error("event decoder panicked", "panic", fmt.Sprint(r), "stack", pe.Stack)
			ev, err = nil, broker.Permanent(pe, "panic")
		}
	}()
	ev, err = transform.DecodeEvent(payload)
	if err != nil {
		return nil, broker.Permanent(err, "invalid_event")
	}
	return ev, nil
}

// writeBatch commits batch, retrying transient failures until they succeed and
// isolating permanent ones.
func (s *Stage) writeBatch(ctx context.Context, batch []*item) {
	evs := make([]*calendarevent.Event, len(batch))
	enc := make([][]byte, len(batch))
	for i, it := range batch {
		evs[i], enc[i] = it.ev, it.payload
	}
	delay := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := sink.WriteEncoded(ctx, s.sink, evs, enc)
		if err == nil {
			s.committed(batch)
			return
		}
		var partial *sink.PartialError
		if errors.As(err, &partial) {
			s.partial(batch, partial)
			return
		}
		if sink.IsPermanent(err) {
			s.healthy.Store(true)
			s.split(ctx, batch, err)
			return
		}
		if ctx.Err() != nil {
			for _, it := range batch {
				it.err = fmt.Errorf("write batch: %w", ctx.Err())
			}
			return
		}
		s.healthy.Store(false)
		s.failures.Add(1)
		wait := delay/2 + rand.N(delay)
		s.log.Warn("sink write failed; holding the batch and retrying (backpressure)", "attempt", attempt, "events", len(batch), "retry_in", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
		delay = min(delay*2, s.cfg.RetryMax)
	}
}

func (s *Stage) committed(batch []*item) {
	if !s.healthy.Swap(true) {
		s.log.Info("sink writes succeed again")
	}
	s.loaded.Add(uint64(len(batch)))
	s.written.Add(1)
}

// partial completes a batch the sink accepted except for some records.
func (s *Stage) partial(batch []*item, pe *sink.PartialError) {
	failed := make(map[int]sink.RecordError, len(pe.Failed))
	for _, f := range pe.Failed {
		failed[f.Index] = f
	}
	var ok []*item
	for i, it := range batch {
		if f, bad := failed[i]; bad {
			err := fmt.Errorf("sink rejected event %s/%s: %w", it.ev.Account, it.ev.ID, f.Err)
			if f.Permanent {
				err = broker.Permanent(err, "sink_rejected")
			}
			it.err = err
			continue
		}
		ok = append(ok, it)
	}
	s.committed(ok)
}

// split isolates the events that make a batch fail permanently.
func (s *Stage) split(ctx context.Context, batch []*item, err error) {
	if len(batch) == 1 {
		it := batch[0]
		s.log.Error("sink rejected event; dead-lettering it", "record_id", it.ev.ID, "err", err)
		it.err = broker.Permanent(fmt.Errorf("sink rejected event %s/%s: %w", it.ev.Account, it.ev.ID, err), "sink_rejected")
		return
	}
	mid := len(batch) / 2
	s.writeBatch(ctx, batch[:mid])
	s.writeBatch(ctx, batch[mid:])
}
