// Package sqlite is the embedded SQLite sink (modernc.org/sqlite, no cgo).
//
// The database runs in WAL mode with synchronous=NORMAL (configurable: with
// NORMAL a committed transaction survives a process crash but may be lost on
// power failure; FULL closes that window at some cost) and a busy timeout.
// The sink uses one connection, so one process writes one batch at a time;
// other processes (loader replicas on the same file) wait for the database
// write lock, which every write transaction takes up front (BEGIN
// IMMEDIATE). Holding it, a Write reads what the database has for its keys
// and applies the version guard itself (see applyLive). The connection does
// not enforce foreign keys or CHECK constraints: sqlrow rejects every value a
// CHECK constraint would, and the sink deletes an event's attendee rows with
// it (the schema's ON DELETE CASCADE).
//
// A Write that is the only one in progress prepares its batch (validation,
// encoding, bind values) in parts on another goroutine while the connection
// writes the parts before (see partRows).
//
// Tables: calendar_events, calendar_event_attendees and
// calendar_event_tombstones, created by the numbered migrations in
// migrations/ (applied at Open, recorded in schema_migrations). Instants are
// RFC 3339 UTC text of fixed width, 2006-01-02T15:04:05.000000000Z, so they
// sort as text. calendar_events.attendees_digest is the sink's bookkeeping:
// which attendee set the event's attendee rows hold, so that a newer version
// with the same attendees leaves them alone (the rows are the sink's: edit
// them and an update may keep the edit).
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/nsflow/nsflow/pkg/calendarevent"
	"github.com/nsflow/nsflow/pkg/sink/internal/core"
	"github.com/nsflow/nsflow/pkg/sink/internal/migrate"
	"github.com/nsflow/nsflow/pkg/sink/internal/sqlrow"
)

//go:embed migrations/*.sql
var migrationsFS embed.FS

// TimeFormat is how instants are stored: UTC, fixed width, so text order is
// time order.
const TimeFormat = "2006-01-02T15:04:05.000000000Z"

// Defaults for Options.
const (
	DefaultBusyTimeout = 5 * time.Second
	DefaultSynchronous = "NORMAL"
	// DefaultCachePages is 12 MiB of the 16 KiB pages this sink gives a new
	// file (24 MiB on a file made with 32 KiB pages by an earlier version):
	// it keeps the loader under 128 MB with a backlog. 2048 pages (32 MiB)
	// replay a 200,000-event file about 10% faster for 20 MiB more of the
	// loader's memory (bench/README.md).
	DefaultCachePages = 768
)

// Options configures Open.
type Options struct {
	// Logger receives operational logs (ids and counts only). Nil discards.
	Logger *slog.Logger
	// Deletes selects how tombstones are stored.
	Deletes core.DeleteMode
	// BusyTimeout is how long a statement waits for another writer's lock
	// before failing (transiently). Zero means DefaultBusyTimeout; a
	// "busy_timeout" query parameter in the path overrides it.
	BusyTimeout time.Duration
	// Synchronous is SQLite's synchronous pragma: NORMAL (default) or FULL.
	// A "synchronous" query parameter in the path overrides it.
	Synchronous string
	// CachePages is the page cache of the connection, in pages (16 KiB in a
	// file this sink created). Zero means DefaultCachePages; a "cache_pages"
	// query parameter in the path overrides it.
	CachePages int
}

// Sink writes canonical events to a SQLite database file.
type Sink struct {
	db      *sql.DB
	path    string
	log     *slog.Logger
	deletes core.DeleteMode

	// stmts are prepared at Open on the only connection; a transaction uses
	// them through Tx.StmtContext.
	stmts map[stmtKey]*sql.Stmt

	// writes counts the Writes in progress (see partRows).
	writes atomic.Int32

	closeOnce sync.Once
	closeErr  error
}

// Open opens (creating if needed) the database at path and applies the
// schema migrations. path may end in a query:
// "?busy_timeout=2s&synchronous=FULL&cache_pages=1024".
func Open(ctx context.Context, path string, opts Options) (*Sink, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if !opts.Deletes.Valid() {
		return nil, fmt.Errorf("invalid delete mode %v", opts.Deletes)
	}
	if opts.BusyTimeout == 0 {
		opts.BusyTimeout = DefaultBusyTimeout
	}
	if opts.Synchronous == "" {
		opts.Synchronous = DefaultSynchronous
	}
	if opts.CachePages == 0 {
		opts.CachePages = DefaultCachePages
	}
	path, query, _ := strings.Cut(path, "?")
	if path == "" {
		return nil, errors.New("sqlite sink: empty path")
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return nil, fmt.Errorf("sqlite sink: parse query %q: %w", query, err)
	}
	for k, v := range q {
		switch k {
		case "busy_timeout":
			if opts.BusyTimeout, err = time.ParseDuration(v[0]); err != nil || opts.BusyTimeout < 0 {
				return nil, fmt.Errorf("sqlite sink: busy_timeout %q: want a duration like 5s", v[0])
			}
		case "synchronous":
			opts.Synchronous = v[0]
		case "cache_pages":
			if opts.CachePages, err = strconv.Atoi(v[0]); err != nil || opts.CachePages < 1 {
				return nil, fmt.Errorf("sqlite sink: cache_pages %q: want a page count of at least 1, like 768 (12 MiB of 16 KiB pages)", v[0])
			}
		default:
			return nil, fmt.Errorf("sqlite sink: unknown parameter %q (want busy_timeout, synchronous, cache_pages)", k)
		}
	}
	if opts.CachePages < 0 {
		return nil, fmt.Errorf("sqlite sink: cache size %d pages: want at least 1", opts.CachePages)
	}
	switch strings.ToUpper(opts.Synchronous) {
	case "NORMAL", "FULL", "EXTRA":
	default:
		return nil, fmt.Errorf("sqlite sink: synchronous %q: want NORMAL, FULL or EXTRA", opts.Synchronous)
	}

	// 16 KiB pages and a 12 MiB cache (768 pages): a batch of a thousand
	// ~3 KB events then costs far fewer WAL frames than with 4 KiB pages,
	// and no cache spill mid-transaction; 32 KiB pages wrote more per row
	// (each random index insert rewrites a whole page in the WAL: 43.5 KB
	// per row against 38.5 KB, replay 8.7k against 9.3k rows/s; 8 KiB 8.9k).
	// journal_mode is set after
	// page_size (the _journal_mode key runs after the _pragma list) so that
	// a new file gets the larger pages. The cache is a page count, not a
	// negative size in KiB: SQLite turns a size into pages at once, and a
	// new file still has 4 KiB pages then, so "64 MiB" became 16,384 pages
	// of 32 KiB each, 512 MiB, and the loader's memory grew with the data
	// (TestMemoryBounded).
	dsn := path + "?_txlock=immediate" +
		"&_pragma=busy_timeout(" + strconv.FormatInt(opts.BusyTimeout.Milliseconds(), 10) + ")" +
		"&_pragma=foreign_keys(0)&_pragma=ignore_check_constraints(1)&_pragma=page_size(16384)&_pragma=cache_size(" + strconv.Itoa(opts.CachePages) + ")" +
		"&_pragma=temp_store(MEMORY)&_pragma=wal_autocheckpoint(2000)&_pragma=journal_size_limit(67108864)" +
		"&_journal_mode=WAL&_synchronous=" + strings.ToUpper(opts.Synchronous)
	// Create the file private (events carry personal data); SQLite gives its
	// -wal and -shm files the database file's mode.
	if f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600); err == nil {
		_ = f.Close()
	} else if !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("create sqlite %s: %w", path, err)
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	// One connection: SQLite has one writer anyway, and prepared statements
	// stay valid on it.
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)

	s := &Sink{db: db, path: path, log: opts.Logger, deletes: opts.Deletes}
	if err := s.migrateRetrying(ctx, opts.BusyTimeout); err != nil {
		_ = db.Close()
		return nil, err
	}
	if s.stmts, err = prepareAll(ctx, db); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("prepare sqlite statements: %w", err)
	}
	return s, nil
}

// Path returns the database file path.
func (s *Sink) Path() string { return s.path }

// Close closes the database. Calling it again does nothing.
func (s *Sink) Close() error {
	s.closeOnce.Do(func() {
		for _, st := range s.stmts {
			_ = st.Close()
		}
		if err := s.db.Close(); err != nil {
			s.closeErr = fmt.Errorf("close sqlite %s: %w", s.path, err)
		}
	})
	return s.closeErr
}

// MaxConcurrentWrites is 1: the sink has one connection, and SQLite one
// writer, so a second Write only waits (sink.SerialWriter).
func (s *Sink) MaxConcurrentWrites() int { return 1 }

// Ping takes and releases the database write lock: it fails while another
// connection holds the lock longer than the busy timeout, or when the file
// cannot be written.
func (s *Sink) Ping(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("ping sqlite %s: %w", s.path, classify(err))
	}
	if err := tx.Rollback(); err != nil {
		return fmt.Errorf("ping sqlite %s: %w", s.path, err)
	}
	return nil
}

// migrateRetrying runs migrate, retrying while the database is busy: when
// several processes open a new file at once, SQLite can answer SQLITE_BUSY
// without waiting (while another connection switches the file to WAL).
func (s *Sink) migrateRetrying(ctx context.Context, budget time.Duration) error {
	deadline := time.Now().Add(max(budget, time.Second))
	for {
		err := s.migrate(ctx)
		var se *sqlite.Error
		if err == nil || !errors.As(err, &se) || se.Code()&0xff != sqlite3.SQLITE_BUSY || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (s *Sink) migrate(ctx context.Context) error {
	ms, err := migrate.Load(migrationsFS, "migrations")
	if err != nil {
		return err
	}
	// BEGIN IMMEDIATE (the DSN's _txlock) takes the write lock, so a second
	// process starting at the same time waits here and then finds the
	// migrations applied.
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate sqlite %s: begin: %w", s.path, err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at TEXT NOT NULL
	) STRICT`); err != nil {
		return fmt.Errorf("migrate sqlite %s: %w", s.path, err)
	}
	applied := map[int]bool{}
	rows, err := tx.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return fmt.Errorf("migrate sqlite %s: %w", s.path, err)
	}
	maxApplied := 0
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			_ = rows.Close()
			return fmt.Errorf("migrate sqlite %s: %w", s.path, err)
		}
		applied[v] = true
		maxApplied = max(maxApplied, v)
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("migrate sqlite %s: %w", s.path, err)
	}
	n := 0
	for _, m := range ms {
		if applied[m.Version] {
			continue
		}
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			return fmt.Errorf("migrate sqlite %s: apply %04d_%s: %w", s.path, m.Version, m.Name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
			m.Version, m.Name, time.Now().UTC().Format(TimeFormat)); err != nil {
			return fmt.Errorf("migrate sqlite %s: record %04d: %w", s.path, m.Version, err)
		}
		n++
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate sqlite %s: commit: %w", s.path, err)
	}
	if n > 0 {
		s.log.Info("sqlite schema migrated", "path", s.path, "applied", n, "version", ms[len(ms)-1].Version)
	}
	if len(ms) > 0 && maxApplied > ms[len(ms)-1].Version {
		s.log.Warn("sqlite schema is newer than this build", "path", s.path, "schema_version", maxApplied, "build_version", ms[len(ms)-1].Version)
	}
	return nil
}

// Write commits events in one transaction, applying the version guard. See
// package sink for the contract.
func (s *Sink) Write(ctx context.Context, events []*calendarevent.Event) error {
	return s.WriteEncoded(ctx, events, nil)
}

// WriteEncoded is Write storing encoded[i], when not nil, as the event_json
// of events[i] (see sink.EncodedWriter).
func (s *Sink) WriteEncoded(ctx context.Context, events []*calendarevent.Event, encoded [][]byte) (err error) {
	if len(events) == 0 {
		return nil
	}
	if encoded != nil && len(encoded) != len(events) {
		return fmt.Errorf("sqlite write: %d encodings for %d events", len(encoded), len(events))
	}
	order, err := sqlrow.Plan(events)
	if err != nil {
		return fmt.Errorf("sqlite write: %w", err)
	}
	loadedAt := time.Now().UTC().Format(TimeFormat)
	alone := s.writes.Add(1) == 1
	defer s.writes.Add(-1)
	parts := prepareParts(events, encoded, order, loadedAt, alone)
	defer parts.stop()

	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite write: begin: %w", classify(err))
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	found, err := s.lookup(ctx, tx, events, order)
	if err != nil {
		return fmt.Errorf("sqlite write: %w", classify(err))
	}
	for p := parts.next(); p != nil; p = parts.next() {
		if p.err != nil {
			return fmt.Errorf("sqlite write: %w", p.err)
		}
		if err := s.writePart(ctx, tx, p, found, loadedAt); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite write: commit: %w", classify(err))
	}
	return nil
}

// writePart writes one part of a batch. Parts hold disjoint keys (a batch
// keeps one row per key), so writing them one after the other is writing
// the batch.
func (s *Sink) writePart(ctx context.Context, tx *sql.Tx, p *part, found []stored, loadedAt string) error {
	if len(p.tombs) > 0 {
		if s.deletes == core.DeleteRow {
			if err := s.deleteRows(ctx, tx, p.tombs, loadedAt); err != nil {
				return fmt.Errorf("sqlite write: %w", classify(err))
			}
		} else if _, err := s.upsert(ctx, tx, kindMark, p.tombs, loadedAt); err != nil {
			return fmt.Errorf("sqlite write: mark deleted: %w", classify(err))
		}
	}
	if err := s.applyLive(ctx, tx, p.live, found); err != nil {
		return fmt.Errorf("sqlite write: live events: %w", classify(err))
	}
	return nil
}

// deleteRows records tombstones (guarded) and removes rows older than them;
// attendee rows go with them (ON DELETE CASCADE).
func (s *Sink) deleteRows(ctx context.Context, tx *sql.Tx, tombs []*sqlrow.Row, loadedAt string) error {
	for start := 0; start < len(tombs); {
		n := chunk(len(tombs)-start, maxTombRows)
		st, err := s.stmt(ctx, tx, kindTomb, n)
		if err != nil {
			return err
		}
		args := make([]any, 0, n*5)
		for _, r := range tombs[start : start+n] {
			args = append(args, r.Account, r.ID, r.LastModifiedAt.Format(TimeFormat), r.RawSequence, loadedAt)
		}
		if _, err := st.ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("record tombstones: %w", err)
		}
		start += n
	}
	del, err := s.stmt(ctx, tx, kindDeleteOlder, 1)
	if err != nil {
		return err
	}
	delAttendees, err := s.stmt(ctx, tx, kindAttendeeDeleteOne, 1)
	if err != nil {
		return err
	}
	for _, r := range tombs {
		res, err := del.ExecContext(ctx, r.Account, r.ID, r.LastModifiedAt.Format(TimeFormat), r.RawSequence)
		if err != nil {
			return fmt.Errorf("delete row: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			continue
		}
		// The schema's ON DELETE CASCADE, done here: the sink's connection
		// does not enforce foreign keys (see Open).
		if _, err := delAttendees.ExecContext(ctx, r.Account, r.ID); err != nil {
			return fmt.Errorf("delete attendee rows: %w", err)
		}
	}
	return nil
}

// version is a row's (last_modified_at, raw_sequence) as stored.
type version struct {
	lastModified string // TimeFormat: text order is time order
	rawSequence  int64
}

func (v version) after(o version) bool {
	if v.lastModified != o.lastModified {
		return v.lastModified > o.lastModified
	}
	return v.rawSequence > o.rawSequence
}

// upsert inserts or (guarded) updates rows and returns the keys it changed.
func (s *Sink) upsert(ctx context.Context, tx *sql.Tx, kind stmtKind, rows []*sqlrow.Row, loadedAt string) (map[sqlrow.Key]bool, error) {
	changed := make(map[sqlrow.Key]bool, len(rows))
	args := make([]any, 0, maxEventRows*len(eventColumns))
	for start := 0; start < len(rows); {
		n := chunk(len(rows)-start, maxEventRows)
		st, err := s.stmt(ctx, tx, kind, n)
		if err != nil {
			return nil, err
		}
		args = args[:0]
		for _, r := range rows[start : start+n] {
			args = appendEventArgs(args, r, loadedAt)
		}
		res, err := st.QueryContext(ctx, args...)
		if err != nil {
			return nil, err
		}
		for res.Next() {
			var k sqlrow.Key
			if err := res.Scan(&k.Account, &k.ID); err != nil {
				_ = res.Close()
				return nil, err
			}
			changed[k] = true
		}
		if err := res.Close(); err != nil {
			return nil, err
		}
		if err := res.Err(); err != nil {
			return nil, err
		}
		start += n
	}
	return changed, nil
}

// execChunked runs the multi-row statement kind over args, rows of width
// arguments each, in power-of-two chunks of at most limit rows.
func (s *Sink) execChunked(ctx context.Context, tx *sql.Tx, kind stmtKind, limit, width int, args []any) error {
	n := len(args) / width
	for done := 0; done < n; {
		c := chunk(n-done, limit)
		st, err := s.stmt(ctx, tx, kind, c)
		if err != nil {
			return err
		}
		if _, err := st.ExecContext(ctx, args[done*width:(done+c)*width]...); err != nil {
			return err
		}
		done += c
	}
	return nil
}

// Lookup returns the event as the sink holds it for (account, id), or nil
// when there is no row: the stored event JSON with the version and deletion
// columns and the attendee rows (sorted by entity id) laid over it. For a
// MarkDeleted row the content is that of the last live version.
func (s *Sink) Lookup(ctx context.Context, account, id string) (*calendarevent.Event, error) {
	var (
		js            string
		deleted       bool
		deletedAt     sql.NullString
		lastModified  string
		rawSeq        int64
		attendeeCount int
	)
	err := s.db.QueryRowContext(ctx, `SELECT event_json, deleted, deleted_at, last_modified_at, raw_sequence,
		(SELECT count(*) FROM calendar_event_attendees a WHERE a.account = e.account AND a.event_id = e.id)
		FROM calendar_events e WHERE account = ? AND id = ?`, account, id).
		Scan(&js, &deleted, &deletedAt, &lastModified, &rawSeq, &attendeeCount)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite lookup %s/%s: %w", account, id, err)
	}
	e, err := sqlrow.DecodeStored([]byte(js))
	if err != nil {
		return nil, err
	}
	e.Deleted = deleted
	e.DeletedAt = nil
	if deletedAt.Valid {
		t, err := time.Parse(TimeFormat, deletedAt.String)
		if err != nil {
			return nil, fmt.Errorf("sqlite lookup: deleted_at: %w", err)
		}
		e.DeletedAt = &t
	}
	if e.LastModifiedAt, err = time.Parse(TimeFormat, lastModified); err != nil {
		return nil, fmt.Errorf("sqlite lookup: last_modified_at: %w", err)
	}
	e.Provenance.RawSequence = uint64(rawSeq)
	rows, err := s.db.QueryContext(ctx, `SELECT entity_id, entity_name, entity_type, attendance, response
		FROM calendar_event_attendees WHERE account = ? AND event_id = ? ORDER BY entity_id`, account, id)
	if err != nil {
		return nil, fmt.Errorf("sqlite lookup attendees: %w", err)
	}
	defer rows.Close()
	e.Attendees = make([]calendarevent.Attendee, 0, attendeeCount)
	for rows.Next() {
		var a calendarevent.Attendee
		var name, typ, att, resp sql.NullString
		if err := rows.Scan(&a.Entity.ID, &name, &typ, &att, &resp); err != nil {
			return nil, fmt.Errorf("sqlite lookup attendees: %w", err)
		}
		a.Entity.Name, a.Entity.Type, a.Attendance, a.Response = name.String, typ.String, att.String, resp.String
		e.Attendees = append(e.Attendees, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite lookup attendees: %w", err)
	}
	return e, nil
}

// classify marks errors a record caused (constraint violations, values too
// big or of the wrong type) as permanent; everything else (busy, locked, I/O)
// stays transient.
func classify(err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_CONSTRAINT, sqlite3.SQLITE_TOOBIG, sqlite3.SQLITE_MISMATCH:
			return core.Permanent(err)
		}
	}
	return err
}
