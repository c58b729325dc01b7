package netsuite

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/oauth2"
)

const (
	testClientID     = "client-id-0123456789abcdef"
	testClientSecret = "client-secret-TOPSECRET-fedcba9876543210"
)

func newRefreshSource(t *testing.T, tokenURL string, mod ...func(*RefreshConfig)) (*RefreshTokenSource, *fakeClock, *logBuffer) {
	t.Helper()
	clock := newFakeClock()
	logs := &logBuffer{}
	cfg := RefreshConfig{
		AccountID:    "1234567_SB1",
		ClientID:     testClientID,
		ClientSecret: testClientSecret,
		TokenURL:     tokenURL,
		RefreshToken: fakeJWT(t, "rt-original", clock.Now().Add(7*24*time.Hour)),
		Clock:        clock.Now,
		Logger:       logs.logger(),
	}
	for _, m := range mod {
		m(&cfg)
	}
	s, err := NewRefreshTokenSource(cfg)
	if err != nil {
		t.Fatalf("NewRefreshTokenSource: %v", err)
	}
	return s, clock, logs
}

func TestRefreshWithoutRotationAndStringExpiresIn(t *testing.T) {
	t.Parallel()
	ep := newFakeTokenEndpoint(t, func(n int, _ tokenCall, w http.ResponseWriter) {
		// NetSuite's documented shape: expires_in as a string, no refresh token.
		writeJSON(w, 200, tokenJSON("access-"+itoa(n), "3600", ""))
	})
	src, clock, logs := newRefreshSource(t, ep.URL())
	rt := src.RefreshTokenExpiry()
	if want := clock.Now().Add(7 * 24 * time.Hour).Truncate(time.Second); !rt.Equal(want) {
		t.Errorf("RefreshTokenExpiry = %v, want %v (from the JWT exp claim)", rt, want)
	}

	tok, err := src.Token(t.Context())
	if err != nil {
		t.Fatalf("Token: %v", err)
	}
	if tok.AccessToken != "access-1" || tok.RefreshToken != "" {
		t.Errorf("token = %q (refresh %q), want access-1 without the refresh token", tok.AccessToken, tok.RefreshToken)
	}
	if want := clock.Now().Add(time.Hour); !tok.Expiry.Equal(want) {
		t.Errorf("expiry = %v, want %v (string expires_in parsed)", tok.Expiry, want)
	}
	// Cached until 5 minutes before expiry.
	clock.Advance(54 * time.Minute)
	if tok, _ := src.Token(t.Context()); tok.AccessToken != "access-1" {
		t.Errorf("after 54m token = %q, want the cached access-1", tok.AccessToken)
	}
	clock.Advance(2 * time.Minute)
	tok, err = src.Token(t.Context())
	if err != nil || tok.AccessToken != "access-2" {
		t.Fatalf("after 56m token = %v, %v; want a refresh", tok, err)
	}
	calls := ep.Calls()
	if len(calls) != 2 {
		t.Fatalf("token calls = %d, want 2", len(calls))
	}
	orig := calls[0].Form.Get("refresh_token")
	for i, c := range calls {
		if !c.BasicOK || c.User != testClientID || c.Pass != testClientSecret {
			t.Errorf("call %d: Basic auth = %v %q", i, c.BasicOK, c.User)
		}
		if c.Form.Get("grant_type") != "refresh_token" || c.Form.Get("client_secret") != "" {
			t.Errorf("call %d: form = %v", i, c.Form)
		}
		if c.Form.Get("refresh_token") != orig || orig == "" {
			t.Errorf("call %d reused a different refresh token: the original must be kept when none is returned", i)
		}
	}
	assertNoSecrets(t, "logs", logs.String(), testClientSecret, orig, "access-1", "access-2")
}

func TestRefreshNumericExpiresInAndRotation(t *testing.T) {
	t.Parallel()
	var rotated string
	ep := newFakeTokenEndpoint(t, func(n int, _ tokenCall, w http.ResponseWriter) {
		if n == 1 {
			writeJSON(w, 200, tokenJSON("access-1", 1800, rotated))
			return
		}
		writeJSON(w, 200, tokenJSON("access-"+itoa(n), 1800, ""))
	})
	clockForJWT := newFakeClock()
	rotated = fakeJWT(t, "rt-rotated", clockForJWT.Now().Add(3*24*time.Hour))
	src, clock, _ := newRefreshSource(t, ep.URL())
	tok, err := src.Token(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if want := clock.Now().Add(30 * time.Minute); !tok.Expiry.Equal(want) {
		t.Errorf("expiry = %v, want %v (numeric expires_in)", tok.Expiry, want)
	}
	if got := src.RefreshTokenExpiry(); !got.Equal(clockForJWT.Now().Add(3 * 24 * time.Hour)) {
		t.Errorf("RefreshTokenExpiry after rotation = %v", got)
	}
	src.Invalidate(t.Context(), tok)
	if _, err := src.Token(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := ep.Calls()[1].Form.Get("refresh_token"); got != rotated {
		t.Error("second refresh did not use the rotated refresh token")
	}
}

func TestInvalidGrantStopsRefreshing(t *testing.T) {
	t.Parallel()
	ep := newFakeTokenEndpoint(t, func(_ int, _ tokenCall, w http.ResponseWriter) {
		writeJSON(w, 400, `{"error":"invalid_grant"}`)
	})
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	src, _, logs := newRefreshSource(t, ep.URL(), func(c *RefreshConfig) { c.Metrics = m })
	_, err := src.Token(t.Context())
	if !errors.Is(err, ErrReauthorizationRequired) || !IsAuth(err) || IsRetryable(err) {
		t.Fatalf("err = %v, want ErrReauthorizationRequired (auth, permanent)", err)
	}
	for _, want := range []string{"1234567_SB1", "nsflow auth login", "NETSUITE_REFRESH_TOKEN", "client credentials (M2M)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	var te *TokenError
	if !errors.As(err, &te) || te.Code != "invalid_grant" || te.StatusCode != 400 {
		t.Errorf("TokenError = %+v", te)
	}
	for range 5 {
		if _, err2 := src.Token(t.Context()); !errors.Is(err2, ErrReauthorizationRequired) {
			t.Fatalf("later Token err = %v", err2)
		}
	}
	if n := len(ep.Calls()); n != 1 {
		t.Errorf("token endpoint calls = %d, want 1 (no hammering after invalid_grant)", n)
	}
	if got := metricValue(t, m.tokenRefreshes.WithLabelValues("1234567_SB1", "invalid_grant")); got != 1 {
		t.Errorf("token_refreshes{result=invalid_grant} = %v", got)
	}
	if logs.count(`"level":"ERROR"`) != 1 {
		t.Errorf("want exactly one error log, got:\n%s", logs)
	}
	// A new refresh token clears the failure.
	src.UpdateRefreshToken(fakeJWT(t, "rt-new", time.Now().Add(7*24*time.Hour)), time.Time{})
	_, _ = src.Token(t.Context())
	if n := len(ep.Calls()); n != 2 {
		t.Errorf("after UpdateRefreshToken, calls = %d, want 2", n)
	}
	assertNoSecrets(t, "error", err.Error(), testClientSecret)
}

func TestTokenEndpointServerErrorIsRetryable(t *testing.T) {
	t.Parallel()
	ep := newFakeTokenEndpoint(t, func(n int, _ tokenCall, w http.ResponseWriter) {
		if n == 1 {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(503)
			_, _ = w.Write([]byte("<html>maintenance</html>"))
			return
		}
		writeJSON(w, 200, tokenJSON("access-ok", "3600", ""))
	})
	src, _, _ := newRefreshSource(t, ep.URL())
	_, err := src.Token(t.Context())
	var te *TokenError
	if !IsRetryable(err) || !errors.As(err, &te) || te.StatusCode != 503 {
		t.Fatalf("err = %v, want retryable 503 TokenError", err)
	}
	if strings.Contains(err.Error(), "maintenance") {
		t.Errorf("token error carries the response body: %v", err)
	}
	tok, err := src.Token(t.Context())
	if err != nil || tok.AccessToken != "access-ok" {
		t.Fatalf("second Token = %v, %v", tok, err)
	}
}

func TestInitialAccessTokenAndInvalidate(t *testing.T) {
	t.Parallel()
	ep := newFakeTokenEndpoint(t, func(_ int, _ tokenCall, w http.ResponseWriter) {
		writeJSON(w, 200, tokenJSON("access-new", "3600", ""))
	})
	src, _, _ := newRefreshSource(t, ep.URL(), func(c *RefreshConfig) {
		c.AccessToken = "access-seed"
		c.AccessTokenExpiry = newFakeClock().Now().Add(30 * time.Minute)
	})
	tok, err := src.Token(t.Context())
	if err != nil || tok.AccessToken != "access-seed" {
		t.Fatalf("Token = %v, %v; want the seeded token", tok, err)
	}
	if len(ep.Calls()) != 0 {
		t.Error("seeded token should not trigger a refresh")
	}
	src.Invalidate(t.Context(), tok)
	tok, err = src.Token(t.Context())
	if err != nil || tok.AccessToken != "access-new" {
		t.Fatalf("after Invalidate: %v, %v", tok, err)
	}
}

func TestRefreshTokenExpiryWarningOncePerDay(t *testing.T) {
	t.Parallel()
	ep := newFakeTokenEndpoint(t, func(n int, _ tokenCall, w http.ResponseWriter) {
		writeJSON(w, 200, tokenJSON("access-"+itoa(n), "3600", ""))
	})
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	base := newFakeClock().Now()
	src, clock, logs := newRefreshSource(t, ep.URL(), func(c *RefreshConfig) {
		c.RefreshTokenExpiry = base.Add(72 * time.Hour)
		c.Metrics = m
	})
	if got := metricValue(t, m.refreshExpiry.WithLabelValues("1234567_SB1")); got != float64(base.Add(72*time.Hour).Unix()) {
		t.Errorf("expiry gauge = %v", got)
	}
	if n := logs.count("expires soon"); n != 0 {
		t.Fatalf("warned %d times with 72h left", n)
	}
	refresh := func() {
		t.Helper()
		clock.Advance(time.Hour)
		if _, err := src.Token(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	for range 24 { // down to 48h left
		refresh()
	}
	if n := logs.count("expires soon"); n != 0 {
		t.Fatalf("warned %d times with 48h left", n)
	}
	for range 23 { // 47h .. 25h left: one warning
		refresh()
	}
	if n := logs.count("expires soon"); n != 1 {
		t.Fatalf("warnings = %d, want 1 within a day", n)
	}
	refresh() // 23h after the first warning
	if n := logs.count("expires soon"); n != 1 {
		t.Fatalf("warnings = %d, want still 1 after 23h", n)
	}
	refresh() // 24h after the first warning
	if n := logs.count("expires soon"); n != 2 {
		t.Fatalf("warnings = %d, want 2 after a day", n)
	}
	if !strings.Contains(logs.String(), `"refresh_token_expires_at"`) {
		t.Error("warning lacks refresh_token_expires_at")
	}
	assertNoSecrets(t, "logs", logs.String(), testClientSecret)
}

// TestClientRecoversFromExpiredTokenWithRefreshSource wires the real source
// to the client: NetSuite rejects the seeded token, the client invalidates
// it, the source refreshes, and the retry succeeds.
func TestClientRecoversFromExpiredTokenWithRefreshSource(t *testing.T) {
	t.Parallel()
	ep := newFakeTokenEndpoint(t, func(n int, _ tokenCall, w http.ResponseWriter) {
		writeJSON(w, 200, tokenJSON("access-fresh-"+itoa(n), "3600", ""))
	})
	var seen atomic.Value
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Store(r.Header.Get("Authorization"))
		if r.Header.Get("Authorization") != "Bearer access-fresh-1" {
			writeJSON(w, 401, nsErrorBody(401, "Unauthorized", "INVALID_LOGIN", "Invalid login attempt.", ""))
			return
		}
		writeJSON(w, 200, `{"items":[{"links":[],"id":"1"}],"count":1,"hasMore":false}`)
	}))
	t.Cleanup(api.Close)
	src, _, _ := newRefreshSource(t, ep.URL(), func(c *RefreshConfig) { c.AccessToken = "access-revoked" })
	c, err := NewClient(ClientConfig{AccountID: "1234567_SB1", BaseURL: api.URL, Tokens: src, Limiter: newSemLimiter(2)})
	if err != nil {
		t.Fatal(err)
	}
	page, err := c.SuiteQL(t.Context(), "SELECT id FROM calendarevent", 10, 0)
	if err != nil {
		t.Fatalf("SuiteQL: %v", err)
	}
	if len(page.Items) != 1 || len(ep.Calls()) != 1 {
		t.Errorf("items %d, token calls %d", len(page.Items), len(ep.Calls()))
	}
}

func TestNewRefreshTokenSourceValidates(t *testing.T) {
	t.Parallel()
	ok := RefreshConfig{AccountID: "1", ClientID: "c", ClientSecret: "s", RefreshToken: "r"}
	for name, mod := range map[string]func(*RefreshConfig){
		"account":  func(c *RefreshConfig) { c.AccountID = "" },
		"client":   func(c *RefreshConfig) { c.ClientID = "" },
		"secret":   func(c *RefreshConfig) { c.ClientSecret = "" },
		"refresh":  func(c *RefreshConfig) { c.RefreshToken = "" },
		"tokenurl": func(c *RefreshConfig) { c.TokenURL = "not a url" },
	} {
		cfg := ok
		mod(&cfg)
		_, err := NewRefreshTokenSource(cfg)
		if !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: err = %v", name, err)
		}
		if err != nil && strings.Contains(err.Error(), "\"s\"") {
			t.Errorf("%s: error leaks the secret", name)
		}
	}
	// An opaque (non-JWT) refresh token has an unknown expiry.
	s, err := NewRefreshTokenSource(ok)
	if err != nil || !s.RefreshTokenExpiry().IsZero() {
		t.Errorf("opaque refresh token: %v, expiry %v", err, s.RefreshTokenExpiry())
	}
}

func TestExpiresInForms(t *testing.T) {
	t.Parallel()
	// x/oauth2 parses both forms into ExpiresIn; clientcredentials only keeps
	// the raw value, which expiresIn reads.
	for _, tt := range []struct {
		tok  *oauth2.Token
		want time.Duration
	}{
		{&oauth2.Token{ExpiresIn: 3600}, time.Hour},
		{(&oauth2.Token{}).WithExtra(map[string]any{"expires_in": "1800"}), 30 * time.Minute},
		{(&oauth2.Token{}).WithExtra(map[string]any{"expires_in": float64(60)}), time.Minute},
		{(&oauth2.Token{}).WithExtra(map[string]any{"expires_in": json.Number("5")}), 0},
		{&oauth2.Token{}, 0},
	} {
		if got := expiresIn(tt.tok); got != tt.want {
			t.Errorf("expiresIn(%v) = %s, want %s", tt.tok.Extra("expires_in"), got, tt.want)
		}
	}
}
