package sandbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	_ "time/tzdata" // the sandbox needs zone data even in FROM-scratch images

	"github.com/nsflow/nsflow/pkg/sandbox/nstime"
)

// Sandbox is a local NetSuite account. Create it with New; it is safe for
// concurrent use.
type Sandbox struct {
	cfg   Config
	log   *slog.Logger
	start time.Time
	zone  *nstime.Zone
	pref  *nstime.DatePref
	store *store
	auth  *authState
	gov   *governor
	mux   http.Handler

	srvMu sync.Mutex
	srv   *http.Server
	done  chan error

	connMu   sync.Mutex
	newConns map[net.Conn]bool // connections that have not sent a request yet
}

// New validates cfg, fills in defaults and generates the data set.
func New(cfg Config) (*Sandbox, error) {
	cfg = cfg.withDefaults()
	loc, pref, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	now := cfg.Now()
	epoch := cfg.Epoch
	if epoch.IsZero() || epoch.After(now) {
		epoch = now
	}
	zone := nstime.NewZone(loc, epoch.AddDate(-4, 0, 0), now.AddDate(3, 0, 0))
	dir := newDirectory(cfg.Seed)
	gen := newGenerator(cfg.Seed, dir, epoch, zone)
	s := &Sandbox{
		cfg:   cfg,
		log:   cfg.Logger,
		start: now,
		zone:  zone,
		pref:  pref,
		store: newStore(gen, cfg.Events),
		auth:  newAuthState(cfg.SigningKey),
		gov:   newGovernor(cfg.Seed, cfg.ConcurrencyLimit, cfg.Latency, cfg.ConcurrencyErrorStatus),
	}
	if cfg.RefreshToken != "" {
		s.auth.refresh[cfg.RefreshToken] = &refreshGrant{expires: now.Add(cfg.RefreshTokenTTL),
			scope: []string{"rest_webservices", "restlets"}}
		s.auth.primary = cfg.RefreshToken
	}
	s.mux = s.routes()
	s.log.Info("netsuite sandbox ready", "account", cfg.Account, "events", cfg.Events, "seed", cfg.Seed,
		"time_zone", cfg.TimeZone, "concurrency_limit", cfg.ConcurrencyLimit)
	return s, nil
}

// Config returns the effective configuration (defaults filled in; the
// current latency and concurrency limit). A negative ConcurrencyLimit means
// unlimited.
func (s *Sandbox) Config() Config {
	c := s.cfg
	c.Latency = time.Duration(s.gov.latency.Load())
	c.ConcurrencyLimit = int(s.gov.limit.Load())
	if c.ConcurrencyLimit == 0 {
		c.ConcurrencyLimit = -1
	}
	return c
}

// Handler returns the handler for every path: NetSuite's and the control
// API under /sandbox/v1/.
func (s *Sandbox) Handler() http.Handler { return s.mux }

func (s *Sandbox) newServer() *http.Server {
	return &http.Server{
		Handler:           s.mux,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		ConnState:         s.trackConn,
	}
}

// trackConn remembers connections that have not sent a request yet, which
// http.Server.Shutdown would otherwise wait for (clients dial spare
// connections they may never use).
func (s *Sandbox) trackConn(c net.Conn, st http.ConnState) {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	if s.newConns == nil {
		s.newConns = map[net.Conn]bool{}
	}
	if st == http.StateNew {
		s.newConns[c] = true
	} else {
		delete(s.newConns, c)
	}
}

// shutdown stops srv gracefully within ctx, then forcibly.
func (s *Sandbox) shutdown(ctx context.Context, srv *http.Server) error {
	srv.SetKeepAlivesEnabled(false)
	s.connMu.Lock()
	for c := range s.newConns {
		_ = c.Close()
	}
	s.connMu.Unlock()
	if err := srv.Shutdown(ctx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("shut down sandbox: %w", err)
	}
	return nil
}

// ListenAndServe serves on addr until ctx is done, then shuts down
// gracefully (in-flight requests get 10 seconds).
func (s *Sandbox) ListenAndServe(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	srv := s.newServer()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	s.log.Info("netsuite sandbox listening", "addr", ln.Addr().String())
	select {
	case err := <-errc:
		return fmt.Errorf("serve sandbox: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := s.shutdown(sctx, srv); err != nil {
		return err
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve sandbox: %w", err)
	}
	return nil
}

// Start serves on addr (for example "127.0.0.1:0") in the background and
// returns the base URL, such as "http://127.0.0.1:41234". Close stops it.
func (s *Sandbox) Start(addr string) (string, error) {
	s.srvMu.Lock()
	defer s.srvMu.Unlock()
	if s.srv != nil {
		return "", errors.New("start sandbox: already started")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("start sandbox: listen on %s: %w", addr, err)
	}
	s.srv = s.newServer()
	s.done = make(chan error, 1)
	srv, done := s.srv, s.done
	go func() { done <- srv.Serve(ln) }()
	host := ln.Addr().String()
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok && tcp.IP.IsUnspecified() {
		host = net.JoinHostPort("127.0.0.1", strconv.Itoa(tcp.Port))
	}
	return "http://" + host, nil
}

// Close stops a server started with Start, waiting up to 5 seconds for
// in-flight requests. It is safe to call more than once.
func (s *Sandbox) Close() error {
	s.srvMu.Lock()
	srv, done := s.srv, s.done
	s.srv, s.done = nil, nil
	s.srvMu.Unlock()
	if srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.shutdown(ctx, srv)
	if serr := <-done; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("close sandbox: %w", err)
	}
	return nil
}

// CreateEvent adds an event as a user would in the UI. Title is required.
// Unset fields get defaults: status CONFIRMED, access PUBLIC, a timed event
// today 09:00-10:00 in the account zone, organizer and owner the
// integration user.
func (s *Sandbox) CreateEvent(in EventInput) (string, error) {
	id, err := s.createEvent(&in)
	if err != nil {
		return "", err
	}
	return itoa(id), nil
}

func (s *Sandbox) createEvent(in *EventInput) (int64, error) {
	now := s.cfg.Now().Unix()
	today := nstime.Days(s.zone.ToCivil(now))
	e := &event{status: statusConfirmed, timed: true, startDay: today, startSec: 9 * 3600, endSec: 10 * 3600,
		remMinutes: -1, organizer: integrationUserID, owner: integrationUserID, created: now, modified: now}
	if err := e.apply(in, s.store.gen.dir); err != nil {
		return 0, fmt.Errorf("create event: %w", err)
	}
	s.store.mu.Lock()
	defer s.store.mu.Unlock()
	if e.externalID != "" {
		if _, taken := s.store.byExternalID(e.externalID); taken {
			return 0, fmt.Errorf("create event: %w", &FieldError{Field: "externalId", Msg: fmt.Sprintf("a record with external ID %q already exists", e.externalID)})
		}
	}
	return s.store.create(e), nil
}

// UpdateEvent changes the set fields of event id and bumps its
// lastmodifieddate to now.
func (s *Sandbox) UpdateEvent(id string, patch EventInput) error {
	n, err := parseID(id)
	if err != nil {
		return fmt.Errorf("update event %s: %w", id, ErrNotFound)
	}
	return s.updateEvent(n, &patch)
}

func (s *Sandbox) updateEvent(id int64, patch *EventInput) error {
	return s.modifyEvent(id, func(e *event) error { return e.apply(patch, s.store.gen.dir) })
}

// modifyEvent applies change to a copy of event id under the store lock,
// bumps lastmodifieddate and publishes the result.
func (s *Sandbox) modifyEvent(id int64, change func(e *event) error) error {
	s.store.mu.Lock()
	defer s.store.mu.Unlock()
	e, ok := s.store.materialise(id)
	if !ok {
		return fmt.Errorf("update event %d: %w", id, ErrNotFound)
	}
	oldExt := e.externalID
	if err := change(e); err != nil {
		return fmt.Errorf("update event %d: %w", id, err)
	}
	if e.externalID != "" && e.externalID != oldExt {
		if other, taken := s.store.byExternalID(e.externalID); taken && other != id {
			return fmt.Errorf("update event %d: %w", id, &FieldError{Field: "externalId", Msg: fmt.Sprintf("a record with external ID %q already exists", e.externalID)})
		}
	}
	e.modified = s.cfg.Now().Unix()
	s.store.put(e)
	return nil
}

// DeleteEvent removes event id and records a deletedrecord row (type
// 'calendarevent', context USER_INTERFACE).
func (s *Sandbox) DeleteEvent(id string) error {
	n, err := parseID(id)
	if err != nil {
		return fmt.Errorf("delete event %s: %w", id, ErrNotFound)
	}
	return s.deleteEvent(n, ctxUserInterface)
}

func (s *Sandbox) deleteEvent(id int64, context uint8) error {
	s.store.mu.Lock()
	defer s.store.mu.Unlock()
	by := int64(employeeBase)
	if context == ctxREST {
		by = integrationUserID
	}
	if !s.store.remove(id, s.cfg.Now().Unix(), by, context) {
		return fmt.Errorf("delete event %d: %w", id, ErrNotFound)
	}
	return nil
}

// LiveEventCount returns the number of events that exist now.
func (s *Sandbox) LiveEventCount() int {
	s.store.mu.RLock()
	defer s.store.mu.RUnlock()
	return s.store.liveCount()
}

// SetLatency changes the latency added to API requests, including requests
// already waiting.
func (s *Sandbox) SetLatency(d time.Duration) { s.gov.setLatency(d) }

// SetConcurrencyLimit changes the concurrency limit; n <= 0 means
// unlimited.
func (s *Sandbox) SetConcurrencyLimit(n int) {
	if n < 0 {
		n = 0
	}
	s.gov.limit.Store(int64(n))
}

// SetFaults replaces the fault rates. Rates are clamped to 0..1 and scaled
// down proportionally when they add up to more than 1.
func (s *Sandbox) SetFaults(f Faults) {
	rates := []*float64{&f.Rate429, &f.Rate500, &f.Rate503, &f.RateTimeout, &f.RateMalformed}
	sum := 0.0
	for _, r := range rates {
		if !(*r > 0) {
			*r = 0
		}
		*r = min(*r, 1)
		sum += *r
	}
	if sum > 1 {
		for _, r := range rates {
			*r /= sum
		}
	}
	if f.TimeoutHang <= 0 {
		f.TimeoutHang = 30 * time.Second
	}
	s.gov.mu.Lock()
	s.gov.faults = f
	s.gov.mu.Unlock()
}

// Faults returns the current fault settings.
func (s *Sandbox) Faults() Faults {
	s.gov.mu.Lock()
	defer s.gov.mu.Unlock()
	return s.gov.faults
}

// Counters returns a snapshot of the request counters.
func (s *Sandbox) Counters() Counters { return s.gov.snapshot() }

// ResetCounters zeroes the counters (peak concurrency restarts from the
// current in-flight count).
func (s *Sandbox) ResetCounters() { s.gov.reset() }
