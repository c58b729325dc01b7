package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/nsflow/nsflow/pkg/calendarevent"
	"github.com/nsflow/nsflow/pkg/sink/internal/core"
	"github.com/nsflow/nsflow/pkg/sink/internal/sqlrow"
)

// The copy path writes live events without sending them as statement
// parameters. One statement settles every key of the batch (settleSQL): it
// deletes, under the version guard, each row the batch replaces and reports
// what it found. The replaced and absent keys are then copied in with binary
// COPY, which costs the server less than INSERT … SELECT FROM unnest(…) ON
// CONFLICT (no speculative insertion, multi-row heap inserts) and the client
// far less than encoding parameter arrays; the rows are encoded (and, for
// Write, their canonical JSON marshalled) while the server inserts the
// previous ones. Attendee rows are compared with the stored ones and only
// the differences written.
//
// A key whose row changed between the statement's snapshot and its delete
// (another writer committed a version of it), or a copy that hits a row
// another writer inserted meanwhile (unique_violation), makes the
// transaction roll back and the batch go through the upsert statements
// instead (errFallback), which settle such races on the row lock. Either way
// the DeleteRow cleanup runs last, as on the upsert path.

// errFallback means the copy path met a concurrent change of one of its keys
// and rolled back; the upsert statements write the batch instead.
var errFallback = errors.New("concurrent change of a key")

// Key states settleSQL reports; absent keys are not reported.
const (
	stateAbsent   = 0
	stateReplaced = 'r' // older row deleted: copy the new version
	stateKept     = 'k' // the row is at least as new: nothing to do
	stateBlocked  = 'b' // a tombstone at least as new: nothing to do
	stateRaced    = 'x' // older row, but another writer changed it first
	stateNow      = 'n' // the transaction's now(), for loaded_at
)

// settleSQL takes the live keys of a batch with their versions. It deletes
// every row that is older than the batch's version and not covered by a
// tombstone at least as new, and returns the transaction time (ord 0) and one
// row (ord, state) per key that is not absent. Every part of the statement
// reads the same snapshot; the DELETE addresses the rows it read by ctid, so
// a row another writer changed since (a new tuple) is left alone and shows as
// raced. Addressing by ctid also keeps the plan independent of statistics:
// the keys are looked up once, through the primary key or a hash join,
// whichever the planner estimates cheaper for a thousand keys.
const settleSQL = `WITH k AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::int8[])
        WITH ORDINALITY AS k(account, id, last_modified_at, raw_sequence, ord)
), cur AS (
    SELECT k.ord, e.ctid AS tid,
           (e.last_modified_at, e.raw_sequence) < (k.last_modified_at, k.raw_sequence) AS older
    FROM k JOIN calendar_events e ON e.account = k.account AND e.id = k.id
), blocked AS (
    SELECT k.ord FROM k JOIN calendar_event_tombstones t ON t.account = k.account AND t.id = k.id
    WHERE (t.deleted_at, t.raw_sequence) >= (k.last_modified_at, k.raw_sequence)
), gone AS (
    DELETE FROM calendar_events e
    WHERE e.ctid = ANY (ARRAY(SELECT c.tid FROM cur c WHERE c.older AND c.ord NOT IN (SELECT ord FROM blocked)))
    RETURNING e.ctid AS tid
)
SELECT 0::bigint, 'n', now()
UNION ALL
SELECT ord, 'b', NULL FROM blocked
UNION ALL
SELECT c.ord, CASE WHEN g.tid IS NOT NULL THEN 'r' WHEN NOT c.older THEN 'k' ELSE 'x' END, NULL
FROM cur c LEFT JOIN gone g ON g.tid = c.tid
WHERE c.ord NOT IN (SELECT ord FROM blocked)`

// customPlansSQL makes the transaction plan each statement for its
// parameters. The copy path's statements join arrays of up to a batch of
// keys; a cached generic plan cannot see their size and, on tables whose
// statistics lag, has turned a hash join into a thousand index scans of the
// wrong index (measured: 250 ms instead of 10 ms for the settle statement).
// SET LOCAL rather than a connection parameter, so that poolers that
// refuse unknown startup parameters still work.
const customPlansSQL = "SET LOCAL plan_cache_mode = force_custom_plan"

// storedAttendeesSQL returns the attendee rows of the given events, by the
// events' ordinal.
const storedAttendeesSQL = `SELECT k.ord, a.entity_id, coalesce(a.entity_name, ''), coalesce(a.entity_type, ''),
    coalesce(a.attendance, ''), coalesce(a.response, '')
FROM unnest($1::text[], $2::text[], $3::int8[]) AS k(account, id, ord)
JOIN calendar_event_attendees a ON a.account = k.account AND a.event_id = k.id`

// deleteAttendeeRowsSQL deletes single attendee rows by key.
const deleteAttendeeRowsSQL = `DELETE FROM calendar_event_attendees a
USING unnest($1::text[], $2::text[], $3::text[]) AS k(account, event_id, entity_id)
WHERE a.account = k.account AND a.event_id = k.event_id AND a.entity_id = k.entity_id`

// copyBatch is a Write prepared for the copy path.
type copyBatch struct {
	events []*calendarevent.Event
	rows   []sqlrow.Row // every row, as sqlrow.PrepareEncoded orders them
	// pending[i]: events[i] came without its encoding; the rows of such
	// events have an empty EventJSON until encodeJSON fills it.
	pending []bool

	live  []int32 // index in rows of each live row, in order
	local []local // per live row
	keys  struct {
		account, id []string
		lastMod     []time.Time
		rawSeq      []int64
	}
	tombs   columns    // tombstones, written by the upsert statements
	allKeys keyColumns // every key, for the DeleteRow cleanup
}

// noEncoding is the EventJSON placeholder handed to sqlrow for events whose
// canonical JSON the sink marshals itself, later.
var noEncoding = []byte{}

// prepare validates and flattens events (sqlrow.PrepareEncoded) without
// marshalling the canonical JSON of events that came without it: the copy
// path does that while the server inserts, the upsert path in fillJSON.
func prepare(events []*calendarevent.Event, encoded [][]byte) ([]sqlrow.Row, []bool, error) {
	if encoded != nil && len(encoded) != len(events) {
		return nil, nil, fmt.Errorf("prepare rows: %d encodings for %d events", len(encoded), len(events))
	}
	enc := make([][]byte, len(events))
	pending := make([]bool, len(events))
	for i := range events {
		if encoded != nil && encoded[i] != nil {
			enc[i] = encoded[i]
			continue
		}
		enc[i], pending[i] = noEncoding, true
	}
	rows, err := sqlrow.PrepareEncoded(events, enc)
	return rows, pending, err
}

// encodeJSON returns the canonical JSON of row r of rows prepared from
// events: as given, or marshalled now.
func encodeJSON(events []*calendarevent.Event, pending []bool, r *sqlrow.Row) ([]byte, error) {
	if !pending[r.Index] {
		return r.EventJSON, nil
	}
	js, err := calendarevent.Marshal(events[r.Index])
	if err != nil {
		return nil, core.Permanent(fmt.Errorf("event %d (account %q, id %q): encode event JSON: %v", r.Index, r.Account, r.ID, err))
	}
	return js, nil
}

// fillJSON sets the EventJSON of every row still pending.
func fillJSON(events []*calendarevent.Event, pending []bool, rows []sqlrow.Row) error {
	for i := range rows {
		js, err := encodeJSON(events, pending, &rows[i])
		if err != nil {
			return err
		}
		rows[i].EventJSON = js
	}
	return nil
}

// newCopyBatch prepares rows for the copy path, or returns nil when a live
// row has a value only the server can parse (see copyable).
func newCopyBatch(events []*calendarevent.Event, rows []sqlrow.Row, pending []bool) (*copyBatch, error) {
	b := &copyBatch{events: events, rows: rows, pending: pending, tombs: newColumns(0)}
	b.live = make([]int32, 0, len(rows))
	b.local = make([]local, 0, len(rows))
	for i := range rows {
		r := &rows[i]
		b.allKeys.account = append(b.allKeys.account, r.Account)
		b.allKeys.id = append(b.allKeys.id, r.ID)
		if r.Deleted {
			js, err := encodeJSON(events, pending, r)
			if err != nil {
				return nil, err
			}
			r.EventJSON = js
			b.tombs.append(r)
			continue
		}
		l, ok := copyable(r)
		if !ok {
			return nil, nil
		}
		b.live = append(b.live, int32(i))
		b.local = append(b.local, l)
		b.keys.account = append(b.keys.account, r.Account)
		b.keys.id = append(b.keys.id, r.ID)
		b.keys.lastMod = append(b.keys.lastMod, r.LastModifiedAt)
		b.keys.rawSeq = append(b.keys.rawSeq, r.RawSequence)
	}
	return b, nil
}

var encoders = sync.Pool{New: func() any { return &encoder{buf: make([]byte, 0, 80<<10)} }}

// writeCopy writes b in one transaction by the copy path: a pipeline of
// BEGIN, the tombstones and settleSQL; the copies; a pipeline of the
// tombstone markers, the DeleteRow cleanup and COMMIT. It returns
// errFallback, after rolling back, when the upsert statements must write the
// batch instead.
func (s *Sink) writeCopy(ctx context.Context, b *copyBatch) (err error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("acquire connection: %w", err)
	}
	defer func() {
		if err != nil && !conn.Conn().IsClosed() {
			_, _ = conn.Exec(ctx, "rollback") // else Release discards the connection
		}
		conn.Release()
	}()

	open := &pgx.Batch{}
	open.Queue("begin")
	open.Queue(customPlansSQL)
	if b.tombs.len() > 0 && s.deletes == core.DeleteRow {
		open.Queue(tombstoneSQL, b.tombs.text[0], b.tombs.text[1], b.tombs.lastMod, b.tombs.rawSeq)
	}
	var st settlement
	if len(b.live) > 0 {
		open.Queue(settleSQL, b.keys.account, b.keys.id, b.keys.lastMod, b.keys.rawSeq)
	}
	br := conn.SendBatch(ctx, open)
	err = func() error {
		for range 2 {
			if _, err := br.Exec(); err != nil {
				return fmt.Errorf("begin: %w", err)
			}
		}
		if b.tombs.len() > 0 && s.deletes == core.DeleteRow {
			if _, err := br.Exec(); err != nil {
				return fmt.Errorf("record tombstones: %w", err)
			}
		}
		if len(b.live) > 0 {
			rows, err := br.Query()
			if err != nil {
				return fmt.Errorf("settle keys: %w", err)
			}
			if err := st.read(rows, len(b.live)); err != nil {
				return fmt.Errorf("settle keys: %w", err)
			}
		}
		return nil
	}()
	if cerr := br.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("begin: %w", cerr)
	}
	if err != nil {
		return err
	}
	if len(b.live) > 0 {
		if err := s.copyLive(ctx, conn.Conn(), b, &st); err != nil {
			return err
		}
	}

	end := &pgx.Batch{}
	if b.tombs.len() > 0 {
		end.Queue(markSQL, b.tombs.args()...)
	}
	if s.deletes == core.DeleteRow {
		end.Queue(cleanupSQL, b.allKeys.account, b.allKeys.id)
	}
	end.Queue("commit")
	br = conn.SendBatch(ctx, end)
	err = func() error {
		if b.tombs.len() > 0 {
			if _, err := br.Exec(); err != nil {
				return fmt.Errorf("mark deleted: %w", err)
			}
		}
		if s.deletes == core.DeleteRow {
			if _, err := br.Exec(); err != nil {
				return fmt.Errorf("remove deleted rows: %w", err)
			}
		}
		if _, err := br.Exec(); err != nil {
			return fmt.Errorf("commit: %w", err)
		}
		return nil
	}()
	if cerr := br.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("commit: %w", cerr)
	}
	return err
}

// settlement is what settleSQL reported.
type settlement struct {
	loadedAt time.Time
	state    []byte // per live row
}

func (st *settlement) read(rows pgx.Rows, n int) error {
	st.state = make([]byte, n)
	var (
		ord    int64
		state  pgtype.DriverBytes
		now    pgtype.Timestamptz
		gotNow bool
	)
	_, err := pgx.ForEachRow(rows, []any{&ord, &state, &now}, func() error {
		if len(state) != 1 || ord < 0 || ord > int64(n) || (ord == 0) != (state[0] == stateNow) {
			return fmt.Errorf("unexpected row (ord %d)", ord)
		}
		if ord == 0 {
			st.loadedAt, gotNow = now.Time, now.Valid
			return nil
		}
		st.state[ord-1] = state[0]
		return nil
	})
	if err == nil && !gotNow {
		err = errors.New("no transaction time")
	}
	return err
}

// storedAttendees holds attendee rows read from the table: row k is event
// ords[k] (an index into copyBatch.live) with columns arena[off[k][c]:off[k][c+1]]
// (entity id, name, type, attendance, response).
type storedAttendees struct {
	ords  []int32
	off   [][6]int32
	arena []byte
}

func (sa *storedAttendees) col(k, c int) []byte { return sa.arena[sa.off[k][c]:sa.off[k][c+1]] }

// readStoredAttendees reads the attendee rows of the replaced events whose
// new attendee list is known, grouped by event. The event rows are deleted
// (locked) by now, so no other writer changes these rows until commit.
func readStoredAttendees(ctx context.Context, conn *pgx.Conn, b *copyBatch, replaced []int32) (*storedAttendees, error) {
	var keys keyColumns
	var ords []int64
	for _, i := range replaced {
		r := &b.rows[b.live[i]]
		if r.Attendees == nil {
			continue
		}
		keys.account = append(keys.account, r.Account)
		keys.id = append(keys.id, r.ID)
		ords = append(ords, int64(i))
	}
	sa := &storedAttendees{}
	if len(ords) == 0 {
		return sa, nil
	}
	rows, err := conn.Query(ctx, storedAttendeesSQL, keys.account, keys.id, ords)
	if err != nil {
		return nil, err
	}
	var (
		ord  int64
		cols [5]pgtype.DriverBytes
	)
	_, err = pgx.ForEachRow(rows, []any{&ord, &cols[0], &cols[1], &cols[2], &cols[3], &cols[4]}, func() error {
		var off [6]int32
		off[0] = int32(len(sa.arena))
		for c := range cols {
			sa.arena = append(sa.arena, cols[c]...)
			off[c+1] = int32(len(sa.arena))
		}
		sa.ords = append(sa.ords, int32(ord))
		sa.off = append(sa.off, off)
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Group by event, keeping the server's order within one.
	idx := make([]int, len(sa.ords))
	for k := range idx {
		idx[k] = k
	}
	slices.SortStableFunc(idx, func(x, y int) int { return int(sa.ords[x] - sa.ords[y]) })
	sorted := storedAttendees{arena: sa.arena, ords: make([]int32, len(idx)), off: make([][6]int32, len(idx))}
	for k, from := range idx {
		sorted.ords[k], sorted.off[k] = sa.ords[from], sa.off[from]
	}
	return &sorted, nil
}

// attendeeRef is one attendee row to copy: row `row`, attendee `att`.
type attendeeRef struct{ row, att int32 }

// copyLive copies the live rows settleSQL found absent or replaced, then
// brings the attendee rows of those events up to date.
func (s *Sink) copyLive(ctx context.Context, conn *pgx.Conn, b *copyBatch, st *settlement) error {
	pc := conn.PgConn()
	var copyRows []int32 // indexes into b.live
	for i := range b.live {
		switch st.state[i] {
		case stateRaced:
			return errFallback
		case stateAbsent, stateReplaced:
			copyRows = append(copyRows, int32(i))
		}
	}
	if len(copyRows) == 0 {
		return nil
	}
	enc := encoders.Get().(*encoder)
	var encErr atomic.Pointer[error] // set on pgconn's copy goroutine
	src := newCopySource(enc, len(copyRows), func(e *encoder, k int) bool {
		i := copyRows[k]
		r := &b.rows[b.live[i]]
		js, err := encodeJSON(b.events, b.pending, r)
		if err != nil {
			encErr.Store(&err)
			return false
		}
		e.appendEvent(r, js, &b.local[i], st.loadedAt)
		return true
	})
	if _, err := pc.CopyFrom(ctx, src, copyEventsSQL); err != nil {
		// The copy goroutine may outlive a broken connection: do not reuse enc.
		if perr := encErr.Load(); perr != nil {
			return *perr
		}
		return fmt.Errorf("copy events: %w", raced(err))
	}

	// Attendee rows: all of an absent event's, and of a replaced event's
	// those that differ from the stored ones.
	var replaced []int32
	for _, i := range copyRows {
		if st.state[i] == stateReplaced {
			replaced = append(replaced, i)
		}
	}
	stored, err := readStoredAttendees(ctx, conn, b, replaced)
	if err != nil {
		return fmt.Errorf("read attendees: %w", err)
	}
	var gone keyColumns // attendee rows to delete
	var goneEntity []string
	var add []attendeeRef
	var same []bool
	next := 0 // into stored
	for _, i := range copyRows {
		r := &b.rows[b.live[i]]
		for next < len(stored.ords) && stored.ords[next] < i {
			next++
		}
		lo := next
		for next < len(stored.ords) && stored.ords[next] == i {
			next++
		}
		if r.Attendees == nil {
			continue // unknown: the stored rows stay
		}
		same = slices.Grow(same[:0], len(r.Attendees))[:len(r.Attendees)]
		clear(same)
		for k := lo; k < next; k++ {
			id := stored.col(k, 0)
			j := slices.IndexFunc(r.Attendees, func(a sqlrow.Attendee) bool { return a.EntityID == string(id) })
			if j >= 0 && sameAttendee(&r.Attendees[j], stored, k) {
				same[j] = true
				continue
			}
			gone.account = append(gone.account, r.Account)
			gone.id = append(gone.id, r.ID)
			goneEntity = append(goneEntity, string(id))
		}
		for j := range r.Attendees {
			if !same[j] {
				add = append(add, attendeeRef{b.live[i], int32(j)})
			}
		}
	}
	if len(gone.account) > 0 {
		if _, err := conn.Exec(ctx, deleteAttendeeRowsSQL, gone.account, gone.id, goneEntity); err != nil {
			return fmt.Errorf("delete attendees: %w", err)
		}
	}
	if len(add) > 0 {
		src := newCopySource(enc, len(add), func(e *encoder, k int) bool {
			ref := add[k]
			r := &b.rows[ref.row]
			e.appendAttendee(r, &r.Attendees[ref.att])
			return true
		})
		if _, err := pc.CopyFrom(ctx, src, copyAttendeesSQL); err != nil {
			return fmt.Errorf("copy attendees: %w", raced(err))
		}
	}
	encoders.Put(enc)
	return nil
}

func sameAttendee(a *sqlrow.Attendee, sa *storedAttendees, k int) bool {
	return a.EntityName == string(sa.col(k, 1)) && a.EntityType == string(sa.col(k, 2)) &&
		a.Attendance == string(sa.col(k, 3)) && a.Response == string(sa.col(k, 4))
}

// raced turns a unique violation of a copy — a row another writer inserted
// after settleSQL looked — into errFallback.
func raced(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return errFallback
	}
	return err
}
