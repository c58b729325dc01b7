package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nsflow/nsflow/pkg/calendarevent"
	"github.com/nsflow/nsflow/pkg/sink"
	"github.com/nsflow/nsflow/pkg/sink/postgres"
	"github.com/nsflow/nsflow/pkg/sink/sinktest"
)

const envURL = "NSFLOW_TEST_POSTGRES_URL"

// baseURL returns the test server URL or skips the test, saying how to
// enable it.
func baseURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(envURL)
	if u == "" {
		t.Skipf("PostgreSQL tests are off: set %s to a database the tests may create schemas in, e.g. "+
			"export %s=\"$(.ci/postgres.sh | tail -n1)\" (installs and starts a local server; CI sets it)", envURL, envURL)
	}
	return u
}

// newSchema creates an empty schema for one test, dropped when it ends, and
// returns base with search_path (and a small pool) pointing at it.
func newSchema(t testing.TB, base string) string {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "nsflow_test_" + hex.EncodeToString(b)
	admin, err := pgx.Connect(t.Context(), base)
	if err != nil {
		t.Fatalf("connect %s: %v", envURL, err)
	}
	defer admin.Close(context.Background())
	if _, err := admin.Exec(t.Context(), "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return withParams(t, base, "", map[string]string{"search_path": schema, "pool_max_conns": "4"})
}

// withParams sets query parameters (and, when host is not empty, the host:port) of a URL.
func withParams(t testing.TB, raw, host string, params map[string]string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("parse %s: %v", envURL, err)
	}
	q := u.Query()
	for k, v := range params {
		q.Set(k, v)
	}
	u.RawQuery = q.Encode()
	if host != "" {
		u.Host = host
	}
	return u.String()
}

func open(t testing.TB, rawURL string, mode sink.DeleteMode) *postgres.Sink {
	t.Helper()
	s, err := postgres.Open(t.Context(), rawURL, postgres.Options{Deletes: mode})
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// instance remembers how a contract-suite sink was opened.
type instance struct {
	url   string
	proxy *sinktest.Proxy
}

func TestContract(t *testing.T) {
	base := baseURL(t)
	for _, mode := range []sink.DeleteMode{sink.DeleteRow, sink.MarkDeleted} {
		t.Run(mode.String(), func(t *testing.T) {
			var instances sync.Map // sink.Sink → instance
			sinktest.Run(t, func(t *testing.T) sink.Sink {
				u, err := url.Parse(base)
				if err != nil {
					t.Fatal(err)
				}
				proxy := sinktest.NewProxy(t, u.Host)
				raw := withParams(t, newSchema(t, base), proxy.Addr(), map[string]string{"connect_timeout": "5"})
				s := open(t, raw, mode)
				instances.Store(sink.Sink(s), instance{url: raw, proxy: proxy})
				return s
			}, sinktest.Capabilities{
				Read: func(t *testing.T, s sink.Sink, account, id string) *calendarevent.Event {
					e, err := s.(*postgres.Sink).Lookup(t.Context(), account, id)
					if err != nil {
						t.Fatal(err)
					}
					return e
				},
				Lossless: true,
				Deletes:  mode,
				// The calendar_events id column is CHECKed to 1..64 characters.
				BadRecord:    func(e *calendarevent.Event) { e.ID = strings.Repeat("9", 65) },
				AllOrNothing: true,
				// The server stays up; a proxy between it and the sink drops every
				// connection and refuses new ones, as a network partition or a
				// stopped server would.
				Outage: func(t *testing.T, s sink.Sink) func() {
					v, _ := instances.Load(s)
					p := v.(instance).proxy
					p.Cut()
					return p.Restore
				},
				Replica: func(t *testing.T, s sink.Sink) sink.Sink {
					v, _ := instances.Load(s)
					return open(t, v.(instance).url, mode)
				},
			})
		})
	}
}

func TestInvalidUTF8IsPermanent(t *testing.T) {
	s := open(t, newSchema(t, baseURL(t)), sink.DeleteRow)
	e := sinktest.NewEvent("ACCT", "utf8", sinktest.T0, 1)
	e.Location = "Room \xff"
	err := s.Write(t.Context(), []*calendarevent.Event{e})
	if err == nil || !sink.IsPermanent(err) {
		t.Fatalf("Write(invalid UTF-8) = %v, want a permanent error", err)
	}
	if strings.Contains(err.Error(), "Room") {
		t.Fatalf("error leaks the value: %v", err)
	}
}

func TestOutageErrorIsTransient(t *testing.T) {
	base := baseURL(t)
	u, _ := url.Parse(base)
	proxy := sinktest.NewProxy(t, u.Host)
	s := open(t, withParams(t, newSchema(t, base), proxy.Addr(), map[string]string{"connect_timeout": "2"}), sink.DeleteRow)
	proxy.Cut()
	err := s.Write(t.Context(), sinktest.Batch("ACCT", "o", 2, sinktest.T0, 1))
	if err == nil || sink.IsPermanent(err) {
		t.Fatalf("Write during outage = %v, want a transient error", err)
	}
	var pe *sink.PartialError
	if errors.As(err, &pe) {
		t.Fatalf("Write during outage returned a PartialError: %v", err)
	}
}

func TestMigrationsConcurrentOpen(t *testing.T) {
	raw := newSchema(t, baseURL(t))
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			s, err := postgres.Open(t.Context(), raw, postgres.Options{})
			if err == nil {
				err = s.Close()
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent open: %v", err)
		}
	}
	pool, err := pgxpool.New(t.Context(), raw)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var n int
	if err := pool.QueryRow(t.Context(), `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("schema_migrations has %d rows, want 1", n)
	}
}

func TestStoredColumns(t *testing.T) {
	raw := newSchema(t, baseURL(t))
	s := open(t, raw, sink.DeleteRow)
	e := sinktest.NewEvent("ACCT", "42", sinktest.T0, 7)
	if err := s.Write(t.Context(), []*calendarevent.Event{e}); err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.New(t.Context(), raw)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var (
		title, org, topic, localDate string
		lm, start                    time.Time
		timed, deleted               bool
		seq                          int64
		attendees                    int
		js                           string
	)
	err = pool.QueryRow(t.Context(), `SELECT title, organizer_id, custom_fields->>'custevent_topic', local_date::text,
		last_modified_at, start_at, timed, deleted, raw_sequence, event_json::text,
		(SELECT count(*) FROM calendar_event_attendees WHERE account = 'ACCT' AND event_id = '42')
		FROM calendar_events WHERE account = 'ACCT' AND id = '42'`).
		Scan(&title, &org, &topic, &localDate, &lm, &start, &timed, &deleted, &seq, &js, &attendees)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := calendarevent.Marshal(e)
	if title != e.Title || org != "-5" || topic != "Renewal" || localDate != e.Local.Date || !lm.Equal(e.LastModifiedAt) ||
		!start.Equal(*e.Start) || !timed || deleted || seq != 7 || attendees != 3 || js != string(want) {
		t.Fatalf("unexpected columns: %q %q %q %q %v %v %v %v %d %d", title, org, topic, localDate, lm, start, timed, deleted, seq, attendees)
	}
}

// BenchmarkWrite is sinktest.Bench: batches of 1,000 typical events with
// three attendees each, one writer (insert, update) and four (insert-4w).
// cpu-µs/row counts the client only.
func BenchmarkWrite(b *testing.B) {
	base := baseURL(b)
	sinktest.Bench(b, func(b *testing.B) sink.Sink {
		return open(b, newSchema(b, base), sink.DeleteRow)
	})
}

// BenchmarkWriteEncoded is BenchmarkWrite's insert and update cases through
// WriteEncoded, the loader's path: the events come with their canonical
// JSON (encoded before the timer starts), so the sink does not marshal them.
func BenchmarkWriteEncoded(b *testing.B) {
	base := baseURL(b)
	batches := func(b *testing.B, update bool) ([][]*calendarevent.Event, [][][]byte) {
		events := make([][]*calendarevent.Event, b.N+1)
		encoded := make([][][]byte, b.N+1)
		for i := range events {
			lastMod, prefix := sinktest.T0, fmt.Sprintf("ev-%d-", i)
			if update {
				lastMod, prefix = sinktest.T0.Add(time.Duration(i)*time.Second), "ev-"
			}
			events[i] = sinktest.Batch("BENCH", prefix, sinktest.BatchSize, lastMod, 1)
			encoded[i] = make([][]byte, len(events[i]))
			for j, e := range events[i] {
				var err error
				if encoded[i][j], err = calendarevent.Marshal(e); err != nil {
					b.Fatal(err)
				}
			}
		}
		return events, encoded
	}
	for _, update := range []bool{false, true} {
		name := "insert"
		if update {
			name = "update"
		}
		b.Run(name, func(b *testing.B) {
			s := open(b, newSchema(b, base), sink.DeleteRow)
			events, encoded := batches(b, update)
			if err := s.WriteEncoded(b.Context(), events[0], encoded[0]); err != nil {
				b.Fatal(err)
			}
			cpu0 := cpuTime()
			b.ResetTimer()
			for i := 1; i <= b.N; i++ {
				if err := s.WriteEncoded(b.Context(), events[i], encoded[i]); err != nil {
					b.Fatal(err)
				}
			}
			rows := float64(b.N * sinktest.BatchSize)
			b.ReportMetric(rows/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/rows, "cpu-µs/row")
			b.ReportMetric(0, "ns/op")
		})
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
