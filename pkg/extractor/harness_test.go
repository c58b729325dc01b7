package extractor_test

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/nsflow/nsflow/pkg/broker"
	"github.com/nsflow/nsflow/pkg/calendarevent"
	"github.com/nsflow/nsflow/pkg/extractor"
	"github.com/nsflow/nsflow/pkg/governor"
	"github.com/nsflow/nsflow/pkg/natsembed"
	"github.com/nsflow/nsflow/pkg/netsuite"
	"github.com/nsflow/nsflow/pkg/sandbox"
)

// harness is a sandbox account, an embedded JetStream server with the
// pipeline's topology, and helpers to build extractors on them.
type harness struct {
	sb      *sandbox.Sandbox
	base    string
	js      jetstream.JetStream
	state   jetstream.KeyValue
	leases  jetstream.KeyValue
	cursors *extractor.CursorStore
	pub     *recorder
	// noDeletes turns tombstone extraction off in the extractors it builds.
	noDeletes bool
}

type harnessOptions struct {
	sandbox sandbox.Config
	// jetstream publishes for real (otherwise the recorder only records).
	jetstream bool
}

func newHarness(t testing.TB, events int) *harness {
	t.Helper()
	return newHarnessWith(t, harnessOptions{sandbox: sandbox.Config{Events: events, Seed: 3}, jetstream: true})
}

func newHarnessWith(t testing.TB, o harnessOptions) *harness {
	t.Helper()
	sb, err := sandbox.New(o.sandbox)
	if err != nil {
		t.Fatal(err)
	}
	base, err := sb.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close() })
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
	js, err := broker.JetStream(nc, broker.NATSConfig{})
	if err != nil {
		t.Fatal(err)
	}
	topo := broker.DefaultTopology()
	topo.LeaseTTL = 3 * time.Second
	if err := broker.Provision(context.Background(), js, topo); err != nil {
		t.Fatal(err)
	}
	state, err := js.KeyValue(context.Background(), "netsuite_state")
	if err != nil {
		t.Fatal(err)
	}
	leases, err := js.KeyValue(context.Background(), "netsuite_leases")
	if err != nil {
		t.Fatal(err)
	}
	cursors, err := extractor.NewCursorStore(state)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{sb: sb, base: base, js: js, state: state, leases: leases, cursors: cursors, pub: &recorder{}}
	if o.jetstream {
		if h.pub.next, err = broker.NewPublisher(js, broker.PublisherConfig{}); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

// clientOptions selects the limiter and token source of a client.
type clientOptions struct {
	limiter netsuite.Limiter // default: a local limiter of 4
	store   netsuite.TokenStore
}

// client returns a NetSuite client on the sandbox with fast retries.
func (h *harness) client(t testing.TB, o clientOptions) *netsuite.Client {
	t.Helper()
	c := h.sb.Config()
	tokens, err := netsuite.NewRefreshTokenSource(netsuite.RefreshConfig{
		AccountID: c.Account, ClientID: c.ClientID, ClientSecret: c.ClientSecret,
		TokenURL: h.base + "/services/rest/auth/oauth2/v1/token", RefreshToken: h.sb.RefreshToken(), Store: o.store,
	})
	if err != nil {
		t.Fatal(err)
	}
	if o.limiter == nil {
		if o.limiter, err = governor.NewLocal(4); err != nil {
			t.Fatal(err)
		}
	}
	client, err := netsuite.NewClient(netsuite.ClientConfig{
		AccountID: c.Account, BaseURL: h.base, Tokens: tokens, Limiter: o.limiter,
		Retry: netsuite.RetryPolicy{InitialInterval: 5 * time.Millisecond, MaxInterval: 100 * time.Millisecond, MaxAttempts: 12},
	})
	if err != nil {
		t.Fatal(err)
	}
	return client
}

// extractor returns an extractor of the sandbox account; cfg's account,
// time zone and deletes are filled in.
func (h *harness) extractor(t testing.TB, cfg extractor.Config) *extractor.Extractor {
	t.Helper()
	return h.extractorWith(t, cfg, h.client(t, clientOptions{}))
}

func (h *harness) extractorWith(t testing.TB, cfg extractor.Config, client extractor.NetSuite) *extractor.Extractor {
	t.Helper()
	c := h.sb.Config()
	cfg.Account, cfg.TimeZone, cfg.Deletes = c.Account, c.TimeZone, !h.noDeletes
	x, err := extractor.New(cfg, client, h.pub, h.cursors)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// countingNS counts the SuiteQL requests an extractor makes.
type countingNS struct {
	extractor.NetSuite
	suiteql atomic.Int64
}

func (c *countingNS) SuiteQL(ctx context.Context, q string, limit, offset int) (*netsuite.SuiteQLPage, error) {
	c.suiteql.Add(1)
	return c.NetSuite.SuiteQL(ctx, q, limit, offset)
}

// sandboxIDs lists the sandbox's live event ids with an independent read:
// SuiteQL keyset pages by id alone, not the extractor's (lastmodified, id).
func (h *harness) sandboxIDs(t testing.TB) map[string]bool {
	t.Helper()
	client := h.client(t, clientOptions{})
	ids := map[string]bool{}
	last := "0"
	for {
		page, err := client.SuiteQL(context.Background(), "SELECT ce.id FROM calendarevent ce WHERE ce.id > "+last+" ORDER BY ce.id", 1000, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range page.Items {
			var row struct{ ID string }
			if err := json.Unmarshal(it, &row); err != nil {
				t.Fatal(err)
			}
			ids[row.ID] = true
			last = row.ID
		}
		if !page.HasMore {
			return ids
		}
	}
}

// published is one message the recorder saw acknowledged.
type published struct {
	kind, id, lastModified string
	attendees              int
}

// recorder records what was published (after the next publisher, if any,
// acknowledged it).
type recorder struct {
	next *broker.Publisher
	// countAttendees decodes each event's payload to count its attendees.
	countAttendees bool
	mu             sync.Mutex
	msgs           []published
}

func (r *recorder) PublishContext(ctx context.Context, topic string, msgs ...*message.Message) error {
	if r.next != nil {
		if err := r.next.PublishContext(ctx, topic, msgs...); err != nil {
			return err
		}
	} else if err := ctx.Err(); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range msgs {
		p := published{kind: m.Metadata.Get(calendarevent.HeaderKind), id: m.Metadata.Get(calendarevent.HeaderRecordID),
			lastModified: m.Metadata.Get(calendarevent.HeaderLastModified)}
		if p.kind == calendarevent.KindEvent && r.countAttendees {
			var raw struct {
				Attendees []json.RawMessage `json:"attendees"`
			}
			_ = json.Unmarshal(m.Payload, &raw)
			p.attendees = len(raw.Attendees)
		}
		r.msgs = append(r.msgs, p)
	}
	return nil
}

func (r *recorder) snapshot() []published {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]published(nil), r.msgs...)
}

// eventIDs returns the distinct event ids published, and how many event
// messages there were in all.
func (r *recorder) eventIDs() (map[string]bool, int) {
	ids := map[string]bool{}
	n := 0
	for _, p := range r.snapshot() {
		if p.kind == calendarevent.KindEvent {
			ids[p.id] = true
			n++
		}
	}
	return ids, n
}

// has reports whether a message of kind for id with lastModified lm was published.
func (r *recorder) has(kind, id string, lm time.Time) bool {
	want := lm.UTC().Format(time.RFC3339)
	for _, p := range r.snapshot() {
		if p.kind == kind && p.id == id && p.lastModified == want {
			return true
		}
	}
	return false
}

func diff(want, got map[string]bool) (missing, extra []string) {
	for id := range want {
		if !got[id] {
			missing = append(missing, id)
		}
	}
	for id := range got {
		if !want[id] {
			extra = append(extra, id)
		}
	}
	return missing, extra
}

func first(ids []string, n int) []string {
	if len(ids) > n {
		return ids[:n]
	}
	return ids
}

// apiRequests counts the sandbox's SuiteQL and record API responses.
func apiRequests(c sandbox.Counters) (suiteql, record int64) {
	for ep, byStatus := range c.Requests {
		for _, n := range byStatus {
			switch {
			case ep == "suiteql":
				suiteql += n
			case len(ep) > 7 && ep[:7] == "record.":
				record += n
			}
		}
	}
	return suiteql, record
}

func statusCount(c sandbox.Counters, endpoint string, status int) int64 {
	return c.Requests[endpoint][status]
}

func itoa(n int) string { return strconv.Itoa(n) }

// eventually polls cond every 10ms until it holds or d passes.
func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// jsonField reads the string value of key in a JSON object.
func jsonField(b []byte, key string, dst []string) error {
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	dst[0], _ = m[key].(string)
	return nil
}
