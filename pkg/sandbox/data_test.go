package sandbox

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func TestDeterministicData(t *testing.T) {
	dump := func(seed int64) string {
		s, base := newSandbox(t, Config{Events: 300, Seed: seed})
		tok := accessToken(t, s, base)
		rows, _ := fetchAll(t, base, tok, eventsQuery("1990-01-01 00:00:00", -1, ""), 1000)
		att, _ := fetchAll(t, base, tok, `SELECT a.calendarevent, a.attendee, a.response FROM calendareventattendee a ORDER BY a.calendarevent, a.attendee`, 1000)
		del, _ := fetchAll(t, base, tok, `SELECT * FROM deletedrecord`, 1000)
		return mustJSON(rows) + mustJSON(att) + mustJSON(del)
	}
	a, b, c := dump(1), dump(1), dump(2)
	if a != b {
		t.Error("same seed gave different data")
	}
	if a == c {
		t.Error("different seeds gave the same data")
	}
}

// TestEpochAnchorsData: a sandbox started later with the Epoch of an
// earlier start serves the same data set; without it, the data moves with
// the clock (every event a new version).
func TestEpochAnchorsData(t *testing.T) {
	dump := func(now time.Time, epoch time.Time) string {
		s, base := newSandbox(t, Config{Events: 200, Seed: 3, Now: func() time.Time { return now }, Epoch: epoch})
		tok := accessToken(t, s, base)
		rows, _ := fetchAll(t, base, tok, eventsQuery("1990-01-01 00:00:00", -1, ""), 1000)
		del, _ := fetchAll(t, base, tok, `SELECT * FROM deletedrecord`, 1000)
		return mustJSON(rows) + mustJSON(del)
	}
	later := fixedNow.Add(26 * time.Hour)
	if dump(fixedNow, time.Time{}) != dump(later, fixedNow) {
		t.Error("same seed and epoch, later clock: data changed")
	}
	if dump(fixedNow, time.Time{}) == dump(later, time.Time{}) {
		t.Error("no epoch, later clock: data did not move with the clock")
	}
}

func TestGeneratedDataVariety(t *testing.T) {
	s, _ := newSandbox(t, Config{Events: 5000, Seed: 77})
	all := allEvents(s)
	now := fixedNow.Unix()
	var allDay, crossMidnight, dst, recur, nullTZ, html, unicode, noAttendees, sixAttendees, twoRes, ext, done int
	zones := map[string]bool{}
	dstDays := map[string]bool{"2023-03-12": true, "2023-11-05": true, "2024-03-10": true, "2023-03-26": true,
		"2023-10-29": true, "2024-03-31": true, "2022-11-06": true, "2022-10-30": true, "2023-04-02": true,
		"2023-10-01": true, "2022-10-02": true, "2024-04-07": true}
	for _, e := range all {
		if e.created > now || e.modified < e.created || e.modified > now || e.created < now-731*86400 {
			t.Fatalf("event %d: created %v modified %v", e.id, time.Unix(e.created, 0), time.Unix(e.modified, 0))
		}
		if e.allDay {
			allDay++
			if e.timed || e.startSec != 8*3600 || e.endSec != 18*3600 {
				t.Errorf("all-day event %d: timed=%v %d-%d", e.id, e.timed, e.startSec, e.endSec)
			}
		}
		if e.timed && e.endSec <= e.startSec {
			crossMidnight++
		}
		if dstDays[isoDate(e.startDay)] && e.startSec < 3*3600 {
			dst++
		}
		if e.recurrence != "" {
			recur++
		}
		if e.timezone == "" {
			nullTZ++
		}
		zones[e.timezone] = true
		if strings.Contains(e.message, "<") || strings.Contains(e.title, "<b>") {
			html++
		}
		if strings.ContainsFunc(e.title+e.message, func(r rune) bool { return r > 0x2000 }) {
			unicode++
		}
		switch len(e.attendees) {
		case 0:
			noAttendees++
		case 6:
			sixAttendees++
		}
		if len(e.attendees) > 6 || len(e.resources) > 2 {
			t.Errorf("event %d has %d attendees, %d resources", e.id, len(e.attendees), len(e.resources))
		}
		if len(e.resources) == 2 {
			twoRes++
		}
		if e.externalID != "" {
			ext++
		}
		if e.hasDone {
			done++
		}
	}
	n := len(all)
	checks := []struct {
		name   string
		got    int
		lo, hi float64
	}{
		{"all-day", allDay, 0.10, 0.20}, {"crossing midnight", crossMidnight, 0.015, 0.06}, {"DST edge", dst, 0.005, 0.05},
		{"recurring", recur, 0.07, 0.13}, {"NULL time zone", nullTZ, 0.2, 0.4}, {"HTML", html, 0.3, 0.9},
		{"unicode", unicode, 0.1, 0.9}, {"no attendees", noAttendees, 0.1, 0.3}, {"six attendees", sixAttendees, 0.03, 0.15},
		{"two resources", twoRes, 0.08, 0.25}, {"external ID", ext, 0.1, 0.3}, {"completed", done, 0.1, 0.6},
	}
	for _, c := range checks {
		if f := float64(c.got) / float64(n); f < c.lo || f > c.hi {
			t.Errorf("%s: %.3f of events, want %.3f..%.3f", c.name, f, c.lo, c.hi)
		}
	}
	if len(zones) < 8 {
		t.Errorf("only %d time zones", len(zones))
	}
	if len(s.store.deleted) < n/50 {
		t.Errorf("only %d deletedrecord rows", len(s.store.deleted))
	}
}

// TestIndexPathsMatchScan runs queries once as the planner sees them and
// once with the conditions disguised (so no index can be used), after
// changes that spread the overlay through the index.
func TestIndexPathsMatchScan(t *testing.T) {
	clk := &testClock{t: fixedNow}
	s, base := newSandbox(t, Config{Events: 4000, Seed: 31, Now: clk.Now})
	churn(t, s, clk, 400, 6)
	tok := accessToken(t, s, base)
	cols := `SELECT ce.id, TO_CHAR(ce.lastmodifieddate, 'YYYY-MM-DD HH24:MI:SS') AS lm FROM calendarevent ce`
	queries := []struct{ planned, scan string }{
		{`WHERE ce.lastmodifieddate >= TO_TIMESTAMP('2023-09-01 00:00:00', 'YYYY-MM-DD HH24:MI:SS') AND ce.lastmodifieddate < TO_DATE('2024-01-15', 'YYYY-MM-DD') ORDER BY ce.lastmodifieddate, ce.id`,
			`WHERE ce.lastmodifieddate + 0 >= TO_TIMESTAMP('2023-09-01 00:00:00', 'YYYY-MM-DD HH24:MI:SS') AND ce.lastmodifieddate + 0 < TO_DATE('2024-01-15', 'YYYY-MM-DD') ORDER BY ce.lastmodifieddate + 0, ce.id + 0`},
		{`WHERE ce.lastmodifieddate < TO_TIMESTAMP('2023-12-01 10:00:00', 'YYYY-MM-DD HH24:MI:SS') OR (ce.lastmodifieddate = TO_TIMESTAMP('2023-12-01 10:00:00', 'YYYY-MM-DD HH24:MI:SS') AND ce.id <= 3000) ORDER BY ce.lastmodifieddate DESC, ce.id DESC`,
			`WHERE ce.lastmodifieddate + 0 < TO_TIMESTAMP('2023-12-01 10:00:00', 'YYYY-MM-DD HH24:MI:SS') OR (ce.lastmodifieddate + 0 = TO_TIMESTAMP('2023-12-01 10:00:00', 'YYYY-MM-DD HH24:MI:SS') AND ce.id + 0 <= 3000) ORDER BY ce.lastmodifieddate + 0 DESC, ce.id + 0 DESC`},
		{`WHERE ce.id > 2500 AND ce.id <= 3900 ORDER BY ce.id DESC`, `WHERE ce.id + 0 > 2500 AND ce.id + 0 <= 3900 ORDER BY ce.id + 0 DESC`},
		{`WHERE ce.id IN (1001, 1500, 1500, 2999, 4100, 99999) AND ce.status <> 'CANCELLED'`, `WHERE ce.id + 0 IN (1001, 1500, 2999, 4100, 99999) AND ce.status <> 'CANCELLED' ORDER BY ce.id + 0`},
		{`WHERE ce.lastmodifieddate = TO_TIMESTAMP('2024-04-15 03:30:00', 'YYYY-MM-DD HH24:MI:SS') ORDER BY ce.lastmodifieddate`,
			`WHERE ce.lastmodifieddate + 0 = TO_TIMESTAMP('2024-04-15 03:30:00', 'YYYY-MM-DD HH24:MI:SS') ORDER BY ce.id + 0`},
		{`ORDER BY ce.lastmodifieddate DESC`, `ORDER BY ce.lastmodifieddate + 0 DESC, ce.id + 0 DESC`},
		{`WHERE ce.lastmodifieddate >= TO_TIMESTAMP('2023-09-01 00:00:00', 'YYYY-MM-DD HH24:MI:SS') ORDER BY ce.id DESC`,
			`WHERE ce.lastmodifieddate + 0 >= TO_TIMESTAMP('2023-09-01 00:00:00', 'YYYY-MM-DD HH24:MI:SS') ORDER BY ce.id + 0 DESC`},
		{`WHERE ce.lastmodifieddate >= TO_TIMESTAMP('2023-09-01 00:00:00', 'YYYY-MM-DD HH24:MI:SS') ORDER BY ce.lastmodifieddate, ce.id DESC`,
			`WHERE ce.lastmodifieddate + 0 >= TO_TIMESTAMP('2023-09-01 00:00:00', 'YYYY-MM-DD HH24:MI:SS') ORDER BY ce.lastmodifieddate + 0, ce.id + 0 DESC`},
		{`WHERE ce.id IN (1001, 1200, 1500, 1777, 2999, 3500, 3800, 4001) ORDER BY ce.title, ce.id`,
			`WHERE ce.id + 0 IN (1001, 1200, 1500, 1777, 2999, 3500, 3800, 4001) ORDER BY ce.title, ce.id + 0`},
	}
	for i, q := range queries {
		for _, win := range [][2]int{{0, 1000}, {1000, 1000}, {37, 100}} {
			p1 := suiteQL(t, base, tok, cols+" "+q.planned, win[1], win[0])
			p2 := suiteQL(t, base, tok, cols+" "+q.scan, win[1], win[0])
			var a, b suiteQLPage
			p1.decode(t, &a)
			p2.decode(t, &b)
			if p1.status != 200 || a.TotalResults != b.TotalResults || mustJSON(a.Items) != mustJSON(b.Items) {
				t.Errorf("query %d window %v: planned %d rows of %d, scan %d rows of %d\n%.300s\n%.300s", i, win,
					a.Count, a.TotalResults, b.Count, b.TotalResults, p1.body, p2.body)
			}
			if i < 3 && win[0] == 0 && a.TotalResults < 100 {
				t.Errorf("query %d matches only %d rows", i, a.TotalResults)
			}
		}
	}
}

func TestLargeDataSet(t *testing.T) {
	if testing.Short() {
		t.Skip("builds 1,000,000 events; skipped with -short")
	}
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	s, err := New(Config{Events: 1_000_000, Seed: 1, Now: func() time.Time { return fixedNow }, SigningKey: signingKey(t)})
	if err != nil {
		t.Fatal(err)
	}
	built := time.Since(start)
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	heap := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("1,000,000 events: built in %v, %d MB of heap", built, heap>>20)
	if heap > 120<<20 {
		t.Errorf("heap grew by %d MB for 1,000,000 events", heap>>20)
	}
	if s.LiveEventCount() != 1_000_000 {
		t.Errorf("LiveEventCount = %d", s.LiveEventCount())
	}
	// The keyset query and the ID lookups stay fast at this size.
	base, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tok := accessToken(t, s, base)
	start = time.Now()
	r := suiteQL(t, base, tok, eventsQuery("2023-06-01 00:00:00", 0, ""), 1000, 0)
	var p suiteQLPage
	r.decode(t, &p)
	if r.status != 200 || p.Count != 1000 || p.TotalResults < 100_000 {
		t.Errorf("keyset page at 1M: %d count=%d total=%d", r.status, p.Count, p.TotalResults)
	}
	t.Logf("keyset page of 1000 at 1M events: %v (total %d)", time.Since(start), p.TotalResults)
	r = suiteQL(t, base, tok, `SELECT COUNT(*) AS n FROM calendarevent ce WHERE ce.lastmodifieddate > TO_TIMESTAMP('2024-01-01 00:00:00', 'YYYY-MM-DD HH24:MI:SS')`, 10, 0)
	if r.status != 200 {
		t.Errorf("count: %d %s", r.status, r.body)
	}
	if status, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(status), "\n") {
			if strings.HasPrefix(line, "VmHWM") || strings.HasPrefix(line, "VmRSS") {
				t.Log(strings.Join(strings.Fields(line), " "))
			}
		}
	}
	runtime.KeepAlive(s)
}

func TestConfig(t *testing.T) {
	s, err := New(Config{Events: 10, SigningKey: signingKey(t)})
	if err != nil {
		t.Fatal(err)
	}
	c := s.Config()
	if c.Account != DefaultAccount || c.ClientID != DefaultClientID || c.ClientSecret != DefaultClientSecret ||
		c.ConcurrencyLimit != 5 || c.ConcurrencyErrorStatus != 429 || c.AccessTokenTTL != time.Hour ||
		c.RefreshTokenTTL != 7*24*time.Hour || c.TimeZone != "America/Los_Angeles" || c.DateFormat != "M/d/yyyy" ||
		c.Now == nil || c.Logger == nil {
		t.Errorf("defaults %+v", c)
	}
	if got := (Config{Account: "1234567_SB1"}).AccountHost(); got != "1234567-sb1" {
		t.Errorf("AccountHost = %q", got)
	}
	bad := []Config{
		{Account: "a b"}, {Events: -1}, {Events: MaxEvents + 1}, {ConcurrencyErrorStatus: 500},
		{TimeZone: "Mars/Olympus"}, {TimeZone: "Local"}, {DateFormat: "Q/d/yyyy"}, {Latency: -time.Second},
		{AccessTokenTTL: time.Millisecond},
	}
	for _, cfg := range bad {
		if _, err := New(cfg); err == nil || !strings.HasPrefix(err.Error(), "validate config:") {
			t.Errorf("New(%+v) = %v, want a validation error", cfg, err)
		}
	}
}

func TestBindFlags(t *testing.T) {
	tests := []struct {
		args []string
		want func(c Config) bool
	}{
		{nil, func(c Config) bool {
			return c.Account == DefaultAccount && c.Events == DefaultEvents && c.ConcurrencyLimit == 5 && c.DateFormat == "M/d/yyyy"
		}},
		{[]string{"--account=123_SB1", "--events=77", "--seed=9", "--concurrency-limit=0", "--latency=25ms",
			"--access-token-ttl=5m", "--refresh-token-ttl=2h", "--time-zone=Europe/Paris", "--date-format=dd/MM/yyyy",
			"--client-id=c", "--client-secret=s", "--refresh-token=r", "--concurrency-error-status=400"}, func(c Config) bool {
			return c.Account == "123_SB1" && c.Events == 77 && c.Seed == 9 && c.ConcurrencyLimit == -1 &&
				c.Latency == 25*time.Millisecond && c.AccessTokenTTL == 5*time.Minute && c.RefreshTokenTTL == 2*time.Hour &&
				c.TimeZone == "Europe/Paris" && c.DateFormat == "dd/MM/yyyy" && c.ClientID == "c" && c.ClientSecret == "s" &&
				c.RefreshToken == "r" && c.ConcurrencyErrorStatus == 400
		}},
		{[]string{"--concurrency-limit=3"}, func(c Config) bool { return c.ConcurrencyLimit == 3 }},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.args), func(t *testing.T) {
			var cfg Config
			fs := pflag.NewFlagSet("sandbox", pflag.ContinueOnError)
			BindFlags(fs, &cfg)
			if fs.Lookup("addr") != nil {
				t.Error("BindFlags registers --addr")
			}
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			if !tt.want(cfg) {
				t.Errorf("config %+v", cfg)
			}
			cfg.SigningKey = signingKey(t)
			if _, err := New(cfg); err != nil {
				t.Errorf("New: %v", err)
			}
		})
	}
	fs := pflag.NewFlagSet("sandbox", pflag.ContinueOnError)
	var cfg Config
	BindFlags(fs, &cfg)
	if err := fs.Parse([]string{"--concurrency-limit=-3"}); err == nil {
		t.Error("negative --concurrency-limit accepted")
	}
}

func TestListenAndServe(t *testing.T) {
	s, err := New(Config{Events: 10, SigningKey: signingKey(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := contextWithCancel()
	done := make(chan error, 1)
	go func() { done <- s.ListenAndServe(ctx, "127.0.0.1:0") }()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("ListenAndServe: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ListenAndServe did not return after cancel")
	}
	if err := s.ListenAndServe(t.Context(), "256.0.0.1:1"); err == nil {
		t.Error("listening on a bad address succeeded")
	}
	base, err := s.Start(":0")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Errorf("Start(\":0\") = %q", base)
	}
	if r := doRequest(t, "GET", base+"/sandbox/v1/info", nil, nil); r.status != 200 {
		t.Errorf("info: %d", r.status)
	}
	if _, err := s.Start("127.0.0.1:0"); err == nil {
		t.Error("second Start succeeded")
	}
	if err := s.Close(); err != nil {
		t.Error(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
