// Package natstest gives tests an embedded NATS server with JetStream: a
// random TCP port (so a test can open several connections, or close one to
// simulate a crash), a store in t.TempDir(), shut down when the test ends.
package natstest

import (
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/nsflow/nsflow/pkg/natsembed"
)

// Start runs a server for the duration of t.
func Start(t testing.TB) *natsembed.Server {
	t.Helper()
	srv, err := natsembed.Start(natsembed.Config{StoreDir: t.TempDir(), Port: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	return srv
}

// Connect opens a TCP connection to url (closed when t ends) and its JetStream context.
func Connect(t testing.TB, url string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}

// Bucket connects to url and returns the KV bucket name, created if absent.
func Bucket(t testing.TB, url, name string) (*nats.Conn, jetstream.KeyValue) {
	t.Helper()
	nc, js := Connect(t, url)
	kv, err := js.CreateOrUpdateKeyValue(t.Context(), jetstream.KeyValueConfig{Bucket: name})
	if err != nil {
		t.Fatal(err)
	}
	return nc, kv
}
