//go:build integration

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/testcontainers/testcontainers-go"
	tcnetwork "github.com/testcontainers/testcontainers-go/network"
	"github.com/testcontainers/testcontainers-go/wait"
	_ "modernc.org/sqlite"
)

// Credentials the sandbox accepts and the extractor presents (as in
// deployments/compose/.env.example).
const (
	account      = "TSTDRV1234567"
	clientID     = "nsflow-sandbox-client"
	clientSecret = "e2e-sandbox-secret"
	refreshToken = "e2e-sandbox-refresh-token"
	sinkURL      = "sqlite:/sink/events.db"
)

// The NATS users of deployments/compose/nats/auth.conf and their passwords
// (the server reads them from its environment).
var natsPasswords = map[string]string{
	"admin":       "e2e-admin",
	"extractor":   "e2e-extractor",
	"transformer": "e2e-transformer",
	"loader":      "e2e-loader",
}

// stackConfig shapes a run. Latency and PageSize slow extraction down so a
// test can act while events are still flowing.
type stackConfig struct {
	Events   int
	Latency  time.Duration
	PageSize int
	// AckWait is the durables' ack wait: how soon a killed replica's
	// unacknowledged messages go to another replica.
	AckWait time.Duration
	// LeaseTTL is how soon a standby extractor takes over from a dead leader.
	LeaseTTL time.Duration
}

// stack is one deployment under test: a network with NATS (JetStream,
// per-service users), the sandbox, and the service containers added with
// startService. The loaders' SQLite sink is a bind-mounted host directory.
type stack struct {
	t       *testing.T
	img     images
	cfg     stackConfig
	net     *testcontainers.DockerNetwork
	nats    *testcontainers.DockerContainer
	sandbox *testcontainers.DockerContainer
	sinkDir string
	confDir string
}

// newStack starts NATS and the sandbox and provisions the layout with the
// admin user, the way the compose file's provision service does.
func newStack(t *testing.T, cfg stackConfig) *stack {
	t.Helper()
	img := testImages(t)
	if cfg.AckWait == 0 {
		cfg.AckWait = 10 * time.Second
	}
	if cfg.LeaseTTL == 0 {
		cfg.LeaseTTL = 5 * time.Second
	}
	if cfg.PageSize == 0 {
		cfg.PageSize = 1000
	}
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	s := &stack{t: t, img: img, cfg: cfg, confDir: filepath.Join(root, "deployments", "compose", "nats")}
	// The loaders write as this process's user, so the test can read (and
	// remove) what they wrote.
	s.sinkDir = t.TempDir()

	ctx := t.Context()
	nw, err := tcnetwork.New(ctx)
	testcontainers.CleanupNetwork(t, nw)
	if err != nil {
		t.Fatalf("create network: %v", err)
	}
	s.net = nw

	natsEnv := map[string]string{}
	for user, pw := range natsPasswords {
		natsEnv[strings.ToUpper(user)+"_NATS_PASSWORD"] = pw
	}
	s.nats = s.run("nats", img.nats, []string{"nats"},
		testcontainers.WithCmd("--config", "/etc/nats/nats.conf"),
		testcontainers.WithEnv(natsEnv),
		testcontainers.WithFiles(
			testcontainers.ContainerFile{HostFilePath: filepath.Join(s.confDir, "nats.conf"), ContainerFilePath: "/etc/nats/nats.conf", FileMode: 0o644},
			testcontainers.ContainerFile{HostFilePath: filepath.Join(s.confDir, "auth.conf"), ContainerFilePath: "/etc/nats/auth.conf", FileMode: 0o644},
		),
		testcontainers.WithExposedPorts("4222/tcp", "8222/tcp"),
		// A scratch image has no shell for an in-container port check.
		testcontainers.WithWaitStrategy(wait.ForHTTP("/healthz").WithPort("8222/tcp").WithStartupTimeout(time.Minute)),
	)

	s.sandbox = s.run("sandbox", img.nsflow, []string{"sandbox"},
		testcontainers.WithCmd("sandbox", "--addr=0.0.0.0:8080", "--account="+account,
			"--client-id="+clientID, "--client-secret="+clientSecret, "--refresh-token="+refreshToken,
			"--events="+strconv.Itoa(cfg.Events), "--seed=7", "--latency="+cfg.Latency.String(),
			"--concurrency-limit=0"),
		testcontainers.WithExposedPorts("8080/tcp"),
		testcontainers.WithWaitStrategy(wait.ForHTTP("/sandbox/v1/info").WithPort("8080/tcp").WithStartupTimeout(time.Minute)),
	)

	prov := s.run("provision", img.nsflow, nil,
		testcontainers.WithCmd("provision", "--sink", sinkURL),
		testcontainers.WithEnv(s.env("admin", nil)),
		testcontainers.WithWaitStrategy(wait.ForExit().WithExitTimeout(time.Minute)),
	)
	st, err := prov.State(ctx)
	if err != nil {
		t.Fatalf("provision state: %v", err)
	}
	if st.ExitCode != 0 {
		t.Fatalf("nsflow provision exited %d:\n%s", st.ExitCode, containerLogs(prov))
	}
	return s
}

// env is a service container's environment: the NATS user and layout, plus
// extra (which wins).
func (s *stack) env(user string, extra map[string]string) map[string]string {
	env := map[string]string{
		"NATS_URL":                 "nats://nats:4222",
		"NATS_USER":                user,
		"NATS_PASSWORD":            natsPasswords[user],
		"NATS_CLIENT_NAME":         user,
		"NSFLOW_PROVISION":         "false",
		"NSFLOW_LOG_LEVEL":         "info",
		"NSFLOW_CONSUMER_ACK_WAIT": s.cfg.AckWait.String(),
		"NSFLOW_LEASE_TTL":         s.cfg.LeaseTTL.String(),
		"NSFLOW_SHUTDOWN_TIMEOUT":  "10s",
	}
	if user != "admin" {
		// auth.conf lets a stage user subscribe to its own inboxes only
		env["NATS_INBOX_PREFIX"] = "_INBOX_" + user
	}
	for k, v := range extra {
		env[k] = v
	}
	return env
}

// startService runs one replica of stage (extractor, transformer or loader)
// under name and waits until /readyz answers 200.
func (s *stack) startService(stage, name string) *testcontainers.DockerContainer {
	s.t.Helper()
	extra := map[string]string{"NSFLOW_OPS_ADDR": ":9090"}
	opts := []testcontainers.ContainerCustomizer{
		testcontainers.WithEntrypoint("/usr/local/bin/" + stage),
		testcontainers.WithExposedPorts("9090/tcp"),
		testcontainers.WithWaitStrategy(wait.ForHTTP("/readyz").WithPort("9090/tcp").WithStartupTimeout(time.Minute)),
	}
	switch stage {
	case "extractor":
		extra["NETSUITE_ACCOUNT_ID"] = account
		extra["NETSUITE_CLIENT_ID"] = clientID
		extra["NETSUITE_CLIENT_SECRET"] = clientSecret
		extra["NETSUITE_REFRESH_TOKEN"] = refreshToken
		extra["NETSUITE_BASE_URL"] = "http://sandbox:8080"
		extra["NETSUITE_TOKEN_URL"] = "http://sandbox:8080/services/rest/auth/oauth2/v1/token"
		extra["NSFLOW_POLL_INTERVAL"] = "1s"
		extra["NSFLOW_PAGE_SIZE"] = strconv.Itoa(s.cfg.PageSize)
	case "loader":
		extra["NSFLOW_SINK"] = sinkURL
		opts = append(opts,
			testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
				hc.Binds = append(hc.Binds, s.sinkDir+":/sink")
			}),
			testcontainers.WithConfigModifier(func(c *container.Config) {
				c.User = fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid())
			}))
	}
	opts = append(opts, testcontainers.WithEnv(s.env(stage, extra)))
	return s.run(name, s.img.nsflow, []string{name}, opts...)
}

// run starts a container on the stack's network, removes it when the test
// ends, and prints its log tail if the test failed.
func (s *stack) run(name, image string, aliases []string, opts ...testcontainers.ContainerCustomizer) *testcontainers.DockerContainer {
	s.t.Helper()
	if aliases == nil {
		aliases = []string{name}
	}
	opts = append([]testcontainers.ContainerCustomizer{tcnetwork.WithNetwork(aliases, s.net)}, opts...)
	ctr, err := testcontainers.Run(s.t.Context(), image, opts...)
	testcontainers.CleanupContainer(s.t, ctr)
	if ctr != nil {
		s.t.Cleanup(func() {
			if s.t.Failed() {
				s.t.Logf("--- logs of %s (last lines) ---\n%s", name, tail(containerLogs(ctr), 60))
			}
		})
	}
	if err != nil {
		s.t.Fatalf("start %s: %v", name, err)
	}
	return ctr
}

func containerLogs(ctr *testcontainers.DockerContainer) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rc, err := ctr.Logs(ctx)
	if err != nil {
		return "(logs unavailable: " + err.Error() + ")"
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	return string(b)
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// assertNoPermissionViolations fails the test if the NATS server refused
// any publish or subscribe: every service must fit its user's permissions.
func (s *stack) assertNoPermissionViolations() {
	s.t.Helper()
	if bad := s.violations(); len(bad) > 0 {
		s.t.Fatalf("NATS refused %d operations (deployments/compose/nats/auth.conf too narrow?):\n%s", len(bad), strings.Join(bad, "\n"))
	}
}

// violations are the NATS server's "Permissions Violation" log lines.
func (s *stack) violations() []string {
	var bad []string
	sc := bufio.NewScanner(strings.NewReader(containerLogs(s.nats)))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), "Violation") {
			bad = append(bad, sc.Text())
		}
	}
	return bad
}

// endpoint is http://host:port of a container's port.
func endpoint(t *testing.T, ctr *testcontainers.DockerContainer, port, proto string) string {
	t.Helper()
	ep, err := ctr.PortEndpoint(t.Context(), port, proto)
	if err != nil {
		t.Fatalf("endpoint %s: %v", port, err)
	}
	return ep
}

var httpClient = &http.Client{Timeout: 10 * time.Second}

// metric sums the samples of name on a service's /metrics.
func metric(t *testing.T, ctr *testcontainers.DockerContainer, name string) (float64, error) {
	t.Helper()
	ep, err := ctr.PortEndpoint(t.Context(), "9090/tcp", "http")
	if err != nil {
		return 0, err
	}
	resp, err := httpClient.Get(ep + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) {
			continue
		}
		rest := line[len(name):]
		if rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			return 0, fmt.Errorf("parse %q: %w", line, err)
		}
		sum += v
	}
	return sum, sc.Err()
}

// sandboxInfo is GET /sandbox/v1/info: events is the live event count.
type sandboxInfo struct {
	Events int `json:"events"`
}

func (s *stack) info() sandboxInfo {
	s.t.Helper()
	var in sandboxInfo
	s.control(http.MethodGet, "/sandbox/v1/info", nil, http.StatusOK, &in)
	return in
}

// control calls the sandbox control API and decodes the answer into out.
func (s *stack) control(method, path string, body any, want int, out any) {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			s.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(s.t.Context(), method, endpoint(s.t, s.sandbox, "8080/tcp", "http")+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := httpClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		s.t.Fatalf("%s %s: %s: %s", method, path, resp.Status, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			s.t.Fatalf("%s %s: decode %s: %v", method, path, b, err)
		}
	}
}

// db opens the loaders' SQLite sink from the host.
func (s *stack) db() *sql.DB {
	s.t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(s.sinkDir, "events.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { _ = db.Close() })
	return db
}

// sinkCounts are the live rows and tombstones of the sink.
type sinkCounts struct{ live, tombstones int }

func (s *stack) counts(db *sql.DB) (sinkCounts, error) {
	var c sinkCounts
	if err := db.QueryRowContext(s.t.Context(), `SELECT count(*) FROM calendar_events WHERE deleted = 0`).Scan(&c.live); err != nil {
		return c, err
	}
	if err := db.QueryRowContext(s.t.Context(), `SELECT count(*) FROM calendar_event_tombstones`).Scan(&c.tombstones); err != nil {
		return c, err
	}
	return c, nil
}

// jetStream connects to NATS from the host as admin (at the port mapped now:
// it changes when the container restarts).
func (s *stack) jetStream() (jetstream.JetStream, func()) {
	s.t.Helper()
	nc, err := nats.Connect(endpoint(s.t, s.nats, "4222/tcp", "nats"), nats.UserInfo("admin", natsPasswords["admin"]), nats.Name("e2e-test"))
	if err != nil {
		s.t.Fatalf("connect to nats: %v", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		s.t.Fatal(err)
	}
	return js, nc.Close
}

// brokerState is what JetStream holds after a run.
type brokerState struct {
	raw, events, dlq                  uint64
	transformerPending, loaderPending uint64
	transformerAckPending             int
	loaderAckPending                  int
}

func (s *stack) broker() (brokerState, error) {
	js, done := s.jetStream()
	defer done()
	ctx, cancel := context.WithTimeout(s.t.Context(), 10*time.Second)
	defer cancel()
	var b brokerState
	for name, dst := range map[string]*uint64{"NETSUITE_RAW": &b.raw, "EVENTS": &b.events, "DLQ": &b.dlq} {
		st, err := js.Stream(ctx, name)
		if err != nil {
			return b, fmt.Errorf("stream %s: %w", name, err)
		}
		info, err := st.Info(ctx)
		if err != nil {
			return b, fmt.Errorf("stream %s info: %w", name, err)
		}
		*dst = info.State.Msgs
	}
	for _, c := range []struct {
		stream, name string
		pending      *uint64
		ackPending   *int
	}{
		{"NETSUITE_RAW", "transformer", &b.transformerPending, &b.transformerAckPending},
		{"EVENTS", "loader-sqlite", &b.loaderPending, &b.loaderAckPending},
	} {
		cons, err := js.Consumer(ctx, c.stream, c.name)
		if err != nil {
			return b, fmt.Errorf("consumer %s: %w", c.name, err)
		}
		info, err := cons.Info(ctx)
		if err != nil {
			return b, fmt.Errorf("consumer %s info: %w", c.name, err)
		}
		*c.pending, *c.ackPending = info.NumPending, info.NumAckPending
	}
	return b, nil
}

// eventually polls cond every 250ms until it reports done or timeout passes;
// then it fails the test with cond's last status.
func eventually(t *testing.T, what string, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	status := "not checked yet"
	for {
		done, st := cond()
		status = st
		if done {
			return
		}
		select {
		case <-deadline.C:
			t.Fatalf("%s: not reached within %s; last: %s", what, timeout, status)
		case <-t.Context().Done():
			t.Fatalf("%s: %v; last: %s", what, t.Context().Err(), status)
		case <-tick.C:
		}
	}
}

// waitDrained waits until the sink holds exactly the sandbox's live events,
// every record went through both stages, and nothing is pending anywhere.
func (s *stack) waitDrained(db *sql.DB, timeout time.Duration) (sinkCounts, brokerState) {
	s.t.Helper()
	var c sinkCounts
	var b brokerState
	eventually(s.t, "pipeline drained into the sink", timeout, func() (bool, string) {
		// A refused operation usually stalls a stage: say so at once.
		s.assertNoPermissionViolations()
		want := s.info().Events
		var err error
		if c, err = s.counts(db); err != nil {
			return false, "sink: " + err.Error()
		}
		if b, err = s.broker(); err != nil {
			return false, "broker: " + err.Error()
		}
		st := fmt.Sprintf("sandbox live=%d sink live=%d tombstones=%d; raw=%d events=%d dlq=%d; pending transformer=%d/%d loader=%d/%d",
			want, c.live, c.tombstones, b.raw, b.events, b.dlq, b.transformerPending, b.transformerAckPending, b.loaderPending, b.loaderAckPending)
		done := c.live == want && b.raw > 0 && b.events == b.raw &&
			b.transformerPending == 0 && b.transformerAckPending == 0 && b.loaderPending == 0 && b.loaderAckPending == 0
		return done, st
	})
	return c, b
}

// stopFor stops a container; timeout 0 kills it at once (SIGKILL).
func stopFor(t *testing.T, ctr *testcontainers.DockerContainer, timeout time.Duration) {
	t.Helper()
	if err := ctr.Stop(t.Context(), &timeout); err != nil {
		t.Fatalf("stop container: %v", err)
	}
}
