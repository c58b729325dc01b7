package netsuite

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

func TestFileTokenStoreRoundTrip(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "credentials.json")
	s, err := NewFileTokenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(t.Context()); !errors.Is(err, ErrNoToken) {
		t.Fatalf("Load on missing file: %v", err)
	}
	login := &Credentials{AccountID: "123", ClientID: "cid", RefreshToken: "rt-1", Role: "3"}
	if err := SaveCredentialsFile(path, login); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(t.Context()); !errors.Is(err, ErrNoToken) {
		t.Fatalf("Load without access token: %v", err)
	}
	exp := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	if err := s.Save(t.Context(), &oauth2.Token{AccessToken: "at-1", Expiry: exp}); err != nil {
		t.Fatal(err)
	}
	tok, err := s.Load(t.Context())
	if err != nil || tok.AccessToken != "at-1" || !tok.Expiry.Equal(exp) || tok.RefreshToken != "rt-1" {
		t.Fatalf("Load = %+v, %v", tok, err)
	}
	c, err := LoadCredentialsFile(path)
	if err != nil || c.AccountID != "123" || c.ClientID != "cid" || c.Role != "3" || c.RefreshToken != "rt-1" {
		t.Errorf("Save lost the other fields: %+v, %v", c, err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", st.Mode().Perm())
	}
	if err := s.Save(t.Context(), &oauth2.Token{AccessToken: "at-2", RefreshToken: "rt-2"}); err != nil {
		t.Fatal(err)
	}
	if c, _ := LoadCredentialsFile(path); c.RefreshToken != "rt-2" {
		t.Error("a new refresh token was not stored")
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the credentials file (no temp files left)", len(entries))
	}
	if _, err := LoadCredentialsFile(filepath.Join(t.TempDir(), "nope")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := NewFileTokenStore(filepath.Join(t.TempDir(), "no", "dir", "f")); err == nil {
		t.Error("store in a missing directory accepted")
	}
}

func TestFileTokenStoreLock(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "credentials.json")
	a, _ := NewFileTokenStore(path)
	b, _ := NewFileTokenStore(path)
	clock := newFakeClock()
	a.now, b.now = clock.Now, clock.Now

	unlockA, err := a.Lock(t.Context(), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Lock(t.Context(), time.Minute); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Lock: %v, want ErrLocked", err)
	}
	unlockA()
	unlockB, err := b.Lock(t.Context(), time.Minute)
	if err != nil {
		t.Fatalf("Lock after unlock: %v", err)
	}
	// B "crashes" holding the lock; after its ttl A breaks it.
	clock.Advance(59 * time.Second)
	if _, err := a.Lock(t.Context(), time.Minute); !errors.Is(err, ErrLocked) {
		t.Fatalf("Lock before expiry: %v, want ErrLocked", err)
	}
	clock.Advance(2 * time.Second)
	unlockA, err = a.Lock(t.Context(), time.Minute)
	if err != nil {
		t.Fatalf("Lock after expiry: %v", err)
	}
	// B's late unlock must not release A's lock.
	unlockB()
	if _, err := b.Lock(t.Context(), time.Minute); !errors.Is(err, ErrLocked) {
		t.Fatalf("stale unlock released the new holder's lock: %v", err)
	}
	unlockA()
	if _, err := os.Stat(path + ".lock"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("lock file left behind: %v", err)
	}
}

// TestSharedFileStoreOneRefresh runs five sources (as five processes would)
// on one credentials file: exactly one refresh reaches NetSuite.
func TestSharedFileStoreOneRefresh(t *testing.T) {
	t.Parallel()
	ep := newFakeTokenEndpoint(t, func(n int, _ tokenCall, w http.ResponseWriter) {
		writeJSON(w, 200, tokenJSON("shared-access-"+itoa(n), "3600", ""))
	})
	path := filepath.Join(t.TempDir(), "credentials.json")
	var srcs []*RefreshTokenSource
	for range 5 {
		st, err := NewFileTokenStore(path)
		if err != nil {
			t.Fatal(err)
		}
		src, _, _ := newRefreshSource(t, ep.URL(), func(c *RefreshConfig) {
			c.Store = st
			c.Clock = nil // the file lock and the cache share real time here
		})
		srcs = append(srcs, src)
	}
	testOneRefresh(t, srcs, ep)
}

func testOneRefresh(t *testing.T, srcs []*RefreshTokenSource, ep *fakeTokenEndpoint) {
	t.Helper()
	var wg sync.WaitGroup
	got := make([]string, len(srcs)*4)
	errs := make([]error, len(srcs)*4)
	for i := range got {
		wg.Go(func() {
			tok, err := srcs[i%len(srcs)].Token(context.WithoutCancel(t.Context()))
			errs[i] = err
			if tok != nil {
				got[i] = tok.AccessToken
			}
		})
	}
	wg.Wait()
	for i := range got {
		if errs[i] != nil || got[i] != "shared-access-1" {
			t.Errorf("caller %d: %q, %v", i, got[i], errs[i])
		}
	}
	if n := len(ep.Calls()); n != 1 {
		t.Errorf("token endpoint calls = %d, want exactly 1", n)
	}
}
