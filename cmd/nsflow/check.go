package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/nsflow/nsflow/pkg/broker"
	"github.com/nsflow/nsflow/pkg/calendarevent"
	"github.com/nsflow/nsflow/pkg/config"
	"github.com/nsflow/nsflow/pkg/governor"
	"github.com/nsflow/nsflow/pkg/netsuite"
	"github.com/nsflow/nsflow/pkg/sink"
)

// checkProbe is the SuiteQL query nsflow check runs first: the smallest
// read of the events table.
const checkProbe = "SELECT ce.id FROM calendarevent ce WHERE ROWNUM <= 1"

// errChecksFailed is returned when a check failed (exit code 1).
var errChecksFailed = errors.New("check failed")

type verdict int

const (
	verdictOK verdict = iota
	verdictWarn
	verdictFail
)

// report prints one line per check, with the fix under a failure.
type report struct {
	w        io.Writer
	failures int
}

func (r *report) add(v verdict, name, detail, fix string) {
	tag := map[verdict]string{verdictOK: "ok  ", verdictWarn: "WARN", verdictFail: "FAIL"}[v]
	fmt.Fprintf(r.w, "%s  %-40s %s\n", tag, name, detail)
	if fix != "" {
		fmt.Fprintf(r.w, "      %-40s fix: %s\n", "", fix)
	}
	if v == verdictFail {
		r.failures++
	}
}

func newCheckCmd(environ []string, stdout, _ io.Writer) *cobra.Command {
	var (
		account string
		skip    []string
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Verify the configuration and credentials end to end, and say what to fix",
		Long: `Check verifies, for each configured NetSuite account: the credentials at the token
endpoint, a SuiteQL probe (` + checkProbe + `), the REST record API,
the time zone (SuiteQL's rendering of an event's lastModified against the REST
record's UTC value), and the deletedrecord and attendee tables the extractor reads;
then the NATS server (streams and buckets) and the sink (open and ping). Each
failure says what is wrong and how to fix it. The exit code is 1 when any check
fails; warnings do not fail.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r := &report{w: stdout}
			cfg, err := loadCLIConfig(environ)
			if err != nil {
				r.add(verdictFail, "configuration", err.Error(), "correct the variable named (see .env.example)")
				return errChecksFailed
			}
			skipped := func(what string) bool { return slices.Contains(skip, what) }
			ctx := cmd.Context()
			var kv jetstream.KeyValue
			if !skipped("nats") {
				var nc *nats.Conn
				nc, kv = checkNATS(ctx, r, cfg, timeout)
				if nc != nil {
					defer nc.Close()
				}
			}
			if !skipped("netsuite") {
				switch accounts, err := configuredAccounts(cfg, account); {
				case cfg.UseSandbox():
					r.add(verdictWarn, "netsuite", "no NetSuite account configured: `nsflow run` uses the built-in sandbox", "set NETSUITE_ACCOUNT_ID (or NETSUITE_ACCOUNTS) and credentials to extract a real account")
				case err != nil:
					r.add(verdictFail, "netsuite", err.Error(), "")
				default:
					for _, ns := range accounts {
						checkAccount(ctx, r, cfg, ns, kv, timeout)
					}
				}
			}
			if !skipped("sink") {
				checkSink(ctx, r, environ, cfg, timeout)
			}
			if r.failures > 0 {
				fmt.Fprintf(stdout, "\n%d check(s) failed\n", r.failures)
				return fmt.Errorf("%w: %d problem(s), see above", errChecksFailed, r.failures)
			}
			fmt.Fprintln(stdout, "\nall checks passed")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&account, "account", "", "check only this NetSuite account")
	f.StringSliceVar(&skip, "skip", nil, "parts to skip: netsuite, nats, sink")
	f.DurationVar(&timeout, "timeout", 30*time.Second, "time limit of each check")
	return cmd
}

// checkAccount runs the NetSuite checks of one account.
func checkAccount(ctx context.Context, r *report, cfg config.Standalone, ns config.NetSuite, kv jetstream.KeyValue, timeout time.Duration) {
	name := func(what string) string { return "netsuite " + ns.AccountID + " " + what }
	baseURL, tokenURL := ns.BaseURL, ns.TokenURL
	if baseURL == "" {
		baseURL = netsuite.DefaultBaseURL(ns.AccountID)
	}
	if tokenURL == "" {
		tokenURL = netsuite.DefaultTokenURL(ns.AccountID)
	}
	tokens, expiry, from, err := checkTokenSource(ctx, ns, kv)
	if err != nil {
		r.add(verdictFail, name("credentials"), err.Error(), fmt.Sprintf("run `nsflow auth login --account %s`, or set %s or %s", ns.AccountID, ns.Var("REFRESH_TOKEN"), ns.Var("CREDENTIALS_FILE")))
		return
	}
	tctx, cancel := context.WithTimeout(ctx, timeout)
	tok, err := tokens.Token(tctx)
	cancel()
	if err != nil {
		detail, fix := diagnoseToken(err, ns, tokenURL, from)
		r.add(verdictFail, name("token endpoint"), detail, fix)
		return
	}
	r.add(verdictOK, name("token endpoint"), fmt.Sprintf("%s accepted the %s (access token valid %s)", tokenURL, from, humanDuration(time.Until(tok.Expiry))), "")
	if !expiry.IsZero() {
		left := time.Until(expiry)
		if left < expiryWarning {
			r.add(verdictWarn, name("refresh token"), fmt.Sprintf("expires %s (in %s)", expiry.UTC().Format(time.RFC3339), humanDuration(left)),
				fmt.Sprintf("run `nsflow auth login --account %s` before then, or switch to client credentials (M2M)", ns.AccountID))
		} else {
			r.add(verdictOK, name("refresh token"), fmt.Sprintf("expires %s (in %s)", expiry.UTC().Format(time.RFC3339), humanDuration(left)), "")
		}
	}

	lim, _ := governor.NewLocal(1)
	client, err := netsuite.NewClient(netsuite.ClientConfig{
		AccountID: ns.AccountID, BaseURL: ns.BaseURL, Tokens: tokens, Limiter: lim, RequestTimeout: timeout,
		Retry: netsuite.RetryPolicy{MaxAttempts: 2, InitialInterval: 200 * time.Millisecond, MaxInterval: time.Second, MaxElapsed: timeout},
	})
	if err != nil {
		r.add(verdictFail, name("client"), err.Error(), "check "+ns.Var("BASE_URL"))
		return
	}
	run := func(f func(ctx context.Context) error) error {
		cctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		return f(cctx)
	}

	var id string
	err = run(func(ctx context.Context) error {
		page, err := client.SuiteQL(ctx, checkProbe, 1, 0)
		if err == nil && len(page.Items) > 0 {
			id = field(page.Items[0], "id")
		}
		return err
	})
	if err != nil {
		detail, fix := diagnoseAPI(err, ns, baseURL, "SuiteQL")
		r.add(verdictFail, name("suiteql"), detail, fix)
		return
	}
	if id == "" {
		r.add(verdictOK, name("suiteql"), "SuiteQL answers; the account has no calendar events yet", "")
	} else {
		r.add(verdictOK, name("suiteql"), "SuiteQL reads calendarevent (event "+id+")", "")
	}

	var restLastModified string
	err = run(func(ctx context.Context) error {
		if id == "" {
			_, err := client.ListRecords(ctx, "calendarevent", url.Values{"limit": {"1"}})
			return err
		}
		rec, err := client.GetRecord(ctx, "calendarevent", id, url.Values{"fields": {"lastModifiedDate"}})
		if err == nil {
			restLastModified = field(rec, "lastModifiedDate")
		}
		return err
	})
	if err != nil {
		detail, fix := diagnoseAPI(err, ns, baseURL, "REST record API")
		r.add(verdictFail, name("rest"), detail, fix)
	} else {
		r.add(verdictOK, name("rest"), "the REST record API reads calendarevent", "")
	}

	if restLastModified != "" {
		checkTimeZone(ctx, r, name("time zone"), ns, client, id, restLastModified, timeout)
	} else {
		r.add(verdictWarn, name("time zone"), "not verified: no event to compare SuiteQL's and REST's timestamps on", "make sure "+ns.Var("TIME_ZONE")+" is the integration user's time zone preference")
	}

	tables := []struct{ what, q string }{}
	if cfg.Deletes {
		tables = append(tables, struct{ what, q string }{"deletedrecord", "SELECT dr.recordid FROM deletedrecord dr WHERE ROWNUM <= 1"})
	}
	if cfg.Attendees == "suiteql" {
		tables = append(tables, struct{ what, q string }{"attendees", "SELECT att.calendarevent FROM calendareventattendee att WHERE ROWNUM <= 1"})
	}
	for _, tb := range tables {
		err := run(func(ctx context.Context) error {
			_, err := client.SuiteQL(ctx, tb.q, 1, 0)
			return err
		})
		if err != nil {
			detail, fix := diagnoseAPI(err, ns, baseURL, "SuiteQL on "+tb.what)
			if tb.what == "attendees" {
				fix += "; or set NSFLOW_ATTENDEES=rest (or off)"
			} else {
				fix += "; or set NSFLOW_DELETES=false"
			}
			r.add(verdictFail, name(tb.what), detail, fix)
			continue
		}
		r.add(verdictOK, name(tb.what), "SuiteQL reads the "+tb.what+" table", "")
	}
}

// checkTokenSource builds the account's token source the way the extractor
// does, without a shared store: it reports the refresh token's expiry and
// where the credentials came from.
func checkTokenSource(ctx context.Context, ns config.NetSuite, kv jetstream.KeyValue) (netsuite.TokenSource, time.Time, string, error) {
	if ns.AuthMode == "client_credentials" {
		key, err := netsuite.ParsePrivateKeyPEM([]byte(ns.PrivateKey))
		if err != nil {
			return nil, time.Time{}, "", fmt.Errorf("%s: %w", ns.Var("PRIVATE_KEY"), err)
		}
		src, err := netsuite.NewClientCredentialsTokenSource(netsuite.M2MConfig{
			AccountID: ns.AccountID, ClientID: ns.ClientID, TokenURL: ns.TokenURL, CertificateID: ns.CertificateID, PrivateKey: key,
		})
		if err != nil {
			return nil, time.Time{}, "", err
		}
		return src, time.Time{}, "client assertion (certificate " + ns.CertificateID + ")", nil
	}
	found, notes := storedTokens(ctx, ns, kv)
	for _, st := range found {
		if st.refresh == "" {
			continue
		}
		src, err := netsuite.NewRefreshTokenSource(netsuite.RefreshConfig{
			AccountID: ns.AccountID, ClientID: ns.ClientID, ClientSecret: ns.ClientSecret, TokenURL: ns.TokenURL,
			RefreshToken: st.refresh, RefreshTokenExpiry: st.refreshExpiry,
		})
		if err != nil {
			return nil, time.Time{}, "", err
		}
		return src, st.refreshExpiry, "refresh token from " + st.where, nil
	}
	msg := "no refresh token in " + ns.Var("REFRESH_TOKEN") + ", " + ns.Var("CREDENTIALS_FILE")
	if kv != nil {
		msg += " or the NATS token cache"
	}
	if len(notes) > 0 {
		msg += " (" + strings.Join(notes, "; ") + ")"
	}
	return nil, time.Time{}, "", errors.New(msg)
}

// checkTimeZone compares SuiteQL's wall-clock rendering of an event's
// lastModified with the REST record's UTC value: the difference is the
// offset of the integration user's time zone, which NETSUITE_TIME_ZONE must
// match.
func checkTimeZone(ctx context.Context, r *report, name string, ns config.NetSuite, client *netsuite.Client, id, restValue string, timeout time.Duration) {
	utc, err := time.Parse(time.RFC3339, restValue)
	if err != nil {
		r.add(verdictWarn, name, fmt.Sprintf("not verified: the REST lastModifiedDate %q is not RFC 3339", restValue), "")
		return
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	page, err := client.SuiteQL(cctx, "SELECT ce.id, TO_CHAR(ce.lastmodifieddate, 'YYYY-MM-DD HH24:MI:SS') AS ns_lastmodified FROM calendarevent ce WHERE ce.id = "+id, 1, 0)
	if err != nil || len(page.Items) == 0 {
		r.add(verdictWarn, name, fmt.Sprintf("not verified: %v", err), "")
		return
	}
	wall, err := time.Parse("2006-01-02 15:04:05", field(page.Items[0], "ns_lastmodified"))
	if err != nil {
		r.add(verdictWarn, name, "not verified: SuiteQL's TO_CHAR output is not YYYY-MM-DD HH24:MI:SS", "")
		return
	}
	loc, err := time.LoadLocation(ns.TimeZone)
	if err != nil {
		r.add(verdictFail, name, err.Error(), "set "+ns.Var("TIME_ZONE")+" to an IANA zone such as America/Los_Angeles")
		return
	}
	netsuiteOffset := wall.Sub(utc.Truncate(time.Second)).Round(time.Minute)
	_, secs := utc.In(loc).Zone()
	configured := time.Duration(secs) * time.Second
	if netsuiteOffset == configured {
		r.add(verdictOK, name, fmt.Sprintf("%s=%s matches NetSuite (UTC%s at %s)", ns.Var("TIME_ZONE"), ns.TimeZone, offset(configured), utc.Format(time.RFC3339)), "")
		return
	}
	r.add(verdictFail, name,
		fmt.Sprintf("%s=%s is UTC%s at %s, but NetSuite renders that instant at UTC%s: the extractor would shift every timestamp by %s",
			ns.Var("TIME_ZONE"), ns.TimeZone, offset(configured), utc.Format(time.RFC3339), offset(netsuiteOffset), humanDuration(netsuiteOffset-configured)),
		"set "+ns.Var("TIME_ZONE")+" to the integration user's time zone preference (NetSuite: Home > Set Preferences > Localization > Time Zone), an IANA name with offset UTC"+offset(netsuiteOffset))
}

func offset(d time.Duration) string {
	sign := "+"
	if d < 0 {
		sign, d = "-", -d
	}
	return fmt.Sprintf("%s%02d:%02d", sign, int(d.Hours()), int(d.Minutes())%60)
}

// diagnoseToken explains a failed token request.
func diagnoseToken(err error, ns config.NetSuite, tokenURL, from string) (detail, fix string) {
	login := fmt.Sprintf("run `nsflow auth login --account %s`", ns.AccountID)
	if strings.Contains(from, "NATS") {
		login += " --nats"
	}
	m2m := ns.AuthMode == "client_credentials"
	var te *netsuite.TokenError
	switch {
	case errors.Is(err, netsuite.ErrReauthorizationRequired):
		return "NetSuite refused the " + from + " (invalid_grant): it has expired (7 days after login by default) or was revoked",
			login + " and point the extractor at the new tokens; client credentials (M2M) avoid the 7-day expiry"
	case errors.As(err, &te) && te.Code == "invalid_client":
		if m2m {
			return "NetSuite does not know the client (invalid_client): " + te.Error(),
				"check " + ns.Var("CLIENT_ID") + " against the integration record (Setup > Integration > Manage Integrations) and that the record is enabled with Client Credentials (M2M) Grant ticked"
		}
		return "NetSuite does not accept the client ID and secret (invalid_client)",
			"check " + ns.Var("CLIENT_ID") + " and " + ns.Var("CLIENT_SECRET") + " against the integration record (Setup > Integration > Manage Integrations; NetSuite shows the secret only when the record is saved: reset the credentials there if it is lost), and that the record is enabled"
	case errors.As(err, &te) && te.Code == "invalid_grant" && m2m:
		return "NetSuite refused the signed client assertion (invalid_grant)",
			"check that " + ns.Var("CERTIFICATE_ID") + " is the Certificate ID of a certificate mapped to this integration record and role (Setup > Integration > Manage Authentication > OAuth 2.0 Client Credentials (M2M) Setup), that " + ns.Var("PRIVATE_KEY") + " is its key, and that it has not expired"
	case errors.As(err, &te) && te.Code == "unauthorized_client":
		return "the integration record does not allow this grant (unauthorized_client)",
			"tick " + map[bool]string{true: "Client Credentials (M2M) Grant", false: "Authorization Code Grant"}[m2m] + " on the integration record"
	case errors.As(err, &te) && te.Code == "invalid_scope":
		return "the integration record does not allow the requested scope (invalid_scope)", "tick the REST Web Services scope on the integration record"
	case errors.As(err, &te) && te.StatusCode == http.StatusNotFound:
		return "the token endpoint " + tokenURL + " answers 404 Not Found: this host has no NetSuite account",
			"check " + ns.Var("ACCOUNT_ID") + " (the Account ID under Setup > Company > Company Information; sandboxes end in _SB1)" + urlHint(ns)
	case errors.As(err, &te) && te.Retryable():
		return "NetSuite's token endpoint failed for now: " + te.Error(), "try again in a few minutes (NetSuite may be in maintenance)"
	case errors.As(err, &te):
		return "NetSuite refused the token request: " + te.Error(), "check the integration record and " + ns.Var("CLIENT_ID")
	}
	if d, f, ok := diagnoseTransport(err, ns, tokenURL); ok {
		return d, f
	}
	if errors.Is(err, netsuite.ErrMalformedResponse) {
		return "the token URL " + tokenURL + " did not answer like an OAuth 2.0 token endpoint: " + err.Error(), "check " + ns.Var("TOKEN_URL") + urlHint(ns)
	}
	return err.Error(), ""
}

// diagnoseAPI explains a failed REST or SuiteQL request.
func diagnoseAPI(err error, ns config.NetSuite, baseURL, api string) (detail, fix string) {
	permissions := "give the integration user's role the permissions Setup > REST Web Services, Setup > Log in using OAuth 2.0 Access Tokens, Reports > SuiteAnalytics Workbook (for SuiteQL) and Lists > Events (View) (Setup > Users/Roles > Manage Roles), and log in with that role"
	var ne *netsuite.Error
	switch {
	case errors.Is(err, netsuite.ErrReauthorizationRequired):
		return "NetSuite rejected the access token and refused a new one (invalid_grant)",
			fmt.Sprintf("run `nsflow auth login --account %s`", ns.AccountID)
	case errors.As(err, &ne) && (ne.StatusCode == http.StatusForbidden || ne.HasCode("INSUFFICIENT_PERMISSION")):
		return api + ": the role lacks a permission: " + ne.Error(), permissions
	case errors.As(err, &ne) && ne.StatusCode == http.StatusUnauthorized:
		return api + ": NetSuite issued a token but refuses it here (401 " + strings.Join(codes(ne), ",") + ")",
			"the role needs Setup > REST Web Services and Setup > Log in using OAuth 2.0 Access Tokens, and the integration record the REST Web Services scope; also check that " + ns.Var("BASE_URL") + " is this account's host"
	case errors.As(err, &ne) && ne.StatusCode == http.StatusBadRequest && (strings.Contains(ne.Error(), "was not found") || strings.Contains(ne.Error(), "Unknown identifier")):
		return api + ": the role cannot see the table: " + ne.Error(), permissions
	case errors.As(err, &ne) && ne.StatusCode == http.StatusNotFound:
		return api + ": " + baseURL + " answers 404: no NetSuite REST API there (" + ne.Error() + ")",
			"check " + ns.Var("ACCOUNT_ID") + " (sandboxes end in _SB1)" + urlHint(ns)
	case errors.As(err, &ne) && ne.Throttled():
		return api + ": NetSuite refused the request for concurrency (" + ne.Error() + ")",
			"the account's concurrency limit is shared with other integrations: lower NETSUITE_CONCURRENCY or give the integration a share under Setup > Integration > Integration Governance"
	case errors.As(err, &ne) && ne.Retryable():
		return api + ": NetSuite failed for now: " + ne.Error(), "try again in a few minutes (NetSuite may be in maintenance)"
	case errors.As(err, &ne):
		return api + ": " + ne.Error(), ""
	}
	if d, f, ok := diagnoseTransport(err, ns, baseURL); ok {
		return api + ": " + d, f
	}
	return api + ": " + err.Error(), ""
}

func codes(e *netsuite.Error) []string {
	var out []string
	for _, d := range e.Details {
		out = append(out, d.Code)
	}
	return out
}

func urlHint(ns config.NetSuite) string {
	if ns.BaseURL != "" || ns.TokenURL != "" {
		return ", and " + ns.Var("BASE_URL") + " / " + ns.Var("TOKEN_URL") + " (leave them empty for a real account)"
	}
	return ""
}

// diagnoseTransport explains an error that happened before NetSuite
// answered: the host does not resolve, nothing listens, TLS, a timeout.
func diagnoseTransport(err error, ns config.NetSuite, target string) (detail, fix string, ok bool) {
	host := target
	if u, perr := url.Parse(target); perr == nil {
		host = u.Host
	}
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var unknownAuthority x509.UnknownAuthorityError
	var hostnameErr x509.HostnameError
	switch {
	case errors.As(err, &dnsErr):
		return "the host " + host + " does not resolve (" + dnsErr.Error() + ")",
			"check " + ns.Var("ACCOUNT_ID") + " (the Account ID under Setup > Company > Company Information, e.g. 1234567 or 1234567_SB1)" + urlHint(ns) + ", and DNS/proxy settings", true
	case errors.Is(err, syscall.ECONNREFUSED):
		return "nothing listens at " + host + " (connection refused)",
			"check " + ns.Var("BASE_URL") + " and " + ns.Var("TOKEN_URL") + " (for the local sandbox: is `nsflow sandbox` running on that port?)", true
	case errors.As(err, &certErr), errors.As(err, &unknownAuthority), errors.As(err, &hostnameErr):
		return "TLS to " + host + " failed: " + err.Error(), "check the URL's host, and any TLS-intercepting proxy (its CA must be trusted)", true
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return "no answer from " + host + " in time", "check network access to NetSuite (firewall, HTTPS_PROXY) and " + ns.Var("BASE_URL"), true
	case errors.Is(err, netsuite.ErrTransport):
		return "cannot reach " + host + ": " + err.Error(), "check network access to NetSuite and " + ns.Var("BASE_URL"), true
	}
	return "", "", false
}

// checkNATS connects, and checks the streams and buckets the pipeline
// uses. It returns the connection (for the caller to close) and the state
// bucket when it is there, for the token cache.
func checkNATS(ctx context.Context, r *report, cfg config.Standalone, timeout time.Duration) (*nats.Conn, jetstream.KeyValue) {
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	nc, err := broker.Connect(cctx, cfg.NATS, slog.New(slog.DiscardHandler))
	if err != nil {
		r.add(verdictFail, "nats", fmt.Sprintf("cannot connect to %s: %v", cfg.NATS.URL, err),
			"start the NATS server (with JetStream) or correct NATS_URL and its credentials (NATS_CREDS_FILE, NATS_USER/NATS_PASSWORD, NATS_TOKEN, NATS_TLS_*)")
		return nil, nil
	}
	js, err := broker.JetStream(nc, cfg.NATS)
	if err != nil {
		r.add(verdictFail, "nats", err.Error(), "enable JetStream on the NATS server (-js)")
		return nc, nil
	}
	if _, err := js.AccountInfo(cctx); err != nil {
		r.add(verdictFail, "nats", fmt.Sprintf("connected to %s, but JetStream is not available: %v", nc.ConnectedUrlRedacted(), err), "enable JetStream on the NATS server (-js) for this account")
		return nc, nil
	}
	r.add(verdictOK, "nats", "connected to "+nc.ConnectedUrlRedacted()+" with JetStream", "")
	var missing []string
	for _, s := range []string{calendarevent.StreamRaw, calendarevent.StreamEvents, calendarevent.StreamDLQ} {
		if _, err := js.Stream(cctx, s); err != nil {
			missing = append(missing, "stream "+s)
		}
	}
	var state jetstream.KeyValue
	for _, b := range []string{cfg.Topology.StateBucket, cfg.Topology.LeaseBucket} {
		kv, err := js.KeyValue(cctx, b)
		if err != nil {
			missing = append(missing, "bucket "+b)
			continue
		}
		if b == cfg.Topology.StateBucket {
			state = kv
		}
	}
	switch {
	case len(missing) == 0:
		r.add(verdictOK, "nats topology", "streams and buckets are provisioned", "")
	case cfg.Provision:
		r.add(verdictWarn, "nats topology", "not provisioned yet: "+strings.Join(missing, ", "), "the services create them at start (NSFLOW_PROVISION=true), or run `nsflow provision`")
	default:
		r.add(verdictFail, "nats topology", "missing "+strings.Join(missing, ", "), "run `nsflow provision` (NSFLOW_PROVISION=false, so the services will not create them)")
	}
	return nc, state
}

// checkSink opens the loader's sink and pings it.
func checkSink(ctx context.Context, r *report, environ []string, cfg config.Standalone, timeout time.Duration) {
	var lc config.Loader
	if err := config.Load(environ, &lc); err != nil {
		r.add(verdictFail, "sink", err.Error(), "correct the loader's settings (NSFLOW_SINK, NSFLOW_AEP_*)")
		return
	}
	rawURL := lc.Sink
	if _, set := envValue(environ, "NSFLOW_SINK"); !set {
		rawURL = "sqlite:" + filepath.Join(cfg.DataDir, "events.db")
	}
	name := "sink " + sink.Name(rawURL)
	if sink.Name(rawURL) == "sqlite" {
		path := strings.TrimPrefix(strings.TrimPrefix(rawURL, "sqlite:"), "//")
		path, _, _ = strings.Cut(path, "?")
		if _, err := os.Stat(filepath.Dir(path)); errors.Is(err, fs.ErrNotExist) {
			r.add(verdictWarn, name, "directory "+filepath.Dir(path)+" does not exist yet", "`nsflow run` creates it; for the loader service, create it or set NSFLOW_SINK")
			return
		}
	}
	deletes, err := sink.ParseDeleteMode(lc.SinkDeletes)
	if err != nil {
		r.add(verdictFail, name, err.Error(), "set NSFLOW_SINK_DELETES to delete or mark")
		return
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	s, err := sink.Open(cctx, rawURL, sink.Options{Deletes: deletes, AEP: lc.AEP})
	if err != nil {
		r.add(verdictFail, name, err.Error(), "check NSFLOW_SINK (sqlite:PATH, postgres://user:pass@host:5432/db, jsonl:PATH, aep:) and that the database is reachable")
		return
	}
	defer func() { _ = s.Close() }()
	if err := s.Ping(cctx); err != nil {
		r.add(verdictFail, name, "opened, but ping failed: "+err.Error(), "check that the sink accepts writes (credentials, disk space, AEP inlet)")
		return
	}
	r.add(verdictOK, name, "opened and answered a ping", "")
}

// field returns the string value of key in a JSON object ("" if absent).
func field(obj []byte, key string) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(obj, &m) != nil {
		return ""
	}
	var s string
	if json.Unmarshal(m[key], &s) != nil {
		return ""
	}
	return s
}
