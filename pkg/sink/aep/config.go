package aep

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"
)

// Defaults applied by New to zero fields of Config.
const (
	DefaultTokenURL              = "https://ims-na1.adobelogin.com/ims/token/v3"
	DefaultSchemaVersion         = "1"
	DefaultSourceName            = "nsflow"
	DefaultMaxRequestBytes       = 1_000_000 // the inlet answers 413 above 1 MB
	DefaultMaxMessagesPerRequest = 500
	DefaultMaxConcurrentRequests = 4
	DefaultMaxAttempts           = 5 // Adobe asks for at least three retries with back-off
	DefaultMinBackoff            = 500 * time.Millisecond
	DefaultMaxBackoff            = 30 * time.Second
	DefaultRequestTimeout        = 30 * time.Second
)

// Config configures the AEP sink. Field tags name environment variables
// (github.com/caarlos0/env style, meant to be used under a prefix such as
// AEP_); zero values get the Default* constants.
type Config struct {
	// InletURL is the streaming inlet's batch endpoint:
	// https://dcs.adobedc.net/collection/batch/{CONNECTION_ID}.
	InletURL string `env:"INLET_URL"`
	// TenantID is the organisation's tenant id (without the leading "_");
	// every NetSuite-specific field goes under "_<TenantID>".
	TenantID string `env:"TENANT_ID"`
	// SchemaID is the dataset schema's $id,
	// https://ns.adobe.com/{TENANT_ID}/schemas/{SCHEMA_ID}.
	SchemaID string `env:"SCHEMA_ID"`
	// SchemaVersion goes into the default ContentType.
	SchemaVersion string `env:"SCHEMA_VERSION"`
	// ContentType overrides the schemaRef content type; default
	// "application/vnd.adobe.xed-full+json;version=<SchemaVersion>".
	ContentType string `env:"CONTENT_TYPE"`
	// IMSOrgID is the organisation, "…@AdobeOrg".
	IMSOrgID string `env:"IMS_ORG_ID"`
	// DatasetID is the target dataset.
	DatasetID string `env:"DATASET_ID"`
	// FlowID is the dataflow id of an HTTP API source connection (optional;
	// sent as header.flowId).
	FlowID string `env:"FLOW_ID"`
	// SandboxName is sent as x-sandbox-name when set.
	SandboxName string `env:"SANDBOX_NAME"`
	// SourceName is header.source.name.
	SourceName string `env:"SOURCE_NAME"`
	// IdentityNamespace is the identity namespace code (created beforehand in
	// Identity Service) under which the organizer's NetSuite entity id, as
	// "<id>@<account>.NetSuite", goes into identityMap. Empty: no identityMap.
	IdentityNamespace string `env:"IDENTITY_NAMESPACE"`
	// Auth turns on IMS OAuth server-to-server authentication, for inlets
	// created with authenticationRequired.
	Auth Auth `envPrefix:"IMS_"`

	// MaxRequestBytes bounds each request body.
	MaxRequestBytes int `env:"MAX_REQUEST_BYTES"`
	// MaxMessagesPerRequest bounds the messages in one request.
	MaxMessagesPerRequest int `env:"MAX_MESSAGES_PER_REQUEST"`
	// MaxConcurrentRequests bounds the requests one Write has in flight.
	MaxConcurrentRequests int `env:"MAX_CONCURRENT_REQUESTS"`
	// MaxAttempts bounds how often a request (or a failed message) is sent.
	MaxAttempts int `env:"MAX_ATTEMPTS"`
	// MinBackoff and MaxBackoff bound the exponential back-off between
	// attempts (a Retry-After from the inlet wins when longer).
	MinBackoff time.Duration `env:"MIN_BACKOFF"`
	MaxBackoff time.Duration `env:"MAX_BACKOFF"`
	// RequestTimeout bounds one HTTP request.
	RequestTimeout time.Duration `env:"REQUEST_TIMEOUT"`
}

// Auth holds IMS OAuth server-to-server (client credentials) settings.
type Auth struct {
	// TokenURL defaults to DefaultTokenURL.
	TokenURL string `env:"TOKEN_URL"`
	// ClientID is the Developer Console credential's client id; setting it
	// turns authentication on. It is also sent as x-api-key.
	ClientID string `env:"CLIENT_ID"`
	// ClientSecret is secret: String and LogValue mask it.
	ClientSecret string `env:"CLIENT_SECRET"`
	// Scopes are sent comma-separated, as IMS expects, e.g.
	// openid,AdobeID,read_organizations,additional_info.projectedProductContext,session.
	Scopes []string `env:"SCOPES" envSeparator:","`
}

// Enabled reports whether IMS authentication is configured.
func (a Auth) Enabled() bool { return a.ClientID != "" }

// String describes a without its secret.
func (a Auth) String() string {
	if !a.Enabled() {
		return "{auth off}"
	}
	return fmt.Sprintf("{TokenURL:%s ClientID:%s ClientSecret:%s Scopes:%v}", a.TokenURL, a.ClientID, mask(a.ClientSecret), a.Scopes)
}

// GoString is String, so %#v does not print the secret either.
func (a Auth) GoString() string { return a.String() }

// LogValue logs a without its secret.
func (a Auth) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Bool("enabled", a.Enabled()),
		slog.String("token_url", a.TokenURL),
		slog.String("client_id", a.ClientID),
		slog.String("client_secret", mask(a.ClientSecret)),
	)
}

func mask(s string) string {
	if s == "" {
		return ""
	}
	return "***"
}

// ContentTypeValue returns the schemaRef content type in effect.
func (c Config) ContentTypeValue() string {
	if c.ContentType != "" {
		return c.ContentType
	}
	v := c.SchemaVersion
	if v == "" {
		v = DefaultSchemaVersion
	}
	return "application/vnd.adobe.xed-full+json;version=" + v
}

func (c *Config) setDefaults() {
	c.TenantID = strings.TrimPrefix(c.TenantID, "_")
	if c.SchemaVersion == "" {
		c.SchemaVersion = DefaultSchemaVersion
	}
	if c.SourceName == "" {
		c.SourceName = DefaultSourceName
	}
	if c.Auth.Enabled() && c.Auth.TokenURL == "" {
		c.Auth.TokenURL = DefaultTokenURL
	}
	if c.MaxRequestBytes == 0 {
		c.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if c.MaxMessagesPerRequest == 0 {
		c.MaxMessagesPerRequest = DefaultMaxMessagesPerRequest
	}
	if c.MaxConcurrentRequests == 0 {
		c.MaxConcurrentRequests = DefaultMaxConcurrentRequests
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.MinBackoff == 0 {
		c.MinBackoff = DefaultMinBackoff
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = DefaultMaxBackoff
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
}

// Validate reports missing or inconsistent settings (after defaults).
func (c Config) Validate() error {
	var errs []error
	if u, err := url.Parse(c.InletURL); c.InletURL == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		errs = append(errs, errors.New("InletURL must be an http(s) URL such as https://dcs.adobedc.net/collection/batch/{CONNECTION_ID}"))
	}
	if c.TenantID == "" {
		errs = append(errs, errors.New("TenantID is required (NetSuite fields go under _<tenant>)"))
	}
	if c.SchemaID == "" {
		errs = append(errs, errors.New("SchemaID is required"))
	}
	if c.IMSOrgID == "" {
		errs = append(errs, errors.New("IMSOrgID is required"))
	}
	if c.DatasetID == "" {
		errs = append(errs, errors.New("DatasetID is required"))
	}
	if c.Auth.Enabled() && c.Auth.ClientSecret == "" {
		errs = append(errs, errors.New("Auth.ClientSecret is required with Auth.ClientID"))
	}
	if !c.Auth.Enabled() && c.Auth.ClientSecret != "" {
		errs = append(errs, errors.New("Auth.ClientID is required with Auth.ClientSecret"))
	}
	if c.MaxRequestBytes < 1024 {
		errs = append(errs, errors.New("MaxRequestBytes must be at least 1024"))
	}
	if c.MaxMessagesPerRequest < 1 || c.MaxConcurrentRequests < 1 || c.MaxAttempts < 1 {
		errs = append(errs, errors.New("MaxMessagesPerRequest, MaxConcurrentRequests and MaxAttempts must be positive"))
	}
	if c.MinBackoff < 0 || c.MaxBackoff < c.MinBackoff || c.RequestTimeout <= 0 {
		errs = append(errs, errors.New("need 0 <= MinBackoff <= MaxBackoff and RequestTimeout > 0"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("aep config: %w", err)
	}
	return nil
}
