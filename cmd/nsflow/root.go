package main

import (
	"io"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func newRootCmd(environ []string, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "nsflow",
		Short:         "Ingest NetSuite calendar events through NATS JetStream",
		Long:          "nsflow moves NetSuite calendar events (Activities > Events) into a data platform:\nextractor → transformer → loader over NATS JetStream.\n\nSettings come from environment variables (see .env.example); flags override them.",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(
		newRunCmd(environ, stdout, stderr),
		newSandboxCmd(environ, stdout, stderr),
		newProvisionCmd(environ, stdout, stderr),
		newDLQCmd(environ, stdout, stderr),
		newReplayCmd(environ, stdout, stderr),
		newStatusCmd(environ, stdout, stderr),
		newAuthCmd(environ, stdout, stderr),
		newCheckCmd(environ, stdout, stderr),
	)
	return root
}

// newLogger returns a JSON logger at level on w.
func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	switch strings.ToLower(level) {
	case "debug":
		l = slog.LevelDebug
	case "warn", "warning":
		l = slog.LevelWarn
	case "error":
		l = slog.LevelError
	default:
		l = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l})).With("service", "nsflow", "version", version)
}

func envValue(environ []string, key string) (string, bool) {
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v, true
		}
	}
	return "", false
}
