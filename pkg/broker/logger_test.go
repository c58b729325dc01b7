package broker_test

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/ThreeDotsLabs/watermill"

	"github.com/nsflow/nsflow/pkg/broker"
)

func TestRouterLoggerLevels(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := broker.RouterLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})))
	log = log.With(watermill.LogFields{"handler_name": "h"})
	log.Trace("trace line", watermill.LogFields{"message_uuid": "u1"})
	log.Debug("debug line", nil)
	log.Info("info line (demoted to debug)", nil)
	log.Error("error line", errors.New("boom"), watermill.LogFields{"message_uuid": "u2"})
	out := buf.String()
	for _, hidden := range []string{"trace line", "debug line", "info line"} {
		if strings.Contains(out, hidden) {
			t.Errorf("%q logged at level Info:\n%s", hidden, out)
		}
	}
	if !strings.Contains(out, "error line") || !strings.Contains(out, "handler_name=h") || !strings.Contains(out, "message_uuid=u2") {
		t.Errorf("error line missing or without its fields:\n%s", out)
	}

	buf.Reset()
	log = broker.RouterLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: watermill.LevelTrace})))
	log.Trace("trace line", watermill.LogFields{"message_uuid": "u1"})
	log.Info("info line", nil)
	if out := buf.String(); !strings.Contains(out, "trace line") || !strings.Contains(out, "message_uuid=u1") || !strings.Contains(out, "level=DEBUG msg=\"info line\"") {
		t.Errorf("trace and demoted info lines missing at level Trace:\n%s", out)
	}
}
