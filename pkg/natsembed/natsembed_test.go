package natsembed

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func TestStartInProcessAndTCP(t *testing.T) {
	t.Parallel()
	srv, err := Start(Config{StoreDir: t.TempDir(), Port: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	nc, err := srv.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.AccountInfo(context.Background()); err != nil {
		t.Fatalf("jetstream not available in-process: %v", err)
	}
	if srv.ClientURL() == "" {
		t.Fatal("no TCP client URL")
	}
	tcp, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatalf("tcp connect: %v", err)
	}
	tcp.Close()
}

func TestStartRequiresStoreDir(t *testing.T) {
	t.Parallel()
	if _, err := Start(Config{}); err == nil {
		t.Fatal("Start without StoreDir succeeded")
	}
}
