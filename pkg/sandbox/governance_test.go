package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestConcurrencyLimit holds limit+extra requests in flight and checks that
// exactly the extra ones are refused, at once, with the configured status.
func TestConcurrencyLimit(t *testing.T) {
	for _, status := range []int{429, 400} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			const limit, extra = 4, 3
			s, base := newSandbox(t, Config{Events: 20, ConcurrencyLimit: limit, ConcurrencyErrorStatus: status})
			tok := accessToken(t, s, base)
			s.SetLatency(time.Hour) // admitted requests wait until released
			var wg sync.WaitGroup
			results := make(chan response, limit+extra)
			for range limit + extra {
				wg.Add(1)
				go func() {
					defer wg.Done()
					results <- doRequest(t, "GET", base+pathRecord+"calendarevent?limit=1", nil, bearer(tok))
				}()
			}
			eventually(t, 10*time.Second, "all requests to arrive", func() bool {
				c := s.Counters()
				return c.InFlight == limit && c.ConcurrencyRejected == extra
			})
			// Control endpoints are not governed.
			if r := doRequest(t, "GET", base+"/sandbox/v1/counters", nil, nil); r.status != 200 {
				t.Errorf("control API while saturated: %d", r.status)
			}
			s.SetLatency(0)
			wg.Wait()
			close(results)
			byStatus := map[int]int{}
			for r := range results {
				byStatus[r.status]++
				if r.status == status {
					var e struct {
						Details []map[string]string `json:"o:errorDetails"`
					}
					r.decode(t, &e)
					if e.Details[0]["o:errorCode"] != codeConcurrency || e.Details[0]["detail"] != detailConcurrency {
						t.Errorf("rejection body %s", r.body)
					}
				}
			}
			if byStatus[200] != limit || byStatus[status] != extra {
				t.Errorf("statuses %v, want %d×200 and %d×%d", byStatus, limit, extra, status)
			}
			c := s.Counters()
			if c.PeakConcurrency != limit || c.ConcurrencyRejected != extra || c.InFlight != 0 ||
				c.Requests["record.list"][status] != extra || c.Requests["record.list"][200] != limit {
				t.Errorf("counters %+v", c)
			}
			if want := int64(0); status == 429 && c.TooManyRequests != extra || status == 400 && c.TooManyRequests != want {
				t.Errorf("TooManyRequests = %d", c.TooManyRequests)
			}
		})
	}
}

func TestLatency(t *testing.T) {
	s, base := newSandbox(t, Config{Events: 10, Latency: 80 * time.Millisecond})
	tok := accessToken(t, s, base)
	start := time.Now()
	if r := doRequest(t, "GET", base+pathRecord+"calendarevent?limit=1", nil, bearer(tok)); r.status != 200 {
		t.Fatal(r.status)
	}
	if d := time.Since(start); d < 80*time.Millisecond {
		t.Errorf("request took %v, latency is 80ms", d)
	}
	start = time.Now()
	doRequest(t, "GET", base+"/sandbox/v1/info", nil, nil)
	if d := time.Since(start); d >= 80*time.Millisecond {
		t.Errorf("control request took %v; control API has no latency", d)
	}
}

func statusSequence(t *testing.T, seed int64, f Faults, n int) []int {
	t.Helper()
	s, base := newSandbox(t, Config{Events: 10, Seed: seed})
	tok := accessToken(t, s, base)
	s.SetFaults(f)
	var out []int
	for range n {
		out = append(out, doRequest(t, "GET", base+pathRecord+"calendarevent?limit=1", nil, bearer(tok)).status)
	}
	return out
}

func TestFaultsDeterministic(t *testing.T) {
	f := Faults{Rate429: 0.2, Rate500: 0.2}
	a := statusSequence(t, 7, f, 60)
	b := statusSequence(t, 7, f, 60)
	c := statusSequence(t, 8, f, 60)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Errorf("same seed, different faults:\n%v\n%v", a, b)
	}
	if fmt.Sprint(a) == fmt.Sprint(c) {
		t.Errorf("different seeds, same faults: %v", a)
	}
	n := map[int]int{}
	for _, st := range a {
		n[st]++
	}
	if n[429] < 4 || n[500] < 4 || n[200] < 20 {
		t.Errorf("status mix %v does not match the rates", n)
	}
}

func TestFaultKinds(t *testing.T) {
	s, base := newSandbox(t, Config{Events: 10})
	tok := accessToken(t, s, base)
	get := func() response { return doRequest(t, "GET", base+pathRecord+"calendarevent?limit=5", nil, bearer(tok)) }

	s.SetFaults(Faults{Rate500: 1})
	if r := get(); r.status != 500 || errorCode(t, r) != codeUnexpected || !strings.Contains(string(r.body), detailUnexpectedPrefix) {
		t.Errorf("500 fault: %d %s", r.status, r.body)
	}
	s.SetFaults(Faults{Rate429: 1})
	if r := get(); r.status != 429 || errorCode(t, r) != codeConcurrency {
		t.Errorf("429 fault: %d %s", r.status, r.body)
	}
	s.SetFaults(Faults{Rate503: 1})
	if r := get(); r.status != 503 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
		t.Errorf("503 fault: %d %v", r.status, r.header)
	}
	s.SetFaults(Faults{RateMalformed: 1})
	if r := get(); r.status != 200 || json.Valid(r.body) || len(r.body) == 0 {
		t.Errorf("malformed fault: %d valid=%v %s", r.status, json.Valid(r.body), r.body)
	}
	s.SetFaults(Faults{RateTimeout: 1, TimeoutHang: 20 * time.Millisecond})
	var saw504, sawDrop bool
	for range 20 {
		req, _ := http.NewRequest("GET", base+pathRecord+"calendarevent?limit=1", nil)
		req.Header = bearer(tok)
		start := time.Now()
		res, err := http.DefaultClient.Do(req)
		if time.Since(start) < 20*time.Millisecond {
			t.Errorf("timeout fault answered after %v", time.Since(start))
		}
		if err != nil {
			sawDrop = true
			continue
		}
		res.Body.Close()
		if res.StatusCode == 504 {
			saw504 = true
		} else {
			t.Errorf("timeout fault status %d", res.StatusCode)
		}
	}
	if !saw504 || !sawDrop {
		t.Errorf("timeout faults: 504 %v, dropped %v; want both", saw504, sawDrop)
	}
	s.SetFaults(Faults{DenyPermission: true})
	if r := get(); r.status != 403 || errorCode(t, r) != codeInsufficientPerm {
		t.Errorf("permission switch: %d %s", r.status, r.body)
	}
	s.SetFaults(Faults{})
	if r := get(); r.status != 200 {
		t.Errorf("faults cleared: %d", r.status)
	}
	c := s.Counters()
	for _, k := range []string{"429", "500", "503", "malformed", "timeout"} {
		if c.FaultsInjected[k] == 0 {
			t.Errorf("FaultsInjected[%s] = 0 (%v)", k, c.FaultsInjected)
		}
	}
}

func TestSetFaultsClamps(t *testing.T) {
	s, _ := newSandbox(t, Config{Events: 10})
	s.SetFaults(Faults{Rate429: 2, Rate500: -1, Rate503: 1})
	f := s.Faults()
	if f.Rate429 != 0.5 || f.Rate500 != 0 || f.Rate503 != 0.5 || f.TimeoutHang != 30*time.Second {
		t.Errorf("clamped faults %+v", f)
	}
}
