//go:build integration

package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"
)

// TestScaledReplicas runs the horizontally scaled topology: two extractors
// (one leads the account through the KV lease), two transformers sharing the
// durable "transformer", two loaders sharing "loader-sqlite". Mid-run one
// transformer is stopped, one loader is killed (SIGKILL: its unacked batch
// comes back after the ack wait) and the leading extractor is stopped (the
// standby takes over when the lease expires). Every event still ends up in
// the sink exactly once: one row per live event, every raw record turned
// into exactly one canonical event, nothing pending, nothing dead-lettered.
func TestScaledReplicas(t *testing.T) {
	// 30+ SuiteQL pages of 100 at 150ms each: long enough to act mid-run.
	s := newStack(t, stackConfig{Events: 3000, PageSize: 100, Latency: 150 * time.Millisecond})
	loaders := []*testcontainers.DockerContainer{s.startService("loader", "loader-1"), s.startService("loader", "loader-2")}
	transformers := []*testcontainers.DockerContainer{s.startService("transformer", "transformer-1"), s.startService("transformer", "transformer-2")}
	extractors := []*testcontainers.DockerContainer{s.startService("extractor", "extractor-1"), s.startService("extractor", "extractor-2")}
	db := s.db()
	total := s.info().Events

	// Wait for the flow to be under way in both loaders' stage.
	loadedSum := func(ctrs ...*testcontainers.DockerContainer) (float64, string) {
		var sum float64
		var st string
		for i, c := range ctrs {
			v, err := metric(t, c, "nsflow_loader_events_total")
			if err != nil {
				return 0, err.Error()
			}
			sum += v
			st += fmt.Sprintf(" loader-%d=%v", i+1, v)
		}
		return sum, st
	}
	eventually(t, "loading under way", 2*time.Minute, func() (bool, string) {
		sum, st := loadedSum(loaders...)
		return sum >= float64(total)/10, st
	})

	// Exactly one extractor leads.
	leader, standby := -1, -1
	for i, x := range extractors {
		pages, err := metric(t, x, "nsflow_extractor_pages_total")
		if err != nil {
			t.Fatal(err)
		}
		if pages > 0 {
			if leader >= 0 {
				t.Fatalf("extractor-%d and extractor-%d both read NetSuite pages: two leaders", leader+1, i+1)
			}
			leader = i
		} else {
			standby = i
		}
	}
	if leader < 0 || standby < 0 {
		t.Fatalf("want one leading and one standing-by extractor, got leader=%d standby=%d", leader, standby)
	}

	// Mid-run failures.
	c, err := s.counts(db)
	if err != nil {
		t.Fatal(err)
	}
	if c.live >= total {
		t.Fatalf("the sink already holds all %d events: too late to fail replicas mid-run (make the run slower)", total)
	}
	t.Logf("failing replicas with %d of %d events in the sink: stop transformer-1, kill loader-1, stop extractor-%d (the leader)", c.live, total, leader+1)
	stopFor(t, transformers[0], 10*time.Second)
	stopFor(t, loaders[0], 0)
	stopFor(t, extractors[leader], 10*time.Second)

	// The standby takes over the account after the lease TTL.
	eventually(t, "the standby extractor leads", time.Minute, func() (bool, string) {
		pages, err := metric(t, extractors[standby], "nsflow_extractor_pages_total")
		if err != nil {
			return false, err.Error()
		}
		return pages > 0, fmt.Sprintf("extractor-%d pages=%v", standby+1, pages)
	})
	changes := changeEvents(t, s, db, "scaled")
	changes.wait(t, db, 2*time.Minute)
	c, b := s.waitDrained(db, 2*time.Minute)
	if b.dlq != 0 {
		t.Errorf("DLQ holds %d messages", b.dlq)
	}
	if rest, _ := loadedSum(loaders[1]); rest == 0 {
		t.Errorf("the surviving loader loaded nothing")
	}
	t.Logf("after failures: sink live=%d tombstones=%d (sandbox %d); raw=%d events=%d", c.live, c.tombstones, s.info().Events, b.raw, b.events)
	s.assertNoPermissionViolations()
}
