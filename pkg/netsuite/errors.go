package netsuite

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

var (
	// ErrInvalidConfig is wrapped by constructors when a config is unusable.
	ErrInvalidConfig = errors.New("netsuite: invalid configuration")

	// ErrInvalidArgument is wrapped when a method argument is out of range
	// (an empty record id, a SuiteQL limit outside 1..1000). No request is sent.
	ErrInvalidArgument = errors.New("netsuite: invalid argument")

	// ErrTransport is wrapped around connection errors and per-attempt
	// timeouts. Retryable.
	ErrTransport = errors.New("netsuite: transport error")

	// ErrMalformedResponse is wrapped when a 2xx response body is not the JSON
	// NetSuite should send (truncated, invalid, or missing "items"). Retryable.
	ErrMalformedResponse = errors.New("netsuite: malformed response body")

	// ErrReauthorizationRequired means the refresh token has expired or was
	// revoked (the token endpoint answered invalid_grant). Nothing retries it:
	// a person has to act.
	ErrReauthorizationRequired = errors.New("netsuite: refresh token expired or revoked (invalid_grant): " +
		"re-authorize by running `nsflow auth login` (or set a new NETSUITE_REFRESH_TOKEN) and restart, " +
		"or switch to OAuth 2.0 client credentials (M2M), which has no 7-day refresh-token expiry")

	// ErrTokenUnavailable means another process holds the shared refresh
	// lock and no fresh token appeared in the shared store in time. Retryable.
	ErrTokenUnavailable = errors.New("netsuite: no fresh access token available from the shared token store")

	// ErrNoToken is returned by TokenStore.Load when the store holds no token.
	ErrNoToken = errors.New("netsuite: no token stored")

	// ErrLocked is returned by TokenStore.Lock when another holder has the
	// lock and its lease has not expired.
	ErrLocked = errors.New("netsuite: lock held by another process")

	// ErrStateMismatch is wrapped by Login when the callback's state does not
	// match the one sent; the code is not exchanged.
	ErrStateMismatch = errors.New("netsuite: login callback state mismatch (possible forged or stale redirect)")

	// ErrAuthorizationDenied is wrapped by Login when NetSuite redirects back
	// with an error parameter (for example access_denied).
	ErrAuthorizationDenied = errors.New("netsuite: authorization was not granted")
)

// ErrorDetail is one entry of a NetSuite error body's "o:errorDetails" array.
type ErrorDetail struct {
	Detail     string `json:"detail"`
	Code       string `json:"o:errorCode"`
	QueryParam string `json:"o:errorQueryParam,omitempty"`
	Path       string `json:"o:errorPath,omitempty"`
}

// Error is a non-2xx answer from the REST record API or SuiteQL.
//
// Endpoint is the URL path only: query strings are never kept. Body is set
// only when the response was not NetSuite's JSON error shape (an HTML
// maintenance page, a proxy error), trimmed to a short excerpt.
type Error struct {
	StatusCode int
	Method     string
	Endpoint   string
	Title      string
	Details    []ErrorDetail
	Body       string
	// RetryAfter is the parsed Retry-After header, zero when absent.
	RetryAfter time.Duration

	throttled bool // 429, or a concurrency-limit marker in the body
}

// Error formats as
// "netsuite POST /services/rest/query/v1/suiteql: 400 Bad Request: INVALID_PARAMETER: Invalid search query...".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("netsuite ")
	b.WriteString(e.Method)
	b.WriteByte(' ')
	b.WriteString(e.Endpoint)
	b.WriteString(": ")
	b.WriteString(strconv.Itoa(e.StatusCode))
	if t := http.StatusText(e.StatusCode); t != "" {
		b.WriteByte(' ')
		b.WriteString(t)
	} else if e.Title != "" {
		b.WriteByte(' ')
		b.WriteString(e.Title)
	}
	for i, d := range e.Details {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		if d.Code != "" {
			b.WriteString(d.Code)
			b.WriteString(": ")
		}
		b.WriteString(d.Detail)
		if d.QueryParam != "" {
			b.WriteString(" (query parameter ")
			b.WriteString(d.QueryParam)
			b.WriteByte(')')
		}
		if d.Path != "" {
			b.WriteString(" (path ")
			b.WriteString(d.Path)
			b.WriteByte(')')
		}
	}
	if len(e.Details) == 0 && e.Body != "" {
		b.WriteString(": ")
		b.WriteString(e.Body)
	}
	return b.String()
}

// HasCode reports whether any error detail carries the o:errorCode code.
func (e *Error) HasCode(code string) bool {
	for _, d := range e.Details {
		if d.Code == code {
			return true
		}
	}
	return false
}

// Throttled reports whether NetSuite refused the request for concurrency
// governance: HTTP 429, or any status whose body mentions
// CONCURRENCY_LIMIT_EXCEEDED or "Concurrent request limit".
func (e *Error) Throttled() bool { return e.StatusCode == http.StatusTooManyRequests || e.throttled }

// Retryable reports whether the same request may succeed later: throttling,
// 408, and 5xx. 401 is not retryable here: the client refreshes the token once
// by itself.
func (e *Error) Retryable() bool {
	return e.Throttled() || e.StatusCode == http.StatusRequestTimeout || e.StatusCode >= 500
}

// TokenError is a refusal from the OAuth 2.0 token endpoint. It carries no
// request or response body, so it never holds a secret.
type TokenError struct {
	AccountID   string
	StatusCode  int
	Code        string // RFC 6749 error, e.g. invalid_grant, invalid_client
	Description string // error_description, when NetSuite sends one
}

// Error formats as "netsuite token endpoint (account 1234567): 400: invalid_client: ...".
func (e *TokenError) Error() string {
	var b strings.Builder
	b.WriteString("netsuite token endpoint")
	if e.AccountID != "" {
		b.WriteString(" (account ")
		b.WriteString(e.AccountID)
		b.WriteByte(')')
	}
	b.WriteString(": ")
	b.WriteString(strconv.Itoa(e.StatusCode))
	if e.Code != "" {
		b.WriteString(": ")
		b.WriteString(e.Code)
	}
	if e.Description != "" {
		b.WriteString(": ")
		b.WriteString(e.Description)
	}
	return b.String()
}

// Retryable reports whether the token endpoint failed for a transient reason
// (429, 408 or 5xx).
func (e *TokenError) Retryable() bool {
	return e.StatusCode == http.StatusTooManyRequests || e.StatusCode == http.StatusRequestTimeout || e.StatusCode >= 500
}

// IsRetryable reports whether err is worth retrying later: throttling,
// 5xx, transport errors and timeouts, malformed 2xx bodies, transient token
// endpoint failures, a shared-store token wait that timed out, and limiter
// failures other than the context ending. Context
// cancellation, ErrReauthorizationRequired and other 4xx are not.
func IsRetryable(err error) bool {
	if err == nil || errors.Is(err, ErrReauthorizationRequired) {
		return false
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Retryable()
	}
	var te *TokenError
	if errors.As(err, &te) {
		return te.Retryable()
	}
	var re *retryableError
	return errors.As(err, &re) ||
		errors.Is(err, ErrTransport) || errors.Is(err, ErrMalformedResponse) || errors.Is(err, ErrTokenUnavailable)
}

// IsAuth reports whether err means the credentials are not accepted: a 401
// from the REST API (after one refresh), ErrReauthorizationRequired, or a
// token endpoint refusal of the client or grant (invalid_client,
// unauthorized_client, invalid_grant, invalid_scope, or HTTP 401).
func IsAuth(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrReauthorizationRequired) {
		return true
	}
	var e *Error
	if errors.As(err, &e) && e.StatusCode == http.StatusUnauthorized {
		return true
	}
	var te *TokenError
	if errors.As(err, &te) {
		switch te.Code {
		case "invalid_client", "unauthorized_client", "invalid_grant", "invalid_scope":
			return true
		}
		return te.StatusCode == http.StatusUnauthorized
	}
	return false
}

// isCtxErr reports whether err is the caller's context ending.
func isCtxErr(ctx context.Context, err error) bool {
	return ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded))
}

// excerpt trims a non-JSON body (HTML maintenance page, proxy error) to a
// short single-line excerpt safe for error messages.
func excerpt(body []byte, max int) string {
	s := strings.Join(strings.Fields(string(body)), " ")
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// wrapTransport marks a transport failure as retryable without repeating the
// full URL (the *url.Error text) in the message.
func wrapTransport(method, endpoint string, err error) error {
	return fmt.Errorf("netsuite %s %s: %w: %w", method, endpoint, ErrTransport, unwrapURLError(err))
}
