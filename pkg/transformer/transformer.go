// Package transformer is the transformer stage: a Watermill handler that turns
// each raw message (stream NETSUITE_RAW, durable "transformer") into one
// canonical event on netsuite.<account>.calendarevent.v1 with the pure mapping
// of package transform.
//
// Contract: one output per input, published and stored before the input is
// acked; the output's Nats-Msg-Id is derived from the input's, so a
// redelivered input is dropped by the server as a duplicate. Input that cannot
// be mapped fails with a permanent error of the mapping's class and is
// dead-lettered (dlq.transformer.<account>) by the broker middleware; the
// stage goes on. The stage does not know which topology it runs in.
package transformer

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/nsflow/nsflow/pkg/broker"
	"github.com/nsflow/nsflow/pkg/calendarevent"
	"github.com/nsflow/nsflow/pkg/transform"
)

// HandlerName is the stable handler name (metric label, dead-letter header).
const HandlerName = "transformer.normalize_calendar_event"

// Config configures the stage.
type Config struct {
	// DefaultTimeZone is used when a raw record carries no time zone at all.
	DefaultTimeZone string
	Logger          *slog.Logger
}

// Stage is the transformer stage.
type Stage struct {
	t    *transform.Transformer
	pub  *broker.Publisher
	pool *broker.ExecPool
	log  *slog.Logger

	transformed atomic.Uint64
}

// New returns a Stage publishing with pub.
func New(cfg Config, pub *broker.Publisher) (*Stage, error) {
	if pub == nil {
		return nil, errors.New("new transformer: publisher is nil")
	}
	t, err := transform.New(transform.Options{DefaultTimeZone: cfg.DefaultTimeZone})
	if err != nil {
		return nil, fmt.Errorf("new transformer: %w", err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Stage{t: t, pub: pub, pool: broker.CPUPool(), log: cfg.Logger}, nil
}

// Transformed is how many canonical events this stage has published.
func (s *Stage) Transformed() uint64 { return s.transformed.Load() }

// Register adds the stage's handler to router, consuming through sub.
func (s *Stage) Register(router *message.Router, sub message.Subscriber) {
	router.AddConsumerHandler(HandlerName,
		broker.ConsumerTopic(calendarevent.StreamRaw, broker.ConsumerTransformer), sub, s.Handle)
}

// Handle maps one raw message and publishes the canonical event.
func (s *Stage) Handle(msg *message.Message) error {
	seq, _ := strconv.ParseUint(msg.Metadata.Get(broker.MetaStreamSeq), 10, 64)
	schema := msg.Metadata.Get(calendarevent.HeaderSchema)
	var (
		ev                *calendarevent.Event
		payload           []byte
		mapErr, encodeErr error
	)
	// The mapping and encoding are pure CPU work: run them on the
	// process's worker pool (see broker.ExecPool).
	s.pool.Do(func() {
		if ev, mapErr = s.t.TransformBytes(msg.Payload, transform.Meta{RawSequence: seq, RawSchema: schema}); mapErr != nil {
			return
		}
		// AppendEvent writes exactly calendarevent.Marshal's bytes, without reflection.
		payload, encodeErr = transform.AppendEvent(make([]byte, 0, 2048), ev)
	})
	if mapErr != nil {
		return broker.Permanent(fmt.Errorf("transform raw message: %w", mapErr), transform.Class(mapErr))
	}
	if encodeErr != nil {
		return broker.Permanent(fmt.Errorf("encode canonical event: %w", encodeErr), "internal")
	}
	rawID := msg.Metadata.Get(calendarevent.HeaderMsgID)
	if rawID == "" {
		rawID = calendarevent.RawMsgID(ev.Account, kindOf(ev), ev.ID, ev.LastModifiedAt)
	}
	id := calendarevent.EventMsgID(rawID)
	out := message.NewMessage(id, payload)
	lm := ev.LastModifiedAt.UTC().Format("2006-01-02T15:04:05Z07:00")
	ceType := calendarevent.CETypeEvent
	if ev.Deleted {
		ceType = calendarevent.CETypeTombstone
	}
	out.Metadata = message.Metadata{
		calendarevent.HeaderMsgID:         id,
		calendarevent.HeaderCEID:          id,
		calendarevent.HeaderCEType:        ceType,
		calendarevent.HeaderCESource:      "/netsuite/" + calendarevent.AccountToken(ev.Account) + "/calendarevent",
		calendarevent.HeaderCESpecVersion: calendarevent.CESpecVersion,
		calendarevent.HeaderCESubject:     ev.ID,
		calendarevent.HeaderCETime:        lm,
		calendarevent.HeaderAccount:       ev.Account,
		calendarevent.HeaderRecordID:      ev.ID,
		calendarevent.HeaderLastModified:  lm,
		calendarevent.HeaderExtractedAt:   msg.Metadata.Get(calendarevent.HeaderExtractedAt),
		calendarevent.HeaderSchema:        calendarevent.EventSchema,
		calendarevent.HeaderKind:          kindOf(ev),
		calendarevent.HeaderRawSequence:   strconv.FormatUint(seq, 10),
		calendarevent.HeaderCorrelationID: correlationID(msg, rawID),
	}
	if err := s.pub.PublishContext(msg.Context(), calendarevent.EventSubject(ev.Account), out); err != nil {
		return fmt.Errorf("publish canonical event: %w", err)
	}
	s.transformed.Add(1)
	return nil
}

func correlationID(msg *message.Message, fallback string) string {
	if c := msg.Metadata.Get(calendarevent.HeaderCorrelationID); c != "" {
		return c
	}
	return fallback
}

func kindOf(ev *calendarevent.Event) string {
	if ev.Deleted {
		return calendarevent.KindTombstone
	}
	return calendarevent.KindEvent
}
