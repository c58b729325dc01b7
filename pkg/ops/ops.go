// Package ops serves a service's operational endpoints on their own port:
// /healthz (the process answers), /readyz (every registered check passes;
// the body names the ones that fail), /metrics (Prometheus) and, when
// enabled with EnablePprof (NSFLOW_PPROF=true), Go's profiles under
// /debug/pprof/. Profiles hold no secrets but do expose the process's
// internals: enable them only on an ops address that is not public.
package ops

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Check reports nil when its part of the service is ready.
type Check func(ctx context.Context) error

// Server is the ops HTTP server.
type Server struct {
	addr     string
	reg      *prometheus.Registry
	log      *slog.Logger
	mu       sync.Mutex
	checks   map[string]Check
	listener net.Listener
	pprof    bool
}

// EnablePprof serves Go's runtime profiles under /debug/pprof/ (CPU, heap,
// goroutines, …) for `go tool pprof http://<ops addr>/debug/pprof/heap`.
func (s *Server) EnablePprof() { s.pprof = true }

// New returns a Server for addr ("" disables listening; Run then only waits).
// reg receives the Go and process collectors.
func New(addr string, reg *prometheus.Registry, log *slog.Logger) *Server {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	_ = reg.Register(collectors.NewGoCollector())
	_ = reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return &Server{addr: addr, reg: reg, log: log, checks: map[string]Check{}}
}

// Registry is the server's metrics registry.
func (s *Server) Registry() *prometheus.Registry { return s.reg }

// AddCheck registers a readiness check under name.
func (s *Server) AddCheck(name string, c Check) {
	s.mu.Lock()
	s.checks[name] = c
	s.mu.Unlock()
}

// Ready runs every check and returns the failures by name.
func (s *Server) Ready(ctx context.Context) map[string]error {
	s.mu.Lock()
	checks := make(map[string]Check, len(s.checks))
	for k, v := range s.checks {
		checks[k] = v
	}
	s.mu.Unlock()
	failed := map[string]error{}
	for name, c := range checks {
		if err := c(ctx); err != nil {
			failed[name] = err
		}
	}
	return failed
}

// Handler returns the ops routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		failed := s.Ready(ctx)
		if len(failed) == 0 {
			_, _ = w.Write([]byte("ready\n"))
			return
		}
		names := make([]string, 0, len(failed))
		for n := range failed {
			names = append(names, n)
		}
		sort.Strings(names)
		w.WriteHeader(http.StatusServiceUnavailable)
		for _, n := range names {
			fmt.Fprintf(w, "not ready: %s: %v\n", n, failed[n])
		}
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	if s.pprof {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	return mux
}

// Listen binds the address now (so a bad address fails at start) and returns
// the bound address.
func (s *Server) Listen() (string, error) {
	if s.addr == "" {
		return "", nil
	}
	l, err := net.Listen("tcp", s.addr)
	if err != nil {
		return "", fmt.Errorf("listen on ops address %s: %w (set NSFLOW_OPS_ADDR)", s.addr, err)
	}
	s.listener = l
	return l.Addr().String(), nil
}

// Run serves until ctx is done, then shuts down within 5s.
func (s *Server) Run(ctx context.Context) error {
	if s.listener == nil {
		if _, err := s.Listen(); err != nil {
			return err
		}
	}
	if s.listener == nil {
		<-ctx.Done()
		return nil
	}
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(s.listener) }()
	select {
	case err := <-errc:
		return fmt.Errorf("ops server: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("ops server shutdown: %w", err)
	}
	return nil
}
