package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nsflow/nsflow/pkg/broker"
	"github.com/nsflow/nsflow/pkg/config"
	"github.com/nsflow/nsflow/pkg/extractor"
	"github.com/nsflow/nsflow/pkg/governor"
	"github.com/nsflow/nsflow/pkg/netsuite"
	"github.com/nsflow/nsflow/pkg/tokencache"
)

// Extractor is one account's extractor wired to NetSuite and JetStream.
type Extractor struct {
	X       *extractor.Extractor
	lease   *extractor.Lease
	limiter *governor.KV
	env     Env
	account string
}

// NewExtractor builds the NetSuite client (auth, limiter shared through KV)
// and the extractor of cfg.NetSuite.AccountID.
func NewExtractor(ctx context.Context, env Env, cfg config.Extractor) (*Extractor, error) {
	ns := cfg.NetSuite
	log := env.Log.With("stage", "extractor", "account", ns.AccountID)
	topo := cfg.Topology
	stateKV, err := env.JS.KeyValue(ctx, orDefault(topo.StateBucket, "netsuite_state"))
	if err != nil {
		return nil, fmt.Errorf("open state bucket: %w (provision first: NSFLOW_PROVISION=true or `nsflow provision`)", err)
	}
	leaseKV, err := env.JS.KeyValue(ctx, orDefault(topo.LeaseBucket, "netsuite_leases"))
	if err != nil {
		return nil, fmt.Errorf("open lease bucket: %w", err)
	}
	metrics := netsuite.NewMetrics(env.registerer())
	store := tokencache.New(stateKV, ns.AccountID)
	var tokens netsuite.TokenSource
	switch ns.AuthMode {
	case "client_credentials":
		key, err := netsuite.ParsePrivateKeyPEM([]byte(ns.PrivateKey))
		if err != nil {
			return nil, fmt.Errorf("NETSUITE_PRIVATE_KEY: %w", err)
		}
		tokens, err = netsuite.NewClientCredentialsTokenSource(netsuite.M2MConfig{
			AccountID: ns.AccountID, ClientID: ns.ClientID, TokenURL: ns.TokenURL,
			CertificateID: ns.CertificateID, PrivateKey: key, Store: store, Metrics: metrics, Logger: log,
		})
		if err != nil {
			return nil, err
		}
	default:
		tokens, err = netsuite.NewRefreshTokenSource(netsuite.RefreshConfig{
			AccountID: ns.AccountID, ClientID: ns.ClientID, ClientSecret: ns.ClientSecret, TokenURL: ns.TokenURL,
			RefreshToken: ns.RefreshToken, AccessToken: ns.AccessToken, Store: store, Metrics: metrics, Logger: log,
		})
		if err != nil {
			return nil, err
		}
	}
	holder := replicaID()
	limiter, err := governor.NewKV(leaseKV, ns.AccountID, ns.Concurrency, governor.KVConfig{
		LeaseTTL: orDuration(topo.LeaseTTL, 30*time.Second), Holder: holder, Logger: log,
	})
	if err != nil {
		return nil, err
	}
	client, err := netsuite.NewClient(netsuite.ClientConfig{
		AccountID: ns.AccountID, BaseURL: ns.BaseURL, Tokens: tokens, Limiter: limiter, Metrics: metrics, Logger: log,
	})
	if err != nil {
		return nil, err
	}
	pub, err := broker.NewPublisher(env.JS, broker.PublisherConfig{Logger: log})
	if err != nil {
		return nil, err
	}
	cursors, err := extractor.NewCursorStore(stateKV)
	if err != nil {
		return nil, err
	}
	mode, err := extractor.ParseAttendeeMode(cfg.Attendees)
	if err != nil {
		return nil, err
	}
	x, err := extractor.New(extractor.Config{
		Account: ns.AccountID, TimeZone: ns.TimeZone, PageSize: cfg.PageSize, Overlap: cfg.Overlap,
		PollInterval: cfg.PollInterval, Attendees: mode, RESTConcurrency: ns.Concurrency,
		Since: cfg.Since, Until: cfg.Until, Deletes: cfg.Deletes, Logger: log,
	}, client, pub, cursors)
	if err != nil {
		return nil, err
	}
	lease, err := extractor.NewLease(leaseKV, ns.AccountID, holder, orDuration(topo.LeaseTTL, 30*time.Second))
	if err != nil {
		return nil, err
	}
	registerExtractorMetrics(env.registerer(), ns.AccountID, x)
	env.addCheck("nats", natsCheck(env.NC))
	env.addCheck("netsuite_"+ns.AccountID, func(context.Context) error {
		st := x.Stats()
		if st.Reauthorize {
			return errors.New("re-authorization required: run `nsflow auth login` or set a new NETSUITE_REFRESH_TOKEN")
		}
		return nil
	})
	return &Extractor{X: x, lease: lease, limiter: limiter, env: env, account: ns.AccountID}, nil
}

// Run polls while this replica holds the account's leader lease.
func (e *Extractor) Run(ctx context.Context) error {
	defer e.limiter.Close()
	err := extractor.RunAsLeader(ctx, e.X, e.lease, e.env.Log.With("account", e.account))
	if errors.Is(err, netsuite.ErrReauthorizationRequired) {
		// Keep the process (and its ops endpoints) up: the account is reported
		// not ready until someone re-authorizes and restarts it.
		<-ctx.Done()
		return nil
	}
	return err
}

// Once runs one pass (a backfill or a scheduled job) without the lease.
func (e *Extractor) Once(ctx context.Context) (extractor.PassResult, error) {
	defer e.limiter.Close()
	return e.X.Pass(ctx)
}

func registerExtractorMetrics(reg prometheus.Registerer, account string, x *extractor.Extractor) {
	labels := prometheus.Labels{"account": account}
	for _, c := range []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "nsflow_extractor_events_total", Help: "Raw event records published.", ConstLabels: labels},
			func() float64 { return float64(x.Stats().Events) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "nsflow_extractor_tombstones_total", Help: "Deletion tombstones published.", ConstLabels: labels},
			func() float64 { return float64(x.Stats().Tombstones) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "nsflow_extractor_pages_total", Help: "SuiteQL pages read.", ConstLabels: labels},
			func() float64 { return float64(x.Stats().Pages) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "nsflow_extractor_cursor_lag_seconds", Help: "Now minus the events cursor's lastModified.", ConstLabels: labels},
			func() float64 {
				c := x.Stats().Cursor
				if c.IsZero() {
					return 0
				}
				return time.Since(c.LastModified).Seconds()
			}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "nsflow_extractor_last_success_timestamp_seconds", Help: "When the last pass succeeded.", ConstLabels: labels},
			func() float64 {
				t := x.Stats().LastPass
				if t.IsZero() {
					return 0
				}
				return float64(t.Unix())
			}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "nsflow_extractor_reauthorization_required", Help: "1 when the account's refresh token is expired or revoked.", ConstLabels: labels},
			func() float64 {
				if x.Stats().Reauthorize {
					return 1
				}
				return 0
			}),
	} {
		_ = reg.Register(c)
	}
}

func replicaID() string {
	h, _ := os.Hostname()
	if h == "" {
		h = "nsflow"
	}
	return h + "-" + strconv.Itoa(os.Getpid())
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func orDuration(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}
