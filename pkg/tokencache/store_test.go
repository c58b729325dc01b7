package tokencache

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/oauth2"

	"github.com/nsflow/nsflow/pkg/netsuite"
)

func TestLoadSave(t *testing.T) {
	t.Parallel()
	kv := bucket(t, startJetStream(t), "netsuite_state")
	s := New(kv, "1234567_SB1")
	if s.TokenKey() != "token.1234567-sb1" || s.LockKey() != "token-lock.1234567-sb1" {
		t.Errorf("keys = %s, %s", s.TokenKey(), s.LockKey())
	}
	if _, err := s.Load(t.Context()); !errors.Is(err, netsuite.ErrNoToken) {
		t.Fatalf("Load empty: %v, want ErrNoToken", err)
	}
	exp := time.Date(2026, 3, 1, 13, 0, 0, 0, time.UTC)
	in := &oauth2.Token{AccessToken: "at-secret", TokenType: "Bearer", RefreshToken: "rt-secret", Expiry: exp}
	if err := s.Save(t.Context(), in); err != nil {
		t.Fatal(err)
	}
	out, err := s.Load(t.Context())
	if err != nil || out.AccessToken != "at-secret" || out.RefreshToken != "rt-secret" || !out.Expiry.Equal(exp) || out.TokenType != "Bearer" {
		t.Fatalf("Load = %+v, %v", out, err)
	}
	// Another account in the same bucket is separate.
	if _, err := New(kv, "999").Load(t.Context()); !errors.Is(err, netsuite.ErrNoToken) {
		t.Errorf("other account: %v", err)
	}
	// Garbage in the key is "no token", and the error does not echo it.
	if _, err := kv.Put(t.Context(), s.TokenKey(), []byte("garbage-secret-value")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(t.Context()); !errors.Is(err, netsuite.ErrNoToken) || strings.Contains(err.Error(), "garbage-secret") {
		t.Errorf("Load garbage: %v", err)
	}
	if err := s.Save(t.Context(), &oauth2.Token{}); !errors.Is(err, netsuite.ErrInvalidArgument) {
		t.Errorf("Save empty: %v", err)
	}
}

func TestLock(t *testing.T) {
	t.Parallel()
	url := startJetStream(t)
	a := New(bucket(t, url, "netsuite_state"), "123")
	b := New(bucket(t, url, "netsuite_state"), "123")

	unlockA, err := a.Lock(t.Context(), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Lock(t.Context(), time.Minute); !errors.Is(err, netsuite.ErrLocked) {
		t.Fatalf("second Lock: %v, want ErrLocked", err)
	}
	unlockA()
	unlockA() // idempotent
	unlockB, err := b.Lock(t.Context(), time.Minute)
	if err != nil {
		t.Fatalf("Lock after unlock: %v", err)
	}
	unlockB()
}

func TestStaleLockIsBroken(t *testing.T) {
	t.Parallel()
	url := startJetStream(t)
	kvA, kvB := bucket(t, url, "netsuite_state"), bucket(t, url, "netsuite_state")
	clock := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	a, b := New(kvA, "123"), New(kvB, "123")
	a.now, b.now = clock.Now, clock.Now

	unlockA, err := a.Lock(t.Context(), 30*time.Second) // A then "crashes"
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(29 * time.Second)
	if _, err := b.Lock(t.Context(), 30*time.Second); !errors.Is(err, netsuite.ErrLocked) {
		t.Fatalf("Lock before expiry: %v", err)
	}
	clock.Advance(2 * time.Second)
	unlockB, err := b.Lock(t.Context(), 30*time.Second)
	if err != nil {
		t.Fatalf("Lock after expiry: %v, want the stale lock broken", err)
	}
	// A wakes up and unlocks: B's lock must survive (revision check).
	unlockA()
	if _, err := a.Lock(t.Context(), 30*time.Second); !errors.Is(err, netsuite.ErrLocked) {
		t.Fatalf("stale unlock released the new holder's lock: %v", err)
	}
	unlockB()
	if _, err := kvA.Get(t.Context(), a.LockKey()); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Errorf("lock key after unlock: %v", err)
	}
}

// TestOnlyOneWinsStaleLock: many contenders find the same stale lock at
// once; the compare-and-swap lets exactly one take it.
func TestOnlyOneWinsStaleLock(t *testing.T) {
	t.Parallel()
	url := startJetStream(t)
	clock := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	first := New(bucket(t, url, "netsuite_state"), "123")
	first.now = clock.Now
	if _, err := first.Lock(t.Context(), time.Second); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Hour)
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := 0
	for range 8 {
		s := New(bucket(t, url, "netsuite_state"), "123")
		s.now = clock.Now
		wg.Go(func() {
			if _, err := s.Lock(t.Context(), time.Hour); err == nil {
				mu.Lock()
				won++
				mu.Unlock()
			} else if !errors.Is(err, netsuite.ErrLocked) {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if won != 1 {
		t.Errorf("%d contenders took the stale lock, want exactly 1", won)
	}
}

func TestInvalidConfig(t *testing.T) {
	t.Parallel()
	for _, s := range []*Store{New(nil, "123"), New(bucket(t, startJetStream(t), "b"), "bad account")} {
		if _, err := s.Load(t.Context()); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("Load: %v", err)
		}
		if err := s.Save(t.Context(), &oauth2.Token{AccessToken: "x"}); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("Save: %v", err)
		}
		if _, err := s.Lock(t.Context(), time.Second); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("Lock: %v", err)
		}
	}
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
