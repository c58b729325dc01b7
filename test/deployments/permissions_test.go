package deployments

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"golang.org/x/sync/errgroup"
	_ "modernc.org/sqlite"

	"github.com/nsflow/nsflow/pkg/broker"
	"github.com/nsflow/nsflow/pkg/config"
	"github.com/nsflow/nsflow/pkg/pipeline"
	"github.com/nsflow/nsflow/pkg/sandbox"
	"github.com/nsflow/nsflow/pkg/sink"
)

// violationLog keeps the NATS server's "Permissions Violation" errors.
type violationLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *violationLog) Errorf(format string, v ...any) {
	if s := fmt.Sprintf(format, v...); strings.Contains(s, "Violation") {
		l.mu.Lock()
		l.lines = append(l.lines, s)
		l.mu.Unlock()
	}
}
func (l *violationLog) Noticef(string, ...any) {}
func (l *violationLog) Warnf(string, ...any)   {}
func (l *violationLog) Fatalf(string, ...any)  {}
func (l *violationLog) Debugf(string, ...any)  {}
func (l *violationLog) Tracef(string, ...any)  {}

func (l *violationLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

// startAuthServer runs a nats-server configured from deployments/compose/nats
// (the users and permissions of compose and Kubernetes) on a free port,
// logging its permission violations.
func startAuthServer(t *testing.T) (*server.Server, *violationLog) {
	t.Helper()
	setNATSPasswords(t)
	opts := loadNATSConfig(t, filepath.Join(deploymentsDir(), "compose", "nats", "nats.conf"))
	opts.Host, opts.Port = "127.0.0.1", -1
	opts.HTTPPort = 0
	opts.StoreDir = t.TempDir()
	srv, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	violations := &violationLog{}
	srv.SetLogger(violations, false, false)
	srv.Start()
	t.Cleanup(srv.Shutdown)
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	return srv, violations
}

// TestServiceCannotReadAnotherServicesReplies: each service may subscribe to
// its own inboxes only, so none can read the replies another gets (the
// extractor's KV reads carry cursors and the shared NetSuite token cache).
func TestServiceCannotReadAnotherServicesReplies(t *testing.T) {
	srv, _ := startAuthServer(t)
	for _, tc := range []struct{ user, subject string }{
		{"transformer", "_INBOX_extractor.>"},
		{"loader", "_INBOX_extractor.>"},
		{"extractor", "_INBOX_loader.>"},
		{"transformer", "_INBOX.>"},
		{"loader", ">"},
	} {
		refused := make(chan error, 4)
		nc, err := nats.Connect(srv.ClientURL(),
			nats.UserInfo(tc.user, os.Getenv(strings.ToUpper(tc.user)+"_NATS_PASSWORD")),
			nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { refused <- err }))
		if err != nil {
			t.Fatalf("connect as %s: %v", tc.user, err)
		}
		if _, err := nc.SubscribeSync(tc.subject); err != nil {
			t.Fatal(err)
		}
		_ = nc.Flush()
		select {
		case err := <-refused:
			if !strings.Contains(err.Error(), "Permissions Violation") {
				t.Errorf("%s subscribing to %s: %v, want a permissions violation", tc.user, tc.subject, err)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("%s may subscribe to %s: it could read replies meant for another service", tc.user, tc.subject)
		}
		nc.Close()
	}
	// Its own inboxes it may.
	refused := make(chan error, 1)
	nc, err := nats.Connect(srv.ClientURL(), nats.UserInfo("transformer", os.Getenv("TRANSFORMER_NATS_PASSWORD")),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { refused <- err }))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, err := nc.SubscribeSync("_INBOX_transformer.x"); err != nil {
		t.Fatal(err)
	}
	_ = nc.Flush()
	select {
	case err := <-refused:
		t.Errorf("transformer refused its own inbox: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
}

// TestServicesFitTheirNATSPermissions runs the three stages in process, each
// with its own NATS user, against a nats-server configured from
// deployments/compose/nats (the same users and permissions as in compose and
// Kubernetes), after provisioning as admin. Every sandbox event must reach
// the sink, including a change made while it runs, and the server must not
// refuse a single publish or subscribe. A new JetStream or KV call in a
// service that its user may not make fails here, without Docker.
func TestServicesFitTheirNATSPermissions(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole pipeline (a few seconds); skipped with -short")
	}
	srv, violations := startAuthServer(t)

	sb, err := sandbox.New(sandbox.Config{Events: 500, Seed: 3, ConcurrencyLimit: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	sbURL, err := sb.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sc := sb.Config()

	sinkPath := filepath.Join(t.TempDir(), "events.db")
	sinkURL := "sqlite:" + sinkPath
	env := func(user string, extra ...string) []string {
		e := []string{
			"NATS_URL=" + srv.ClientURL(),
			"NATS_USER=" + user,
			"NATS_INBOX_PREFIX=_INBOX_" + user,
			"NATS_PASSWORD=" + os.Getenv(strings.ToUpper(user)+"_NATS_PASSWORD"),
			"NSFLOW_PROVISION=false",
			"NSFLOW_OPS_ADDR=127.0.0.1:0",
			"NSFLOW_SHUTDOWN_TIMEOUT=5s",
		}
		return append(e, extra...)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	// `nsflow provision --sink sqlite:...` as admin.
	var prov config.Transformer
	if err := config.Load(env("admin"), &prov); err != nil {
		t.Fatal(err)
	}
	nc, err := broker.Connect(ctx, prov.NATS, log)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := broker.JetStream(nc, prov.NATS)
	if err != nil {
		t.Fatal(err)
	}
	topo := prov.Topology
	topo.Sinks = []string{sink.Name(sinkURL)}
	if err := broker.Provision(ctx, js, topo); err != nil {
		t.Fatal(err)
	}

	// The services, as their main functions run them.
	var xc config.Extractor
	if err := config.Load(env("extractor",
		"NETSUITE_ACCOUNT_ID="+sc.Account, "NETSUITE_CLIENT_ID="+sc.ClientID, "NETSUITE_CLIENT_SECRET="+sc.ClientSecret,
		"NETSUITE_REFRESH_TOKEN="+sb.RefreshToken(), "NETSUITE_BASE_URL="+sbURL,
		"NETSUITE_TOKEN_URL="+sbURL+"/services/rest/auth/oauth2/v1/token", "NETSUITE_TIME_ZONE="+sc.TimeZone,
		"NSFLOW_POLL_INTERVAL=200ms", "NETSUITE_CONCURRENCY=2"), &xc); err != nil {
		t.Fatal(err)
	}
	var tc config.Transformer
	if err := config.Load(env("transformer"), &tc); err != nil {
		t.Fatal(err)
	}
	var lc config.Loader
	if err := config.Load(env("loader", "NSFLOW_SINK="+sinkURL), &lc); err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	g, gctx := errgroup.WithContext(runCtx)
	g.Go(func() error {
		return pipeline.Serve(gctx, xc.Common, nil, log, func(ctx context.Context, env pipeline.Env) (pipeline.Runner, error) {
			return pipeline.NewExtractor(ctx, env, xc)
		})
	})
	g.Go(func() error {
		return pipeline.Serve(gctx, tc.Common, nil, log, func(_ context.Context, env pipeline.Env) (pipeline.Runner, error) {
			return pipeline.NewTransformer(env, tc)
		})
	})
	g.Go(func() error {
		return pipeline.Serve(gctx, lc.Common, []string{sink.Name(lc.Sink)}, log, func(ctx context.Context, env pipeline.Env) (pipeline.Runner, error) {
			return pipeline.NewLoader(ctx, env, lc)
		})
	})
	stopped := false
	shutdown := func() error {
		if stopped {
			return nil
		}
		stopped = true
		stop()
		return g.Wait()
	}
	t.Cleanup(func() { _ = shutdown() })

	db, err := sql.Open("sqlite", "file:"+sinkPath+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	live := func() (int, error) {
		var n int
		err := db.QueryRowContext(ctx, `SELECT count(*) FROM calendar_events WHERE deleted = 0`).Scan(&n)
		return n, err
	}
	title := "permissions check"
	id, err := sb.CreateEvent(sandbox.EventInput{Title: &title})
	if err != nil {
		t.Fatal(err)
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if v := violations.all(); len(v) > 0 {
			t.Fatalf("NATS refused operations (widen deployments/compose/nats/auth.conf and the k8s ConfigMap copy, or narrow the service):\n%s", strings.Join(v, "\n"))
		}
		n, err := live()
		var got string
		if err == nil && n == sb.LiveEventCount() {
			err = db.QueryRowContext(ctx, `SELECT title FROM calendar_events WHERE id = ?`, id).Scan(&got)
			if err == nil && got == title {
				break
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("sink has %d of %d events (last error: %v); a stage may be stalled on a refused operation", n, sb.LiveEventCount(), err)
		case <-tick.C:
		}
	}
	if err := shutdown(); err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("services stopped with: %v", err)
	}
	if v := violations.all(); len(v) > 0 {
		t.Fatalf("NATS refused operations:\n%s", strings.Join(v, "\n"))
	}
}
