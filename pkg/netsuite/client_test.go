package netsuite

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestHosts(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, host, base, token, authz string }{
		{"1234567", "1234567", "https://1234567.suitetalk.api.netsuite.com",
			"https://1234567.suitetalk.api.netsuite.com/services/rest/auth/oauth2/v1/token",
			"https://1234567.app.netsuite.com/app/login/oauth2/authorize.nl"},
		{"1234567_SB1", "1234567-sb1", "https://1234567-sb1.suitetalk.api.netsuite.com",
			"https://1234567-sb1.suitetalk.api.netsuite.com/services/rest/auth/oauth2/v1/token",
			"https://1234567-sb1.app.netsuite.com/app/login/oauth2/authorize.nl"},
		{"TSTDRV1234567", "tstdrv1234567", "https://tstdrv1234567.suitetalk.api.netsuite.com",
			"https://tstdrv1234567.suitetalk.api.netsuite.com/services/rest/auth/oauth2/v1/token",
			"https://tstdrv1234567.app.netsuite.com/app/login/oauth2/authorize.nl"},
	}
	for _, tt := range tests {
		if got := HostID(tt.in); got != tt.host {
			t.Errorf("HostID(%q) = %q, want %q", tt.in, got, tt.host)
		}
		if got := DefaultBaseURL(tt.in); got != tt.base {
			t.Errorf("DefaultBaseURL(%q) = %q, want %q", tt.in, got, tt.base)
		}
		if got := DefaultTokenURL(tt.in); got != tt.token {
			t.Errorf("DefaultTokenURL(%q) = %q, want %q", tt.in, got, tt.token)
		}
		if got := DefaultAuthorizeURL(tt.in); got != tt.authz {
			t.Errorf("DefaultAuthorizeURL(%q) = %q, want %q", tt.in, got, tt.authz)
		}
	}
	for _, bad := range []string{"", "12 34", "acct.1", "a/b"} {
		if err := ValidateAccountID(bad); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("ValidateAccountID(%q) = %v, want ErrInvalidConfig", bad, err)
		}
	}
}

func TestNewClientValidates(t *testing.T) {
	t.Parallel()
	ok := ClientConfig{AccountID: "123", Tokens: &fakeTokens{}, Limiter: newSemLimiter(1)}
	for name, mod := range map[string]func(*ClientConfig){
		"no account": func(c *ClientConfig) { c.AccountID = "" },
		"no tokens":  func(c *ClientConfig) { c.Tokens = nil },
		"no limiter": func(c *ClientConfig) { c.Limiter = nil },
		"bad base":   func(c *ClientConfig) { c.BaseURL = "ftp://x" },
		"base query": func(c *ClientConfig) { c.BaseURL = "https://x/?a=b" },
	} {
		cfg := ok
		mod(&cfg)
		if _, err := NewClient(cfg); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: err = %v, want ErrInvalidConfig", name, err)
		}
	}
	c, err := NewClient(ok)
	if err != nil {
		t.Fatal(err)
	}
	if c.baseURL != "https://123.suitetalk.api.netsuite.com" {
		t.Errorf("default base URL = %q", c.baseURL)
	}
}

// The three items differ in spacing, escapes and unicode; each must come back
// byte for byte.
var suiteQLItems = []string{
	`{"links":[],"id":"101","title":"Quarterly review","lastmodified":"2024-03-02 09:15:00"}`,
	`{ "links" : [ ] , "id" : "102", "title":"Caf\u00e9 \"Zürich\" \\ meeting", "message":"<b>HTML</b>\n" }`,
	`{"links":[],"id":"103","nested":{"a":[1,2.5e3,-0.1,true,false,null]},"title":"日本語 ✓"}`,
}

func suiteQLBody(items []string, hasMore bool, offset, total int) string {
	hm := "false"
	if hasMore {
		hm = "true"
	}
	return `{"links":[{"rel":"next","href":"https://x/services/rest/query/v1/suiteql?limit=3&offset=3"}],` +
		`"count":` + itoa(len(items)) + `,"hasMore":` + hm + `,"items":[` + strings.Join(items, ",\n  ") +
		`],"offset":` + itoa(offset) + `,"totalResults":` + itoa(total) + `}`
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestSuiteQLRequestShapeAndItemBytes(t *testing.T) {
	t.Parallel()
	s := &script{steps: []http.HandlerFunc{respond(200, "application/json", suiteQLBody(suiteQLItems, true, 3, 10))}}
	tc := newTestClient(t, s)
	const q = `SELECT id, title FROM calendarevent WHERE lastmodifieddate > TO_TIMESTAMP('2024-01-01 00:00:00', 'YYYY-MM-DD HH24:MI:SS') AND title <> 'a&b'`
	page, err := tc.SuiteQL(t.Context(), q, 3, 3)
	if err != nil {
		t.Fatalf("SuiteQL: %v", err)
	}
	reqs := s.requests()
	if len(reqs) != 1 {
		t.Fatalf("requests = %d, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Method != http.MethodPost || r.Path != "/services/rest/query/v1/suiteql" {
		t.Errorf("request = %s %s", r.Method, r.Path)
	}
	if qv, _ := url.ParseQuery(r.RawQuery); qv.Get("limit") != "3" || qv.Get("offset") != "3" || len(qv) != 2 {
		t.Errorf("query = %q, want limit=3&offset=3", r.RawQuery)
	}
	for h, want := range map[string]string{
		"Authorization": "Bearer tok-0",
		"Prefer":        "transient",
		"Content-Type":  "application/json",
		"Accept":        "application/json",
	} {
		if got := r.Header.Get(h); got != want {
			t.Errorf("header %s = %q, want %q", h, got, want)
		}
	}
	if c := r.Header.Get("Cookie"); c != "" {
		t.Errorf("Cookie header sent: %q", c)
	}
	var body map[string]string
	if err := json.Unmarshal([]byte(r.Body), &body); err != nil || body["q"] != q || len(body) != 1 {
		t.Errorf("body = %s (err %v), want {\"q\": query}", r.Body, err)
	}
	if len(page.Items) != len(suiteQLItems) {
		t.Fatalf("items = %d, want %d", len(page.Items), len(suiteQLItems))
	}
	for i, it := range page.Items {
		if string(it) != suiteQLItems[i] {
			t.Errorf("item %d = %s\nwant       %s", i, it, suiteQLItems[i])
		}
		if cap(it) != len(it) {
			t.Errorf("item %d: cap %d != len %d (appending would overwrite the next item)", i, cap(it), len(it))
		}
	}
	if page.Count != 3 || !page.HasMore || page.Offset != 3 || page.TotalResults != 10 {
		t.Errorf("page = count %d hasMore %v offset %d total %d", page.Count, page.HasMore, page.Offset, page.TotalResults)
	}
}

func TestSuiteQLArguments(t *testing.T) {
	t.Parallel()
	s := &script{steps: []http.HandlerFunc{respond(200, "application/json", `{"items":[]}`)}}
	tc := newTestClient(t, s)
	for _, tt := range []struct {
		q             string
		limit, offset int
	}{{"", 10, 0}, {"SELECT 1", 0, 0}, {"SELECT 1", 1001, 0}, {"SELECT 1", 10, -1}} {
		if _, err := tc.SuiteQL(t.Context(), tt.q, tt.limit, tt.offset); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("SuiteQL(%q, %d, %d) err = %v, want ErrInvalidArgument", tt.q, tt.limit, tt.offset, err)
		}
	}
	if n := s.calls.Load(); n != 0 {
		t.Errorf("requests = %d, want 0", n)
	}
}

func TestErrorBodies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		status      int
		ctype, body string
		retryable   bool
		auth        bool
		throttled   bool
		code        string
		wantInError []string
		check       func(*testing.T, *Error)
	}{
		{
			name: "401 INVALID_LOGIN", status: 401, ctype: errType,
			body: nsErrorBody(401, "Unauthorized", "INVALID_LOGIN", "Invalid login attempt. For more details, see the Login Audit Trail in the NetSuite UI at Setup > Users/Roles > User Management > View Login Audit Trail.", ""),
			auth: true, code: "INVALID_LOGIN",
			wantInError: []string{"netsuite GET /services/rest/record/v1/calendarevent/7: 401 Unauthorized: INVALID_LOGIN: Invalid login attempt."},
		},
		{
			name: "400 INVALID_PARAMETER with query param", status: 400, ctype: errType,
			body: `{"type":"https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html#sec10.4.1","title":"Bad Request","status":400,` +
				`"o:errorDetails":[{"detail":"Invalid search query. Search error occurred: Parse of date/time \"8/5/2026 23:53\" failed with date format \"M/d/yy\" in time zone America/Los_Angeles","o:errorQueryParam":"q","o:errorCode":"INVALID_PARAMETER"}]}`,
			code:        "INVALID_PARAMETER",
			wantInError: []string{"400 Bad Request: INVALID_PARAMETER: Invalid search query.", "(query parameter q)"},
			check: func(t *testing.T, e *Error) {
				if len(e.Details) != 1 || e.Details[0].QueryParam != "q" || e.Title != "Bad Request" {
					t.Errorf("details = %+v, title %q", e.Details, e.Title)
				}
			},
		},
		{
			name: "404 NONEXISTENT_ID", status: 404, ctype: errType,
			body:        nsErrorBody(404, "Not Found", "NONEXISTENT_ID", "The record instance does not exist. Provide a valid record instance ID.", `,"o:errorPath":"id"`),
			code:        "NONEXISTENT_ID",
			wantInError: []string{"404 Not Found: NONEXISTENT_ID: The record instance does not exist.", "(path id)"},
		},
		{
			name: "429 CONCURRENCY_LIMIT_EXCEEDED", status: 429, ctype: errType,
			body:      nsErrorBody(429, "Too Many Requests", "CONCURRENCY_LIMIT_EXCEEDED", "Concurrent request limit exceeded. Request blocked.", ""),
			retryable: true, throttled: true, code: "CONCURRENCY_LIMIT_EXCEEDED",
		},
		{
			name: "400 concurrency variant", status: 400, ctype: errType,
			body:      `{"type":"https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html#sec10.4.1","title":"Bad Request","status":400,"o:errorDetails":[{"detail":"Concurrent request limit exceeded. Request blocked. Verify your concurrency limits at Setup > Integration > Integration Management > Integration Governance.","o:errorCode":"USER_ERROR"}]}`,
			retryable: true, throttled: true, code: "USER_ERROR",
		},
		{
			name: "503 HTML", status: 503, ctype: "text/html",
			body:        "<html>\n<head><title>Maintenance</title></head>\n<body><h1>NetSuite is being upgraded</h1>\n</body></html>",
			retryable:   true,
			wantInError: []string{"503 Service Unavailable: <html> <head><title>Maintenance</title></head> <body><h1>NetSuite is being upgraded</h1>"},
			check: func(t *testing.T, e *Error) {
				if e.Body == "" || len(e.Details) != 0 {
					t.Errorf("Body = %q, Details = %+v", e.Body, e.Details)
				}
			},
		},
		{
			name: "500 UNEXPECTED_ERROR", status: 500, ctype: errType,
			body:      nsErrorBody(500, "Internal Server Error", "UNEXPECTED_ERROR", "An unexpected error occurred. Error ID: abc", ""),
			retryable: true, code: "UNEXPECTED_ERROR",
		},
		{
			name: "403 INSUFFICIENT_PERMISSION", status: 403, ctype: errType,
			body: nsErrorBody(403, "Forbidden", "INSUFFICIENT_PERMISSION", "Permission Violation", ""),
			code: "INSUFFICIENT_PERMISSION",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := &script{steps: []http.HandlerFunc{respond(tt.status, tt.ctype, tt.body)}}
			tc := newTestClient(t, s, func(c *ClientConfig) { c.Retry.MaxAttempts = 1 })
			_, err := tc.GetRecord(t.Context(), "calendarevent", "7", nil)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v (%T), want *Error", err, err)
			}
			if e.StatusCode != tt.status || e.Method != "GET" || e.Endpoint != "/services/rest/record/v1/calendarevent/7" {
				t.Errorf("status/method/endpoint = %d %s %s", e.StatusCode, e.Method, e.Endpoint)
			}
			if got := IsRetryable(err); got != tt.retryable {
				t.Errorf("IsRetryable = %v, want %v", got, tt.retryable)
			}
			if got := IsAuth(err); got != tt.auth {
				t.Errorf("IsAuth = %v, want %v", got, tt.auth)
			}
			if got := e.Throttled(); got != tt.throttled {
				t.Errorf("Throttled = %v, want %v", got, tt.throttled)
			}
			if tt.code != "" && !e.HasCode(tt.code) {
				t.Errorf("HasCode(%q) = false; details %+v", tt.code, e.Details)
			}
			if e.HasCode("NOPE") {
				t.Error("HasCode(NOPE) = true")
			}
			for _, w := range tt.wantInError {
				if !strings.Contains(e.Error(), w) {
					t.Errorf("Error() = %q\nwant it to contain %q", e.Error(), w)
				}
			}
			if tt.check != nil {
				tt.check(t, e)
			}
		})
	}
}

func TestRetriesThenSucceeds(t *testing.T) {
	t.Parallel()
	ok := suiteQLBody(suiteQLItems[:1], false, 0, 1)
	s := &script{steps: []http.HandlerFunc{
		respond(429, errType, nsErrorBody(429, "Too Many Requests", "CONCURRENCY_LIMIT_EXCEEDED", "Concurrent request limit exceeded. Request blocked.", "")),
		respond(400, errType, `{"title":"Bad Request","status":400,"o:errorDetails":[{"detail":"Concurrent request limit exceeded. Request blocked.","o:errorCode":"USER_ERROR"}]}`),
		respond(503, "text/html", "<html><body>Service Unavailable</body></html>"),
		respond(200, "application/json", ok[:len(ok)/2]), // truncated body
		respond(200, "application/json", ok),
	}}
	reg := prometheus.NewRegistry()
	tc := newTestClient(t, s, func(c *ClientConfig) {
		c.Retry.MaxAttempts = 10
		c.Metrics = NewMetrics(reg)
	})
	// The slot must be free while we back off.
	tc.sleeps.hook = func() {
		if n := tc.lim.inUse.Load(); n != 0 {
			t.Errorf("limiter slots held during backoff: %d", n)
		}
	}
	page, err := tc.SuiteQL(t.Context(), "SELECT id FROM calendarevent", 1000, 0)
	if err != nil {
		t.Fatalf("SuiteQL: %v", err)
	}
	if len(page.Items) != 1 {
		t.Errorf("items = %d", len(page.Items))
	}
	if n := s.calls.Load(); n != 5 {
		t.Errorf("requests = %d, want 5", n)
	}
	waits := tc.sleeps.all()
	if len(waits) != 4 {
		t.Fatalf("waits = %v, want 4", waits)
	}
	// Full jitter: retry n waits in [0, min(100ms·2^(n-1), 1s)].
	for i, w := range waits {
		ceil := min(100*time.Millisecond<<i, time.Second)
		if w < 0 || w > ceil {
			t.Errorf("wait %d = %s, want within [0, %s]", i+1, w, ceil)
		}
	}
	for reason, want := range map[string]float64{"throttled": 2, "server_error": 1, "malformed_response": 1} {
		if got := metricValue(t, tc.metrics.retries.WithLabelValues("1234567_SB1", reason)); got != want {
			t.Errorf("retries{reason=%s} = %v, want %v", reason, got, want)
		}
	}
	if got := metricValue(t, tc.metrics.throttled.WithLabelValues("1234567_SB1")); got != 2 {
		t.Errorf("throttled = %v, want 2", got)
	}
	if got := metricValue(t, tc.metrics.requests.WithLabelValues("1234567_SB1", "suiteql", "200")); got != 2 {
		t.Errorf("requests{status=200} = %v, want 2", got)
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	t.Parallel()
	s := &script{steps: []http.HandlerFunc{
		respond(429, errType, nsErrorBody(429, "Too Many Requests", "CONCURRENCY_LIMIT_EXCEEDED", "Concurrent request limit exceeded.", ""), "Retry-After", "7"),
		respond(200, "application/json", `{"links":[],"id":"7"}`),
	}}
	tc := newTestClient(t, s)
	if _, err := tc.GetRecord(t.Context(), "calendarevent", "7", nil); err != nil {
		t.Fatal(err)
	}
	if w := tc.sleeps.all(); len(w) != 1 || w[0] != 7*time.Second {
		t.Errorf("waits = %v, want [7s]", w)
	}
}

func TestPermanentErrorIsNotRetried(t *testing.T) {
	t.Parallel()
	s := &script{steps: []http.HandlerFunc{respond(400, errType,
		nsErrorBody(400, "Bad Request", "INVALID_PARAMETER", "Invalid search query. Search error occurred: Unknown identifier 'foo'", `,"o:errorQueryParam":"q"`))}}
	tc := newTestClient(t, s)
	_, err := tc.SuiteQL(t.Context(), "SELECT foo FROM calendarevent", 10, 0)
	var e *Error
	if !errors.As(err, &e) || !e.HasCode("INVALID_PARAMETER") {
		t.Fatalf("err = %v, want INVALID_PARAMETER *Error", err)
	}
	if IsRetryable(err) {
		t.Error("IsRetryable = true")
	}
	if n := s.calls.Load(); n != 1 {
		t.Errorf("requests = %d, want exactly 1", n)
	}
	if w := tc.sleeps.all(); len(w) != 0 {
		t.Errorf("waits = %v, want none", w)
	}
}

func TestGiveUpAfterMaxAttempts(t *testing.T) {
	t.Parallel()
	s := &script{steps: []http.HandlerFunc{respond(500, errType, nsErrorBody(500, "Internal Server Error", "UNEXPECTED_ERROR", "boom", ""))}}
	tc := newTestClient(t, s, func(c *ClientConfig) { c.Retry.MaxAttempts = 3 })
	_, err := tc.GetRecord(t.Context(), "calendarevent", "1", nil)
	if err == nil || !IsRetryable(err) || !strings.Contains(err.Error(), "give up after 3 attempts") {
		t.Fatalf("err = %v, want retryable give-up error", err)
	}
	if n := s.calls.Load(); n != 3 {
		t.Errorf("requests = %d, want 3", n)
	}
}

func TestMaxElapsedStopsRetries(t *testing.T) {
	t.Parallel()
	s := &script{steps: []http.HandlerFunc{respond(503, "text/plain", "down", "Retry-After", "120")}}
	tc := newTestClient(t, s) // MaxElapsed 1m
	_, err := tc.GetRecord(t.Context(), "calendarevent", "1", nil)
	if err == nil || !strings.Contains(err.Error(), "give up after 1 attempts") {
		t.Fatalf("err = %v", err)
	}
	if w := tc.sleeps.all(); len(w) != 0 {
		t.Errorf("waits = %v: a 120s Retry-After beyond MaxElapsed must not be slept", w)
	}
}

func TestUnauthorizedRefreshesOnce(t *testing.T) {
	t.Parallel()
	invalid := nsErrorBody(401, "Unauthorized", "INVALID_LOGIN", "Invalid login attempt.", "")
	s := &script{steps: []http.HandlerFunc{
		respond(401, errType, invalid),
		respond(200, "application/json", `{"id":"5"}`),
	}}
	tc := newTestClient(t, s)
	rec, err := tc.GetRecord(t.Context(), "calendarevent", "5", url.Values{"expandSubResources": {"true"}})
	if err != nil {
		t.Fatalf("GetRecord: %v", err)
	}
	if string(rec) != `{"id":"5"}` {
		t.Errorf("record = %s", rec)
	}
	reqs := s.requests()
	if len(reqs) != 2 {
		t.Fatalf("requests = %d, want 2", len(reqs))
	}
	if a, b := reqs[0].Header.Get("Authorization"), reqs[1].Header.Get("Authorization"); a != "Bearer tok-0" || b != "Bearer tok-1" {
		t.Errorf("Authorization = %q then %q, want a fresh token on the retry", a, b)
	}
	if reqs[1].RawQuery != "expandSubResources=true" {
		t.Errorf("query = %q", reqs[1].RawQuery)
	}
	if n := tc.tokens.invalidated.Load(); n != 1 {
		t.Errorf("Invalidate calls = %d, want 1", n)
	}
	if len(tc.sleeps.all()) != 0 {
		t.Error("a 401 retry must not back off")
	}
}

func TestDoubleUnauthorizedIsAuthError(t *testing.T) {
	t.Parallel()
	s := &script{steps: []http.HandlerFunc{respond(401, errType, nsErrorBody(401, "Unauthorized", "INVALID_LOGIN", "Invalid login attempt.", ""))}}
	tc := newTestClient(t, s)
	_, err := tc.SuiteQL(t.Context(), "SELECT id FROM calendarevent", 10, 0)
	if !IsAuth(err) || IsRetryable(err) {
		t.Fatalf("err = %v: IsAuth %v IsRetryable %v, want auth and permanent", err, IsAuth(err), IsRetryable(err))
	}
	if n := s.calls.Load(); n != 2 {
		t.Errorf("requests = %d, want 2", n)
	}
}

func TestTokenErrorsStopOrRetry(t *testing.T) {
	t.Parallel()
	s := &script{steps: []http.HandlerFunc{respond(200, "application/json", `{"id":"1"}`)}}
	tc := newTestClient(t, s)
	tc.tokens.err = errors.Join(ErrReauthorizationRequired)
	_, err := tc.GetRecord(t.Context(), "calendarevent", "1", nil)
	if !errors.Is(err, ErrReauthorizationRequired) || len(tc.sleeps.all()) != 0 {
		t.Fatalf("err = %v, waits %v: want ErrReauthorizationRequired at once", err, tc.sleeps.all())
	}
	tc2 := newTestClient(t, s, func(c *ClientConfig) { c.Retry.MaxAttempts = 3 })
	tc2.tokens.err = &TokenError{StatusCode: 503}
	if _, err := tc2.GetRecord(t.Context(), "calendarevent", "1", nil); !IsRetryable(err) {
		t.Fatalf("err = %v, want retryable", err)
	}
	if w := tc2.sleeps.all(); len(w) != 2 {
		t.Errorf("waits = %v, want 2 (token endpoint 503 is retried)", w)
	}
	if s.calls.Load() != 0 {
		t.Error("no API request may be sent without a token")
	}
}

func TestTransportErrorIsRetried(t *testing.T) {
	t.Parallel()
	var n atomic.Int64
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if n.Add(1) == 1 {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				_ = conn.Close() // connection dropped without an answer
			}
			return
		}
		_, _ = w.Write([]byte(`{"items":[]}`))
	})
	tc := newTestClient(t, h)
	page, err := tc.SuiteQL(t.Context(), "SELECT 1", 10, 0)
	if err != nil || page == nil || len(page.Items) != 0 {
		t.Fatalf("SuiteQL: %v", err)
	}
	if n.Load() != 2 || len(tc.sleeps.all()) != 1 {
		t.Errorf("requests = %d, waits = %v", n.Load(), tc.sleeps.all())
	}
}

func TestAttemptTimeoutIsRetried(t *testing.T) {
	t.Parallel()
	var n atomic.Int64
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			select { // hang until the client gives up on this attempt
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		_, _ = w.Write([]byte(`{"id":"1"}`))
	})
	tc := newTestClient(t, h, func(c *ClientConfig) { c.RequestTimeout = 300 * time.Millisecond })
	if _, err := tc.GetRecord(t.Context(), "calendarevent", "1", nil); err != nil {
		t.Fatalf("GetRecord: %v", err)
	}
	if n.Load() < 2 {
		t.Errorf("requests = %d, want the hung attempt to time out and be retried", n.Load())
	}
	if w := tc.sleeps.all(); len(w) == 0 {
		t.Error("no backoff after the timed-out attempt")
	}
}

func TestContextCancelStopsRetrying(t *testing.T) {
	t.Parallel()
	s := &script{steps: []http.HandlerFunc{respond(503, "text/plain", "down")}}
	tc := newTestClient(t, s)
	ctx, cancel := context.WithCancel(t.Context())
	tc.sleeps.hook = cancel
	_, err := tc.GetRecord(ctx, "calendarevent", "1", nil)
	if !errors.Is(err, context.Canceled) || IsRetryable(err) {
		t.Fatalf("err = %v, want context.Canceled, not retryable", err)
	}
	if n := s.calls.Load(); n != 1 {
		t.Errorf("requests = %d, want 1", n)
	}
}

func TestLimiterBoundsConcurrency(t *testing.T) {
	t.Parallel()
	const limit, workers = 3, 20
	var inflight, peak, total atomic.Int64
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		total.Add(1)
		cur := inflight.Add(1)
		for {
			p := peak.Load()
			if cur <= p || peak.CompareAndSwap(p, cur) {
				break
			}
		}
		// Simulated NetSuite latency: without the limiter, all 20 workers
		// would be in here at once.
		lat := time.NewTimer(10 * time.Millisecond)
		select {
		case <-lat.C:
		case <-r.Context().Done():
		}
		inflight.Add(-1)
		_, _ = w.Write([]byte(`{"items":[{"links":[],"id":"1"}]}`))
	})
	tc := newTestClient(t, h, func(c *ClientConfig) { c.Limiter = newSemLimiter(limit) })
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			for range 3 {
				if _, err := tc.SuiteQL(t.Context(), "SELECT id FROM calendarevent", 1000, 0); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if total.Load() != workers*3 {
		t.Errorf("requests = %d", total.Load())
	}
	if p := peak.Load(); p > limit {
		t.Errorf("peak concurrency at NetSuite = %d, limit %d", p, limit)
	}
	t.Logf("peak concurrency %d (limit %d)", peak.Load(), limit)
}

func TestGetAndListRecords(t *testing.T) {
	t.Parallel()
	list := `{"links":[{"rel":"self","href":"https://x/services/rest/record/v1/calendarevent?limit=2"}],"count":2,"hasMore":true,` +
		`"items":[{"links":[{"rel":"self","href":"https://x/services/rest/record/v1/calendarevent/103"}],"id":"103"},` +
		`{"links":[],"id":"104"}],"offset":0,"totalResults":10}`
	s := &script{steps: []http.HandlerFunc{
		respond(200, "application/vnd.oracle.resource+json; type=collection", list),
		respond(200, "application/vnd.oracle.resource+json; type=singular", `{"id":"a/b"}`),
		respond(200, "application/json", `{"id":`), // malformed, retried
		respond(200, "application/json", `{"count":0}`),
	}}
	tc := newTestClient(t, s, func(c *ClientConfig) { c.Retry.MaxAttempts = 2 })
	page, err := tc.ListRecords(t.Context(), "calendarevent", url.Values{"limit": {"2"}, "q": {`status IS "CONFIRMED"`}})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 2 || page.Items[0].ID != "103" || page.Items[1].ID != "104" || !page.HasMore || page.TotalResults != 10 || page.Count != 2 {
		t.Errorf("page = %+v", page)
	}
	if _, err := tc.GetRecord(t.Context(), "calendarevent", "a/b", nil); err != nil {
		t.Fatal(err)
	}
	_, err = tc.ListRecords(t.Context(), "calendarevent", nil)
	if !errors.Is(err, ErrMalformedResponse) {
		t.Errorf("err = %v, want ErrMalformedResponse (collection without items)", err)
	}
	reqs := s.requests()
	if reqs[0].Path != "/services/rest/record/v1/calendarevent" || !strings.Contains(reqs[0].RawQuery, "q=status+IS+%22CONFIRMED%22") {
		t.Errorf("list request = %s ?%s", reqs[0].Path, reqs[0].RawQuery)
	}
	if reqs[1].Path != "/services/rest/record/v1/calendarevent/a/b" && !strings.HasSuffix(reqs[1].Path, "a%2Fb") {
		t.Errorf("get path = %s", reqs[1].Path)
	}
	if _, err := tc.GetRecord(t.Context(), "", "1", nil); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("empty type: %v", err)
	}
}

func TestNoCookiesEvenWithJar(t *testing.T) {
	t.Parallel()
	s := &script{steps: []http.HandlerFunc{respond(200, "application/json", `{"id":"1"}`, "Set-Cookie", "JSESSIONID=abc; Path=/")}}
	jar := &memJar{}
	tc := newTestClient(t, s, func(c *ClientConfig) { c.HTTPClient = &http.Client{Jar: jar} })
	for range 2 {
		if _, err := tc.GetRecord(t.Context(), "calendarevent", "1", nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range s.requests() {
		if c := r.Header.Get("Cookie"); c != "" {
			t.Errorf("Cookie sent: %q", c)
		}
	}
}

type memJar struct {
	mu      sync.Mutex
	cookies []*http.Cookie
}

func (j *memJar) SetCookies(_ *url.URL, c []*http.Cookie) {
	j.mu.Lock()
	j.cookies = append(j.cookies, c...)
	j.mu.Unlock()
}

func (j *memJar) Cookies(*url.URL) []*http.Cookie {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.cookies
}

func TestErrorExcerptRedactsToken(t *testing.T) {
	t.Parallel()
	s := &script{steps: []http.HandlerFunc{func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
		_, _ = w.Write([]byte("<html>proxy error; request had " + r.Header.Get("Authorization") + "</html>"))
	}}}
	tc := newTestClient(t, s, func(c *ClientConfig) { c.Retry.MaxAttempts = 1 })
	_, err := tc.GetRecord(t.Context(), "calendarevent", "1", nil)
	if err == nil || strings.Contains(err.Error(), "tok-0") || !strings.Contains(err.Error(), "[redacted]") {
		t.Errorf("err = %v, want the echoed token redacted", err)
	}
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"":                              0,
		"5":                             5 * time.Second,
		"0":                             0,
		"-3":                            0,
		"soon":                          0,
		"Fri, 02 Jan 2026 03:04:35 GMT": 30 * time.Second,
		"Fri, 02 Jan 2026 03:00:00 GMT": 0,
	} {
		if got := parseRetryAfter(in, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestTransportErrorHidesURL(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close() // nothing listens there now
	c, err := NewClient(ClientConfig{AccountID: "1", BaseURL: "http://" + addr, Tokens: &fakeTokens{}, Limiter: newSemLimiter(1),
		Retry: RetryPolicy{MaxAttempts: 1}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetRecord(t.Context(), "calendarevent", "1", url.Values{"fields": {"title"}})
	if !errors.Is(err, ErrTransport) || !IsRetryable(err) {
		t.Fatalf("err = %v, want retryable ErrTransport", err)
	}
	if strings.Contains(err.Error(), "fields=title") {
		t.Errorf("error repeats the query string: %v", err)
	}
}

type flakyLimiter struct {
	fails atomic.Int64
	*semLimiter
}

func (l *flakyLimiter) Acquire(ctx context.Context) (func(), error) {
	if l.fails.Add(-1) >= 0 {
		return nil, errors.New("nats: no responders available for request")
	}
	return l.semLimiter.Acquire(ctx)
}

func TestLimiterErrorIsRetried(t *testing.T) {
	t.Parallel()
	s := &script{steps: []http.HandlerFunc{respond(200, "application/json", `{"id":"1"}`)}}
	lim := &flakyLimiter{semLimiter: newSemLimiter(1)}
	lim.fails.Store(2)
	tc := newTestClient(t, s, func(c *ClientConfig) { c.Limiter = lim })
	if _, err := tc.GetRecord(t.Context(), "calendarevent", "1", nil); err != nil {
		t.Fatalf("GetRecord: %v", err)
	}
	if w := tc.sleeps.all(); len(w) != 2 || s.calls.Load() != 1 {
		t.Errorf("waits %v, requests %d; want 2 backoffs then 1 request", w, s.calls.Load())
	}
	lim.fails.Store(100)
	_, err := tc.GetRecord(t.Context(), "calendarevent", "1", nil)
	if !IsRetryable(err) || !strings.Contains(err.Error(), "acquire concurrency slot") {
		t.Errorf("err = %v, want a retryable limiter error after giving up", err)
	}
}
