package extractor

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestCursorBefore(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2024, 3, 2, 9, 15, 0, 0, time.UTC)
	c := Cursor{LastModified: t0, ID: 100}
	tests := []struct {
		name string
		lm   time.Time
		id   int64
		want bool
	}{
		{"earlier instant", t0.Add(-time.Second), 999, true},
		{"same instant lower id", t0, 99, true},
		{"same position", t0, 100, false},
		{"same instant higher id", t0, 101, false},
		{"later instant", t0.Add(time.Second), 1, false},
	}
	for _, tt := range tests {
		if got := c.Before(tt.lm, tt.id); got != tt.want {
			t.Errorf("%s: Before = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestStartAppliesOverlapAndSince(t *testing.T) {
	t.Parallel()
	since := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	cur := Cursor{LastModified: time.Date(2024, 3, 2, 9, 15, 0, 0, time.UTC), ID: 7}
	tests := []struct {
		name   string
		cfg    Config
		cursor Cursor
		want   time.Time
	}{
		{"no cursor no since: from the epoch", Config{Overlap: 5 * time.Minute}, Cursor{}, time.Unix(0, 0).UTC()},
		{"no cursor: from since", Config{Overlap: 5 * time.Minute, Since: since}, Cursor{}, since},
		{"cursor: overlap before it", Config{Overlap: 5 * time.Minute}, cur, cur.LastModified.Add(-5 * time.Minute)},
		{"overlap never reaches before since", Config{Overlap: 5 * time.Minute, Since: cur.LastModified.Add(-time.Minute)}, cur, cur.LastModified.Add(-time.Minute)},
	}
	for _, tt := range tests {
		x := &Extractor{cfg: tt.cfg}
		r := x.start(tt.cursor)
		if !r.From.Equal(tt.want) || r.AfterID != 0 {
			t.Errorf("%s: start = %v after %d, want %v after 0 (a pass always begins inclusive)", tt.name, r.From, r.AfterID, tt.want)
		}
	}
}

func TestKeysetWhere(t *testing.T) {
	t.Parallel()
	la := mustLoc(t, "America/Los_Angeles")
	from := time.Date(2024, 3, 2, 17, 15, 0, 0, time.UTC) // 09:15 PST
	first := keysetWhere("ce.lastmodifieddate", "ce.id", keysetRange{From: from}, la)
	if want := "ce.lastmodifieddate >= TO_TIMESTAMP('2024-03-02 09:15:00', 'YYYY-MM-DD HH24:MI:SS')"; first != want {
		t.Errorf("first page:\n got %s\nwant %s", first, want)
	}
	next := keysetWhere("ce.lastmodifieddate", "ce.id", keysetRange{From: from, AfterID: 100425, Until: from.Add(24 * time.Hour)}, la)
	want := "(ce.lastmodifieddate > TO_TIMESTAMP('2024-03-02 09:15:00', 'YYYY-MM-DD HH24:MI:SS') OR " +
		"(ce.lastmodifieddate = TO_TIMESTAMP('2024-03-02 09:15:00', 'YYYY-MM-DD HH24:MI:SS') AND ce.id > 100425)) AND " +
		"ce.lastmodifieddate <= TO_TIMESTAMP('2024-03-03 09:15:00', 'YYYY-MM-DD HH24:MI:SS')"
	if next != want {
		t.Errorf("next page:\n got %s\nwant %s", next, want)
	}
}

func TestQueriesOrderByKeyset(t *testing.T) {
	t.Parallel()
	q := eventsQuery(keysetRange{From: time.Unix(0, 0)}, time.UTC)
	if !strings.HasSuffix(q, "ORDER BY ce.lastmodifieddate, ce.id") || !strings.Contains(q, "ce.*") ||
		!strings.Contains(q, "AS ns_lastmodified") {
		t.Errorf("events query lacks keyset order, custom fields or explicit timestamps: %s", q)
	}
	d := deletedQuery(keysetRange{From: time.Unix(0, 0)}, []string{"calendarevent", "O'Brien"}, time.UTC)
	if !strings.Contains(d, "dr.type IN ('calendarevent', 'O''Brien')") || !strings.HasSuffix(d, "ORDER BY dr.deleteddate, dr.recordid") {
		t.Errorf("deleted query: %s", d)
	}
	if a := attendeesQuery([]int64{1, 22}); !strings.Contains(a, "IN (1, 22)") {
		t.Errorf("attendees query: %s", a)
	}
}

func TestParseLocal(t *testing.T) {
	t.Parallel()
	la := mustLoc(t, "America/Los_Angeles")
	got, err := parseLocal("2024-03-02 09:15:00", la)
	if err != nil || !got.Equal(time.Date(2024, 3, 2, 17, 15, 0, 0, time.UTC)) {
		t.Fatalf("parseLocal = %v, %v", got, err)
	}
	// The repeated hour of the DST fall-back: either instant is acceptable, but
	// it must be one of the two (the overlap window re-reads the other).
	amb, err := parseLocal("2024-11-03 01:30:00", la)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := time.Date(2024, 11, 3, 8, 30, 0, 0, time.UTC), time.Date(2024, 11, 3, 9, 30, 0, 0, time.UTC); !amb.Equal(a) && !amb.Equal(b) {
		t.Fatalf("ambiguous time parsed to %v", amb)
	}
	if _, err := parseLocal("3/2/2024 9:15 am", la); err == nil {
		t.Fatal("a date-format-preference string was accepted; only the explicit TO_CHAR format is")
	}
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	cs := &CursorStore{}
	for name, cfg := range map[string]Config{
		"no account":   {},
		"bad zone":     {Account: "A", TimeZone: "Mars/Olympus"},
		"page too big": {Account: "A", PageSize: 1001},
		"bad mode":     {Account: "A", Attendees: "maybe"},
		"until<since":  {Account: "A", Since: time.Unix(100, 0), Until: time.Unix(50, 0)},
	} {
		if _, err := New(cfg, fakeNS{}, fakePub{}, cs); err == nil {
			t.Errorf("%s: New accepted %+v", name, cfg)
		}
	}
}

func TestKeysetWhereBefore(t *testing.T) {
	t.Parallel()
	from := time.Date(2024, 3, 2, 9, 15, 0, 0, time.UTC)
	got := keysetWhere("ce.lastmodifieddate", "ce.id", keysetRange{From: from, AfterID: 7, Before: pos{LM: from.Add(time.Hour), ID: 42}}, time.UTC)
	want := "(ce.lastmodifieddate > TO_TIMESTAMP('2024-03-02 09:15:00', 'YYYY-MM-DD HH24:MI:SS') OR " +
		"(ce.lastmodifieddate = TO_TIMESTAMP('2024-03-02 09:15:00', 'YYYY-MM-DD HH24:MI:SS') AND ce.id > 7)) AND " +
		"(ce.lastmodifieddate < TO_TIMESTAMP('2024-03-02 10:15:00', 'YYYY-MM-DD HH24:MI:SS') OR " +
		"(ce.lastmodifieddate = TO_TIMESTAMP('2024-03-02 10:15:00', 'YYYY-MM-DD HH24:MI:SS') AND ce.id < 42))"
	if got != want {
		t.Errorf("window range:\n got %s\nwant %s", got, want)
	}
}

func TestWindowRows(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                         string
		pageSize, concurrency, fixed int
		remaining, want              int
	}{
		{"split four ways, whole pages", 1000, 4, 0, 249_000, 63_000},
		{"at least two pages", 1000, 4, 0, 1500, 2000},
		{"offset cap", 1000, 4, 0, 10_000_000, 100_000},
		{"unknown count", 1000, 4, 0, -1, 100_000},
		{"fixed size rounded up to pages", 100, 4, 250, 5000, 300},
		{"fixed size capped", 1000, 4, 500_000, 5000, 100_000},
	}
	for _, tt := range tests {
		x := &Extractor{cfg: Config{PageSize: tt.pageSize, Concurrency: tt.concurrency, WindowRows: tt.fixed}}
		if got := x.windowRows(tt.remaining); got != tt.want {
			t.Errorf("%s: windowRows(%d) = %d, want %d", tt.name, tt.remaining, got, tt.want)
		}
	}
}

func TestTopStrings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		row  string
		want [2]string
	}{
		{`{"links":[],"id":"1001","title":"a, {b}","ns_lastmodified":"2024-01-02 03:04:05"}`, [2]string{"1001", "2024-01-02 03:04:05"}},
		{`{"ns_lastmodified":"2024-01-02 03:04:05", "n": 12, "o": {"x":[1,{"y":"}"}]}, "id" : "7"}`, [2]string{"7", "2024-01-02 03:04:05"}},
		{`{"id":"7","x":true,"y":null}`, [2]string{"7", ""}},
		{`{"id":"7\u0038","ns_lastmodified":"x"}`, [2]string{"78", "x"}}, // an escape: decoded by the fallback
		{`{}`, [2]string{"", ""}},
	}
	for _, tt := range tests {
		got := make([]string, 2)
		if err := topStrings([]byte(tt.row), []string{"id", "ns_lastmodified"}, got); err != nil || [2]string(got) != tt.want {
			t.Errorf("topStrings(%s) = %q, %v; want %q", tt.row, got, err, tt.want)
		}
	}
	if err := topStrings([]byte(`{"id":`), []string{"id"}, make([]string, 1)); err == nil {
		t.Error("a truncated row was accepted")
	}
}

// FuzzTopStrings holds the scanner to encoding/json on valid objects.
func FuzzTopStrings(f *testing.F) {
	f.Add(`{"links":[],"id":"1001","ns_lastmodified":"2024-01-02 03:04:05"}`)
	f.Add(`{"a":{"id":"x"},"id":"2","b":[1,"]"],"ns_lastmodified":"\"q\""}`)
	f.Add(`{"id":12,"ns_lastmodified":"s"}`)
	f.Add(`{"id":"1","id":"2","id":3}`)
	f.Fuzz(func(t *testing.T, row string) {
		if !utf8.ValidString(row) {
			return // encoding/json replaces invalid bytes; ids and timestamps are ASCII and parsed strictly after
		}
		var m map[string]any
		if json.Unmarshal([]byte(row), &m) != nil {
			return
		}
		names := []string{"id", "ns_lastmodified"}
		got := make([]string, 2)
		if err := topStrings([]byte(row), names, got); err != nil {
			t.Fatalf("valid object %s: %v", row, err)
		}
		for i, n := range names {
			want, _ := m[n].(string)
			if got[i] != want {
				t.Fatalf("%s: %s = %q, encoding/json says %q", row, n, got[i], want)
			}
		}
	})
}
