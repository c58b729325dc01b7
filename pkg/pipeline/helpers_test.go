package pipeline_test

import (
	"log/slog"
	"os"
)

func testLog() *slog.Logger {
	if os.Getenv("NSFLOW_TEST_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
