package sandbox

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestControlAPI(t *testing.T) {
	clk := &testClock{t: fixedNow}
	s, base := newSandbox(t, Config{Events: 40, Now: clk.Now, AccessTokenTTL: 24 * time.Hour})
	ctl := base + "/sandbox/v1/"
	tok := accessToken(t, s, base)

	// Events: create, read, change, delete.
	r := doRequest(t, "POST", ctl+"events", []byte(`{"title":"Réunion <b>Q3</b> — 東京","startDate":"2024-05-01","startTime":"09:00","endTime":"10:30",
		"timezone":"Asia/Tokyo","organizer":105,"attendees":[{"attendee":105,"response":"ACCEPTED"},{"attendee":3003}],"resources":[1,3],
		"custevent_billable":true,"custevent_notes":"notes"}`), nil)
	var created map[string]string
	r.decode(t, &created)
	id := created["id"]
	if r.status != 201 || id == "" || r.header.Get("Location") != "/sandbox/v1/events/"+id {
		t.Fatalf("create: %d %v %s", r.status, r.header, r.body)
	}
	if s.LiveEventCount() != 41 {
		t.Errorf("LiveEventCount = %d", s.LiveEventCount())
	}
	r = doRequest(t, "GET", ctl+"events/"+id, nil, nil)
	var rec map[string]any
	r.decode(t, &rec)
	if r.status != 200 || rec["title"] != "Réunion <b>Q3</b> — 東京" || rec["custevent_billable"] != true ||
		len(rec["attendee"].(map[string]any)["items"].([]any)) != 2 {
		t.Errorf("get: %d %s", r.status, r.body)
	}
	clk.Advance(time.Hour)
	if r := doRequest(t, "PATCH", ctl+"events/"+id, []byte(`{"status":"CANCELLED"}`), nil); r.status != 204 {
		t.Errorf("patch: %d %s", r.status, r.body)
	}
	rows, _ := fetchAll(t, base, tok, `SELECT ce.status, TO_CHAR(ce.lastmodifieddate, 'YYYY-MM-DD HH24:MI:SS') AS lm FROM calendarevent ce WHERE ce.id = `+id, 10)
	if len(rows) != 1 || rows[0]["status"] != "CANCELLED" || rows[0]["lm"] != localTS(fixedNow.Add(time.Hour).Unix(), mustLoc("America/Los_Angeles")) {
		t.Errorf("after patch: %v", rows)
	}
	bad := []struct{ method, path, body string }{
		{"POST", "events", `{"message":"no title"}`},
		{"POST", "events", `{"title":"x","bogus":1}`},
		{"POST", "events", `{"title":"x","status":"NOPE"}`},
		{"POST", "events", `{"title":"x","timezone":"Mars/Olympus"}`},
		{"POST", "events", `{"title":"x","attendees":[{"attendee":1}]}`},
		{"PATCH", "events/" + id, `{"startTime":"25:00"}`},
		{"PUT", "latency", `{"latency":"soon"}`},
		{"PUT", "latency", `{"latency":"-1s"}`},
		{"PUT", "faults", `{"rate500":0.7,"rate429":0.7}`},
		{"PUT", "faults", `{"rate500":"x"}`},
		{"PUT", "concurrency-limit", `{"limit":-2}`},
		{"PUT", "concurrency-limit", `{}`},
		{"POST", "certificates", `{"certificateId":"c","pem":"not a pem"}`},
	}
	for _, b := range bad {
		r := doRequest(t, b.method, ctl+b.path, []byte(b.body), nil)
		var e map[string]string
		r.decode(t, &e)
		if r.status != 400 || e["error"] == "" {
			t.Errorf("%s %s %s: %d %s", b.method, b.path, b.body, r.status, r.body)
		}
	}
	if r := doRequest(t, "DELETE", ctl+"events/"+id, nil, nil); r.status != 204 {
		t.Errorf("delete: %d", r.status)
	}
	for _, m := range []string{"GET", "DELETE"} {
		if r := doRequest(t, m, ctl+"events/"+id, nil, nil); r.status != 404 {
			t.Errorf("%s deleted event: %d", m, r.status)
		}
	}
	if r := doRequest(t, "PATCH", ctl+"events/"+id, []byte(`{}`), nil); r.status != 404 {
		t.Errorf("PATCH deleted event: %d", r.status)
	}
	rows, _ = fetchAll(t, base, tok, `SELECT dr.recordid, dr.context, BUILTIN.DF(dr.context) AS ctx FROM deletedrecord dr WHERE dr.recordid = `+id, 10)
	if len(rows) != 1 || rows[0]["context"] != "USER_INTERFACE" || rows[0]["ctx"] != "User Interface" {
		t.Errorf("deletedrecord after control delete: %v", rows)
	}

	// Settings.
	for _, c := range []struct{ path, body, get, want string }{
		{"latency", `{"latency":"250ms"}`, "latency", `{"latency":"250ms"}`},
		{"concurrency-limit", `{"limit":4}`, "concurrency-limit", `{"limit":4}`},
		{"faults", `{"rate500":0.1,"timeoutHang":"2s","denyPermission":false}`, "faults",
			`{"rate429":0,"rate500":0.1,"rate503":0,"rateTimeout":0,"rateMalformed":0,"denyPermission":false,"timeoutHang":"2s"}`},
	} {
		if r := doRequest(t, "PUT", ctl+c.path, []byte(c.body), nil); r.status != 204 {
			t.Errorf("PUT %s: %d %s", c.path, r.status, r.body)
		}
		if r := doRequest(t, "GET", ctl+c.get, nil, nil); string(r.body) != c.want {
			t.Errorf("GET %s = %s, want %s", c.get, r.body, c.want)
		}
	}
	if s.Config().Latency != 250*time.Millisecond || s.Config().ConcurrencyLimit != 4 {
		t.Errorf("Config() = %+v", s.Config())
	}
	doRequest(t, "PUT", ctl+"latency", []byte(`{"latency":"0s"}`), nil)
	doRequest(t, "PUT", ctl+"faults", []byte(`{}`), nil)
	if doRequest(t, "PUT", ctl+"concurrency-limit", []byte(`{"limit":0}`), nil); s.Config().ConcurrencyLimit != -1 {
		t.Errorf("limit 0 should mean unlimited: %d", s.Config().ConcurrencyLimit)
	}

	// Tokens.
	if r := doRequest(t, "GET", base+pathRecord+"calendarevent?limit=1", nil, bearer(tok)); r.status != 200 {
		t.Fatalf("before expire: %d", r.status)
	}
	if r := doRequest(t, "POST", ctl+"tokens/expire", nil, nil); r.status != 204 {
		t.Errorf("expire: %d", r.status)
	}
	if r := doRequest(t, "GET", base+pathRecord+"calendarevent?limit=1", nil, bearer(tok)); r.status != 401 {
		t.Errorf("after expire: %d", r.status)
	}
	if r := doRequest(t, "GET", base+pathRecord+"calendarevent?limit=1", nil, bearer(accessToken(t, s, base))); r.status != 200 {
		t.Errorf("new token after expire: %d", r.status)
	}

	// Counters and info.
	r = doRequest(t, "GET", ctl+"counters", nil, nil)
	var c Counters
	r.decode(t, &c)
	if c.Requests["suiteql"][200] != 2 || c.Requests["record.list"][401] != 1 || c.AccessTokensIssued != 2 || c.Requests["oauth2.token"][200] != 2 {
		t.Errorf("counters %s", r.body)
	}
	if r := doRequest(t, "DELETE", ctl+"counters", nil, nil); r.status != 204 || len(s.Counters().Requests) != 0 {
		t.Errorf("reset counters: %d %+v", r.status, s.Counters())
	}
	r = doRequest(t, "GET", ctl+"info", nil, nil)
	var info map[string]any
	r.decode(t, &info)
	if info["account"] != DefaultAccount || info["accountHost"] != "tstdrv1234567" || info["clientId"] != DefaultClientID ||
		info["refreshToken"] != s.RefreshToken() || info["events"] != float64(40) || info["timeZone"] != "America/Los_Angeles" ||
		info["tokenUrl"] != base+pathToken {
		t.Errorf("info %s", r.body)
	}
	if r := doRequest(t, "GET", ctl+"nope", nil, nil); r.status != 404 || !json.Valid(r.body) {
		t.Errorf("unknown control path: %d %s", r.status, r.body)
	}
	if r := doRequest(t, "GET", base+"/nope", nil, nil); r.status != 404 || r.header.Get("Content-Type") != ctError {
		t.Errorf("unknown path: %d %s", r.status, r.body)
	}
	if !strings.Contains(string(doRequest(t, "GET", ctl+"info", nil, nil).body), `"employees":[100,249]`) {
		t.Error("info lacks entity ID ranges")
	}
}

func TestGoControlSurface(t *testing.T) {
	s, _ := newSandbox(t, Config{Events: 15})
	if err := s.UpdateEvent("999999", EventInput{Title: new("x")}); err == nil || !strings.Contains(err.Error(), ErrNotFound.Error()) {
		t.Errorf("update of a missing event: %v", err)
	}
	if err := s.DeleteEvent("abc"); err == nil {
		t.Error("delete of a bad ID succeeded")
	}
	id, err := s.CreateEvent(EventInput{Title: new("a"), ExternalID: new("ext-1")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateEvent(EventInput{Title: new("b"), ExternalID: new("ext-1")}); err == nil {
		t.Error("duplicate external ID accepted")
	}
	if err := s.DeleteEvent(id); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteEvent(id); err == nil {
		t.Error("second delete succeeded")
	}
	if s.LiveEventCount() != 15 {
		t.Errorf("LiveEventCount = %d", s.LiveEventCount())
	}
}
