package broker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/nsflow/nsflow/pkg/calendarevent"
)

// StreamConfig is the part of a stream's configuration operators tune.
type StreamConfig struct {
	MaxAge     time.Duration `env:"MAX_AGE"`
	Duplicates time.Duration `env:"DUPLICATE_WINDOW"`
	MaxBytes   int64         `env:"MAX_BYTES"`
	Replicas   int           `env:"REPLICAS"`
}

// ConsumerConfig is the part of a durable consumer's configuration operators tune.
type ConsumerConfig struct {
	AckWait       time.Duration `env:"ACK_WAIT" envDefault:"2m"`
	MaxDeliver    int           `env:"MAX_DELIVER" envDefault:"20"`
	MaxAckPending int           `env:"MAX_ACK_PENDING" envDefault:"4096"`
}

// Topology is everything the pipeline provisions. Zero values take the
// defaults of DefaultTopology.
type Topology struct {
	Raw    StreamConfig `envPrefix:"RAW_"`
	Events StreamConfig `envPrefix:"EVENTS_"`
	DLQ    StreamConfig `envPrefix:"DLQ_"`
	// Storage is "file" (default) or "memory".
	Storage string `env:"STORAGE" envDefault:"file"`
	// Consumer settings shared by the durable consumers.
	Consumer ConsumerConfig `envPrefix:"CONSUMER_"`
	// Sinks lists the sink names ([github.com/nsflow/nsflow/pkg/sink.Name]) that
	// get a loader consumer each ("loader-<sink>").
	Sinks []string `env:"-"`
	// StateBucket is the KV bucket for cursors and token caches.
	StateBucket string `env:"STATE_BUCKET" envDefault:"netsuite_state"`
	// LeaseBucket is the KV bucket for leases and the concurrency semaphore;
	// its TTL is LeaseTTL.
	LeaseBucket string        `env:"LEASE_BUCKET" envDefault:"netsuite_leases"`
	LeaseTTL    time.Duration `env:"LEASE_TTL" envDefault:"30s"`
	// KVReplicas is the replica count of the KV buckets.
	KVReplicas int `env:"KV_REPLICAS"`
}

// Consumer names.
const (
	ConsumerTransformer = "transformer"
	consumerLoaderFmt   = "loader-%s"
)

// LoaderConsumer is the durable consumer name of the loader for sink.
func LoaderConsumer(sink string) string { return fmt.Sprintf(consumerLoaderFmt, sink) }

// ConsumerTopic is the Subscriber topic of a durable consumer.
func ConsumerTopic(stream, consumer string) string { return stream + "/" + consumer }

// DefaultTopology returns the settings used when nothing is configured.
func DefaultTopology() Topology {
	return Topology{
		Raw:         StreamConfig{MaxAge: 30 * 24 * time.Hour, Duplicates: time.Hour, Replicas: 1},
		Events:      StreamConfig{MaxAge: 30 * 24 * time.Hour, Duplicates: time.Hour, Replicas: 1},
		DLQ:         StreamConfig{MaxAge: 90 * 24 * time.Hour, Duplicates: time.Hour, Replicas: 1},
		Storage:     "file",
		Consumer:    ConsumerConfig{AckWait: 2 * time.Minute, MaxDeliver: 20, MaxAckPending: 4096},
		StateBucket: "netsuite_state",
		LeaseBucket: "netsuite_leases",
		LeaseTTL:    30 * time.Second,
	}
}

func (t Topology) withDefaults() Topology {
	d := DefaultTopology()
	fill := func(s *StreamConfig, def StreamConfig) {
		if s.MaxAge == 0 {
			s.MaxAge = def.MaxAge
		}
		if s.Duplicates == 0 {
			s.Duplicates = def.Duplicates
		}
		if s.Replicas == 0 {
			s.Replicas = def.Replicas
		}
	}
	fill(&t.Raw, d.Raw)
	fill(&t.Events, d.Events)
	fill(&t.DLQ, d.DLQ)
	if t.Storage == "" {
		t.Storage = d.Storage
	}
	if t.Consumer.AckWait == 0 {
		t.Consumer.AckWait = d.Consumer.AckWait
	}
	if t.Consumer.MaxDeliver == 0 {
		t.Consumer.MaxDeliver = d.Consumer.MaxDeliver
	}
	if t.Consumer.MaxAckPending == 0 {
		t.Consumer.MaxAckPending = d.Consumer.MaxAckPending
	}
	if t.StateBucket == "" {
		t.StateBucket = d.StateBucket
	}
	if t.LeaseBucket == "" {
		t.LeaseBucket = d.LeaseBucket
	}
	if t.LeaseTTL == 0 {
		t.LeaseTTL = d.LeaseTTL
	}
	if t.KVReplicas == 0 {
		t.KVReplicas = t.Raw.Replicas
	}
	return t
}

// Validate reports settings JetStream would reject, naming them.
func (t Topology) Validate() error {
	t = t.withDefaults()
	for name, s := range map[string]StreamConfig{"RAW": t.Raw, "EVENTS": t.Events, "DLQ": t.DLQ} {
		if s.Duplicates > s.MaxAge {
			return fmt.Errorf("stream %s: duplicate window %s exceeds max age %s (set NSFLOW_%s_DUPLICATE_WINDOW below NSFLOW_%s_MAX_AGE)", name, s.Duplicates, s.MaxAge, name, name)
		}
		if s.Replicas < 1 || s.Replicas > 5 {
			return fmt.Errorf("stream %s: replicas %d out of range 1..5", name, s.Replicas)
		}
	}
	if t.Storage != "file" && t.Storage != "memory" {
		return fmt.Errorf("storage %q: want file or memory", t.Storage)
	}
	return nil
}

func (t Topology) storage() jetstream.StorageType {
	if t.Storage == "memory" {
		return jetstream.MemoryStorage
	}
	return jetstream.FileStorage
}

// Provision creates or updates the streams, durable consumers and KV buckets
// of t. It is idempotent and safe to run from several processes at once.
func Provision(ctx context.Context, js jetstream.JetStream, t Topology) error {
	if err := t.Validate(); err != nil {
		return fmt.Errorf("provision: %w", err)
	}
	t = t.withDefaults()
	streams := []jetstream.StreamConfig{
		t.streamConfig(calendarevent.StreamRaw, calendarevent.RawSubjects, "NetSuite calendar events as received", t.Raw),
		t.streamConfig(calendarevent.StreamEvents, calendarevent.EventSubjects, "canonical calendar events (schema v1)", t.Events),
		t.streamConfig(calendarevent.StreamDLQ, calendarevent.DLQSubjects, "dead letters of every stage", t.DLQ),
	}
	for _, sc := range streams {
		if _, err := js.CreateOrUpdateStream(ctx, sc); err != nil {
			return fmt.Errorf("provision stream %s: %w", sc.Name, explainJS(err))
		}
	}
	adv := t.streamConfig(StreamAdvisories, "", "MAX_DELIVERIES advisories of the pipeline's consumers (see Sweeper)", t.DLQ)
	adv.Subjects = advisorySubjects()
	if _, err := js.CreateOrUpdateStream(ctx, adv); err != nil {
		return fmt.Errorf("provision stream %s: %w", adv.Name, explainJS(err))
	}
	consumers := []struct {
		stream string
		cfg    jetstream.ConsumerConfig
	}{
		{StreamAdvisories, jetstream.ConsumerConfig{
			Durable: ConsumerSweeper, Description: "moves messages that exhausted MaxDeliver to the DLQ",
			AckPolicy: jetstream.AckExplicitPolicy, AckWait: time.Minute, DeliverPolicy: jetstream.DeliverAllPolicy,
		}},
		{calendarevent.StreamRaw, t.consumerConfig(ConsumerTransformer, calendarevent.RawSubjects, "transformer: raw → canonical")},
	}
	for _, s := range t.Sinks {
		consumers = append(consumers, struct {
			stream string
			cfg    jetstream.ConsumerConfig
		}{calendarevent.StreamEvents, t.consumerConfig(LoaderConsumer(s), calendarevent.EventSubjects, "loader into sink "+s)})
	}
	for _, c := range consumers {
		if _, err := js.CreateOrUpdateConsumer(ctx, c.stream, c.cfg); err != nil {
			return fmt.Errorf("provision consumer %s on %s: %w", c.cfg.Durable, c.stream, explainJS(err))
		}
	}
	if _, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      t.StateBucket,
		Description: "extractor cursors and shared OAuth token cache",
		History:     1,
		Storage:     t.storage(),
		Replicas:    t.KVReplicas,
	}); err != nil {
		return fmt.Errorf("provision kv %s: %w", t.StateBucket, explainJS(err))
	}
	if _, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      t.LeaseBucket,
		Description: "leases and the NetSuite concurrency semaphore",
		History:     1,
		TTL:         t.LeaseTTL,
		Storage:     t.storage(),
		Replicas:    t.KVReplicas,
	}); err != nil {
		return fmt.Errorf("provision kv %s: %w", t.LeaseBucket, explainJS(err))
	}
	return nil
}

func (t Topology) streamConfig(name, subject, desc string, s StreamConfig) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        name,
		Description: desc,
		Subjects:    []string{subject},
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		MaxAge:      s.MaxAge,
		MaxBytes:    nonZero(s.MaxBytes, -1),
		Duplicates:  s.Duplicates,
		Storage:     t.storage(),
		Replicas:    s.Replicas,
	}
}

func (t Topology) consumerConfig(durable, filter, desc string) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       durable,
		Description:   desc,
		FilterSubject: filter,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       t.Consumer.AckWait,
		MaxDeliver:    t.Consumer.MaxDeliver,
		MaxAckPending: t.Consumer.MaxAckPending,
		MaxWaiting:    512,
	}
}

func nonZero(v, def int64) int64 {
	if v == 0 {
		return def
	}
	return v
}

func explainJS(err error) error {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeConsumerCreate {
		return fmt.Errorf("%w (an existing durable with immutable settings differs; delete it with `nsflow replay --reset` or pick another name)", err)
	}
	if errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount) {
		return fmt.Errorf("%w: %w (start nats-server with -js)", errNoJetStream, err)
	}
	return err
}
