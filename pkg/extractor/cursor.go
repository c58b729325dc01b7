package extractor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/nsflow/nsflow/pkg/calendarevent"
)

// Cursor is the position of the last stored row of one keyset scan.
type Cursor struct {
	// LastModified is the UTC instant of the last row (second precision).
	LastModified time.Time `json:"last_modified"`
	// ID is the NetSuite internal id of that row.
	ID int64 `json:"id"`
	// UpdatedAt is when the cursor was saved.
	UpdatedAt time.Time `json:"updated_at"`
}

// IsZero reports whether the cursor has never been saved.
func (c Cursor) IsZero() bool { return c.LastModified.IsZero() && c.ID == 0 }

// Before reports whether position (lm, id) is strictly before c.
func (c Cursor) Before(lm time.Time, id int64) bool {
	if !lm.Equal(c.LastModified) {
		return lm.Before(c.LastModified)
	}
	return id < c.ID
}

// Cursor kinds.
const (
	CursorEvents  = "events"
	CursorDeleted = "deleted"
)

// CursorStore keeps cursors in a JetStream KV bucket.
type CursorStore struct {
	kv jetstream.KeyValue
}

// NewCursorStore returns a store on kv (the netsuite_state bucket).
func NewCursorStore(kv jetstream.KeyValue) (*CursorStore, error) {
	if kv == nil {
		return nil, errors.New("new cursor store: kv is nil")
	}
	return &CursorStore{kv: kv}, nil
}

// CursorKey is the KV key of an account's cursor of kind.
func CursorKey(account, kind string) string {
	return "cursor." + calendarevent.AccountToken(account) + "." + kind
}

// Load returns the cursor under key, or a zero Cursor if there is none.
func (s *CursorStore) Load(ctx context.Context, key string) (Cursor, error) {
	e, err := s.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Cursor{}, nil
	}
	if err != nil {
		return Cursor{}, fmt.Errorf("load cursor %s: %w", key, err)
	}
	var c Cursor
	if err := json.Unmarshal(e.Value(), &c); err != nil {
		return Cursor{}, fmt.Errorf("load cursor %s: corrupt value (delete the key with `nsflow replay --reset-cursor`): %w", key, err)
	}
	return c, nil
}

// Save stores c under key.
func (s *CursorStore) Save(ctx context.Context, key string, c Cursor) error {
	b, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("save cursor %s: %w", key, err)
	}
	if _, err := s.kv.Put(ctx, key, b); err != nil {
		return fmt.Errorf("save cursor %s: %w", key, err)
	}
	return nil
}

// Delete removes the cursor under key so the next pass starts from Since.
func (s *CursorStore) Delete(ctx context.Context, key string) error {
	if err := s.kv.Delete(ctx, key); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("delete cursor %s: %w", key, err)
	}
	return nil
}
