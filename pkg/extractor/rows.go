package extractor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"golang.org/x/sync/errgroup"

	"github.com/nsflow/nsflow/pkg/calendarevent"
	"github.com/nsflow/nsflow/pkg/netsuite"
)

// sublistPageSize is the page size of attendee and resource queries: always
// NetSuite's maximum, whatever the event page size.
const sublistPageSize = 1000

// checkpointTimeout bounds saving a checkpoint after its page was stored. The
// save is detached from the pass's context: once a page is stored, recording
// it is worth finishing even while the pass is being cancelled, so a restart
// does not read it again.
const checkpointTimeout = 10 * time.Second

var (
	eventKeys   = []string{"id", "ns_lastmodified"}
	deletedKeys = []string{"recordid", "ns_deleted"}
)

// eventBatch parses a page of the events query. Its deliver reads the page's
// sublists, publishes it, calls checkpoint (if not nil) with the last
// position, and counts it.
func (x *Extractor) eventBatch(page *netsuite.SuiteQLPage, res *passCounter, checkpoint func(context.Context, pos) error) (batch, error) {
	extractedAt := x.cfg.Clock().UTC()
	ids := make([]int64, len(page.Items))
	raws := make([]calendarevent.Raw, len(page.Items))
	row := make([]string, 2)
	for i, item := range page.Items {
		if err := topStrings(item, eventKeys, row); err != nil {
			return batch{}, fmt.Errorf("read events: row %d of page is not a JSON object: %w", i, err)
		}
		id, err := strconv.ParseInt(row[0], 10, 64)
		if err != nil {
			return batch{}, fmt.Errorf("read events: row %d has id %q, not an internal id: %w", i, row[0], err)
		}
		lm, err := parseLocal(row[1], x.loc)
		if err != nil {
			return batch{}, fmt.Errorf("read events: event %d has lastmodified %q: %w", id, row[1], err)
		}
		ids[i] = id
		raws[i] = calendarevent.Raw{
			Kind: calendarevent.KindEvent, Account: x.cfg.Account, API: calendarevent.APISuiteQL,
			RecordID: strconv.FormatInt(id, 10), TimeZone: x.cfg.TimeZone,
			LastModified: lm, ExtractedAt: extractedAt, Record: item,
		}
	}
	last := len(raws) - 1
	b := batch{
		first: pos{LM: raws[0].LastModified, ID: ids[0]},
		last:  pos{LM: raws[last].LastModified, ID: ids[last]},
	}
	b.deliver = func(ctx context.Context) error {
		if err := x.attachSublists(ctx, ids, raws); err != nil {
			return err
		}
		if err := x.publish(ctx, raws); err != nil {
			return err
		}
		if checkpoint != nil {
			if err := saveCheckpoint(ctx, checkpoint, b.last); err != nil {
				return err
			}
		}
		x.counted(res, PassResult{Events: len(raws), Pages: 1})
		return nil
	}
	return b, nil
}

// tombstoneBatch parses a page of the deletedrecord query.
func (x *Extractor) tombstoneBatch(page *netsuite.SuiteQLPage, res *passCounter, checkpoint func(context.Context, pos) error) (batch, error) {
	extractedAt := x.cfg.Clock().UTC()
	raws := make([]calendarevent.Raw, len(page.Items))
	var b batch
	row := make([]string, 2)
	for i, item := range page.Items {
		if err := topStrings(item, deletedKeys, row); err != nil {
			return batch{}, fmt.Errorf("read deletions: row %d is not a JSON object: %w", i, err)
		}
		id, err := strconv.ParseInt(row[0], 10, 64)
		if err != nil {
			return batch{}, fmt.Errorf("read deletions: row %d has recordid %q: %w", i, row[0], err)
		}
		at, err := parseLocal(row[1], x.loc)
		if err != nil {
			return batch{}, fmt.Errorf("read deletions: record %d has deleteddate %q: %w", id, row[1], err)
		}
		raws[i] = calendarevent.Raw{
			Kind: calendarevent.KindTombstone, Account: x.cfg.Account, API: calendarevent.APIDeletedRecord,
			RecordID: strconv.FormatInt(id, 10), TimeZone: x.cfg.TimeZone,
			LastModified: at, ExtractedAt: extractedAt, Record: item,
		}
		if i == 0 {
			b.first = pos{LM: at, ID: id}
		}
		b.last = pos{LM: at, ID: id}
	}
	b.deliver = func(ctx context.Context) error {
		if err := x.publish(ctx, raws); err != nil {
			return err
		}
		if checkpoint != nil {
			if err := saveCheckpoint(ctx, checkpoint, b.last); err != nil {
				return err
			}
		}
		x.counted(res, PassResult{Tombstones: len(raws), Pages: 1})
		return nil
	}
	return b, nil
}

func saveCheckpoint(ctx context.Context, checkpoint func(context.Context, pos) error, last pos) error {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), checkpointTimeout)
	defer cancel()
	return checkpoint(cctx, last)
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
		var attendees, resources [][]json.RawMessage
		g, gctx := errgroup.WithContext(ctx)
		g.Go(func() error {
			var err error
			if attendees, err = x.fetchRows(gctx, attendeesQuery(ids)); err != nil {
				return fmt.Errorf("read attendees: %w", err)
			}
			return nil
		})
		g.Go(func() error {
			var err error
			if resources, err = x.fetchRows(gctx, resourcesQuery(ids)); err != nil {
				return fmt.Errorf("read resources: %w", err)
			}
			return nil
		})
		if err := g.Wait(); err != nil {
			return err
		}
		if err := distribute(attendees, index, func(i int, row json.RawMessage) {
			raws[i].Attendees = append(raws[i].Attendees, row)
		}); err != nil {
			return fmt.Errorf("read attendees: %w", err)
		}
		if err := distribute(resources, index, func(i int, row json.RawMessage) {
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

// fetchRows reads every page of a sublist query. The first page's
// totalResults says how many follow; those are read in parallel (the account
// limiter bounds them). Pages are returned in order, so attendees keep
// NetSuite's order whatever the timing.
func (x *Extractor) fetchRows(ctx context.Context, q string) ([][]json.RawMessage, error) {
	first, err := x.ns.SuiteQL(ctx, q, sublistPageSize, 0)
	if err != nil {
		return nil, err //nolint:wrapcheck // wrapped by the caller
	}
	pages := [][]json.RawMessage{first.Items}
	if !morePages(first, sublistPageSize) {
		return pages, nil
	}
	if first.TotalResults <= len(first.Items) {
		// No usable count: page on one at a time.
		for offset := len(first.Items); ; offset += sublistPageSize {
			p, err := x.ns.SuiteQL(ctx, q, sublistPageSize, offset)
			if err != nil {
				return nil, err //nolint:wrapcheck // wrapped by the caller
			}
			pages = append(pages, p.Items)
			if len(p.Items) == 0 || !morePages(p, sublistPageSize) {
				return pages, nil
			}
		}
	}
	n := (first.TotalResults + sublistPageSize - 1) / sublistPageSize
	pages = append(pages, make([][]json.RawMessage, n-1)...)
	g, gctx := errgroup.WithContext(ctx)
	for i := 1; i < n; i++ {
		g.Go(func() error {
			p, err := x.ns.SuiteQL(gctx, q, sublistPageSize, i*sublistPageSize)
			if err != nil {
				return err //nolint:wrapcheck // wrapped by the caller
			}
			pages[i] = p.Items
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err //nolint:wrapcheck // wrapped by the caller
	}
	return pages, nil
}

var sublistKeys = []string{"calendarevent"}

// distribute hands each sublist row to add by the index of its event.
func distribute(pages [][]json.RawMessage, index map[int64]int, add func(int, json.RawMessage)) error {
	event := make([]string, 1)
	for _, items := range pages {
		for _, item := range items {
			if err := topStrings(item, sublistKeys, event); err != nil {
				return fmt.Errorf("sublist row is not a JSON object: %w", err)
			}
			id, err := strconv.ParseInt(event[0], 10, 64)
			if err != nil {
				return fmt.Errorf("sublist row has calendarevent %q: %w", event[0], err)
			}
			if i, ok := index[id]; ok {
				add(i, item)
			}
		}
	}
	return nil
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
	m.Metadata = message.Metadata{
		calendarevent.HeaderMsgID:         id,
		calendarevent.HeaderCEID:          id,
		calendarevent.HeaderCEType:        calendarevent.CETypeRaw,
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
