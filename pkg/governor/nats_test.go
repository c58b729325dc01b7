package governor

import (
	"github.com/nsflow/nsflow/pkg/natsembed/natstest"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// startJetStream runs an in-process NATS server with JetStream and returns its URL.
func startJetStream(t *testing.T) string { return natstest.Start(t).ClientURL() }

// bucket connects and returns the KV bucket (created if absent).
func bucket(t *testing.T, url, name string) jetstream.KeyValue {
	_, kv := natstest.Bucket(t, url, name)
	return kv
}

// connect returns a raw connection too, to simulate a crash by closing it.
func connect(t *testing.T, url, name string) (*nats.Conn, jetstream.KeyValue) {
	return natstest.Bucket(t, url, name)
}
