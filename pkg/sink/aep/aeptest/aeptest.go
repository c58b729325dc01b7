// Package aeptest is a fake Adobe Experience Platform streaming inlet for
// tests: an httptest server with the batch endpoint
// (POST /collection/batch/{id}, 207 Multi-Status with one result per message),
// an IMS token endpoint (POST /ims/token/v3, client credentials), the 1 MB
// body limit (413), per-message validation and scripted faults. It records
// every accepted message so tests can assert what arrived.
//
// Validation is what the inlet checks synchronously, per message: the
// envelope (schemaRef id and content type, xdmMeta.schemaRef equal to the
// header's, datasetId, imsOrgId — and when Options.IMSOrgID is set, that it
// matches), then that xdmEntity has a non-empty string _id and an RFC 3339
// timestamp (the two fields an ExperienceEvent requires), then any rule set
// with RejectMessages. A failing message gets a 400 entry with an AEP-style
// message; the others in the request are accepted.
package aeptest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// InletID is the connection id in InletURL.
const InletID = "fake-inlet"

// Options configures the fake.
type Options struct {
	// ClientID and ClientSecret, when set, make the token endpoint issue
	// tokens for them and the inlet require "Authorization: Bearer <token>":
	// 401 without one, 403 for an unknown or revoked one.
	ClientID, ClientSecret string
	// TokenTTL is the issued tokens' expires_in; default one hour.
	TokenTTL time.Duration
	// IMSOrgID, when set, is the only organisation accepted in message headers.
	IMSOrgID string
	// MaxBodyBytes is the request size above which the inlet answers 413;
	// default 1 MiB.
	MaxBodyBytes int64
}

// Fault is a scripted whole-request response.
type Fault struct {
	Status int
	// RetryAfter, when set, is sent as the Retry-After header.
	RetryAfter string
}

// Received is one accepted message.
type Received struct {
	Header json.RawMessage
	// Entity is the message's body.xdmEntity, as sent.
	Entity json.RawMessage
	// Request numbers the inlet request it came in (from 1).
	Request int
}

// Server is the fake inlet.
type Server struct {
	*httptest.Server
	opts Options

	mu       sync.Mutex
	received []Received
	faults   []Fault
	down     bool
	reject   func(entity map[string]any) (status int, message string)
	tokens   map[string]bool
	requests int
	tokenReq int
	statuses []int
	sizes    []int
	counts   []int
}

// NewServer starts a fake inlet, closed when the test ends.
func NewServer(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.TokenTTL == 0 {
		opts.TokenTTL = time.Hour
	}
	if opts.MaxBodyBytes == 0 {
		opts.MaxBodyBytes = 1 << 20
	}
	s := &Server{opts: opts, tokens: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /collection/batch/{id}", s.batch)
	mux.HandleFunc("POST /ims/token/v3", s.token)
	s.Server = httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

// InletURL is the batch endpoint URL.
func (s *Server) InletURL() string { return s.URL + "/collection/batch/" + InletID }

// TokenURL is the IMS token endpoint URL.
func (s *Server) TokenURL() string { return s.URL + "/ims/token/v3" }

// Received returns the accepted messages in arrival order.
func (s *Server) Received() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.received...)
}

// Entities returns the accepted messages' xdmEntity, in arrival order.
func (s *Server) Entities() []json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]json.RawMessage, len(s.received))
	for i, r := range s.received {
		out[i] = r.Entity
	}
	return out
}

// FailNext makes the next len(f) inlet requests answer f's statuses, in order.
func (s *Server) FailNext(f ...Fault) {
	s.mu.Lock()
	s.faults = append(s.faults, f...)
	s.mu.Unlock()
}

// SetDown makes every request (inlet and token) answer 503 while down.
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	s.down = down
	s.mu.Unlock()
}

// RejectMessages installs a per-message rule run after the built-in checks:
// a non-zero status rejects the message with that status and message (400
// for a permanent rejection, 429 or 5xx for a transient one). nil removes it.
func (s *Server) RejectMessages(rule func(entity map[string]any) (status int, message string)) {
	s.mu.Lock()
	s.reject = rule
	s.mu.Unlock()
}

// RevokeTokens invalidates every token issued so far.
func (s *Server) RevokeTokens() {
	s.mu.Lock()
	clear(s.tokens)
	s.mu.Unlock()
}

// Stats counts requests.
type Stats struct {
	// InletRequests and TokenRequests count requests to each endpoint.
	InletRequests, TokenRequests int
	// Statuses lists the inlet's response statuses in order.
	Statuses []int
	// BodyBytes and Messages list, for every batch the inlet parsed (answered
	// 207), its size and number of messages.
	BodyBytes, Messages []int
}

// Stats returns request counts so far.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{
		InletRequests: s.requests, TokenRequests: s.tokenReq, Statuses: append([]int(nil), s.statuses...),
		BodyBytes: append([]int(nil), s.sizes...), Messages: append([]int(nil), s.counts...),
	}
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.tokenReq++
	down := s.down
	s.mu.Unlock()
	if down {
		problem(w, http.StatusServiceUnavailable, "Service Unavailable", "")
		return
	}
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request"})
		return
	}
	id, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if u, p, ok := r.BasicAuth(); ok {
		id, secret = u, p
	}
	if r.PostForm.Get("grant_type") != "client_credentials" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type"})
		return
	}
	if s.opts.ClientID == "" || id != s.opts.ClientID || secret != s.opts.ClientSecret {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
		return
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	tok := hex.EncodeToString(b)
	s.mu.Lock()
	s.tokens[tok] = true
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": tok, "token_type": "bearer", "expires_in": int(s.opts.TokenTTL.Seconds()),
	})
}

func (s *Server) batch(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	reqNo := s.requests
	var fault *Fault
	if len(s.faults) > 0 {
		f := s.faults[0]
		s.faults = s.faults[1:]
		fault = &f
	}
	down := s.down
	reject := s.reject
	s.mu.Unlock()

	status := s.serveBatch(w, r, reqNo, fault, down, reject)
	s.mu.Lock()
	s.statuses = append(s.statuses, status)
	s.mu.Unlock()
}

func (s *Server) serveBatch(w http.ResponseWriter, r *http.Request, reqNo int, fault *Fault, down bool,
	reject func(map[string]any) (int, string),
) int {
	if down {
		return problem(w, http.StatusServiceUnavailable, "Service Unavailable", "")
	}
	if r.PathValue("id") != InletID {
		return problem(w, http.StatusNotFound, "Inlet not found", "")
	}
	if s.opts.ClientID != "" {
		auth := r.Header.Get("Authorization")
		tok, ok := strings.CutPrefix(auth, "Bearer ")
		if !ok || tok == "" {
			return problem(w, http.StatusUnauthorized, "Authorization", "Ims service token is empty")
		}
		s.mu.Lock()
		valid := s.tokens[tok]
		s.mu.Unlock()
		if !valid {
			return problem(w, http.StatusForbidden, "Authorization", "Ims service token is invalid or expired")
		}
	}
	if fault != nil {
		if fault.RetryAfter != "" {
			w.Header().Set("Retry-After", fault.RetryAfter)
		}
		return problem(w, fault.Status, http.StatusText(fault.Status), "scripted fault")
	}
	if r.ContentLength > s.opts.MaxBodyBytes {
		return problem(w, http.StatusRequestEntityTooLarge, "Payload Too Large", "request exceeds 1 MB")
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes))
	if err != nil {
		return problem(w, http.StatusRequestEntityTooLarge, "Payload Too Large", "request exceeds 1 MB")
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return problem(w, http.StatusUnsupportedMediaType, "Unsupported Media Type", ct)
	}
	var batch struct {
		Messages []json.RawMessage `json:"messages"`
	}
	if err := json.Unmarshal(b, &batch); err != nil || batch.Messages == nil {
		return problem(w, http.StatusBadRequest, "Invalid Request", "body must be {\"messages\":[…]}")
	}
	results := make([]map[string]any, len(batch.Messages))
	var accepted []Received
	for i, m := range batch.Messages {
		hdr, ent, code, msg := s.check(m, reject)
		if code != 0 {
			results[i] = map[string]any{"statusCode": code, "message": msg}
			continue
		}
		results[i] = map[string]any{"xactionId": fmt.Sprintf("%d:%d:%d", time.Now().UnixMilli(), reqNo, i)}
		accepted = append(accepted, Received{Header: hdr, Entity: ent, Request: reqNo})
	}
	s.mu.Lock()
	s.received = append(s.received, accepted...)
	s.sizes = append(s.sizes, len(b))
	s.counts = append(s.counts, len(batch.Messages))
	s.mu.Unlock()
	writeJSON(w, http.StatusMultiStatus, map[string]any{
		"inletId":        InletID,
		"batchId":        fmt.Sprintf("%d:%d", time.Now().UnixMilli(), reqNo),
		"receivedTimeMs": time.Now().UnixMilli(),
		"responses":      results,
	})
	return http.StatusMultiStatus
}

func (s *Server) check(m json.RawMessage, reject func(map[string]any) (int, string)) (json.RawMessage, json.RawMessage, int, string) {
	prefix := "inletId: [" + InletID + "] imsOrgId: [" + s.opts.IMSOrgID + "] "
	var msg struct {
		Header json.RawMessage `json:"header"`
		Body   struct {
			XDMMeta struct {
				SchemaRef schemaRef `json:"schemaRef"`
			} `json:"xdmMeta"`
			XDMEntity json.RawMessage `json:"xdmEntity"`
		} `json:"body"`
	}
	var hdr struct {
		SchemaRef schemaRef `json:"schemaRef"`
		IMSOrgID  string    `json:"imsOrgId"`
		DatasetID string    `json:"datasetId"`
	}
	if json.Unmarshal(m, &msg) != nil || json.Unmarshal(msg.Header, &hdr) != nil {
		return nil, nil, http.StatusBadRequest, prefix + "Message has unknown xdm format"
	}
	if hdr.IMSOrgID == "" || (s.opts.IMSOrgID != "" && hdr.IMSOrgID != s.opts.IMSOrgID) {
		return nil, nil, http.StatusBadRequest, prefix + "Message has an absent or wrong ims org in the header"
	}
	if hdr.SchemaRef.ID == "" || hdr.SchemaRef.ContentType == "" || hdr.SchemaRef != msg.Body.XDMMeta.SchemaRef || hdr.DatasetID == "" {
		return nil, nil, http.StatusBadRequest, prefix + "Message has unknown xdm format"
	}
	var ent map[string]any
	if json.Unmarshal(msg.Body.XDMEntity, &ent) != nil || ent == nil {
		return nil, nil, http.StatusBadRequest, prefix + "Message is invalid: xdmEntity is not an object"
	}
	if id, ok := ent["_id"].(string); !ok || id == "" {
		return nil, nil, http.StatusBadRequest, prefix + "Message is invalid: #: required key [_id] not found"
	}
	if ts, ok := ent["timestamp"].(string); !ok {
		return nil, nil, http.StatusBadRequest, prefix + "Message is invalid: #: required key [timestamp] not found"
	} else if _, err := time.Parse(time.RFC3339Nano, ts); err != nil {
		return nil, nil, http.StatusBadRequest, prefix + "Message is invalid: #/timestamp: string is not a valid date-time"
	}
	if reject != nil {
		if code, text := reject(ent); code != 0 {
			return nil, nil, code, prefix + text
		}
	}
	return msg.Header, msg.Body.XDMEntity, 0, ""
}

type schemaRef struct {
	ID          string `json:"id"`
	ContentType string `json:"contentType"`
}

func problem(w http.ResponseWriter, status int, title, message string) int {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"type":   "http://ns.adobe.com/adobecloud/problem/data-collection-service/inlet",
		"status": strconv.Itoa(status),
		"title":  title,
		"report": map[string]string{"message": message},
	})
	return status
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
