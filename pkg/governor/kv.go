package governor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/nsflow/nsflow/pkg/netsuite"
)

// KVConfig configures NewKV.
type KVConfig struct {
	// LeaseTTL is how long a slot stays taken after its holder stops
	// renewing it (a crash). Holders renew every LeaseTTL/3. Default 30s.
	LeaseTTL time.Duration
	// Holder identifies this replica in slot values (for operators).
	// Default: hostname-pid-random.
	Holder string
	// PollInterval is the longest a waiter sleeps between attempts when no
	// KV watch event wakes it; each wait is jittered to 50–150%. Default 1s.
	PollInterval time.Duration
	// OpTimeout bounds each KV operation made outside the caller's context
	// (renewals, releases). Default 5s.
	OpTimeout time.Duration
	Logger    *slog.Logger
	// Clock defaults to time.Now. Replicas compare lease expiries written by
	// each other, so their clocks must agree to well within LeaseTTL (NTP).
	Clock func() time.Time
}

// slotValue is the value of a slot key.
type slotValue struct {
	Holder  string    `json:"holder"`
	Expires time.Time `json:"expires"`
}

// slotView is the watcher's last knowledge of a slot; a hint only.
type slotView struct {
	known   bool
	held    bool
	expires time.Time
}

// KV is a counting semaphore shared by every replica that uses the same
// bucket and account. See the package documentation for the protocol and
// its guarantee.
type KV struct {
	kv        jetstream.KeyValue
	n         int
	prefix    string
	holder    string
	ttl       time.Duration
	poll      time.Duration
	opTimeout time.Duration
	log       *slog.Logger
	now       func() time.Time

	inUse atomic.Int64
	peak  atomic.Int64

	mu        sync.Mutex
	wake      chan struct{} // closed and replaced whenever a slot may have freed
	waiters   []*waiter     // this replica's Acquire calls waiting, oldest first
	view      []slotView
	watching  bool
	stopWatch func()
	closed    bool
}

var _ netsuite.Limiter = (*KV)(nil)

// maxHandoffs bounds how many times in a row a slot passes straight from one
// request of this replica to the next waiting one without going back to the
// bucket, so that other replicas waiting for a slot get their turn.
const maxHandoffs = 64

// waiter is an Acquire call waiting for a slot; a releasing holder of this
// replica may hand its slot over through got (buffered, sent to under mu).
type waiter struct{ got chan *holding }

// NewKV returns a limiter allowing at most n holders across all replicas of
// account, using slot keys sem.<hostid>.0 … sem.<hostid>.<n-1> in kv (a
// bucket the caller provisions, e.g. netsuite_state). Every replica must use
// the same n. It makes no KV call.
func NewKV(kv jetstream.KeyValue, account string, n int, cfg KVConfig) (*KV, error) {
	if kv == nil {
		return nil, fmt.Errorf("new kv governor: %w: nil KeyValue", ErrInvalidConfig)
	}
	if err := netsuite.ValidateAccountID(account); err != nil {
		return nil, fmt.Errorf("new kv governor: %w: %w", ErrInvalidConfig, err)
	}
	if n < 1 {
		return nil, fmt.Errorf("new kv governor: %w: limit %d must be at least 1", ErrInvalidConfig, n)
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = 30 * time.Second
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Second
	}
	if cfg.OpTimeout <= 0 {
		cfg.OpTimeout = 5 * time.Second
	}
	if cfg.Holder == "" {
		host, _ := os.Hostname()
		cfg.Holder = fmt.Sprintf("%s-%d-%04x", host, os.Getpid(), rand.IntN(1<<16))
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	return &KV{
		kv:        kv,
		n:         n,
		prefix:    "sem." + netsuite.HostID(account) + ".",
		holder:    cfg.Holder,
		ttl:       cfg.LeaseTTL,
		poll:      cfg.PollInterval,
		opTimeout: cfg.OpTimeout,
		log:       cfg.Logger.With("account", account, "holder", cfg.Holder),
		now:       cfg.Clock,
		wake:      make(chan struct{}),
		view:      make([]slotView, n),
	}, nil
}

// Limit returns n.
func (g *KV) Limit() int { return g.n }

// InUse returns the number of slots this replica holds now.
func (g *KV) InUse() int { return int(g.inUse.Load()) }

// Peak returns the most slots this replica has held at once.
func (g *KV) Peak() int { return int(g.peak.Load()) }

// Close stops the background watch. Held slots stay held until released.
func (g *KV) Close() error {
	g.mu.Lock()
	g.closed = true
	stop := g.stopWatch
	g.stopWatch = nil
	g.mu.Unlock()
	if stop != nil {
		stop()
	}
	g.notify()
	return nil
}

// Acquire takes a slot, waiting (jittered polling, woken early by a KV
// watch) while all n are held. The returned release is idempotent and does
// not block on the caller's context.
func (g *KV) Acquire(ctx context.Context) (func(), error) {
	for round := 0; ; round++ {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("acquire slot: %w", err)
		}
		g.mu.Lock()
		closed, wake := g.closed, g.wake
		g.mu.Unlock()
		if closed {
			return nil, ErrClosed
		}
		// Every few rounds ignore the watcher's hints, in case it lags.
		slot, rev, err := g.tryAll(ctx, round%4 != 3)
		if err != nil {
			return nil, err
		}
		if slot >= 0 {
			return g.hold(ctx, slot, rev).use(), nil
		}
		g.ensureWatch()
		w := g.enqueue()
		t := time.NewTimer(g.waitFor())
		select {
		case <-ctx.Done():
			t.Stop()
			if h := g.dequeue(w); h != nil {
				h.release() // handed over just now: pass it on
			}
			return nil, fmt.Errorf("acquire slot: %w", ctx.Err())
		case h := <-w.got:
			t.Stop()
			return h.use(), nil
		case <-wake:
		case <-t.C:
		}
		t.Stop()
		if h := g.dequeue(w); h != nil {
			return h.use(), nil
		}
	}
}

// enqueue registers a waiting Acquire call for a handover.
func (g *KV) enqueue() *waiter {
	w := &waiter{got: make(chan *holding, 1)}
	g.mu.Lock()
	g.waiters = append(g.waiters, w)
	g.mu.Unlock()
	return w
}

// dequeue withdraws w. It returns the slot a holder handed to w meanwhile,
// if one did.
func (g *KV) dequeue(w *waiter) *holding {
	g.mu.Lock()
	defer g.mu.Unlock()
	for i, x := range g.waiters {
		if x == w {
			g.waiters = append(g.waiters[:i], g.waiters[i+1:]...)
			return nil
		}
	}
	return <-w.got // taken off the queue by a handover, sent under mu
}

// handOver gives h to the oldest waiting Acquire call of this replica, and
// reports whether there was one. The slot stays held in the bucket: no KV
// write, and the waiter's request starts at once.
func (g *KV) handOver(h *holding) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed || len(g.waiters) == 0 {
		return false
	}
	w := g.waiters[0]
	g.waiters = g.waiters[1:]
	w.got <- h
	return true
}

// waitFor returns a jittered poll interval, shortened to just after the
// earliest lease expiry the watcher knows of.
func (g *KV) waitFor() time.Duration {
	d := g.poll/2 + rand.N(g.poll)
	now := g.now()
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, v := range g.view {
		if v.known && v.held {
			if until := v.expires.Sub(now) + 10*time.Millisecond; until > 10*time.Millisecond && until < d {
				d = until
			}
		}
	}
	return d
}

// tryAll tries the slots once, starting at a random one. With useHints,
// slots the watcher saw held by a live lease are skipped.
func (g *KV) tryAll(ctx context.Context, useHints bool) (int, uint64, error) {
	start := rand.IntN(g.n)
	now := g.now()
	for k := range g.n {
		i := (start + k) % g.n
		if useHints {
			g.mu.Lock()
			v := g.view[i]
			g.mu.Unlock()
			if v.known && v.held && v.expires.After(now) {
				continue
			}
		}
		rev, ok, err := g.tryOne(ctx, i)
		if err != nil {
			return -1, 0, err
		}
		if ok {
			return i, rev, nil
		}
	}
	return -1, 0, nil
}

func (g *KV) key(i int) string { return g.prefix + strconv.Itoa(i) }

func (g *KV) value() []byte {
	b, _ := json.Marshal(slotValue{Holder: g.holder, Expires: g.now().Add(g.ttl)})
	return b
}

// tryOne takes slot i if it is free (Create) or its lease has expired
// (compare-and-swap Update on the revision seen).
func (g *KV) tryOne(ctx context.Context, i int) (uint64, bool, error) {
	key := g.key(i)
	rev, err := g.kv.Create(ctx, key, g.value())
	if err == nil {
		return rev, true, nil
	}
	if !errors.Is(err, jetstream.ErrKeyExists) {
		return 0, false, fmt.Errorf("acquire slot %s: %w", key, err)
	}
	e, err := g.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return 0, false, nil // freed meanwhile: the next round gets it
	}
	if err != nil {
		return 0, false, fmt.Errorf("read slot %s: %w", key, err)
	}
	var v slotValue
	expires := e.Created().Add(g.ttl) // unreadable value: judge by write time
	if json.Unmarshal(e.Value(), &v) == nil {
		expires = v.Expires
	}
	if g.now().Before(expires) {
		return 0, false, nil
	}
	rev, err = g.kv.Update(ctx, key, g.value(), e.Revision())
	if err == nil {
		g.log.Warn("took over a concurrency slot whose lease expired (holder crashed or stalled)",
			"slot", i, "previous_holder", v.Holder)
		return rev, true, nil
	}
	if isConflict(err) {
		return 0, false, nil
	}
	return 0, false, fmt.Errorf("take over slot %s: %w", key, err)
}

func isConflict(err error) bool {
	return errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyExists)
}

func (g *KV) record(i int, held bool, expires time.Time) {
	g.mu.Lock()
	g.view[i] = slotView{known: true, held: held, expires: expires}
	g.mu.Unlock()
}

// notify wakes every waiter.
func (g *KV) notify() {
	g.mu.Lock()
	close(g.wake)
	g.wake = make(chan struct{})
	g.mu.Unlock()
}

// hold starts renewing slot i and returns its holding.
func (g *KV) hold(ctx context.Context, i int, rev uint64) *holding {
	notePeak(&g.peak, g.inUse.Add(1))
	expires := g.now().Add(g.ttl)
	g.record(i, true, expires)
	h := &holding{
		g:       g,
		slot:    i,
		key:     g.key(i),
		rev:     rev,
		expires: expires,
		base:    context.WithoutCancel(ctx),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	go h.renew()
	return h
}

type holding struct {
	g    *KV
	slot int
	key  string
	base context.Context // values of the acquiring context, never cancelled
	stop chan struct{}
	done chan struct{}

	mu   sync.Mutex
	rev  uint64
	lost bool
	// expires is when the lease last written ends, by this replica's clock.
	expires time.Time
	// handoffs counts the handovers since the slot was taken from the
	// bucket (only the current user touches it).
	handoffs int
}

// use returns the current user's release func: idempotent, and once it has
// run, calling it again cannot release the slot from its next user.
func (h *holding) use() func() {
	var once sync.Once
	return func() { once.Do(h.release) }
}

func (h *holding) renew() {
	defer close(h.done)
	t := time.NewTicker(h.g.ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
		}
		h.mu.Lock()
		rev := h.rev
		h.mu.Unlock()
		ctx, cancel := context.WithTimeout(h.base, h.g.opTimeout)
		expires := h.g.now().Add(h.g.ttl) // the value written below says no later
		nrev, err := h.g.kv.Update(ctx, h.key, h.g.value(), rev)
		cancel()
		switch {
		case err == nil:
			h.mu.Lock()
			h.rev, h.expires = nrev, expires
			h.mu.Unlock()
		case isConflict(err):
			h.mu.Lock()
			h.lost = true
			h.mu.Unlock()
			h.g.log.Error("lost a concurrency slot: its lease expired before renewal and another replica took it",
				"slot", h.slot)
			return
		default:
			h.g.log.Warn("renew concurrency slot lease", "slot", h.slot, "error", err)
		}
	}
}

// release hands the slot to a waiting Acquire call of this replica, up to
// maxHandoffs times in a row, or gives it back to the bucket. A slot whose
// lease has less than half of LeaseTTL left (a renewal failed: this replica
// may be cut off from NATS) is never handed over, so a lease that may lapse
// is not passed on to another request.
func (h *holding) release() {
	h.mu.Lock()
	healthy := !h.lost && h.g.now().Add(h.g.ttl/2).Before(h.expires)
	h.mu.Unlock()
	if healthy && h.handoffs < maxHandoffs {
		h.handoffs++
		if h.g.handOver(h) {
			return
		}
		h.handoffs--
	}
	close(h.stop)
	<-h.done
	h.g.inUse.Add(-1)
	h.mu.Lock()
	rev, lost := h.rev, h.lost
	h.mu.Unlock()
	if !lost {
		ctx, cancel := context.WithTimeout(h.base, h.g.opTimeout)
		err := h.g.kv.Delete(ctx, h.key, jetstream.LastRevision(rev))
		cancel()
		switch {
		case err == nil:
			h.g.record(h.slot, false, time.Time{})
		case isConflict(err):
			// Someone took it over after our lease lapsed: not ours to free.
		default:
			h.g.log.Warn("release concurrency slot; it frees when its lease expires",
				"slot", h.slot, "error", err)
		}
	}
	h.g.notify()
}

// ensureWatch starts the background KV watch that wakes waiters when a
// slot changes. If the watch cannot start, waiters fall back to polling.
func (g *KV) ensureWatch() {
	g.mu.Lock()
	if g.watching || g.closed {
		g.mu.Unlock()
		return
	}
	g.watching = true
	g.mu.Unlock()

	// The watch lives as long as the governor (until Close), not as long as
	// one Acquire call.
	wctx, cancel := context.WithCancel(context.Background())
	w, err := g.kv.Watch(wctx, g.prefix+"*")
	if err != nil {
		cancel()
		g.mu.Lock()
		g.watching = false
		g.mu.Unlock()
		g.log.Debug("watch concurrency slots; polling instead", "error", err)
		return
	}
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		_ = w.Stop()
		cancel()
		return
	}
	g.stopWatch = func() { _ = w.Stop(); cancel() }
	g.mu.Unlock()
	go g.watchLoop(w.Updates())
}

func (g *KV) watchLoop(updates <-chan jetstream.KeyValueEntry) {
	defer func() {
		g.mu.Lock()
		g.watching = false
		g.mu.Unlock()
	}()
	for e := range updates {
		if e == nil {
			continue // end of initial values
		}
		i, err := strconv.Atoi(strings.TrimPrefix(e.Key(), g.prefix))
		if err != nil || i < 0 || i >= g.n {
			continue
		}
		if e.Operation() != jetstream.KeyValuePut {
			g.record(i, false, time.Time{})
			g.notify()
			continue
		}
		var v slotValue
		expires := e.Created().Add(g.ttl)
		if json.Unmarshal(e.Value(), &v) == nil {
			expires = v.Expires
		}
		g.record(i, true, expires)
	}
}
