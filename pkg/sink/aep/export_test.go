package aep

import (
	"context"
	"time"
)

// SetSleep replaces the wait between attempts (tests record it instead of waiting).
func SetSleep(s *Sink, f func(ctx context.Context, d time.Duration) error) { s.sleep = f }
