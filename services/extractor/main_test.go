package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nsflow/nsflow/pkg/broker"
	"github.com/nsflow/nsflow/pkg/calendarevent"
	"github.com/nsflow/nsflow/pkg/natsembed"
	"github.com/nsflow/nsflow/pkg/sandbox"
)

// TestOnceBackfillsAndExits runs the service with --once and --since
// against the sandbox: it backfills the range, publishes it, and exits 0.
// It reads with more windows at once than NETSUITE_CONCURRENCY, and the
// sandbox (which refuses requests beyond its limit) must never see more
// than the budget at once.
func TestOnceBackfillsAndExits(t *testing.T) {
	t.Parallel()
	now := time.Now().UTC().Truncate(time.Second)
	sb, err := sandbox.New(sandbox.Config{
		Events: 500, Seed: 4, Now: func() time.Time { return now },
		ConcurrencyLimit: 2, Latency: 20 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	base, err := sb.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	srv, err := natsembed.Start(natsembed.Config{StoreDir: t.TempDir(), Port: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	c := sb.Config()
	env := []string{
		"NATS_URL=" + srv.ClientURL(), "NSFLOW_OPS_ADDR=127.0.0.1:0", "NSFLOW_LOG_LEVEL=warn",
		"NETSUITE_ACCOUNT_ID=" + c.Account, "NETSUITE_CLIENT_ID=" + c.ClientID, "NETSUITE_CLIENT_SECRET=" + c.ClientSecret,
		"NETSUITE_REFRESH_TOKEN=" + sb.RefreshToken(), "NETSUITE_BASE_URL=" + base,
		"NETSUITE_TOKEN_URL=" + base + "/services/rest/auth/oauth2/v1/token", "NETSUITE_TIME_ZONE=" + c.TimeZone,
		"NSFLOW_SINCE=2000-01-01T00:00:00Z", // the flag below overrides it
		"NETSUITE_CONCURRENCY=2",
	}
	since := now.AddDate(0, -6, 0)
	var logs bytes.Buffer
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := run(ctx, []string{"--once", "--since", since.Format(time.RFC3339), "--backfill-window-rows", "100", "--backfill-readers", "5"}, env, &logs); err != nil {
		t.Fatalf("run: %v\n%s", err, logs.String())
	}
	if ctx.Err() != nil {
		t.Fatal("run returned only when the test gave up")
	}
	if c := sb.Counters(); c.PeakConcurrency > 2 || c.ConcurrencyRejected > 0 {
		t.Fatalf("five readers on a budget of two: %d requests at once at the peak, %d refused", c.PeakConcurrency, c.ConcurrencyRejected)
	}
	nc, err := srv.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := broker.JetStream(nc, broker.NATSConfig{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(t.Context(), calendarevent.StreamRaw)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// Only the last six months of two years of events, plus tombstones.
	if n := info.State.Msgs; n == 0 || n >= uint64(sb.LiveEventCount()) {
		t.Fatalf("%d raw messages for a six-month backfill of %d events", n, sb.LiveEventCount())
	}
}

func TestFlagsOverrideEnvironment(t *testing.T) {
	t.Parallel()
	env, err := withFlags([]string{"--until", "2024-06-01T00:00:00Z", "--once"}, []string{"NSFLOW_UNTIL=2023-01-01T00:00:00Z"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(env, " ")
	if !strings.HasSuffix(got, "NSFLOW_UNTIL=2024-06-01T00:00:00Z NSFLOW_ONCE=true") {
		t.Fatalf("environment %q", got)
	}
	if _, err := withFlags([]string{"--bogus"}, nil, &bytes.Buffer{}); err == nil {
		t.Fatal("an unknown flag was accepted")
	}
}
