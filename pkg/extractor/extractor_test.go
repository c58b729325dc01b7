package extractor_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/nsflow/nsflow/pkg/broker"
	"github.com/nsflow/nsflow/pkg/calendarevent"
	"github.com/nsflow/nsflow/pkg/extractor"
	"github.com/nsflow/nsflow/pkg/governor"
	"github.com/nsflow/nsflow/pkg/natsembed"
	"github.com/nsflow/nsflow/pkg/netsuite"
	"github.com/nsflow/nsflow/pkg/sandbox"
)

type harness struct {
	sb      *sandbox.Sandbox
	client  *netsuite.Client
	pub     *broker.Publisher
	cursors *extractor.CursorStore
	raw     func() uint64
}

func newHarness(t *testing.T, events int) *harness {
	t.Helper()
	sb, err := sandbox.New(sandbox.Config{Events: events, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	base, err := sb.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	c := sb.Config()
	tokens, err := netsuite.NewRefreshTokenSource(netsuite.RefreshConfig{
		AccountID: c.Account, ClientID: c.ClientID, ClientSecret: c.ClientSecret,
		TokenURL: base + "/services/rest/auth/oauth2/v1/token", RefreshToken: sb.RefreshToken(),
	})
	if err != nil {
		t.Fatal(err)
	}
	lim, err := governor.NewLocal(4)
	if err != nil {
		t.Fatal(err)
	}
	client, err := netsuite.NewClient(netsuite.ClientConfig{AccountID: c.Account, BaseURL: base, Tokens: tokens, Limiter: lim})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := natsembed.Start(natsembed.Config{StoreDir: t.TempDir(), NoListen: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	nc, err := srv.Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, _ := broker.JetStream(nc, broker.NATSConfig{})
	if err := broker.Provision(t.Context(), js, broker.DefaultTopology()); err != nil {
		t.Fatal(err)
	}
	kv, _ := js.KeyValue(t.Context(), "netsuite_state")
	cursors, _ := extractor.NewCursorStore(kv)
	pub, _ := broker.NewPublisher(js, broker.PublisherConfig{})
	return &harness{sb: sb, client: client, pub: pub, cursors: cursors, raw: func() uint64 {
		st, _ := js.Stream(context.Background(), calendarevent.StreamRaw)
		info, _ := st.Info(context.Background())
		return info.State.Msgs
	}}
}

func (h *harness) extractor(t *testing.T, cfg extractor.Config) *extractor.Extractor {
	t.Helper()
	c := h.sb.Config()
	cfg.Account, cfg.TimeZone, cfg.Deletes = c.Account, c.TimeZone, true
	x, err := extractor.New(cfg, h.client, h.pub, h.cursors)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// TestPassAdvancesCursorAndOverlapDoesNotRewind: the cursor follows the last
// stored row page by page; the next pass re-reads only the overlap window
// (dropped as duplicates) and never moves the cursor back.
func TestPassAdvancesCursorAndOverlapDoesNotRewind(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 1200)
	x := h.extractor(t, extractor.Config{PageSize: 100, Overlap: time.Hour})
	var pageCursors []extractor.Cursor
	x.OnPage(func(p extractor.PassResult) {
		if p.Events > 0 {
			pageCursors = append(pageCursors, x.Stats().Cursor)
		}
	})
	res, err := x.Pass(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if res.Events != h.sb.LiveEventCount() {
		t.Fatalf("first pass read %d events, the sandbox has %d", res.Events, h.sb.LiveEventCount())
	}
	for i := 1; i < len(pageCursors); i++ {
		prev, cur := pageCursors[i-1], pageCursors[i]
		if cur.IsZero() || !cur.Before(prev.LastModified, prev.ID) { // each page must move it strictly forward
			t.Fatalf("cursor moved from %+v to %+v at page %d", prev, cur, i)
		}
	}
	saved, err := h.cursors.Load(t.Context(), extractor.CursorKey(h.sb.Config().Account, extractor.CursorEvents))
	if err != nil || saved.IsZero() {
		t.Fatalf("no saved cursor: %v", err)
	}
	stored := h.raw()
	second, err := x.Pass(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if second.Events >= res.Events {
		t.Fatalf("second pass read %d events: it did not start from the cursor", second.Events)
	}
	if h.raw() != stored {
		t.Fatalf("overlap re-reads were stored again: %d → %d raw messages", stored, h.raw())
	}
	after, _ := h.cursors.Load(t.Context(), extractor.CursorKey(h.sb.Config().Account, extractor.CursorEvents))
	if after.Before(saved.LastModified, saved.ID) {
		t.Fatalf("cursor moved back from %+v to %+v", saved, after)
	}
}

// TestEditsAndDeletesArePickedUp: a change, a new event and a deletion after
// a pass are all read by the next one.
func TestEditsAndDeletesArePickedUp(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 300)
	x := h.extractor(t, extractor.Config{PageSize: 50})
	if _, err := x.Pass(t.Context()); err != nil {
		t.Fatal(err)
	}
	title := "changed"
	if err := h.sb.UpdateEvent("1000", sandbox.EventInput{Title: &title}); err != nil {
		t.Fatal(err)
	}
	if err := h.sb.DeleteEvent("1001"); err != nil {
		t.Fatal(err)
	}
	created, err := h.sb.CreateEvent(sandbox.EventInput{Title: &title})
	if err != nil {
		t.Fatal(err)
	}
	res, err := x.Pass(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if res.Events < 2 || res.Tombstones < 1 {
		t.Fatalf("second pass: %+v, want the change, the new event %s and the deletion", res, created)
	}
}

// TestRESTAttendeeMode reads each changed event through the record API.
func TestRESTAttendeeMode(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 40)
	x := h.extractor(t, extractor.Config{Attendees: extractor.AttendeesREST, RESTConcurrency: 3})
	res, err := x.Pass(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if res.Events != 40 {
		t.Fatalf("read %d events", res.Events)
	}
	gets := h.sb.Counters().Requests
	total := int64(0)
	for ep, byStatus := range gets {
		if ep == "record_get" || ep == "record.get" || ep == "record" {
			for _, n := range byStatus {
				total += n
			}
		}
	}
	if total == 0 {
		t.Logf("request counters: %v", gets)
		t.Fatal("rest mode made no record GETs")
	}
	_ = url.Values{}
}
