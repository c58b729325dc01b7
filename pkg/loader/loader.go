// Package loader is the loader stage: a Watermill handler on the EVENTS stream
// (durable "loader-<sink>") that writes canonical events into a sink in
// batches.
//
// # Contract
//
// Batching. Handlers hand their event to a batcher and wait. A batch is
// written when it holds BatchSize events or BatchWait has passed since its
// first event; every handler returns only after the batch containing its
// event has been committed by the sink, so the message is acked only after
// the commit. The sink applies the version guard (see package sink), so a
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

// Config configures the stage.
type Config struct {
	// SinkName names the durable consumer (loader-<SinkName>).
	SinkName string
	// BatchSize and BatchWait bound a batch (defaults 1000 and 50ms).
	BatchSize int
	BatchWait time.Duration
	// RetryMax caps the backoff between attempts while the sink is down (default 30s).
	RetryMax time.Duration
	// Writers is how many batches may be written at once (default 2): while
	// the sink commits one, the next is prepared (rows flattened, arguments
	// bound) instead of waiting. The version guard makes their order
	// irrelevant, as between loader replicas.
	Writers int
	Logger  *slog.Logger
}

// Stage is the loader stage for one sink.
type Stage struct {
	cfg  Config
	sink sink.Sink
	pool *broker.ExecPool
	log  *slog.Logger

	in       chan *item
	batches  chan []*item // full batches on their way to a writer
	done     chan struct{}
	healthy  atomic.Bool
	loaded   atomic.Uint64
	written  atomic.Uint64
	failures atomic.Uint64
	held     atomic.Int64
	stopOnce sync.Once
	stop     chan struct{}
}

type item struct {
	ev *calendarevent.Event
	// payload is the canonical encoding ev was decoded from; SQL sinks
	// store it as event_json instead of encoding ev again.
	payload []byte
	done    chan error
}

// New returns a Stage writing to s. Start must be called before handlers run.
func New(cfg Config, s sink.Sink) (*Stage, error) {
	if s == nil {
		return nil, errors.New("new loader: sink is nil")
	}
	if cfg.SinkName == "" {
		return nil, errors.New("new loader: sink name is required")
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 1000
	}
	if cfg.BatchWait <= 0 {
		cfg.BatchWait = 50 * time.Millisecond
	}
	if cfg.RetryMax <= 0 {
		cfg.RetryMax = 30 * time.Second
	}
	if cfg.Writers <= 0 {
		cfg.Writers = 2
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	st := &Stage{
		cfg: cfg, sink: s, pool: broker.CPUPool(), log: cfg.Logger.With("sink", cfg.SinkName),
		in: make(chan *item, cfg.BatchSize), batches: make(chan []*item),
		done: make(chan struct{}), stop: make(chan struct{}),
	}
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

// Held is how many events wait in the current batch.
func (s *Stage) Held() int { return int(s.held.Load()) }

// Ready reports whether the last write reached the sink.
func (s *Stage) Ready() bool { return s.healthy.Load() }

// Run runs the batcher until Stop is called (not when ctx is cancelled:
// in-flight handlers must still get their batches committed during a
// graceful shutdown). ctx bounds sink calls after Stop.
func (s *Stage) Run(ctx context.Context) {
	defer close(s.done)
	var writers sync.WaitGroup
	for range s.cfg.Writers {
		writers.Go(func() {
			for batch := range s.batches {
				s.writeBatch(ctx, batch)
				s.held.Add(-int64(len(batch)))
			}
		})
	}
	defer func() {
		close(s.batches)
		writers.Wait()
	}()
	batch := make([]*item, 0, s.cfg.BatchSize)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	flush := func() {
		if len(batch) > 0 {
			s.batches <- batch // waits while every writer is busy: backpressure
			batch = make([]*item, 0, s.cfg.BatchSize)
		}
	}
	for {
		select {
		case it := <-s.in:
			if len(batch) == 0 {
				timer.Reset(s.cfg.BatchWait)
			}
			batch = append(batch, it)
			s.held.Add(1)
			if len(batch) >= s.cfg.BatchSize {
				timer.Stop()
				flush()
			}
		case <-timer.C:
			flush()
		case <-s.stop:
			for {
				select {
				case it := <-s.in:
					batch = append(batch, it)
					s.held.Add(1)
				default:
					flush()
					return
				}
			}
		}
	}
}

// Stop ends Run after flushing what it holds and waits for it.
func (s *Stage) Stop() {
	s.stopOnce.Do(func() { close(s.stop) })
	<-s.done
}

// Handle decodes one canonical event and waits until it is committed.
func (s *Stage) Handle(msg *message.Message) error {
	var ev *calendarevent.Event
	var err error
	s.pool.Do(func() { ev, err = transform.DecodeEvent(msg.Payload) }) // CPU work: see broker.ExecPool
	if err != nil {
		return broker.Permanent(err, "invalid_event")
	}
	it := &item{ev: ev, payload: msg.Payload, done: make(chan error, 1)}
	select {
	case s.in <- it:
	case <-s.stop:
		return fmt.Errorf("loader stopping: %w", context.Canceled)
	}
	return <-it.done
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
				it.done <- fmt.Errorf("write batch: %w", ctx.Err())
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
	for _, it := range batch {
		it.done <- nil
	}
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
			it.done <- err
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
		it.done <- broker.Permanent(fmt.Errorf("sink rejected event %s/%s: %w", it.ev.Account, it.ev.ID, err), "sink_rejected")
		return
	}
	mid := len(batch) / 2
	s.writeBatch(ctx, batch[:mid])
	s.writeBatch(ctx, batch[mid:])
}
