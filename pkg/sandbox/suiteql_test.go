package sandbox

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

const tsLayout = "2006-01-02 15:04:05"

// churn changes, creates and deletes events at clock times spread over the
// past year, so the overlay interleaves with the generated order.
func churn(t testing.TB, s *Sandbox, clk *testClock, n int, seed uint64) {
	t.Helper()
	r := newRNG(seed, 99)
	base := clk.Now()
	ids := allEvents(s)
	for i := range n {
		clk.mu.Lock()
		clk.t = base.Add(-time.Duration(r.intn(365*24)) * time.Hour).Add(time.Duration(r.intn(3600)) * time.Second)
		clk.mu.Unlock()
		e := ids[r.intn(len(ids))]
		id := strconv.FormatInt(e.id, 10)
		switch k := r.intn(10); {
		case k < 6:
			if err := s.UpdateEvent(id, EventInput{Title: new(fmt.Sprintf("Updated %d", i))}); err != nil && !strings.Contains(err.Error(), "does not exist") {
				t.Fatal(err)
			}
		case k < 8:
			if _, err := s.CreateEvent(EventInput{Title: new(fmt.Sprintf("New %d", i)), Attendees: &[]AttendeeInput{{Attendee: 105}, {Attendee: 3002, Response: "DECLINED"}}}); err != nil {
				t.Fatal(err)
			}
		default:
			_ = s.DeleteEvent(id)
		}
	}
	clk.mu.Lock()
	clk.t = base
	clk.mu.Unlock()
}

func localTS(unix int64, loc *time.Location) string {
	return time.Unix(unix, 0).In(loc).Format(tsLayout)
}

func eventsQuery(from string, afterID int64, to string) string {
	q := fmt.Sprintf(extractorEventsQuery, from, afterID, to)
	if to == "" {
		q = strings.Replace(q, " AND ce.lastmodifieddate <= TO_TIMESTAMP('', 'YYYY-MM-DD HH24:MI:SS')", "", 1)
	}
	if afterID < 0 {
		q = strings.Replace(q, fmt.Sprintf("(ce.lastmodifieddate > TO_TIMESTAMP('%[1]s', 'YYYY-MM-DD HH24:MI:SS') OR (ce.lastmodifieddate = TO_TIMESTAMP('%[1]s', 'YYYY-MM-DD HH24:MI:SS') AND ce.id > %[2]d))", from, afterID),
			fmt.Sprintf("ce.lastmodifieddate >= TO_TIMESTAMP('%s', 'YYYY-MM-DD HH24:MI:SS')", from), 1)
	}
	return q
}

func fetchAll(t *testing.T, base, tok, q string, limit int) ([]map[string]string, int) {
	t.Helper()
	var out []map[string]string
	total := -1
	for off := 0; ; off += limit {
		r := suiteQL(t, base, tok, q, limit, off)
		if r.status != 200 {
			t.Fatalf("suiteql: %d %s\n%s", r.status, r.body, q)
		}
		if ct := r.header.Get("Content-Type"); ct != ctCollection {
			t.Fatalf("Content-Type %q", ct)
		}
		var p suiteQLPage
		r.decode(t, &p)
		for _, it := range p.Items {
			if l, ok := it["links"].([]any); !ok || len(l) != 0 {
				t.Fatalf("item links = %v", it["links"])
			}
		}
		out = append(out, p.strItems(t)...)
		if total >= 0 && p.TotalResults != total {
			t.Fatalf("totalResults changed between pages")
		}
		total = p.TotalResults
		if p.Offset != off || p.Count != len(p.Items) {
			t.Fatalf("offset/count = %d/%d", p.Offset, p.Count)
		}
		if !p.HasMore {
			return out, total
		}
	}
}

// expectedEventRow renders the columns the extractor reads, independently
// of the SuiteQL engine.
func expectedEventRow(s *Sandbox, e *event, loc *time.Location) map[string]string {
	dir := s.store.gen.dir
	day := func(d int64) time.Time { return time.Unix(d*86400, 0).UTC() }
	m := map[string]string{
		"id": strconv.FormatInt(e.id, 10), "title": e.title, "status": statusEnum[e.status].id,
		"accesslevel": accessEnum[e.accessLevel].id, "alldayevent": tf(e.allDay), "timedevent": tf(e.timed),
		"startdate":        day(e.startDay).Format("1/2/2006"),
		"starttime":        day(e.startDay).Add(time.Duration(e.startSec) * time.Second).Format("1/2/2006 3:04 pm"),
		"lastmodifieddate": time.Unix(e.modified, 0).In(loc).Format("1/2/2006 3:04 pm"),
		"ns_lastmodified":  localTS(e.modified, loc), "ns_created": localTS(e.created, loc),
		"ns_startdate":   day(e.startDay).Format("2006-01-02"),
		"ns_starttime":   day(0).Add(time.Duration(e.startSec) * time.Second).Format("15:04:05"),
		"ns_endtime":     day(0).Add(time.Duration(e.endSec) * time.Second).Format("15:04:05"),
		"ns_status_name": statusEnum[e.status].name, "ns_accesslevel_name": accessEnum[e.accessLevel].name,
		"ns_organizer_name": dir.name(kindEmployee, e.organizer), "ns_owner_name": dir.name(kindEmployee, e.owner),
		"custevent_billable": tf(e.billable),
	}
	m["starttime"] = strings.Replace(strings.Replace(m["starttime"], "PM", "pm", 1), "AM", "am", 1)
	m["lastmodifieddate"] = strings.Replace(strings.Replace(m["lastmodifieddate"], "PM", "pm", 1), "AM", "am", 1)
	opt := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	opt("message", e.message)
	opt("location", e.location)
	opt("timezone", e.timezone)
	opt("recurrence", e.recurrence)
	opt("externalid", e.externalID)
	if e.hasDone {
		m["ns_completeddate"] = day(e.doneDay).Format("2006-01-02")
		m["completeddate"] = day(e.doneDay).Format("1/2/2006")
	}
	if e.company != 0 {
		m["company"] = strconv.FormatInt(e.company, 10)
		m["ns_company_name"] = dir.name(kindCustomer, e.company)
	}
	if e.contact != 0 {
		m["ns_contact_name"] = dir.name(kindContact, e.contact)
	}
	if e.supportCase != 0 {
		m["ns_supportcase_name"] = dir.name(kindSupportCase, e.supportCase)
	}
	if e.transaction != 0 {
		m["ns_transaction_name"] = dir.name(kindTransaction, e.transaction)
	}
	if e.remType != 0 {
		m["remindertype"] = reminderTypeEnum[e.remType].id
		m["ns_remindertype_name"] = reminderTypeEnum[e.remType].name
	}
	if e.hasScore {
		m["custevent_score"] = strconv.FormatFloat(e.score, 'f', -1, 64)
	}
	return m
}

func tf(b bool) string {
	if b {
		return "T"
	}
	return "F"
}

func checkRow(t *testing.T, got, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("event %s: %s = %q, want %q", want["id"], k, got[k], v)
		}
	}
	for k, v := range got {
		if v == "" {
			t.Errorf("event %s: %s is an empty string; NULLs must be omitted", want["id"], k)
		}
	}
	if _, ok := want["ns_completeddate"]; !ok {
		if _, has := got["ns_completeddate"]; has {
			t.Errorf("event %s: NULL completeddate rendered", want["id"])
		}
	}
}

func TestExtractorEventsQuery(t *testing.T) {
	clk := &testClock{t: fixedNow}
	s, base := newSandbox(t, Config{Events: 3000, Seed: 42, Now: clk.Now})
	churn(t, s, clk, 300, 1)
	tok := accessToken(t, s, base)
	loc := mustLoc("America/Los_Angeles")
	all := allEvents(s)
	sort.Slice(all, func(i, j int) bool {
		a, b := localTS(all[i].modified, loc), localTS(all[j].modified, loc)
		if a != b {
			return a < b
		}
		return all[i].id < all[j].id
	})
	// Cursor positions: a tie (the timestamp of two events), an arbitrary
	// point, and the start.
	var tieTS string
	var tieID int64
	for i := 1; i < len(all); i++ {
		if localTS(all[i].modified, loc) == localTS(all[i-1].modified, loc) {
			tieTS, tieID = localTS(all[i].modified, loc), all[i-1].id
			break
		}
	}
	if tieTS == "" {
		t.Fatal("data set has no last-modified ties")
	}
	cases := []struct {
		from  string
		after int64 // -1: first page form (>=)
		to    string
	}{
		{tieTS, tieID, ""},
		{tieTS, tieID, "2024-01-01 00:00:00"},
		{"2023-06-01 12:00:00", 0, "2023-09-01 00:00:00"},
		{"2023-06-01 12:00:00", -1, ""},
		{"2000-01-01 00:00:00", -1, ""},
		{"2030-01-01 00:00:00", 5, ""},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s/%d/%s", c.from, c.after, c.to), func(t *testing.T) {
			var want []*event
			for _, e := range all {
				ts := localTS(e.modified, loc)
				ok := ts > c.from || (ts == c.from && e.id > c.after)
				if c.after < 0 {
					ok = ts >= c.from
				}
				if ok && (c.to == "" || ts <= c.to) {
					want = append(want, e)
				}
			}
			got, total := fetchAll(t, base, tok, eventsQuery(c.from, c.after, c.to), 1000)
			if total != len(want) || len(got) != len(want) {
				t.Fatalf("got %d rows (total %d), want %d", len(got), total, len(want))
			}
			for i, e := range want {
				checkRow(t, got[i], expectedEventRow(s, e, loc))
				if t.Failed() {
					t.FailNow()
				}
			}
		})
	}
}

func TestExtractorSublistQueries(t *testing.T) {
	clk := &testClock{t: fixedNow}
	s, base := newSandbox(t, Config{Events: 2000, Seed: 5, Now: clk.Now})
	churn(t, s, clk, 100, 2)
	tok := accessToken(t, s, base)
	all := allEvents(s)
	// 1000 IDs: every other live event plus some that do not exist.
	var ids []string
	want := map[string][]string{}
	for i, e := range all {
		if len(ids) >= 990 {
			break
		}
		if i%2 == 0 {
			ids = append(ids, strconv.FormatInt(e.id, 10))
			for _, a := range e.attendees {
				ent, _ := s.store.gen.dir.entity(a.entity)
				want["att"] = append(want["att"], fmt.Sprintf("%d|%d|%s|%s|%s", e.id, a.entity, ent.name,
					attendanceEnum[a.attendance].id, responseEnum[a.response].id))
			}
			for _, r := range e.resources {
				want["res"] = append(want["res"], fmt.Sprintf("%d|%d|%s", e.id, r, resourceNames[r-1]))
			}
		}
	}
	for i := range 10 {
		ids = append(ids, strconv.Itoa(900000+i))
	}
	in := strings.Join(ids, ", ")
	queries := map[string]string{
		"att": `SELECT att.calendarevent, att.attendee, BUILTIN.DF(att.attendee) AS ns_attendee_name, att.attendance, att.response FROM calendareventattendee att WHERE att.calendarevent IN (` + in + `) ORDER BY att.calendarevent, att.attendee`,
		"res": `SELECT res.calendarevent, res.resource, BUILTIN.DF(res.resource) AS ns_resource_name FROM calendareventresource res WHERE res.calendarevent IN (` + in + `) ORDER BY res.calendarevent, res.resource`,
	}
	for name, q := range queries {
		rows, total := fetchAll(t, base, tok, q, 250)
		var got []string
		for _, r := range rows {
			if name == "att" {
				got = append(got, strings.Join([]string{r["calendarevent"], r["attendee"], r["ns_attendee_name"], r["attendance"], r["response"]}, "|"))
			} else {
				got = append(got, strings.Join([]string{r["calendarevent"], r["resource"], r["ns_resource_name"]}, "|"))
			}
		}
		if total != len(want[name]) || !slices.Equal(got, want[name]) {
			t.Errorf("%s: got %d rows (total %d), want %d\n got %.300v\nwant %.300v", name, len(got), total, len(want[name]), got, want[name])
		}
		if len(want[name]) < 500 {
			t.Errorf("%s: only %d expected rows; the test should page", name, len(want[name]))
		}
	}
}

func TestExtractorDeletedQuery(t *testing.T) {
	clk := &testClock{t: fixedNow}
	s, base := newSandbox(t, Config{Events: 3000, Seed: 9, Now: clk.Now})
	churn(t, s, clk, 200, 3)
	tok := accessToken(t, s, base)
	loc := mustLoc("America/Los_Angeles")
	rows := append([]delRow(nil), s.store.deleted...)
	if len(rows) < 100 {
		t.Fatalf("only %d deletedrecord rows", len(rows))
	}
	sort.Slice(rows, func(i, j int) bool {
		a, b := localTS(rows[i].unix, loc), localTS(rows[j].unix, loc)
		if a != b {
			return a < b
		}
		return rows[i].id < rows[j].id
	})
	mid := rows[len(rows)/2]
	from, after := localTS(mid.unix, loc), mid.id
	q := `SELECT dr.recordid, dr.type, dr.name, dr.deletedby, dr.context, TO_CHAR(dr.deleteddate, 'YYYY-MM-DD HH24:MI:SS') AS ns_deleted FROM deletedrecord dr WHERE dr.type IN ('calendarevent', 'CalendarEvent') AND (dr.deleteddate > TO_TIMESTAMP('` + from + `', 'YYYY-MM-DD HH24:MI:SS') OR (dr.deleteddate = TO_TIMESTAMP('` + from + `', 'YYYY-MM-DD HH24:MI:SS') AND dr.recordid > ` + strconv.FormatInt(after, 10) + `)) ORDER BY dr.deleteddate, dr.recordid`
	var want []string
	for _, d := range rows {
		ts := localTS(d.unix, loc)
		if ts > from || (ts == from && d.id > after) {
			want = append(want, fmt.Sprintf("%d|calendarevent|%s|%d|%s|%s", d.id, d.name, d.deletedBy, deleteContexts[d.context].id, ts))
		}
	}
	got, total := fetchAll(t, base, tok, q, 100)
	var gs []string
	for _, r := range got {
		gs = append(gs, strings.Join([]string{r["recordid"], r["type"], r["name"], r["deletedby"], r["context"], r["ns_deleted"]}, "|"))
	}
	if total != len(want) || !slices.Equal(gs, want) {
		t.Errorf("got %d (total %d), want %d\n got %.400v\nwant %.400v", len(gs), total, len(want), gs, want)
	}
	// A type list without calendarevent matches nothing.
	r := suiteQL(t, base, tok, `SELECT dr.recordid FROM deletedrecord dr WHERE dr.type = 'customer'`, 10, 0)
	var p suiteQLPage
	r.decode(t, &p)
	if p.TotalResults != 0 {
		t.Errorf("type = 'customer' matched %d rows", p.TotalResults)
	}
}

func TestCountAndRownum(t *testing.T) {
	clk := &testClock{t: fixedNow}
	s, base := newSandbox(t, Config{Events: 700, Now: clk.Now})
	churn(t, s, clk, 100, 4)
	tok := accessToken(t, s, base)
	rows, total := fetchAll(t, base, tok, `SELECT COUNT(*) AS n FROM calendarevent ce`, 1000)
	if total != 1 || len(rows) != 1 || rows[0]["n"] != strconv.Itoa(s.LiveEventCount()) {
		t.Errorf("count = %v (total %d), live = %d", rows, total, s.LiveEventCount())
	}
	rows, total = fetchAll(t, base, tok, `SELECT ce.id FROM calendarevent ce WHERE ROWNUM <= 1`, 1000)
	if total != 1 || len(rows) != 1 || rows[0]["id"] == "" {
		t.Errorf("ROWNUM <= 1 gave %v (total %d)", rows, total)
	}
}

// TestKeysetPaging walks 25,000 events the way the extractor does and sees
// each exactly once, in (lastmodifieddate, id) order.
func TestKeysetPaging(t *testing.T) {
	clk := &testClock{t: fixedNow}
	s, base := newSandbox(t, Config{Events: 25000, Seed: 2024, Now: clk.Now})
	churn(t, s, clk, 500, 5)
	tok := accessToken(t, s, base)
	seen := map[string]int{}
	var order []string
	q := eventsQuery("1990-01-01 00:00:00", -1, "")
	pages := 0
	for {
		pages++
		if pages > 100 {
			t.Fatal("paging does not terminate")
		}
		r := suiteQL(t, base, tok, q, 1000, 0)
		if r.status != 200 {
			t.Fatalf("page %d: %d %s", pages, r.status, r.body)
		}
		var p suiteQLPage
		r.decode(t, &p)
		items := p.strItems(t)
		for _, it := range items {
			seen[it["id"]]++
			order = append(order, it["ns_lastmodified"]+"|"+fmt.Sprintf("%012s", it["id"]))
		}
		if !p.HasMore {
			break
		}
		last := items[len(items)-1]
		id, _ := strconv.ParseInt(last["id"], 10, 64)
		q = eventsQuery(last["ns_lastmodified"], id, "")
	}
	if len(seen) != s.LiveEventCount() {
		t.Errorf("saw %d distinct events, %d exist", len(seen), s.LiveEventCount())
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("event %s seen %d times", id, n)
		}
	}
	if !slices.IsSorted(order) {
		t.Error("events are not in (lastmodifieddate, id) order")
	}
	for _, e := range allEvents(s) {
		if seen[strconv.FormatInt(e.id, 10)] != 1 {
			t.Fatalf("event %d missing", e.id)
		}
	}
}

func TestSuiteQLRowCap(t *testing.T) {
	s, base := newSandbox(t, Config{Events: 120_000, Seed: 1})
	tok := accessToken(t, s, base)
	q := `SELECT ce.id FROM calendarevent ce ORDER BY ce.id`
	r := suiteQL(t, base, tok, q, 1000, 99_500)
	var p suiteQLPage
	r.decode(t, &p)
	if r.status != 200 || p.Count != 500 || p.HasMore || p.TotalResults != 120_000 || rels(toRel(p.Links)) != "first,prev,self" {
		t.Errorf("page at the cap: %d count=%d hasMore=%v total=%d links=%v", r.status, p.Count, p.HasMore, p.TotalResults, p.Links)
	}
	r = suiteQL(t, base, tok, q, 1000, 100_000)
	if r.status != 400 || errorCode(t, r) != codeInvalidParameter || !contains(string(r.body), `"o:errorQueryParam":"offset"`) {
		t.Errorf("offset 100000: %d %s", r.status, r.body)
	}
}

func toRel(l []map[string]string) []map[string]string { return l }

func TestSuiteQLErrors(t *testing.T) {
	s, base := newSandbox(t, Config{Events: 20})
	tok := accessToken(t, s, base)
	tests := []struct {
		name, q  string
		limit    int
		noPrefer bool
		detail   string
	}{
		{name: "unknown column", q: `SELECT ce.foo FROM calendarevent ce`, detail: "Invalid search query. Search error occurred: Unknown identifier 'ce.foo'"},
		{name: "unknown table", q: `SELECT id FROM foo`, detail: "Invalid search query. Search error occurred: Record 'foo' was not found."},
		{name: "unknown function", q: `SELECT FOO(ce.id) FROM calendarevent ce`, detail: "Invalid search query. Search error occurred: Unknown function 'foo'"},
		{name: "syntax", q: `SELECT ce.id FROM calendarevent ce WHERE ce.id = = 1`, detail: "Invalid search query. Search error occurred: Syntax error: unexpected '=' at position 50"},
		{name: "bad literal", q: `SELECT ce.id FROM calendarevent ce WHERE ce.lastmodifieddate > TO_TIMESTAMP('2024-01-01', 'YYYY-MM-DD HH24:MI:SS')`, detail: "does not match format string"},
		{name: "empty", q: ` `, detail: detailInvalidQuery},
		{name: "no Prefer", q: `SELECT ce.id FROM calendarevent ce`, noPrefer: true, detail: "Prefer: transient"},
		{name: "limit 0", q: `SELECT ce.id FROM calendarevent ce`, limit: -1, detail: "'limit'"},
		{name: "limit 1001", q: `SELECT ce.id FROM calendarevent ce`, limit: 1001, detail: "'limit'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := []byte(mustJSON(map[string]string{"q": tt.q}))
			h := bearer(tok)
			if !tt.noPrefer {
				h.Set("Prefer", "transient")
			}
			u := base + pathSuiteQL
			switch {
			case tt.limit > 0:
				u += "?limit=" + strconv.Itoa(tt.limit)
			case tt.limit < 0:
				u += "?limit=0"
			}
			r := doRequest(t, "POST", u, body, h)
			var e struct {
				Status  int                 `json:"status"`
				Details []map[string]string `json:"o:errorDetails"`
			}
			r.decode(t, &e)
			if r.status != 400 || e.Status != 400 || r.header.Get("Content-Type") != ctError ||
				e.Details[0]["o:errorCode"] != codeInvalidParameter || !strings.Contains(e.Details[0]["detail"], tt.detail) {
				t.Errorf("got %d %s", r.status, r.body)
			}
		})
	}
	if r := doRequest(t, "GET", base+pathSuiteQL, nil, bearer(tok)); r.status != 405 {
		t.Errorf("GET suiteql: %d", r.status)
	}
}

func TestSuiteQLTimeZones(t *testing.T) {
	// An event changed at 2024-11-03 08:30 UTC (01:30 PDT) and one at 09:10
	// UTC (01:10 PST, after the clocks went back): SuiteQL shows the wall
	// clock and orders by it, and TO_TIMESTAMP literals are wall-clock times
	// in the account zone.
	clk := &testClock{t: time.Date(2024, 11, 3, 8, 30, 0, 0, time.UTC)}
	s, base := newSandbox(t, Config{Events: 10, Now: clk.Now})
	a, _ := s.CreateEvent(EventInput{Title: new("first (PDT)"), StartDate: new("2024-11-03"), StartTime: new("09:15"), EndTime: new("10:00")})
	clk.Advance(40 * time.Minute)
	b, _ := s.CreateEvent(EventInput{Title: new("second (PST)"), TimeZone: new("Asia/Tokyo"), StartDate: new("2024-11-04"), StartTime: new("23:30"), EndTime: new("00:30")})
	tok := accessToken(t, s, base)
	rows, _ := fetchAll(t, base, tok, `SELECT ce.id, ce.lastmodifieddate, TO_CHAR(ce.lastmodifieddate, 'YYYY-MM-DD HH24:MI:SS') AS lm, ce.starttime, TO_CHAR(ce.endtime, 'HH24:MI:SS') AS et, ce.startdate FROM calendarevent ce WHERE ce.lastmodifieddate >= TO_TIMESTAMP('2024-11-03 01:00:00', 'YYYY-MM-DD HH24:MI:SS') ORDER BY ce.lastmodifieddate, ce.id`, 10)
	want := []map[string]string{
		{"id": b, "lastmodifieddate": "11/3/2024 1:10 am", "lm": "2024-11-03 01:10:00", "starttime": "11/4/2024 11:30 pm", "et": "00:30:00", "startdate": "11/4/2024"},
		{"id": a, "lastmodifieddate": "11/3/2024 1:30 am", "lm": "2024-11-03 01:30:00", "starttime": "11/3/2024 9:15 am", "et": "10:00:00", "startdate": "11/3/2024"},
	}
	if mustJSON(rows) != mustJSON(want) {
		t.Errorf("rows\n got %v\nwant %v", rows, want)
	}
	rows, _ = fetchAll(t, base, tok, `SELECT ce.id FROM calendarevent ce WHERE ce.lastmodifieddate = TO_TIMESTAMP('2024-11-03 01:30:00', 'YYYY-MM-DD HH24:MI:SS')`, 10)
	if len(rows) != 1 || rows[0]["id"] != a {
		t.Errorf("equality on a wall-clock literal: %v", rows)
	}
	// REST shows the instants in UTC.
	r := doRequest(t, "GET", base+pathRecord+"calendarevent/"+b, nil, bearer(tok))
	var rec map[string]any
	r.decode(t, &rec)
	if rec["lastModifiedDate"] != "2024-11-03T09:10:00Z" || rec["timezone"] != "Asia/Tokyo" || rec["endTime"] != "00:30:00" {
		t.Errorf("REST record %v", rec)
	}
}

func TestSuiteQLDateFormatPreference(t *testing.T) {
	s, base := newSandbox(t, Config{Events: 10, DateFormat: "DD.MM.YYYY", TimeZone: "Europe/Berlin"})
	tok := accessToken(t, s, base)
	rows, _ := fetchAll(t, base, tok, `SELECT ce.createddate, TO_CHAR(ce.createddate, 'YYYY-MM-DD HH24:MI:SS') AS c FROM calendarevent ce WHERE ce.id = 1000`, 10)
	e := allEvents(s)[0]
	tm := time.Unix(e.created, 0).In(mustLoc("Europe/Berlin"))
	want := tm.Format("02.01.2006 3:04 pm")
	want = strings.Replace(strings.Replace(want, "PM", "pm", 1), "AM", "am", 1)
	if len(rows) != 1 || rows[0]["createddate"] != want || rows[0]["c"] != tm.Format(tsLayout) {
		t.Errorf("rows %v, want createddate %q", rows, want)
	}
	r := doRequest(t, "GET", base+pathRecord+"calendarevent?q="+strings.ReplaceAll(`createdDate AFTER "1/2/2024"`, " ", "+"), nil, bearer(tok))
	if r.status != 400 || !contains(string(r.body), `failed with date format \"DD.MM.YYYY\" in time zone Europe/Berlin`) {
		t.Errorf("q with the wrong format: %d %s", r.status, r.body)
	}
}
