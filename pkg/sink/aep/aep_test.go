package aep_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nsflow/nsflow/pkg/calendarevent"
	"github.com/nsflow/nsflow/pkg/sink"
	"github.com/nsflow/nsflow/pkg/sink/aep"
	"github.com/nsflow/nsflow/pkg/sink/aep/aeptest"
	"github.com/nsflow/nsflow/pkg/sink/sinktest"
)

const (
	org    = "0A1B2C3D4E5F@AdobeOrg"
	tenant = "acmecorp"
	secret = "s3cr3t-client-value"
)

func config(f *aeptest.Server, auth bool) aep.Config {
	c := aep.Config{
		InletURL:          f.InletURL(),
		TenantID:          "_" + tenant,
		SchemaID:          "https://ns.adobe.com/" + tenant + "/schemas/0123abcd",
		IMSOrgID:          org,
		DatasetID:         "65f0c0ffee",
		SandboxName:       "dev",
		IdentityNamespace: "NetSuiteEntity",
		MinBackoff:        time.Millisecond,
		MaxBackoff:        4 * time.Millisecond,
		MaxAttempts:       3,
	}
	if auth {
		c.Auth = aep.Auth{TokenURL: f.TokenURL(), ClientID: "client-1", ClientSecret: secret, Scopes: []string{"openid", "AdobeID"}}
	}
	return c
}

func fake(t *testing.T, auth bool) *aeptest.Server {
	o := aeptest.Options{IMSOrgID: org}
	if auth {
		o.ClientID, o.ClientSecret = "client-1", secret
	}
	return aeptest.NewServer(t, o)
}

func newSink(t *testing.T, cfg aep.Config) *aep.Sink {
	t.Helper()
	s, err := aep.New(cfg, aep.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// sleeps records the waits between attempts instead of waiting.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (r *sleeps) sleep(ctx context.Context, d time.Duration) error {
	r.mu.Lock()
	r.d = append(r.d, d)
	r.mu.Unlock()
	return ctx.Err()
}

func (r *sleeps) all() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.d)
}

// decode turns what the fake received back into (partial) canonical events:
// the fields the contract suite compares.
func decode(t *testing.T, raw []json.RawMessage) []*calendarevent.Event {
	t.Helper()
	out := make([]*calendarevent.Event, 0, len(raw))
	for _, r := range raw {
		var ent aep.Entity
		if err := json.Unmarshal(r, &ent); err != nil {
			t.Fatalf("decode entity: %v", err)
		}
		c := ent.NetSuite.CalendarEvent
		e := &calendarevent.Event{
			Schema: calendarevent.EventSchema, Account: c.Account, ID: c.EventID, Title: c.Title,
			Deleted: c.IsDeleted, DeletedAt: c.DeletedDate, LastModifiedAt: c.LastModifiedDate,
			Provenance: calendarevent.Provenance{RawSequence: uint64(c.RawSequence)},
		}
		if c.Attendees != nil {
			e.Attendees = []calendarevent.Attendee{}
			for _, a := range *c.Attendees {
				e.Attendees = append(e.Attendees, calendarevent.Attendee{
					Entity: calendarevent.Ref(a.Entity), Attendance: a.Attendance, Response: a.Response,
				})
			}
		}
		out = append(out, e)
	}
	return out
}

// titleMaxLength mimics a dataset schema whose title field has maxLength 255.
func titleMaxLength(ent map[string]any) (int, string) {
	ns, _ := ent["_"+tenant].(map[string]any)
	nsf, _ := ns["netsuite"].(map[string]any)
	ce, _ := nsf["calendarEvent"].(map[string]any)
	if title, _ := ce["title"].(string); len(title) > 255 {
		return http.StatusBadRequest, fmt.Sprintf("Message is invalid: #/_%s/netsuite/calendarEvent/title: expected maxLength: 255, actual: %d", tenant, len(title))
	}
	return 0, ""
}

func TestContract(t *testing.T) {
	var fakes sync.Map // sink.Sink → *aeptest.Server
	sinktest.Run(t, func(t *testing.T) sink.Sink {
		f := fake(t, true)
		f.RejectMessages(titleMaxLength)
		s := newSink(t, config(f, true))
		fakes.Store(sink.Sink(s), f)
		return s
	}, sinktest.Capabilities{
		Log: func(t *testing.T, s sink.Sink) []*calendarevent.Event {
			f, _ := fakes.Load(s)
			return decode(t, f.(*aeptest.Server).Entities())
		},
		BadRecord: func(e *calendarevent.Event) { e.Title = strings.Repeat("T", 300) },
		Outage: func(t *testing.T, s sink.Sink) func() {
			f, _ := fakes.Load(s)
			f.(*aeptest.Server).SetDown(true)
			return func() { f.(*aeptest.Server).SetDown(false) }
		},
		Replica: func(t *testing.T, s sink.Sink) sink.Sink {
			return newSink(t, s.(*aep.Sink).Config())
		},
	})
}

func TestMapEvent(t *testing.T) {
	e := sinktest.NewEvent("1234567_SB1", "42", sinktest.T0, 77)
	ent, err := aep.MapEvent(e, tenant, "NetSuiteEntity")
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(ent)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	wantID := fmt.Sprintf("netsuite:1234567-sb1:calendarevent:42:%d:77", sinktest.T0.UnixNano())
	if m["_id"] != wantID || m["timestamp"] != "2024-03-02T09:15:00Z" || m["eventType"] != aep.EventTypeChanged || m["producedBy"] != "system" {
		t.Fatalf("standard fields: %v %v %v %v", m["_id"], m["timestamp"], m["eventType"], m["producedBy"])
	}
	idm := m["identityMap"].(map[string]any)["NetSuiteEntity"].([]any)[0].(map[string]any)
	if idm["id"] != "-5@1234567_SB1.NetSuite" || idm["primary"] != true || idm["authenticatedState"] != "ambiguous" {
		t.Fatalf("identityMap: %v", idm)
	}
	audit := m["extSourceSystemAudit"].(map[string]any)
	if audit["externalID"] != "42" || audit["externalKey"].(map[string]any)["sourceKey"] != "42@1234567_SB1.NetSuite" || audit["lastUpdatedDate"] != "2024-03-02T09:15:00Z" {
		t.Fatalf("extSourceSystemAudit: %v", audit)
	}
	ce := m["_"+tenant].(map[string]any)["netsuite"].(map[string]any)["calendarEvent"].(map[string]any)
	if ce["eventID"] != "42" || ce["title"] != e.Title || ce["isDeleted"] != false || ce["rawSequence"] != 77.0 ||
		len(ce["attendees"].([]any)) != 3 || ce["customFieldsJSON"] == nil || ce["organizer"].(map[string]any)["id"] != "-5" {
		t.Fatalf("tenant fields: %v", ce)
	}
	for _, k := range []string{"extra", "Extra", "notes"} {
		if _, ok := ce[k]; ok {
			t.Fatalf("tenant fields carry %q", k)
		}
	}
	// Same version, same _id; next version, another.
	again, _ := aep.MapEvent(sinktest.NewEvent("1234567_SB1", "42", sinktest.T0, 77), tenant, "")
	next, _ := aep.MapEvent(sinktest.NewEvent("1234567_SB1", "42", sinktest.T0, 78), tenant, "")
	if again.ID != ent.ID || next.ID == ent.ID || again.IdentityMap != nil {
		t.Fatalf("_id not deterministic per version (%s %s %s) or identityMap without namespace", ent.ID, again.ID, next.ID)
	}
	// Round trip, and unknown vs empty attendees.
	var back aep.Entity
	if err := json.Unmarshal(b, &back); err != nil || back.Tenant != tenant || back.NetSuite.CalendarEvent.EventID != "42" {
		t.Fatalf("round trip: %v %+v", err, back)
	}
	e.Attendees = nil
	unknown, _ := aep.MapEvent(e, tenant, "")
	e.Attendees = []calendarevent.Attendee{}
	empty, _ := aep.MapEvent(e, tenant, "")
	ub, _ := json.Marshal(unknown)
	eb, _ := json.Marshal(empty)
	if bytes.Contains(ub, []byte(`"attendees"`)) || !bytes.Contains(eb, []byte(`"attendees":[]`)) {
		t.Fatalf("attendees: unknown %s / empty %s", ub, eb)
	}
	tomb, _ := aep.MapEvent(sinktest.Tombstone("A", "9", sinktest.T0, 3), tenant, "")
	if tomb.EventType != aep.EventTypeDeleted || !tomb.NetSuite.CalendarEvent.IsDeleted || tomb.NetSuite.CalendarEvent.DeletedDate == nil {
		t.Fatalf("tombstone: %+v", tomb)
	}
}

func TestEnvelopeAndHeaders(t *testing.T) {
	var mu sync.Mutex
	var hdr http.Header
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		hdr = r.Header.Clone()
		body = readAll(r)
		w.WriteHeader(http.StatusMultiStatus)
		_, _ = w.Write([]byte(`{"responses":[{"xactionId":"1"}]}`))
	}))
	defer srv.Close()
	f := fake(t, false)
	cfg := config(f, false)
	cfg.InletURL = srv.URL + "/collection/batch/x"
	cfg.FlowID = "flow-1"
	s := newSink(t, cfg)
	if err := s.Write(t.Context(), []*calendarevent.Event{sinktest.NewEvent("A", "1", sinktest.T0, 1)}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if hdr.Get("Content-Type") != "application/json" || hdr.Get("x-sandbox-name") != "dev" || hdr.Get("x-gw-ims-org-id") != org || hdr.Get("Authorization") != "" {
		t.Fatalf("headers: %v", hdr)
	}
	var req struct {
		Messages []aep.Message `json:"messages"`
	}
	if err := json.Unmarshal(body, &req); err != nil || len(req.Messages) != 1 {
		t.Fatalf("body: %v %s", err, body)
	}
	h := req.Messages[0].Header
	want := aep.SchemaRef{ID: cfg.SchemaID, ContentType: "application/vnd.adobe.xed-full+json;version=1"}
	if h.SchemaRef != want || req.Messages[0].Body.XDMMeta.SchemaRef != want || h.IMSOrgID != org || h.DatasetID != cfg.DatasetID ||
		h.FlowID != "flow-1" || h.Source == nil || h.Source.Name != "nsflow" || h.CreatedAt == "" {
		t.Fatalf("envelope header: %+v", h)
	}
	if req.Messages[0].Body.XDMEntity == nil || req.Messages[0].Body.XDMEntity.Tenant != tenant {
		t.Fatalf("entity: %+v", req.Messages[0].Body.XDMEntity)
	}
}

func readAll(r *http.Request) []byte {
	var b bytes.Buffer
	_, _ = b.ReadFrom(r.Body)
	return b.Bytes()
}

func TestBatchingRespectsLimits(t *testing.T) {
	f := fake(t, false)
	cfg := config(f, false)
	cfg.MaxRequestBytes = 50_000
	cfg.MaxMessagesPerRequest = 40
	s := newSink(t, cfg)
	events := sinktest.Batch("A", "b", 300, sinktest.T0, 1)
	if err := s.Write(t.Context(), events); err != nil {
		t.Fatal(err)
	}
	st := f.Stats()
	total := 0
	for i := range st.BodyBytes {
		if st.BodyBytes[i] > 50_000 || st.Messages[i] > 40 {
			t.Fatalf("request %d: %d bytes, %d messages", i, st.BodyBytes[i], st.Messages[i])
		}
		total += st.Messages[i]
	}
	if total != 300 || len(f.Entities()) != 300 {
		t.Fatalf("delivered %d (%d received), want 300", total, len(f.Entities()))
	}
}

func TestPerMessageRejectionIsPartialAndPermanent(t *testing.T) {
	f := fake(t, false)
	f.RejectMessages(titleMaxLength)
	s := newSink(t, config(f, false))
	events := sinktest.Batch("A", "p", 5, sinktest.T0, 1)
	events[3].Title = strings.Repeat("x", 256)
	err := s.Write(t.Context(), events)
	var pe *sink.PartialError
	if !errors.As(err, &pe) || len(pe.Failed) != 1 || pe.Failed[0].Index != 3 || !pe.Failed[0].Permanent {
		t.Fatalf("Write = %v, want a PartialError for index 3", err)
	}
	var ie *aep.InletError
	if !errors.As(pe.Failed[0].Err, &ie) || ie.Status != 400 || !strings.Contains(ie.Message, "maxLength") {
		t.Fatalf("record error %v: want AEP's 400 and message", pe.Failed[0].Err)
	}
	if n := len(f.Entities()); n != 4 {
		t.Fatalf("fake received %d, want the other 4", n)
	}
	if f.Stats().InletRequests != 1 {
		t.Fatalf("a permanent rejection was retried: %d requests", f.Stats().InletRequests)
	}
}

func TestTransientMessageRetriedAlone(t *testing.T) {
	f := fake(t, false)
	var once sync.Once
	f.RejectMessages(func(ent map[string]any) (int, string) {
		if strings.Contains(ent["_id"].(string), ":calendarevent:t2:") {
			code := 0
			once.Do(func() { code = http.StatusServiceUnavailable })
			return code, "try later"
		}
		return 0, ""
	})
	s := newSink(t, config(f, false))
	rec := &sleeps{}
	aep.SetSleep(s, rec.sleep)
	if err := s.Write(t.Context(), sinktest.Batch("A", "t", 5, sinktest.T0, 1)); err != nil {
		t.Fatal(err)
	}
	st := f.Stats()
	if !slices.Equal(st.Messages, []int{5, 1}) || len(f.Entities()) != 5 || len(rec.all()) != 1 {
		t.Fatalf("requests carried %v messages, %d received, %d waits; want [5 1], 5, 1", st.Messages, len(f.Entities()), len(rec.all()))
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	f := fake(t, false)
	f.FailNext(aeptest.Fault{Status: http.StatusTooManyRequests, RetryAfter: "7"})
	cfg := config(f, false)
	cfg.MaxBackoff = 30 * time.Second // Retry-After up to this is waited out in place
	s := newSink(t, cfg)
	rec := &sleeps{}
	aep.SetSleep(s, rec.sleep)
	if err := s.Write(t.Context(), sinktest.Batch("A", "r", 3, sinktest.T0, 1)); err != nil {
		t.Fatal(err)
	}
	if w := rec.all(); len(w) != 1 || w[0] < 7*time.Second {
		t.Fatalf("waits %v, want one of at least 7s", w)
	}
}

func TestUnavailableGivesUpTransiently(t *testing.T) {
	f := fake(t, false)
	f.FailNext(aeptest.Fault{Status: 503}, aeptest.Fault{Status: 503}, aeptest.Fault{Status: 503})
	s := newSink(t, config(f, false))
	rec := &sleeps{}
	aep.SetSleep(s, rec.sleep)
	err := s.Write(t.Context(), sinktest.Batch("A", "u", 3, sinktest.T0, 1))
	var pe *sink.PartialError
	if err == nil || sink.IsPermanent(err) || errors.As(err, &pe) {
		t.Fatalf("Write = %v, want a plain transient error", err)
	}
	if n := f.Stats().InletRequests; n != 3 {
		t.Fatalf("%d requests, want MaxAttempts=3", n)
	}
	// Backoff grows (with jitter in [d/2, d)).
	if w := rec.all(); len(w) != 2 || w[0] >= 2*time.Millisecond || w[1] < time.Millisecond {
		t.Fatalf("waits %v", w)
	}
	// Ping probes while degraded.
	f.FailNext(aeptest.Fault{Status: 503})
	if err := s.Ping(t.Context()); err == nil {
		t.Fatal("Ping succeeded while the inlet answers 503")
	}
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping after recovery: %v", err)
	}
	before := f.Stats().InletRequests
	if err := s.Ping(t.Context()); err != nil || f.Stats().InletRequests != before {
		t.Fatalf("healthy Ping made a request (%v)", err)
	}
}

func TestTokenRefreshedOnceOnAuthFailure(t *testing.T) {
	f := fake(t, true)
	s := newSink(t, config(f, true))
	if err := s.Write(t.Context(), sinktest.Batch("A", "a", 2, sinktest.T0, 1)); err != nil {
		t.Fatal(err)
	}
	f.RevokeTokens() // the cached token now gets 403
	if err := s.Write(t.Context(), sinktest.Batch("A", "a", 2, sinktest.T0.Add(time.Second), 10)); err != nil {
		t.Fatalf("Write after revocation: %v", err)
	}
	if n := f.Stats().TokenRequests; n != 2 {
		t.Fatalf("%d token requests, want 2", n)
	}
	f.FailNext(aeptest.Fault{Status: 401}, aeptest.Fault{Status: 401})
	err := s.Write(t.Context(), sinktest.Batch("A", "a", 2, sinktest.T0.Add(2*time.Second), 20))
	if !errors.Is(err, aep.ErrUnauthorized) || sink.IsPermanent(err) {
		t.Fatalf("Write with credentials refused twice = %v, want ErrUnauthorized (transient)", err)
	}
	if n := f.Stats().TokenRequests; n != 3 {
		t.Fatalf("%d token requests, want exactly one more refresh (3)", n)
	}
}

func TestInletNeedsAuthButNoneConfigured(t *testing.T) {
	f := fake(t, true)
	s := newSink(t, config(f, false))
	err := s.Write(t.Context(), sinktest.Batch("A", "n", 1, sinktest.T0, 1))
	if !errors.Is(err, aep.ErrUnauthorized) || !strings.Contains(err.Error(), "not configured") {
		t.Fatalf("Write = %v", err)
	}
}

func TestTooLargeSplitsAndIsolates(t *testing.T) {
	f := aeptest.NewServer(t, aeptest.Options{IMSOrgID: org, MaxBodyBytes: 20_000})
	s := newSink(t, config(f, false))
	events := sinktest.Batch("A", "big", 20, sinktest.T0, 1)
	events[7].Message.HTML = strings.Repeat("<p>long</p>", 3000) // ~33 KB: over the fake's limit on its own
	err := s.Write(t.Context(), events)
	var pe *sink.PartialError
	if !errors.As(err, &pe) || len(pe.Failed) != 1 || pe.Failed[0].Index != 7 || !pe.Failed[0].Permanent || !errors.Is(pe.Failed[0].Err, aep.ErrRecordTooLarge) {
		t.Fatalf("Write = %v, want index 7 permanently too large", err)
	}
	if n := len(f.Entities()); n != 19 {
		t.Fatalf("received %d, want 19", n)
	}
	for i, size := range f.Stats().BodyBytes {
		if size > 20_000 {
			t.Fatalf("accepted request %d has %d bytes", i, size)
		}
	}
}

func TestRecordOverOwnLimitIsNotSent(t *testing.T) {
	f := fake(t, false)
	cfg := config(f, false)
	cfg.MaxRequestBytes = 10_000
	s := newSink(t, cfg)
	events := sinktest.Batch("A", "own", 3, sinktest.T0, 1)
	events[0].Message.Text = strings.Repeat("z", 12_000)
	err := s.Write(t.Context(), events)
	var pe *sink.PartialError
	if !errors.As(err, &pe) || len(pe.Failed) != 1 || pe.Failed[0].Index != 0 || !errors.Is(pe.Failed[0].Err, aep.ErrRecordTooLarge) {
		t.Fatalf("Write = %v", err)
	}
	if st := f.Stats(); st.InletRequests != 1 || st.Messages[0] != 2 {
		t.Fatalf("requests %+v, want one with the 2 others", st)
	}
}

func TestConfig(t *testing.T) {
	if _, err := aep.New(aep.Config{}, aep.Options{}); err == nil {
		t.Fatal("New accepted an empty config")
	}
	f := fake(t, true)
	cfg := config(f, true)
	for _, out := range []string{fmt.Sprintf("%v", cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg)} {
		if strings.Contains(out, secret) {
			t.Fatalf("formatted config shows the secret: %s", out)
		}
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("cfg", "auth", cfg.Auth)
	if strings.Contains(buf.String(), secret) {
		t.Fatalf("logged config shows the secret: %s", buf.String())
	}
	s := newSink(t, cfg)
	if got := s.Config(); got.TenantID != tenant || got.Auth.TokenURL != f.TokenURL() || got.MaxRequestBytes != aep.DefaultMaxRequestBytes {
		t.Fatalf("defaults: %+v", got)
	}
	// Ping fetches a token when auth is on (and only then).
	if err := s.Ping(t.Context()); err != nil || f.Stats().TokenRequests != 1 {
		t.Fatalf("Ping: %v, %d token requests", err, f.Stats().TokenRequests)
	}
}

func TestLongRetryAfterIsHandedBack(t *testing.T) {
	f := fake(t, false)
	f.FailNext(aeptest.Fault{Status: http.StatusServiceUnavailable, RetryAfter: "120"})
	s := newSink(t, config(f, false))
	rec := &sleeps{}
	aep.SetSleep(s, rec.sleep)
	err := s.Write(t.Context(), sinktest.Batch("A", "l", 2, sinktest.T0, 1))
	var ie *aep.InletError
	if !errors.As(err, &ie) || ie.RetryAfter != 120*time.Second || sink.IsPermanent(err) || len(rec.all()) != 0 {
		t.Fatalf("Write = %v (waits %v), want a transient InletError with RetryAfter 2m and no wait", err, rec.all())
	}
}
