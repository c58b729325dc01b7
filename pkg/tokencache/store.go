package tokencache

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/oauth2"

	"github.com/nsflow/nsflow/pkg/netsuite"
)

// Store is a netsuite.TokenStore on NATS JetStream KV. It is safe for
// concurrent use.
type Store struct {
	kv       jetstream.KeyValue
	tokenKey string
	lockKey  string
	now      func() time.Time
	err      error
}

var _ netsuite.TokenStore = (*Store)(nil)

// New returns a store for account in kv. It makes no KV call. A nil kv or
// an invalid account id makes every method return an error wrapping
// ErrInvalidConfig.
func New(kv jetstream.KeyValue, account string) *Store {
	s := &Store{kv: kv, now: time.Now}
	if kv == nil {
		s.err = fmt.Errorf("%w: nil KeyValue", ErrInvalidConfig)
	} else if err := netsuite.ValidateAccountID(account); err != nil {
		s.err = fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	host := netsuite.HostID(account)
	s.tokenKey = "token." + host
	s.lockKey = "token-lock." + host
	return s
}

// TokenKey returns the KV key of the token.
func (s *Store) TokenKey() string { return s.tokenKey }

// LockKey returns the KV key of the refresh lock.
func (s *Store) LockKey() string { return s.lockKey }

type tokenRecord struct {
	AccessToken  string    `json:"access_token"`
	TokenType    string    `json:"token_type,omitempty"`
	RefreshToken string    `json:"refresh_token,omitempty"`
	Expiry       time.Time `json:"expiry,omitzero"`
	SavedAt      time.Time `json:"saved_at,omitzero"`
}

type lockRecord struct {
	Holder  string    `json:"holder"`
	Expires time.Time `json:"expires"`
}

// Load returns the stored token, or netsuite.ErrNoToken.
func (s *Store) Load(ctx context.Context) (*oauth2.Token, error) {
	if s.err != nil {
		return nil, s.err
	}
	e, err := s.kv.Get(ctx, s.tokenKey)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return nil, netsuite.ErrNoToken
	}
	if err != nil {
		return nil, fmt.Errorf("load token %s: %w", s.tokenKey, err)
	}
	var r tokenRecord
	if err := json.Unmarshal(e.Value(), &r); err != nil || r.AccessToken == "" {
		// Never echo the value: it may be a token.
		return nil, fmt.Errorf("load token %s: %w", s.tokenKey, netsuite.ErrNoToken)
	}
	return &oauth2.Token{
		AccessToken:  r.AccessToken,
		TokenType:    r.TokenType,
		RefreshToken: r.RefreshToken,
		Expiry:       r.Expiry,
	}, nil
}

// Save stores tok, replacing what was there.
func (s *Store) Save(ctx context.Context, tok *oauth2.Token) error {
	if s.err != nil {
		return s.err
	}
	if tok == nil || tok.AccessToken == "" {
		return fmt.Errorf("save token: %w: token without an access token", netsuite.ErrInvalidArgument)
	}
	b, err := json.Marshal(tokenRecord{
		AccessToken:  tok.AccessToken,
		TokenType:    tok.TokenType,
		RefreshToken: tok.RefreshToken,
		Expiry:       tok.Expiry,
		SavedAt:      s.now().UTC(),
	})
	if err != nil {
		return fmt.Errorf("save token: encode: %w", err)
	}
	if _, err := s.kv.Put(ctx, s.tokenKey, b); err != nil {
		return fmt.Errorf("save token %s: %w", s.tokenKey, err)
	}
	return nil
}

// Lock takes the refresh lock for ttl, or returns netsuite.ErrLocked while
// another holder's lease is live.
func (s *Store) Lock(ctx context.Context, ttl time.Duration) (func(), error) {
	if s.err != nil {
		return nil, s.err
	}
	if ttl <= 0 {
		return nil, fmt.Errorf("lock %s: %w: ttl must be positive", s.lockKey, netsuite.ErrInvalidArgument)
	}
	var nonce [8]byte
	_, _ = rand.Read(nonce[:])
	val, err := json.Marshal(lockRecord{Holder: hex.EncodeToString(nonce[:]), Expires: s.now().Add(ttl)})
	if err != nil {
		return nil, fmt.Errorf("lock %s: encode: %w", s.lockKey, err)
	}
	for range 2 {
		rev, err := s.kv.Create(ctx, s.lockKey, val)
		if err == nil {
			return s.unlocker(ctx, rev), nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return nil, fmt.Errorf("lock %s: %w", s.lockKey, err)
		}
		e, err := s.kv.Get(ctx, s.lockKey)
		if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
			continue // released meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("lock %s: read holder: %w", s.lockKey, err)
		}
		expires := e.Created().Add(ttl) // unreadable value: judge by write time
		var l lockRecord
		if json.Unmarshal(e.Value(), &l) == nil {
			expires = l.Expires
		}
		if s.now().Before(expires) {
			return nil, netsuite.ErrLocked
		}
		// Stale: the holder crashed. Take it over at the revision we saw.
		rev, err = s.kv.Update(ctx, s.lockKey, val, e.Revision())
		if err == nil {
			return s.unlocker(ctx, rev), nil
		}
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyExists) {
			return nil, netsuite.ErrLocked
		}
		return nil, fmt.Errorf("lock %s: take over stale lock: %w", s.lockKey, err)
	}
	return nil, netsuite.ErrLocked
}

// unlocker deletes the lock at rev, with its own short timeout: the caller's
// context may be done by the time it unlocks.
func (s *Store) unlocker(ctx context.Context, rev uint64) func() {
	base := context.WithoutCancel(ctx)
	var once sync.Once
	return func() {
		once.Do(func() {
			uctx, cancel := context.WithTimeout(base, 5*time.Second)
			defer cancel()
			// A mismatch means our lease lapsed and another holder has it
			// now; any other failure leaves the lock to expire.
			_ = s.kv.Delete(uctx, s.lockKey, jetstream.LastRevision(rev))
		})
	}
}
