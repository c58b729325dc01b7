package netsuite

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// TokenSource supplies the bearer token for each attempt.
//
// Token returns a token that is valid now; it may block while a new one is
// obtained and must honour ctx. Invalidate reports that NetSuite rejected
// stale (HTTP 401); the next Token call must not return it again.
// Implementations must be safe for concurrent use.
type TokenSource interface {
	Token(ctx context.Context) (*oauth2.Token, error)
	Invalidate(ctx context.Context, stale *oauth2.Token)
}

// Limiter bounds the number of concurrent requests to the account. Acquire
// blocks until a slot is free or ctx ends; release gives the slot back and
// must be safe to call more than once. pkg/governor implements it.
type Limiter interface {
	Acquire(ctx context.Context) (release func(), err error)
}

// RetryPolicy bounds retries of retryable failures. Waits grow
// exponentially from InitialInterval up to MaxInterval with full jitter (a
// uniformly random wait between zero and the current cap); a Retry-After
// header replaces the computed wait.
type RetryPolicy struct {
	MaxAttempts     int           // attempts in total, the first included; default 8
	InitialInterval time.Duration // default 500ms
	MaxInterval     time.Duration // default 30s
	MaxElapsed      time.Duration // no retry starts after this much time since the first attempt; default 10m
}

func (p *RetryPolicy) setDefaults() {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = 8
	}
	if p.InitialInterval <= 0 {
		p.InitialInterval = 500 * time.Millisecond
	}
	if p.MaxInterval <= 0 {
		p.MaxInterval = 30 * time.Second
	}
	if p.MaxInterval < p.InitialInterval {
		p.MaxInterval = p.InitialInterval
	}
	if p.MaxElapsed <= 0 {
		p.MaxElapsed = 10 * time.Minute
	}
}

// backoff returns the full-jitter wait before retry number n (1-based).
func (p *RetryPolicy) backoff(n int) time.Duration {
	ceil := p.InitialInterval
	for i := 1; i < n && ceil < p.MaxInterval; i++ {
		ceil *= 2
	}
	ceil = min(ceil, p.MaxInterval)
	return rand.N(ceil + 1)
}

// ClientConfig configures NewClient.
type ClientConfig struct {
	// AccountID is the NetSuite account ("1234567" or "1234567_SB1"). Required.
	AccountID string
	// BaseURL defaults to DefaultBaseURL(AccountID); point it at a local
	// sandbox as http://127.0.0.1:PORT.
	BaseURL string
	// Tokens supplies bearer tokens. Required.
	Tokens TokenSource
	// Limiter bounds account-wide concurrency. Required.
	Limiter Limiter
	// HTTPClient defaults to a client with connect, TLS-handshake and
	// response-header timeouts. Its cookie jar is never used.
	HTTPClient *http.Client
	// RequestTimeout bounds one attempt, body read included. Default 5m
	// (NetSuite's own limit is 15m).
	RequestTimeout time.Duration
	// Retry bounds retries; zero fields take their defaults.
	Retry RetryPolicy
	// Metrics is optional.
	Metrics *Metrics
	// Logger defaults to discarding.
	Logger *slog.Logger
	// UserAgent defaults to "nsflow".
	UserAgent string
}

// Client calls the NetSuite REST record API and SuiteQL for one account.
// It is safe for concurrent use.
type Client struct {
	account   string
	baseURL   string
	tokens    TokenSource
	limiter   Limiter
	hc        *http.Client
	timeout   time.Duration
	retry     RetryPolicy
	metrics   *Metrics
	log       *slog.Logger
	userAgent string

	// sleep waits between attempts; tests replace it.
	sleep func(ctx context.Context, d time.Duration) error
	// now measures MaxElapsed; tests may replace it.
	now func() time.Time
}

// maxBodyBytes caps a response body. A SuiteQL page of 1000 wide rows is a
// few MB; anything near this is a misbehaving server.
const maxBodyBytes = 256 << 20

// NewClient validates cfg and returns a Client.
func NewClient(cfg ClientConfig) (*Client, error) {
	if err := ValidateAccountID(cfg.AccountID); err != nil {
		return nil, fmt.Errorf("new netsuite client: %w", err)
	}
	if cfg.Tokens == nil {
		return nil, fmt.Errorf("new netsuite client: %w: Tokens is required", ErrInvalidConfig)
	}
	if cfg.Limiter == nil {
		return nil, fmt.Errorf("new netsuite client: %w: Limiter is required", ErrInvalidConfig)
	}
	base := cfg.BaseURL
	if base == "" {
		base = DefaultBaseURL(cfg.AccountID)
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("new netsuite client: %w: BaseURL %q is not an http(s) URL", ErrInvalidConfig, base)
	}
	if u.RawQuery != "" || u.User != nil {
		return nil, fmt.Errorf("new netsuite client: %w: BaseURL must not carry a query or user info", ErrInvalidConfig)
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 5 * time.Minute
	}
	cfg.Retry.setDefaults()
	hc := cfg.HTTPClient
	if hc == nil {
		hc = newHTTPClient(cfg.RequestTimeout, 0)
	} else {
		cp := *hc
		cp.Jar = nil // NetSuite auth can break on stray cookies: send none.
		hc = &cp
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ua := cfg.UserAgent
	if ua == "" {
		ua = "nsflow"
	}
	return &Client{
		account:   cfg.AccountID,
		baseURL:   strings.TrimRight(u.String(), "/"),
		tokens:    cfg.Tokens,
		limiter:   cfg.Limiter,
		hc:        hc,
		timeout:   cfg.RequestTimeout,
		retry:     cfg.Retry,
		metrics:   cfg.Metrics,
		log:       log.With("account", cfg.AccountID),
		userAgent: ua,
		sleep:     sleepCtx,
		now:       time.Now,
	}, nil
}

// newHTTPClient builds a client with explicit connect, TLS and
// response-header timeouts. overall (0: none) is http.Client.Timeout; the
// REST client bounds attempts with a context instead.
func newHTTPClient(headerTimeout, overall time.Duration) *http.Client {
	tr := &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   10 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: headerTimeout,
		ExpectContinueTimeout: time.Second,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
	}
	return &http.Client{Transport: tr, Timeout: overall}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// AccountID returns the account the client calls.
func (c *Client) AccountID() string { return c.account }

// SuiteQLPage is one page of a SuiteQL result.
type SuiteQLPage struct {
	// Items holds each row exactly as NetSuite sent it (all values are
	// strings, "links":[] included). The slices share the response buffer;
	// they are never modified by the client.
	Items        []json.RawMessage
	Count        int
	Offset       int
	TotalResults int
	HasMore      bool
}

// SuiteQL runs one page of a SuiteQL query: POST
// /services/rest/query/v1/suiteql?limit=&offset= with body {"q": query} and
// the "Prefer: transient" header. limit must be 1..1000 and offset >= 0.
func (c *Client) SuiteQL(ctx context.Context, query string, limit, offset int) (*SuiteQLPage, error) {
	if strings.TrimSpace(query) == "" {
		return nil, fmt.Errorf("suiteql: %w: empty query", ErrInvalidArgument)
	}
	if limit < 1 || limit > 1000 {
		return nil, fmt.Errorf("suiteql: %w: limit %d outside 1..1000", ErrInvalidArgument, limit)
	}
	if offset < 0 {
		return nil, fmt.Errorf("suiteql: %w: negative offset %d", ErrInvalidArgument, offset)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(struct {
		Q string `json:"q"`
	}{query}); err != nil {
		return nil, fmt.Errorf("suiteql: encode body: %w", err)
	}
	var page *SuiteQLPage
	err := c.do(ctx, &call{
		method:   http.MethodPost,
		path:     pathSuiteQL,
		query:    "limit=" + strconv.Itoa(limit) + "&offset=" + strconv.Itoa(offset),
		body:     bytes.TrimRight(buf.Bytes(), "\n"),
		endpoint: EndpointSuiteQL,
		prefer:   "transient",
	}, func(body []byte) error {
		p, err := parseSuiteQL(body)
		page = p
		return err
	})
	if err != nil {
		return nil, err
	}
	return page, nil
}

// GetRecord fetches one record: GET /services/rest/record/v1/<type>/<id>
// with params (for example expandSubResources=true). The body is returned as
// received.
func (c *Client) GetRecord(ctx context.Context, recordType, id string, params url.Values) (json.RawMessage, error) {
	if recordType == "" || id == "" {
		return nil, fmt.Errorf("get record: %w: record type and id are required", ErrInvalidArgument)
	}
	var rec json.RawMessage
	err := c.do(ctx, &call{
		method:   http.MethodGet,
		path:     pathRecord + url.PathEscape(recordType) + "/" + url.PathEscape(id),
		query:    params.Encode(),
		endpoint: EndpointRecordGet,
	}, func(body []byte) error {
		if !json.Valid(body) {
			return errors.New("record body is not valid JSON")
		}
		rec = body
		return nil
	})
	if err != nil {
		return nil, err
	}
	return rec, nil
}

// Link is a NetSuite HATEOAS link.
type Link struct {
	Rel  string `json:"rel"`
	Href string `json:"href"`
}

// ListItem is one entry of a record collection: the id and its links only.
type ListItem struct {
	ID    string `json:"id"`
	Links []Link `json:"links"`
}

// ListPage is one page of a record collection.
type ListPage struct {
	Items        []ListItem `json:"items"`
	Links        []Link     `json:"links"`
	Count        int        `json:"count"`
	Offset       int        `json:"offset"`
	TotalResults int        `json:"totalResults"`
	HasMore      bool       `json:"hasMore"`
}

// ListRecords fetches one page of a record collection: GET
// /services/rest/record/v1/<type>?limit=&offset=&q=... (params as given).
func (c *Client) ListRecords(ctx context.Context, recordType string, params url.Values) (*ListPage, error) {
	if recordType == "" {
		return nil, fmt.Errorf("list records: %w: record type is required", ErrInvalidArgument)
	}
	var page *ListPage
	err := c.do(ctx, &call{
		method:   http.MethodGet,
		path:     pathRecord + url.PathEscape(recordType),
		query:    params.Encode(),
		endpoint: EndpointRecordList,
	}, func(body []byte) error {
		var p struct {
			ListPage
			Items *[]ListItem `json:"items"`
		}
		if err := json.Unmarshal(body, &p); err != nil {
			return err //nolint:wrapcheck // wrapped by do as ErrMalformedResponse
		}
		if p.Items == nil {
			return errors.New(`collection has no "items" array`)
		}
		p.ListPage.Items = *p.Items
		page = &p.ListPage
		return nil
	})
	if err != nil {
		return nil, err
	}
	return page, nil
}

// call describes one logical request.
type call struct {
	method   string
	path     string // escaped path, no query
	query    string // encoded query string, may be empty
	body     []byte
	endpoint string // metric label
	prefer   string
}

// attempt stages, for retry reasons.
const (
	stageToken   = "token"
	stageLimiter = "limiter"
	stageHTTP    = "http"
)

// retryableError marks a failure outside the HTTP exchange (a limiter
// error) as worth retrying.
type retryableError struct{ err error }

func (e *retryableError) Error() string { return e.err.Error() }
func (e *retryableError) Unwrap() error { return e.err }

// do runs a call with retries. parse is called with the body of a 2xx
// response; its error makes the attempt a retryable ErrMalformedResponse.
func (c *Client) do(ctx context.Context, cl *call, parse func([]byte) error) error {
	start := c.now()
	failures := 0 // retryable failures so far
	reauthed := false
	for attempt := 1; ; attempt++ {
		tok, stage, err := c.attempt(ctx, cl, parse)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			if isCtxErr(ctx, err) {
				return fmt.Errorf("netsuite %s %s: %w", cl.method, cl.path, err)
			}
			return err
		}
		var apiErr *Error
		if errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusUnauthorized {
			if reauthed || tok == nil {
				return err
			}
			// NetSuite has no distinct "token expired" code: refresh once.
			reauthed = true
			c.tokens.Invalidate(ctx, tok)
			c.metrics.incRetry(c.account, "unauthorized")
			c.log.Debug("netsuite rejected the access token, retrying with a fresh one",
				"endpoint", cl.endpoint, "attempt", attempt)
			continue
		}
		if !IsRetryable(err) {
			return err
		}
		failures++
		if failures >= c.retry.MaxAttempts {
			return fmt.Errorf("give up after %d attempts: %w", attempt, err)
		}
		wait := c.retry.backoff(failures)
		if apiErr != nil && apiErr.RetryAfter > 0 {
			wait = apiErr.RetryAfter
		}
		if elapsed := c.now().Sub(start); elapsed+wait > c.retry.MaxElapsed {
			return fmt.Errorf("give up after %d attempts in %s: %w", attempt, elapsed.Round(time.Millisecond), err)
		}
		reason := retryReason(stage, err)
		c.metrics.incRetry(c.account, reason)
		c.log.Warn("netsuite request failed, retrying",
			"endpoint", cl.endpoint, "attempt", attempt, "reason", reason,
			"wait_ms", wait.Milliseconds(), "error", err)
		if err := c.sleep(ctx, wait); err != nil {
			return fmt.Errorf("netsuite %s %s: wait before retry: %w", cl.method, cl.path, err)
		}
	}
}

func retryReason(stage string, err error) string {
	switch stage {
	case stageToken:
		return "token"
	case stageLimiter:
		return "limiter"
	}
	var e *Error
	switch {
	case errors.As(err, &e) && e.Throttled():
		return "throttled"
	case e != nil && e.StatusCode == http.StatusRequestTimeout:
		return "timeout"
	case e != nil:
		return "server_error"
	case errors.Is(err, ErrMalformedResponse):
		return "malformed_response"
	default:
		return "transport"
	}
}

// attempt makes one HTTP exchange. It returns the token it used (for
// Invalidate) and the stage that failed.
func (c *Client) attempt(ctx context.Context, cl *call, parse func([]byte) error) (*oauth2.Token, string, error) {
	tok, err := c.tokens.Token(ctx)
	if err != nil {
		return nil, stageToken, fmt.Errorf("netsuite %s %s: get access token: %w", cl.method, cl.path, err)
	}
	waitStart := time.Now()
	rel, err := c.limiter.Acquire(ctx)
	if err != nil {
		if isCtxErr(ctx, err) {
			return nil, stageLimiter, fmt.Errorf("acquire concurrency slot: %w", err)
		}
		return nil, stageLimiter, &retryableError{fmt.Errorf("netsuite %s %s: acquire concurrency slot: %w", cl.method, cl.path, err)}
	}
	var once sync.Once
	release := func() { once.Do(rel) }
	defer release()
	if time.Since(waitStart) > time.Second {
		// The wait may have outlasted the token's early-refresh margin.
		if tok, err = c.tokens.Token(ctx); err != nil {
			return nil, stageToken, fmt.Errorf("netsuite %s %s: get access token: %w", cl.method, cl.path, err)
		}
	}

	actx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	target := c.baseURL + cl.path
	if cl.query != "" {
		target += "?" + cl.query
	}
	var rd io.Reader
	if cl.body != nil {
		rd = bytes.NewReader(cl.body)
	}
	req, err := http.NewRequestWithContext(actx, cl.method, target, rd)
	if err != nil {
		return tok, stageHTTP, fmt.Errorf("netsuite %s %s: build request: %w", cl.method, cl.path, err)
	}
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if cl.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if cl.prefer != "" {
		req.Header.Set("Prefer", cl.prefer)
	}

	t0 := time.Now()
	resp, err := c.hc.Do(req)
	if err != nil {
		release()
		c.metrics.observeRequest(c.account, cl.endpoint, 0, time.Since(t0))
		if ctx.Err() != nil {
			return tok, stageHTTP, ctx.Err()
		}
		return tok, stageHTTP, wrapTransport(cl.method, cl.path, err)
	}
	body, rerr := readBody(resp)
	_ = resp.Body.Close()
	release()
	c.metrics.observeRequest(c.account, cl.endpoint, resp.StatusCode, time.Since(t0))
	if rerr != nil {
		if ctx.Err() != nil {
			return tok, stageHTTP, ctx.Err()
		}
		if errors.Is(rerr, errBodyTooLarge) {
			return tok, stageHTTP, fmt.Errorf("netsuite %s %s: %w", cl.method, cl.path, rerr)
		}
		return tok, stageHTTP, wrapTransport(cl.method, cl.path, fmt.Errorf("read response body: %w", rerr))
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if err := parse(body); err != nil {
			return tok, stageHTTP, fmt.Errorf("netsuite %s %s: %w: %w", cl.method, cl.path, ErrMalformedResponse, err)
		}
		return tok, stageHTTP, nil
	}
	apiErr := newError(cl.method, cl.path, resp, body, tok.AccessToken)
	if apiErr.Throttled() {
		c.metrics.incThrottled(c.account)
	}
	return tok, stageHTTP, apiErr
}

var errBodyTooLarge = fmt.Errorf("response body larger than %d bytes", maxBodyBytes)

// readBody reads the whole body into one exactly sized buffer when the length
// is known (a short read is an error), or grows a buffer otherwise.
func readBody(resp *http.Response) ([]byte, error) {
	if n := resp.ContentLength; n >= 0 {
		if n > maxBodyBytes {
			return nil, errBodyTooLarge
		}
		buf := make([]byte, n)
		if _, err := io.ReadFull(resp.Body, buf); err != nil {
			return nil, err //nolint:wrapcheck // wrapped by the caller
		}
		return buf, nil
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBodyBytes+1))
	if err != nil {
		return nil, err //nolint:wrapcheck // wrapped by the caller
	}
	if len(b) > maxBodyBytes {
		return nil, errBodyTooLarge
	}
	return b, nil
}

// newError builds an *Error from a non-2xx response. A non-NetSuite body is
// kept as an excerpt with the access token redacted, in case a proxy echoed
// the request headers.
func newError(method, path string, resp *http.Response, body []byte, accessToken string) *Error {
	e := &Error{
		StatusCode: resp.StatusCode,
		Method:     method,
		Endpoint:   path,
		RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
		throttled: bytes.Contains(body, []byte("CONCURRENCY_LIMIT_EXCEEDED")) ||
			bytes.Contains(body, []byte("Concurrent request limit")),
	}
	var nb struct {
		Title   string        `json:"title"`
		Details []ErrorDetail `json:"o:errorDetails"`
	}
	if json.Unmarshal(body, &nb) == nil && (nb.Title != "" || len(nb.Details) > 0) {
		e.Title = nb.Title
		e.Details = nb.Details
	} else {
		e.Body = excerpt(body, 300)
		if accessToken != "" {
			e.Body = strings.ReplaceAll(e.Body, accessToken, "[redacted]")
		}
	}
	return e
}

// parseRetryAfter reads delay-seconds or an HTTP date; 0 when absent or
// unparsable.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// unwrapURLError drops the *url.Error layer, whose text repeats the full URL.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
