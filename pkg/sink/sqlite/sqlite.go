// Package sqlite is the embedded SQLite sink (modernc.org/sqlite, no cgo).
//
// The database runs in WAL mode with synchronous=NORMAL (configurable: with
// NORMAL a committed transaction survives a process crash but may be lost on
// power failure; FULL closes that window at some cost), foreign keys on and a
// busy timeout. The sink uses one connection, so one process writes one batch
// at a time; other processes (loader replicas on the same file) wait for the
// database write lock, which every write transaction takes up front
// (BEGIN IMMEDIATE). The version guard is in the statements themselves.
//
// Tables: calendar_events, calendar_event_attendees and
// calendar_event_tombstones, created by the numbered migrations in
// migrations/ (applied at Open, recorded in schema_migrations). Instants are
// RFC 3339 UTC text of fixed width, 2006-01-02T15:04:05.000000000Z, so they
// sort as text.
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

	closeOnce sync.Once
	closeErr  error
}

// Open opens (creating if needed) the database at path and applies the
// schema migrations. path may end in a query: "?busy_timeout=2s&synchronous=FULL".
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
		default:
			return nil, fmt.Errorf("sqlite sink: unknown parameter %q (want busy_timeout, synchronous)", k)
		}
	}
	switch strings.ToUpper(opts.Synchronous) {
	case "NORMAL", "FULL", "EXTRA":
	default:
		return nil, fmt.Errorf("sqlite sink: synchronous %q: want NORMAL, FULL or EXTRA", opts.Synchronous)
	}

	// 32 KiB pages and a 64 MiB cache: a batch of a thousand ~3 KB events
	// then costs a few hundred WAL frames instead of thousands, and no cache
	// spill mid-transaction. journal_mode is set after page_size (the
	// _journal_mode key runs after the _pragma list) so that a new file gets
	// the larger pages.
	dsn := path + "?_txlock=immediate" +
		"&_pragma=busy_timeout(" + strconv.FormatInt(opts.BusyTimeout.Milliseconds(), 10) + ")" +
		"&_pragma=foreign_keys(0)&_pragma=ignore_check_constraints(1)&_pragma=page_size(32768)&_pragma=cache_size(-65536)" +
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
	rows, err := sqlrow.PrepareEncoded(events, encoded)
	if err != nil {
		return fmt.Errorf("sqlite write: %w", err)
	}
	loadedAt := time.Now().UTC().Format(TimeFormat)

	var live, tombs []*sqlrow.Row
	for i := range rows {
		if rows[i].Deleted {
			tombs = append(tombs, &rows[i])
		} else {
			live = append(live, &rows[i])
		}
	}

	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite write: begin: %w", classify(err))
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()

	if len(tombs) > 0 {
		if s.deletes == core.DeleteRow {
			if err := s.deleteRows(ctx, tx, tombs, loadedAt); err != nil {
				return fmt.Errorf("sqlite write: %w", classify(err))
			}
		} else if _, err := s.upsert(ctx, tx, kindMark, tombs, loadedAt); err != nil {
			return fmt.Errorf("sqlite write: mark deleted: %w", classify(err))
		}
	}
	changed, err := s.applyLive(ctx, tx, live, loadedAt)
	if err != nil {
		return fmt.Errorf("sqlite write: upsert events: %w", classify(err))
	}
	if err := s.replaceAttendees(ctx, tx, live, changed); err != nil {
		return fmt.Errorf("sqlite write: attendees: %w", classify(err))
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite write: commit: %w", classify(err))
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

// applyLive writes live rows and returns the keys it wrote, as the guarded
// upsert would: it reads the versions the batch's keys have (rows and
// tombstones) — the transaction holds the write lock, so they cannot change
// — then inserts the new keys directly and applies the rest through the
// staging table to the rows they are newer than. None of these statements
// needs SQLite's statement journal (see stageUpdateSQL).
func (s *Sink) applyLive(ctx context.Context, tx *sql.Tx, rows []*sqlrow.Row, loadedAt string) (map[sqlrow.Key]bool, error) {
	changed := make(map[sqlrow.Key]bool, len(rows))
	if len(rows) == 0 {
		return changed, nil
	}
	existing, err := s.versions(ctx, tx, kindExisting, rows)
	if err != nil {
		return nil, fmt.Errorf("read versions: %w", err)
	}
	tombs, err := s.versions(ctx, tx, kindTombstoned, rows)
	if err != nil {
		return nil, fmt.Errorf("read tombstones: %w", err)
	}
	var fresh, newer []*sqlrow.Row
	for _, r := range rows {
		k := sqlrow.Key{Account: r.Account, ID: r.ID}
		v := version{r.LastModifiedAt.Format(TimeFormat), r.RawSequence}
		if t, ok := tombs[k]; ok && !v.after(t) {
			continue // a tombstone at least as new: blocked
		}
		switch e, ok := existing[k]; {
		case !ok:
			fresh = append(fresh, r)
		case v.after(e):
			newer = append(newer, r)
		}
	}
	args := make([]any, 0, maxStageRows*len(eventColumns))
	for start := 0; start < len(fresh); {
		n := chunk(len(fresh)-start, maxStageRows)
		st, err := s.stmt(ctx, tx, kindInsertNew, n)
		if err != nil {
			return nil, err
		}
		args = args[:0]
		for _, r := range fresh[start : start+n] {
			args = appendEventArgs(args, r, loadedAt)
			changed[sqlrow.Key{Account: r.Account, ID: r.ID}] = true
		}
		if _, err := st.ExecContext(ctx, args...); err != nil {
			return nil, fmt.Errorf("insert rows: %w", err)
		}
		start += n
	}
	if len(newer) == 0 {
		return changed, nil
	}
	clear, err := s.stmt(ctx, tx, kindStageClear, 1)
	if err != nil {
		return nil, err
	}
	if _, err := clear.ExecContext(ctx); err != nil {
		return nil, fmt.Errorf("clear staging table: %w", err)
	}
	for start := 0; start < len(newer); {
		n := chunk(len(newer)-start, maxStageRows)
		st, err := s.stmt(ctx, tx, kindStage, n)
		if err != nil {
			return nil, err
		}
		args = args[:0]
		for _, r := range newer[start : start+n] {
			args = appendEventArgs(args, r, loadedAt)
		}
		if _, err := st.ExecContext(ctx, args...); err != nil {
			return nil, fmt.Errorf("stage rows: %w", err)
		}
		start += n
	}
	st, err := s.stmt(ctx, tx, kindStageUpdate, 1)
	if err != nil {
		return nil, err
	}
	if err := collectKeys(ctx, st, changed); err != nil {
		return nil, fmt.Errorf("update rows: %w", err)
	}
	return changed, nil
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

// versions runs the key lookup kind (kindExisting or kindTombstoned) for the
// keys of rows and returns the versions found.
func (s *Sink) versions(ctx context.Context, tx *sql.Tx, kind stmtKind, rows []*sqlrow.Row) (map[sqlrow.Key]version, error) {
	out := map[sqlrow.Key]version{}
	args := make([]any, 0, 2*maxKeyRows)
	for start := 0; start < len(rows); {
		n := chunk(len(rows)-start, maxKeyRows)
		st, err := s.stmt(ctx, tx, kind, n)
		if err != nil {
			return nil, err
		}
		args = args[:0]
		for _, r := range rows[start : start+n] {
			args = append(args, r.Account, r.ID)
		}
		res, err := st.QueryContext(ctx, args...)
		if err != nil {
			return nil, err
		}
		for res.Next() {
			var k sqlrow.Key
			var v version
			if err := res.Scan(&k.Account, &k.ID, &v.lastModified, &v.rawSequence); err != nil {
				_ = res.Close()
				return nil, err
			}
			out[k] = v
		}
		if err := res.Close(); err != nil {
			return nil, err
		}
		if err := res.Err(); err != nil {
			return nil, err
		}
		start += n
	}
	return out, nil
}

// collectKeys runs st, which returns (account, id) rows, adding them to keys.
func collectKeys(ctx context.Context, st *sql.Stmt, keys map[sqlrow.Key]bool) error {
	res, err := st.QueryContext(ctx)
	if err != nil {
		return err
	}
	for res.Next() {
		var k sqlrow.Key
		if err := res.Scan(&k.Account, &k.ID); err != nil {
			_ = res.Close()
			return err
		}
		keys[k] = true
	}
	if err := res.Close(); err != nil {
		return err
	}
	return res.Err()
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

// replaceAttendees replaces the attendee rows of every changed event whose
// attendee list is known.
func (s *Sink) replaceAttendees(ctx context.Context, tx *sql.Tx, live []*sqlrow.Row, changed map[sqlrow.Key]bool) error {
	var keys, rows []any
	nKeys, nRows := 0, 0
	for _, r := range live {
		if r.Attendees == nil || !changed[sqlrow.Key{Account: r.Account, ID: r.ID}] {
			continue
		}
		keys = append(keys, r.Account, r.ID)
		nKeys++
		for _, a := range r.Attendees {
			rows = append(rows, r.Account, r.ID, a.EntityID, text(a.EntityName), text(a.EntityType), text(a.Attendance), text(a.Response))
			nRows++
		}
	}
	if err := s.execChunked(ctx, tx, kindAttendeeDelete, maxKeyRows, 2, nKeys, keys); err != nil {
		return fmt.Errorf("delete attendees: %w", err)
	}
	if err := s.execChunked(ctx, tx, kindAttendee, maxAttendeeRows, attendeeColumns, nRows, rows); err != nil {
		return fmt.Errorf("insert attendees: %w", err)
	}
	return nil
}

// execChunked runs the multi-row statement kind over n rows of width
// arguments each, in power-of-two chunks of at most limit rows.
func (s *Sink) execChunked(ctx context.Context, tx *sql.Tx, kind stmtKind, limit, width, n int, args []any) error {
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
