package sandbox

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Faults sets the rates (0..1, summing to at most 1) at which API requests
// (record and SuiteQL) fail on purpose. Which requests fail is decided from
// Seed and the request's sequence number, so a run with the same seed and
// the same request order sees the same faults.
type Faults struct {
	// Rate429 answers 429 CONCURRENCY_LIMIT_EXCEEDED regardless of load.
	Rate429 float64 `json:"rate429"`
	// Rate500 answers 500 UNEXPECTED_ERROR.
	Rate500 float64 `json:"rate500"`
	// Rate503 answers 503 with an HTML maintenance page.
	Rate503 float64 `json:"rate503"`
	// RateTimeout hangs for TimeoutHang (or until the client gives up), then
	// either answers 504 or drops the connection.
	RateTimeout float64 `json:"rateTimeout"`
	// RateMalformed answers 200 with the body cut in half (invalid JSON).
	RateMalformed float64 `json:"rateMalformed"`
	// TimeoutHang is how long a timeout fault hangs (default 30s).
	TimeoutHang time.Duration `json:"-"`
	// DenyPermission answers every API request 403 INSUFFICIENT_PERMISSION,
	// as for a role that lacks the Events permission.
	DenyPermission bool `json:"denyPermission"`
}

// MarshalJSON renders TimeoutHang as a duration string.
func (f Faults) MarshalJSON() ([]byte, error) {
	type plain Faults
	return json.Marshal(struct {
		plain
		TimeoutHang string `json:"timeoutHang,omitempty"`
	}{plain(f), durString(f.TimeoutHang)})
}

// UnmarshalJSON reads TimeoutHang as a duration string ("2s").
func (f *Faults) UnmarshalJSON(b []byte) error {
	type plain Faults
	var v struct {
		plain
		TimeoutHang string `json:"timeoutHang"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("decode faults: %w", err)
	}
	*f = Faults(v.plain)
	if v.TimeoutHang != "" {
		d, err := time.ParseDuration(v.TimeoutHang)
		if err != nil {
			return fmt.Errorf("decode faults: timeoutHang: %w", err)
		}
		f.TimeoutHang = d
	}
	return nil
}

func durString(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return d.String()
}

func (f Faults) validate() error {
	sum := 0.0
	for _, r := range []float64{f.Rate429, f.Rate500, f.Rate503, f.RateTimeout, f.RateMalformed} {
		if r < 0 || r > 1 || math.IsNaN(r) {
			return fmt.Errorf("validate faults: rate %v is not between 0 and 1", r)
		}
		sum += r
	}
	if sum > 1+1e-9 {
		return fmt.Errorf("validate faults: rates add up to %v, more than 1", sum)
	}
	if f.TimeoutHang < 0 {
		return fmt.Errorf("validate faults: timeoutHang is negative")
	}
	return nil
}

type faultKind uint8

const (
	faultNone faultKind = iota
	fault429
	fault500
	fault503
	faultTimeout
	faultMalformed
)

var faultNames = map[faultKind]string{fault429: "429", fault500: "500", fault503: "503", faultTimeout: "timeout", faultMalformed: "malformed"}

// Counters is a snapshot of the sandbox's request accounting.
type Counters struct {
	// Requests counts responses by endpoint and HTTP status
	// (for example Requests["suiteql"][200]).
	Requests map[string]map[int]int64 `json:"requests"`
	// ConcurrencyRejected counts requests refused by the concurrency limit.
	ConcurrencyRejected int64 `json:"concurrencyRejected"`
	// TooManyRequests counts all 429 responses (limit and injected).
	TooManyRequests int64 `json:"tooManyRequests"`
	// PeakConcurrency is the highest number of admitted API requests in
	// flight at once; InFlight is the current number.
	PeakConcurrency int64 `json:"peakConcurrency"`
	InFlight        int64 `json:"inFlight"`
	// FaultsInjected counts injected faults by kind (429, 500, 503,
	// timeout, malformed).
	FaultsInjected map[string]int64 `json:"faultsInjected"`
	// AccessTokensIssued and RefreshTokensIssued count issued tokens.
	AccessTokensIssued  int64 `json:"accessTokensIssued"`
	RefreshTokensIssued int64 `json:"refreshTokensIssued"`
}

// governor enforces the concurrency limit, latency and faults, and counts.
type governor struct {
	seed     uint64
	limit    atomic.Int64 // <= 0: unlimited
	inflight atomic.Int64
	peak     atomic.Int64
	latency  atomic.Int64
	reqNo    atomic.Uint64
	status   int // CONCURRENCY_LIMIT_EXCEEDED status

	mu       sync.Mutex
	changed  chan struct{} // closed when latency changes
	faults   Faults
	requests map[string]map[int]int64
	rejected int64
	too      int64
	injected map[string]int64
	access   int64
	refresh  int64
}

func newGovernor(seed int64, limit int, latency time.Duration, status int) *governor {
	g := &governor{seed: uint64(seed), status: status, changed: make(chan struct{}),
		requests: map[string]map[int]int64{}, injected: map[string]int64{}}
	g.limit.Store(int64(limit))
	g.latency.Store(int64(latency))
	return g
}

func (g *governor) setLatency(d time.Duration) {
	g.latency.Store(int64(max(d, 0)))
	g.mu.Lock()
	close(g.changed)
	g.changed = make(chan struct{})
	g.mu.Unlock()
}

// wait blocks until the configured latency has passed since start; a
// latency change takes effect for requests already waiting.
func (g *governor) wait(ctx context.Context, start time.Time) error {
	for {
		g.mu.Lock()
		ch := g.changed
		g.mu.Unlock()
		remaining := time.Until(start.Add(time.Duration(g.latency.Load())))
		if remaining <= 0 {
			return nil
		}
		t := time.NewTimer(remaining)
		select {
		case <-t.C:
			return nil
		case <-ch:
			t.Stop()
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("wait latency: %w", ctx.Err())
		}
	}
}

// admit reserves a concurrency slot; release must follow when it succeeds.
func (g *governor) admit() bool {
	n := g.inflight.Add(1)
	if lim := g.limit.Load(); lim > 0 && n > lim {
		g.inflight.Add(-1)
		g.mu.Lock()
		g.rejected++
		g.mu.Unlock()
		return false
	}
	for {
		p := g.peak.Load()
		if n <= p || g.peak.CompareAndSwap(p, n) {
			return true
		}
	}
}

func (g *governor) release() { g.inflight.Add(-1) }

func (g *governor) decide() (faultKind, uint64) {
	n := g.reqNo.Add(1)
	g.mu.Lock()
	f := g.faults
	g.mu.Unlock()
	h := mix64(g.seed ^ mix64(n^0xfa17))
	u := float64(h>>11) / (1 << 53)
	for _, band := range []struct {
		rate float64
		k    faultKind
	}{{f.Rate429, fault429}, {f.Rate500, fault500}, {f.Rate503, fault503}, {f.RateTimeout, faultTimeout}, {f.RateMalformed, faultMalformed}} {
		if u < band.rate {
			g.mu.Lock()
			g.injected[faultNames[band.k]]++
			g.mu.Unlock()
			return band.k, h
		}
		u -= band.rate
	}
	return faultNone, h
}

func (g *governor) count(endpoint string, status int) {
	g.mu.Lock()
	m := g.requests[endpoint]
	if m == nil {
		m = map[int]int64{}
		g.requests[endpoint] = m
	}
	m[status]++
	if status == http.StatusTooManyRequests {
		g.too++
	}
	g.mu.Unlock()
}

func (g *governor) snapshot() Counters {
	g.mu.Lock()
	defer g.mu.Unlock()
	c := Counters{Requests: map[string]map[int]int64{}, ConcurrencyRejected: g.rejected, TooManyRequests: g.too,
		PeakConcurrency: g.peak.Load(), InFlight: g.inflight.Load(), FaultsInjected: map[string]int64{},
		AccessTokensIssued: g.access, RefreshTokensIssued: g.refresh}
	for ep, m := range g.requests {
		c.Requests[ep] = map[int]int64{}
		for st, n := range m {
			c.Requests[ep][st] = n
		}
	}
	for k, n := range g.injected {
		c.FaultsInjected[k] = n
	}
	return c
}

func (g *governor) reset() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.requests = map[string]map[int]int64{}
	g.injected = map[string]int64{}
	g.rejected, g.too, g.access, g.refresh = 0, 0, 0, 0
	g.peak.Store(g.inflight.Load())
}

// statusWriter records the status of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	if err != nil {
		return n, fmt.Errorf("write response: %w", err)
	}
	return n, nil
}

// Hijack lets the timeout fault drop the connection.
func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, fmt.Errorf("hijack connection: not supported")
	}
	c, rw, err := h.Hijack()
	if err != nil {
		return nil, nil, fmt.Errorf("hijack connection: %w", err)
	}
	return c, rw, nil
}

// bufferWriter captures a response so a fault can mangle it.
type bufferWriter struct {
	h      http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferWriter) Header() http.Header { return b.h }

func (b *bufferWriter) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}

func (b *bufferWriter) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	n, err := b.body.Write(p)
	if err != nil {
		return n, fmt.Errorf("buffer response: %w", err)
	}
	return n, nil
}

const maintenancePage = `<!DOCTYPE html><html><head><title>NetSuite - Scheduled Maintenance</title></head>` +
	`<body><h1>Scheduled Maintenance</h1><p>NetSuite is currently unavailable due to scheduled maintenance. ` +
	`Please try again later.</p></body></html>`

const gatewayTimeoutPage = `<html><head><title>504 Gateway Time-out</title></head><body><h1>504 Gateway Time-out</h1></body></html>`

// hang waits for d or until the request is abandoned.
func hang(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
