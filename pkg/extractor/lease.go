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
			log.Warn("leader lease unavailable", "err", err)
		}
		if ok {
			log.Info("leader lease acquired; extracting", "holder", lease.holder)
			waiting = false
			if err := runLeading(ctx, x, lease, every, log); err != nil {
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

func runLeading(ctx context.Context, x *Extractor, lease *Lease, every time.Duration, log *slog.Logger) error {
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	lost := make(chan struct{})
	renewerDone := make(chan struct{})
	go func() {
		defer close(renewerDone)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-lctx.Done():
				return
			case <-t.C:
				if err := lease.Renew(lctx); err != nil {
					if lctx.Err() == nil {
						log.Error("leader lease lost; stopping extraction on this replica", "err", err)
						close(lost)
						cancel()
					}
					return
				}
			}
		}
	}()
	err := x.Run(lctx)
	cancel()
	<-renewerDone
	select {
	case <-lost:
		return nil
	default:
	}
	lease.Release(context.WithoutCancel(ctx))
	return err
}
