package sandbox

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// Generating an RSA key costs ~0.2s under the race detector; the tests
// share one.
var (
	keyOnce sync.Once
	testKey *rsa.PrivateKey
)

func signingKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	keyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		testKey = k
	})
	return testKey
}

// fixedNow is the clock of most tests.
var fixedNow = time.Date(2024, 4, 15, 10, 30, 0, 0, time.UTC)

// clock is a settable test clock.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// newSandbox starts a sandbox with test defaults and returns it with its
// base URL.
func newSandbox(t testing.TB, cfg Config) (*Sandbox, string) {
	t.Helper()
	if cfg.Events == 0 {
		cfg.Events = 500
	}
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return fixedNow }
	}
	if cfg.SigningKey == nil {
		cfg.SigningKey = signingKey(t)
	}
	if cfg.ConcurrencyLimit == 0 {
		cfg.ConcurrencyLimit = -1
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	base, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s, base
}

// accessToken obtains an access token with the sandbox's refresh token.
func accessToken(t testing.TB, s *Sandbox, base string) string {
	t.Helper()
	resp := postForm(t, base+pathToken, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {s.RefreshToken()}},
		s.cfg.ClientID, s.cfg.ClientSecret)
	if resp.status != 200 {
		t.Fatalf("refresh: %d %s", resp.status, resp.body)
	}
	var tr map[string]any
	resp.decode(t, &tr)
	return tr["access_token"].(string)
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

func doRequest(t testing.TB, method, u string, body []byte, header http.Header) response {
	t.Helper()
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("read %s %s: %v", method, u, err)
	}
	return response{status: res.StatusCode, header: res.Header, body: b}
}

func postForm(t testing.TB, u string, form url.Values, user, pass string) response {
	t.Helper()
	h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	if user != "" {
		req, _ := http.NewRequest("POST", u, nil)
		req.SetBasicAuth(user, pass)
		h.Set("Authorization", req.Header.Get("Authorization"))
	}
	return doRequest(t, "POST", u, []byte(form.Encode()), h)
}

func bearer(tok string) http.Header {
	return http.Header{"Authorization": {"Bearer " + tok}}
}

// suiteQL runs a SuiteQL query.
func suiteQL(t testing.TB, base, tok, q string, limit, offset int) response {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"q": q})
	h := bearer(tok)
	h.Set("Prefer", "transient")
	h.Set("Content-Type", "application/json")
	u := base + pathSuiteQL + "?limit=" + itoa(int64(limit)) + "&offset=" + itoa(int64(offset))
	return doRequest(t, "POST", u, body, h)
}

type suiteQLPage struct {
	Links        []map[string]string `json:"links"`
	Count        int                 `json:"count"`
	HasMore      bool                `json:"hasMore"`
	Items        []map[string]any    `json:"items"`
	Offset       int                 `json:"offset"`
	TotalResults int                 `json:"totalResults"`
}

// strItems converts items to string maps, failing on non-string values.
func (p suiteQLPage) strItems(t testing.TB) []map[string]string {
	t.Helper()
	var out []map[string]string
	for _, it := range p.Items {
		m := map[string]string{}
		for k, v := range it {
			if k == "links" {
				continue
			}
			s, ok := v.(string)
			if !ok {
				t.Fatalf("column %s = %#v is not a string", k, v)
			}
			m[k] = s
		}
		out = append(out, m)
	}
	return out
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond) // polling interval, not synchronisation
	}
}

func errorCode(t testing.TB, r response) string {
	t.Helper()
	var e struct {
		Details []map[string]string `json:"o:errorDetails"`
	}
	r.decode(t, &e)
	if len(e.Details) == 0 {
		t.Fatalf("no o:errorDetails in %s", r.body)
	}
	return e.Details[0]["o:errorCode"]
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }

func contextWithCancel() (context.Context, context.CancelFunc) {
	return context.WithCancel(context.Background())
}
