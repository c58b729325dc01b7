package governor

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
)

// Local is a counting semaphore for one process (standalone mode, tests).
type Local struct {
	sem   chan struct{}
	inUse atomic.Int64
	peak  atomic.Int64
}

// NewLocal returns a limiter that lets at most n callers hold a slot.
func NewLocal(n int) (*Local, error) {
	if n < 1 {
		return nil, fmt.Errorf("new local governor: %w: limit %d must be at least 1", ErrInvalidConfig, n)
	}
	return &Local{sem: make(chan struct{}, n)}, nil
}

// Acquire blocks until a slot is free or ctx ends. The returned release is
// idempotent.
func (l *Local) Acquire(ctx context.Context) (func(), error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("acquire slot: %w", err)
	}
	select {
	case l.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("acquire slot: %w", ctx.Err())
	}
	notePeak(&l.peak, l.inUse.Add(1))
	var once sync.Once
	return func() {
		once.Do(func() {
			l.inUse.Add(-1)
			<-l.sem
		})
	}, nil
}

// Limit returns n.
func (l *Local) Limit() int { return cap(l.sem) }

// InUse returns the number of slots held now.
func (l *Local) InUse() int { return int(l.inUse.Load()) }

// Peak returns the highest number of slots held at once so far.
func (l *Local) Peak() int { return int(l.peak.Load()) }

func notePeak(peak *atomic.Int64, v int64) {
	for {
		p := peak.Load()
		if v <= p || peak.CompareAndSwap(p, v) {
			return
		}
	}
}
