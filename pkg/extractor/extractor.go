package extractor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"golang.org/x/sync/errgroup"

	"github.com/nsflow/nsflow/pkg/calendarevent"
	"github.com/nsflow/nsflow/pkg/netsuite"
)

// AttendeeMode says where attendees and resources come from.
type AttendeeMode string

// Attendee modes.
const (
	AttendeesOff     AttendeeMode = "off"
	AttendeesSuiteQL AttendeeMode = "suiteql"
	AttendeesREST    AttendeeMode = "rest"
)

// ParseAttendeeMode validates s.
func ParseAttendeeMode(s string) (AttendeeMode, error) {
	switch m := AttendeeMode(s); m {
	case AttendeesOff, AttendeesSuiteQL, AttendeesREST:
		return m, nil
	}
	return "", fmt.Errorf("attendee mode %q: want off, suiteql or rest", s)
}

// Config configures the extraction of one account.
type Config struct {
	// Account is the NetSuite account ID.
	Account string
	// TimeZone is the IANA zone SuiteQL renders and reads timestamps in: the
	// integration user's time-zone preference (or the account default).
	TimeZone string
	// PageSize is the SuiteQL page size, 1..1000 (default 1000).
	PageSize int
	// Overlap is how far before the cursor each pass starts (default 5m).
	Overlap time.Duration
	// PollInterval is the pause between passes in Run (default 1m).
	PollInterval time.Duration
	// Attendees selects the attendee source (default suiteql).
	Attendees AttendeeMode
	// RESTConcurrency bounds parallel REST record reads in rest mode (default 4;
	// the account limiter bounds them again).
	RESTConcurrency int
	// Concurrency is the number of backfill windows read at once (default
	// 4). The account limiter bounds the requests of all of them together;
	// more readers than the limiter's slots keep the slots busy while
	// readers parse and publish (package pipeline uses twice the budget).
	Concurrency int
	// RequestSlots is the account's concurrent request budget, the
	// limiter's size (default Concurrency). At most RequestSlots backfill
	// pages are published at once, so memory follows the budget rather than
	// the number of readers (publishing is CPU work: more at once would not
	// be faster).
	RequestSlots int
	// WindowRows is the number of events per backfill window, rounded up to
	// whole pages and capped at 100,000 (SuiteQL's offset limit); 0 sizes
	// windows so the backfill splits into Concurrency equal windows.
	WindowRows int
	// Since and Until bound the extraction by lastModified (zero =
	// unbounded). Since starts a backfill of [Since, Until] (Until zero: up
	// to the time the backfill starts); Until also bounds every later pass.
	Since, Until time.Time
	// Deletes turns tombstone extraction from deletedrecord on (default true via New's caller).
	Deletes bool
	// DeletedTypes are the deletedrecord.type values of calendar events.
	DeletedTypes []string
	Logger       *slog.Logger
	// Clock defaults to time.Now.
	Clock func() time.Time
}

// NetSuite is what the extractor needs of a NetSuite client.
type NetSuite interface {
	SuiteQL(ctx context.Context, query string, limit, offset int) (*netsuite.SuiteQLPage, error)
	GetRecord(ctx context.Context, recordType, id string, params url.Values) (json.RawMessage, error)
}

// Publisher stores messages and returns once they are acknowledged.
type Publisher interface {
	PublishContext(ctx context.Context, topic string, msgs ...*message.Message) error
}

// Stats are the extractor's running totals.
type Stats struct {
	Events     uint64
	Tombstones uint64
	Pages      uint64
	Passes     uint64
	// Cursor is the incremental events cursor.
	Cursor Cursor
	// CaughtUpTo is when the last complete incremental events scan started:
	// every change made before it has been extracted (zero before the first).
	CaughtUpTo time.Time
	// LastPass is when the last pass finished without error.
	LastPass time.Time
	// LastError is the last pass error ("" when the last pass succeeded).
	LastError string
	// Reauthorize is set when the account needs a new refresh token.
	Reauthorize bool
	// Backfill describes the current or last backfill.
	Backfill BackfillStatus
}

// BackfillStatus is the progress of a backfill.
type BackfillStatus struct {
	// Active is set while a backfill runs.
	Active bool
	// Windows is the number of windows planned so far, WindowsDone the number
	// finished; Planned is set once the whole range is split into windows.
	Windows, WindowsDone int
	Planned              bool
	// Since and End bound the backfill (Since zero: from the first event).
	Since, End time.Time
}

// PassResult is what one pass read.
type PassResult struct {
	Events     int
	Tombstones int
	Pages      int
}

// Extractor extracts one account.
type Extractor struct {
	cfg     Config
	loc     *time.Location
	ns      NetSuite
	pub     Publisher
	cursors *CursorStore
	log     *slog.Logger
	subject string
	// delivering holds a token per backfill page being published
	// (Config.RequestSlots at most).
	delivering chan struct{}

	events, tombstones, pages, passes atomic.Uint64

	mu         sync.Mutex
	cursor     Cursor
	caughtUpTo time.Time
	lastPass   time.Time
	lastErr    string
	reauth     bool
	backfill   BackfillStatus

	pageMu sync.Mutex // serialises onPage calls
	onPage func(PassResult)
}

// New validates cfg and returns an Extractor.
func New(cfg Config, ns NetSuite, pub Publisher, cursors *CursorStore) (*Extractor, error) {
	if cfg.Account == "" {
		return nil, errors.New("new extractor: account is required (NETSUITE_ACCOUNT_ID)")
	}
	if ns == nil || pub == nil || cursors == nil {
		return nil, errors.New("new extractor: netsuite client, publisher and cursor store are required")
	}
	if cfg.TimeZone == "" {
		cfg.TimeZone = "UTC"
	}
	loc, err := time.LoadLocation(cfg.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("new extractor: time zone %q: %w (use an IANA name such as America/Los_Angeles)", cfg.TimeZone, err)
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = 1000
	}
	if cfg.PageSize > 1000 {
		return nil, fmt.Errorf("new extractor: page size %d exceeds NetSuite's 1000", cfg.PageSize)
	}
	if cfg.Overlap < 0 {
		return nil, fmt.Errorf("new extractor: overlap %s is negative", cfg.Overlap)
	}
	if cfg.Overlap == 0 {
		cfg.Overlap = 5 * time.Minute
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Minute
	}
	if cfg.Attendees == "" {
		cfg.Attendees = AttendeesSuiteQL
	}
	if _, err := ParseAttendeeMode(string(cfg.Attendees)); err != nil {
		return nil, fmt.Errorf("new extractor: %w", err)
	}
	if cfg.RESTConcurrency <= 0 {
		cfg.RESTConcurrency = 4
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 4
	}
	if cfg.RequestSlots <= 0 {
		cfg.RequestSlots = cfg.Concurrency
	}
	if cfg.WindowRows < 0 {
		return nil, fmt.Errorf("new extractor: backfill window of %d rows is negative", cfg.WindowRows)
	}
	if len(cfg.DeletedTypes) == 0 {
		cfg.DeletedTypes = []string{"calendarevent", "CalendarEvent"}
	}
	if !cfg.Until.IsZero() && !cfg.Since.IsZero() && !cfg.Until.After(cfg.Since) {
		return nil, fmt.Errorf("new extractor: until %s is not after since %s", cfg.Until, cfg.Since)
	}
	cfg.Since = cfg.Since.UTC().Truncate(time.Second)
	cfg.Until = cfg.Until.UTC().Truncate(time.Second)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	return &Extractor{
		cfg: cfg, loc: loc, ns: ns, pub: pub, cursors: cursors,
		delivering: make(chan struct{}, cfg.RequestSlots),
		log:        cfg.Logger.With("account", cfg.Account),
		subject:    calendarevent.RawSubject(cfg.Account),
	}, nil
}

// OnPage registers f to be called after every published page (progress
// display). Calls are serialised, but come from the goroutine that read the
// page: backfill windows are read in parallel.
func (x *Extractor) OnPage(f func(PassResult)) { x.onPage = f }

// Stats returns the running totals.
func (x *Extractor) Stats() Stats {
	x.mu.Lock()
	defer x.mu.Unlock()
	return Stats{
		Events: x.events.Load(), Tombstones: x.tombstones.Load(), Pages: x.pages.Load(), Passes: x.passes.Load(),
		Cursor: x.cursor, CaughtUpTo: x.caughtUpTo, LastPass: x.lastPass, LastError: x.lastErr, Reauthorize: x.reauth,
		Backfill: x.backfill,
	}
}

// Run polls until ctx is done. It returns nil on cancellation and, without
// logging it, an error wrapping netsuite.ErrReauthorizationRequired when the
// account cannot authenticate any more: the caller reports it and keeps
// other accounts and stages running. Other pass errors are logged and the
// pass is retried at the next poll.
func (x *Extractor) Run(ctx context.Context) error {
	x.log.Info("extractor polling", "poll_interval", x.cfg.PollInterval, "overlap", x.cfg.Overlap, "attendees", string(x.cfg.Attendees))
	for {
		_, err := x.Pass(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, netsuite.ErrReauthorizationRequired):
			return err
		case err != nil:
			x.log.Error("extraction pass failed; retrying at the next poll from the saved cursor", "error", err)
		}
		t := time.NewTimer(x.cfg.PollInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// Pass reads everything changed or deleted since the cursors, publishes it and
// advances the cursors. It returns when NetSuite has nothing newer. The first
// pass of an account (no cursor yet), and the first pass after Since is set,
// run a backfill (see backfill.go); events and deletions are read side by
// side.
func (x *Extractor) Pass(ctx context.Context) (PassResult, error) {
	var res passCounter
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return x.syncEvents(gctx, &res) })
	if x.cfg.Deletes {
		g.Go(func() error { return x.syncDeleted(gctx, &res) })
	}
	err := g.Wait()
	x.mu.Lock()
	if err != nil {
		x.lastErr = err.Error()
		x.reauth = errors.Is(err, netsuite.ErrReauthorizationRequired)
	} else {
		x.lastErr = ""
		x.reauth = false
		x.lastPass = x.cfg.Clock()
	}
	x.mu.Unlock()
	x.passes.Add(1)
	return res.result(), err
}

// passCounter accumulates a PassResult from parallel scans.
type passCounter struct {
	mu sync.Mutex
	r  PassResult
}

func (c *passCounter) add(p PassResult) {
	c.mu.Lock()
	c.r.Events += p.Events
	c.r.Tombstones += p.Tombstones
	c.r.Pages += p.Pages
	c.mu.Unlock()
}

func (c *passCounter) result() PassResult {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.r
}

// counted records a published page in the totals, res and the progress hook.
func (x *Extractor) counted(res *passCounter, p PassResult) {
	x.events.Add(uint64(p.Events))
	x.tombstones.Add(uint64(p.Tombstones))
	x.pages.Add(uint64(p.Pages))
	res.add(p)
	if x.onPage != nil {
		x.pageMu.Lock()
		x.onPage(p)
		x.pageMu.Unlock()
	}
}

// start returns the keyset range an incremental pass begins with.
func (x *Extractor) start(c Cursor) keysetRange {
	r := keysetRange{Until: x.cfg.Until}
	switch {
	case c.IsZero() && x.cfg.Since.IsZero():
		r.From = time.Unix(0, 0).UTC()
	case c.IsZero():
		r.From = x.cfg.Since
	default:
		r.From = c.LastModified.Add(-x.cfg.Overlap)
		if !x.cfg.Since.IsZero() && r.From.Before(x.cfg.Since) {
			r.From = x.cfg.Since
		}
	}
	return r
}

// syncEvents reads the events changed since the cursor. When a backfill is
// due it runs it, and beside it the catch-up read after the backfill's End
// (what an incremental pass would read next): it is one or a few requests,
// made in the slots the backfill leaves free while its first windows are
// planned, instead of alone after the last window. The catch-up's position
// moves the cursor only after the backfill has moved it to End.
func (x *Extractor) syncEvents(ctx context.Context, res *passCounter) error {
	key := CursorKey(x.cfg.Account, CursorEvents)
	cur, err := x.cursors.Load(ctx, key)
	if err != nil {
		return err
	}
	x.setCursor(cur)
	plan, err := x.backfillDue(ctx, cur)
	if err != nil {
		return err
	}
	if plan != nil {
		return x.backfillAndCatchUp(ctx, plan, key, res)
	}
	scanStart := x.cfg.Clock().UTC()
	r := x.start(cur)
	x.log.Debug("events pass", "cursor", cur.LastModified, "cursor_id", cur.ID, "from", r.From)
	err = x.scan(ctx, x.eventSource(), r, func(page *netsuite.SuiteQLPage) (batch, error) {
		return x.eventBatch(page, res, func(ctx context.Context, last pos) error {
			stored, err := x.cursors.Advance(ctx, key, Cursor{LastModified: last.LM, ID: last.ID, UpdatedAt: x.cfg.Clock().UTC()})
			if err == nil {
				x.setCursor(stored)
			}
			return err
		})
	})
	if err != nil {
		return err
	}
	x.mu.Lock()
	x.caughtUpTo = scanStart
	x.mu.Unlock()
	return nil
}

// backfillAndCatchUp runs the backfill of plan and the catch-up read from
// its End side by side (see syncEvents). A crash before both finish leaves
// the cursor where it was: the backfill resumes and the catch-up is read
// again, duplicates the pipeline drops.
func (x *Extractor) backfillAndCatchUp(ctx context.Context, plan *planRecord, key string, res *passCounter) error {
	scanStart := x.cfg.Clock().UTC()
	var caught pos
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return x.runBackfill(gctx, plan, res) })
	g.Go(func() error {
		r := x.start(Cursor{LastModified: plan.End})
		return x.scan(gctx, x.eventSource(), r, func(page *netsuite.SuiteQLPage) (batch, error) {
			return x.eventBatch(page, res, func(_ context.Context, last pos) error {
				caught = last // pages are delivered one after another
				return nil
			})
		})
	})
	if err := g.Wait(); err != nil {
		return err
	}
	if !caught.IsZero() {
		stored, err := x.cursors.Advance(ctx, key, Cursor{LastModified: caught.LM, ID: caught.ID, UpdatedAt: x.cfg.Clock().UTC()})
		if err != nil {
			return err
		}
		x.setCursor(stored)
	} else if cur, err := x.cursors.Load(ctx, key); err == nil {
		x.setCursor(cur)
	}
	x.mu.Lock()
	x.caughtUpTo = scanStart
	x.mu.Unlock()
	return nil
}

func (x *Extractor) setCursor(c Cursor) {
	x.mu.Lock()
	if x.cursor.IsZero() || c.Before(x.cursor.LastModified, x.cursor.ID) { // c is after the cursor
		x.cursor = c
	}
	x.mu.Unlock()
}

func (x *Extractor) syncDeleted(ctx context.Context, res *passCounter) error {
	key := CursorKey(x.cfg.Account, CursorDeleted)
	cur, err := x.cursors.Load(ctx, key)
	if err != nil {
		return err
	}
	return x.scan(ctx, x.deletionSource(), x.start(cur), func(page *netsuite.SuiteQLPage) (batch, error) {
		return x.tombstoneBatch(page, res, func(ctx context.Context, last pos) error {
			_, err := x.cursors.Advance(ctx, key, Cursor{LastModified: last.LM, ID: last.ID, UpdatedAt: x.cfg.Clock().UTC()})
			return err
		})
	})
}

// source is a table the extractor scans.
type source struct {
	what  string // "events" or "deletions", for errors
	query func(keysetRange) string
}

func (x *Extractor) eventSource() source {
	return source{what: "events", query: func(r keysetRange) string { return eventsQuery(r, x.loc) }}
}

func (x *Extractor) deletionSource() source {
	return source{what: "deletions", query: func(r keysetRange) string { return deletedQuery(r, x.cfg.DeletedTypes, x.loc) }}
}

// fetch reads one page of src in r at offset (0 for keyset pages).
func (x *Extractor) fetch(ctx context.Context, src source, r keysetRange, offset int) (*netsuite.SuiteQLPage, error) {
	page, err := x.ns.SuiteQL(ctx, src.query(r), x.cfg.PageSize, offset)
	if err != nil {
		return nil, fmt.Errorf("read %s after %s: %w", src.what, r.From.Format(time.RFC3339), err)
	}
	return page, nil
}

// batch is one parsed page: its first and last keyset positions, and
// deliver, which completes it (sublists), publishes it and records its
// checkpoint.
type batch struct {
	first, last pos
	deliver     func(ctx context.Context) error
}

// morePages reports whether rows follow page. A full page without hasMore
// asks once more unless totalResults says there is nothing after it.
func morePages(p *netsuite.SuiteQLPage, limit int) bool {
	if p.HasMore {
		return true
	}
	if len(p.Items) < limit {
		return false
	}
	return p.TotalResults == 0 || p.TotalResults > p.Offset+len(p.Items)
}

type fetched struct {
	page *netsuite.SuiteQLPage
	r    keysetRange
	err  error
}

// scan pages through a keyset range of src. While one page is delivered
// (sublists, publish, checkpoint), the next one is already being fetched: its
// range starts after the current page's last row.
func (x *Extractor) scan(ctx context.Context, src source, r keysetRange, parse func(*netsuite.SuiteQLPage) (batch, error)) error {
	page, err := x.fetch(ctx, src, r, 0)
	if err != nil {
		return err
	}
	for {
		if len(page.Items) == 0 {
			return nil
		}
		b, err := parse(page)
		if err != nil {
			return err
		}
		more := morePages(page, x.cfg.PageSize)
		var next chan fetched
		stop := func() {}
		if more {
			nr := r.after(b.last)
			pctx, cancel := context.WithCancel(ctx)
			next, stop = make(chan fetched, 1), cancel
			go func() {
				p, err := x.fetch(pctx, src, nr, 0)
				next <- fetched{page: p, r: nr, err: err}
			}()
		}
		if err := b.deliver(ctx); err != nil {
			stop()
			if next != nil {
				<-next
			}
			return err
		}
		if !more {
			return nil
		}
		f := <-next
		stop()
		if f.err != nil {
			return f.err
		}
		page, r = f.page, f.r
	}
}
