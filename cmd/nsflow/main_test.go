package main

import (
	"bytes"
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	_ "modernc.org/sqlite"

	"github.com/nsflow/nsflow/pkg/broker"
	"github.com/nsflow/nsflow/pkg/natsembed"
)

// TestRunOnce is `nsflow run --once` as a user runs it: every sandbox event
// ends up in the SQLite table calendar_events and a summary is printed.
func TestRunOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	err := run(ctx, []string{"run", "--once", "--quiet", "--data-dir", dir, "--sandbox-events", "700", "--ops-addr", "", "--nats-listen", ""}, nil, &out, &errOut)
	if err != nil {
		t.Fatalf("run --once: %v\nstderr: %s", err, errOut.String())
	}
	for _, want := range []string{"nsflow run summary", "extracted", "loaded", "dead letters  0", "events/s"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "events.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM calendar_events").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 700 {
		t.Fatalf("calendar_events holds %d rows, want the sandbox's 700", n)
	}
}

func TestRunRejectsUnknownSetting(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"run", "--once"}, []string{"NSFLOW_POLL_INTERVALL=1s"}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "NSFLOW_POLL_INTERVALL") {
		t.Fatalf("err = %v, want it to name NSFLOW_POLL_INTERVALL", err)
	}
}

func TestStatusAndDLQAgainstAServer(t *testing.T) {
	t.Parallel()
	srv, err := natsembed.Start(natsembed.Config{StoreDir: t.TempDir(), Port: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	env := []string{"NATS_URL=" + srv.ClientURL()}
	var out, errOut bytes.Buffer
	if err := run(t.Context(), []string{"provision", "--sink", "sqlite:x.db", "--sink", "jsonl:-"}, env, &out, &errOut); err != nil {
		t.Fatalf("provision: %v", err)
	}
	// A backfill stopped with one of its two windows read, as the extractor
	// stores it.
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(t.Context(), "netsuite_state")
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"backfill.1234567-sb1": `{"end":"2026-06-01T00:00:00Z","window_rows":500,"started":true,"planned":true,"remaining":0,"created_at":"2026-06-01T00:00:01Z"}`,
		"cursor.1234567-sb1.backfill.19700101T000000Z_0-20250101T000000Z_9": `{"from":{"lm":"1970-01-01T00:00:00Z","id":0},"done":true}`,
		"cursor.1234567-sb1.backfill.20250101T000000Z_9-end":                `{"last_modified":"2025-03-01T00:00:00Z","id":77,"from":{"lm":"2025-01-01T00:00:00Z","id":9}}`,
	} {
		if _, err := kv.PutString(t.Context(), k, v); err != nil {
			t.Fatal(err)
		}
	}
	out.Reset()
	if err := run(t.Context(), []string{"status"}, env, &out, &errOut); err != nil {
		t.Fatalf("status: %v", err)
	}
	for _, want := range []string{"NETSUITE_RAW", "EVENTS", "DLQ", "transformer", "loader-sqlite", "loader-jsonl",
		"BACKFILL", "1234567-sb1", "1 of 2", "2026-06-01T00:00:00Z"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("status lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if err := run(t.Context(), []string{"dlq", "list"}, env, &out, &errOut); err != nil || !strings.Contains(out.String(), "SEQ") {
		t.Fatalf("dlq list: %v\n%s", err, out.String())
	}
	if err := run(t.Context(), []string{"dlq", "redrive"}, env, &out, &errOut); err == nil {
		t.Fatal("dlq redrive without sequences or --all accepted")
	}
	out.Reset()
	if err := run(t.Context(), []string{"replay", "--stage", "loader", "--sink", "sqlite", "--since", "24h"}, env, &out, &errOut); err != nil {
		t.Fatalf("replay: %v", err)
	}
	if !strings.Contains(out.String(), "loader-sqlite") {
		t.Fatalf("replay output: %s", out.String())
	}
	_ = broker.ConsumerTransformer
}
