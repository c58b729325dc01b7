package sinktest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nsflow/nsflow/pkg/calendarevent"
	"github.com/nsflow/nsflow/pkg/sink"
	"github.com/nsflow/nsflow/pkg/sink/internal/sqlrow"
)

// Memory is an in-memory sink with the stateful sinks' semantics (version
// guard, tombstones in either DeleteMode, attendee lists replaced only when
// known, all-or-nothing batches). It records the batches it committed and can
// be told to fail, for tests of the loader. The zero value is not usable; use
// NewMemory.
type Memory struct {
	mu      sync.Mutex
	deletes sink.DeleteMode
	rows    map[key]*calendarevent.Event
	tombs   map[key]version
	writes  [][]*calendarevent.Event
	fail    error
	hook    func(ctx context.Context, events []*calendarevent.Event) error
	reject  func(*calendarevent.Event) bool
	partial bool
	closed  bool
}

type key struct{ account, id string }

type version struct {
	lastModified time.Time
	rawSeq       uint64
}

// ErrMemoryClosed is returned by a closed Memory.
var ErrMemoryClosed = errors.New("memory sink closed")

var _ sink.Sink = (*Memory)(nil)

// NewMemory returns an empty Memory in DeleteRow mode.
func NewMemory() *Memory {
	return &Memory{rows: map[key]*calendarevent.Event{}, tombs: map[key]version{}}
}

// SetDeleteMode selects how tombstones are kept.
func (m *Memory) SetDeleteMode(mode sink.DeleteMode) {
	m.mu.Lock()
	m.deletes = mode
	m.mu.Unlock()
}

// Fail makes every Write and Ping return err (a transient failure: nothing is
// committed) until Fail(nil).
func (m *Memory) Fail(err error) {
	m.mu.Lock()
	m.fail = err
	m.mu.Unlock()
}

// SetWriteHook installs fn, called at the start of every Write with the
// batch (it may block, e.g. to test backpressure). A *sink.PartialError from
// it commits every record it does not list; any other error commits nothing
// and is returned. nil removes the hook.
func (m *Memory) SetWriteHook(fn func(ctx context.Context, events []*calendarevent.Event) error) {
	m.mu.Lock()
	m.hook = fn
	m.mu.Unlock()
}

// Reject makes records matching pred bad: with partial false a batch holding
// one fails with a permanent error and commits nothing (like the SQL sinks);
// with partial true the others are committed and a *sink.PartialError lists
// the bad ones as permanent (like AEP). nil pred removes the rule.
func (m *Memory) Reject(pred func(*calendarevent.Event) bool, partial bool) {
	m.mu.Lock()
	m.reject, m.partial = pred, partial
	m.mu.Unlock()
}

// Writes returns copies of the batches Write committed (in full or in part),
// as they were passed.
func (m *Memory) Writes() [][]*calendarevent.Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([][]*calendarevent.Event, len(m.writes))
	for i, b := range m.writes {
		out[i] = make([]*calendarevent.Event, len(b))
		for j, e := range b {
			out[i][j] = clone(e)
		}
	}
	return out
}

// Len returns the number of rows held (in MarkDeleted mode, deleted ones too).
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.rows)
}

// Get returns the event held for (account, id), or nil: like the SQL sinks'
// Lookup, its attendees are sorted by entity id and, in MarkDeleted mode, a
// deleted row keeps the last live content.
func (m *Memory) Get(account, id string) *calendarevent.Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.rows[key{account, id}]
	if !ok {
		return nil
	}
	return clone(e)
}

// Write applies events in order under the version guard.
func (m *Memory) Write(ctx context.Context, events []*calendarevent.Event) error {
	m.mu.Lock()
	hook := m.hook
	m.mu.Unlock()
	skip := map[int]bool{}
	var partial *sink.PartialError
	if hook != nil {
		if err := hook(ctx, events); err != nil {
			if !errors.As(err, &partial) {
				return err
			}
			for _, f := range partial.Failed {
				skip[f.Index] = true
			}
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case m.closed:
		return ErrMemoryClosed
	case m.fail != nil:
		return m.fail
	case ctx.Err() != nil:
		return ctx.Err()
	}
	for i, e := range events {
		if e == nil {
			return sink.Permanent(fmt.Errorf("memory write: event %d is nil", i))
		}
		if _, err := calendarevent.Marshal(e); err != nil {
			return sink.Permanent(fmt.Errorf("memory write: event %d: %w", i, err))
		}
		if m.reject != nil && m.reject(e) && !skip[i] {
			if !m.partial {
				return sink.Permanent(fmt.Errorf("memory write: event %d (id %q) rejected", i, e.ID))
			}
			if partial == nil {
				partial = &sink.PartialError{}
			}
			partial.Failed = append(partial.Failed, sink.RecordError{Index: i, Err: errors.New("rejected"), Permanent: true})
			skip[i] = true
		}
	}
	batch := make([]*calendarevent.Event, 0, len(events))
	for i, e := range events {
		batch = append(batch, clone(e))
		if !skip[i] {
			m.apply(clone(e))
		}
	}
	m.writes = append(m.writes, batch)
	if partial != nil {
		slices.SortFunc(partial.Failed, func(a, b sink.RecordError) int { return a.Index - b.Index })
		return partial
	}
	return nil
}

func (m *Memory) apply(e *calendarevent.Event) {
	k := key{e.Account, e.ID}
	if t, ok := m.tombs[k]; ok && !e.Newer(t.lastModified, t.rawSeq) {
		return // a tombstone at least as new covers it
	}
	cur := m.rows[k]
	if cur != nil && !e.Newer(cur.LastModifiedAt, cur.Provenance.RawSequence) {
		return
	}
	if e.Deleted {
		if m.deletes == sink.DeleteRow {
			m.tombs[k] = version{e.LastModifiedAt, e.Provenance.RawSequence}
			delete(m.rows, k)
			return
		}
		if cur != nil {
			cur.Deleted, cur.DeletedAt = true, e.DeletedAt
			cur.LastModifiedAt, cur.Provenance.RawSequence, cur.Provenance.ExtractedAt = e.LastModifiedAt, e.Provenance.RawSequence, e.Provenance.ExtractedAt
			return
		}
		e.Attendees = []calendarevent.Attendee{}
		m.rows[k] = e
		return
	}
	switch {
	case e.Attendees != nil:
		e.Attendees = normalizeAttendees(e.Attendees)
	case cur != nil:
		e.Attendees = cur.Attendees
	default:
		e.Attendees = []calendarevent.Attendee{}
	}
	m.rows[k] = e
}

// normalizeAttendees orders attendees as the SQL sinks read them back: one
// per entity id (the first), sorted by entity id.
func normalizeAttendees(in []calendarevent.Attendee) []calendarevent.Attendee {
	out := make([]calendarevent.Attendee, 0, len(in))
	seen := map[string]bool{}
	for _, a := range in {
		if !seen[a.Entity.ID] {
			seen[a.Entity.ID] = true
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(a, b calendarevent.Attendee) int { return strings.Compare(a.Entity.ID, b.Entity.ID) })
	return out
}

// Ping returns the Fail error, if any.
func (m *Memory) Ping(context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrMemoryClosed
	}
	return m.fail
}

// Close makes later calls fail.
func (m *Memory) Close() error {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	return nil
}

func clone(e *calendarevent.Event) *calendarevent.Event {
	b, err := calendarevent.Marshal(e)
	if err != nil {
		panic(fmt.Sprintf("sinktest: clone unencodable event: %v", err))
	}
	c, err := sqlrow.DecodeStored(b)
	if err != nil {
		panic(fmt.Sprintf("sinktest: clone: %v", err))
	}
	return c
}
