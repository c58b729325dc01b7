package sinktest

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nsflow/nsflow/pkg/sink"
)

// BatchSize is the batch size Bench writes: a thousand typical events with
// three attendees each.
const BatchSize = 1000

// Bench is the write benchmark every SQL sink runs (as its BenchmarkWrite),
// on a sink from open (fresh backend, cleanup registered). Sub-benchmarks:
//
//	insert     one writer, new ids every batch
//	update     one writer, a newer version of the same ids every batch (rows and attendee rows replaced)
//	insert-4w  four concurrent writers (as a loader with several in-flight batches), new ids
//
// Each reports rows/s (wall clock) and cpu-µs/row: user+system CPU of this
// process per row, which includes the sink's client-side work (and, for
// embedded SQLite, the database) but not a database server's.
func Bench(b *testing.B, open func(b *testing.B) sink.Sink) {
	b.Run("insert", func(b *testing.B) {
		s := open(b)
		events := Batch("BENCH", "ev-", BatchSize, T0, 1)
		measure(b, func(i int) {
			for j, e := range events {
				e.ID = fmt.Sprintf("ev-%d-%d", i, j)
			}
			if err := s.Write(b.Context(), events); err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("update", func(b *testing.B) {
		s := open(b)
		events := Batch("BENCH", "ev-", BatchSize, T0, 1)
		if err := s.Write(b.Context(), events); err != nil {
			b.Fatal(err)
		}
		measure(b, func(int) {
			for _, e := range events {
				e.LastModifiedAt = e.LastModifiedAt.Add(time.Second)
			}
			if err := s.Write(b.Context(), events); err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("insert-4w", func(b *testing.B) {
		s := open(b)
		var seq atomic.Int64
		cpu0 := cpuTime()
		b.ResetTimer()
		b.SetParallelism(max(1, 4/runtime.GOMAXPROCS(0)))
		b.RunParallel(func(pb *testing.PB) {
			events := Batch("BENCH", "ev-", BatchSize, T0, 1)
			for pb.Next() {
				n := seq.Add(1)
				for j, e := range events {
					e.ID = fmt.Sprintf("ev-%d-%d", n, j)
				}
				if err := s.Write(b.Context(), events); err != nil {
					b.Error(err)
					return
				}
			}
		})
		report(b, cpu0)
	})
}

func measure(b *testing.B, write func(i int)) {
	cpu0 := cpuTime()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		write(i)
	}
	report(b, cpu0)
}

func report(b *testing.B, cpu0 time.Duration) {
	rows := float64(b.N * BatchSize)
	b.ReportMetric(rows/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/rows, "cpu-µs/row")
	b.ReportMetric(0, "ns/op")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
