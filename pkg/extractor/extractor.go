package extractor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
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
	// Since and Until bound the extraction by lastModified (zero = unbounded).
	// Since applies when there is no cursor yet.
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
	// Cursor is the events cursor after the last page.
	Cursor Cursor
	// LastPass is when the last pass finished without error.
	LastPass time.Time
	// LastError is the last pass error ("" when the last pass succeeded).
	LastError string
	// Reauthorize is set when the account needs a new refresh token.
	Reauthorize bool
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

	events, tombstones, pages, passes atomic.Uint64
	mu                                sync.Mutex
	cursor                            Cursor
	lastPass                          time.Time
	lastErr                           string
	reauth                            bool
	onPage                            func(PassResult)
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
	if len(cfg.DeletedTypes) == 0 {
		cfg.DeletedTypes = []string{"calendarevent", "CalendarEvent"}
	}
	if !cfg.Until.IsZero() && !cfg.Since.IsZero() && !cfg.Until.After(cfg.Since) {
		return nil, fmt.Errorf("new extractor: until %s is not after since %s", cfg.Until, cfg.Since)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	return &Extractor{
		cfg: cfg, loc: loc, ns: ns, pub: pub, cursors: cursors,
		log:     cfg.Logger.With("account", cfg.Account),
		subject: calendarevent.RawSubject(cfg.Account),
	}, nil
}

// OnPage registers f to be called after every published page (progress display).
func (x *Extractor) OnPage(f func(PassResult)) { x.onPage = f }

// Stats returns the running totals.
func (x *Extractor) Stats() Stats {
	x.mu.Lock()
	defer x.mu.Unlock()
	return Stats{
		Events: x.events.Load(), Tombstones: x.tombstones.Load(), Pages: x.pages.Load(), Passes: x.passes.Load(),
		Cursor: x.cursor, LastPass: x.lastPass, LastError: x.lastErr, Reauthorize: x.reauth,
	}
}

// Run polls until ctx is done. It returns nil on cancellation and
// netsuite.ErrReauthorizationRequired when the account cannot authenticate
// any more (the caller keeps other accounts and stages running).
func (x *Extractor) Run(ctx context.Context) error {
	x.log.Info("extractor polling", "poll_interval", x.cfg.PollInterval, "overlap", x.cfg.Overlap, "attendees", string(x.cfg.Attendees))
	for {
		_, err := x.Pass(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, netsuite.ErrReauthorizationRequired):
			x.log.Error("extraction stopped for this account: re-authorization required", "err", err)
			return err
		case err != nil:
			x.log.Error("extraction pass failed; retrying at the next poll from the saved cursor", "err", err)
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
// advances the cursors. It returns when NetSuite has nothing newer.
func (x *Extractor) Pass(ctx context.Context) (PassResult, error) {
	var res PassResult
	err := x.syncEvents(ctx, &res)
	if err == nil && x.cfg.Deletes {
		err = x.syncDeleted(ctx, &res)
	}
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
	return res, err
}

// start returns the keyset range a pass begins with.
func (x *Extractor) start(c Cursor) keysetRange {
	r := keysetRange{Until: x.cfg.Until}
	switch {
	case c.IsZero() && x.cfg.Since.IsZero():
		r.From = time.Unix(0, 0).UTC()
	case c.IsZero():
		r.From = x.cfg.Since.UTC().Truncate(time.Second)
	default:
		r.From = c.LastModified.Add(-x.cfg.Overlap)
		if !x.cfg.Since.IsZero() && r.From.Before(x.cfg.Since) {
			r.From = x.cfg.Since.UTC().Truncate(time.Second)
		}
	}
	return r
}

type eventRow struct {
	ID      string `json:"id"`
	LastMod string `json:"ns_lastmodified"`
}

func (x *Extractor) syncEvents(ctx context.Context, res *PassResult) error {
	key := CursorKey(x.cfg.Account, CursorEvents)
	cur, err := x.cursors.Load(ctx, key)
	if err != nil {
		return err
	}
	r := x.start(cur)
	x.log.Debug("events pass", "cursor", cur.LastModified, "cursor_id", cur.ID, "from", r.From)
	for {
		page, err := x.ns.SuiteQL(ctx, eventsQuery(r, x.loc), x.cfg.PageSize, 0)
		if err != nil {
			return fmt.Errorf("read events after %s: %w", r.From.Format(time.RFC3339), err)
		}
		if len(page.Items) == 0 {
			return nil
		}
		extractedAt := x.cfg.Clock().UTC()
		ids := make([]int64, len(page.Items))
		lms := make([]time.Time, len(page.Items))
		for i, item := range page.Items {
			var row eventRow
			if err := json.Unmarshal(item, &row); err != nil {
				return fmt.Errorf("read events: row %d of page is not a JSON object: %w", i, err)
			}
			id, err := strconv.ParseInt(row.ID, 10, 64)
			if err != nil {
				return fmt.Errorf("read events: row %d has id %q, not an internal id: %w", i, row.ID, err)
			}
			lm, err := parseLocal(row.LastMod, x.loc)
			if err != nil {
				return fmt.Errorf("read events: event %d has lastmodified %q: %w", id, row.LastMod, err)
			}
			ids[i], lms[i] = id, lm
		}
		raws := make([]calendarevent.Raw, len(page.Items))
		for i, item := range page.Items {
			raws[i] = calendarevent.Raw{
				Kind: calendarevent.KindEvent, Account: x.cfg.Account, API: calendarevent.APISuiteQL,
				RecordID: strconv.FormatInt(ids[i], 10), TimeZone: x.cfg.TimeZone,
				LastModified: lms[i], ExtractedAt: extractedAt, Record: item,
			}
		}
		if err := x.attachSublists(ctx, ids, raws); err != nil {
			return err
		}
		if err := x.publish(ctx, raws); err != nil {
			return err
		}
		last := len(page.Items) - 1
		next := Cursor{LastModified: lms[last], ID: ids[last], UpdatedAt: x.cfg.Clock().UTC()}
		// Only move forward: an overlap pass re-reads rows behind the cursor.
		if cur.IsZero() || !cur.Before(next.LastModified, next.ID) {
			if err := x.cursors.Save(ctx, key, next); err != nil {
				return err
			}
			cur = next
			x.mu.Lock()
			x.cursor = next
			x.mu.Unlock()
		}
		x.events.Add(uint64(len(raws)))
		x.pages.Add(1)
		res.Events += len(raws)
		res.Pages++
		if x.onPage != nil {
			x.onPage(PassResult{Events: len(raws), Pages: 1})
		}
		if len(page.Items) < x.cfg.PageSize && !page.HasMore {
			return nil
		}
		r = keysetRange{From: lms[last], AfterID: ids[last], Until: x.cfg.Until}
	}
}

type deletedRow struct {
	RecordID string `json:"recordid"`
	Deleted  string `json:"ns_deleted"`
}

func (x *Extractor) syncDeleted(ctx context.Context, res *PassResult) error {
	key := CursorKey(x.cfg.Account, CursorDeleted)
	cur, err := x.cursors.Load(ctx, key)
	if err != nil {
		return err
	}
	r := x.start(cur)
	for {
		page, err := x.ns.SuiteQL(ctx, deletedQuery(r, x.cfg.DeletedTypes, x.loc), x.cfg.PageSize, 0)
		if err != nil {
			return fmt.Errorf("read deletions after %s: %w", r.From.Format(time.RFC3339), err)
		}
		if len(page.Items) == 0 {
			return nil
		}
		extractedAt := x.cfg.Clock().UTC()
		raws := make([]calendarevent.Raw, len(page.Items))
		var lastID int64
		var lastAt time.Time
		for i, item := range page.Items {
			var row deletedRow
			if err := json.Unmarshal(item, &row); err != nil {
				return fmt.Errorf("read deletions: row %d is not a JSON object: %w", i, err)
			}
			id, err := strconv.ParseInt(row.RecordID, 10, 64)
			if err != nil {
				return fmt.Errorf("read deletions: row %d has recordid %q: %w", i, row.RecordID, err)
			}
			at, err := parseLocal(row.Deleted, x.loc)
			if err != nil {
				return fmt.Errorf("read deletions: record %d has deleteddate %q: %w", id, row.Deleted, err)
			}
			raws[i] = calendarevent.Raw{
				Kind: calendarevent.KindTombstone, Account: x.cfg.Account, API: calendarevent.APIDeletedRecord,
				RecordID: strconv.FormatInt(id, 10), TimeZone: x.cfg.TimeZone,
				LastModified: at, ExtractedAt: extractedAt, Record: item,
			}
			lastID, lastAt = id, at
		}
		if err := x.publish(ctx, raws); err != nil {
			return err
		}
		next := Cursor{LastModified: lastAt, ID: lastID, UpdatedAt: x.cfg.Clock().UTC()}
		if cur.IsZero() || !cur.Before(next.LastModified, next.ID) {
			if err := x.cursors.Save(ctx, key, next); err != nil {
				return err
			}
			cur = next
		}
		x.tombstones.Add(uint64(len(raws)))
		x.pages.Add(1)
		res.Tombstones += len(raws)
		res.Pages++
		if x.onPage != nil {
			x.onPage(PassResult{Tombstones: len(raws), Pages: 1})
		}
		if len(page.Items) < x.cfg.PageSize && !page.HasMore {
			return nil
		}
		r = keysetRange{From: lastAt, AfterID: lastID, Until: x.cfg.Until}
	}
}

// attachSublists fills the attendee and resource rows of raws per the mode.
func (x *Extractor) attachSublists(ctx context.Context, ids []int64, raws []calendarevent.Raw) error {
	switch x.cfg.Attendees {
	case AttendeesSuiteQL:
		index := make(map[int64]int, len(ids))
		for i, id := range ids {
			index[id] = i
			raws[i].AttendeesFetched = true
		}
		if err := x.fetchRows(ctx, attendeesQuery(ids), index, func(i int, row json.RawMessage) {
			raws[i].Attendees = append(raws[i].Attendees, row)
		}); err != nil {
			return fmt.Errorf("read attendees: %w", err)
		}
		if err := x.fetchRows(ctx, resourcesQuery(ids), index, func(i int, row json.RawMessage) {
			raws[i].Resources = append(raws[i].Resources, row)
		}); err != nil {
			return fmt.Errorf("read resources: %w", err)
		}
	case AttendeesREST:
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(x.cfg.RESTConcurrency)
		params := url.Values{"expandSubResources": {"true"}}
		for i := range raws {
			g.Go(func() error {
				rec, err := x.ns.GetRecord(gctx, "calendarevent", raws[i].RecordID, params)
				var nsErr *netsuite.Error
				if errors.As(err, &nsErr) && nsErr.HasCode("NONEXISTENT_ID") {
					return nil // deleted since the SuiteQL read: keep the SuiteQL row; the tombstone follows
				}
				if err != nil {
					return fmt.Errorf("read event %s: %w", raws[i].RecordID, err)
				}
				raws[i].API = calendarevent.APIREST
				raws[i].Record = rec
				raws[i].AttendeesFetched = true
				return nil
			})
		}
		return g.Wait()
	}
	return nil
}

type sublistRow struct {
	Event string `json:"calendarevent"`
}

// fetchRows pages through a sublist query and hands each row to add by event index.
func (x *Extractor) fetchRows(ctx context.Context, q string, index map[int64]int, add func(int, json.RawMessage)) error {
	for offset := 0; ; offset += x.cfg.PageSize {
		page, err := x.ns.SuiteQL(ctx, q, x.cfg.PageSize, offset)
		if err != nil {
			return err
		}
		for _, item := range page.Items {
			var row sublistRow
			if err := json.Unmarshal(item, &row); err != nil {
				return fmt.Errorf("sublist row is not a JSON object: %w", err)
			}
			id, err := strconv.ParseInt(row.Event, 10, 64)
			if err != nil {
				return fmt.Errorf("sublist row has calendarevent %q: %w", row.Event, err)
			}
			if i, ok := index[id]; ok {
				add(i, item)
			}
		}
		if !page.HasMore || len(page.Items) == 0 {
			return nil
		}
	}
}

func (x *Extractor) publish(ctx context.Context, raws []calendarevent.Raw) error {
	msgs := make([]*message.Message, len(raws))
	for i := range raws {
		msgs[i] = rawMessage(&raws[i])
	}
	if err := x.pub.PublishContext(ctx, x.subject, msgs...); err != nil {
		return fmt.Errorf("publish %d raw records: %w", len(msgs), err)
	}
	return nil
}

func rawMessage(r *calendarevent.Raw) *message.Message {
	id := calendarevent.RawMsgID(r.Account, r.Kind, r.RecordID, r.LastModified)
	payload := r.AppendJSON(make([]byte, 0, len(r.Record)+256+64*len(r.Attendees)))
	m := message.NewMessage(id, payload)
	lm := r.LastModified.UTC().Format(time.RFC3339)
	ceType := calendarevent.CETypeRaw
	m.Metadata = message.Metadata{
		calendarevent.HeaderMsgID:         id,
		calendarevent.HeaderCEID:          id,
		calendarevent.HeaderCEType:        ceType,
		calendarevent.HeaderCESource:      "/netsuite/" + calendarevent.AccountToken(r.Account) + "/calendarevent",
		calendarevent.HeaderCESpecVersion: calendarevent.CESpecVersion,
		calendarevent.HeaderCESubject:     r.RecordID,
		calendarevent.HeaderCETime:        lm,
		calendarevent.HeaderAccount:       r.Account,
		calendarevent.HeaderRecordID:      r.RecordID,
		calendarevent.HeaderLastModified:  lm,
		calendarevent.HeaderExtractedAt:   r.ExtractedAt.UTC().Format(time.RFC3339Nano),
		calendarevent.HeaderSchema:        calendarevent.RawSchema,
		calendarevent.HeaderKind:          r.Kind,
		calendarevent.HeaderCorrelationID: id,
	}
	return m
}
