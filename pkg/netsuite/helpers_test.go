package netsuite

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"golang.org/x/oauth2"
)

// fakeTokens hands out "tok-<generation>" and moves to the next generation
// on Invalidate.
type fakeTokens struct {
	gen         atomic.Int64
	invalidated atomic.Int64
	err         error
}

func (f *fakeTokens) Token(context.Context) (*oauth2.Token, error) {
	if f.err != nil {
		return nil, f.err
	}
	return &oauth2.Token{AccessToken: fmt.Sprintf("tok-%d", f.gen.Load()), TokenType: "Bearer"}, nil
}

func (f *fakeTokens) Invalidate(_ context.Context, stale *oauth2.Token) {
	if stale.AccessToken == fmt.Sprintf("tok-%d", f.gen.Load()) {
		f.gen.Add(1)
	}
	f.invalidated.Add(1)
}

// semLimiter is a minimal Limiter that counts slots in use.
type semLimiter struct {
	sem   chan struct{}
	inUse atomic.Int64
}

func newSemLimiter(n int) *semLimiter { return &semLimiter{sem: make(chan struct{}, n)} }

func (l *semLimiter) Acquire(ctx context.Context) (func(), error) {
	select {
	case l.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	l.inUse.Add(1)
	var once sync.Once
	return func() { once.Do(func() { l.inUse.Add(-1); <-l.sem }) }, nil
}

// script is a fake NetSuite answering requests from a list of responses,
// repeating the last one.
type script struct {
	mu    sync.Mutex
	steps []http.HandlerFunc
	reqs  []*recorded
	calls atomic.Int64
}

type recorded struct {
	Method, Path, RawQuery string
	Header                 http.Header
	Body                   string
}

func (s *script) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b := new(strings.Builder)
	if r.Body != nil {
		buf := make([]byte, 1<<16)
		for {
			n, err := r.Body.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
	}
	s.mu.Lock()
	n := int(s.calls.Add(1)) - 1
	s.reqs = append(s.reqs, &recorded{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), b.String()})
	step := s.steps[min(n, len(s.steps)-1)]
	s.mu.Unlock()
	step(w, r)
}

func (s *script) requests() []*recorded {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*recorded(nil), s.reqs...)
}

func respond(status int, contentType, body string, headers ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}
}

const errType = "application/vnd.oracle.resource+json; type=error"

func nsErrorBody(status int, title, code, detail, extra string) string {
	return fmt.Sprintf(`{"type":"https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html","title":%q,"status":%d,`+
		`"o:errorDetails":[{"detail":%q,"o:errorCode":%q%s}]}`, title, status, detail, code, extra)
}

// sleepRecorder replaces Client.sleep: it records waits and returns at once.
type sleepRecorder struct {
	mu    sync.Mutex
	waits []time.Duration
	hook  func()
}

func (r *sleepRecorder) sleep(ctx context.Context, d time.Duration) error {
	r.mu.Lock()
	r.waits = append(r.waits, d)
	r.mu.Unlock()
	if r.hook != nil {
		r.hook()
	}
	return ctx.Err()
}

func (r *sleepRecorder) all() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Duration(nil), r.waits...)
}

type testClient struct {
	*Client
	srv    *httptest.Server
	tokens *fakeTokens
	lim    *semLimiter
	sleeps *sleepRecorder
}

func newTestClient(t *testing.T, h http.Handler, mod ...func(*ClientConfig)) *testClient {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	tc := &testClient{srv: srv, tokens: &fakeTokens{}, lim: newSemLimiter(4), sleeps: &sleepRecorder{}}
	cfg := ClientConfig{
		AccountID: "1234567_SB1",
		BaseURL:   srv.URL,
		Tokens:    tc.tokens,
		Limiter:   tc.lim,
		Retry:     RetryPolicy{MaxAttempts: 5, InitialInterval: 100 * time.Millisecond, MaxInterval: time.Second, MaxElapsed: time.Minute},
		Logger:    slog.New(slog.DiscardHandler),
	}
	for _, m := range mod {
		m(&cfg)
	}
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	c.sleep = tc.sleeps.sleep
	tc.Client = c
	return tc
}

// waitFor polls cond until it holds or the deadline passes.
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

// metricValue reads a counter or gauge.
func metricValue(t *testing.T, m prometheus.Metric) float64 {
	t.Helper()
	var pb dto.Metric
	if err := m.Write(&pb); err != nil {
		t.Fatal(err)
	}
	if c := pb.GetCounter(); c != nil {
		return c.GetValue()
	}
	return pb.GetGauge().GetValue()
}
