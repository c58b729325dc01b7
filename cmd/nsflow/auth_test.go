package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nsflow/nsflow/pkg/broker"
	"github.com/nsflow/nsflow/pkg/natsembed"
	"github.com/nsflow/nsflow/pkg/netsuite"
	"github.com/nsflow/nsflow/pkg/sandbox"
	"github.com/nsflow/nsflow/pkg/tokencache"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type testAccount struct {
	sb   *sandbox.Sandbox
	base string
}

func startSandbox(t *testing.T, cfg sandbox.Config) testAccount {
	t.Helper()
	if cfg.Events == 0 {
		cfg.Events = 20
	}
	sb, err := sandbox.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	base, err := sb.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	return testAccount{sb: sb, base: base}
}

// environ configures the sandbox's account in the single-account form,
// without a refresh token; extra variables are appended (later ones win).
func (a testAccount) environ(extra ...string) []string {
	c := a.sb.Config()
	env := []string{
		"NETSUITE_ACCOUNT_ID=" + c.Account, "NETSUITE_CLIENT_ID=" + c.ClientID, "NETSUITE_CLIENT_SECRET=" + c.ClientSecret,
		"NETSUITE_BASE_URL=" + a.base, "NETSUITE_TOKEN_URL=" + a.base + "/services/rest/auth/oauth2/v1/token",
		"NETSUITE_AUTHORIZE_URL=" + a.base + "/app/login/oauth2/authorize.nl", "NETSUITE_TIME_ZONE=" + c.TimeZone,
	}
	return mergeEnv(env, extra)
}

// mergeEnv appends extra to env, replacing variables env already sets.
func mergeEnv(env, extra []string) []string {
	out := append([]string(nil), env...)
	for _, kv := range extra {
		k, _, _ := strings.Cut(kv, "=")
		replaced := false
		for i, e := range out {
			if ek, _, _ := strings.Cut(e, "="); ek == k {
				out[i], replaced = kv, true
			}
		}
		if !replaced {
			out = append(out, kv)
		}
	}
	return out
}

// runCLI runs nsflow with args and returns its standard output.
func runCLI(t *testing.T, environ []string, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := run(t.Context(), args, environ, &out, io.Discard)
	return out.String(), err
}

// loginCLI runs `nsflow auth login` with args, plays the browser on the URL
// it prints, and returns its output.
func loginCLI(t *testing.T, environ []string, args ...string) string {
	t.Helper()
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(t.Context(), append([]string{"auth", "login"}, args...), environ, out, io.Discard) }()
	var authURL string
	deadline := time.Now().Add(20 * time.Second)
	for authURL == "" {
		for _, line := range strings.Split(out.String(), "\n") {
			if l := strings.TrimSpace(line); strings.HasPrefix(l, "http") {
				authURL = l
			}
		}
		if authURL != "" {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("auth login ended before printing a URL: %v\n%s", err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no authorize URL printed:\n%s", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The browser: the sandbox approves at once and redirects to the local
	// callback, which answers with a page.
	resp, err := http.Get(authURL) //nolint:noctx // a test browser
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "connected to NetSuite") {
		t.Fatalf("browser got %d: %s", resp.StatusCode, body)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("auth login: %v\n%s", err, out.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("auth login did not finish after the redirect")
	}
	if !strings.Contains(authURL, "code_challenge_method=S256") || !strings.Contains(authURL, "state=") {
		t.Fatalf("authorize URL without PKCE and state: %s", authURL)
	}
	return out.String()
}

// TestAuthLoginToFileThenStatusAndCheck: `auth login` prints the URL, gets
// the tokens through the browser's redirect and writes them to a 0600 file;
// `auth status` reads the expiry from it; `check` (as the extractor would)
// authenticates with the file alone.
func TestAuthLoginToFileThenStatusAndCheck(t *testing.T) {
	t.Parallel()
	a := startSandbox(t, sandbox.Config{})
	path := filepath.Join(t.TempDir(), "creds.json")
	env := a.environ()
	out := loginCLI(t, env, "--credentials-file", path)
	if !strings.Contains(out, "Saved the tokens of account "+a.sb.Config().Account) || !strings.Contains(out, "NETSUITE_CREDENTIALS_FILE="+path) {
		t.Fatalf("login output:\n%s", out)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("credentials file mode %v, want 0600", st.Mode().Perm())
	}
	creds, err := netsuite.LoadCredentialsFile(path)
	if err != nil || creds.RefreshToken == "" || creds.AccountID != a.sb.Config().Account || creds.RefreshTokenExpiry.IsZero() {
		t.Fatalf("credentials %+v (%v)", creds, err)
	}
	if strings.Contains(out, creds.RefreshToken) || strings.Contains(out, creds.AccessToken) {
		t.Fatal("login printed a token")
	}

	env = mergeEnv(env, []string{"NETSUITE_CREDENTIALS_FILE=" + path})
	status, err := runCLI(t, env, "auth", "status")
	if err != nil {
		t.Fatalf("auth status: %v\n%s", err, status)
	}
	if !strings.Contains(status, "credentials file "+path) || !strings.Contains(status, "(in 6d 23h)") ||
		!strings.Contains(status, "access token   expires") || strings.Contains(status, "WARNING") {
		t.Fatalf("auth status:\n%s", status)
	}
	check, err := runCLI(t, env, "check", "--skip", "nats,sink")
	if err != nil {
		t.Fatalf("check with the credentials file: %v\n%s", err, check)
	}
	if !strings.Contains(check, "refresh token from credentials file") {
		t.Fatalf("check did not use the credentials file:\n%s", check)
	}
}

// TestAuthLoginToNATS stores the tokens in the NATS token cache the
// extractors share, where `auth status --nats` finds them.
func TestAuthLoginToNATS(t *testing.T) {
	t.Parallel()
	a := startSandbox(t, sandbox.Config{RefreshTokenTTL: 30 * time.Hour})
	srv, err := natsembed.Start(natsembed.Config{StoreDir: t.TempDir(), Port: -1})
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
	if err := broker.Provision(context.Background(), js, broker.DefaultTopology()); err != nil {
		t.Fatal(err)
	}
	env := a.environ("NATS_URL=" + srv.ClientURL())
	out := loginCLI(t, env, "--nats")
	if !strings.Contains(out, "NATS token cache") {
		t.Fatalf("login output:\n%s", out)
	}
	kv, err := js.KeyValue(t.Context(), "netsuite_state")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokencache.New(kv, a.sb.Config().Account).Load(t.Context())
	if err != nil || tok.RefreshToken == "" || tok.AccessToken == "" {
		t.Fatalf("token cache after login: %+v, %v", tok, err)
	}
	status, err := runCLI(t, env, "auth", "status", "--nats")
	if err != nil {
		t.Fatalf("auth status: %v\n%s", err, status)
	}
	// 30h ahead: under the 48h warning threshold.
	if !strings.Contains(status, "NATS token cache") || !strings.Contains(status, "(in 1d 5h)") || !strings.Contains(status, "WARNING") {
		t.Fatalf("auth status --nats:\n%s", status)
	}
}

// TestAuthStatusExpiredRefreshToken: an expired refresh token is reported
// with the command to run, and the exit code says so.
func TestAuthStatusExpiredRefreshToken(t *testing.T) {
	t.Parallel()
	past := time.Now().Add(-8 * 24 * time.Hour)
	a := startSandbox(t, sandbox.Config{Now: func() time.Time { return past }})
	out, err := runCLI(t, a.environ("NETSUITE_REFRESH_TOKEN="+a.sb.RefreshToken()), "auth", "status")
	if err == nil || !strings.Contains(out, "EXPIRED") || !strings.Contains(out, "nsflow auth login --account "+a.sb.Config().Account) {
		t.Fatalf("auth status with an expired token: err %v\n%s", err, out)
	}
	none, err := runCLI(t, a.environ(), "auth", "status")
	if err == nil || !strings.Contains(none, "no refresh token") {
		t.Fatalf("auth status without any token: err %v\n%s", err, none)
	}
}

func TestAuthLoginPicksAccount(t *testing.T) {
	t.Parallel()
	env := []string{"NETSUITE_ACCOUNTS=111,222", "NETSUITE_CLIENT_ID=c", "NETSUITE_CLIENT_SECRET=s"}
	if _, err := runCLI(t, env, "auth", "login"); err == nil || !strings.Contains(err.Error(), "--account") {
		t.Fatalf("two accounts without --account: %v", err)
	}
	if _, err := runCLI(t, env, "auth", "login", "--account", "333"); err == nil || !strings.Contains(err.Error(), "not configured") {
		t.Fatalf("unknown account: %v", err)
	}
	if _, err := runCLI(t, nil, "auth", "login"); err == nil || !strings.Contains(err.Error(), "NETSUITE_ACCOUNT_ID") {
		t.Fatalf("no account: %v", err)
	}
}

func TestHumanDuration(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		7*24*time.Hour - time.Minute:    "6d 23h",
		30*time.Hour - time.Second:      "1d 5h",
		5*time.Hour + 3*time.Minute:     "5h 3m",
		59*time.Minute + 59*time.Second: "59m",
		-3 * time.Hour:                  "3h 0m",
	} {
		if got := humanDuration(d); got != want {
			t.Errorf("humanDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
