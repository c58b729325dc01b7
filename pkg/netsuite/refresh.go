package netsuite

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/oauth2"
)

// RefreshConfig configures NewRefreshTokenSource.
type RefreshConfig struct {
	AccountID    string // required
	ClientID     string // required
	ClientSecret string // required (confidential client)
	// TokenURL defaults to DefaultTokenURL(AccountID).
	TokenURL string
	// RefreshToken from `nsflow auth login`. Required.
	RefreshToken string
	// AccessToken and AccessTokenExpiry optionally seed the cache (a zero
	// expiry means "use until NetSuite rejects it").
	AccessToken       string
	AccessTokenExpiry time.Time
	// RefreshTokenExpiry, when zero, is read from the refresh token's "exp"
	// claim (without verifying the signature); if that fails it is unknown.
	RefreshTokenExpiry time.Time
	// Store is an optional cache shared by replicas (pkg/tokencache).
	Store TokenStore
	// EarlyRefresh: a token this close to expiry is replaced. Default 5m.
	EarlyRefresh time.Duration
	// LockTTL bounds how long one process may hold the shared refresh lock
	// (default 30s); LockWait bounds how long the others wait for its token
	// (default 2×LockTTL) before Token returns ErrTokenUnavailable.
	LockTTL  time.Duration
	LockWait time.Duration
	// Clock defaults to time.Now.
	Clock      func() time.Time
	Metrics    *Metrics
	Logger     *slog.Logger
	HTTPClient *http.Client // default: 30s response-header and 60s overall timeouts
}

// RefreshTokenSource is a TokenSource for authorization-code credentials: it
// trades the long-lived refresh token for hourly access tokens.
//
// NetSuite does not rotate a confidential client's refresh token: the
// response to a refresh carries only an access token, and the refresh token is
// reused until it expires (7 days by default). A new refresh token in a
// response is adopted and saved to the store.
//
// When the token endpoint answers invalid_grant, Token returns an error
// wrapping ErrReauthorizationRequired, and keeps returning it without
// calling the endpoint again until UpdateRefreshToken is called or a shared
// store offers a working token. Other refusals (invalid_client, ...) are
// remembered the same way; transport errors and 5xx are retryable.
type RefreshTokenSource struct {
	cache   *tokenCache
	conf    oauth2.Config
	hc      *http.Client
	account string
	now     func() time.Time
	log     *slog.Logger
	metrics *Metrics

	mu            sync.Mutex
	refreshToken  string
	refreshExpiry time.Time
	storeRefresh  string // a different refresh token seen in the shared store
	lastWarn      time.Time
}

var _ TokenSource = (*RefreshTokenSource)(nil)

// NewRefreshTokenSource validates cfg and returns a source. It makes no
// network call.
func NewRefreshTokenSource(cfg RefreshConfig) (*RefreshTokenSource, error) {
	if err := ValidateAccountID(cfg.AccountID); err != nil {
		return nil, fmt.Errorf("new refresh token source: %w", err)
	}
	switch {
	case cfg.ClientID == "":
		return nil, fmt.Errorf("new refresh token source: %w: ClientID is required", ErrInvalidConfig)
	case cfg.ClientSecret == "":
		return nil, fmt.Errorf("new refresh token source: %w: ClientSecret is required", ErrInvalidConfig)
	case cfg.RefreshToken == "":
		return nil, fmt.Errorf("new refresh token source: %w: RefreshToken is required", ErrInvalidConfig)
	}
	tokenURL := cfg.TokenURL
	if tokenURL == "" {
		tokenURL = DefaultTokenURL(cfg.AccountID)
	}
	if err := checkHTTPURL(tokenURL); err != nil {
		return nil, fmt.Errorf("new refresh token source: TokenURL: %w", err)
	}
	now := cfg.Clock
	if now == nil {
		now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("account", cfg.AccountID)
	s := &RefreshTokenSource{
		conf: oauth2.Config{
			ClientID:     cfg.ClientID,
			ClientSecret: cfg.ClientSecret,
			Endpoint:     oauth2.Endpoint{TokenURL: tokenURL, AuthStyle: oauth2.AuthStyleInHeader},
		},
		hc:            tokenHTTPClient(cfg.HTTPClient, cfg.Metrics, cfg.AccountID),
		account:       cfg.AccountID,
		now:           now,
		log:           log,
		metrics:       cfg.Metrics,
		refreshToken:  cfg.RefreshToken,
		refreshExpiry: cfg.RefreshTokenExpiry,
	}
	if s.refreshExpiry.IsZero() {
		s.refreshExpiry = JWTExpiry(cfg.RefreshToken)
	}
	s.cache = newTokenCache(cacheConfig{
		account:   cfg.AccountID,
		kind:      "refresh_token",
		store:     cfg.Store,
		early:     cfg.EarlyRefresh,
		lockTTL:   cfg.LockTTL,
		lockWait:  cfg.LockWait,
		now:       now,
		log:       log,
		metrics:   cfg.Metrics,
		fetch:     s.fetch,
		fromStore: s.noteStored,
	})
	if cfg.AccessToken != "" {
		s.cache.cur = &oauth2.Token{
			AccessToken:  cfg.AccessToken,
			TokenType:    "Bearer",
			RefreshToken: cfg.RefreshToken,
			Expiry:       cfg.AccessTokenExpiry,
		}
	}
	s.checkExpiry()
	return s, nil
}

// Token returns a valid access token (without the refresh token).
func (s *RefreshTokenSource) Token(ctx context.Context) (*oauth2.Token, error) {
	return s.cache.Token(ctx)
}

// Invalidate marks stale as rejected by NetSuite.
func (s *RefreshTokenSource) Invalidate(ctx context.Context, stale *oauth2.Token) {
	s.cache.Invalidate(ctx, stale)
}

// RefreshTokenExpiry returns when the refresh token expires (zero if
// unknown).
func (s *RefreshTokenSource) RefreshTokenExpiry() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refreshExpiry
}

// UpdateRefreshToken replaces the refresh token (after a new `nsflow auth
// login`) and clears a remembered failure. A zero expiry is read from the
// token's exp claim.
func (s *RefreshTokenSource) UpdateRefreshToken(refreshToken string, expiry time.Time) {
	if expiry.IsZero() {
		expiry = JWTExpiry(refreshToken)
	}
	s.mu.Lock()
	s.refreshToken = refreshToken
	s.refreshExpiry = expiry
	s.lastWarn = time.Time{}
	s.mu.Unlock()
	s.cache.reset()
	s.checkExpiry()
}

// noteStored remembers a refresh token from the shared store that differs
// from ours: another replica may have received a rotated one.
func (s *RefreshTokenSource) noteStored(t *oauth2.Token) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t.RefreshToken != "" && t.RefreshToken != s.refreshToken {
		s.storeRefresh = t.RefreshToken
	}
}

func (s *RefreshTokenSource) fetch(ctx context.Context) (*oauth2.Token, error) {
	s.mu.Lock()
	rt, alt := s.refreshToken, s.storeRefresh
	s.mu.Unlock()
	tok, err := s.exchange(ctx, rt)
	if err != nil && alt != "" && alt != rt && errors.Is(err, ErrReauthorizationRequired) {
		// Ours is dead but the store holds another one: try it once.
		if t2, err2 := s.exchange(ctx, alt); err2 == nil {
			s.log.Info("adopted the refresh token from the shared token store")
			s.mu.Lock()
			s.refreshToken, s.refreshExpiry, s.storeRefresh = alt, JWTExpiry(alt), ""
			s.mu.Unlock()
			rt, tok, err = alt, t2, nil
		}
	}
	if err != nil {
		return nil, err
	}
	if tok.RefreshToken != "" && tok.RefreshToken != rt {
		s.log.Info("netsuite issued a new refresh token; using it from now on")
		s.mu.Lock()
		s.refreshToken, s.refreshExpiry = tok.RefreshToken, JWTExpiry(tok.RefreshToken)
		s.lastWarn = time.Time{}
		s.mu.Unlock()
	} else {
		tok.RefreshToken = rt
	}
	s.checkExpiry()
	return tok, nil
}

// exchange makes one refresh_token grant request.
func (s *RefreshTokenSource) exchange(ctx context.Context, rt string) (*oauth2.Token, error) {
	hctx := context.WithValue(ctx, oauth2.HTTPClient, s.hc)
	// x/oauth2 keeps the old refresh token when the response has none.
	tok, err := s.conf.TokenSource(hctx, &oauth2.Token{RefreshToken: rt}).Token()
	if err != nil {
		err = classifyTokenErr(ctx, s.account, err)
		var te *TokenError
		if errors.As(err, &te) && te.Code == "invalid_grant" {
			return nil, fmt.Errorf("refresh access token for account %s: %w (%w)", s.account, ErrReauthorizationRequired, te)
		}
		return nil, fmt.Errorf("refresh access token: %w", err)
	}
	return normalize(tok, s.now()), nil
}

// checkExpiry publishes the refresh-token expiry and warns (at most once a
// day) when it is less than 48h away.
func (s *RefreshTokenSource) checkExpiry() {
	now := s.now()
	s.mu.Lock()
	exp := s.refreshExpiry
	warn := !exp.IsZero() && exp.Sub(now) < 48*time.Hour && (s.lastWarn.IsZero() || now.Sub(s.lastWarn) >= 24*time.Hour)
	if warn {
		s.lastWarn = now
	}
	s.mu.Unlock()
	s.metrics.setRefreshTokenExpiry(s.account, exp)
	if warn {
		s.log.Warn("netsuite refresh token expires soon: run `nsflow auth login` before then, or switch to client credentials (M2M)",
			"refresh_token_expires_at", exp.UTC().Format(time.RFC3339),
			"hours_left", int(exp.Sub(now).Hours()))
	}
}

// JWTExpiry returns the "exp" claim of a JWT without verifying its
// signature, or the zero time when tok is not a JWT with an exp claim.
// NetSuite's refresh tokens are JWTs; this is how their expiry is learned.
func JWTExpiry(tok string) time.Time {
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(tok, claims); err != nil {
		return time.Time{}
	}
	exp, err := claims.GetExpirationTime()
	if err != nil || exp == nil {
		return time.Time{}
	}
	return exp.Time
}

func checkHTTPURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%w: %q is not an http(s) URL", ErrInvalidConfig, s)
	}
	return nil
}
