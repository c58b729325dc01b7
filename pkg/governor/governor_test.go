package governor

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/nsflow/nsflow/pkg/netsuite"
)

var _ netsuite.Limiter = (*Local)(nil)

func TestLocalBoundsConcurrency(t *testing.T) {
	t.Parallel()
	l, err := NewLocal(3)
	if err != nil {
		t.Fatal(err)
	}
	var cur, peak atomic.Int64
	var wg sync.WaitGroup
	for range 30 {
		wg.Go(func() {
			for range 20 {
				rel, err := l.Acquire(t.Context())
				if err != nil {
					t.Error(err)
					return
				}
				notePeak(&peak, cur.Add(1))
				cur.Add(-1)
				rel()
				rel() // idempotent: must not free a second slot
			}
		})
	}
	wg.Wait()
	if p := peak.Load(); p > 3 {
		t.Errorf("peak holders = %d, limit 3", p)
	}
	if l.Peak() > 3 || l.InUse() != 0 || l.Limit() != 3 {
		t.Errorf("Peak %d InUse %d Limit %d", l.Peak(), l.InUse(), l.Limit())
	}
	if _, err := NewLocal(0); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("NewLocal(0): %v", err)
	}
}

func TestLocalRespectsContext(t *testing.T) {
	t.Parallel()
	l, _ := NewLocal(1)
	rel, _ := l.Acquire(t.Context())
	defer rel()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if _, err := l.Acquire(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want DeadlineExceeded", err)
	}
}

// TestKVBoundsConcurrencyAcrossReplicas: three replicas (own connections),
// 30 goroutines in all; at no time do more than n hold a slot.
func TestKVBoundsConcurrencyAcrossReplicas(t *testing.T) {
	t.Parallel()
	const n, workers, rounds = 3, 30, 5
	url := startJetStream(t)
	var govs []*KV
	for i := range 3 {
		_, kv := connect(t, url, "netsuite_state")
		g, err := NewKV(kv, "1234567_SB1", n, KVConfig{LeaseTTL: 5 * time.Second, PollInterval: 200 * time.Millisecond, Holder: "replica-" + itoa(i)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = g.Close() })
		govs = append(govs, g)
	}
	_, probe := connect(t, url, "netsuite_state")
	var cur, peak, done atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		g := govs[w%len(govs)]
		wg.Go(func() {
			for range rounds {
				rel, err := g.Acquire(t.Context())
				if err != nil {
					t.Error(err)
					return
				}
				notePeak(&peak, cur.Add(1))
				// Hold the slot across real KV round trips (the "request").
				for range 2 {
					_, _ = probe.Get(t.Context(), "sem.1234567-sb1.0")
				}
				cur.Add(-1)
				rel()
				done.Add(1)
			}
		})
	}
	wg.Wait()
	if p := peak.Load(); p > n {
		t.Errorf("peak holders across replicas = %d, limit %d", p, n)
	}
	if done.Load() != workers*rounds {
		t.Errorf("completed %d of %d", done.Load(), workers*rounds)
	}
	for _, g := range govs {
		if g.InUse() != 0 || g.Peak() > n {
			t.Errorf("replica InUse %d Peak %d", g.InUse(), g.Peak())
		}
	}
	t.Logf("peak %d of %d", peak.Load(), n)
}

// TestKVReclaimsCrashedHolder: replica A takes every slot and crashes (its
// connection closes, nothing is released). B gets a slot only after the
// leases expire.
func TestKVReclaimsCrashedHolder(t *testing.T) {
	t.Parallel()
	const n, ttl = 2, 600 * time.Millisecond
	url := startJetStream(t)
	ncA, kvA := connect(t, url, "netsuite_state")
	a, err := NewKV(kvA, "123", n, KVConfig{LeaseTTL: ttl, Holder: "a"})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now() // every lease A writes expires after start+ttl
	for range n {
		if _, err := a.Acquire(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	ncA.Close() // crash: no release, no renewal
	_ = a.Close()

	_, kvB := connect(t, url, "netsuite_state")
	b, err := NewKV(kvB, "123", n, KVConfig{LeaseTTL: ttl, Holder: "b", PollInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	short, cancel := context.WithTimeout(t.Context(), ttl/4)
	defer cancel()
	if _, err := b.Acquire(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Acquire while leases live: %v, want DeadlineExceeded", err)
	}
	ctx, cancel2 := context.WithTimeout(t.Context(), 10*ttl)
	defer cancel2()
	rel, err := b.Acquire(ctx)
	if err != nil {
		t.Fatalf("Acquire after lease expiry: %v", err)
	}
	defer rel()
	if since := time.Since(start); since < ttl {
		t.Errorf("slot reclaimed %s after it was taken, before the %s lease expired", since, ttl)
	}
}

// TestKVRenewsLongHolds: a holder keeps its slot past LeaseTTL by renewing;
// another replica cannot take it until it is released, and then gets it
// promptly through the watch.
func TestKVRenewsLongHolds(t *testing.T) {
	t.Parallel()
	const ttl = 800 * time.Millisecond
	url := startJetStream(t)
	_, kvA := connect(t, url, "netsuite_state")
	_, kvB := connect(t, url, "netsuite_state")
	a, _ := NewKV(kvA, "123", 1, KVConfig{LeaseTTL: ttl, Holder: "a"})
	b, _ := NewKV(kvB, "123", 1, KVConfig{LeaseTTL: ttl, Holder: "b", PollInterval: 10 * time.Second})
	t.Cleanup(func() { _ = a.Close(); _ = b.Close() })

	relA, err := a.Acquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*ttl) // two lease periods: A must renew
	defer cancel()
	if _, err := b.Acquire(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("B acquired while A held and renewed: %v", err)
	}
	got := make(chan error, 1)
	go func() {
		rel, err := b.Acquire(t.Context())
		if err == nil {
			defer rel()
		}
		got <- err
	}()
	// Wait until B is parked on the watch (its poll interval is 10s).
	waitFor(t, 5*time.Second, "B's watch", func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return b.watching
	})
	released := time.Now()
	relA()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
		if d := time.Since(released); d > 2*time.Second {
			t.Errorf("B got the slot %s after release; the watch should wake it promptly", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("B did not get the released slot")
	}
}

// TestKVLostSlotIsNotDeletedByOldHolder: after a takeover, the old holder's
// release must not free the new holder's slot.
func TestKVLostSlotIsNotDeletedByOldHolder(t *testing.T) {
	t.Parallel()
	url := startJetStream(t)
	_, kv := connect(t, url, "netsuite_state")
	clock := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	a, _ := NewKV(kv, "123", 1, KVConfig{LeaseTTL: time.Hour, Holder: "a", Clock: clock.Now})
	b, _ := NewKV(kv, "123", 1, KVConfig{LeaseTTL: time.Hour, Holder: "b", Clock: clock.Now})
	c, _ := NewKV(kv, "123", 1, KVConfig{LeaseTTL: time.Hour, Holder: "c", Clock: clock.Now, PollInterval: 20 * time.Millisecond})
	t.Cleanup(func() { _ = a.Close(); _ = b.Close(); _ = c.Close() })
	relA, err := a.Acquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Hour) // A stalled: its lease lapsed without renewal
	relB, err := b.Acquire(t.Context())
	if err != nil {
		t.Fatalf("takeover: %v", err)
	}
	relA() // late release by the old holder
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	if _, err := c.Acquire(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("old holder's release freed the slot B holds: %v", err)
	}
	relB()
	if rel, err := c.Acquire(t.Context()); err != nil {
		t.Fatal(err)
	} else {
		rel()
	}
}

func TestNewKVValidates(t *testing.T) {
	t.Parallel()
	_, kv := connect(t, startJetStream(t), "b")
	for name, f := range map[string]func() error{
		"nil kv":      func() error { _, err := NewKV(nil, "1", 1, KVConfig{}); return err },
		"bad account": func() error { _, err := NewKV(kv, "a.b", 1, KVConfig{}); return err },
		"zero n":      func() error { _, err := NewKV(kv, "1", 0, KVConfig{}); return err },
	} {
		if err := f(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}
	g, _ := NewKV(kv, "1", 1, KVConfig{})
	_ = g.Close()
	if _, err := g.Acquire(t.Context()); !errors.Is(err, ErrClosed) {
		t.Errorf("Acquire after Close: %v", err)
	}
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func itoa(i int) string { return string(rune('0' + i)) }

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		<-tick.C
	}
}

// queued waits until g has n Acquire calls waiting for a handover.
func queued(t *testing.T, g *KV, n int) {
	t.Helper()
	waitFor(t, 5*time.Second, "a queued Acquire", func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		return len(g.waiters) == n
	})
}

// holdOnlySlot returns a one-slot governor on a fresh server, its bucket,
// and the release of the slot, already taken.
func holdOnlySlot(t *testing.T, cfg KVConfig) (*KV, jetstream.KeyValue, func()) {
	t.Helper()
	_, kv := connect(t, startJetStream(t), "netsuite_state")
	g, err := NewKV(kv, "123", 1, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Close() })
	rel, err := g.Acquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return g, kv, rel
}

// slotRevision returns the revision of slot i's key, or 0 when it is free.
func slotRevision(t *testing.T, kv jetstream.KeyValue, g *KV, i int) uint64 {
	t.Helper()
	e, err := kv.Get(t.Context(), g.key(i))
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return e.Revision()
}

// acquireAsync starts Acquire in a goroutine; its result arrives on the
// returned channel.
func acquireAsync(ctx context.Context, g *KV) <-chan func() {
	got := make(chan func(), 1)
	go func() {
		rel, err := g.Acquire(ctx)
		if err != nil {
			rel = nil
		}
		got <- rel
	}()
	return got
}

// TestKVHandsSlotToWaitingRequest: a release while another request of the
// same replica waits passes the slot straight to it: the slot key is not
// written (same revision), and the waiter holds it at once. The 65th
// release in a row gives the slot back to the bucket instead.
func TestKVHandsSlotToWaitingRequest(t *testing.T) {
	t.Parallel()
	g, kv, rel := holdOnlySlot(t, KVConfig{LeaseTTL: time.Hour, Holder: "a", PollInterval: 10 * time.Second})
	rev := slotRevision(t, kv, g, 0)
	for i := 1; i <= maxHandoffs+1; i++ {
		next := acquireAsync(t.Context(), g)
		queued(t, g, 1)
		rel()
		rel() // idempotent: must not release the next user's slot
		select {
		case rel = <-next:
		case <-time.After(5 * time.Second):
			t.Fatalf("release %d: the waiting request did not get the slot", i)
		}
		if rel == nil {
			t.Fatalf("release %d: Acquire failed", i)
		}
		if g.InUse() != 1 {
			t.Fatalf("release %d: InUse = %d, want 1", i, g.InUse())
		}
		now := slotRevision(t, kv, g, 0)
		if i <= maxHandoffs && now != rev {
			t.Fatalf("handover %d wrote the slot key (revision %d → %d)", i, rev, now)
		}
		if i == maxHandoffs+1 && now == rev {
			t.Fatalf("release %d after %d handovers did not give the slot back to the bucket", i, maxHandoffs)
		}
	}
	rel()
	if r := slotRevision(t, kv, g, 0); r != 0 || g.InUse() != 0 {
		t.Fatalf("release with nobody waiting: slot revision %d, InUse %d; want the key deleted", r, g.InUse())
	}
}

// TestKVNoHandoverOfLapsingLease: a holder whose renewals have not kept its
// lease fresh (less than half of LeaseTTL left) gives the slot back to the
// bucket rather than passing a lease that may lapse to another request.
func TestKVNoHandoverOfLapsingLease(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	g, kv, rel := holdOnlySlot(t, KVConfig{LeaseTTL: time.Hour, Holder: "a", Clock: clock.Now, PollInterval: 20 * time.Millisecond})
	rev := slotRevision(t, kv, g, 0)
	next := acquireAsync(t.Context(), g)
	queued(t, g, 1)
	clock.Advance(31 * time.Minute) // no renewal ran (the ticker is 20 real minutes)
	rel()
	var rel2 func()
	select {
	case rel2 = <-next:
	case <-time.After(5 * time.Second):
		t.Fatal("the waiting request did not get the slot through the bucket")
	}
	if rel2 == nil {
		t.Fatal("Acquire failed")
	}
	defer rel2()
	if r := slotRevision(t, kv, g, 0); r == rev || r == 0 {
		t.Fatalf("slot revision %d (was %d): the lapsing lease was handed over instead of renewed through the bucket", r, rev)
	}
}

// TestKVCancelledWaiterPassesHandoverOn: a waiter withdrawn after a holder
// handed it the slot (its context ended at that moment) releases the slot,
// which goes to the next waiter; none is leaked.
func TestKVCancelledWaiterPassesHandoverOn(t *testing.T) {
	t.Parallel()
	g, _, rel := holdOnlySlot(t, KVConfig{LeaseTTL: time.Hour, Holder: "a", PollInterval: 10 * time.Second})
	w := g.enqueue() // a waiter that will give up
	next := acquireAsync(t.Context(), g)
	queued(t, g, 2)
	rel() // hands the slot to w, the oldest
	h := g.dequeue(w)
	if h == nil {
		t.Fatal("the withdrawn waiter was not handed the slot")
	}
	h.release() // what Acquire does when its context ended meanwhile
	select {
	case rel = <-next:
	case <-time.After(5 * time.Second):
		t.Fatal("the slot was not passed on to the next waiter")
	}
	if rel == nil || g.InUse() != 1 {
		t.Fatalf("next waiter: release %v, InUse %d", rel != nil, g.InUse())
	}
	rel()
	if g.InUse() != 0 {
		t.Fatalf("InUse = %d after the last release", g.InUse())
	}
}
