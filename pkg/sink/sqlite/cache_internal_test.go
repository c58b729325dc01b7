package sqlite

import (
	"path/filepath"
	"testing"
)

// TestCachePages checks the page cache of the connection and the page size
// of a new file.
func TestCachePages(t *testing.T) {
	for _, tc := range []struct {
		query string
		want  int
	}{{"", DefaultCachePages}, {"?cache_pages=64", 64}} {
		s, err := Open(t.Context(), filepath.Join(t.TempDir(), "c.db")+tc.query, Options{})
		if err != nil {
			t.Fatal(err)
		}
		var got, pageSize int
		if err := s.db.QueryRowContext(t.Context(), "PRAGMA cache_size").Scan(&got); err != nil {
			t.Fatal(err)
		}
		if err := s.db.QueryRowContext(t.Context(), "PRAGMA page_size").Scan(&pageSize); err != nil {
			t.Fatal(err)
		}
		_ = s.Close()
		if got != tc.want {
			t.Errorf("Open(%q): cache_size %d pages, want %d", tc.query, got, tc.want)
		}
		if pageSize != 16384 {
			t.Errorf("Open(%q): new file has %d-byte pages, want 16384", tc.query, pageSize)
		}
	}
}
