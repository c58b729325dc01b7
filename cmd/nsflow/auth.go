package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/nsflow/nsflow/pkg/broker"
	"github.com/nsflow/nsflow/pkg/config"
	"github.com/nsflow/nsflow/pkg/netsuite"
	"github.com/nsflow/nsflow/pkg/tokencache"
)

// expiryWarning is how close a refresh token's expiry must be for auth
// status (and the extractor's log) to warn.
const expiryWarning = 48 * time.Hour

func newAuthCmd(environ []string, stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "auth",
		Short: "Authorize nsflow with NetSuite (OAuth 2.0 authorization code) and show token expiry",
		Long: `NetSuite's authorization-code refresh tokens expire (7 days by default). "auth login"
gets a new one through the browser; "auth status" shows when the current one expires.
Client credentials (M2M, NETSUITE_AUTH_MODE=client_credentials) need neither.`,
	}
	cmd.AddCommand(newAuthLoginCmd(environ, stdout, stderr), newAuthStatusCmd(environ, stdout, stderr))
	return cmd
}

func newAuthLoginCmd(environ []string, stdout, stderr io.Writer) *cobra.Command {
	var (
		account, credsFile, redirectURL, authorizeURL, listen string
		toNATS                                                bool
		scopes                                                []string
		timeout                                               time.Duration
	)
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Log in to NetSuite in the browser and store the tokens for the extractor",
		Long: `Login runs the OAuth 2.0 authorization-code flow with PKCE and state: it prints the
NetSuite authorize URL to open in a browser, waits on a local listener for NetSuite's
redirect, exchanges the code, and stores the access and refresh tokens:

  - in a credentials file (mode 0600): --credentials-file, or the account's
    NETSUITE_CREDENTIALS_FILE, or ./netsuite-<account>.json; point the extractor at it
    with NETSUITE_CREDENTIALS_FILE;
  - or, with --nats, in the token cache on NATS (the state bucket) that the extractor
    replicas share: they pick the new token up without a restart.

The redirect URI (--redirect-url or NETSUITE_REDIRECT_URL) must be listed exactly on
the integration record. Real NetSuite accepts only https there: use for example
https://127.0.0.1:8976/callback; nsflow then serves the callback with a throw-away
certificate, which the browser warns about once.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadCLIConfig(environ)
			if err != nil {
				return err
			}
			ns, err := pickAccount(cfg, account)
			if err != nil {
				return err
			}
			if ns.AuthMode == "client_credentials" {
				return fmt.Errorf("account %s uses client credentials (M2M): there is no refresh token to log in for", ns.AccountID)
			}
			f := cmd.Flags()
			if !f.Changed("redirect-url") {
				redirectURL = ns.RedirectURL
			}
			if !f.Changed("authorize-url") {
				authorizeURL = ns.AuthorizeURL
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			var kv jetstream.KeyValue
			if toNATS { // connect first: a NATS problem should not cost a login
				nc, bucket, err := openStateBucket(ctx, cfg)
				if err != nil {
					return err
				}
				defer nc.Close()
				kv = bucket
			}
			res, err := netsuite.Login(ctx, netsuite.LoginConfig{
				AccountID: ns.AccountID, ClientID: ns.ClientID, ClientSecret: ns.ClientSecret,
				AuthorizeURL: authorizeURL, TokenURL: ns.TokenURL, RedirectURL: redirectURL, ListenAddr: listen,
				Scopes: scopes, Logger: newLogger(stderr, "warn"),
			}, func(u string) {
				fmt.Fprintf(stdout, "Open this URL in a browser and sign in to NetSuite account %s with the role nsflow should use:\n\n  %s\n\nWaiting for NetSuite to redirect back (Ctrl-C to give up)...\n", ns.AccountID, u)
			})
			if err != nil {
				return err
			}
			if res.Company != "" && netsuite.HostID(res.Company) != netsuite.HostID(ns.AccountID) {
				return fmt.Errorf("NetSuite authorized account %s, but account %s is configured: log in to the right account (sandbox accounts end in _SB1)", res.Company, ns.AccountID)
			}
			if kv != nil {
				if err := tokencache.New(kv, ns.AccountID).Save(ctx, res.Token); err != nil {
					return fmt.Errorf("store the tokens in NATS: %w", err)
				}
				fmt.Fprintf(stdout, "\nStored the tokens of account %s in the NATS token cache (bucket %s). Running extractors pick them up by themselves.\n",
					ns.AccountID, cfg.Topology.StateBucket)
			} else {
				path := credsFile
				if path == "" {
					path = ns.CredentialsFile
				}
				if path == "" {
					path = "netsuite-" + netsuite.HostID(ns.AccountID) + ".json"
				}
				if abs, err := filepath.Abs(path); err == nil {
					path = abs
				}
				creds := res.Credentials(ns.ClientID)
				creds.AccountID = ns.AccountID
				creds.UpdatedAt = time.Now().UTC()
				if err := netsuite.SaveCredentialsFile(path, creds); err != nil {
					return err
				}
				fmt.Fprintf(stdout, "\nSaved the tokens of account %s to %s (mode 0600).\n", ns.AccountID, path)
				if ns.CredentialsFile == "" || ns.CredentialsFile != path {
					fmt.Fprintf(stdout, "Point the extractor at it: %s=%s\n", ns.Var("CREDENTIALS_FILE"), path)
				}
			}
			if !res.RefreshTokenExpiry.IsZero() {
				fmt.Fprintf(stdout, "The refresh token expires %s (in %s): log in again before then, or switch to client credentials (M2M).\n",
					res.RefreshTokenExpiry.UTC().Format(time.RFC3339), humanDuration(time.Until(res.RefreshTokenExpiry)))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&account, "account", "", "account to log in to (when NETSUITE_ACCOUNTS lists several)")
	f.StringVar(&credsFile, "credentials-file", "", "where to store the tokens (default: NETSUITE_CREDENTIALS_FILE, else ./netsuite-<account>.json)")
	f.BoolVar(&toNATS, "nats", false, "store the tokens in the NATS token cache the extractors share (NATS_URL) instead of a file")
	f.StringVar(&redirectURL, "redirect-url", "", "redirect URI registered on the integration record (default NETSUITE_REDIRECT_URL, else http://127.0.0.1:<free port>/callback)")
	f.StringVar(&authorizeURL, "authorize-url", "", "authorize endpoint (default NETSUITE_AUTHORIZE_URL, else https://<account>.app.netsuite.com/app/login/oauth2/authorize.nl)")
	f.StringVar(&listen, "listen", "", "local address of the callback listener (default: the redirect URL's host and port)")
	f.StringSliceVar(&scopes, "scope", []string{netsuite.ScopeRESTWebServices}, "OAuth scopes to request")
	f.DurationVar(&timeout, "timeout", 10*time.Minute, "how long to wait for the browser")
	return cmd
}

func newAuthStatusCmd(environ []string, stdout, _ io.Writer) *cobra.Command {
	var (
		account, credsFile string
		fromNATS           bool
	)
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show when each account's access and refresh tokens expire",
		Long: `Status shows, for each configured account, when its refresh token and access token
expire, from every place the extractor takes them from: NETSUITE_REFRESH_TOKEN, the
credentials file, and with --nats the NATS token cache. It warns when a refresh token
expires within 48 hours and exits non-zero when an account has no refresh token that
is still valid.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadCLIConfig(environ)
			if err != nil {
				return err
			}
			accounts, err := configuredAccounts(cfg, account)
			if err != nil {
				return err
			}
			var kv jetstream.KeyValue
			if fromNATS {
				nc, bucket, err := openStateBucket(cmd.Context(), cfg)
				if err != nil {
					return err
				}
				defer nc.Close()
				kv = bucket
			}
			now := time.Now()
			var bad []string
			for _, ns := range accounts {
				if credsFile != "" {
					ns.CredentialsFile = credsFile
				}
				if !printTokenStatus(cmd.Context(), stdout, ns, kv, now) {
					bad = append(bad, ns.AccountID)
				}
			}
			if len(bad) > 0 {
				return fmt.Errorf("no valid refresh token for account(s) %s: run `nsflow auth login --account <id>`", strings.Join(bad, ", "))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&account, "account", "", "show only this account")
	f.StringVar(&credsFile, "credentials-file", "", "read this credentials file instead of NETSUITE_CREDENTIALS_FILE")
	f.BoolVar(&fromNATS, "nats", false, "also read the NATS token cache (NATS_URL)")
	return cmd
}

// storedToken is a token found where the extractor looks for one.
type storedToken struct {
	where         string
	refresh       string
	refreshExpiry time.Time
	access        string
	accessExpiry  time.Time
}

// storedTokens lists the tokens of ns in the extractor's order of
// precedence: NETSUITE_REFRESH_TOKEN, the credentials file, the NATS token
// cache (when kv is not nil). Problems reading a place are returned as
// notes.
func storedTokens(ctx context.Context, ns config.NetSuite, kv jetstream.KeyValue) (found []storedToken, notes []string) {
	if ns.RefreshToken != "" {
		found = append(found, storedToken{where: ns.Var("REFRESH_TOKEN"), refresh: ns.RefreshToken, refreshExpiry: netsuite.JWTExpiry(ns.RefreshToken), access: ns.AccessToken})
	}
	if path := ns.CredentialsFile; path != "" {
		c, err := netsuite.LoadCredentialsFile(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			notes = append(notes, "credentials file "+path+" does not exist yet")
		case err != nil:
			notes = append(notes, err.Error())
		case c.AccountID != "" && netsuite.HostID(c.AccountID) != netsuite.HostID(ns.AccountID):
			notes = append(notes, fmt.Sprintf("credentials file %s belongs to account %s", path, c.AccountID))
		default:
			st := storedToken{where: "credentials file " + path, refresh: c.RefreshToken, refreshExpiry: c.RefreshTokenExpiry,
				access: c.AccessToken, accessExpiry: c.AccessTokenExpiry}
			if st.refreshExpiry.IsZero() {
				st.refreshExpiry = netsuite.JWTExpiry(c.RefreshToken)
			}
			found = append(found, st)
		}
	}
	if kv != nil {
		tok, err := tokencache.New(kv, ns.AccountID).Load(ctx)
		switch {
		case errors.Is(err, netsuite.ErrNoToken):
			notes = append(notes, "the NATS token cache holds no token for this account")
		case err != nil:
			notes = append(notes, err.Error())
		default:
			found = append(found, storedToken{where: "NATS token cache", refresh: tok.RefreshToken, refreshExpiry: netsuite.JWTExpiry(tok.RefreshToken),
				access: tok.AccessToken, accessExpiry: tok.Expiry})
		}
	}
	return found, notes
}

// printTokenStatus writes the token status of ns and reports whether the
// account has a refresh token that is still valid (always true for M2M).
func printTokenStatus(ctx context.Context, w io.Writer, ns config.NetSuite, kv jetstream.KeyValue, now time.Time) bool {
	fmt.Fprintf(w, "account %s (%s)\n", ns.AccountID, ns.AuthMode)
	if ns.AuthMode == "client_credentials" {
		fmt.Fprintf(w, "  client credentials (M2M) with certificate %s: no refresh token, nothing expires but the certificate\n", ns.CertificateID)
		return true
	}
	found, notes := storedTokens(ctx, ns, kv)
	for _, n := range notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
	valid := false
	for i, st := range found {
		used := ""
		if i == 0 {
			used = " (used by the extractor at start)"
		}
		fmt.Fprintf(w, "  %s%s\n", st.where, used)
		switch {
		case st.refresh == "":
			fmt.Fprintf(w, "    refresh token  none\n")
		case st.refreshExpiry.IsZero():
			fmt.Fprintf(w, "    refresh token  expiry unknown (not a JWT)\n")
			valid = true
		case !st.refreshExpiry.After(now):
			fmt.Fprintf(w, "    refresh token  EXPIRED %s (%s ago): run `nsflow auth login --account %s`\n",
				st.refreshExpiry.UTC().Format(time.RFC3339), humanDuration(now.Sub(st.refreshExpiry)), ns.AccountID)
		default:
			left := st.refreshExpiry.Sub(now)
			fmt.Fprintf(w, "    refresh token  expires %s (in %s)\n", st.refreshExpiry.UTC().Format(time.RFC3339), humanDuration(left))
			if left < expiryWarning {
				fmt.Fprintf(w, "    WARNING: the refresh token expires in less than 48 hours: run `nsflow auth login --account %s` before then\n", ns.AccountID)
			}
			valid = true
		}
		switch {
		case st.access == "":
		case st.accessExpiry.IsZero():
			fmt.Fprintf(w, "    access token   expiry unknown\n")
		case !st.accessExpiry.After(now):
			fmt.Fprintf(w, "    access token   expired %s ago (renewed from the refresh token when needed)\n", humanDuration(now.Sub(st.accessExpiry)))
		default:
			fmt.Fprintf(w, "    access token   expires %s (in %s)\n", st.accessExpiry.UTC().Format(time.RFC3339), humanDuration(st.accessExpiry.Sub(now)))
		}
	}
	if len(found) == 0 {
		fmt.Fprintf(w, "  no refresh token: set %s or %s, or run `nsflow auth login --account %s` (check with --nats for the NATS token cache)\n",
			ns.Var("REFRESH_TOKEN"), ns.Var("CREDENTIALS_FILE"), ns.AccountID)
	}
	return valid
}

// humanDuration renders d as "6d 23h", "19h 5m" or "42m".
func humanDuration(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	days, hours, mins := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour), int(d%time.Hour/time.Minute)
	switch {
	case days > 0:
		return fmt.Sprintf("%dd %dh", days, hours)
	case hours > 0:
		return fmt.Sprintf("%dh %dm", hours, mins)
	default:
		return fmt.Sprintf("%dm", mins)
	}
}

// loadCLIConfig reads the settings as `nsflow run` does; with no account
// configured it is the sandbox configuration.
func loadCLIConfig(environ []string) (config.Standalone, error) {
	var cfg config.Standalone
	if err := config.Load(environ, &cfg); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// configuredAccounts returns the configured accounts, or only the one named.
func configuredAccounts(cfg config.Standalone, only string) ([]config.NetSuite, error) {
	if cfg.UseSandbox() {
		return nil, errors.New("no NetSuite account is configured: set NETSUITE_ACCOUNT_ID, NETSUITE_CLIENT_ID and NETSUITE_CLIENT_SECRET (or NETSUITE_ACCOUNTS); see .env.example")
	}
	all := cfg.NetSuiteAccounts()
	if only == "" {
		return all, nil
	}
	var ids []string
	for _, ns := range all {
		if netsuite.HostID(ns.AccountID) == netsuite.HostID(only) {
			return []config.NetSuite{ns}, nil
		}
		ids = append(ids, ns.AccountID)
	}
	return nil, fmt.Errorf("account %s is not configured (configured: %s)", only, strings.Join(ids, ", "))
}

// pickAccount returns the one account a command acts on.
func pickAccount(cfg config.Standalone, only string) (config.NetSuite, error) {
	accounts, err := configuredAccounts(cfg, only)
	if err != nil {
		return config.NetSuite{}, err
	}
	if len(accounts) > 1 {
		ids := make([]string, len(accounts))
		for i, ns := range accounts {
			ids[i] = ns.AccountID
		}
		return config.NetSuite{}, fmt.Errorf("several accounts are configured (%s): choose one with --account", strings.Join(ids, ", "))
	}
	return accounts[0], nil
}

// openStateBucket connects to NATS_URL and opens the state bucket, which
// holds cursors and the token cache.
func openStateBucket(ctx context.Context, cfg config.Standalone) (*nats.Conn, jetstream.KeyValue, error) {
	nc, err := broker.Connect(ctx, cfg.NATS, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, nil, fmt.Errorf("connect to NATS at %s: %w (set NATS_URL and its credentials)", cfg.NATS.URL, err)
	}
	js, err := broker.JetStream(nc, cfg.NATS)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	kv, err := js.KeyValue(ctx, cfg.Topology.StateBucket)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("open bucket %s: %w (create it with `nsflow provision`)", cfg.Topology.StateBucket, err)
	}
	return nc, kv, nil
}
