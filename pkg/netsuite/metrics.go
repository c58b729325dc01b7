package netsuite

import (
	"errors"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Endpoint label values of the request metrics: fixed names, never ids.
const (
	EndpointSuiteQL    = "suiteql"
	EndpointRecordGet  = "record_get"
	EndpointRecordList = "record_list"
	EndpointToken      = "token"
)

// Metrics holds the client's Prometheus collectors. A nil *Metrics is valid
// and records nothing. Labels carry the account id and fixed names only:
// never a record id, a query, or a secret.
type Metrics struct {
	requests       *prometheus.CounterVec
	duration       *prometheus.HistogramVec
	throttled      *prometheus.CounterVec
	retries        *prometheus.CounterVec
	tokenRefreshes *prometheus.CounterVec
	refreshExpiry  *prometheus.GaugeVec
}

// NewMetrics creates the collectors and registers them with reg (nil: not
// registered). Calling it twice with the same registry returns collectors
// bound to the already registered ones, so several clients in one process
// can share a registry. Like promauto, it panics if reg holds a different
// metric of the same name: that is a programming error.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nsflow_netsuite_requests_total",
			Help: "NetSuite REST/SuiteQL HTTP attempts by endpoint and status code (transport_error when no response).",
		}, []string{"account", "endpoint", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "nsflow_netsuite_request_duration_seconds",
			Help:    "Duration of one NetSuite HTTP attempt, body read included.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300},
		}, []string{"account", "endpoint"}),
		throttled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nsflow_netsuite_throttled_total",
			Help: "NetSuite responses refused for concurrency governance (429 or CONCURRENCY_LIMIT_EXCEEDED).",
		}, []string{"account"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nsflow_netsuite_retries_total",
			Help: "NetSuite request retries by reason.",
		}, []string{"account", "reason"}),
		tokenRefreshes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nsflow_netsuite_token_refreshes_total",
			Help: "Access token requests to the NetSuite token endpoint by result (success, invalid_grant, error).",
		}, []string{"account", "result"}),
		refreshExpiry: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "nsflow_netsuite_refresh_token_expiry_timestamp_seconds",
			Help: "Unix time at which the OAuth 2.0 refresh token expires (absent when unknown).",
		}, []string{"account"}),
	}
	if reg == nil {
		return m
	}
	m.requests = register(reg, m.requests)
	m.duration = register(reg, m.duration)
	m.throttled = register(reg, m.throttled)
	m.retries = register(reg, m.retries)
	m.tokenRefreshes = register(reg, m.tokenRefreshes)
	m.refreshExpiry = register(reg, m.refreshExpiry)
	return m
}

func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic("netsuite: register metrics: " + err.Error())
	}
	return c
}

func (m *Metrics) observeRequest(account, endpoint string, status int, d time.Duration) {
	if m == nil {
		return
	}
	s := "transport_error"
	if status > 0 {
		s = strconv.Itoa(status)
	}
	m.requests.WithLabelValues(account, endpoint, s).Inc()
	m.duration.WithLabelValues(account, endpoint).Observe(d.Seconds())
}

func (m *Metrics) incThrottled(account string) {
	if m == nil {
		return
	}
	m.throttled.WithLabelValues(account).Inc()
}

func (m *Metrics) incRetry(account, reason string) {
	if m == nil {
		return
	}
	m.retries.WithLabelValues(account, reason).Inc()
}

func (m *Metrics) incTokenRefresh(account, result string) {
	if m == nil {
		return
	}
	m.tokenRefreshes.WithLabelValues(account, result).Inc()
}

func (m *Metrics) setRefreshTokenExpiry(account string, t time.Time) {
	if m == nil {
		return
	}
	if t.IsZero() {
		m.refreshExpiry.DeleteLabelValues(account)
		return
	}
	m.refreshExpiry.WithLabelValues(account).Set(float64(t.Unix()))
}
