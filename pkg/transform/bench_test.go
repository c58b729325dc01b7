package transform_test

import (
	"bytes"
	"encoding/json"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/nsflow/nsflow/pkg/calendarevent"
	"github.com/nsflow/nsflow/pkg/transform"
)

// benchPayload is a typical SuiteQL event with three attendees, encoded the
// way the extractor encodes it (Raw.AppendJSON).
func benchPayload(b *testing.B) []byte {
	b.Helper()
	file, err := os.ReadFile("testdata/raw/suiteql_full.json")
	if err != nil {
		b.Fatal(err)
	}
	raw, err := calendarevent.DecodeRaw(file)
	if err != nil {
		b.Fatal(err)
	}
	// NetSuite sends compact JSON; the file is indented for review.
	raw.Record = compact(b, raw.Record)
	for i := range raw.Attendees {
		raw.Attendees[i] = compact(b, raw.Attendees[i])
	}
	for i := range raw.Resources {
		raw.Resources[i] = compact(b, raw.Resources[i])
	}
	return raw.AppendJSON(nil)
}

func compact(b *testing.B, v json.RawMessage) json.RawMessage {
	b.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, v); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

// BenchmarkTransform measures the transformer's per-message work: decode the
// raw payload, map it, and encode the canonical event, with
// calendarevent.Marshal (encoding/json) and with AppendEvent (same bytes).
func BenchmarkTransform(b *testing.B) {
	tr := newTransformer(b)
	payload := benchPayload(b)
	b.Run("Marshal", func(b *testing.B) {
		b.SetBytes(int64(len(payload)))
		b.ReportAllocs()
		cpu := cpuTime()
		for b.Loop() {
			ev, err := tr.TransformBytes(payload, transform.Meta{RawSequence: 1})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := calendarevent.Marshal(ev); err != nil {
				b.Fatal(err)
			}
		}
		reportRates(b, cpu)
	})
	b.Run("AppendEvent", func(b *testing.B) {
		b.SetBytes(int64(len(payload)))
		b.ReportAllocs()
		var buf []byte
		cpu := cpuTime()
		for b.Loop() {
			ev, err := tr.TransformBytes(payload, transform.Meta{RawSequence: 1})
			if err != nil {
				b.Fatal(err)
			}
			if buf, err = transform.AppendEvent(buf[:0], ev); err != nil {
				b.Fatal(err)
			}
		}
		reportRates(b, cpu)
	})
}

// reportRates reports events per wall-clock second and per second of CPU
// time used by the process. On a shared machine the second is the honest
// per-core figure: time spent descheduled does not count against it.
func reportRates(b *testing.B, cpuStart time.Duration) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	if used := cpuTime() - cpuStart; used > 0 {
		b.ReportMetric(float64(b.N)/used.Seconds(), "events/cpu-s")
	}
}

// cpuTime is the user plus system CPU time of the process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkTransformStages splits BenchmarkTransform into its parts.
func BenchmarkTransformStages(b *testing.B) {
	tr := newTransformer(b)
	payload := benchPayload(b)
	raw, err := calendarevent.DecodeRaw(payload)
	if err != nil {
		b.Fatal(err)
	}
	ev, err := tr.Transform(raw, transform.Meta{RawSequence: 1})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("decode+map", func(b *testing.B) {
		b.ReportAllocs()
		cpu := cpuTime()
		for b.Loop() {
			if _, err := tr.TransformBytes(payload, transform.Meta{RawSequence: 1}); err != nil {
				b.Fatal(err)
			}
		}
		reportRates(b, cpu)
	})
	b.Run("map", func(b *testing.B) {
		b.ReportAllocs()
		cpu := cpuTime()
		for b.Loop() {
			if _, err := tr.Transform(raw, transform.Meta{RawSequence: 1}); err != nil {
				b.Fatal(err)
			}
		}
		reportRates(b, cpu)
	})
	b.Run("DecodeRaw", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := calendarevent.DecodeRaw(payload); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := calendarevent.Marshal(ev); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("AppendEvent", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			if buf, err = transform.AppendEvent(buf[:0], ev); err != nil {
				b.Fatal(err)
			}
		}
	})
}
