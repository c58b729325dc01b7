package sink

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nsflow/nsflow/pkg/calendarevent"
)

// Metrics records sink activity, labelled by sink name:
//
//	nsflow_sink_records_total{sink,result}        records per Write outcome: written | rejected | failed
//	nsflow_sink_write_duration_seconds{sink}      Write latency (histogram)
//	nsflow_sink_write_errors_total{sink,kind}     failed Writes: transient | permanent | partial
//
// "written" counts records the sink accepted, including those the version
// guard turned into no-ops.
type Metrics struct {
	records  *prometheus.CounterVec
	duration *prometheus.HistogramVec
	errors   *prometheus.CounterVec
}

// NewMetrics creates the sink metrics and registers them with reg. Metrics
// already registered (a second NewMetrics on the same registry) are reused.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nsflow_sink_records_total",
			Help: "Records handed to the sink, by outcome (written, rejected, failed).",
		}, []string{"sink", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "nsflow_sink_write_duration_seconds",
			Help:    "Duration of sink Write calls.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12),
		}, []string{"sink"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nsflow_sink_write_errors_total",
			Help: "Failed sink Write calls, by kind (transient, permanent, partial).",
		}, []string{"sink", "kind"}),
	}
	var err error
	m.records, err = register(reg, m.records)
	if err != nil {
		return nil, err
	}
	if m.duration, err = register(reg, m.duration); err != nil {
		return nil, err
	}
	if m.errors, err = register(reg, m.errors); err != nil {
		return nil, err
	}
	return m, nil
}

func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing, nil
			}
		}
		return c, fmt.Errorf("register sink metrics: %w", err)
	}
	return c, nil
}

// Instrument wraps s so that its Writes are measured under the label name.
// Open does this when Options.Metrics is set. The wrapper's Unwrap returns s.
func (m *Metrics) Instrument(name string, s Sink) Sink {
	return &instrumented{Sink: s, m: m, name: name}
}

type instrumented struct {
	Sink
	m    *Metrics
	name string
}

// Unwrap returns the sink being measured.
func (i *instrumented) Unwrap() Sink { return i.Sink }

func (i *instrumented) Write(ctx context.Context, events []*calendarevent.Event) error {
	return i.WriteEncoded(ctx, events, nil)
}

// WriteEncoded passes encoded on when the sink is an EncodedWriter.
func (i *instrumented) WriteEncoded(ctx context.Context, events []*calendarevent.Event, encoded [][]byte) error {
	start := time.Now()
	err := WriteEncoded(ctx, i.Sink, events, encoded)
	i.m.duration.WithLabelValues(i.name).Observe(time.Since(start).Seconds())
	n := float64(len(events))
	var pe *PartialError
	switch {
	case err == nil:
		i.m.records.WithLabelValues(i.name, "written").Add(n)
	case errors.As(err, &pe):
		i.m.errors.WithLabelValues(i.name, "partial").Inc()
		var rejected, failed float64
		for _, f := range pe.Failed {
			if f.Permanent {
				rejected++
			} else {
				failed++
			}
		}
		i.m.records.WithLabelValues(i.name, "written").Add(n - rejected - failed)
		i.m.records.WithLabelValues(i.name, "rejected").Add(rejected)
		i.m.records.WithLabelValues(i.name, "failed").Add(failed)
	case IsPermanent(err):
		i.m.errors.WithLabelValues(i.name, "permanent").Inc()
		i.m.records.WithLabelValues(i.name, "failed").Add(n)
	default:
		i.m.errors.WithLabelValues(i.name, "transient").Inc()
		i.m.records.WithLabelValues(i.name, "failed").Add(n)
	}
	return err
}
