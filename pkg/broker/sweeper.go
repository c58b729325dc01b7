package broker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/nsflow/nsflow/pkg/calendarevent"
)

// Dead letters for messages the server gave up on.
//
// A message whose handler fails is dead-lettered in-process (DeadLetter). A
// message that kills the process itself (OOM, a crash in a dependency) is
// redelivered until the consumer's MaxDeliver; then the server stops
// delivering it and only emits a MAX_DELIVERIES advisory. Advisories are
// fire-and-forget, so Provision captures them in the ADVISORIES stream and the
// Sweeper — run by every stage process, sharing one durable — copies each
// such message from its stream to the DLQ (error class "max_deliveries").
// Nothing is dropped silently even then.

const (
	// StreamAdvisories captures the MAX_DELIVERIES advisories of the pipeline's consumers.
	StreamAdvisories = "NSFLOW_ADVISORIES"
	// ConsumerSweeper is the durable the Sweeper shares across processes.
	ConsumerSweeper   = "dlq-sweeper"
	maxDeliveriesSubj = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES."
)

func advisorySubjects() []string {
	return []string{
		maxDeliveriesSubj + calendarevent.StreamRaw + ".>",
		maxDeliveriesSubj + calendarevent.StreamEvents + ".>",
	}
}

// maxDeliveriesAdvisory is the part of io.nats.jetstream.advisory.v1.max_deliver we use.
type maxDeliveriesAdvisory struct {
	Stream     string `json:"stream"`
	Consumer   string `json:"consumer"`
	StreamSeq  uint64 `json:"stream_seq"`
	Deliveries uint64 `json:"deliveries"`
}

// Sweeper moves messages that exhausted MaxDeliver to the DLQ.
type Sweeper struct {
	js  jetstream.JetStream
	pub *Publisher
	log *slog.Logger
}

// NewSweeper returns a Sweeper.
func NewSweeper(js jetstream.JetStream, pub *Publisher, log *slog.Logger) *Sweeper {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Sweeper{js: js, pub: pub, log: log}
}

// Run sweeps until ctx is done.
func (s *Sweeper) Run(ctx context.Context) error {
	cons, err := s.js.Consumer(ctx, StreamAdvisories, ConsumerSweeper)
	if err != nil {
		return fmt.Errorf("dlq sweeper: %w (provision first)", err)
	}
	for ctx.Err() == nil {
		batch, err := cons.Fetch(50, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			s.log.Warn("dlq sweeper fetch failed", "err", err)
			sleepCtx(ctx, time.Second)
			continue
		}
		for m := range batch.Messages() {
			if err := s.sweep(ctx, m.Data()); err != nil {
				s.log.Error("dlq sweeper could not move an exhausted message; retrying later", "err", err)
				_ = m.NakWithDelay(10 * time.Second)
				continue
			}
			_ = m.Ack()
		}
	}
	return nil
}

func (s *Sweeper) sweep(ctx context.Context, data []byte) error {
	var adv maxDeliveriesAdvisory
	if err := json.Unmarshal(data, &adv); err != nil || adv.Stream == "" || adv.StreamSeq == 0 {
		s.log.Warn("dlq sweeper skipped an unreadable advisory", "err", err)
		return nil
	}
	st, err := s.js.Stream(ctx, adv.Stream)
	if err != nil {
		return fmt.Errorf("open stream %s: %w", adv.Stream, err)
	}
	m, err := st.GetMsg(ctx, adv.StreamSeq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		s.log.Error("message exhausted its deliveries and has aged out of its stream", "stream", adv.Stream, "stream_seq", adv.StreamSeq)
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s/%d: %w", adv.Stream, adv.StreamSeq, err)
	}
	stage := stageOf(adv.Consumer)
	seq := strconv.FormatUint(adv.StreamSeq, 10)
	id := "dlq:" + stage + ":" + adv.Stream + ":" + seq
	h := nats.Header{}
	for k, v := range m.Header {
		h[k] = v
	}
	h.Set(calendarevent.HeaderMsgID, id)
	h.Set(calendarevent.HeaderDLQStage, stage)
	h.Set(calendarevent.HeaderDLQHandler, adv.Consumer)
	h.Set(calendarevent.HeaderDLQReason, fmt.Sprintf("delivered %d times without an acknowledgement (the consumer's MaxDeliver): the stage probably crashed or timed out on this message", adv.Deliveries))
	h.Set(calendarevent.HeaderDLQErrorClass, "max_deliveries")
	h.Set(calendarevent.HeaderDLQSubject, m.Subject)
	h.Set(calendarevent.HeaderDLQStream, adv.Stream)
	h.Set(calendarevent.HeaderDLQSequence, seq)
	h.Set(calendarevent.HeaderDLQAttempts, strconv.FormatUint(adv.Deliveries, 10))
	h.Set(calendarevent.HeaderDLQDeadLetteredAt, time.Now().UTC().Format(time.RFC3339Nano))
	subject := calendarevent.DLQSubject(stage, h.Get(calendarevent.HeaderAccount))
	if _, err := s.js.PublishMsg(ctx, &nats.Msg{Subject: subject, Header: h, Data: m.Data}); err != nil {
		return fmt.Errorf("publish dead letter %s: %w", id, err)
	}
	s.log.Error("message dead-lettered after exhausting its deliveries", "stage", stage, "stream", adv.Stream, "stream_seq", adv.StreamSeq,
		"record_id", h.Get(calendarevent.HeaderRecordID), "deliveries", adv.Deliveries)
	return nil
}

func stageOf(consumer string) string {
	if strings.HasPrefix(consumer, "loader-") {
		return "loader"
	}
	return consumer
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
