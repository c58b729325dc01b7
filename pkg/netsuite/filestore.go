package netsuite

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// Credentials is the content of a credentials file: what `nsflow auth
// login` obtained, plus the current access token when a FileTokenStore
// shares the file. It holds secrets: the file is written 0600.
type Credentials struct {
	AccountID          string    `json:"account_id,omitempty"`
	ClientID           string    `json:"client_id,omitempty"`
	RefreshToken       string    `json:"refresh_token,omitempty"`
	RefreshTokenExpiry time.Time `json:"refresh_token_expiry,omitzero"`
	AccessToken        string    `json:"access_token,omitempty"`
	AccessTokenExpiry  time.Time `json:"access_token_expiry,omitzero"`
	Role               string    `json:"role,omitempty"`
	Entity             string    `json:"entity,omitempty"`
	UpdatedAt          time.Time `json:"updated_at,omitzero"`
}

// SaveCredentialsFile writes c to path atomically (temporary file in the
// same directory, fsync, rename) with mode 0600.
func SaveCredentialsFile(path string, c *Credentials) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("encode credentials: %w", err)
	}
	if err := writeFileAtomic(path, append(b, '\n')); err != nil {
		return fmt.Errorf("save credentials file: %w", err)
	}
	return nil
}

// LoadCredentialsFile reads a credentials file. A missing file gives an error
// matching fs.ErrNotExist.
func LoadCredentialsFile(path string) (*Credentials, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load credentials file: %w", err)
	}
	var c Credentials
	if err := json.Unmarshal(b, &c); err != nil {
		// The decoder's message may quote file content: keep it out.
		return nil, fmt.Errorf("load credentials file %s: %w: not valid JSON", path, ErrInvalidConfig)
	}
	return &c, nil
}

func writeFileAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("create temporary file: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = os.Remove(tmp)
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		_ = f.Close()
		return fmt.Errorf("chmod temporary file: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return fmt.Errorf("write temporary file: %w", err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return fmt.Errorf("sync temporary file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close temporary file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename temporary file: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// FileTokenStore is a TokenStore on a credentials file, for one host (the
// CLI, standalone mode). Save merges the token into the file and keeps its
// other fields. Lock uses a sibling "<path>.lock" file created with O_EXCL
// that records its holder and expiry; a lock past its expiry is broken.
// Breaking a stale lock is not atomic between two processes that both find
// it stale at the same instant; replicas on several hosts should use
// pkg/tokencache instead.
type FileTokenStore struct {
	path string
	now  func() time.Time
	mu   sync.Mutex // serialises read-modify-write within the process
}

var _ TokenStore = (*FileTokenStore)(nil)

// NewFileTokenStore returns a store on path; its directory must exist.
func NewFileTokenStore(path string) (*FileTokenStore, error) {
	if path == "" {
		return nil, fmt.Errorf("new file token store: %w: empty path", ErrInvalidConfig)
	}
	st, err := os.Stat(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("new file token store: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("new file token store: %w: %s is not a directory", ErrInvalidConfig, filepath.Dir(path))
	}
	return &FileTokenStore{path: path, now: time.Now}, nil
}

// Load returns the stored access token (with the refresh token), or
// ErrNoToken when the file is missing or holds no access token.
func (s *FileTokenStore) Load(_ context.Context) (*oauth2.Token, error) {
	c, err := LoadCredentialsFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNoToken
	}
	if err != nil {
		return nil, err
	}
	if c.AccessToken == "" {
		return nil, ErrNoToken
	}
	return &oauth2.Token{
		AccessToken:  c.AccessToken,
		TokenType:    "Bearer",
		RefreshToken: c.RefreshToken,
		Expiry:       c.AccessTokenExpiry,
	}, nil
}

// Save merges tok into the file.
func (s *FileTokenStore) Save(_ context.Context, tok *oauth2.Token) error {
	if tok == nil {
		return fmt.Errorf("save token: %w: nil token", ErrInvalidArgument)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := LoadCredentialsFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		c, err = &Credentials{}, nil
	}
	if err != nil {
		return fmt.Errorf("save token: %w", err)
	}
	c.AccessToken = tok.AccessToken
	c.AccessTokenExpiry = tok.Expiry
	if tok.RefreshToken != "" && tok.RefreshToken != c.RefreshToken {
		c.RefreshToken = tok.RefreshToken
		c.RefreshTokenExpiry = JWTExpiry(tok.RefreshToken)
	}
	c.UpdatedAt = s.now().UTC()
	return SaveCredentialsFile(s.path, c)
}

type fileLock struct {
	Holder  string    `json:"holder"`
	Expires time.Time `json:"expires"`
}

// Lock takes the refresh lock for ttl.
func (s *FileTokenStore) Lock(_ context.Context, ttl time.Duration) (func(), error) {
	if ttl <= 0 {
		return nil, fmt.Errorf("lock token file: %w: ttl must be positive", ErrInvalidArgument)
	}
	lockPath := s.path + ".lock"
	holder, err := randomURLSafe(16)
	if err != nil {
		return nil, fmt.Errorf("lock token file: %w", err)
	}
	content, err := json.Marshal(fileLock{Holder: holder, Expires: s.now().Add(ttl)})
	if err != nil {
		return nil, fmt.Errorf("lock token file: %w", err)
	}
	for try := 0; try < 2; try++ {
		f, err := os.OpenFile(lockPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			_, werr := f.Write(content)
			cerr := f.Close()
			if werr != nil || cerr != nil {
				_ = os.Remove(lockPath)
				return nil, fmt.Errorf("lock token file: write lock: %w", errors.Join(werr, cerr))
			}
			return func() { s.unlock(lockPath, holder) }, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("lock token file: %w", err)
		}
		seen, rerr := os.ReadFile(lockPath)
		if errors.Is(rerr, fs.ErrNotExist) {
			continue // released meanwhile
		}
		var l fileLock
		if rerr == nil && json.Unmarshal(seen, &l) == nil {
			if s.now().Before(l.Expires) {
				return nil, ErrLocked
			}
		} else if st, err := os.Stat(lockPath); err == nil && s.now().Sub(st.ModTime()) < ttl {
			// Unreadable: a holder may be between create and write, or
			// crashed there. Only its age tells.
			return nil, ErrLocked
		}
		// Stale: break it if it is still the one we looked at.
		if again, err := os.ReadFile(lockPath); err == nil && string(again) == string(seen) {
			_ = os.Remove(lockPath)
		}
	}
	return nil, ErrLocked
}

func (s *FileTokenStore) unlock(lockPath, holder string) {
	b, err := os.ReadFile(lockPath)
	if err != nil {
		return
	}
	var l fileLock
	if json.Unmarshal(b, &l) == nil && l.Holder == holder {
		_ = os.Remove(lockPath)
	}
}
