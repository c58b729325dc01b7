package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"

	"github.com/nsflow/nsflow/pkg/calendarevent"
)

// DeadLetterConfig configures the DeadLetter middleware.
type DeadLetterConfig struct {
	Publisher *Publisher
	// Stage names the stage in the subject (dlq.<stage>.<account>) and headers.
	Stage string
	// Handler is the stable handler name recorded in the headers.
	Handler string
	// Classify returns the error class for the header; default ErrorClass.
	Classify func(error) string
	// OnDeadLetter is called after a dead letter is stored (metrics).
	OnDeadLetter func(class string)
	Logger       *slog.Logger
}

// DeadLetter publishes every message whose handler failed to the DLQ stream,
// with the reason, and then reports success so the original is acked. If the
// dead letter cannot be stored the handler error is returned and the original
// is nacked: nothing is dropped.
func DeadLetter(cfg DeadLetterConfig) message.HandlerMiddleware {
	if cfg.Classify == nil {
		cfg.Classify = ErrorClass
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return func(h message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) ([]*message.Message, error) {
			out, err := h(msg)
			if err == nil {
				return out, nil
			}
			if errors.Is(err, context.Canceled) && msg.Context().Err() != nil {
				return nil, err // shutting down: let it be redelivered
			}
			class := cfg.Classify(err)
			dl := deadLetterMessage(msg, cfg, class, err)
			account := msg.Metadata.Get(calendarevent.HeaderAccount)
			subject := calendarevent.DLQSubject(cfg.Stage, account)
			if perr := cfg.Publisher.PublishContext(context.WithoutCancel(msg.Context()), subject, dl); perr != nil {
				cfg.Logger.Error("dead letter not stored; message will be redelivered",
					"stage", cfg.Stage, "message_uuid", msg.UUID, "err", perr)
				return nil, errors.Join(err, perr)
			}
			cfg.Logger.Error("message dead-lettered",
				"stage", cfg.Stage, "handler", cfg.Handler, "message_uuid", msg.UUID,
				"record_id", msg.Metadata.Get(calendarevent.HeaderRecordID),
				"stream_seq", msg.Metadata.Get(MetaStreamSeq), "error_class", class, "err", err)
			if cfg.OnDeadLetter != nil {
				cfg.OnDeadLetter(class)
			}
			return nil, nil
		}
	}
}

func deadLetterMessage(msg *message.Message, cfg DeadLetterConfig, class string, err error) *message.Message {
	stream := msg.Metadata.Get(MetaStream)
	seq := msg.Metadata.Get(MetaStreamSeq)
	id := "dlq:" + cfg.Stage + ":" + stream + ":" + seq
	if seq == "" {
		id = "dlq:" + cfg.Stage + ":" + msg.UUID
	}
	dl := message.NewMessage(id, msg.Payload)
	for k, v := range msg.Metadata {
		if !isLocalMeta(k) {
			dl.Metadata[k] = v
		}
	}
	reason := err.Error()
	if len(reason) > 2000 {
		reason = reason[:2000] + "…"
	}
	dl.Metadata[calendarevent.HeaderMsgID] = id
	dl.Metadata[calendarevent.HeaderDLQStage] = cfg.Stage
	dl.Metadata[calendarevent.HeaderDLQHandler] = cfg.Handler
	dl.Metadata[calendarevent.HeaderDLQReason] = reason
	dl.Metadata[calendarevent.HeaderDLQErrorClass] = class
	dl.Metadata[calendarevent.HeaderDLQSubject] = msg.Metadata.Get(MetaSubject)
	dl.Metadata[calendarevent.HeaderDLQStream] = stream
	dl.Metadata[calendarevent.HeaderDLQSequence] = seq
	dl.Metadata[calendarevent.HeaderDLQAttempts] = attempts(msg)
	dl.Metadata[calendarevent.HeaderDLQDeadLetteredAt] = time.Now().UTC().Format(time.RFC3339Nano)
	return dl
}

func attempts(msg *message.Message) string {
	d := msg.Metadata.Get(MetaDelivered)
	if d == "" {
		d = "1"
	}
	r := msg.Metadata.Get(metaRetries)
	if r == "" {
		return d
	}
	return d + " deliveries, " + r + " in-process retries"
}

const metaRetries = "_nsflow_retries"

// Retry re-runs the handler on transient errors up to maxRetries times with
// exponential backoff and jitter, starting at initial and capped at maxInterval.
// Permanent errors and a cancelled message context end it at once.
func Retry(maxRetries int, initial, maxInterval time.Duration, log *slog.Logger) message.HandlerMiddleware {
	return func(h message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) ([]*message.Message, error) {
			out, err := h(msg)
			delay := initial
			for i := 1; err != nil && i <= maxRetries && !IsPermanent(err); i++ {
				ctx := msg.Context()
				wait := jitter(delay)
				log.Warn("handler failed; retrying", "message_uuid", msg.UUID, "retry", i, "delay", wait, "err", err)
				t := time.NewTimer(wait)
				select {
				case <-ctx.Done():
					t.Stop()
					return nil, err
				case <-t.C:
				}
				msg.Metadata.Set(metaRetries, strconv.Itoa(i))
				out, err = h(msg)
				delay = min(delay*2, maxInterval)
			}
			return out, err
		}
	}
}

// Timeout bounds one handler attempt: the message context is cancelled after
// d, and restored afterwards so a retry gets a fresh deadline (Watermill's own
// Timeout leaves the cancelled context on the message).
func Timeout(d time.Duration) message.HandlerMiddleware {
	return func(h message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) ([]*message.Message, error) {
			parent := msg.Context()
			ctx, cancel := context.WithTimeout(parent, d)
			msg.SetContext(ctx)
			defer func() {
				cancel()
				msg.SetContext(parent)
			}()
			return h(msg)
		}
	}
}

// jitter returns d randomised by ±50%.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return d/2 + rand.N(d)
}

// Recover turns a panic in the handler into a permanent *PanicError, so it is
// dead-lettered instead of crashing the process or being retried.
func Recover(log *slog.Logger) message.HandlerMiddleware {
	return func(h message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) (out []*message.Message, err error) {
			defer func() {
				if r := recover(); r != nil {
					pe := &PanicError{Value: r, Stack: string(debug.Stack())}
					log.Error("handler panicked", "message_uuid", msg.UUID, "panic", fmt.Sprint(r), "stack", pe.Stack)
					out, err = nil, Permanent(pe, "panic")
				}
			}()
			return h(msg)
		}
	}
}

// CorrelationID is Watermill's middleware.CorrelationID (every message the
// handler produces gets the input's correlation_id, unless it has one), but
// it reads the input's metadata only when there is a message to stamp: a
// consumer handler produces none, and the lookup in a metadata map that has
// gone cold in the cache since delivery cost the loader about 1 µs per
// message (measured).
func CorrelationID(h message.HandlerFunc) message.HandlerFunc {
	return func(msg *message.Message) ([]*message.Message, error) {
		out, err := h(msg)
		if len(out) > 0 {
			id := middleware.MessageCorrelationID(msg)
			for _, m := range out {
				middleware.SetCorrelationID(id, m)
			}
		}
		return out, err
	}
}

// ChainConfig configures the standard middleware chain.
type ChainConfig struct {
	DeadLetter DeadLetterConfig
	// MaxRetries, InitialInterval, MaxInterval bound in-process retries of
	// transient errors (defaults 5, 200ms, 10s).
	MaxRetries      int
	InitialInterval time.Duration
	MaxInterval     time.Duration
	// Timeout bounds one handler attempt (default 30s; negative disables it,
	// for handlers that wait on a batch and bound themselves).
	Timeout time.Duration
	Logger  *slog.Logger
}

// Chain returns the standard handler middleware, outermost first:
// CorrelationID → DeadLetter → Retry (transient errors only) → Timeout → Recover.
func Chain(cfg ChainConfig) []message.HandlerMiddleware {
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = 5
	}
	if cfg.InitialInterval == 0 {
		cfg.InitialInterval = 200 * time.Millisecond
	}
	if cfg.MaxInterval == 0 {
		cfg.MaxInterval = 10 * time.Second
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.DeadLetter.Logger == nil {
		cfg.DeadLetter.Logger = cfg.Logger
	}
	chain := []message.HandlerMiddleware{
		CorrelationID,
		DeadLetter(cfg.DeadLetter),
		Retry(cfg.MaxRetries, cfg.InitialInterval, cfg.MaxInterval, cfg.Logger),
	}
	if cfg.Timeout > 0 {
		chain = append(chain, Timeout(cfg.Timeout))
	}
	return append(chain, Recover(cfg.Logger))
}
