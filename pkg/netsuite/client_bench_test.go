package netsuite

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
)

// BenchmarkSuiteQLClient measures one 1000-row page end to end over
// loopback HTTP: token, limiter, request, body read, split.
func BenchmarkSuiteQLClient(b *testing.B) {
	body := suiteQLPage(1000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body)
	}))
	defer srv.Close()
	c, err := NewClient(ClientConfig{
		AccountID: "1234567", BaseURL: srv.URL, Tokens: &fakeTokens{}, Limiter: newSemLimiter(4),
		Metrics: NewMetrics(nil), Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		page, err := c.SuiteQL(b.Context(), "SELECT id FROM calendarevent", 1000, 0)
		if err != nil || len(page.Items) != 1000 {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*1000/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pages/s")
}
