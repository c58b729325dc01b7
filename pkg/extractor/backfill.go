package extractor

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"github.com/nsflow/nsflow/pkg/calendarevent"
	"github.com/nsflow/nsflow/pkg/netsuite"
)

// maxWindowRows caps a backfill window: its last page is read at offset
// rows-pageSize, and SuiteQL refuses offsets of 100,000 and more.
const maxWindowRows = 100_000

// planRecord is the state of a backfill, under backfill.<account>.
type planRecord struct {
	// Since and Until are the configured bounds the plan was made for (zero:
	// from the first event; up to End).
	Since time.Time `json:"since,omitzero"`
	Until time.Time `json:"until,omitzero"`
	// End is the inclusive upper lastModified bound: Until, or the time the
	// plan was made.
	End time.Time `json:"end"`
	// WindowRows is the window size chosen from the first page's count.
	WindowRows int `json:"window_rows,omitempty"`
	// Started is set once the first page is stored; Next is then the
	// position planning continues after, and Remaining the number of events
	// after it when last counted (-1: unknown).
	Started   bool `json:"started,omitempty"`
	Next      pos  `json:"next,omitzero"`
	Remaining int  `json:"remaining"`
	// Planned is set when the whole range is covered by windows; Done when
	// every window is read.
	Planned   bool      `json:"planned,omitempty"`
	Done      bool      `json:"done,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// windowRecord is one backfill window, under
// cursor.<account>.backfill.<from>-<before>: the events after From and
// before Before (zero: up to the plan's End), in keyset order. Its cursor
// has the fields of a Cursor, so tools that list cursors show a window's
// progress.
type windowRecord struct {
	LastModified time.Time `json:"last_modified,omitzero"`
	ID           int64     `json:"id,omitempty"`
	UpdatedAt    time.Time `json:"updated_at,omitzero"`
	From         pos       `json:"from"`
	Before       pos       `json:"before,omitzero"`
	Done         bool      `json:"done,omitempty"`
}

func (w windowRecord) cursor() pos { return pos{LM: w.LastModified, ID: w.ID} }

func (w *windowRecord) setCursor(p pos) { w.LastModified, w.ID = p.LM, p.ID }

type window struct {
	key string
	rec windowRecord
}

// BackfillKey is the KV key of account's backfill plan.
func BackfillKey(account string) string {
	return "backfill." + calendarevent.AccountToken(account)
}

// windowPrefix is the common prefix of account's backfill window keys:
// cursor.<account>.backfill.<from>-<before>.
func windowPrefix(account string) string {
	return "cursor." + calendarevent.AccountToken(account) + ".backfill."
}

func windowKey(account string, w windowRecord) string {
	before := "end"
	if !w.Before.IsZero() {
		before = posToken(w.Before)
	}
	return windowPrefix(account) + posToken(w.From) + "-" + before
}

func posToken(p pos) string {
	return p.LM.UTC().Format("20060102T150405Z") + "_" + strconv.FormatInt(p.ID, 10)
}

// backfillDue returns the backfill plan to run (or resume) when one is due:
// on the first pass of an account (no events cursor yet), and when Since is
// set and no finished backfill of the same [Since, Until] exists; nil
// otherwise. A new plan is stored before it is returned.
func (x *Extractor) backfillDue(ctx context.Context, cur Cursor) (*planRecord, error) {
	plan, found, err := x.loadPlan(ctx)
	if err != nil {
		return nil, err
	}
	matches := found && plan.Since.Equal(x.cfg.Since) && plan.Until.Equal(x.cfg.Until)
	switch {
	case matches && plan.Done:
		return nil, nil
	case matches:
		x.log.Info("backfill resuming", "since", plan.Since, "end", plan.End)
	case x.cfg.Since.IsZero() && !cur.IsZero():
		return nil, nil // incremental from the cursor
	default:
		if err := x.purgeWindows(ctx); err != nil {
			return nil, err
		}
		end := x.cfg.Until
		if end.IsZero() {
			end = x.cfg.Clock().UTC().Truncate(time.Second)
		}
		plan = planRecord{Since: x.cfg.Since, Until: x.cfg.Until, End: end, CreatedAt: x.cfg.Clock().UTC()}
		if err := x.savePlan(ctx, &plan); err != nil {
			return nil, fmt.Errorf("start backfill: %w", err)
		}
		x.log.Info("backfill starting", "since", plan.Since, "end", plan.End, "readers", x.cfg.Concurrency)
	}
	return &plan, nil
}

func (x *Extractor) loadPlan(ctx context.Context) (planRecord, bool, error) {
	var plan planRecord
	b, err := x.cursors.get(ctx, BackfillKey(x.cfg.Account))
	if err != nil || b == nil {
		return plan, false, err
	}
	if err := json.Unmarshal(b, &plan); err != nil {
		return plan, false, fmt.Errorf("load backfill plan %s: corrupt value (delete the key to start the backfill over): %w", BackfillKey(x.cfg.Account), err)
	}
	return plan, true, nil
}

func (x *Extractor) savePlan(ctx context.Context, p *planRecord) error {
	b, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("save backfill plan: %w", err)
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), checkpointTimeout)
	defer cancel()
	return x.cursors.update(cctx, BackfillKey(x.cfg.Account), func([]byte) ([]byte, error) { return b, nil })
}

// loadWindows returns the windows of the current plan.
func (x *Extractor) loadWindows(ctx context.Context) ([]window, error) {
	keys, err := x.cursors.keys(ctx, windowPrefix(x.cfg.Account)+">")
	if err != nil {
		return nil, err
	}
	sort.Strings(keys)
	var out []window
	for _, k := range keys {
		b, err := x.cursors.get(ctx, k)
		if err != nil {
			return nil, err
		}
		if b == nil {
			continue // deleted since it was listed
		}
		w := window{key: k}
		if err := json.Unmarshal(b, &w.rec); err != nil {
			return nil, fmt.Errorf("load backfill window %s: corrupt value (delete it and the plan %s to start the backfill over): %w", k, BackfillKey(x.cfg.Account), err)
		}
		out = append(out, w)
	}
	return out, nil
}

func (x *Extractor) purgeWindows(ctx context.Context) error {
	keys, err := x.cursors.keys(ctx, windowPrefix(x.cfg.Account)+">")
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := x.cursors.Delete(ctx, k); err != nil {
			return err
		}
	}
	return nil
}

// saveWindow merges w into its stored record: the cursor only moves forward
// and Done is never cleared. create says whether a missing record is created
// (a new window) or left missing (its plan was finished or replaced
// meanwhile).
func (x *Extractor) saveWindow(ctx context.Context, w window, create bool) error {
	return x.cursors.update(ctx, w.key, func(cur []byte) ([]byte, error) {
		rec := w.rec
		if cur == nil && !create {
			return nil, nil
		}
		if cur != nil {
			var old windowRecord
			if err := json.Unmarshal(cur, &old); err == nil {
				rec.Done = rec.Done || old.Done
				if rec.cursor().before(old.cursor()) {
					rec.setCursor(old.cursor())
					rec.UpdatedAt = old.UpdatedAt
				}
			}
		}
		b, err := json.Marshal(rec)
		if err != nil || bytes.Equal(b, cur) {
			return nil, err
		}
		return b, nil
	})
}

// runBackfill reads the plan's windows in parallel and, when all are read,
// moves the events cursor to the plan's End.
func (x *Extractor) runBackfill(ctx context.Context, plan *planRecord, res *passCounter) error {
	windows, err := x.loadWindows(ctx)
	if err != nil {
		return err
	}
	var pending []window
	done := 0
	for _, w := range windows {
		if w.rec.Done {
			done++
		} else {
			pending = append(pending, w)
		}
	}
	x.mu.Lock()
	x.backfill = BackfillStatus{Active: true, Windows: len(windows), WindowsDone: done, Planned: plan.Planned, Since: plan.Since, End: plan.End}
	x.mu.Unlock()
	defer func() {
		x.mu.Lock()
		x.backfill.Active = false
		x.mu.Unlock()
	}()

	work := make(chan window, len(pending)+x.cfg.Concurrency+1)
	for _, w := range pending {
		work <- w
	}
	g, gctx := errgroup.WithContext(ctx)
	for range x.cfg.Concurrency {
		g.Go(func() error {
			for w := range work {
				if err := x.readWindow(gctx, plan, w, res); err != nil {
					return err
				}
			}
			return nil
		})
	}
	g.Go(func() error {
		defer close(work)
		if plan.Planned {
			return nil
		}
		return x.planWindows(gctx, plan, work, res)
	})
	if err := g.Wait(); err != nil {
		return fmt.Errorf("backfill: %w", err)
	}

	plan.Done = true
	if err := x.savePlan(ctx, plan); err != nil {
		return err
	}
	key := CursorKey(x.cfg.Account, CursorEvents)
	if _, err := x.cursors.Advance(ctx, key, Cursor{LastModified: plan.End, UpdatedAt: x.cfg.Clock().UTC()}); err != nil {
		return err
	}
	if err := x.purgeWindows(ctx); err != nil {
		x.log.Warn("backfill finished but its window keys could not be removed", "error", err)
	}
	st := x.Stats().Backfill
	x.log.Info("backfill finished", "since", plan.Since, "end", plan.End, "windows", st.Windows)
	return nil
}

// readWindow reads one window with keyset pages, checkpointing its cursor
// after every stored page.
func (x *Extractor) readWindow(ctx context.Context, plan *planRecord, w window, res *passCounter) error {
	start := w.rec.From
	if c := w.rec.cursor(); !c.IsZero() {
		start = c
	}
	r := keysetRange{From: start.LM, AfterID: start.ID, Until: plan.End, Before: w.rec.Before}
	x.log.Debug("backfill window", "window", w.key, "from", r.From, "after_id", r.AfterID)
	err := x.scan(ctx, x.eventSource(), r, func(page *netsuite.SuiteQLPage) (batch, error) {
		b, err := x.eventBatch(page, res, func(ctx context.Context, last pos) error {
			w.rec.setCursor(last)
			w.rec.UpdatedAt = x.cfg.Clock().UTC()
			return x.saveWindow(ctx, w, false)
		})
		if err != nil {
			return b, err
		}
		deliver := b.deliver
		b.deliver = func(ctx context.Context) error {
			select {
			case x.delivering <- struct{}{}:
			case <-ctx.Done():
				return fmt.Errorf("deliver page: %w", ctx.Err())
			}
			defer func() { <-x.delivering }()
			return deliver(ctx)
		}
		return b, nil
	})
	if err != nil {
		return fmt.Errorf("window %s: %w", strings.TrimPrefix(w.key, windowPrefix(x.cfg.Account)), err)
	}
	w.rec.Done = true
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), checkpointTimeout)
	defer cancel()
	if err := x.saveWindow(sctx, w, false); err != nil {
		return err
	}
	x.mu.Lock()
	x.backfill.WindowsDone++
	x.mu.Unlock()
	return nil
}

// planWindows splits the rest of the backfill range into windows of
// plan.WindowRows events and hands them to the readers. A window's bounds
// are found by reading its last page directly, at offset WindowRows-PageSize
// after the previous window: that page is stored here and bounds the window
// (the window is the events before its first row), so planning costs no
// request beyond the pages a sequential read would make, and only the last
// window can end with a partial page. Windows are count-balanced, whatever
// the distribution of lastModified.
func (x *Extractor) planWindows(ctx context.Context, plan *planRecord, work chan<- window, res *passCounter) error {
	ps := x.cfg.PageSize
	if !plan.Started {
		from := plan.Since
		if from.IsZero() {
			from = time.Unix(0, 0).UTC()
		}
		first, err := x.fetch(ctx, x.eventSource(), keysetRange{From: from, Until: plan.End}, 0)
		if err != nil {
			return err
		}
		if len(first.Items) == 0 {
			plan.Planned = true
			return x.savePlan(ctx, plan)
		}
		b, err := x.eventBatch(first, res, nil)
		if err != nil {
			return err
		}
		if err := b.deliver(ctx); err != nil {
			return err
		}
		plan.Remaining = -1
		if first.TotalResults > 0 {
			plan.Remaining = first.TotalResults - len(first.Items)
		}
		plan.WindowRows = x.windowRows(plan.Remaining)
		plan.Started, plan.Next = true, b.last
		plan.Planned = !morePages(first, ps)
		if err := x.savePlan(ctx, plan); err != nil {
			return err
		}
		if plan.Planned {
			return nil
		}
	}
	size := plan.WindowRows
	// handOut records w and the plan (both detached from ctx: the pages
	// before were stored, and a restart must not read them again), then
	// gives w to a reader.
	handOut := func(w windowRecord) error {
		win := window{key: windowKey(x.cfg.Account, w), rec: w}
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), checkpointTimeout)
		err := x.saveWindow(sctx, win, true)
		cancel()
		if err != nil {
			return err
		}
		if err := x.savePlan(ctx, plan); err != nil {
			return err
		}
		x.mu.Lock()
		x.backfill.Windows++
		x.backfill.Planned = plan.Planned
		x.mu.Unlock()
		select {
		case work <- win:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("hand out backfill window: %w", ctx.Err())
		}
	}
	for !plan.Planned {
		s := plan.Next
		if plan.Remaining >= 0 && plan.Remaining <= size {
			plan.Planned = true
			if plan.Remaining == 0 {
				break
			}
			return handOut(windowRecord{From: s})
		}
		probe, err := x.fetch(ctx, x.eventSource(), keysetRange{From: s.LM, AfterID: s.ID, Until: plan.End}, size-ps)
		if err != nil {
			return err
		}
		if len(probe.Items) == 0 { // fewer than size events are left: the last window
			plan.Planned = true
			return handOut(windowRecord{From: s})
		}
		b, err := x.eventBatch(probe, res, nil)
		if err != nil {
			return err
		}
		if err := b.deliver(ctx); err != nil {
			return err
		}
		plan.Next = b.last
		plan.Remaining = -1
		if probe.TotalResults > 0 {
			plan.Remaining = max(probe.TotalResults-probe.Offset-len(probe.Items), 0)
		}
		plan.Planned = !morePages(probe, ps)
		if err := handOut(windowRecord{From: s, Before: b.first}); err != nil {
			return err
		}
	}
	x.mu.Lock()
	x.backfill.Planned = true
	x.mu.Unlock()
	return x.savePlan(ctx, plan)
}

// windowRows is the window size for a backfill of remaining events (-1:
// unknown): Config.WindowRows, or remaining split Concurrency ways; whole
// pages, at least two, at most maxWindowRows.
func (x *Extractor) windowRows(remaining int) int {
	ps := x.cfg.PageSize
	w := x.cfg.WindowRows
	if w == 0 {
		if remaining < 0 {
			w = maxWindowRows
		} else {
			w = (remaining + x.cfg.Concurrency - 1) / x.cfg.Concurrency
		}
	}
	w = (w + ps - 1) / ps * ps
	return min(max(w, 2*ps), maxWindowRows/ps*ps)
}

// BackfillRecord is one account's stored backfill plan and the progress of
// its windows, as tools read them from the state bucket (ReadBackfills).
type BackfillRecord struct {
	// Account is the account token of the plan's key (backfill.<token>).
	Account string `json:"account"`
	// Since, Until are the configured bounds (zero: unbounded); End is the
	// inclusive upper bound the plan was made for.
	Since     time.Time `json:"since,omitzero"`
	Until     time.Time `json:"until,omitzero"`
	End       time.Time `json:"end"`
	CreatedAt time.Time `json:"created_at"`
	// Planned is set once the whole range is split into windows; Done once
	// every window is read (the window records are then removed).
	Planned bool `json:"planned"`
	Done    bool `json:"done"`
	// Windows and WindowsDone count the window records stored now.
	Windows     int `json:"windows"`
	WindowsDone int `json:"windows_done"`
	// Remaining is the number of events after the last planned window when
	// last counted (-1: unknown; 0 once planned).
	Remaining int `json:"remaining"`
}

// ReadBackfills returns the backfill plans stored in kv (the state bucket),
// one per account that has ever backfilled, in key order.
func ReadBackfills(ctx context.Context, kv jetstream.KeyValue) ([]BackfillRecord, error) {
	lister, err := kv.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("list state keys: %w", err)
	}
	var keys []string
	for k := range lister.Keys() {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []BackfillRecord
	for _, k := range keys {
		token, ok := strings.CutPrefix(k, "backfill.")
		if !ok {
			continue
		}
		e, err := kv.Get(ctx, k)
		if err != nil {
			continue // deleted since it was listed
		}
		var p planRecord
		if err := json.Unmarshal(e.Value(), &p); err != nil {
			return nil, fmt.Errorf("backfill plan %s: corrupt value (delete the key to start the backfill over): %w", k, err)
		}
		r := BackfillRecord{
			Account: token, Since: p.Since, Until: p.Until, End: p.End, CreatedAt: p.CreatedAt,
			Planned: p.Planned, Done: p.Done, Remaining: p.Remaining,
		}
		prefix := "cursor." + token + ".backfill."
		for _, wk := range keys {
			if !strings.HasPrefix(wk, prefix) {
				continue
			}
			we, err := kv.Get(ctx, wk)
			if err != nil {
				continue
			}
			var w windowRecord
			if json.Unmarshal(we.Value(), &w) != nil {
				continue
			}
			r.Windows++
			if w.Done {
				r.WindowsDone++
			}
		}
		out = append(out, r)
	}
	return out, nil
}
