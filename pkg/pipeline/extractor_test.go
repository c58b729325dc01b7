package pipeline_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/nsflow/nsflow/pkg/broker"
	"github.com/nsflow/nsflow/pkg/calendarevent"
	"github.com/nsflow/nsflow/pkg/config"
	"github.com/nsflow/nsflow/pkg/natsembed"
	"github.com/nsflow/nsflow/pkg/netsuite"
	"github.com/nsflow/nsflow/pkg/ops"
	"github.com/nsflow/nsflow/pkg/pipeline"
	"github.com/nsflow/nsflow/pkg/sandbox"
	"github.com/nsflow/nsflow/pkg/tokencache"
)

func init() { pipeline.CredentialsRecheck = 20 * time.Millisecond }

type account struct {
	sb   *sandbox.Sandbox
	base string
}

func newAccount(t *testing.T, cfg sandbox.Config) account {
	t.Helper()
	sb, err := sandbox.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	base, err := sb.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	return account{sb: sb, base: base}
}

// vars returns the per-account variables of a in the NETSUITE_ACCOUNTS form.
func (a account) vars() []string {
	c := a.sb.Config()
	p := "NETSUITE_" + config.AccountEnvToken(c.Account) + "_"
	return []string{p + "CLIENT_ID=" + c.ClientID, p + "CLIENT_SECRET=" + c.ClientSecret, p + "BASE_URL=" + a.base,
		p + "TOKEN_URL=" + a.base + "/services/rest/auth/oauth2/v1/token", p + "TIME_ZONE=" + c.TimeZone}
}

type env struct {
	js  jetstream.JetStream
	ops *ops.Server
	env pipeline.Env
	log *syncBuffer
}

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

func newEnv(t *testing.T) env {
	t.Helper()
	srv, err := natsembed.Start(natsembed.Config{StoreDir: t.TempDir(), NoListen: true})
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
	topo := broker.DefaultTopology()
	topo.LeaseTTL = 3 * time.Second
	if err := broker.Provision(context.Background(), js, topo); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	o := ops.New("", nil, log)
	return env{js: js, ops: o, log: logs, env: pipeline.Env{NC: nc, JS: js, Log: log, Ops: o}}
}

func loadConfig(t *testing.T, vars []string) config.Extractor {
	t.Helper()
	var cfg config.Extractor
	if err := config.Load(vars, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg.PollInterval = 50 * time.Millisecond
	cfg.Topology.LeaseTTL = 3 * time.Second
	return cfg
}

func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// login runs the authorization-code flow against a sandbox, playing the
// browser, and returns the new tokens.
func login(t *testing.T, a account) *netsuite.LoginResult {
	t.Helper()
	c := a.sb.Config()
	res, err := netsuite.Login(t.Context(), netsuite.LoginConfig{
		AccountID: c.Account, ClientID: c.ClientID, ClientSecret: c.ClientSecret,
		AuthorizeURL: a.base + "/app/login/oauth2/authorize.nl", TokenURL: a.base + "/services/rest/auth/oauth2/v1/token",
	}, func(u string) {
		go func() {
			resp, err := http.Get(u) //nolint:noctx // a test browser
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
			}
		}()
	})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func tokenCalls(sb *sandbox.Sandbox) int64 {
	var n int64
	for _, c := range sb.Counters().Requests["oauth2.token"] {
		n += c
	}
	return n
}

// TestSeveralAccountsOneRevoked runs two accounts in one extractor: one
// from a refresh token in the environment, one from a credentials file.
// Revoking the first one's refresh token stops that account only — it is
// reported not ready with what to do, it stops calling NetSuite, the other
// account keeps extracting and Run keeps going — and a new login stored in
// the NATS token cache (`nsflow auth login --nats`) resumes it without a
// restart.
func TestSeveralAccountsOneRevoked(t *testing.T) {
	t.Parallel()
	a := newAccount(t, sandbox.Config{Account: "TSTDRV111", Events: 300, Seed: 1})
	b := newAccount(t, sandbox.Config{Account: "TSTDRV222", Events: 200, Seed: 2})
	credsFile := filepath.Join(t.TempDir(), "b.json")
	if err := netsuite.SaveCredentialsFile(credsFile, &netsuite.Credentials{AccountID: "TSTDRV222", RefreshToken: b.sb.RefreshToken()}); err != nil {
		t.Fatal(err)
	}
	vars := append([]string{"NETSUITE_ACCOUNTS=TSTDRV111,TSTDRV222", "NSFLOW_ATTENDEES=off",
		"NETSUITE_TSTDRV111_REFRESH_TOKEN=" + a.sb.RefreshToken(), "NETSUITE_TSTDRV222_CREDENTIALS_FILE=" + credsFile},
		append(a.vars(), b.vars()...)...)
	e := newEnv(t)
	x, err := pipeline.NewExtractor(t.Context(), e.env, loadConfig(t, vars))
	if err != nil {
		t.Fatal(err)
	}
	if len(x.Accounts) != 2 {
		t.Fatalf("%d accounts", len(x.Accounts))
	}
	xa, xb := x.Accounts[0], x.Accounts[1]
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- x.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	eventually(t, 30*time.Second, "both accounts extracted", func() bool {
		return xa.X.Stats().Events >= uint64(a.sb.LiveEventCount()) && xb.X.Stats().Events >= uint64(b.sb.LiveEventCount())
	})
	if n := e.streamCount(t, calendarevent.RawSubject("TSTDRV222")); n < uint64(b.sb.LiveEventCount()) {
		t.Fatalf("%d raw messages on account B's subject", n)
	}

	a.sb.RevokeRefreshTokens()
	title := "after revocation"
	if _, err := a.sb.CreateEvent(sandbox.EventInput{Title: &title}); err != nil {
		t.Fatal(err)
	}
	bBefore := xb.X.Stats().Events
	if _, err := b.sb.CreateEvent(sandbox.EventInput{Title: &title}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "account A stopped for re-authorization", func() bool { return xa.X.Stats().Reauthorize })
	eventually(t, 30*time.Second, "account B to go on", func() bool { return xb.X.Stats().Events > bBefore })
	failed := e.ops.Ready(t.Context())
	if err := failed["netsuite_TSTDRV111"]; err == nil || !strings.Contains(err.Error(), "nsflow auth login --account TSTDRV111") {
		t.Fatalf("readiness of the revoked account: %v, want the login command", err)
	}
	if err := failed["netsuite_TSTDRV222"]; err != nil {
		t.Fatalf("the healthy account is not ready: %v", err)
	}
	// No hammering: while it waits (rechecking every 20ms), A makes no
	// NetSuite call at all.
	calls := tokenCalls(a.sb)
	suiteql := a.sb.Counters().Requests["suiteql"]
	passes := xb.X.Stats().Passes
	eventually(t, 30*time.Second, "account B to poll a few more times", func() bool { return xb.X.Stats().Passes >= passes+5 })
	if got := tokenCalls(a.sb); got != calls {
		t.Fatalf("the revoked account called the token endpoint %d more times while waiting", got-calls)
	}
	if got := a.sb.Counters().Requests["suiteql"]; len(got) != len(suiteql) || got[200] != suiteql[200] || got[401] != suiteql[401] {
		t.Fatalf("the revoked account kept querying: %v → %v", suiteql, got)
	}
	select {
	case err := <-done:
		t.Fatalf("Run returned (%v) when one account failed", err)
	default:
	}
	if !strings.Contains(e.log.String(), "extraction stopped for this account") {
		t.Fatalf("no error logged for the stopped account:\n%s", e.log.String())
	}

	// A new login stored in the NATS token cache brings A back.
	res := login(t, a)
	kv, err := e.js.KeyValue(t.Context(), "netsuite_state")
	if err != nil {
		t.Fatal(err)
	}
	if err := tokencache.New(kv, "TSTDRV111").Save(t.Context(), res.Token); err != nil {
		t.Fatal(err)
	}
	live := uint64(a.sb.LiveEventCount())
	eventually(t, 30*time.Second, "account A to resume", func() bool {
		st := xa.X.Stats()
		return !st.Reauthorize && st.Events >= live && st.LastError == ""
	})
	if err := e.ops.Ready(t.Context())["netsuite_TSTDRV111"]; err != nil {
		t.Fatalf("account A still not ready after the new login: %v", err)
	}
}

func (e env) streamCount(t *testing.T, subject string) uint64 {
	t.Helper()
	st, err := e.js.Stream(t.Context(), calendarevent.StreamRaw)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(t.Context(), jetstream.WithSubjectFilter(subject))
	if err != nil {
		t.Fatal(err)
	}
	var n uint64
	for _, c := range info.State.Subjects {
		n += c
	}
	return n
}

// TestRefreshTokenExpiryVisible: a refresh token that expires within 48
// hours is logged at Warn and exported as a timestamp; one that has
// expired makes the account not ready with the fix.
func TestRefreshTokenExpiryVisible(t *testing.T) {
	t.Parallel()
	soon := newAccount(t, sandbox.Config{Account: "TSTDRV333", Events: 10, RefreshTokenTTL: 20 * time.Hour})
	past := time.Now().Add(-8 * 24 * time.Hour)
	expired := newAccount(t, sandbox.Config{Account: "TSTDRV444", Events: 10, Now: func() time.Time { return past }})
	vars := append([]string{"NETSUITE_ACCOUNTS=TSTDRV333,TSTDRV444",
		"NETSUITE_TSTDRV333_REFRESH_TOKEN=" + soon.sb.RefreshToken(), "NETSUITE_TSTDRV444_REFRESH_TOKEN=" + expired.sb.RefreshToken()},
		append(soon.vars(), expired.vars()...)...)
	e := newEnv(t)
	x, err := pipeline.NewExtractor(t.Context(), e.env, loadConfig(t, vars))
	if err != nil {
		t.Fatal(err)
	}
	if logs := e.log.String(); !strings.Contains(logs, `"level":"WARN","msg":"netsuite refresh token expires soon`) ||
		!strings.Contains(logs, `"account":"TSTDRV333"`) || !strings.Contains(logs, `"hours_left":19`) {
		t.Fatalf("no expiry warning for TSTDRV333:\n%s", logs)
	}
	exp := gaugeValue(t, e.ops, "nsflow_netsuite_refresh_token_expiry_timestamp_seconds", "TSTDRV333")
	if want := float64(x.Accounts[0].RefreshTokenExpiry().Unix()); exp != want || exp < float64(time.Now().Add(19*time.Hour).Unix()) {
		t.Fatalf("expiry gauge %v, want %v about 20h ahead", exp, want)
	}
	failed := e.ops.Ready(t.Context())
	if failed["netsuite_TSTDRV333"] != nil {
		t.Fatalf("an expiring (not expired) token made the account not ready: %v", failed["netsuite_TSTDRV333"])
	}
	if err := failed["netsuite_TSTDRV444"]; err == nil || !strings.Contains(err.Error(), "refresh token expired") {
		t.Fatalf("readiness with an expired refresh token: %v", err)
	}
}

// gaugeValue returns the value of gauge name for account from the ops
// registry.
func gaugeValue(t *testing.T, o *ops.Server, name, account string) float64 {
	t.Helper()
	mfs, err := o.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "account" && l.GetValue() == account {
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	t.Fatalf("no %s{account=%q}", name, account)
	return 0
}

// TestOneAccountOutageDoesNotStopAnother: one account's NetSuite goes away
// (connection refused); the other account keeps extracting and the failing
// one reports its error and is retried at each poll.
func TestOneAccountOutageDoesNotStopAnother(t *testing.T) {
	t.Parallel()
	a := newAccount(t, sandbox.Config{Account: "TSTDRV555", Events: 50, Seed: 5})
	b := newAccount(t, sandbox.Config{Account: "TSTDRV666", Events: 50, Seed: 6})
	vars := append([]string{"NETSUITE_ACCOUNTS=TSTDRV555,TSTDRV666", "NSFLOW_ATTENDEES=off",
		"NETSUITE_TSTDRV555_REFRESH_TOKEN=" + a.sb.RefreshToken(), "NETSUITE_TSTDRV666_REFRESH_TOKEN=" + b.sb.RefreshToken()},
		append(a.vars(), b.vars()...)...)
	e := newEnv(t)
	cfg := loadConfig(t, vars)
	x, err := pipeline.NewExtractor(t.Context(), e.env, cfg)
	if err != nil {
		t.Fatal(err)
	}
	xa, xb := x.Accounts[0], x.Accounts[1]
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- x.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	eventually(t, 30*time.Second, "both accounts extracted", func() bool {
		return xa.X.Stats().LastPass.After(time.Time{}) && xb.X.Stats().LastPass.After(time.Time{})
	})
	if err := a.sb.Close(); err != nil { // the outage
		t.Fatal(err)
	}
	title := "during the outage"
	before := xb.X.Stats().Events
	if _, err := b.sb.CreateEvent(sandbox.EventInput{Title: &title}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "account A to report the outage", func() bool { return xa.X.Stats().LastError != "" })
	eventually(t, 30*time.Second, "account B to go on", func() bool { return xb.X.Stats().Events > before })
	if st := xa.X.Stats(); st.Reauthorize {
		t.Fatalf("an outage was taken for an authorization problem: %+v", st)
	}
	select {
	case err := <-done:
		t.Fatalf("Run returned (%v) during one account's outage", err)
	default:
	}
}

// TestNewerLoginAdoptedWhileHealthy: a login made before the old refresh
// token expires, written to the credentials file, is taken up by the
// running account at once: its refresh-token expiry moves to the new one.
func TestNewerLoginAdoptedWhileHealthy(t *testing.T) {
	t.Parallel()
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	a := newAccount(t, sandbox.Config{Account: "TSTDRV777", Events: 20, Now: now})
	file := filepath.Join(t.TempDir(), "creds.json")
	if err := netsuite.SaveCredentialsFile(file, &netsuite.Credentials{AccountID: "TSTDRV777", RefreshToken: a.sb.RefreshToken()}); err != nil {
		t.Fatal(err)
	}
	vars := append([]string{"NETSUITE_ACCOUNTS=TSTDRV777", "NETSUITE_TSTDRV777_CREDENTIALS_FILE=" + file}, a.vars()...)
	e := newEnv(t)
	x, err := pipeline.NewExtractor(t.Context(), e.env, loadConfig(t, vars))
	if err != nil {
		t.Fatal(err)
	}
	acct := x.Accounts[0]
	old := acct.RefreshTokenExpiry()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- x.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	eventually(t, 30*time.Second, "a first pass", func() bool { return !acct.X.Stats().LastPass.IsZero() })

	clock.Add(int64(3 * time.Hour)) // a day-three login: its token expires later
	res := login(t, a)
	creds := res.Credentials("")
	creds.AccountID = "TSTDRV777"
	if err := netsuite.SaveCredentialsFile(file, creds); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the newer refresh token to be adopted", func() bool {
		return acct.RefreshTokenExpiry().Sub(old) >= 3*time.Hour-time.Minute
	})
	// The older token written back is not adopted again.
	if err := netsuite.SaveCredentialsFile(file, &netsuite.Credentials{AccountID: "TSTDRV777", RefreshToken: a.sb.RefreshToken()}); err != nil {
		t.Fatal(err)
	}
	passes := acct.X.Stats().Passes
	eventually(t, 30*time.Second, "more passes", func() bool { return acct.X.Stats().Passes >= passes+3 })
	if got := acct.RefreshTokenExpiry(); got.Sub(old) < 3*time.Hour-time.Minute {
		t.Fatalf("went back to the older refresh token (expiry %v)", got)
	}
}
