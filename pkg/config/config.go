// Package config holds the typed configuration of every service, read from
// environment variables (and, for secrets, from files), validated at start.
//
// Contract: every variable has one of the prefixes NSFLOW_, NETSUITE_ or
// NATS_. A variable with one of those prefixes that no service knows is an
// error naming it (a typo must not silently fall back to a default); a
// service ignores variables it does not use but another service knows, so one
// .env file can serve the whole stack. A secret NAME may instead be given as
// NAME_FILE, the path of a file holding it (Docker/Kubernetes secrets).
// .env.example at the repository root lists every variable.
package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/nsflow/nsflow/pkg/broker"
	"github.com/nsflow/nsflow/pkg/sink/aep"
)

var prefixes = []string{"NSFLOW_", "NETSUITE_", "NATS_"}

// NetSuite is one account's connection settings, with the credentials the
// reference product asks for.
//
// Several accounts: NETSUITE_ACCOUNTS lists their IDs, and each account's
// settings are the same variables with the account in the name:
// NETSUITE_<ACCOUNT>_<SETTING>, where <ACCOUNT> is the ID in upper case with
// '-' as '_' (NETSUITE_1234567_SB1_CLIENT_ID for account 1234567_SB1). A
// setting an account does not set falls back to the shared NETSUITE_<SETTING>
// for the settings in SharedSettings (an integration record's client, the
// key, time zone, concurrency); the others (tokens, URLs, certificate ID,
// credentials file) belong to one account and never fall back.
type NetSuite struct {
	AccountID string `env:"ACCOUNT_ID"`
	// AuthMode is refresh_token (authorization-code tokens) or client_credentials (M2M).
	AuthMode     string `env:"AUTH_MODE" envDefault:"refresh_token"`
	ClientID     string `env:"CLIENT_ID"`
	ClientSecret string `env:"CLIENT_SECRET" secret:"true"`
	AccessToken  string `env:"ACCESS_TOKEN" secret:"true"`
	// RefreshToken is the authorization-code refresh token. When empty, it
	// comes from CredentialsFile, or else from the NATS token cache (stored
	// there by `nsflow auth login --nats`).
	RefreshToken string `env:"REFRESH_TOKEN" secret:"true"`
	// CredentialsFile is the 0600 JSON file `nsflow auth login` writes.
	CredentialsFile string `env:"CREDENTIALS_FILE"`
	// TokenURL defaults to https://<account>.suitetalk.api.netsuite.com/services/rest/auth/oauth2/v1/token.
	TokenURL string `env:"TOKEN_URL"`
	// BaseURL defaults to https://<account>.suitetalk.api.netsuite.com.
	BaseURL string `env:"BASE_URL"`
	// AuthorizeURL (for `nsflow auth login`) defaults to
	// https://<account>.app.netsuite.com/app/login/oauth2/authorize.nl.
	AuthorizeURL string `env:"AUTHORIZE_URL"`
	// RedirectURL (for `nsflow auth login`) must equal the integration
	// record's redirect URI; default http://127.0.0.1:<free port>/callback.
	RedirectURL string `env:"REDIRECT_URL"`
	// CertificateID and PrivateKey are the M2M certificate mapping and its key (PEM).
	CertificateID string `env:"CERTIFICATE_ID"`
	PrivateKey    string `env:"PRIVATE_KEY" secret:"true"`
	// TimeZone is the integration user's time-zone preference (SuiteQL renders in it).
	TimeZone    string `env:"TIME_ZONE" envDefault:"America/Los_Angeles"`
	Concurrency int    `env:"CONCURRENCY" envDefault:"4"`

	multi bool // an account of NETSUITE_ACCOUNTS (names its variables with the account)
}

// SharedSettings are the NETSUITE_<SETTING> names an account of
// NETSUITE_ACCOUNTS inherits when it does not set NETSUITE_<ACCOUNT>_<SETTING>.
var SharedSettings = []string{"AUTH_MODE", "CLIENT_ID", "CLIENT_SECRET", "PRIVATE_KEY", "REDIRECT_URL", "TIME_ZONE", "CONCURRENCY"}

// AccountEnvToken is the form of an account ID in variable names: upper
// case, '-' as '_' ("1234567-sb1" gives "1234567_SB1").
func AccountEnvToken(account string) string {
	return strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(account), "-", "_"))
}

// Var is the name of the variable that sets setting for this account:
// NETSUITE_<SETTING> for the single-account form, NETSUITE_<ACCOUNT>_<SETTING>
// for an account of NETSUITE_ACCOUNTS.
func (n NetSuite) Var(setting string) string {
	if n.multi && setting == "ACCOUNT_ID" {
		return "NETSUITE_ACCOUNTS"
	}
	if n.multi {
		return "NETSUITE_" + AccountEnvToken(n.AccountID) + "_" + setting
	}
	return "NETSUITE_" + setting
}

// Validate names what is missing for the chosen auth mode. A refresh token
// is not required: it may come from the credentials file or the NATS token
// cache, and an account without one waits for `nsflow auth login`.
func (n NetSuite) Validate() error {
	var missing []string
	req := func(v, setting string) {
		if v == "" {
			missing = append(missing, n.Var(setting))
		}
	}
	if n.AccountID == "" {
		missing = append(missing, "NETSUITE_ACCOUNT_ID (or NETSUITE_ACCOUNTS)")
	}
	switch n.AuthMode {
	case "refresh_token":
		req(n.ClientID, "CLIENT_ID")
		req(n.ClientSecret, "CLIENT_SECRET")
	case "client_credentials":
		req(n.ClientID, "CLIENT_ID")
		req(n.CertificateID, "CERTIFICATE_ID")
		req(n.PrivateKey, "PRIVATE_KEY")
	default:
		return fmt.Errorf("%s=%q: want refresh_token or client_credentials", n.Var("AUTH_MODE"), n.AuthMode)
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing required settings for %s=%s: %s", n.Var("AUTH_MODE"), n.AuthMode, strings.Join(missing, ", "))
	}
	if n.AccountID != "" {
		if err := validAccountID(n.AccountID); err != nil {
			return err
		}
	}
	if _, err := time.LoadLocation(n.TimeZone); err != nil {
		return fmt.Errorf("%s=%q is not an IANA time zone: %w", n.Var("TIME_ZONE"), n.TimeZone, err)
	}
	if n.Concurrency < 1 {
		return fmt.Errorf("%s=%d: must be at least 1", n.Var("CONCURRENCY"), n.Concurrency)
	}
	return nil
}

func validAccountID(id string) error {
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return fmt.Errorf("NetSuite account ID %q: only letters, digits, '_' and '-' (as NetSuite shows it, e.g. 1234567 or 1234567_SB1)", id)
		}
	}
	return nil
}

// Common is shared by every service.
type Common struct {
	LogLevel string `env:"NSFLOW_LOG_LEVEL" envDefault:"info"`
	// OpsAddr serves /healthz, /readyz and /metrics.
	OpsAddr string `env:"NSFLOW_OPS_ADDR" envDefault:":9090"`
	// Pprof serves Go's profiles under /debug/pprof/ on OpsAddr.
	Pprof           bool          `env:"NSFLOW_PPROF" envDefault:"false"`
	ShutdownTimeout time.Duration `env:"NSFLOW_SHUTDOWN_TIMEOUT" envDefault:"30s"`
	// Provision creates or updates streams, consumers and buckets at start.
	Provision bool              `env:"NSFLOW_PROVISION" envDefault:"true"`
	NATS      broker.NATSConfig `envPrefix:"NATS_"`
	Topology  broker.Topology   `envPrefix:"NSFLOW_"`
}

// Extractor configures the extractor service.
type Extractor struct {
	Common
	// NetSuite is the account of the single-account form (NETSUITE_*).
	NetSuite NetSuite `envPrefix:"NETSUITE_"`
	// AccountList (NETSUITE_ACCOUNTS) names several accounts; Load fills
	// Accounts with their settings (see NetSuite). Use NetSuiteAccounts.
	AccountList  []string      `env:"NETSUITE_ACCOUNTS"`
	Accounts     []NetSuite    `env:"-"`
	PollInterval time.Duration `env:"NSFLOW_POLL_INTERVAL" envDefault:"1m"`
	Overlap      time.Duration `env:"NSFLOW_OVERLAP" envDefault:"5m"`
	PageSize     int           `env:"NSFLOW_PAGE_SIZE" envDefault:"1000"`
	Attendees    string        `env:"NSFLOW_ATTENDEES" envDefault:"suiteql"`
	Deletes      bool          `env:"NSFLOW_DELETES" envDefault:"true"`
	Since        time.Time     `env:"NSFLOW_SINCE"`
	Until        time.Time     `env:"NSFLOW_UNTIL"`
	// BackfillWindowRows is the number of events per backfill window (0:
	// the backfill splits into BackfillReaders equal windows).
	BackfillWindowRows int `env:"NSFLOW_BACKFILL_WINDOW_ROWS" envDefault:"0"`
	// BackfillReaders is the number of backfill windows read at once (0:
	// twice NETSUITE_CONCURRENCY). Requests stay within
	// NETSUITE_CONCURRENCY whatever this is: more readers than request
	// slots keep every slot busy while a reader parses and publishes a page.
	BackfillReaders int  `env:"NSFLOW_BACKFILL_READERS" envDefault:"0"`
	Once            bool `env:"NSFLOW_ONCE"`
}

// NetSuiteAccounts returns the configured accounts: those of
// NETSUITE_ACCOUNTS, or the single NETSUITE_* account.
func (c Extractor) NetSuiteAccounts() []NetSuite {
	if len(c.Accounts) > 0 {
		return c.Accounts
	}
	return []NetSuite{c.NetSuite}
}

// loadAccounts fills Accounts from NETSUITE_ACCOUNTS and the per-account
// variables in vars.
func (c *Extractor) loadAccounts(vars map[string]string) error {
	c.Accounts = nil
	if len(c.AccountList) == 0 {
		return nil
	}
	if c.NetSuite.AccountID != "" {
		return errors.New("both NETSUITE_ACCOUNT_ID and NETSUITE_ACCOUNTS are set: use NETSUITE_ACCOUNT_ID for one account or NETSUITE_ACCOUNTS for several")
	}
	seen := map[string]bool{}
	for _, id := range c.AccountList {
		id = strings.TrimSpace(id)
		if id == "" {
			continue
		}
		if err := validAccountID(id); err != nil {
			return fmt.Errorf("NETSUITE_ACCOUNTS: %w", err)
		}
		tok := AccountEnvToken(id)
		if seen[tok] {
			return fmt.Errorf("NETSUITE_ACCOUNTS lists account %s twice", id)
		}
		seen[tok] = true
		own := "NETSUITE_" + tok + "_"
		accountVars := map[string]string{}
		for _, s := range SharedSettings {
			if v, ok := vars["NETSUITE_"+s]; ok {
				accountVars["NETSUITE_"+s] = v
			}
		}
		for k, v := range vars {
			if setting, ok := strings.CutPrefix(k, own); ok {
				accountVars["NETSUITE_"+setting] = v
			}
		}
		accountVars["NETSUITE_ACCOUNT_ID"] = id
		ns := NetSuite{multi: true}
		if err := env.ParseWithOptions(&ns, env.Options{Environment: accountVars, Prefix: "NETSUITE_"}); err != nil {
			return fmt.Errorf("parse settings of account %s: %w", id, err)
		}
		c.Accounts = append(c.Accounts, ns)
	}
	if len(c.Accounts) == 0 {
		return errors.New("NETSUITE_ACCOUNTS is set but lists no account")
	}
	return nil
}

// accountVariables returns the per-account variable names the accounts of
// a NETSUITE_ACCOUNTS value may set.
func accountVariables(list string) map[string]bool {
	names := map[string]bool{}
	params, err := env.GetFieldParams(&NetSuite{})
	if err != nil {
		panic(fmt.Sprintf("config: bad struct tags: %v", err))
	}
	for _, id := range strings.Split(list, ",") {
		if id = strings.TrimSpace(id); id == "" {
			continue
		}
		for _, p := range params {
			if p.Key != "ACCOUNT_ID" {
				names["NETSUITE_"+AccountEnvToken(id)+"_"+p.Key] = true
			}
		}
	}
	return names
}

// validateAccounts checks every configured account.
func (c Extractor) validateAccounts() error {
	for _, ns := range c.NetSuiteAccounts() {
		if err := ns.Validate(); err != nil {
			if ns.multi {
				return fmt.Errorf("account %s: %w", ns.AccountID, err)
			}
			return err
		}
	}
	return nil
}

// Transformer configures the transformer service.
type Transformer struct {
	Common
	// DefaultTimeZone applies to raw records that carry no zone at all.
	DefaultTimeZone string        `env:"NSFLOW_DEFAULT_TIME_ZONE" envDefault:"UTC"`
	MaxInFlight     int           `env:"NSFLOW_MAX_IN_FLIGHT" envDefault:"512"`
	HandlerTimeout  time.Duration `env:"NSFLOW_HANDLER_TIMEOUT" envDefault:"30s"`
}

// Loader configures the loader service.
type Loader struct {
	Common
	// Sink is the sink URL: sqlite:PATH, postgres://…, jsonl:PATH|-, aep:.
	Sink      string        `env:"NSFLOW_SINK" envDefault:"sqlite:./data/events.db"`
	BatchSize int           `env:"NSFLOW_BATCH_SIZE" envDefault:"1000"`
	BatchWait time.Duration `env:"NSFLOW_BATCH_WAIT" envDefault:"50ms"`
	// MaxInFlight is how many messages the loader holds unacked at once; 0
	// (the default) means three batches (loader.MinInFlight): the two the
	// writers hold and a whole one filling meanwhile, so the sink never
	// waits for the window to refill.
	MaxInFlight int `env:"NSFLOW_MAX_IN_FLIGHT" envDefault:"0"`
	// SinkDeletes is delete (remove the row, keep a tombstone) or mark (deleted=true).
	SinkDeletes string `env:"NSFLOW_SINK_DELETES" envDefault:"delete"`
	// AEP configures the aep: sink (Adobe Experience Platform streaming ingestion).
	AEP aep.Config `envPrefix:"NSFLOW_AEP_"`
}

// Validate checks the settings common to every service.
func (c Common) Validate() error {
	if err := c.Topology.Validate(); err != nil {
		return err
	}
	if c.NATS.URL == "" {
		return errors.New("NATS_URL is empty")
	}
	return nil
}

// Validate checks the extractor settings.
func (c Extractor) Validate() error {
	if err := c.Common.Validate(); err != nil {
		return err
	}
	if err := c.validateAccounts(); err != nil {
		return err
	}
	if c.PageSize < 1 || c.PageSize > 1000 {
		return fmt.Errorf("NSFLOW_PAGE_SIZE=%d: must be 1..1000", c.PageSize)
	}
	switch c.Attendees {
	case "off", "suiteql", "rest":
	default:
		return fmt.Errorf("NSFLOW_ATTENDEES=%q: want off, suiteql or rest", c.Attendees)
	}
	if c.PollInterval < 100*time.Millisecond {
		return fmt.Errorf("NSFLOW_POLL_INTERVAL=%s: must be at least 100ms", c.PollInterval)
	}
	if c.BackfillWindowRows < 0 {
		return fmt.Errorf("NSFLOW_BACKFILL_WINDOW_ROWS=%d: must not be negative", c.BackfillWindowRows)
	}
	if c.BackfillReaders < 0 {
		return fmt.Errorf("NSFLOW_BACKFILL_READERS=%d: must not be negative (0: twice NETSUITE_CONCURRENCY)", c.BackfillReaders)
	}
	if !c.Since.IsZero() && !c.Until.IsZero() && !c.Until.After(c.Since) {
		return fmt.Errorf("NSFLOW_UNTIL=%s is not after NSFLOW_SINCE=%s", c.Until.Format(time.RFC3339), c.Since.Format(time.RFC3339))
	}
	return nil
}

// Validate checks the loader settings.
func (c Loader) Validate() error {
	if err := c.Common.Validate(); err != nil {
		return err
	}
	if c.Sink == "" {
		return errors.New("NSFLOW_SINK is empty: set a sink URL such as sqlite:./data/events.db")
	}
	if c.SinkDeletes != "delete" && c.SinkDeletes != "mark" {
		return fmt.Errorf("NSFLOW_SINK_DELETES=%q: want delete or mark", c.SinkDeletes)
	}
	if c.MaxInFlight < 0 {
		return fmt.Errorf("NSFLOW_MAX_IN_FLIGHT=%d: want 0 (three batches) or more", c.MaxInFlight)
	}
	return nil
}

// Validate checks the transformer settings.
func (c Transformer) Validate() error {
	if err := c.Common.Validate(); err != nil {
		return err
	}
	if _, err := time.LoadLocation(c.DefaultTimeZone); err != nil {
		return fmt.Errorf("NSFLOW_DEFAULT_TIME_ZONE=%q: %w", c.DefaultTimeZone, err)
	}
	return nil
}

// Load fills dst (a pointer to one of the service structs) from environ
// (os.Environ() form), resolving NAME_FILE secrets, rejecting unknown
// variables, and calling dst.Validate().
func Load(environ []string, dst interface{ Validate() error }) error {
	vars := make(map[string]string, len(environ))
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	known := Known()
	for k := range accountVariables(vars["NETSUITE_ACCOUNTS"]) {
		known[k] = true
	}
	var unknown []string
	for k, v := range vars {
		if !hasPrefix(k) {
			continue
		}
		if base, ok := strings.CutSuffix(k, "_FILE"); ok && known[base] {
			if _, set := vars[base]; set {
				return fmt.Errorf("both %s and %s are set: keep one", base, k)
			}
			b, err := os.ReadFile(v)
			if err != nil {
				return fmt.Errorf("read %s: %w", k, err)
			}
			vars[base] = strings.TrimRight(string(b), "\r\n")
			continue
		}
		if !known[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return fmt.Errorf("unknown setting(s) %s: check the spelling against .env.example", strings.Join(unknown, ", "))
	}
	if err := env.ParseWithOptions(dst, env.Options{Environment: vars}); err != nil {
		return fmt.Errorf("parse settings: %w", err)
	}
	if a, ok := dst.(interface {
		loadAccounts(vars map[string]string) error
	}); ok {
		if err := a.loadAccounts(vars); err != nil {
			return fmt.Errorf("invalid settings: %w", err)
		}
	}
	if err := dst.Validate(); err != nil {
		return fmt.Errorf("invalid settings: %w", err)
	}
	return nil
}

func hasPrefix(k string) bool {
	return slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(k, p) })
}

// Known returns every variable name some service reads.
func Known() map[string]bool {
	known := map[string]bool{}
	for _, v := range []any{&Extractor{}, &Transformer{}, &Loader{}, &Standalone{}} {
		params, err := env.GetFieldParams(v)
		if err != nil {
			panic(fmt.Sprintf("config: bad struct tags: %v", err))
		}
		for _, p := range params {
			known[p.Key] = true
		}
	}
	return known
}

// Secrets returns the names of secret variables (never logged).
func Secrets() []string {
	var out []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			p := prefix + f.Tag.Get("envPrefix")
			if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(time.Time{}) {
				walk(f.Type, p)
				continue
			}
			if f.Tag.Get("secret") == "true" {
				name, _, _ := strings.Cut(f.Tag.Get("env"), ",")
				out = append(out, p+name)
			}
		}
	}
	walk(reflect.TypeOf(Standalone{}), "")
	walk(reflect.TypeOf(Loader{}), "")
	out = append(out, "NSFLOW_AEP_IMS_CLIENT_SECRET") // tagged in package aep, which masks it itself
	sort.Strings(out)
	return slices.Compact(out)
}
