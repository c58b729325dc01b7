package ops_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/nsflow/nsflow/pkg/ops"
)

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	body, _ := io.ReadAll(rec.Body)
	return rec.Code, string(body)
}

func TestReadyzNamesFailingChecks(t *testing.T) {
	s := ops.New("", nil, slog.New(slog.DiscardHandler))
	s.AddCheck("nats", func(context.Context) error { return nil })
	s.AddCheck("sink", func(context.Context) error { return errors.New("connection refused") })
	h := s.Handler()
	if code, _ := get(t, h, "/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz = %d, want 200", code)
	}
	code, body := get(t, h, "/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "not ready: sink: connection refused") || strings.Contains(body, "nats") {
		t.Fatalf("/readyz = %d %q, want 503 naming only the sink", code, body)
	}
}

func TestPprofOnlyWhenEnabled(t *testing.T) {
	s := ops.New("", nil, slog.New(slog.DiscardHandler))
	if code, _ := get(t, s.Handler(), "/debug/pprof/heap"); code != http.StatusNotFound {
		t.Fatalf("pprof served without EnablePprof: %d", code)
	}
	s.EnablePprof()
	code, body := get(t, s.Handler(), "/debug/pprof/")
	if code != http.StatusOK || !strings.Contains(body, "heap") {
		t.Fatalf("/debug/pprof/ = %d, want the index", code)
	}
	if code, _ := get(t, s.Handler(), "/debug/pprof/heap?debug=1"); code != http.StatusOK {
		t.Fatalf("/debug/pprof/heap = %d", code)
	}
}
