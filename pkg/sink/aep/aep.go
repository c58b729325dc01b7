// Package aep is the Adobe Experience Platform sink: it sends each event
// version as an XDM ExperienceEvent (compatibility-mode field names, see
// Entity) to a streaming inlet's batch endpoint,
// POST {InletURL} {"messages":[…]}.
//
// Batching. A Write's messages are packed, in order, into requests of at most
// MaxRequestBytes (1 MB is the inlet's limit) and MaxMessagesPerRequest
// messages; up to MaxConcurrentRequests are in flight. A record that alone
// exceeds the limit fails permanently without being sent.
//
// Responses. The batch endpoint answers 207 with one result per message.
// Messages answered 429 or 5xx are sent again (only those) with back-off;
// other per-message errors (400: invalid XDM, wrong org…) are permanent and
// come back as RecordErrors of a *sink.PartialError, carrying AEP's message.
// A whole request answered 429/5xx is retried with exponential back-off and
// jitter, waiting at least as long as Retry-After says (a Retry-After longer
// than MaxBackoff ends the attempt at once with an *InletError carrying it,
// so the caller can delay the batch rather than block); 413 splits the request
// in two (a single message over the limit is permanent); a 400 that is not
// per-message splits too, to isolate the record; 401/403 fetch a new IMS token
// once and retry. What still fails after MaxAttempts is returned as transient
// RecordErrors (or, when nothing at all was accepted, as a plain transient
// error) so the loader can retry it.
//
// AEP has no upsert and no transaction: records accepted before a failure
// stay accepted, which is why the result is per record. The version guard is
// downstream's job: every record carries lastModifiedDate and rawSequence,
// and the _id is derived from (account, id, version), so a redelivered
// version is a duplicate AEP (and Profile) can drop by _id.
//
// Ping is cheap: with IMS authentication it makes sure a token can be had
// (a network call only when the cached one expired); after a Write met a
// transient failure it also probes the inlet with an empty batch until the
// inlet answers again. Otherwise it returns nil without a request.
package aep

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/nsflow/nsflow/pkg/calendarevent"
	"github.com/nsflow/nsflow/pkg/sink/internal/core"
)

// Options holds what is not configuration.
type Options struct {
	// Logger receives operational logs (ids, counts and statuses only). Nil discards.
	Logger *slog.Logger
	// HTTPClient sends requests (token and inlet). Nil means a client without
	// its own timeout; RequestTimeout bounds each request.
	HTTPClient *http.Client
}

// Sink sends events to an AEP streaming inlet.
type Sink struct {
	cfg    Config
	log    *slog.Logger
	client *http.Client
	oauth  *clientcredentials.Config // nil without auth

	tokMu sync.Mutex
	tok   *oauth2.Token

	degraded atomic.Bool
	// sleep waits between attempts; tests replace it.
	sleep func(ctx context.Context, d time.Duration) error
}

// New validates cfg (after applying defaults) and returns a sink. It does
// not contact AEP.
func New(cfg Config, opts Options) (*Sink, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{}
	}
	s := &Sink{cfg: cfg, log: opts.Logger, client: opts.HTTPClient, sleep: sleepCtx}
	if cfg.Auth.Enabled() {
		s.oauth = &clientcredentials.Config{
			ClientID:     cfg.Auth.ClientID,
			ClientSecret: cfg.Auth.ClientSecret,
			TokenURL:     cfg.Auth.TokenURL,
			AuthStyle:    oauth2.AuthStyleInParams,
		}
		if len(cfg.Auth.Scopes) > 0 {
			// IMS wants one comma-separated scope parameter; oauth2 would join with spaces.
			s.oauth.Scopes = []string{strings.Join(cfg.Auth.Scopes, ",")}
		}
	}
	return s, nil
}

// Config returns the configuration in effect (defaults applied).
func (s *Sink) Config() Config { return s.cfg }

// Close releases idle connections.
func (s *Sink) Close() error {
	s.client.CloseIdleConnections()
	return nil
}

// Ping: see the package documentation.
func (s *Sink) Ping(ctx context.Context) error {
	if s.oauth != nil {
		if _, err := s.token(ctx); err != nil {
			return fmt.Errorf("aep ping: %w", err)
		}
	}
	if !s.degraded.Load() {
		return nil
	}
	r, err := s.post(ctx, []byte(`{"messages":[]}`))
	if err != nil {
		return fmt.Errorf("aep ping: %w", err)
	}
	if r.status == http.StatusTooManyRequests || r.status >= 500 {
		return fmt.Errorf("aep ping: %w", &InletError{Status: r.status})
	}
	s.degraded.Store(false)
	return nil
}

// Write sends one message per event. It returns nil when the inlet accepted
// every message, a *sink.PartialError listing the records that failed when
// some were accepted (or some failed permanently), and a plain transient
// error when none was accepted and none failed permanently.
func (s *Sink) Write(ctx context.Context, events []*calendarevent.Event) error {
	if len(events) == 0 {
		return nil
	}
	createdAt := strconv.FormatInt(time.Now().UnixMilli(), 10)
	msgs := make([][]byte, len(events))
	var failed []core.RecordError
	var sendable []int
	limit := s.cfg.MaxRequestBytes - len(`{"messages":[]}`)
	for i, e := range events {
		b, err := s.encode(e, createdAt)
		switch {
		case err != nil:
			failed = append(failed, core.RecordError{Index: i, Err: fmt.Errorf("map to XDM: %w", err), Permanent: true})
		case len(b) > limit:
			failed = append(failed, core.RecordError{Index: i, Err: fmt.Errorf("%w: %d bytes", ErrRecordTooLarge, len(b)), Permanent: true})
		default:
			msgs[i] = b
			sendable = append(sendable, i)
		}
	}

	var (
		mu  sync.Mutex
		wg  sync.WaitGroup
		sem = make(chan struct{}, s.cfg.MaxConcurrentRequests)
	)
	for _, req := range s.pack(msgs, sendable) {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			errs := s.deliver(ctx, msgs, req)
			mu.Lock()
			failed = append(failed, errs...)
			mu.Unlock()
		})
	}
	wg.Wait()

	if len(failed) == 0 {
		return nil
	}
	slices.SortFunc(failed, func(a, b core.RecordError) int { return a.Index - b.Index })
	permanent := slices.ContainsFunc(failed, func(f core.RecordError) bool { return f.Permanent })
	if len(failed) == len(events) && !permanent {
		return fmt.Errorf("aep write: no record accepted: %w", failed[0].Err)
	}
	return &core.PartialError{Failed: failed}
}

func (s *Sink) encode(e *calendarevent.Event, createdAt string) ([]byte, error) {
	ent, err := MapEvent(e, s.cfg.TenantID, s.cfg.IdentityNamespace)
	if err != nil {
		return nil, err
	}
	ref := SchemaRef{ID: s.cfg.SchemaID, ContentType: s.cfg.ContentTypeValue()}
	m := Message{
		Header: Header{
			SchemaRef: ref,
			IMSOrgID:  s.cfg.IMSOrgID,
			DatasetID: s.cfg.DatasetID,
			FlowID:    s.cfg.FlowID,
			CreatedAt: createdAt,
			Source:    &Source{Name: s.cfg.SourceName},
		},
		Body: Body{XDMMeta: XDMMeta{SchemaRef: ref}, XDMEntity: ent},
	}
	return json.Marshal(&m)
}

// pack groups message indexes, in order, into requests within the size and
// count limits.
func (s *Sink) pack(msgs [][]byte, idxs []int) [][]int {
	var out [][]int
	var cur []int
	size := len(`{"messages":[]}`)
	for _, i := range idxs {
		n := len(msgs[i]) + 1
		if len(cur) > 0 && (size+n > s.cfg.MaxRequestBytes || len(cur) >= s.cfg.MaxMessagesPerRequest) {
			out = append(out, cur)
			cur, size = nil, len(`{"messages":[]}`)
		}
		cur = append(cur, i)
		size += n
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

func body(msgs [][]byte, idxs []int) []byte {
	n := len(`{"messages":[]}`)
	for _, i := range idxs {
		n += len(msgs[i]) + 1
	}
	b := make([]byte, 0, n)
	b = append(b, `{"messages":[`...)
	for k, i := range idxs {
		if k > 0 {
			b = append(b, ',')
		}
		b = append(b, msgs[i]...)
	}
	return append(b, "]}"...)
}

// deliver sends the messages idxs until each is accepted, fails permanently
// or runs out of attempts, and returns the failures.
func (s *Sink) deliver(ctx context.Context, msgs [][]byte, idxs []int) []core.RecordError {
	pending := idxs
	reauthorized := false
	var out []core.RecordError
	all := func(err error, permanent bool) []core.RecordError {
		for _, i := range pending {
			out = append(out, core.RecordError{Index: i, Err: err, Permanent: permanent})
		}
		return out
	}
	for attempt := 1; ; attempt++ {
		r, err := s.post(ctx, body(msgs, pending))
		status, respBody := r.status, r.body
		var retryAfter time.Duration
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return all(fmt.Errorf("aep request: %w", ctx.Err()), false)
			}
			s.degraded.Store(true)

		case status == http.StatusMultiStatus || status == http.StatusOK:
			s.degraded.Store(false)
			results, perr := parseResults(respBody, len(pending))
			if perr != nil {
				err = perr
				break
			}
			var retry []int
			for k, res := range results {
				switch {
				case res.StatusCode == 0 || (res.StatusCode >= 200 && res.StatusCode < 300):
				case res.StatusCode == http.StatusTooManyRequests || res.StatusCode >= 500:
					if len(retry) == 0 {
						err = &InletError{Status: res.StatusCode, Message: truncate(res.Message)}
					}
					retry = append(retry, pending[k])
				default:
					out = append(out, core.RecordError{Index: pending[k], Err: &InletError{Status: res.StatusCode, Message: truncate(res.Message)}, Permanent: true})
				}
			}
			if len(retry) == 0 {
				return out
			}
			pending = retry

		case status == http.StatusUnauthorized || status == http.StatusForbidden:
			ierr := &InletError{Status: status, Message: problemMessage(respBody)}
			if s.oauth == nil {
				return all(fmt.Errorf("%w (authentication is not configured): %w", ErrUnauthorized, ierr), false)
			}
			if reauthorized {
				return all(fmt.Errorf("%w after a new token: %w", ErrUnauthorized, ierr), false)
			}
			reauthorized = true
			s.invalidateToken(r.token)
			attempt-- // a token refresh is not a delivery attempt
			continue

		case status == http.StatusRequestEntityTooLarge || status == http.StatusBadRequest:
			ierr := &InletError{Status: status, Message: problemMessage(respBody)}
			if len(pending) == 1 {
				if status == http.StatusRequestEntityTooLarge {
					return append(out, core.RecordError{Index: pending[0], Err: fmt.Errorf("%w: %w", ErrRecordTooLarge, ierr), Permanent: true})
				}
				return append(out, core.RecordError{Index: pending[0], Err: ierr, Permanent: true})
			}
			half := len(pending) / 2
			s.log.Debug("aep request split", "status", status, "messages", len(pending))
			out = append(out, s.deliver(ctx, msgs, pending[:half])...)
			return append(out, s.deliver(ctx, msgs, pending[half:])...)

		case status == http.StatusTooManyRequests || status >= 500:
			s.degraded.Store(true)
			retryAfter = parseRetryAfter(r.header.Get("Retry-After"), time.Now())
			err = &InletError{Status: status, Message: problemMessage(respBody), RetryAfter: retryAfter}
			if retryAfter > s.cfg.MaxBackoff {
				// Do not hold the batch that long: hand it back; the error
				// carries RetryAfter for the caller's own delay.
				return all(fmt.Errorf("aep: inlet asks to retry after %s: %w", retryAfter, err), false)
			}

		default: // 404 (wrong inlet), 501 and other configuration problems
			return all(&InletError{Status: status, Message: problemMessage(respBody)}, false)
		}

		if attempt >= s.cfg.MaxAttempts {
			return all(fmt.Errorf("aep: gave up after %d attempts: %w", attempt, err), false)
		}
		wait := max(s.backoff(attempt), retryAfter)
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return all(fmt.Errorf("aep: retry in %s would pass the deadline: %w", wait, err), false)
		}
		s.log.Warn("aep request retry", "error", err, "attempt", attempt, "messages", len(pending), "wait", wait)
		if serr := s.sleep(ctx, wait); serr != nil {
			return all(fmt.Errorf("aep: %w (last error: %w)", serr, err), false)
		}
	}
}

// backoff is exponential from MinBackoff, capped at MaxBackoff, with jitter
// in [d/2, d).
func (s *Sink) backoff(attempt int) time.Duration {
	d := s.cfg.MinBackoff
	for i := 1; i < attempt && d < s.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, s.cfg.MaxBackoff)
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2)
}

// response is what post got back; token is the access token it sent.
type response struct {
	status int
	header http.Header
	body   []byte
	token  string
}

// post sends one request with the auth and sandbox headers.
func (s *Sink) post(ctx context.Context, payload []byte) (response, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	var r response
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.InletURL, bytes.NewReader(payload))
	if err != nil {
		return r, fmt.Errorf("aep request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("x-gw-ims-org-id", s.cfg.IMSOrgID)
	if s.cfg.SandboxName != "" {
		req.Header.Set("x-sandbox-name", s.cfg.SandboxName)
	}
	if s.oauth != nil {
		if r.token, err = s.token(ctx); err != nil {
			return r, err
		}
		req.Header.Set("Authorization", "Bearer "+r.token)
		req.Header.Set("x-api-key", s.cfg.Auth.ClientID)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return r, fmt.Errorf("aep request: %w", err)
	}
	defer resp.Body.Close()
	if r.body, err = io.ReadAll(io.LimitReader(resp.Body, 8<<20)); err != nil {
		return r, fmt.Errorf("aep response: %w", err)
	}
	r.status, r.header = resp.StatusCode, resp.Header
	return r, nil
}

// token returns a valid access token, fetching one when there is none or it
// expired. Callers fetching concurrently wait for one fetch.
func (s *Sink) token(ctx context.Context) (string, error) {
	s.tokMu.Lock()
	defer s.tokMu.Unlock()
	if s.tok.Valid() {
		return s.tok.AccessToken, nil
	}
	t, err := s.oauth.Token(context.WithValue(ctx, oauth2.HTTPClient, s.client))
	if err != nil {
		s.degraded.Store(true)
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil {
			// The body may echo request details; keep the status and error code.
			return "", fmt.Errorf("ims token: status %d %s", re.Response.StatusCode, re.ErrorCode)
		}
		return "", fmt.Errorf("ims token: %w", err)
	}
	s.tok = t
	return t.AccessToken, nil
}

// invalidateToken drops the cached token, if it is still stale (another
// request may have replaced it already), so the next request fetches one.
func (s *Sink) invalidateToken(stale string) {
	s.tokMu.Lock()
	if s.tok != nil && s.tok.AccessToken == stale {
		s.tok = nil
	}
	s.tokMu.Unlock()
}

type result struct {
	StatusCode int    `json:"statusCode"`
	Message    string `json:"message"`
	XactionID  string `json:"xactionId"`
}

func parseResults(b []byte, n int) ([]result, error) {
	var r struct {
		Responses []result `json:"responses"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("aep batch response: %w", err)
	}
	if len(r.Responses) != n {
		return nil, fmt.Errorf("aep batch response has %d results for %d messages", len(r.Responses), n)
	}
	return r.Responses, nil
}

// problemMessage extracts a short explanation from an error body (AEP's
// problem+json: title and report.message).
func problemMessage(b []byte) string {
	var p struct {
		Title  string `json:"title"`
		Detail string `json:"detail"`
		Report struct {
			Message string `json:"message"`
		} `json:"report"`
		Message string `json:"message"`
	}
	if json.Unmarshal(b, &p) != nil {
		return ""
	}
	parts := []string{}
	for _, s := range []string{p.Title, p.Detail, p.Report.Message, p.Message} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	return truncate(strings.Join(parts, ": "))
}

func truncate(s string) string {
	const limit = 500
	if len(s) <= limit {
		return s
	}
	return s[:limit] + "…"
}

// parseRetryAfter reads delay-seconds or an HTTP date; 0 when absent or bad.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
