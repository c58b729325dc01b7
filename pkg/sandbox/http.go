package sandbox

import (
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	pathRecord  = "/services/rest/record/v1/"
	pathSuiteQL = "/services/rest/query/v1/suiteql"
)

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(b *[]byte) {
	if cap(*b) <= 8<<20 {
		*b = (*b)[:0]
		bufPool.Put(b)
	}
}

func (s *Sandbox) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(pathAuthorize, s.oauthEndpoint("oauth2.authorize", s.handleAuthorize))
	mux.HandleFunc(pathToken, s.oauthEndpoint("oauth2.token", s.handleToken))
	mux.HandleFunc(pathRevoke, s.oauthEndpoint("oauth2.revoke", s.handleRevoke))
	mux.HandleFunc(pathRecord, s.api(recordLabel, s.handleRecord))
	mux.HandleFunc(pathSuiteQL, s.api(func(*http.Request) string { return "suiteql" }, s.handleSuiteQL))
	mux.Handle("/sandbox/v1/", s.controlRoutes())
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeNSError(w, http.StatusNotFound, codeNonexistentID, "The requested URL "+r.URL.Path+" was not found on this server.")
	})
	return mux
}

// oauthEndpoint adds latency and counting to an OAuth endpoint.
func (s *Sandbox) oauthEndpoint(label string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		defer func() { s.gov.count(label, sw.status) }()
		if err := s.gov.wait(r.Context(), start); err != nil {
			return
		}
		h(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
	}
}

// api wraps a REST or SuiteQL handler with NetSuite's governance: the
// concurrency limit, latency, bearer authentication, the permission switch
// and injected faults, and counts the outcome.
func (s *Sandbox) api(label func(*http.Request) string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		ep := label(r)
		defer func() {
			s.gov.count(ep, sw.status)
			if s.log.Enabled(r.Context(), slog.LevelDebug) {
				s.log.LogAttrs(r.Context(), slog.LevelDebug, "netsuite api request", slog.String("endpoint", ep),
					slog.Int("status", sw.status), slog.Duration("duration", time.Since(start)))
			}
		}()
		if !s.gov.admit() {
			writeNSError(sw, s.cfg.ConcurrencyErrorStatus, codeConcurrency, detailConcurrency)
			return
		}
		defer s.gov.release()
		if err := s.gov.wait(r.Context(), start); err != nil {
			return
		}
		if !s.checkBearer(r.Header.Get("Authorization")) {
			writeNSError(sw, http.StatusUnauthorized, codeInvalidLogin, detailInvalidLogin)
			return
		}
		f := s.Faults()
		if f.DenyPermission {
			writeNSError(sw, http.StatusForbidden, codeInsufficientPerm, detailPermission)
			return
		}
		kind, hash := s.gov.decide()
		switch kind {
		case fault429:
			writeNSError(sw, http.StatusTooManyRequests, codeConcurrency, detailConcurrency)
			return
		case fault500:
			writeNSError(sw, http.StatusInternalServerError, codeUnexpected,
				detailUnexpectedPrefix+strings.ToLower(strconv.FormatUint(hash, 36)))
			return
		case fault503:
			writeBody(sw, http.StatusServiceUnavailable, "text/html; charset=utf-8", []byte(maintenancePage))
			return
		case faultTimeout:
			hang(r.Context(), f.TimeoutHang)
			if hash&1 == 1 {
				if conn, _, err := sw.Hijack(); err == nil {
					_ = conn.Close()
					return
				}
			}
			writeBody(sw, http.StatusGatewayTimeout, "text/html", []byte(gatewayTimeoutPage))
			return
		case faultMalformed:
			bw := &bufferWriter{h: http.Header{}}
			h(bw, r)
			body := bw.body.Bytes()
			if bw.status == http.StatusOK && len(body) > 1 {
				body = body[:len(body)/2]
			}
			for k, v := range bw.h {
				sw.Header()[k] = v
			}
			sw.Header().Set("Content-Length", strconv.Itoa(len(body)))
			sw.WriteHeader(max(bw.status, 200))
			_, _ = sw.Write(body)
			return
		}
		h(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
	}
}

// recordLabel names the record API endpoint a request addresses.
func recordLabel(r *http.Request) string {
	segs := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, pathRecord), "/"), "/")
	switch {
	case strings.EqualFold(segs[0], "metadata-catalog"):
		return "record.metadata"
	case len(segs) == 1:
		if r.Method == http.MethodPost {
			return "record.create"
		}
		return "record.list"
	case len(segs) == 2:
		switch r.Method {
		case http.MethodPatch:
			return "record.update"
		case http.MethodDelete:
			return "record.delete"
		}
		return "record.get"
	}
	return "record.sublist"
}
