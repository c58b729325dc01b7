package pipeline

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Main is a service binary's main function: it calls run with a context
// that SIGINT and SIGTERM cancel (a graceful shutdown), the command-line
// arguments, the environment and standard error for logs, and exits 1 with
// "<name>: <error>" when run fails (0 after -h).
func Main(name string, run func(ctx context.Context, args, environ []string, logOut io.Writer) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Environ(), os.Stderr)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
}

// NoArguments adapts the run function of a service configured by its
// environment alone: arguments are refused with an error that says where
// the configuration goes.
func NoArguments(run func(ctx context.Context, environ []string, logOut io.Writer) error) func(ctx context.Context, args, environ []string, logOut io.Writer) error {
	return func(ctx context.Context, args, environ []string, logOut io.Writer) error {
		if len(args) > 0 {
			return fmt.Errorf("unexpected arguments %q: this service is configured by environment variables (see .env.example)", args)
		}
		return run(ctx, environ, logOut)
	}
}
