package sandbox

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/nsflow/nsflow/pkg/sandbox/suiteql"
)

// extractorEventsQuery is the extractor's keyset query with its cursor
// placeholders.
const extractorEventsQuery = `SELECT ce.*, TO_CHAR(ce.lastmodifieddate, 'YYYY-MM-DD HH24:MI:SS') AS ns_lastmodified, TO_CHAR(ce.createddate, 'YYYY-MM-DD HH24:MI:SS') AS ns_created, TO_CHAR(ce.startdate, 'YYYY-MM-DD') AS ns_startdate, TO_CHAR(ce.starttime, 'HH24:MI:SS') AS ns_starttime, TO_CHAR(ce.endtime, 'HH24:MI:SS') AS ns_endtime, TO_CHAR(ce.completeddate, 'YYYY-MM-DD') AS ns_completeddate, BUILTIN.DF(ce.status) AS ns_status_name, BUILTIN.DF(ce.accesslevel) AS ns_accesslevel_name, BUILTIN.DF(ce.organizer) AS ns_organizer_name, BUILTIN.DF(ce.owner) AS ns_owner_name, BUILTIN.DF(ce.company) AS ns_company_name, BUILTIN.DF(ce.contact) AS ns_contact_name, BUILTIN.DF(ce.supportcase) AS ns_supportcase_name, BUILTIN.DF(ce.transaction) AS ns_transaction_name, BUILTIN.DF(ce.relateditem) AS ns_relateditem_name, BUILTIN.DF(ce.remindertype) AS ns_remindertype_name FROM calendarevent ce WHERE (ce.lastmodifieddate > TO_TIMESTAMP('%[1]s', 'YYYY-MM-DD HH24:MI:SS') OR (ce.lastmodifieddate = TO_TIMESTAMP('%[1]s', 'YYYY-MM-DD HH24:MI:SS') AND ce.id > %[2]d)) AND ce.lastmodifieddate <= TO_TIMESTAMP('%[3]s', 'YYYY-MM-DD HH24:MI:SS') ORDER BY ce.lastmodifieddate, ce.id`

func benchSandbox(b *testing.B, events int) *Sandbox {
	b.Helper()
	s, err := New(Config{Events: events, Seed: 7, Now: func() time.Time { return fixedNow }, SigningKey: signingKey(b)})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkSuiteQLPage measures one 1000-row page of the extractor's full
// ce.* keyset query: planning, generation, evaluation and JSON rendering.
func BenchmarkSuiteQLPage(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(itoa(int64(n)), func(b *testing.B) {
			s := benchSandbox(b, n)
			q := sprintf(extractorEventsQuery, "2023-01-01 00:00:00", 0, "2099-01-01 00:00:00")
			env := suiteql.Env{DatePref: s.pref, Now: s.zone.ToCivil(fixedNow.Unix())}
			var buf []byte
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cpuTime()
			for b.Loop() {
				cq, err := suiteql.Prepare(q, catalog{s: s.store}, env)
				if err != nil {
					b.Fatal(err)
				}
				s.store.mu.RLock()
				p, err := cq.Execute(buf[:0], 0, 1000)
				s.store.mu.RUnlock()
				if err != nil || p.Count != 1000 {
					b.Fatalf("count %d err %v", p.Count, err)
				}
				buf = p.Items
			}
			reportCPU(b, cpu0, 1000)
		})
	}
}

// BenchmarkSuiteQLHTTP measures the same page through the HTTP handler
// (auth, governance, envelope), without the network.
func BenchmarkSuiteQLHTTP(b *testing.B) {
	s := benchSandbox(b, 100_000)
	s.SetConcurrencyLimit(0)
	tok := func() string {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("POST", pathToken, bytes.NewReader([]byte("grant_type=refresh_token&refresh_token="+s.RefreshToken())))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(s.cfg.ClientID, s.cfg.ClientSecret)
		s.Handler().ServeHTTP(rec, req)
		var tr map[string]string
		_ = json.Unmarshal(rec.Body.Bytes(), &tr)
		return tr["access_token"]
	}()
	body, _ := json.Marshal(map[string]string{"q": sprintf(extractorEventsQuery, "2023-01-01 00:00:00", 0, "2099-01-01 00:00:00")})
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for b.Loop() {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("POST", pathSuiteQL+"?limit=1000", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Prefer", "transient")
		s.Handler().ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body.String())
		}
	}
	reportCPU(b, cpu0, 1000)
}

// cpuTime returns the process's user+system CPU time. On a shared machine
// it measures the cost of an operation better than wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports CPU time per operation (all goroutines, GC included)
// and the rows per CPU-second that implies.
func reportCPU(b *testing.B, start time.Duration, rowsPerOp int) {
	cpu := cpuTime() - start
	if cpu <= 0 || b.N == 0 {
		return
	}
	perOp := float64(cpu.Nanoseconds()) / float64(b.N)
	b.ReportMetric(perOp/1e6, "cpu-ms/op")
	b.ReportMetric(float64(rowsPerOp)*1e9/perOp, "rows/cpu-s")
	b.ReportMetric(float64(b.N*rowsPerOp)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkRecordGet measures GET calendarevent/{id}?expandSubResources=true
// through the handler.
func BenchmarkRecordGet(b *testing.B) {
	s := benchSandbox(b, 100_000)
	s.SetConcurrencyLimit(0)
	s.auth.mu.Lock()
	tok, err := s.issueAccess(nil, []string{"rest_webservices"}, fixedNow)
	s.auth.mu.Unlock()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	i := 0
	for b.Loop() {
		i++
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", pathRecord+"calendarevent/"+itoa(int64(1000+i%90000))+"?expandSubResources=true", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		s.Handler().ServeHTTP(rec, req)
		if rec.Code != http.StatusOK && rec.Code != http.StatusNotFound {
			b.Fatalf("status %d", rec.Code)
		}
	}
	reportCPU(b, cpu0, 1)
}
