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
type NetSuite struct {
	AccountID string `env:"ACCOUNT_ID"`
	// AuthMode is refresh_token (authorization-code tokens) or client_credentials (M2M).
	AuthMode     string `env:"AUTH_MODE" envDefault:"refresh_token"`
	ClientID     string `env:"CLIENT_ID"`
	ClientSecret string `env:"CLIENT_SECRET" secret:"true"`
	AccessToken  string `env:"ACCESS_TOKEN" secret:"true"`
	RefreshToken string `env:"REFRESH_TOKEN" secret:"true"`
	// TokenURL defaults to https://<account>.suitetalk.api.netsuite.com/services/rest/auth/oauth2/v1/token.
	TokenURL string `env:"TOKEN_URL"`
	// BaseURL defaults to https://<account>.suitetalk.api.netsuite.com.
	BaseURL string `env:"BASE_URL"`
	// CertificateID and PrivateKey are the M2M certificate mapping and its key (PEM).
	CertificateID string `env:"CERTIFICATE_ID"`
	PrivateKey    string `env:"PRIVATE_KEY" secret:"true"`
	// TimeZone is the integration user's time-zone preference (SuiteQL renders in it).
	TimeZone    string `env:"TIME_ZONE" envDefault:"America/Los_Angeles"`
	Concurrency int    `env:"CONCURRENCY" envDefault:"4"`
}

// Validate names what is missing for the chosen auth mode.
func (n NetSuite) Validate() error {
	var missing []string
	req := func(v, name string) {
		if v == "" {
			missing = append(missing, name)
		}
	}
	req(n.AccountID, "NETSUITE_ACCOUNT_ID")
	switch n.AuthMode {
	case "refresh_token":
		req(n.ClientID, "NETSUITE_CLIENT_ID")
		req(n.ClientSecret, "NETSUITE_CLIENT_SECRET")
		req(n.RefreshToken, "NETSUITE_REFRESH_TOKEN")
	case "client_credentials":
		req(n.ClientID, "NETSUITE_CLIENT_ID")
		req(n.CertificateID, "NETSUITE_CERTIFICATE_ID")
		req(n.PrivateKey, "NETSUITE_PRIVATE_KEY (or NETSUITE_PRIVATE_KEY_FILE)")
	default:
		return fmt.Errorf("NETSUITE_AUTH_MODE=%q: want refresh_token or client_credentials", n.AuthMode)
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing required settings for NETSUITE_AUTH_MODE=%s: %s", n.AuthMode, strings.Join(missing, ", "))
	}
	if _, err := time.LoadLocation(n.TimeZone); err != nil {
		return fmt.Errorf("NETSUITE_TIME_ZONE=%q is not an IANA time zone: %w", n.TimeZone, err)
	}
	if n.Concurrency < 1 {
		return fmt.Errorf("NETSUITE_CONCURRENCY=%d: must be at least 1", n.Concurrency)
	}
	return nil
}

// Common is shared by every service.
type Common struct {
	LogLevel string `env:"NSFLOW_LOG_LEVEL" envDefault:"info"`
	// OpsAddr serves /healthz, /readyz and /metrics.
	OpsAddr         string        `env:"NSFLOW_OPS_ADDR" envDefault:":9090"`
	ShutdownTimeout time.Duration `env:"NSFLOW_SHUTDOWN_TIMEOUT" envDefault:"30s"`
	// Provision creates or updates streams, consumers and buckets at start.
	Provision bool              `env:"NSFLOW_PROVISION" envDefault:"true"`
	NATS      broker.NATSConfig `envPrefix:"NATS_"`
	Topology  broker.Topology   `envPrefix:"NSFLOW_"`
}

// Extractor configures the extractor service.
type Extractor struct {
	Common
	NetSuite     NetSuite      `envPrefix:"NETSUITE_"`
	PollInterval time.Duration `env:"NSFLOW_POLL_INTERVAL" envDefault:"1m"`
	Overlap      time.Duration `env:"NSFLOW_OVERLAP" envDefault:"5m"`
	PageSize     int           `env:"NSFLOW_PAGE_SIZE" envDefault:"1000"`
	Attendees    string        `env:"NSFLOW_ATTENDEES" envDefault:"suiteql"`
	Deletes      bool          `env:"NSFLOW_DELETES" envDefault:"true"`
	Since        time.Time     `env:"NSFLOW_SINCE"`
	Until        time.Time     `env:"NSFLOW_UNTIL"`
	Once         bool          `env:"NSFLOW_ONCE"`
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
	Sink        string        `env:"NSFLOW_SINK" envDefault:"sqlite:./data/events.db"`
	BatchSize   int           `env:"NSFLOW_BATCH_SIZE" envDefault:"1000"`
	BatchWait   time.Duration `env:"NSFLOW_BATCH_WAIT" envDefault:"50ms"`
	MaxInFlight int           `env:"NSFLOW_MAX_IN_FLIGHT" envDefault:"2048"`
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
	if err := c.NetSuite.Validate(); err != nil {
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
