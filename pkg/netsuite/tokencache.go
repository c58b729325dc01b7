package netsuite

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// TokenStore is a cache of the current access token shared by every process
// that works on the same account, plus a lock so that only one of them asks
// the token endpoint for a new token at a time. pkg/tokencache implements it
// on NATS JetStream KV; FileTokenStore on a local file.
//
// Load returns ErrNoToken when the store is empty. Save replaces the stored
// token (the refresh token, when set, is stored too: a store holds secrets).
// Lock takes the refresh lock for at most ttl and returns ErrLocked while
// another holder's lease is live; a lease older than its ttl is broken.
// unlock releases the lock only if it is still ours.
type TokenStore interface {
	Load(ctx context.Context) (*oauth2.Token, error)
	Save(ctx context.Context, tok *oauth2.Token) error
	Lock(ctx context.Context, ttl time.Duration) (unlock func(), err error)
}

// cacheConfig is what the token sources share.
type cacheConfig struct {
	account      string
	kind         string // "refresh_token" or "client_credentials", for logs
	store        TokenStore
	early        time.Duration
	lockTTL      time.Duration
	lockWait     time.Duration
	poll         time.Duration
	stickyFor    time.Duration // 0: until reset
	now          func() time.Time
	log          *slog.Logger
	metrics      *Metrics
	fetch        func(ctx context.Context) (*oauth2.Token, error)
	fromStore    func(tok *oauth2.Token) // sees every token loaded from the store
	storeRecheck time.Duration           // how often a failed source looks at the store again
}

// tokenCache holds the current access token of one source, refreshes it
// once per process at a time, and coordinates with other processes through
// a TokenStore.
type tokenCache struct {
	cacheConfig

	refresh chan struct{} // one refresh at a time in this process

	mu           sync.Mutex
	cur          *oauth2.Token // includes the refresh token, never returned as is
	rejected     string        // access token reported by Invalidate
	sticky       error         // permanent failure: returned without calling the endpoint
	stickyAt     time.Time
	storeChecked time.Time
}

func newTokenCache(cfg cacheConfig) *tokenCache {
	if cfg.early <= 0 {
		cfg.early = 5 * time.Minute
	}
	if cfg.lockTTL <= 0 {
		cfg.lockTTL = 30 * time.Second
	}
	if cfg.lockWait <= 0 {
		cfg.lockWait = 2 * cfg.lockTTL
	}
	if cfg.poll <= 0 {
		cfg.poll = 200 * time.Millisecond
	}
	if cfg.storeRecheck <= 0 {
		cfg.storeRecheck = 30 * time.Second
	}
	if cfg.now == nil {
		cfg.now = time.Now
	}
	return &tokenCache{cacheConfig: cfg, refresh: make(chan struct{}, 1)}
}

// usable reports whether t can be handed out now.
func (c *tokenCache) usable(t *oauth2.Token, now time.Time) bool {
	if t == nil || t.AccessToken == "" || t.AccessToken == c.rejected {
		return false
	}
	return t.Expiry.IsZero() || t.Expiry.After(now.Add(c.early))
}

// public returns a copy of t without the refresh token.
func public(t *oauth2.Token) *oauth2.Token {
	return &oauth2.Token{AccessToken: t.AccessToken, TokenType: "Bearer", Expiry: t.Expiry}
}

func (c *tokenCache) current() *oauth2.Token {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.usable(c.cur, c.now()) {
		return public(c.cur)
	}
	return nil
}

func (c *tokenCache) set(t *oauth2.Token) {
	c.mu.Lock()
	c.cur = t
	c.sticky = nil
	c.mu.Unlock()
}

// Token returns a valid access token, refreshing it when it is within the
// early-refresh margin of its expiry or was invalidated.
func (c *tokenCache) Token(ctx context.Context) (*oauth2.Token, error) {
	if t := c.current(); t != nil {
		return t, nil
	}
	select {
	case c.refresh <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for token refresh: %w", ctx.Err())
	}
	defer func() { <-c.refresh }()
	if t := c.current(); t != nil {
		return t, nil
	}
	if err := c.stickyErr(ctx); err != nil {
		return nil, err
	}
	if c.store == nil {
		return c.fetchAndSet(ctx)
	}
	return c.viaStore(ctx)
}

// stickyErr returns the remembered permanent failure, unless it has cooled
// down or the shared store now offers a usable token.
func (c *tokenCache) stickyErr(ctx context.Context) error {
	c.mu.Lock()
	err, at := c.sticky, c.stickyAt
	recheck := c.store != nil && c.now().Sub(c.storeChecked) >= c.storeRecheck
	if err != nil && recheck {
		c.storeChecked = c.now()
	}
	c.mu.Unlock()
	if err == nil {
		return nil
	}
	if c.stickyFor > 0 && c.now().Sub(at) >= c.stickyFor {
		return nil
	}
	if recheck {
		if t := c.loadStore(ctx); t != nil {
			c.set(t)
			c.log.Info("netsuite token source recovered from the shared token store", "kind", c.kind)
			return nil
		}
	}
	return err
}

// Invalidate forgets stale so that it is never returned again.
func (c *tokenCache) Invalidate(_ context.Context, stale *oauth2.Token) {
	if stale == nil || stale.AccessToken == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rejected = stale.AccessToken
	if c.cur != nil && c.cur.AccessToken == stale.AccessToken {
		c.cur = &oauth2.Token{RefreshToken: c.cur.RefreshToken}
	}
}

// reset clears a remembered failure (new credentials).
func (c *tokenCache) reset() {
	c.mu.Lock()
	c.sticky = nil
	c.mu.Unlock()
}

// loadStore returns the stored token when it is usable; a store failure
// counts as "nothing usable".
func (c *tokenCache) loadStore(ctx context.Context) *oauth2.Token {
	t, err := c.store.Load(ctx)
	if err != nil {
		if !errors.Is(err, ErrNoToken) && ctx.Err() == nil {
			c.log.Warn("load token from shared store", "kind", c.kind, "error", err)
		}
		return nil
	}
	if t == nil {
		return nil
	}
	if c.fromStore != nil {
		c.fromStore(t)
	}
	c.mu.Lock()
	ok := c.usable(t, c.now()) && !t.Expiry.IsZero()
	c.mu.Unlock()
	if !ok {
		return nil
	}
	return t
}

// viaStore uses the shared store: a usable stored token wins; otherwise the
// process that gets the lock refreshes and saves, and the others wait for
// the stored token to change.
func (c *tokenCache) viaStore(ctx context.Context) (*oauth2.Token, error) {
	wctx, cancel := context.WithTimeout(ctx, c.lockWait)
	defer cancel()
	for {
		if t := c.loadStore(ctx); t != nil {
			c.set(t)
			return public(t), nil
		}
		unlock, err := c.store.Lock(ctx, c.lockTTL)
		switch {
		case err == nil:
			return c.refreshLocked(ctx, unlock)
		case errors.Is(err, ErrLocked):
			// Another process is refreshing: wait for its token.
		case ctx.Err() != nil:
			return nil, fmt.Errorf("take token refresh lock: %w", ctx.Err())
		default:
			// The store is down: refreshing without it beats stopping.
			c.log.Warn("token refresh lock unavailable, refreshing without the shared store",
				"kind", c.kind, "error", err)
			return c.fetchAndSet(ctx)
		}
		d := c.poll/2 + rand.N(c.poll)
		if err := sleepCtx(wctx, d); err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("wait for shared token: %w", ctx.Err())
			}
			return nil, fmt.Errorf("wait %s for another process to refresh the %s token of account %s: %w",
				c.lockWait, c.kind, c.account, ErrTokenUnavailable)
		}
	}
}

func (c *tokenCache) refreshLocked(ctx context.Context, unlock func()) (*oauth2.Token, error) {
	defer unlock()
	// Someone may have saved a token between our Load and our Lock.
	if t := c.loadStore(ctx); t != nil {
		c.set(t)
		return public(t), nil
	}
	t, err := c.fetchAndSet(ctx)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	full := c.cur
	c.mu.Unlock()
	if err := c.store.Save(ctx, full); err != nil {
		c.log.Warn("save token to shared store", "kind", c.kind, "error", err)
	}
	return t, nil
}

// fetchAndSet asks the token endpoint and records the outcome.
func (c *tokenCache) fetchAndSet(ctx context.Context) (*oauth2.Token, error) {
	t, err := c.fetch(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		result := "error"
		if errors.Is(err, ErrReauthorizationRequired) {
			result = "invalid_grant"
		}
		c.metrics.incTokenRefresh(c.account, result)
		if IsRetryable(err) {
			c.log.Warn("netsuite token request failed", "kind", c.kind, "error", err)
			return nil, err
		}
		c.mu.Lock()
		c.sticky = err
		c.stickyAt = c.now()
		c.storeChecked = c.now()
		c.mu.Unlock()
		c.log.Error("netsuite token request refused; not retrying until the credentials change",
			"kind", c.kind, "error", err)
		return nil, err
	}
	c.metrics.incTokenRefresh(c.account, "success")
	c.set(t)
	c.log.Debug("netsuite access token obtained", "kind", c.kind, "expires_at", t.Expiry)
	return public(t), nil
}

// expiresIn reads expires_in from a token response: x/oauth2 parses both the
// number and the quoted-string form into Token.ExpiresIn for the
// authorization-code and refresh grants; the clientcredentials package does
// not copy it, so fall back to the raw field.
func expiresIn(t *oauth2.Token) time.Duration {
	if t.ExpiresIn > 0 {
		return time.Duration(t.ExpiresIn) * time.Second
	}
	switch v := t.Extra("expires_in").(type) {
	case float64:
		return time.Duration(v) * time.Second
	case string:
		if n, err := strconv.Atoi(v); err == nil {
			return time.Duration(n) * time.Second
		}
	}
	return 0
}

// normalize copies the fields we keep and sets the expiry from our clock.
// NetSuite documents access tokens as living 3600s; that is assumed when the
// response lacks expires_in.
func normalize(t *oauth2.Token, now time.Time) *oauth2.Token {
	d := expiresIn(t)
	if d <= 0 {
		d = time.Hour
	}
	return &oauth2.Token{
		AccessToken:  t.AccessToken,
		TokenType:    "Bearer",
		RefreshToken: t.RefreshToken,
		Expiry:       now.Add(d),
	}
}

// classifyTokenErr turns an x/oauth2 error into a *TokenError, a transport
// error or a malformed-response error. It never keeps the response body.
func classifyTokenErr(ctx context.Context, account string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("request token: %w", ctx.Err())
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		te := &TokenError{AccountID: account, Code: re.ErrorCode, Description: re.ErrorDescription}
		if re.Response != nil {
			te.StatusCode = re.Response.StatusCode
		}
		return te
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("netsuite token endpoint (account %s): %w: %w", account, ErrTransport, ue.Err)
	}
	return fmt.Errorf("netsuite token endpoint (account %s): %w: %v", account, ErrMalformedResponse, err)
}

// tokenHTTPClient returns the client for token endpoint calls, instrumented
// with the requests metrics under endpoint="token".
func tokenHTTPClient(hc *http.Client, m *Metrics, account string) *http.Client {
	if hc == nil {
		hc = newHTTPClient(30*time.Second, 60*time.Second)
	}
	cp := *hc
	cp.Jar = nil
	base := cp.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	cp.Transport = &instrumentedTransport{base: base, metrics: m, account: account}
	return &cp
}

type instrumentedTransport struct {
	base    http.RoundTripper
	metrics *Metrics
	account string
}

func (t *instrumentedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := t.base.RoundTrip(req)
	status := 0
	if err == nil {
		status = resp.StatusCode
	}
	t.metrics.observeRequest(t.account, EndpointToken, status, time.Since(start))
	return resp, err //nolint:wrapcheck // a RoundTripper passes errors through
}
