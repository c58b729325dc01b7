package sandbox

import (
	"crypto/rsa"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/nsflow/nsflow/pkg/sandbox/nstime"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultAccount          = "TSTDRV1234567"
	DefaultClientID         = "nsflow-sandbox-client"
	DefaultClientSecret     = "nsflow-sandbox-secret"
	DefaultEvents           = 10000
	DefaultConcurrencyLimit = 5
	DefaultAccessTokenTTL   = 60 * time.Minute
	DefaultRefreshTokenTTL  = 7 * 24 * time.Hour
	DefaultTimeZone         = "America/Los_Angeles"
	DefaultDateFormat       = "M/d/yyyy"
	// MaxEvents bounds Config.Events.
	MaxEvents = 10_000_000
)

// Config configures a Sandbox. The zero value of every field selects its
// default.
type Config struct {
	// Account is the NetSuite account ID (default "TSTDRV1234567"). Its host
	// form (lowercase, '_' → '-') is what a real token URL would carry.
	Account string
	// ClientID and ClientSecret identify the one integration record
	// (confidential client) the sandbox knows.
	ClientID     string
	ClientSecret string
	// RefreshToken is a refresh token the sandbox accepts from the start;
	// a signed JWT is generated when empty. See (*Sandbox).RefreshToken.
	RefreshToken string
	// Events is the size of the generated data set (default 10000,
	// at most MaxEvents).
	Events int
	// Seed selects the data set and the fault sequence.
	Seed int64
	// ConcurrencyLimit is the account concurrency limit for API requests:
	// 0 selects the default 5, a negative value means unlimited. (The
	// --concurrency-limit flag and SetConcurrencyLimit take 0 as unlimited.)
	ConcurrencyLimit int
	// ConcurrencyErrorStatus is the status of CONCURRENCY_LIMIT_EXCEEDED
	// responses: 429 (default) or 400, the variant some accounts send.
	ConcurrencyErrorStatus int
	// AccessTokenTTL (default 60m) and RefreshTokenTTL (default 7 days).
	AccessTokenTTL  time.Duration
	RefreshTokenTTL time.Duration
	// Latency is added to every API request (record, SuiteQL, OAuth; not
	// the control API).
	Latency time.Duration
	// TimeZone is the account and user time zone (default
	// "America/Los_Angeles").
	TimeZone string
	// DateFormat is the user date-format preference (default "M/d/yyyy").
	DateFormat string
	// Now is the clock for data, token lifetimes and changes (default
	// time.Now). Latency and hang faults use real time.
	Now func() time.Time
	// Epoch anchors the generated data set: every generated event is
	// created and last modified at or before it, and event dates spread
	// around it (default: Now at start). The same Seed, Events and Epoch
	// always give the same data set, so a sandbox restarted with the
	// Epoch of its first start serves what an extractor has already read
	// unchanged instead of a whole new set of versions.
	Epoch time.Time
	// Logger receives request and error logs (default: discarded).
	Logger *slog.Logger
	// SigningKey signs the access and refresh tokens (RS256). A 2048-bit
	// key is generated on first use when nil.
	SigningKey *rsa.PrivateKey
}

var accountRE = regexp.MustCompile(`^[A-Za-z0-9_]+$`)

// withDefaults fills zero fields.
func (c Config) withDefaults() Config {
	if c.Account == "" {
		c.Account = DefaultAccount
	}
	if c.ClientID == "" {
		c.ClientID = DefaultClientID
	}
	if c.ClientSecret == "" {
		c.ClientSecret = DefaultClientSecret
	}
	if c.Events == 0 {
		c.Events = DefaultEvents
	}
	if c.ConcurrencyLimit == 0 {
		c.ConcurrencyLimit = DefaultConcurrencyLimit
	}
	if c.ConcurrencyErrorStatus == 0 {
		c.ConcurrencyErrorStatus = 429
	}
	if c.AccessTokenTTL == 0 {
		c.AccessTokenTTL = DefaultAccessTokenTTL
	}
	if c.RefreshTokenTTL == 0 {
		c.RefreshTokenTTL = DefaultRefreshTokenTTL
	}
	if c.TimeZone == "" {
		c.TimeZone = DefaultTimeZone
	}
	if c.DateFormat == "" {
		c.DateFormat = DefaultDateFormat
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

func (c Config) validate() (*time.Location, *nstime.DatePref, error) {
	if !accountRE.MatchString(c.Account) {
		return nil, nil, fmt.Errorf("validate config: account %q must be letters, digits and '_'", c.Account)
	}
	if c.Events < 1 || c.Events > MaxEvents {
		return nil, nil, fmt.Errorf("validate config: events %d must be between 1 and %d", c.Events, MaxEvents)
	}
	if c.ConcurrencyErrorStatus != 429 && c.ConcurrencyErrorStatus != 400 {
		return nil, nil, fmt.Errorf("validate config: concurrency error status %d must be 429 or 400", c.ConcurrencyErrorStatus)
	}
	if c.AccessTokenTTL < time.Second || c.RefreshTokenTTL < time.Second {
		return nil, nil, fmt.Errorf("validate config: token TTLs must be at least 1s")
	}
	if c.Latency < 0 {
		return nil, nil, fmt.Errorf("validate config: latency %v is negative", c.Latency)
	}
	if c.SigningKey != nil && c.SigningKey.N.BitLen() < 2048 {
		return nil, nil, fmt.Errorf("validate config: signing key must have at least 2048 bits")
	}
	loc, err := time.LoadLocation(c.TimeZone)
	if err != nil || c.TimeZone == "Local" {
		return nil, nil, fmt.Errorf("validate config: load time zone %q: %w", c.TimeZone, err)
	}
	pref, err := nstime.ParseDatePref(c.DateFormat)
	if err != nil {
		return nil, nil, fmt.Errorf("validate config: %w", err)
	}
	return loc, pref, nil
}

// AccountHost returns the account ID in host form: lowercase, '_' → '-'.
func (c Config) AccountHost() string {
	return strings.ReplaceAll(strings.ToLower(c.Account), "_", "-")
}

// concurrencyFlag maps the flag convention (0 = unlimited) onto Config's
// (negative = unlimited).
type concurrencyFlag struct{ p *int }

func (f concurrencyFlag) String() string {
	if *f.p < 0 {
		return "0"
	}
	return strconv.Itoa(*f.p)
}

func (f concurrencyFlag) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return fmt.Errorf("parse concurrency limit %q: want a non-negative integer", s)
	}
	if n == 0 {
		n = -1
	}
	*f.p = n
	return nil
}

func (f concurrencyFlag) Type() string { return "int" }

// BindFlags registers the sandbox flags on fs, writing into cfg. Flag
// defaults are cfg's values with the package defaults filled in. The
// listen address is not a sandbox flag; the command owns it.
func BindFlags(fs *pflag.FlagSet, cfg *Config) {
	d := cfg.withDefaults()
	*cfg = Config{Account: d.Account, ClientID: d.ClientID, ClientSecret: d.ClientSecret,
		RefreshToken: cfg.RefreshToken, Events: d.Events, Seed: cfg.Seed, ConcurrencyLimit: d.ConcurrencyLimit,
		ConcurrencyErrorStatus: d.ConcurrencyErrorStatus, AccessTokenTTL: d.AccessTokenTTL,
		RefreshTokenTTL: d.RefreshTokenTTL, Latency: cfg.Latency, TimeZone: d.TimeZone, DateFormat: d.DateFormat,
		Now: cfg.Now, Logger: cfg.Logger, SigningKey: cfg.SigningKey}
	fs.StringVar(&cfg.Account, "account", cfg.Account, "NetSuite account ID the sandbox simulates")
	fs.StringVar(&cfg.ClientID, "client-id", cfg.ClientID, "OAuth 2.0 client ID of the integration record")
	fs.StringVar(&cfg.ClientSecret, "client-secret", cfg.ClientSecret, "OAuth 2.0 client secret of the integration record")
	fs.StringVar(&cfg.RefreshToken, "refresh-token", cfg.RefreshToken, "refresh token to accept (generated when empty)")
	fs.IntVar(&cfg.Events, "events", cfg.Events, "number of generated calendar events")
	fs.Int64Var(&cfg.Seed, "seed", cfg.Seed, "seed of the generated data and of the fault sequence")
	fs.Var(concurrencyFlag{p: &cfg.ConcurrencyLimit}, "concurrency-limit", "account concurrency limit (0 = unlimited)")
	fs.IntVar(&cfg.ConcurrencyErrorStatus, "concurrency-error-status", cfg.ConcurrencyErrorStatus, "HTTP status of CONCURRENCY_LIMIT_EXCEEDED: 429 or 400")
	fs.DurationVar(&cfg.AccessTokenTTL, "access-token-ttl", cfg.AccessTokenTTL, "access token lifetime")
	fs.DurationVar(&cfg.RefreshTokenTTL, "refresh-token-ttl", cfg.RefreshTokenTTL, "refresh token lifetime")
	fs.DurationVar(&cfg.Latency, "latency", cfg.Latency, "latency added to every API request")
	fs.StringVar(&cfg.TimeZone, "time-zone", cfg.TimeZone, "account and user time zone (Olson ID)")
	fs.StringVar(&cfg.DateFormat, "date-format", cfg.DateFormat, "user date-format preference, e.g. M/d/yyyy")
}
