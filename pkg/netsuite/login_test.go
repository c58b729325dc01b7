package netsuite

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeNetSuiteOAuth serves the authorize page (redirecting at once, as if
// the user had logged in and clicked Allow) and the token endpoint.
type fakeNetSuiteOAuth struct {
	srv        *httptest.Server
	mu         sync.Mutex
	challenge  string
	redirect   string
	authzQuery url.Values
	tokenCalls int
	tokenForm  url.Values
	// redirectQuery builds the callback query from the authorize request.
	redirectQuery func(q url.Values) url.Values
	refresh       string
}

func newFakeNetSuiteOAuth(t *testing.T) *fakeNetSuiteOAuth {
	t.Helper()
	f := &fakeNetSuiteOAuth{refresh: fakeJWT(t, "rt-login", newFakeClock().Now().Add(7*24*time.Hour))}
	f.redirectQuery = func(q url.Values) url.Values {
		return url.Values{"state": {q.Get("state")}, "role": {"3"}, "entity": {"4622"}, "company": {"TSTDRV123456"}, "code": {"auth-code-1"}}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+pathAuthz, func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		f.mu.Lock()
		f.authzQuery = q
		f.challenge = q.Get("code_challenge")
		f.redirect = q.Get("redirect_uri")
		f.mu.Unlock()
		http.Redirect(w, r, q.Get("redirect_uri")+"?"+f.redirectQuery(q).Encode(), http.StatusFound)
	})
	mux.HandleFunc("POST "+pathToken, func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		user, pass, ok := r.BasicAuth()
		f.mu.Lock()
		f.tokenCalls++
		f.tokenForm = r.PostForm
		challenge, redirect := f.challenge, f.redirect
		f.mu.Unlock()
		sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
		switch {
		case !ok || user != testClientID || pass != testClientSecret:
			writeJSON(w, 401, `{"error":"invalid_client"}`)
		case r.PostForm.Get("grant_type") != "authorization_code" || r.PostForm.Get("code") != "auth-code-1" ||
			r.PostForm.Get("redirect_uri") != redirect:
			writeJSON(w, 400, `{"error":"invalid_request"}`)
		case base64.RawURLEncoding.EncodeToString(sum[:]) != challenge:
			writeJSON(w, 400, `{"error":"invalid_grant"}`)
		default:
			writeJSON(w, 200, tokenJSON("login-access", "3600", f.refresh))
		}
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

// browser follows the authorize URL through the redirect to the callback.
type browserResult struct {
	status int
	body   string
	err    error
}

func browse(client *http.Client, authURL string, out chan<- browserResult) {
	resp, err := client.Get(authURL)
	if err != nil {
		out <- browserResult{err: err}
		return
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	out <- browserResult{status: resp.StatusCode, body: string(b)}
}

func loginConfig(f *fakeNetSuiteOAuth) LoginConfig {
	return LoginConfig{
		AccountID:    "TSTDRV123456",
		ClientID:     testClientID,
		ClientSecret: testClientSecret,
		AuthorizeURL: f.srv.URL + pathAuthz,
		TokenURL:     f.srv.URL + pathToken,
		Scopes:       []string{"rest_webservices", "restlets"},
	}
}

func TestLoginEndToEnd(t *testing.T) {
	t.Parallel()
	f := newFakeNetSuiteOAuth(t)
	browser := make(chan browserResult, 1)
	var shown string
	res, err := Login(t.Context(), loginConfig(f), func(u string) {
		shown = u
		go browse(http.DefaultClient, u, browser)
	})
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	b := <-browser
	if b.err != nil || b.status != 200 || !strings.Contains(b.body, "connected to NetSuite") {
		t.Errorf("browser got %d %q (%v)", b.status, b.body, b.err)
	}
	assertNoSecrets(t, "browser page", b.body, "login-access", f.refresh, testClientSecret)

	if res.Token.AccessToken != "login-access" || res.Token.RefreshToken != f.refresh {
		t.Errorf("tokens = %q / refresh match %v", res.Token.AccessToken, res.Token.RefreshToken == f.refresh)
	}
	if res.Company != "TSTDRV123456" || res.Role != "3" || res.Entity != "4622" {
		t.Errorf("company/role/entity = %q %q %q", res.Company, res.Role, res.Entity)
	}
	if want := newFakeClock().Now().Add(7 * 24 * time.Hour); !res.RefreshTokenExpiry.Equal(want) {
		t.Errorf("RefreshTokenExpiry = %v, want %v", res.RefreshTokenExpiry, want)
	}

	f.mu.Lock()
	q := f.authzQuery
	f.mu.Unlock()
	if q.Get("response_type") != "code" || q.Get("client_id") != testClientID || q.Get("code_challenge_method") != "S256" {
		t.Errorf("authorize query = %v", q)
	}
	if q.Get("scope") != "rest_webservices restlets" || !strings.Contains(shown, "scope=rest_webservices%20restlets") {
		t.Errorf("scope = %q in %s, want space-separated, %%20-encoded", q.Get("scope"), shown)
	}
	if st := q.Get("state"); len(st) < 32 || strings.ContainsAny(st, "+/=") {
		t.Errorf("state = %q, want 32+ url-safe characters", st)
	}
	if ru, err := url.Parse(q.Get("redirect_uri")); err != nil || ru.Scheme != "http" || ru.Hostname() != "127.0.0.1" || ru.Path != "/callback" {
		t.Errorf("redirect_uri = %q", q.Get("redirect_uri"))
	}
	if len(q.Get("code_challenge")) != 43 {
		t.Errorf("code_challenge = %q", q.Get("code_challenge"))
	}
	creds := res.Credentials(testClientID)
	if creds.AccountID != "TSTDRV123456" || creds.RefreshToken != f.refresh {
		t.Errorf("Credentials = %+v", creds.AccountID)
	}
}

func TestLoginStateMismatch(t *testing.T) {
	t.Parallel()
	f := newFakeNetSuiteOAuth(t)
	f.redirectQuery = func(url.Values) url.Values {
		return url.Values{"state": {"forged-state-0123456789012345678901234"}, "code": {"auth-code-1"}, "company": {"TSTDRV123456"}}
	}
	browser := make(chan browserResult, 1)
	_, err := Login(t.Context(), loginConfig(f), func(u string) { go browse(http.DefaultClient, u, browser) })
	if !errors.Is(err, ErrStateMismatch) {
		t.Fatalf("err = %v, want ErrStateMismatch", err)
	}
	if b := <-browser; b.status != http.StatusBadRequest || !strings.Contains(b.body, "login failed") {
		t.Errorf("browser got %d %q", b.status, b.body)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.tokenCalls != 0 {
		t.Errorf("token endpoint called %d times after a state mismatch", f.tokenCalls)
	}
}

func TestLoginErrorRedirect(t *testing.T) {
	t.Parallel()
	f := newFakeNetSuiteOAuth(t)
	f.redirectQuery = func(q url.Values) url.Values {
		return url.Values{"state": {q.Get("state")}, "error": {"access_denied"}}
	}
	browser := make(chan browserResult, 1)
	_, err := Login(t.Context(), loginConfig(f), func(u string) { go browse(http.DefaultClient, u, browser) })
	if !errors.Is(err, ErrAuthorizationDenied) || !strings.Contains(err.Error(), "access_denied") {
		t.Fatalf("err = %v, want ErrAuthorizationDenied mentioning access_denied", err)
	}
	<-browser
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.tokenCalls != 0 {
		t.Error("token endpoint called after an error redirect")
	}
}

func TestLoginHTTPSCallback(t *testing.T) {
	t.Parallel()
	f := newFakeNetSuiteOAuth(t)
	cfg := loginConfig(f)
	cfg.RedirectURL = "https://127.0.0.1/callback"
	if _, err := Login(t.Context(), cfg, func(string) {}); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("https redirect without a port: err = %v, want ErrInvalidConfig", err)
	}
	cfg.RedirectURL = "https://example.com:8443/callback"
	if _, err := Login(t.Context(), cfg, func(string) {}); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("non-loopback redirect: err = %v, want ErrInvalidConfig", err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	cfg.RedirectURL = "https://127.0.0.1:" + strconv.Itoa(port) + "/callback"
	insecure := &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // the callback's throw-away self-signed certificate
	}}
	browser := make(chan browserResult, 1)
	res, err := Login(t.Context(), cfg, func(u string) { go browse(insecure, u, browser) })
	if err != nil {
		t.Fatalf("Login over https: %v", err)
	}
	if b := <-browser; b.status != 200 {
		t.Errorf("browser got %d %q", b.status, b.body)
	}
	if res.Company != "TSTDRV123456" {
		t.Errorf("company = %q", res.Company)
	}
}

func TestLoginDerivesTokenURLFromCompany(t *testing.T) {
	t.Parallel()
	// With no account and no token URL, the token URL comes from the
	// redirect's company. The transport checks the derived host and hands
	// the request to the fake.
	f := newFakeNetSuiteOAuth(t)
	cfg := loginConfig(f)
	cfg.AccountID, cfg.TokenURL = "", ""
	cfg.HTTPClient = &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.URL.Host != "tstdrv123456.suitetalk.api.netsuite.com" || r.URL.Path != pathToken {
			t.Errorf("token request to %s", r.URL)
		}
		// Answer as the fake does.
		rr := httptest.NewRecorder()
		r2 := r.Clone(r.Context())
		r2.URL.Host, r2.Host, r2.URL.Scheme = "", "", ""
		r2.RequestURI = pathToken
		f.srv.Config.Handler.ServeHTTP(rr, r2)
		return rr.Result(), nil
	})}
	browser := make(chan browserResult, 1)
	res, err := Login(t.Context(), cfg, func(u string) { go browse(http.DefaultClient, u, browser) })
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	<-browser
	if res.Company != "TSTDRV123456" || res.Token.AccessToken != "login-access" {
		t.Errorf("result = %+v", res)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
