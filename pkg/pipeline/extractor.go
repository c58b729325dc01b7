package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/oauth2"

	"github.com/nsflow/nsflow/pkg/broker"
	"github.com/nsflow/nsflow/pkg/config"
	"github.com/nsflow/nsflow/pkg/extractor"
	"github.com/nsflow/nsflow/pkg/governor"
	"github.com/nsflow/nsflow/pkg/netsuite"
	"github.com/nsflow/nsflow/pkg/tokencache"
)

// Extractor runs the extractor of every configured NetSuite account side by
// side. Each account has its own credentials and token cache, cursor,
// concurrency limiter (shared by the replicas through KV), subject and leader
// lease; an account that fails — its refresh token expired, its host down —
// never stops another, nor the process.
type Extractor struct {
	// Accounts are the accounts in configuration order.
	Accounts []*Account
	// X sums the accounts' statistics.
	X Totals
}

// Totals sums the statistics of several accounts.
type Totals struct{ accounts []*Account }

// Stats returns the accounts' summed counters. Cursor is the first
// account's; Reauthorize is set when any account needs re-authorization.
func (t Totals) Stats() extractor.Stats {
	var s extractor.Stats
	for i, a := range t.accounts {
		st := a.X.Stats()
		s.Events += st.Events
		s.Tombstones += st.Tombstones
		s.Pages += st.Pages
		s.Passes += st.Passes
		s.Reauthorize = s.Reauthorize || st.Reauthorize
		if i == 0 {
			s.Cursor, s.CaughtUpTo, s.LastPass, s.Backfill = st.Cursor, st.CaughtUpTo, st.LastPass, st.Backfill
		}
		if st.LastError != "" && s.LastError == "" {
			s.LastError = a.ID + ": " + st.LastError
		}
	}
	return s
}

// Account is one account's extractor with its lease, limiter and
// credentials.
type Account struct {
	ID      string
	X       *extractor.Extractor
	lease   *extractor.Lease
	limiter *governor.KV
	creds   *credentials
	log     *slog.Logger
	// recheck is how often an account stopped for re-authorization looks
	// for new credentials (file, token cache); no NetSuite call is made.
	recheck time.Duration
}

// CredentialsRecheck is how often an account stopped by invalid_grant looks
// for new credentials. Tests shorten it.
var CredentialsRecheck = 30 * time.Second

// NewExtractor builds, for every account of cfg, the NetSuite client (auth
// with a token cache shared through KV, limiter shared through KV) and the
// extractor.
func NewExtractor(ctx context.Context, env Env, cfg config.Extractor) (*Extractor, error) {
	topo := cfg.Topology
	stateKV, err := env.JS.KeyValue(ctx, orDefault(topo.StateBucket, "netsuite_state"))
	if err != nil {
		return nil, fmt.Errorf("open state bucket: %w (provision first: NSFLOW_PROVISION=true or `nsflow provision`)", err)
	}
	leaseKV, err := env.JS.KeyValue(ctx, orDefault(topo.LeaseBucket, "netsuite_leases"))
	if err != nil {
		return nil, fmt.Errorf("open lease bucket: %w", err)
	}
	pub, err := broker.NewPublisher(env.JS, broker.PublisherConfig{Logger: env.Log.With("stage", "extractor")})
	if err != nil {
		return nil, err
	}
	cursors, err := extractor.NewCursorStore(stateKV)
	if err != nil {
		return nil, err
	}
	mode, err := extractor.ParseAttendeeMode(cfg.Attendees)
	if err != nil {
		return nil, err
	}
	metrics := netsuite.NewMetrics(env.registerer())
	holder := replicaID()
	leaseTTL := orDuration(topo.LeaseTTL, 30*time.Second)
	e := &Extractor{}
	seen := map[string]bool{}
	for _, ns := range cfg.NetSuiteAccounts() {
		if seen[netsuite.HostID(ns.AccountID)] {
			return nil, fmt.Errorf("account %s is configured twice", ns.AccountID)
		}
		seen[netsuite.HostID(ns.AccountID)] = true
		log := env.Log.With("stage", "extractor", "account", ns.AccountID)
		creds, err := newCredentials(ctx, ns, tokencache.New(stateKV, ns.AccountID), metrics, log)
		if err != nil {
			return nil, fmt.Errorf("account %s: %w", ns.AccountID, err)
		}
		limiter, err := governor.NewKV(leaseKV, ns.AccountID, ns.Concurrency, governor.KVConfig{
			LeaseTTL: leaseTTL, Holder: holder, Logger: log,
		})
		if err != nil {
			return nil, fmt.Errorf("account %s: %w", ns.AccountID, err)
		}
		client, err := netsuite.NewClient(netsuite.ClientConfig{
			AccountID: ns.AccountID, BaseURL: ns.BaseURL, Tokens: creds, Limiter: limiter, Metrics: metrics, Logger: log,
		})
		if err != nil {
			return nil, fmt.Errorf("account %s: %w", ns.AccountID, err)
		}
		x, err := extractor.New(extractor.Config{
			Account: ns.AccountID, TimeZone: ns.TimeZone, PageSize: cfg.PageSize, Overlap: cfg.Overlap,
			PollInterval: cfg.PollInterval, Attendees: mode, RESTConcurrency: ns.Concurrency,
			Concurrency: backfillReaders(cfg.BackfillReaders, ns.Concurrency), RequestSlots: ns.Concurrency,
			WindowRows: cfg.BackfillWindowRows,
			Since:      cfg.Since, Until: cfg.Until, Deletes: cfg.Deletes, Logger: log,
		}, client, pub, cursors)
		if err != nil {
			return nil, fmt.Errorf("account %s: %w", ns.AccountID, err)
		}
		lease, err := extractor.NewLease(leaseKV, ns.AccountID, holder, leaseTTL)
		if err != nil {
			return nil, err
		}
		a := &Account{ID: ns.AccountID, X: x, lease: lease, limiter: limiter, creds: creds, log: log, recheck: CredentialsRecheck}
		registerExtractorMetrics(env.registerer(), a)
		env.addCheck("netsuite_"+ns.AccountID, a.ready)
		e.Accounts = append(e.Accounts, a)
	}
	e.X = Totals{accounts: e.Accounts}
	env.addCheck("nats", natsCheck(env.NC))
	return e, nil
}

// Run polls every account while this replica holds its leader lease, until
// ctx is done. An account stopped by invalid_grant waits for new credentials
// and resumes by itself; Run returns nil on cancellation.
func (e *Extractor) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, a := range e.Accounts {
		wg.Go(func() { a.run(ctx) })
	}
	wg.Wait()
	return nil
}

// Once runs one pass of every account (a backfill or a scheduled job), side
// by side, each under its leader lease so it never runs alongside a replica
// that leads the account. The result sums the accounts'; the error joins
// those of the accounts that failed (the others completed).
func (e *Extractor) Once(ctx context.Context) (extractor.PassResult, error) {
	var (
		mu   sync.Mutex
		sum  extractor.PassResult
		errs []error
		wg   sync.WaitGroup
	)
	for _, a := range e.Accounts {
		wg.Go(func() {
			defer func() { _ = a.limiter.Close() }()
			var res extractor.PassResult
			err := a.lease.Do(ctx, 2*a.lease.TTL(), a.log, func(ctx context.Context) error {
				var err error
				res, err = a.X.Pass(ctx)
				return err
			})
			mu.Lock()
			defer mu.Unlock()
			sum.Events += res.Events
			sum.Tombstones += res.Tombstones
			sum.Pages += res.Pages
			if err != nil {
				errs = append(errs, fmt.Errorf("account %s: %w", a.ID, err))
			}
		})
	}
	wg.Wait()
	return sum, errors.Join(errs...)
}

func (a *Account) run(ctx context.Context) {
	defer func() { _ = a.limiter.Close() }()
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		a.watchCredentials(ctx)
	}()
	defer func() { <-watchDone }()
	for {
		err := extractor.RunAsLeader(ctx, a.X, a.lease, a.log)
		if ctx.Err() != nil {
			return
		}
		if !errors.Is(err, netsuite.ErrReauthorizationRequired) {
			a.log.Error("extractor stopped", "error", err)
			return
		}
		a.log.Error("extraction stopped for this account: NetSuite needs a new authorization; other accounts go on",
			"error", err, "fix", a.creds.fixHint(), "recheck_every", a.recheck)
		if !a.awaitCredentials(ctx) {
			return
		}
		a.log.Info("new NetSuite credentials found; resuming extraction")
	}
}

// awaitCredentials polls for new credentials every a.recheck. Without a new
// refresh token it makes no NetSuite call (the token source remembers the
// refusal). It returns false when ctx ends.
func (a *Account) awaitCredentials(ctx context.Context) bool {
	t := time.NewTicker(a.recheck)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
		a.creds.reload(ctx, true)
		if _, err := a.creds.Token(ctx); err == nil {
			return true
		}
	}
}

// watchCredentials adopts, every a.recheck, a refresh token from a newer
// login (one that expires later) found in the credentials file or the token
// cache, so a login made before the old token expires takes effect at once
// and the expiry metric and warnings follow it.
func (a *Account) watchCredentials(ctx context.Context) {
	if a.creds.ns.AuthMode == "client_credentials" {
		return
	}
	t := time.NewTicker(a.recheck)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			a.creds.reload(ctx, false)
		}
	}
}

// ready fails while the account cannot extract for want of credentials, or
// its refresh token has expired.
func (a *Account) ready(context.Context) error {
	st := a.X.Stats()
	exp := a.creds.refreshTokenExpiry()
	switch {
	case st.Reauthorize:
		return fmt.Errorf("re-authorization required: %s", a.creds.fixHint())
	case !exp.IsZero() && time.Now().After(exp):
		return fmt.Errorf("refresh token expired at %s: %s", exp.UTC().Format(time.RFC3339), a.creds.fixHint())
	}
	return nil
}

// RefreshTokenExpiry returns when the account's refresh token expires (zero
// when unknown or for client credentials).
func (a *Account) RefreshTokenExpiry() time.Time { return a.creds.refreshTokenExpiry() }

// credentials is an account's token source. In refresh_token mode it finds
// the refresh token in NETSUITE_REFRESH_TOKEN, the credentials file, or the
// token cache in KV (in that order at start), and can pick up a new one from
// the file or the cache later (reload) without a restart.
type credentials struct {
	ns      config.NetSuite
	store   *tokencache.Store
	metrics *netsuite.Metrics
	log     *slog.Logger

	mu      sync.Mutex
	src     netsuite.TokenSource // nil until a refresh token is known
	refresh *netsuite.RefreshTokenSource
	current string // the refresh token in use
}

var _ netsuite.TokenSource = (*credentials)(nil)

func newCredentials(ctx context.Context, ns config.NetSuite, store *tokencache.Store, m *netsuite.Metrics, log *slog.Logger) (*credentials, error) {
	c := &credentials{ns: ns, store: store, metrics: m, log: log}
	if ns.AuthMode == "client_credentials" {
		key, err := netsuite.ParsePrivateKeyPEM([]byte(ns.PrivateKey))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ns.Var("PRIVATE_KEY"), err)
		}
		src, err := netsuite.NewClientCredentialsTokenSource(netsuite.M2MConfig{
			AccountID: ns.AccountID, ClientID: ns.ClientID, TokenURL: ns.TokenURL,
			CertificateID: ns.CertificateID, PrivateKey: key, Store: store, Metrics: m, Logger: log,
		})
		if err != nil {
			return nil, err
		}
		c.src = src
		return c, nil
	}
	if ns.RefreshToken != "" {
		if err := c.use(ns.RefreshToken, time.Time{}, ns.AccessToken); err != nil {
			return nil, err
		}
		return c, nil
	}
	if !c.reload(ctx, true) {
		log.Error("no refresh token for this account: it waits for one", "fix", c.fixHint())
	}
	return c, nil
}

// use switches to refresh token rt.
func (c *credentials) use(rt string, expiry time.Time, accessToken string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.refresh != nil {
		c.refresh.UpdateRefreshToken(rt, expiry)
		c.current = rt
		return nil
	}
	src, err := netsuite.NewRefreshTokenSource(netsuite.RefreshConfig{
		AccountID: c.ns.AccountID, ClientID: c.ns.ClientID, ClientSecret: c.ns.ClientSecret, TokenURL: c.ns.TokenURL,
		RefreshToken: rt, RefreshTokenExpiry: expiry, AccessToken: accessToken,
		Store: c.store, Metrics: c.metrics, Logger: c.log,
	})
	if err != nil {
		return err
	}
	c.src, c.refresh, c.current = src, src, rt
	return nil
}

// reload looks for a refresh token other than the one in use: in the
// credentials file, then in the KV token cache. It switches to one that
// expires later than the current one (a newer login), or to any
// other when force is set (the current one was refused). It reports whether
// it switched.
func (c *credentials) reload(ctx context.Context, force bool) bool {
	if c.ns.AuthMode == "client_credentials" {
		return false
	}
	c.mu.Lock()
	current := c.current
	c.mu.Unlock()
	better := func(rt string, expiry time.Time) bool {
		if rt == "" || rt == current {
			return false
		}
		if current == "" || force {
			return true
		}
		if expiry.IsZero() {
			expiry = netsuite.JWTExpiry(rt)
		}
		return expiry.After(netsuite.JWTExpiry(current))
	}
	if path := c.ns.CredentialsFile; path != "" {
		creds, err := netsuite.LoadCredentialsFile(path)
		switch {
		case err != nil:
			if current == "" || force {
				c.log.Warn("read credentials file", "path", path, "error", err)
			}
		case creds.AccountID != "" && netsuite.HostID(creds.AccountID) != netsuite.HostID(c.ns.AccountID):
			c.log.Error("credentials file belongs to another account; ignored", "path", path, "file_account", creds.AccountID)
		case better(creds.RefreshToken, creds.RefreshTokenExpiry):
			if err := c.use(creds.RefreshToken, creds.RefreshTokenExpiry, ""); err == nil {
				c.log.Info("using the refresh token of the credentials file", "path", path)
				return true
			}
		}
	}
	tok, err := c.store.Load(ctx)
	if err == nil && better(tok.RefreshToken, time.Time{}) {
		if err := c.use(tok.RefreshToken, time.Time{}, ""); err == nil {
			c.log.Info("using the refresh token stored in the NATS token cache")
			return true
		}
	}
	return false
}

// Token returns an access token, or an error wrapping
// netsuite.ErrReauthorizationRequired while no refresh token is known.
func (c *credentials) Token(ctx context.Context) (*oauth2.Token, error) {
	c.mu.Lock()
	src := c.src
	c.mu.Unlock()
	if src == nil {
		return nil, fmt.Errorf("account %s has no refresh token (%s): %w", c.ns.AccountID, c.fixHint(), netsuite.ErrReauthorizationRequired)
	}
	return src.Token(ctx) //nolint:wrapcheck // the client wraps it
}

// Invalidate passes NetSuite's rejection of stale on.
func (c *credentials) Invalidate(ctx context.Context, stale *oauth2.Token) {
	c.mu.Lock()
	src := c.src
	c.mu.Unlock()
	if src != nil {
		src.Invalidate(ctx, stale)
	}
}

func (c *credentials) refreshTokenExpiry() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.refresh == nil {
		return time.Time{}
	}
	return c.refresh.RefreshTokenExpiry()
}

// fixHint says what a person must do to give the account working
// credentials.
func (c *credentials) fixHint() string {
	if c.ns.AuthMode == "client_credentials" {
		return "check " + c.ns.Var("CLIENT_ID") + ", " + c.ns.Var("CERTIFICATE_ID") + " and the certificate mapping in NetSuite (Setup > Integration > OAuth 2.0 Client Credentials (M2M) Setup)"
	}
	login := "run `nsflow auth login --account " + c.ns.AccountID
	switch {
	case c.ns.CredentialsFile != "":
		return login + "` (it writes " + c.ns.CredentialsFile + "; the extractor picks the new token up within " + CredentialsRecheck.String() + ")"
	default:
		return login + " --nats` (the extractor picks the new token up from NATS within " + CredentialsRecheck.String() +
			"), or set a new " + c.ns.Var("REFRESH_TOKEN") + " and restart; client credentials (M2M) avoid the 7-day expiry"
	}
}

func registerExtractorMetrics(reg prometheus.Registerer, a *Account) {
	x := a.X
	labels := prometheus.Labels{"account": a.ID}
	for _, c := range []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "nsflow_extractor_events_total", Help: "Raw event records published.", ConstLabels: labels},
			func() float64 { return float64(x.Stats().Events) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "nsflow_extractor_tombstones_total", Help: "Deletion tombstones published.", ConstLabels: labels},
			func() float64 { return float64(x.Stats().Tombstones) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "nsflow_extractor_pages_total", Help: "SuiteQL pages read.", ConstLabels: labels},
			func() float64 { return float64(x.Stats().Pages) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "nsflow_extractor_cursor_lag_seconds",
			Help: "How far behind NetSuite the extracted data may be: now minus the later of the events cursor and the start of the last complete incremental scan (0 before the first).", ConstLabels: labels},
			func() float64 { return cursorLag(x.Stats(), time.Now()).Seconds() }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "nsflow_extractor_last_success_timestamp_seconds", Help: "When the last pass succeeded.", ConstLabels: labels},
			func() float64 { return unixOrZero(x.Stats().LastPass) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "nsflow_extractor_reauthorization_required", Help: "1 when the account's refresh token is expired or revoked (or missing): run `nsflow auth login`.", ConstLabels: labels},
			func() float64 { return boolGauge(x.Stats().Reauthorize) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "nsflow_extractor_backfill_windows", Help: "Windows of the running (or last) backfill planned so far.", ConstLabels: labels},
			func() float64 { return float64(x.Stats().Backfill.Windows) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "nsflow_extractor_backfill_windows_done", Help: "Windows of the running (or last) backfill read completely.", ConstLabels: labels},
			func() float64 { return float64(x.Stats().Backfill.WindowsDone) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "nsflow_extractor_backfill_active", Help: "1 while a backfill runs.", ConstLabels: labels},
			func() float64 { return boolGauge(x.Stats().Backfill.Active) }),
	} {
		_ = reg.Register(c)
	}
}

// cursorLag is how far behind NetSuite the extracted data may be.
func cursorLag(st extractor.Stats, now time.Time) time.Duration {
	at := st.CaughtUpTo
	if st.Cursor.LastModified.After(at) {
		at = st.Cursor.LastModified
	}
	if at.IsZero() {
		return 0
	}
	return max(now.Sub(at), 0)
}

func unixOrZero(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.Unix())
}

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func replicaID() string {
	h, _ := os.Hostname()
	if h == "" {
		h = "nsflow"
	}
	return h + "-" + strconv.Itoa(os.Getpid())
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func orDuration(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// backfillReaders is the number of backfill windows read at once:
// configured, or twice the account's request budget. A reader holds a
// request slot only while its page is in flight; between pages it parses
// and publishes, and with as many readers as slots that slot sits idle
// (bench/README.md, finding 16). The limiter keeps requests within the
// budget either way.
func backfillReaders(configured, concurrency int) int {
	if configured > 0 {
		return configured
	}
	return 2 * concurrency
}
