package netsuite

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
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

// fakeJWT makes an HS256 JWT with the given exp, like NetSuite's refresh
// tokens (whose signature we never verify).
func fakeJWT(t testing.TB, sub string, exp time.Time) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": sub, "exp": exp.Unix(), "iat": exp.Add(-7 * 24 * time.Hour).Unix(),
		"jti": "4030059.r." + sub, "iss": "https://system.netsuite.com",
	}).SignedString([]byte("sandbox-signing-key"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// tokenCall is one request seen by the fake token endpoint.
type tokenCall struct {
	Form          url.Values
	Authorization string
	User, Pass    string
	BasicOK       bool
}

// fakeTokenEndpoint answers POSTs with respond(call number, request).
type fakeTokenEndpoint struct {
	srv     *httptest.Server
	mu      sync.Mutex
	calls   []tokenCall
	n       atomic.Int64
	respond func(n int, c tokenCall, w http.ResponseWriter)
}

func newFakeTokenEndpoint(t *testing.T, respond func(n int, c tokenCall, w http.ResponseWriter)) *fakeTokenEndpoint {
	t.Helper()
	f := &fakeTokenEndpoint{respond: respond}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != pathToken {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		c := tokenCall{Form: r.PostForm, Authorization: r.Header.Get("Authorization")}
		c.User, c.Pass, c.BasicOK = r.BasicAuth()
		f.mu.Lock()
		f.calls = append(f.calls, c)
		f.mu.Unlock()
		f.respond(int(f.n.Add(1)), c, w)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeTokenEndpoint) URL() string { return f.srv.URL + pathToken }

func (f *fakeTokenEndpoint) Calls() []tokenCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]tokenCall(nil), f.calls...)
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

func tokenJSON(access string, expiresIn any, refresh string) string {
	m := map[string]any{"access_token": access, "token_type": "bearer", "expires_in": expiresIn}
	if refresh != "" {
		m["refresh_token"] = refresh
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// logBuffer is a concurrency-safe slog sink.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func (l *logBuffer) count(substr string) int { return strings.Count(l.String(), substr) }

// assertNoSecrets fails if any secret appears in s.
func assertNoSecrets(t *testing.T, what, s string, secrets ...string) {
	t.Helper()
	for _, sec := range secrets {
		if sec != "" && strings.Contains(s, sec) {
			t.Errorf("%s contains a secret (%.12s…)", what, sec)
		}
	}
}
