// Command nsflow is the operator CLI of the NetSuite calendar-event pipeline:
// `run` (everything in one process), `sandbox` (the local NetSuite),
// `provision` (streams, consumers and buckets on a NATS server).
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "nsflow: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	root := newRootCmd(environ, stdout, stderr)
	root.SetArgs(args)
	return root.ExecuteContext(ctx)
}
