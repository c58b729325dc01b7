// Package netsuite is the NetSuite client the extractor uses: the REST
// record API and SuiteQL for one account, OAuth 2.0 token sources, the
// `nsflow auth login` flow, and a file token store.
//
// # Requests
//
// A Client sends each logical request (SuiteQL, GetRecord, ListRecords) as
// one or more attempts. Every attempt:
//
//   - asks the TokenSource for the current token, so a retry never reuses a
//     token that was replaced or rejected meanwhile;
//   - holds one slot of the account-wide Limiter for the HTTP exchange,
//     response body included, and releases it before any backoff sleep;
//   - sends "Authorization: Bearer <token>", "Accept: application/json",
//     and for SuiteQL "Content-Type: application/json" and "Prefer:
//     transient"; it never sends cookies (a cookie jar on a caller's
//     http.Client is ignored);
//   - is bounded by ClientConfig.RequestTimeout (default 5m; NetSuite's own
//     limit is 15m) and by the caller's context, which is honoured
//     everywhere, backoff sleeps included.
//
// # Retries
//
// Retryable, with exponential backoff and full jitter (a uniform wait in
// [0, min(MaxInterval, InitialInterval·2^(n-1))]), at most
// RetryPolicy.MaxAttempts attempts and no retry started after MaxElapsed:
//
//   - 429, and any 4xx/5xx whose body contains CONCURRENCY_LIMIT_EXCEEDED or
//     "Concurrent request limit" (NetSuite sometimes sends the latter as a
//     400); counted in nsflow_netsuite_throttled_total;
//   - 408 and every 5xx, including a 503 maintenance page in HTML;
//   - connection errors and per-attempt timeouts (ErrTransport);
//   - a 2xx whose body is not the expected JSON: truncated, invalid, or a
//     collection without "items" (ErrMalformedResponse);
//   - transient token endpoint failures and a shared-store token wait that
//     timed out (ErrTokenUnavailable);
//   - a Limiter error other than the context ending.
//
// A Retry-After header (seconds or HTTP date) replaces the computed wait. A
// 401 is answered by TokenSource.Invalidate and one immediate retry with a
// fresh token (NetSuite has no distinct "token expired" code); a second 401
// is returned as a permanent *Error for which IsAuth is true. Every other
// 4xx is returned at once, after exactly one request.
//
// The loop is written here rather than with cenkalti/backoff: it needs per
// attempt hooks (the one-time 401 refresh that does not count as a failure,
// limiter release before sleeping, Retry-After, retry-reason metrics) and
// full jitter, which backoff's randomisation factor does not give.
//
// # Errors
//
// Non-2xx answers are *Error, with the "o:errorDetails" entries parsed into
// Details (detail, o:errorCode, o:errorQueryParam, o:errorPath) and HasCode
// to test for a code; Endpoint is the URL path only. A non-NetSuite body (an
// HTML page) is kept as a short one-line excerpt in Body. Token endpoint
// refusals are *TokenError (status and RFC 6749 error code, never the body).
// Use IsRetryable and IsAuth rather than status codes, and errors.Is with
// the sentinels in errors.go. ErrReauthorizationRequired says what a person
// must do.
//
// Secrets (client secret, access and refresh tokens, private keys, client
// assertions) never appear in errors, logs or metric labels.
//
// # SuiteQL pages
//
// SuiteQL splits the response in one pass with a purpose-built scanner that
// validates the whole body as JSON (the RFC 8259 grammar; UTF-8 is not
// checked, as with json.Valid) and records where each element of the
// top-level "items" array begins and ends. SuiteQLPage.Items are subslices of
// the response body, exactly the bytes NetSuite sent ("links":[] included),
// with capacity clipped so an append cannot overwrite a neighbour. A fuzz
// test holds the scanner to encoding/json. On the project's 2-core machines
// (shared with other work) it splits a 1000-row page of ~1.5 KB rows at 490–870 MB/s (0.36–0.64
// M rows/s, 8 allocations per page; encoding/json into RawMessages: 70–125
// MB/s); a whole page over loopback HTTP, end to end, runs at 240–350
// pages/s. The hot path needs 20 pages/s.
//
// # Authentication
//
// RefreshTokenSource serves authorization-code credentials. NetSuite does
// not rotate a confidential client's refresh token, so the configured one is
// reused until it expires (7 days by default); a new one in a response is
// adopted. expires_in is accepted as a number or a string ("3600": x/oauth2
// parses both; tested). invalid_grant yields ErrReauthorizationRequired and
// is remembered: no further token requests until UpdateRefreshToken or a
// working token appears in the shared store. The refresh token's expiry
// (configured, or the JWT's exp claim read without verification) is exported
// as a gauge and warned about once a day when under 48 hours away.
//
// ClientCredentialsTokenSource serves the M2M grant: a JWT assertion (PS256
// by default for RSA, ES256/384/512 by EC curve; kid = certificate id; iss,
// scope, aud = token URL, iat, exp = iat+3600) signed with any crypto.Signer
// and posted without a Basic header; a new assertion per token.
//
// Both sources cache the token until EarlyRefresh (5m) before its expiry,
// refresh at most once at a time per process, and can share tokens between
// replicas through a TokenStore: a usable stored token wins; otherwise the
// process that takes the store's lock re-checks the store, refreshes and
// saves, while the others poll the store (bounded by LockWait) instead of
// refreshing too. If the store itself fails, a source refreshes on its own
// rather than stop. Returned tokens never carry the refresh token.
//
// Login runs the authorization-code grant with PKCE (S256) and a 43-character
// state for `nsflow auth login`, on a loopback listener. The redirect URI
// must be listed exactly on the integration record; real NetSuite requires
// https there, for which Login serves the callback with a throw-away
// self-signed certificate (see LoginConfig).
//
// FileTokenStore keeps the token in a 0600 JSON credentials file (atomic
// replace) with an O_EXCL lock file, for the CLI and single-host use;
// pkg/tokencache is the TokenStore for replicas.
//
// # Observability
//
// NewMetrics registers nsflow_netsuite_requests_total{account,endpoint,status},
// nsflow_netsuite_request_duration_seconds{account,endpoint},
// nsflow_netsuite_throttled_total{account},
// nsflow_netsuite_retries_total{account,reason},
// nsflow_netsuite_token_refreshes_total{account,result} and
// nsflow_netsuite_refresh_token_expiry_timestamp_seconds{account}. endpoint is
// one of suiteql, record_get, record_list, token; reason one of throttled,
// server_error, timeout, transport, malformed_response, unauthorized, token,
// limiter; result one of success, invalid_grant, error.
//
// Loggers are injected (nil discards). Keys are snake_case: account,
// endpoint, attempt, reason, wait_ms, error, kind, refresh_token_expires_at,
// hours_left. Retries log at Warn, a refused token request at Error once.
package netsuite
