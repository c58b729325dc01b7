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

// Advance stores c under key unless the stored cursor is already at or past
// it (a concurrent or earlier writer), and returns the cursor now stored. The
// write is a compare-and-set on the key's revision, so two writers can never
// move a cursor backwards.
func (s *CursorStore) Advance(ctx context.Context, key string, c Cursor) (Cursor, error) {
	stored := c
	err := s.update(ctx, key, func(cur []byte) ([]byte, error) {
		if cur != nil {
			var old Cursor
			if err := json.Unmarshal(cur, &old); err == nil && !old.IsZero() && !c.Before(old.LastModified, old.ID) {
				stored = old
				return nil, nil
			}
		}
		stored = c
		return json.Marshal(c)
	})
	if err != nil {
		return Cursor{}, err
	}
	return stored, nil
}

// update applies f to the value under key (nil when absent) and writes what f
// returns (nothing when nil) with compare-and-set on the revision it read,
// starting over when another writer got there first.
func (s *CursorStore) update(ctx context.Context, key string, f func(cur []byte) ([]byte, error)) error {
	for range 20 {
		var (
			cur []byte
			rev uint64
		)
		e, err := s.kv.Get(ctx, key)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
		case err != nil:
			return fmt.Errorf("load %s: %w", key, err)
		default:
			cur, rev = e.Value(), e.Revision()
		}
		next, err := f(cur)
		if err != nil {
			return fmt.Errorf("update %s: %w", key, err)
		}
		if next == nil {
			return nil
		}
		if rev == 0 {
			_, err = s.kv.Create(ctx, key, next)
		} else {
			_, err = s.kv.Update(ctx, key, next, rev)
		}
		if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			continue
		}
		if err != nil {
			return fmt.Errorf("save %s: %w", key, err)
		}
		return nil
	}
	return fmt.Errorf("save %s: the key kept changing under concurrent writers", key)
}

// get returns the value under key, or nil when there is none.
func (s *CursorStore) get(ctx context.Context, key string) ([]byte, error) {
	e, err := s.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", key, err)
	}
	return e.Value(), nil
}

// keys lists the keys matching the subject filter (for example
// "cursor.acct.backfill.>").
func (s *CursorStore) keys(ctx context.Context, filter string) ([]string, error) {
	l, err := s.kv.ListKeysFiltered(ctx, filter)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", filter, err)
	}
	defer func() { _ = l.Stop() }()
	var out []string
	for k := range l.Keys() {
		out = append(out, k)
	}
	return out, nil
}

// Delete removes the cursor under key so the next pass starts from Since.
func (s *CursorStore) Delete(ctx context.Context, key string) error {
	if err := s.kv.Delete(ctx, key); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("delete cursor %s: %w", key, err)
	}
	return nil
}
