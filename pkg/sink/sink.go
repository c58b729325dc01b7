package sink

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/nsflow/nsflow/pkg/calendarevent"
	"github.com/nsflow/nsflow/pkg/sink/aep"
	"github.com/nsflow/nsflow/pkg/sink/internal/core"
	"github.com/nsflow/nsflow/pkg/sink/jsonl"
	"github.com/nsflow/nsflow/pkg/sink/postgres"
	"github.com/nsflow/nsflow/pkg/sink/sqlite"
)

// Sink is a destination for canonical calendar events. Implementations are
// safe for concurrent use.
type Sink interface {
	// Write commits events atomically (all or nothing for SQL sinks) and
	// durably, applying the version guard: an event older than what the sink
	// holds for (account, id) — by Event.Newer — changes nothing; an equal
	// version is a no-op. It returns after the commit. See the package
	// documentation for what each kind of error means.
	Write(ctx context.Context, events []*calendarevent.Event) error
	// Ping checks cheaply that the backend can take writes (readiness,
	// backpressure): nil means a Write is expected to succeed.
	Ping(ctx context.Context) error
	// Close releases the sink's resources. It does not wait for Writes still
	// running on other goroutines; the caller stops those first.
	Close() error
}

// EncodedWriter is implemented by sinks that store the canonical JSON of an
// event (the SQL sinks' event_json) and can take it as the loader received
// it instead of encoding the event again. WriteEncoded is Write, with
// encoded[i] the canonical encoding events[i] was decoded from (the EVENTS
// message payload) or nil when there is none; encoded is nil or as long as
// events. The loader uses it when the sink has it.
type EncodedWriter interface {
	WriteEncoded(ctx context.Context, events []*calendarevent.Event, encoded [][]byte) error
}

// SerialWriter is implemented by sinks that commit one Write at a time
// whatever the caller does (SQLite: one writer connection). Writes beyond
// MaxConcurrentWrites only wait for the connection while holding their
// decoded and prepared batches in memory, so the loader runs no more
// writers than that.
type SerialWriter interface {
	MaxConcurrentWrites() int
}

// MaxConcurrentWrites is how many Writes s commits at once: its
// SerialWriter answer (looking through wrappers with an Unwrap method), or 0
// when s sets no limit.
func MaxConcurrentWrites(s Sink) int {
	for s != nil {
		if sw, ok := s.(SerialWriter); ok {
			return sw.MaxConcurrentWrites()
		}
		u, ok := s.(interface{ Unwrap() Sink })
		if !ok {
			return 0
		}
		s = u.Unwrap()
	}
	return 0
}

// WriteEncoded writes events to s, handing it encoded when s is an
// EncodedWriter (see there) and calling Write otherwise.
func WriteEncoded(ctx context.Context, s Sink, events []*calendarevent.Event, encoded [][]byte) error {
	if ew, ok := s.(EncodedWriter); ok && encoded != nil {
		return ew.WriteEncoded(ctx, events, encoded)
	}
	return s.Write(ctx, events)
}

// DeleteMode says what a stateful (SQL) sink does with a tombstone.
type DeleteMode = core.DeleteMode

const (
	// DeleteRow (the default) removes the row from calendar_events (its
	// attendee rows go with it) and records the deletion in
	// calendar_event_tombstones, which every upsert consults, so an older
	// version replayed later never resurrects the event.
	DeleteRow = core.DeleteRow
	// MarkDeleted keeps the row with deleted = true and deleted_at set; the
	// row's other columns keep the last live version.
	MarkDeleted = core.MarkDeleted
)

// ParseDeleteMode parses "delete-row" (also "delete" or "") and
// "mark-deleted" (also "mark"), for configuration.
func ParseDeleteMode(s string) (DeleteMode, error) { return core.ParseDeleteMode(s) }

// Options configures Open. The zero value is usable for the SQL and JSONL sinks.
type Options struct {
	// Logger receives operational logs (ids and counts only). Nil discards.
	Logger *slog.Logger
	// Deletes selects the tombstone handling of the SQL sinks.
	Deletes DeleteMode
	// AEP configures the aep: sink (see aep.Config; every field can come from
	// the environment). An inlet URL in the sink URL ("aep:https://…")
	// overrides AEP.InletURL.
	AEP aep.Config
	// Metrics, when set, records rows written, write latency and errors
	// labelled with the sink's Name.
	Metrics *Metrics
}

// Compile-time checks that every sink implements Sink (and the SQL sinks
// EncodedWriter).
var (
	_ Sink          = (*sqlite.Sink)(nil)
	_ Sink          = (*postgres.Sink)(nil)
	_ Sink          = (*jsonl.Sink)(nil)
	_ Sink          = (*aep.Sink)(nil)
	_ EncodedWriter = (*sqlite.Sink)(nil)
	_ EncodedWriter = (*postgres.Sink)(nil)
	_ EncodedWriter = (*instrumented)(nil)
)

// Open opens the sink rawURL names:
//
//	sqlite:PATH | sqlite://PATH           (query: busy_timeout=5s, synchronous=NORMAL|FULL)
//	postgres://… | postgresql://…         (a libpq URL; pool settings as pgx accepts them)
//	jsonl:PATH | jsonl:-                  (- is standard output)
//	aep: | aep:INLET_URL                  (settings from opts.AEP)
//
// The SQL sinks apply their schema migrations before Open returns.
func Open(ctx context.Context, rawURL string, opts Options) (Sink, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if !opts.Deletes.Valid() {
		return nil, fmt.Errorf("open sink: invalid delete mode %v", opts.Deletes)
	}
	scheme, rest, _ := strings.Cut(rawURL, ":")
	name := Name(rawURL)
	log := opts.Logger.With("sink", name)
	var (
		s   Sink
		err error
	)
	switch name {
	case "sqlite":
		s, err = sqlite.Open(ctx, strings.TrimPrefix(rest, "//"), sqlite.Options{Logger: log, Deletes: opts.Deletes})
	case "postgres":
		s, err = postgres.Open(ctx, rawURL, postgres.Options{Logger: log, Deletes: opts.Deletes})
	case "jsonl":
		s, err = jsonl.Open(strings.TrimPrefix(rest, "//"), jsonl.Options{Logger: log})
	case "aep":
		cfg := opts.AEP
		if rest != "" {
			cfg.InletURL = rest
		}
		s, err = aep.New(cfg, aep.Options{Logger: log})
	default:
		return nil, fmt.Errorf("open sink: %w %q: want sqlite:PATH, sqlite://PATH, postgres://…, postgresql://…, jsonl:PATH, jsonl:- or aep:", ErrUnknownScheme, scheme)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s sink: %w", name, err)
	}
	if opts.Metrics != nil {
		s = opts.Metrics.Instrument(name, s)
	}
	return s, nil
}

// Name returns the short, stable name of the sink rawURL names — "sqlite",
// "postgres", "jsonl" or "aep" — for consumer names and metric labels, or ""
// when no sink accepts the URL.
func Name(rawURL string) string {
	scheme, _, ok := strings.Cut(rawURL, ":")
	if !ok {
		return ""
	}
	switch strings.ToLower(scheme) {
	case "sqlite":
		return "sqlite"
	case "postgres", "postgresql":
		return "postgres"
	case "jsonl":
		return "jsonl"
	case "aep":
		return "aep"
	default:
		return ""
	}
}
