package sandbox

import (
	"encoding/json"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// allEvents materialises every live event in ID order (the brute-force
// reference for filters).
func allEvents(s *Sandbox) []*event {
	s.store.mu.RLock()
	defer s.store.mu.RUnlock()
	var out []*event
	c := s.store.idCursor(fullIDRange(), false)
	for {
		id, ok := c.nextID()
		if !ok {
			return out
		}
		e, _ := s.store.materialise(id)
		out = append(out, e)
	}
}

type listPage struct {
	Links        []map[string]string `json:"links"`
	Count        int                 `json:"count"`
	HasMore      bool                `json:"hasMore"`
	Items        []json.RawMessage   `json:"items"`
	Offset       int                 `json:"offset"`
	TotalResults int                 `json:"totalResults"`
}

func (p listPage) ids(t *testing.T) []int64 {
	t.Helper()
	var out []int64
	for _, raw := range p.Items {
		var it map[string]any
		if err := json.Unmarshal(raw, &it); err != nil {
			t.Fatal(err)
		}
		if len(it) != 2 {
			t.Fatalf("list item %s has more than links and id", raw)
		}
		id, err := strconv.ParseInt(it["id"].(string), 10, 64)
		if err != nil {
			t.Fatalf("id %v is not a numeric string", it["id"])
		}
		out = append(out, id)
	}
	return out
}

func rels(links []map[string]string) string {
	var r []string
	for _, l := range links {
		r = append(r, l["rel"])
	}
	return strings.Join(r, ",")
}

func TestRecordList(t *testing.T) {
	s, base := newSandbox(t, Config{Events: 50})
	tok := accessToken(t, s, base)
	all := allEvents(s)
	tests := []struct {
		query            string
		status           int
		offset, count    int
		hasMore          bool
		rels             string
		errParam, errMsg string
	}{
		{query: "", status: 200, offset: 0, count: 50, rels: "self"},
		{query: "?limit=10", status: 200, offset: 0, count: 10, hasMore: true, rels: "next,last,self"},
		{query: "?limit=10&offset=20", status: 200, offset: 20, count: 10, hasMore: true, rels: "first,prev,next,last,self"},
		{query: "?limit=10&offset=40", status: 200, offset: 40, count: 10, rels: "first,prev,self"},
		{query: "?limit=10&offset=60", status: 200, offset: 60, count: 0, rels: "first,prev,self"},
		{query: "?limit=1001", status: 400, errParam: "limit", errMsg: "between 1 and 1000"},
		{query: "?limit=0", status: 400, errParam: "limit"},
		{query: "?limit=abc", status: 400, errParam: "limit"},
		{query: "?limit=10&offset=15", status: 400, errParam: "offset", errMsg: "multiple of the limit"},
		{query: "?offset=-1", status: 400, errParam: "offset"},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			r := doRequest(t, "GET", base+pathRecord+"calendarEvent"+tt.query, nil, bearer(tok))
			if r.status != tt.status {
				t.Fatalf("status %d %s", r.status, r.body)
			}
			if tt.status != 200 {
				var e struct {
					Type    string              `json:"type"`
					Title   string              `json:"title"`
					Status  int                 `json:"status"`
					Details []map[string]string `json:"o:errorDetails"`
				}
				r.decode(t, &e)
				d := e.Details[0]
				if r.header.Get("Content-Type") != ctError || e.Status != 400 || e.Title != "Bad Request" ||
					!strings.HasSuffix(e.Type, "#sec10.4.1") || d["o:errorCode"] != codeInvalidParameter ||
					d["o:errorQueryParam"] != tt.errParam || !strings.Contains(d["detail"], tt.errMsg) {
					t.Errorf("error body %s", r.body)
				}
				return
			}
			if ct := r.header.Get("Content-Type"); ct != ctCollection {
				t.Errorf("Content-Type %q", ct)
			}
			var p listPage
			r.decode(t, &p)
			ids := p.ids(t)
			var want []int64
			for i := tt.offset; i < min(tt.offset+tt.count, len(all)); i++ {
				want = append(want, all[i].id)
			}
			if p.Offset != tt.offset || p.Count != tt.count || p.HasMore != tt.hasMore || p.TotalResults != 50 ||
				!slices.Equal(ids, want) || rels(p.Links) != tt.rels {
				t.Errorf("page offset=%d count=%d hasMore=%v total=%d rels=%s ids=%v; want ids %v rels %s",
					p.Offset, p.Count, p.HasMore, p.TotalResults, rels(p.Links), ids, want, tt.rels)
			}
			for _, l := range p.Links {
				if !strings.HasPrefix(l["href"], base+pathRecord+"calendarevent") {
					t.Errorf("link %v does not use the request's host", l)
				}
			}
		})
	}
}

func TestRecordListQuery(t *testing.T) {
	s, base := newSandbox(t, Config{Events: 400, Seed: 3})
	tok := accessToken(t, s, base)
	all := allEvents(s)
	la, _ := time.LoadLocation("America/Los_Angeles")
	day := func(y, m, d int) int64 { return time.Date(y, time.Month(m), d, 0, 0, 0, 0, la).Unix() }
	tests := []struct {
		q    string
		want func(e *event) bool
	}{
		{`lastModifiedDate AFTER "3/1/2024"`, func(e *event) bool { return e.modified >= day(2024, 3, 2) }},
		{`lastmodifieddate ON_OR_AFTER "3/1/2024 11:53 pm"`, func(e *event) bool {
			return e.modified >= time.Date(2024, 3, 1, 23, 53, 0, 0, la).Unix()
		}},
		{`createdDate BEFORE "1/1/2023" AND status IS "CONFIRMED"`, func(e *event) bool {
			return e.created < day(2023, 1, 1) && e.status == statusConfirmed
		}},
		{`createdDate ON "6/1/2023"`, func(e *event) bool { return e.created >= day(2023, 6, 1) && e.created < day(2023, 6, 2) }},
		{`title CONTAIN "review" OR (allDayEvent IS true AND status IS_NOT "COMPLETE")`, func(e *event) bool {
			return strings.Contains(strings.ToLower(e.title), "review") || (e.allDay && e.status != statusComplete)
		}},
		{`id ANY_OF [1005, 1010, 1011, 99999]`, func(e *event) bool { return e.id == 1005 || e.id == 1010 || e.id == 1011 }},
		{`startDate ON_OR_BEFORE "1/31/2023"`, func(e *event) bool { return e.startDay*86400 < time.Date(2023, 2, 1, 0, 0, 0, 0, time.UTC).Unix() }},
		{`company EMPTY_NOT AND accessLevel ANY_OF ["PRIVATE", "SHOW AS BUSY"]`, func(e *event) bool { return e.company != 0 && e.accessLevel != 0 }},
		{`custevent_score GREATER_OR_EQUAL 4.5`, func(e *event) bool { return e.hasScore && e.score >= 4.5 }},
	}
	for _, tt := range tests {
		t.Run(tt.q, func(t *testing.T) {
			var want []int64
			for _, e := range all {
				if tt.want(e) {
					want = append(want, e.id)
				}
			}
			var got []int64
			total := -1
			for off := 0; ; off += 100 {
				r := doRequest(t, "GET", base+pathRecord+"calendarevent?limit=100&offset="+strconv.Itoa(off)+"&q="+url.QueryEscape(tt.q), nil, bearer(tok))
				if r.status != 200 {
					t.Fatalf("status %d %s", r.status, r.body)
				}
				var p listPage
				r.decode(t, &p)
				got = append(got, p.ids(t)...)
				total = p.TotalResults
				if !p.HasMore {
					break
				}
			}
			if !slices.Equal(got, want) || total != len(want) {
				t.Errorf("got %d ids (total %d), want %d: %v vs %v", len(got), total, len(want), got, want)
			}
			if len(want) == 0 || len(want) == len(all) {
				t.Errorf("filter selects %d of %d events; the test does not discriminate", len(want), len(all))
			}
		})
	}
	errs := []struct{ q, detail string }{
		{`lastModifiedDate AFTER "2024-01-01"`, `Invalid search query. Search error occurred: Parse of date/time "2024-01-01" failed with date format "M/d/yyyy" in time zone America/Los_Angeles`},
		{`foo IS "x"`, `Unknown field name 'foo' in the search query.`},
		{`title IS`, detailInvalidQuery},
		{`title AFTER "1/1/2024"`, detailInvalidQuery},
		{`(status IS "CONFIRMED"`, detailInvalidQuery},
		{`status IS "CONFIRMED" AND`, detailInvalidQuery},
	}
	for _, tt := range errs {
		r := doRequest(t, "GET", base+pathRecord+"calendarevent?q="+url.QueryEscape(tt.q), nil, bearer(tok))
		var e struct {
			Details []map[string]string `json:"o:errorDetails"`
		}
		r.decode(t, &e)
		if r.status != 400 || e.Details[0]["detail"] != tt.detail || e.Details[0]["o:errorQueryParam"] != "q" ||
			e.Details[0]["o:errorCode"] != codeInvalidParameter {
			t.Errorf("q=%s: %d %s", tt.q, r.status, r.body)
		}
	}
}

func TestRecordGet(t *testing.T) {
	s, base := newSandbox(t, Config{Events: 300, Seed: 11})
	tok := accessToken(t, s, base)
	// Pick an event with attendees, a company and a reminder.
	var e *event
	for _, c := range allEvents(s) {
		if len(c.attendees) >= 2 && len(c.resources) >= 1 && c.company != 0 && c.remMinutes >= 0 && c.message != "" {
			e = c
			break
		}
	}
	if e == nil {
		t.Fatal("no suitable event in the data set")
	}
	id := strconv.FormatInt(e.id, 10)
	self := base + pathRecord + "calendarevent/" + id
	r := doRequest(t, "GET", base+pathRecord+"calendarEvent/"+id, nil, bearer(tok))
	if r.status != 200 || r.header.Get("Content-Type") != ctSingular {
		t.Fatalf("get: %d %v", r.status, r.header)
	}
	var rec map[string]any
	r.decode(t, &rec)
	la, _ := time.LoadLocation("America/Los_Angeles")
	_ = la
	want := map[string]any{
		"links":            []any{map[string]any{"rel": "self", "href": self}},
		"id":               id,
		"title":            e.title,
		"message":          e.message,
		"allDayEvent":      e.allDay,
		"timedEvent":       e.timed,
		"createdDate":      time.Unix(e.created, 0).UTC().Format(time.RFC3339),
		"lastModifiedDate": time.Unix(e.modified, 0).UTC().Format(time.RFC3339),
		"startDate":        time.Unix(e.startDay*86400, 0).UTC().Format("2006-01-02"),
		"startTime":        time.Unix(int64(e.startSec), 0).UTC().Format("15:04:05"),
		"status":           map[string]any{"links": []any{}, "id": statusEnum[e.status].id, "refName": statusEnum[e.status].name},
		"accessLevel":      map[string]any{"links": []any{}, "id": accessEnum[e.accessLevel].id, "refName": accessEnum[e.accessLevel].name},
		"reminderMinutes":  map[string]any{"links": []any{}, "id": strconv.Itoa(int(e.remMinutes)), "refName": reminderName(int(e.remMinutes))},
		"company": map[string]any{"links": []any{map[string]any{"rel": "self", "href": base + pathRecord + "customer/" + strconv.FormatInt(e.company, 10)}},
			"id": strconv.FormatInt(e.company, 10), "refName": s.store.gen.dir.name(kindCustomer, e.company)},
		"attendee": map[string]any{"links": []any{map[string]any{"rel": "self", "href": self + "/attendee"}}},
		"resource": map[string]any{"links": []any{map[string]any{"rel": "self", "href": self + "/resource"}}},
	}
	for k, v := range want {
		if got, _ := json.Marshal(rec[k]); string(got) != mustJSON(v) {
			t.Errorf("%s = %s, want %s", k, got, mustJSON(v))
		}
	}
	for k, v := range rec {
		if v == nil || v == "" {
			t.Errorf("%s is empty but present", k)
		}
	}
	if e.location == "" {
		if _, ok := rec["location"]; ok {
			t.Errorf("empty location is present")
		}
	}
	// Expanded sublists.
	r = doRequest(t, "GET", self+"?expandSubResources=true", nil, bearer(tok))
	r.decode(t, &rec)
	att := rec["attendee"].(map[string]any)
	items := att["items"].([]any)
	if len(items) != len(e.attendees) || att["totalResults"] != float64(len(e.attendees)) || att["hasMore"] != false {
		t.Errorf("expanded attendee = %v", att)
	}
	first := items[0].(map[string]any)
	ent, _ := s.store.gen.dir.entity(e.attendees[0].entity)
	if a := first["attendee"].(map[string]any); a["id"] != strconv.FormatInt(e.attendees[0].entity, 10) || a["refName"] != ent.name {
		t.Errorf("first attendee = %v", first)
	}
	if first["response"].(map[string]any)["id"] != responseEnum[e.attendees[0].response].id {
		t.Errorf("first attendee response = %v", first["response"])
	}
	res := rec["resource"].(map[string]any)["items"].([]any)
	if len(res) != len(e.resources) {
		t.Errorf("expanded resource = %v", res)
	}
	// fields= restricts body fields; links and id stay.
	r = doRequest(t, "GET", self+"?fields=title,STARTDATE,lastModifiedDate", nil, bearer(tok))
	var small map[string]any
	r.decode(t, &small)
	var keys []string
	for k := range small {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if strings.Join(keys, ",") != "id,lastModifiedDate,links,startDate,title" {
		t.Errorf("fields= gave keys %v", keys)
	}
	// The sublist subresource.
	r = doRequest(t, "GET", self+"/attendee", nil, bearer(tok))
	if r.status != 200 || r.header.Get("Content-Type") != ctCollection {
		t.Errorf("attendee subresource: %d %s", r.status, r.body)
	}
	errs := []struct {
		path   string
		status int
		code   string
	}{
		{"calendarevent/999999", 404, codeNonexistentID},
		{"calendarevent/abc", 400, codeInvalidID},
		{"calendarevent/" + id + "?fields=nope", 400, codeNonexistentField},
		{"calendarevent/eid:nope", 404, codeNonexistentID},
		{"customer/5", 404, codeNonexistentID},
		{"calendarevent/" + id + "/timeitem", 404, codeNonexistentID},
	}
	for _, tt := range errs {
		r := doRequest(t, "GET", base+pathRecord+tt.path, nil, bearer(tok))
		if r.status != tt.status || r.header.Get("Content-Type") != ctError || errorCode(t, r) != tt.code {
			t.Errorf("%s: %d %s", tt.path, r.status, r.body)
		}
	}
	// External IDs resolve with eid:.
	for _, c := range allEvents(s) {
		if c.externalID != "" {
			r := doRequest(t, "GET", base+pathRecord+"calendarevent/eid:"+c.externalID, nil, bearer(tok))
			var got map[string]any
			r.decode(t, &got)
			if r.status != 200 || got["id"] != strconv.FormatInt(c.id, 10) {
				t.Errorf("eid:%s: %d %s", c.externalID, r.status, r.body)
			}
			break
		}
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func TestRecordWrites(t *testing.T) {
	clk := &testClock{t: fixedNow}
	s, base := newSandbox(t, Config{Events: 30, Now: clk.Now})
	tok := accessToken(t, s, base)
	h := bearer(tok)
	h.Set("Content-Type", "application/json")
	before := s.LiveEventCount()
	body := `{"TITLE":"Meeting with Tom","status":"CONFIRMED","message":"Bring Monthly Results","location":"Caffe West",
		"startdate":"2022-11-02","starttime":"14:30","endTime":"15:30:00","timedevent":true,"accessLevel":{"id":"PRIVATE"},
		"organizer":{"id":"105"},"company":"1501","custevent_meeting_type":{"id":"2"},"custevent_score":4.5,
		"attendee":{"items":[{"attendee":{"id":"105"},"response":"ACCEPTED"},{"attendee":{"id":"3001"},"attendance":{"id":"OPTIONAL"}}]},
		"resource":{"items":[{"resource":{"id":"2"}}]}}`
	r := doRequest(t, "POST", base+pathRecord+"calendarevent", []byte(body), h)
	if r.status != 204 || len(r.body) != 0 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	loc := r.header.Get("Location")
	if !strings.HasPrefix(loc, base+pathRecord+"calendarevent/") {
		t.Fatalf("Location %q", loc)
	}
	id := loc[strings.LastIndexByte(loc, '/')+1:]
	if s.LiveEventCount() != before+1 {
		t.Errorf("LiveEventCount = %d, want %d", s.LiveEventCount(), before+1)
	}
	get := func() map[string]any {
		r := doRequest(t, "GET", loc+"?expandSubResources=true", nil, h)
		if r.status != 200 {
			t.Fatalf("get: %d %s", r.status, r.body)
		}
		var m map[string]any
		r.decode(t, &m)
		return m
	}
	m := get()
	if m["title"] != "Meeting with Tom" || m["startTime"] != "14:30:00" || m["startDate"] != "2022-11-02" ||
		m["accessLevel"].(map[string]any)["id"] != "PRIVATE" || m["custevent_score"] != 4.5 ||
		m["lastModifiedDate"] != fixedNow.Format(time.RFC3339) {
		t.Errorf("created record %v", m)
	}
	if n := len(m["attendee"].(map[string]any)["items"].([]any)); n != 2 {
		t.Errorf("%d attendees, want 2", n)
	}
	// PATCH merges the attendee sublist and bumps lastModifiedDate.
	clk.Advance(time.Minute)
	r = doRequest(t, "PATCH", loc, []byte(`{"status":{"id":"CANCELLED"},"message":null,"attendee":{"items":[{"attendee":{"id":"3001"},"response":"DECLINED"},{"attendee":{"id":"110"}}]}}`), h)
	if r.status != 204 {
		t.Fatalf("patch: %d %s", r.status, r.body)
	}
	m = get()
	items := m["attendee"].(map[string]any)["items"].([]any)
	if m["status"].(map[string]any)["id"] != "CANCELLED" || m["message"] != nil || len(items) != 3 ||
		m["lastModifiedDate"] != fixedNow.Add(time.Minute).Format(time.RFC3339) {
		t.Errorf("patched record %v", m)
	}
	// ?replace=attendee replaces it.
	r = doRequest(t, "PATCH", loc+"?replace=attendee", []byte(`{"attendee":{"items":[{"attendee":{"id":"110"}}]}}`), h)
	if r.status != 204 {
		t.Fatalf("patch replace: %d %s", r.status, r.body)
	}
	if n := len(get()["attendee"].(map[string]any)["items"].([]any)); n != 1 {
		t.Errorf("%d attendees after replace, want 1", n)
	}
	bad := []struct {
		method, body string
		status       int
		code         string
	}{
		{"POST", `{"message":"no title"}`, 400, codeUserError},
		{"POST", `{"title":"x","status":"MAYBE"}`, 400, codeInvalidContent},
		{"POST", `{"title":"x","bogusField":1}`, 400, codeNonexistentField},
		{"POST", `{"title":"x","startDate":"11/02/2022"}`, 400, codeInvalidContent},
		{"POST", `{"title":"x","organizer":{"id":"999999"}}`, 400, codeInvalidContent},
		{"POST", `[1,2]`, 400, codeInvalidContent},
		{"PATCH", `{"title":""}`, 400, codeUserError},
	}
	for _, tt := range bad {
		u := base + pathRecord + "calendarevent"
		if tt.method == "PATCH" {
			u = loc
		}
		r := doRequest(t, tt.method, u, []byte(tt.body), h)
		if r.status != tt.status || errorCode(t, r) != tt.code {
			t.Errorf("%s %s: %d %s", tt.method, tt.body, r.status, r.body)
		}
	}
	// DELETE removes it and writes a deletedrecord row.
	clk.Advance(time.Minute)
	if r := doRequest(t, "DELETE", loc, nil, h); r.status != 204 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	for _, m := range []string{"GET", "PATCH", "DELETE"} {
		if r := doRequest(t, m, loc, []byte(`{}`), h); r.status != 404 || errorCode(t, r) != codeNonexistentID {
			t.Errorf("%s after delete: %d %s", m, r.status, r.body)
		}
	}
	r = suiteQL(t, base, tok, `SELECT dr.recordid, dr.type, dr.name, BUILTIN.DF(dr.deletedby) AS who, dr.context, TO_CHAR(dr.deleteddate, 'YYYY-MM-DD HH24:MI:SS') AS ns_deleted FROM deletedrecord dr WHERE dr.recordid = `+id, 10, 0)
	var p suiteQLPage
	r.decode(t, &p)
	want := map[string]string{"recordid": id, "type": "calendarevent", "name": "Meeting with Tom", "who": "NSFlow Integration",
		"context": "REST_WEBSERVICES", "ns_deleted": fixedNow.Add(2 * time.Minute).In(mustLoc("America/Los_Angeles")).Format("2006-01-02 15:04:05")}
	if items := p.strItems(t); len(items) != 1 || mustJSON(items[0]) != mustJSON(want) {
		t.Errorf("deletedrecord row %s, want %v", r.body, want)
	}
}

func mustLoc(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

func TestMetadataCatalog(t *testing.T) {
	s, base := newSandbox(t, Config{Events: 10})
	tok := accessToken(t, s, base)
	r := doRequest(t, "GET", base+pathRecord+"metadata-catalog", nil, bearer(tok))
	var cat struct {
		Items []struct {
			Name  string              `json:"name"`
			Links []map[string]string `json:"links"`
		} `json:"items"`
	}
	r.decode(t, &cat)
	if r.status != 200 || len(cat.Items) != 1 || cat.Items[0].Name != "calendarevent" || len(cat.Items[0].Links) != 4 {
		t.Errorf("catalog: %d %s", r.status, r.body)
	}
	r = doRequest(t, "GET", base+pathRecord+"metadata-catalog/calendarEvent", nil, bearer(tok))
	var schema struct {
		Properties map[string]map[string]any `json:"properties"`
		Filterable []string                  `json:"x-ns-filterable"`
	}
	r.decode(t, &schema)
	if r.status != 200 || schema.Properties["custevent_score"]["x-ns-custom-field"] != true ||
		schema.Properties["title"]["x-ns-custom-field"] != false || !slices.Contains(schema.Filterable, "lastModifiedDate") ||
		schema.Properties["lastModifiedDate"]["format"] != "date-time" {
		t.Errorf("schema: %d %.300s", r.status, r.body)
	}
	// Every filterable field is accepted by q.
	for _, f := range schema.Filterable {
		if _, ok := qFields[strings.ToLower(f)]; !ok {
			t.Errorf("x-ns-filterable lists %s, which q does not know", f)
		}
	}
}
