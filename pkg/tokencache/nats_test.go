package tokencache

import (
	"github.com/nsflow/nsflow/pkg/natsembed/natstest"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
)

// startJetStream runs an in-process NATS server with JetStream and returns its URL.
func startJetStream(t *testing.T) string { return natstest.Start(t).ClientURL() }

// bucket connects and returns the KV bucket (created if absent).
func bucket(t *testing.T, url, name string) jetstream.KeyValue {
	_, kv := natstest.Bucket(t, url, name)
	return kv
}
