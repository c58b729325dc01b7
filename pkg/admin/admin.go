// Package admin implements the operator commands that work on JetStream
// itself — listing, showing and redriving dead letters, replaying a stream
// into a stage, and reporting the pipeline's status — so that they can be
// tested without the CLI. None of them talks to NetSuite.
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/nsflow/nsflow/pkg/broker"
	"github.com/nsflow/nsflow/pkg/calendarevent"
	"github.com/nsflow/nsflow/pkg/extractor"
)

// DeadLetter is one message of the DLQ stream, described by its headers.
type DeadLetter struct {
	Sequence       uint64    `json:"sequence"`
	Subject        string    `json:"subject"`
	Stage          string    `json:"stage"`
	Class          string    `json:"error_class"`
	Reason         string    `json:"reason"`
	Account        string    `json:"account"`
	RecordID       string    `json:"record_id"`
	OriginalSubj   string    `json:"original_subject"`
	OriginalStream string    `json:"original_stream"`
	OriginalSeq    string    `json:"original_sequence"`
	Attempts       string    `json:"attempts"`
	At             time.Time `json:"dead_lettered_at"`
	Size           int       `json:"size"`
}

// ListDeadLetters returns up to limit dead letters (oldest first), optionally
// only those of stage.
func ListDeadLetters(ctx context.Context, js jetstream.JetStream, stage string, limit int) ([]DeadLetter, error) {
	st, err := js.Stream(ctx, calendarevent.StreamDLQ)
	if err != nil {
		return nil, fmt.Errorf("open DLQ stream: %w", err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("DLQ stream info: %w", err)
	}
	var out []DeadLetter
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && seq > 0 && (limit <= 0 || len(out) < limit); seq++ {
		m, err := st.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read dead letter %d: %w", seq, err)
		}
		d := describe(m)
		if stage != "" && d.Stage != stage {
			continue
		}
		out = append(out, d)
	}
	return out, nil
}

func describe(m *jetstream.RawStreamMsg) DeadLetter {
	h := m.Header
	at, _ := time.Parse(time.RFC3339Nano, h.Get(calendarevent.HeaderDLQDeadLetteredAt))
	return DeadLetter{
		Sequence: m.Sequence, Subject: m.Subject, Size: len(m.Data),
		Stage: h.Get(calendarevent.HeaderDLQStage), Class: h.Get(calendarevent.HeaderDLQErrorClass),
		Reason: h.Get(calendarevent.HeaderDLQReason), Account: h.Get(calendarevent.HeaderAccount),
		RecordID: h.Get(calendarevent.HeaderRecordID), OriginalSubj: h.Get(calendarevent.HeaderDLQSubject),
		OriginalStream: h.Get(calendarevent.HeaderDLQStream), OriginalSeq: h.Get(calendarevent.HeaderDLQSequence),
		Attempts: h.Get(calendarevent.HeaderDLQAttempts), At: at,
	}
}

// ShowDeadLetter returns one dead letter with its headers and payload.
func ShowDeadLetter(ctx context.Context, js jetstream.JetStream, seq uint64) (DeadLetter, nats.Header, []byte, error) {
	st, err := js.Stream(ctx, calendarevent.StreamDLQ)
	if err != nil {
		return DeadLetter{}, nil, nil, fmt.Errorf("open DLQ stream: %w", err)
	}
	m, err := st.GetMsg(ctx, seq)
	if err != nil {
		return DeadLetter{}, nil, nil, fmt.Errorf("read dead letter %d: %w", seq, err)
	}
	return describe(m), m.Header, m.Data, nil
}

// Redrive publishes dead letter seq back to its original subject (payload and
// original headers, with a new Nats-Msg-Id so the duplicate window does not
// drop it) and deletes it from the DLQ once the republish is stored.
func Redrive(ctx context.Context, js jetstream.JetStream, seq uint64) (string, error) {
	st, err := js.Stream(ctx, calendarevent.StreamDLQ)
	if err != nil {
		return "", fmt.Errorf("open DLQ stream: %w", err)
	}
	m, err := st.GetMsg(ctx, seq)
	if err != nil {
		return "", fmt.Errorf("read dead letter %d: %w", seq, err)
	}
	subject := m.Header.Get(calendarevent.HeaderDLQSubject)
	if subject == "" {
		return "", fmt.Errorf("dead letter %d has no %s header: cannot tell where it came from", seq, calendarevent.HeaderDLQSubject)
	}
	h := nats.Header{}
	for k, v := range m.Header {
		if strings.HasPrefix(k, "nsflow-dlq-") || k == calendarevent.HeaderMsgID {
			continue
		}
		h[k] = v
	}
	h.Set(calendarevent.HeaderMsgID, "redrive:"+calendarevent.StreamDLQ+":"+strconv.FormatUint(seq, 10))
	if _, err := js.PublishMsg(ctx, &nats.Msg{Subject: subject, Header: h, Data: m.Data}); err != nil {
		return "", fmt.Errorf("republish dead letter %d to %s: %w", seq, subject, err)
	}
	if err := st.DeleteMsg(ctx, seq); err != nil {
		return "", fmt.Errorf("delete redriven dead letter %d: %w", seq, err)
	}
	return subject, nil
}

// Replay makes the durable consumer of a stage deliver its stream again from
// a start time or sequence: the consumer is deleted and re-created with the
// same settings and the new start (JetStream does not allow changing a
// durable's start). Stages bound to it must be stopped first; they re-bind
// when restarted. Sinks are idempotent, so replaying what was loaded already
// changes nothing; replaying into a new or emptied sink back-fills it.
func Replay(ctx context.Context, js jetstream.JetStream, stream, consumer string, since time.Time, fromSeq uint64) error {
	if since.IsZero() == (fromSeq == 0) {
		return errors.New("replay: give exactly one of a start time or a start sequence")
	}
	c, err := js.Consumer(ctx, stream, consumer)
	if err != nil {
		return fmt.Errorf("replay: consumer %s on %s: %w (provision it first)", consumer, stream, err)
	}
	cfg := c.CachedInfo().Config
	if since.IsZero() {
		cfg.DeliverPolicy, cfg.OptStartSeq, cfg.OptStartTime = jetstream.DeliverByStartSequencePolicy, fromSeq, nil
	} else {
		t := since.UTC()
		cfg.DeliverPolicy, cfg.OptStartSeq, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, 0, &t
	}
	if err := js.DeleteConsumer(ctx, stream, consumer); err != nil {
		return fmt.Errorf("replay: delete consumer %s: %w", consumer, err)
	}
	if _, err := js.CreateConsumer(ctx, stream, cfg); err != nil {
		return fmt.Errorf("replay: re-create consumer %s: %w", consumer, err)
	}
	return nil
}

// ConsumerStatus is one durable consumer's progress.
type ConsumerStatus struct {
	Stream        string    `json:"stream"`
	Name          string    `json:"name"`
	Pending       uint64    `json:"pending"`
	AckPending    int       `json:"ack_pending"`
	Redelivered   int       `json:"redelivered"`
	Waiting       int       `json:"waiting"`
	AckFloor      uint64    `json:"ack_floor_stream_seq"`
	LastActive    time.Time `json:"last_active,omitempty"`
	PullClients   int       `json:"pull_requests_waiting"`
	DeliverPolicy string    `json:"deliver_policy"`
}

// StreamStatus is one stream's size.
type StreamStatus struct {
	Name     string `json:"name"`
	Messages uint64 `json:"messages"`
	Bytes    uint64 `json:"bytes"`
	FirstSeq uint64 `json:"first_seq"`
	LastSeq  uint64 `json:"last_seq"`
}

// CursorStatus is one extractor cursor from the state bucket.
type CursorStatus struct {
	Key          string    `json:"key"`
	LastModified time.Time `json:"last_modified"`
	ID           int64     `json:"id"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// Status is the whole pipeline's state as JetStream sees it.
type Status struct {
	Streams   []StreamStatus             `json:"streams"`
	Consumers []ConsumerStatus           `json:"consumers"`
	Cursors   []CursorStatus             `json:"cursors"`
	Backfills []extractor.BackfillRecord `json:"backfills"`
}

// ReadStatus collects stream sizes, consumer lag, extractor cursors and
// backfill progress.
func ReadStatus(ctx context.Context, js jetstream.JetStream, stateBucket string) (Status, error) {
	var s Status
	for _, name := range []string{calendarevent.StreamRaw, calendarevent.StreamEvents, calendarevent.StreamDLQ} {
		st, err := js.Stream(ctx, name)
		if err != nil {
			return s, fmt.Errorf("stream %s: %w (provision first)", name, err)
		}
		info, err := st.Info(ctx)
		if err != nil {
			return s, fmt.Errorf("stream %s info: %w", name, err)
		}
		s.Streams = append(s.Streams, StreamStatus{Name: name, Messages: info.State.Msgs, Bytes: info.State.Bytes, FirstSeq: info.State.FirstSeq, LastSeq: info.State.LastSeq})
		lister := st.ListConsumers(ctx)
		for ci := range lister.Info() {
			cs := ConsumerStatus{
				Stream: name, Name: ci.Name, Pending: ci.NumPending, AckPending: ci.NumAckPending,
				Redelivered: ci.NumRedelivered, Waiting: ci.NumWaiting, AckFloor: ci.AckFloor.Stream,
				DeliverPolicy: ci.Config.DeliverPolicy.String(),
			}
			if ci.Delivered.Last != nil {
				cs.LastActive = *ci.Delivered.Last
			}
			s.Consumers = append(s.Consumers, cs)
		}
		if err := lister.Err(); err != nil {
			return s, fmt.Errorf("list consumers of %s: %w", name, err)
		}
	}
	if stateBucket == "" {
		stateBucket = "netsuite_state"
	}
	kv, err := js.KeyValue(ctx, stateBucket)
	if err != nil {
		return s, fmt.Errorf("state bucket %s: %w", stateBucket, err)
	}
	keys, err := kv.ListKeys(ctx)
	if err != nil {
		return s, fmt.Errorf("list state keys: %w", err)
	}
	for k := range keys.Keys() {
		if !strings.HasPrefix(k, "cursor.") {
			continue
		}
		e, err := kv.Get(ctx, k)
		if err != nil {
			continue
		}
		var c struct {
			LastModified time.Time `json:"last_modified"`
			ID           int64     `json:"id"`
			UpdatedAt    time.Time `json:"updated_at"`
		}
		if json.Unmarshal(e.Value(), &c) == nil {
			s.Cursors = append(s.Cursors, CursorStatus{Key: k, LastModified: c.LastModified, ID: c.ID, UpdatedAt: c.UpdatedAt})
		}
	}
	sort.Slice(s.Cursors, func(i, j int) bool { return s.Cursors[i].Key < s.Cursors[j].Key })
	sort.Slice(s.Consumers, func(i, j int) bool { return s.Consumers[i].Name < s.Consumers[j].Name })
	if s.Backfills, err = extractor.ReadBackfills(ctx, kv); err != nil {
		return s, err
	}
	return s, nil
}

// ReplayTarget names the stream and durable of a stage for Replay.
func ReplayTarget(stage, sinkName string) (stream, consumer string, err error) {
	switch stage {
	case "transformer":
		return calendarevent.StreamRaw, broker.ConsumerTransformer, nil
	case "loader":
		if sinkName == "" {
			return "", "", errors.New("replay into the loader needs the sink name (e.g. sqlite, postgres)")
		}
		return calendarevent.StreamEvents, broker.LoaderConsumer(sinkName), nil
	}
	return "", "", fmt.Errorf("stage %q: want transformer or loader", stage)
}
