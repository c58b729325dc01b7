package sandbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// controlRoutes serves the control API under /sandbox/v1/. It needs no
// token and does not count toward governance.
func (s *Sandbox) controlRoutes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /sandbox/v1/events", s.ctlCreate)
	mux.HandleFunc("GET /sandbox/v1/events/{id}", s.ctlGet)
	mux.HandleFunc("PATCH /sandbox/v1/events/{id}", s.ctlUpdate)
	mux.HandleFunc("DELETE /sandbox/v1/events/{id}", s.ctlDelete)
	mux.HandleFunc("POST /sandbox/v1/tokens/expire", func(w http.ResponseWriter, _ *http.Request) {
		s.ExpireAccessTokens()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /sandbox/v1/tokens/revoke", func(w http.ResponseWriter, _ *http.Request) {
		s.RevokeRefreshTokens()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /sandbox/v1/latency", func(w http.ResponseWriter, _ *http.Request) {
		ctlJSON(w, http.StatusOK, map[string]string{"latency": time.Duration(s.gov.latency.Load()).String()})
	})
	mux.HandleFunc("PUT /sandbox/v1/latency", s.ctlLatency)
	mux.HandleFunc("GET /sandbox/v1/faults", func(w http.ResponseWriter, _ *http.Request) {
		ctlJSON(w, http.StatusOK, s.Faults())
	})
	mux.HandleFunc("PUT /sandbox/v1/faults", s.ctlFaults)
	mux.HandleFunc("GET /sandbox/v1/concurrency-limit", func(w http.ResponseWriter, _ *http.Request) {
		ctlJSON(w, http.StatusOK, map[string]int64{"limit": s.gov.limit.Load()})
	})
	mux.HandleFunc("PUT /sandbox/v1/concurrency-limit", s.ctlConcurrency)
	mux.HandleFunc("GET /sandbox/v1/counters", func(w http.ResponseWriter, _ *http.Request) {
		ctlJSON(w, http.StatusOK, s.Counters())
	})
	mux.HandleFunc("DELETE /sandbox/v1/counters", func(w http.ResponseWriter, _ *http.Request) {
		s.ResetCounters()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /sandbox/v1/certificates", s.ctlCertificate)
	mux.HandleFunc("GET /sandbox/v1/info", s.ctlInfo)
	mux.HandleFunc("/sandbox/v1/", func(w http.ResponseWriter, r *http.Request) {
		ctlError(w, http.StatusNotFound, fmt.Sprintf("no control endpoint %s %s", r.Method, r.URL.Path))
	})
	return mux
}

func ctlJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		ctlError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeBody(w, status, "application/json", body)
}

func ctlError(w http.ResponseWriter, status int, msg string) {
	body, _ := json.Marshal(map[string]string{"error": msg})
	writeBody(w, status, "application/json", body)
}

// decodeStrict reads a JSON body, rejecting unknown fields.
func decodeStrict(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		ctlError(w, http.StatusBadRequest, "read body: "+err.Error())
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		ctlError(w, http.StatusBadRequest, "decode body: "+err.Error())
		return false
	}
	return true
}

func ctlEventError(w http.ResponseWriter, err error) {
	var fe *FieldError
	switch {
	case errors.Is(err, ErrNotFound):
		ctlError(w, http.StatusNotFound, err.Error())
	case errors.As(err, &fe):
		ctlError(w, http.StatusBadRequest, err.Error())
	default:
		ctlError(w, http.StatusInternalServerError, err.Error())
	}
}

func (s *Sandbox) ctlCreate(w http.ResponseWriter, r *http.Request) {
	var in EventInput
	if !decodeStrict(w, r, &in) {
		return
	}
	id, err := s.CreateEvent(in)
	if err != nil {
		ctlEventError(w, err)
		return
	}
	w.Header().Set("Location", "/sandbox/v1/events/"+id)
	ctlJSON(w, http.StatusCreated, map[string]string{"id": id})
}

func (s *Sandbox) ctlGet(w http.ResponseWriter, r *http.Request) {
	id, err := parseID(r.PathValue("id"))
	if err != nil {
		ctlError(w, http.StatusNotFound, "no event "+r.PathValue("id"))
		return
	}
	s.store.mu.RLock()
	e, ok := s.store.materialise(id)
	s.store.mu.RUnlock()
	if !ok {
		ctlError(w, http.StatusNotFound, "no event "+r.PathValue("id"))
		return
	}
	jw := &jsonw{base: baseURL(r)}
	s.appendEvent(jw, e, true, nil)
	writeBody(w, http.StatusOK, "application/json", jw.b)
}

func (s *Sandbox) ctlUpdate(w http.ResponseWriter, r *http.Request) {
	var in EventInput
	if !decodeStrict(w, r, &in) {
		return
	}
	if err := s.UpdateEvent(r.PathValue("id"), in); err != nil {
		ctlEventError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Sandbox) ctlDelete(w http.ResponseWriter, r *http.Request) {
	if err := s.DeleteEvent(r.PathValue("id")); err != nil {
		ctlEventError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Sandbox) ctlLatency(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Latency string `json:"latency"`
	}
	if !decodeStrict(w, r, &in) {
		return
	}
	d, err := time.ParseDuration(in.Latency)
	if err != nil || d < 0 {
		ctlError(w, http.StatusBadRequest, fmt.Sprintf("latency %q is not a non-negative duration such as \"200ms\"", in.Latency))
		return
	}
	s.SetLatency(d)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Sandbox) ctlFaults(w http.ResponseWriter, r *http.Request) {
	var f Faults
	if !decodeStrict(w, r, &f) {
		return
	}
	if err := f.validate(); err != nil {
		ctlError(w, http.StatusBadRequest, err.Error())
		return
	}
	s.SetFaults(f)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Sandbox) ctlConcurrency(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Limit *int `json:"limit"`
	}
	if !decodeStrict(w, r, &in) {
		return
	}
	if in.Limit == nil || *in.Limit < 0 {
		ctlError(w, http.StatusBadRequest, "limit must be a non-negative integer (0 = unlimited)")
		return
	}
	s.SetConcurrencyLimit(*in.Limit)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Sandbox) ctlCertificate(w http.ResponseWriter, r *http.Request) {
	var in struct {
		CertificateID string `json:"certificateId"`
		PEM           string `json:"pem"`
	}
	if !decodeStrict(w, r, &in) {
		return
	}
	pub, err := parsePublicKeyPEM([]byte(in.PEM))
	if err != nil {
		ctlError(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := s.RegisterCertificate(in.CertificateID, pub); err != nil {
		ctlError(w, http.StatusBadRequest, err.Error())
		return
	}
	ctlJSON(w, http.StatusCreated, map[string]string{"certificateId": in.CertificateID})
}

// Info describes the sandbox for clients that configure themselves from it.
type Info struct {
	Account          string         `json:"account"`
	AccountHost      string         `json:"accountHost"`
	ClientID         string         `json:"clientId"`
	ClientSecret     string         `json:"clientSecret"`
	RefreshToken     string         `json:"refreshToken"`
	Events           int            `json:"events"`
	Seed             int64          `json:"seed"`
	TimeZone         string         `json:"timeZone"`
	DateFormat       string         `json:"dateFormat"`
	ConcurrencyLimit int64          `json:"concurrencyLimit"`
	Latency          string         `json:"latency"`
	AuthorizeURL     string         `json:"authorizeUrl"`
	TokenURL         string         `json:"tokenUrl"`
	RevokeURL        string         `json:"revokeUrl"`
	RecordURL        string         `json:"recordUrl"`
	SuiteQLURL       string         `json:"suiteqlUrl"`
	EntityIDs        map[string]any `json:"entityIds"`
}

// Info returns what GET /sandbox/v1/info reports; base is the sandbox's
// base URL (scheme and host).
func (s *Sandbox) Info(base string) Info {
	rng := func(lo, n int) [2]int { return [2]int{lo, lo + n - 1} }
	return Info{
		Account: s.cfg.Account, AccountHost: s.cfg.AccountHost(), ClientID: s.cfg.ClientID,
		ClientSecret: s.cfg.ClientSecret, RefreshToken: s.RefreshToken(), Events: s.LiveEventCount(),
		Seed: s.cfg.Seed, TimeZone: s.cfg.TimeZone, DateFormat: s.cfg.DateFormat,
		ConcurrencyLimit: s.gov.limit.Load(), Latency: time.Duration(s.gov.latency.Load()).String(),
		AuthorizeURL: base + pathAuthorize, TokenURL: base + pathToken, RevokeURL: base + pathRevoke,
		RecordURL: base + pathRecord + "calendarevent", SuiteQLURL: base + pathSuiteQL,
		EntityIDs: map[string]any{
			"integrationUser": integrationUserID,
			"employees":       rng(employeeBase, employeeCount),
			"customers":       rng(customerBase, customerCount),
			"contacts":        rng(contactBase, contactCount),
			"supportCases":    rng(supportCaseBase, supportCaseCount),
			"transactions":    rng(transactionBase, transactionCount),
			"items":           rng(itemBase, itemCount),
			"resources":       rng(resourceBase, len(resourceNames)),
			"meetingTypes":    rng(meetingTypeBase, len(meetingTypes)),
		},
	}
}

func (s *Sandbox) ctlInfo(w http.ResponseWriter, r *http.Request) {
	ctlJSON(w, http.StatusOK, s.Info(baseURL(r)))
}
