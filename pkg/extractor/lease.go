package extractor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/nsflow/nsflow/pkg/calendarevent"
)

// Lease is a leader lease in a KV bucket whose TTL is the lease time: the
// holder renews the key every TTL/3; if it stops (crash, partition) the key
// expires and another replica's Create succeeds.
type Lease struct {
	kv     jetstream.KeyValue
	key    string
	holder string
	ttl    time.Duration
	rev    uint64
}

// NewLease returns the leader lease of account in kv (the netsuite_leases
// bucket, whose TTL must equal ttl).
func NewLease(kv jetstream.KeyValue, account, holder string, ttl time.Duration) (*Lease, error) {
	if kv == nil || holder == "" || ttl <= 0 {
		return nil, errors.New("new lease: kv, holder and ttl are required")
	}
	return &Lease{kv: kv, key: "leader." + calendarevent.AccountToken(account), holder: holder, ttl: ttl}, nil
}

// TTL returns the lease time.
func (l *Lease) TTL() time.Duration { return l.ttl }

// TryAcquire takes the lease if nobody holds it.
func (l *Lease) TryAcquire(ctx context.Context) (bool, error) {
	rev, err := l.kv.Create(ctx, l.key, []byte(l.holder))
	if errors.Is(err, jetstream.ErrKeyExists) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("acquire lease %s: %w", l.key, err)
	}
	l.rev = rev
	return true, nil
}

// Renew extends a held lease; an error means it was lost.
func (l *Lease) Renew(ctx context.Context) error {
	rev, err := l.kv.Update(ctx, l.key, []byte(l.holder), l.rev)
	if err != nil {
		return fmt.Errorf("renew lease %s: %w", l.key, err)
	}
	l.rev = rev
	return nil
}

// Release gives a held lease up so another replica can take it at once.
func (l *Lease) Release(ctx context.Context) {
	_ = l.kv.Delete(ctx, l.key, jetstream.LastRevision(l.rev))
}

// RunAsLeader runs x.Run only while this replica holds lease, retrying
// acquisition every TTL/3. It returns when ctx is done or x.Run returns an
// error (re-authorization required).
func RunAsLeader(ctx context.Context, x *Extractor, lease *Lease, log *slog.Logger) error {
	every := lease.ttl / 3
	waiting := false
	for {
		ok, err := lease.TryAcquire(ctx)
		if err != nil && ctx.Err() == nil {
			log.Warn("leader lease unavailable", "error", err)
		}
		if ok {
			log.Info("leader lease acquired; extracting", "holder", lease.holder)
			waiting = false
			if lost, err := lease.hold(ctx, log, x.Run); err != nil && !lost {
				return err
			}
		} else if !waiting && err == nil {
			log.Info("another replica leads this account; standing by", "holder", lease.holder)
			waiting = true
		}
		t := time.NewTimer(every)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// Do waits until this replica holds the lease (polling every TTL/3, for at
// most wait), runs f while holding it, and gives it up. It is how a one-shot
// pass keeps out of the way of a running leader. f's context ends if the
// lease is lost.
func (l *Lease) Do(ctx context.Context, wait time.Duration, log *slog.Logger, f func(ctx context.Context) error) error {
	deadline := time.Now().Add(wait)
	for waiting := false; ; waiting = true {
		ok, err := l.TryAcquire(ctx)
		if err != nil {
			return err
		}
		if !ok && !waiting {
			log.Info("another replica holds the leader lease; waiting for it", "lease", l.key, "wait", wait)
		}
		if ok {
			lost, err := l.hold(ctx, log, f)
			if lost {
				return fmt.Errorf("leader lease %s lost while extracting (another replica took over): %w", l.key, ErrLeaseHeld)
			}
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("another replica holds the leader lease %s (a running extractor leads this account): %w", l.key, ErrLeaseHeld)
		}
		t := time.NewTimer(l.ttl / 3)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("wait for leader lease %s: %w", l.key, ctx.Err())
		case <-t.C:
		}
	}
}

// hold runs f on a held lease, renewing it every TTL/3; if a renewal fails
// the lease is lost, f's context is cancelled and lost is true. The lease is
// released afterwards unless it was lost.
func (l *Lease) hold(ctx context.Context, log *slog.Logger, f func(ctx context.Context) error) (lost bool, err error) {
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	lostc := make(chan struct{})
	renewerDone := make(chan struct{})
	go func() {
		defer close(renewerDone)
		t := time.NewTicker(l.ttl / 3)
		defer t.Stop()
		for {
			select {
			case <-lctx.Done():
				return
			case <-t.C:
				if err := l.Renew(lctx); err != nil {
					if lctx.Err() == nil {
						log.Error("leader lease lost; stopping extraction on this replica", "error", err)
						close(lostc)
						cancel()
					}
					return
				}
			}
		}
	}()
	err = f(lctx)
	cancel()
	<-renewerDone
	select {
	case <-lostc:
		return true, err
	default:
	}
	l.Release(context.WithoutCancel(ctx))
	return false, err
}
