//go:build integration

package e2e

import (
	"strconv"
	"testing"
	"time"
)

// TestNATSRestart restarts the NATS container (docker stop: SIGTERM, then
// start; JetStream keeps its store in the container) while events flow. The
// services reconnect on their own and nothing is lost: the sink ends with
// every live event, and every raw record became exactly one canonical event.
func TestNATSRestart(t *testing.T) {
	s := newStack(t, stackConfig{Events: 3000, PageSize: 100, Latency: 150 * time.Millisecond})
	loader := s.startService("loader", "loader")
	s.startService("transformer", "transformer")
	s.startService("extractor", "extractor")
	db := s.db()
	total := s.info().Events

	eventually(t, "loading under way", 2*time.Minute, func() (bool, string) {
		v, err := metric(t, loader, "nsflow_loader_events_total")
		if err != nil {
			return false, err.Error()
		}
		return v >= float64(total)/10, "loaded " + formatFloat(v)
	})
	c, err := s.counts(db)
	if err != nil {
		t.Fatal(err)
	}
	if c.live >= total {
		t.Fatalf("the sink already holds all %d events: too late to restart NATS mid-run", total)
	}
	t.Logf("restarting NATS with %d of %d events in the sink", c.live, total)
	stopFor(t, s.nats, 10*time.Second)
	if err := s.nats.Start(t.Context()); err != nil {
		t.Fatalf("start nats again: %v", err)
	}

	changes := changeEvents(t, s, db, "restart")
	changes.wait(t, db, 2*time.Minute)
	c, b := s.waitDrained(db, 2*time.Minute)
	if b.dlq != 0 {
		t.Errorf("DLQ holds %d messages", b.dlq)
	}
	t.Logf("after the restart: sink live=%d tombstones=%d; raw=%d events=%d", c.live, c.tombstones, b.raw, b.events)
	s.assertNoPermissionViolations()
}

func formatFloat(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
