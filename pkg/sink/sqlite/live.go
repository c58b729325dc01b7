package sqlite

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"fmt"
	"runtime"
	"slices"
	"sync"

	"github.com/nsflow/nsflow/pkg/calendarevent"
	"github.com/nsflow/nsflow/pkg/sink/internal/sqlrow"
)

// liveRow is a live (not deleted) row of a batch on its way into
// calendar_events.
type liveRow struct {
	r *sqlrow.Row
	// args are the row's values in liveColumns order; the attendees_digest
	// value is set once the stored row has been read.
	args []any
	// at is the offset of args in liveBatch.args.
	at int
	// attendees are the row's attendee rows' values (attendeeColumns each),
	// at attAt in liveBatch.attendees.
	attendees []any
	attAt     int
	lm        string // r.LastModifiedAt in TimeFormat
	// att hashes r.Attendees (attendeeHash); nil when the list is unknown.
	att []byte
	// pos is the row's position in the batch's plan (see lookup).
	pos int
}

// liveBatch is the live rows of a batch; their args and attendees are
// consecutive ranges of args and attendees.
type liveBatch struct {
	rows      []liveRow
	args      []any
	attendees []any
}

// prepareLive computes the bind values and attendee hashes of rows, at
// positions pos in the batch's plan, spread over the available cores.
func prepareLive(rows []*sqlrow.Row, pos []int, loadedAt string) *liveBatch {
	b := &liveBatch{rows: make([]liveRow, len(rows)), args: make([]any, len(rows)*liveWidth)}
	offsets := make([]int, len(rows)+1)
	for i, r := range rows {
		offsets[i+1] = offsets[i] + len(r.Attendees)*attendeeColumns
	}
	b.attendees = make([]any, offsets[len(rows)])
	parallel(len(rows), func(lo, hi int) {
		ev := make([]any, 0, len(eventColumns))
		for i := lo; i < hi; i++ {
			r := rows[i]
			ev = appendEventArgs(ev[:0], r, loadedAt)
			a := b.args[i*liveWidth : (i+1)*liveWidth : (i+1)*liveWidth]
			for k, j := range liveFromEvent {
				if j >= 0 {
					a[k] = ev[j]
				}
			}
			l := &b.rows[i]
			*l = liveRow{r: r, args: a, at: i * liveWidth, attAt: offsets[i], lm: ev[eventLastModified].(string), pos: pos[i]}
			if r.Attendees == nil {
				continue
			}
			l.att = attendeeHash(r.Attendees)
			l.attendees = b.attendees[offsets[i]:offsets[i]:offsets[i+1]]
			account, id := any(r.Account), any(r.ID)
			for _, at := range r.Attendees {
				l.attendees = append(l.attendees, account, id, at.EntityID, text(at.EntityName), text(at.EntityType), text(at.Attendance), text(at.Response))
			}
		}
	})
	return b
}

// parallelMin is the number of rows per extra goroutine in parallel.
const parallelMin = 128

// parallel calls f over [0, n) in contiguous ranges, one goroutine per
// available core when n is large enough to be worth it.
func parallel(n int, f func(lo, hi int)) {
	workers := min(runtime.GOMAXPROCS(0), n/parallelMin)
	if workers <= 1 {
		f(0, n)
		return
	}
	per := (n + workers - 1) / workers
	var wg sync.WaitGroup
	for lo := 0; lo < n; lo += per {
		wg.Go(func() { f(lo, min(lo+per, n)) })
	}
	wg.Wait()
}

// applyLive writes live rows under the version guard, given what the
// database holds for their keys (lookup, in the same transaction, which
// holds the write lock):
//
//   - it inserts new keys with multi-row INSERT OR FAIL statements;
//   - it updates the rows they are newer than, one prepared UPDATE per row
//     (cheaper here than any set-based form, which makes SQLite copy the
//     batch into ephemeral tables first), leaving start_at, organizer_id and
//     company_id — and so their index entries — alone when they are
//     unchanged;
//   - it replaces the attendee rows of those rows whose attendee list is
//     known and differs from the set the rows hold (attendees_digest); a new
//     key has none to delete unless event rows were deleted without the
//     cascade (lookup finds those).
//
// None of these statements needs SQLite's statement journal: OR FAIL and
// single-row statements have nothing to undo when they fail (the whole
// transaction is rolled back then).
func (s *Sink) applyLive(ctx context.Context, tx *sql.Tx, b *liveBatch, found []stored) error {
	var (
		fresh     = newSubset(b.args)      // liveColumns values of new keys
		attendees = newSubset(b.attendees) // attendee rows to insert
		updates   []*liveRow
		light     []bool // updates[i] leaves skippableColumns alone
		stale     []any  // keys whose attendee rows are deleted
	)
	for i := range b.rows {
		l := &b.rows[i]
		st := &found[l.pos]
		v := version{l.lm, l.r.RawSequence}
		if (st.tombstoned && !v.after(st.tomb)) || (st.exists && !v.after(st.cur)) {
			continue
		}
		var held []byte // the attendee set the key's rows hold, when known
		if st.exists {
			held = digestHash(st.digest, st.cur)
		}
		replace := false
		switch {
		case l.att != nil:
			l.args[liveDigest] = digest(l.att, v)
			replace = !st.exists || held == nil || !bytes.Equal(held, l.att)
		case held != nil: // list unknown: the rows stay, and so does their set
			l.args[liveDigest] = digest(held, v)
		}
		if st.exists {
			updates = append(updates, l)
			light = append(light, sameText(st.start, l.args[liveStartAt]) && sameText(st.organizer, l.args[liveOrganizer]) &&
				sameText(st.company, l.args[liveCompany]))
		} else {
			fresh.add(l.at, len(l.args))
		}
		if replace {
			if st.exists || st.orphans {
				stale = append(stale, l.r.Account, l.r.ID)
			}
			attendees.add(l.attAt, len(l.attendees))
		}
	}
	if err := s.execChunked(ctx, tx, kindInsertNew, maxInsertRows, liveWidth, fresh.values()); err != nil {
		return fmt.Errorf("insert rows: %w", err)
	}
	if err := s.updateRows(ctx, tx, updates, light); err != nil {
		return fmt.Errorf("update rows: %w", err)
	}
	if err := s.execChunked(ctx, tx, kindAttendeeDelete, maxKeyRows, 2, stale); err != nil {
		return fmt.Errorf("delete attendees: %w", err)
	}
	if err := s.execChunked(ctx, tx, kindAttendee, maxAttendeeRows, attendeeColumns, attendees.values()); err != nil {
		return fmt.Errorf("insert attendees: %w", err)
	}
	return nil
}

// subset collects ranges of all, in order, without copying them while they
// are all of it so far (an all-new batch, or every attendee list replaced).
type subset struct {
	all    []any
	prefix int   // all[:prefix] is collected so far, while copy is nil
	copy   []any // what is collected, once a range was skipped
}

func newSubset(all []any) subset { return subset{all: all} }

// add collects all[at:at+n]; ranges are added in order.
func (c *subset) add(at, n int) {
	if n == 0 {
		return
	}
	if c.copy == nil {
		if at == c.prefix {
			c.prefix += n
			return
		}
		c.copy = make([]any, c.prefix, len(c.all))
		copy(c.copy, c.all[:c.prefix])
	}
	c.copy = append(c.copy, c.all[at:at+n]...)
}

func (c *subset) values() []any {
	if c.copy == nil {
		return c.all[:c.prefix]
	}
	return c.copy
}

// updateRows runs the per-row UPDATE for each of rows. The statements run
// without ctx's cancellation (each takes microseconds, and watching ctx costs
// the driver a goroutine per statement); ctx is checked between them.
func (s *Sink) updateRows(ctx context.Context, tx *sql.Tx, rows []*liveRow, light []bool) error {
	if len(rows) == 0 {
		return nil
	}
	full, err := s.stmt(ctx, tx, kindUpdate, 1)
	if err != nil {
		return err
	}
	part, err := s.stmt(ctx, tx, kindUpdateLight, 1)
	if err != nil {
		return err
	}
	quick := context.WithoutCancel(ctx)
	for i, l := range rows {
		if i%64 == 63 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		st, args := full, l.args
		if light[i] {
			st, args = part, l.args[len(skippableColumns):]
		}
		if _, err := st.ExecContext(quick, args...); err != nil {
			return err
		}
	}
	return nil
}

// stored is what the database holds for a key of a batch.
type stored struct {
	exists                    bool // an event row, at version cur
	cur                       version
	digest                    []byte // its attendees_digest
	start, organizer, company sql.NullString
	orphans                   bool // no event row, yet attendee rows
	tombstoned                bool // a tombstone, at version tomb
	tomb                      version
}

// lookup reads what the database holds for the keys of the live events of a
// batch, order being its plan (sqlrow.Plan); the result is indexed like
// order. It needs only the keys, so it runs while the rows are being
// prepared. Only keys without an event row are looked up in the tombstones:
// a row is newer than any tombstone of its key (deletes remove the rows
// they are not older than, and tombstones block the versions they are not
// older than), and a version applies only when it is newer than the row.
func (s *Sink) lookup(ctx context.Context, tx *sql.Tx, events []*calendarevent.Event, order []int) ([]stored, error) {
	found := make([]stored, len(order))
	keys := make([]int, 0, len(order))
	for k, i := range order {
		if !events[i].Deleted {
			keys = append(keys, k)
		}
	}
	var (
		pos int
		lm  sql.NullString
		seq sql.NullInt64 // NULL with lm for a key that has only attendee rows
		dig []byte
		st  stored
	)
	err := s.lookupKeys(ctx, tx, kindExisting, events, order, keys, []any{&pos, &lm, &seq, &dig, &st.start, &st.organizer, &st.company}, func() {
		if !lm.Valid {
			found[pos].orphans = true
			return
		}
		found[pos] = stored{exists: true, cur: version{lm.String, seq.Int64}, digest: dig, start: st.start, organizer: st.organizer, company: st.company}
	})
	if err != nil {
		return nil, fmt.Errorf("read versions: %w", err)
	}
	keys = slices.DeleteFunc(keys, func(k int) bool { return found[k].exists })
	var t version
	err = s.lookupKeys(ctx, tx, kindTombstoned, events, order, keys, []any{&pos, &t.lastModified, &t.rawSequence}, func() {
		found[pos].tombstoned, found[pos].tomb = true, t
	})
	if err != nil {
		return nil, fmt.Errorf("read tombstones: %w", err)
	}
	return found, nil
}

// lookupKeys runs the key lookup kind for the keys of events[order[k]], k in
// keys, in chunks: its first column is k. For every result row it scans into
// dest and calls found.
func (s *Sink) lookupKeys(ctx context.Context, tx *sql.Tx, kind stmtKind, events []*calendarevent.Event, order, keys []int, dest []any, found func()) error {
	args := make([]any, 0, 3*maxKeyRows)
	for start := 0; start < len(keys); {
		n := chunk(len(keys)-start, maxKeyRows)
		st, err := s.stmt(ctx, tx, kind, n)
		if err != nil {
			return err
		}
		args = args[:0]
		for _, k := range keys[start : start+n] {
			e := events[order[k]]
			args = append(args, int64(k), e.Account, e.ID)
		}
		res, err := st.QueryContext(ctx, args...)
		if err != nil {
			return err
		}
		for res.Next() {
			if err := res.Scan(dest...); err != nil {
				_ = res.Close()
				return err
			}
			found()
		}
		if err := res.Close(); err != nil {
			return err
		}
		if err := res.Err(); err != nil {
			return err
		}
		start += n
	}
	return nil
}

// sameText reports whether the stored value got equals the bound value want
// (a string, or nil for NULL).
func sameText(got sql.NullString, want any) bool {
	w, ok := want.(string)
	return ok == got.Valid && w == got.String
}

// attendeeHashLen is the length of an attendee set's hash.
const attendeeHashLen = 16

// attendeeHash identifies an attendee set: a SHA-256 prefix over the rows
// sorted by entity id (they are unique), each field length-prefixed.
func attendeeHash(as []sqlrow.Attendee) []byte {
	order := make([]int, len(as))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(as[a].EntityID, as[b].EntityID) })
	h := sha256.New()
	var buf []byte
	buf = binary.AppendUvarint(buf, uint64(len(as)))
	for _, i := range order {
		a := &as[i]
		for _, f := range [...]string{a.EntityID, a.EntityName, a.EntityType, a.Attendance, a.Response} {
			buf = binary.AppendUvarint(buf, uint64(len(f)))
			buf = append(buf, f...)
		}
	}
	h.Write(buf)
	return h.Sum(nil)[:attendeeHashLen]
}

// digest is the attendees_digest of a row at version v whose attendee rows
// hold the set with hash hash: the hash, then the version (raw_sequence, 8
// bytes big-endian, and last_modified_at). The version makes a digest that
// an older build left behind when it updated the row (and perhaps its
// attendee rows) without knowing the column invalid.
func digest(hash []byte, v version) []byte {
	b := make([]byte, 0, attendeeHashLen+8+len(v.lastModified))
	b = append(b, hash...)
	b = binary.BigEndian.AppendUint64(b, uint64(v.rawSequence))
	return append(b, v.lastModified...)
}

// digestHash returns the attendee-set hash in the stored digest d of a row
// at version v, or nil when d is absent or not written for v.
func digestHash(d []byte, v version) []byte {
	if len(d) != attendeeHashLen+8+len(v.lastModified) ||
		binary.BigEndian.Uint64(d[attendeeHashLen:]) != uint64(v.rawSequence) ||
		string(d[attendeeHashLen+8:]) != v.lastModified {
		return nil
	}
	return d[:attendeeHashLen]
}
