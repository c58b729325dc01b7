package transform

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/nsflow/nsflow/pkg/calendarevent"
)

// TestDecodeEventFastPath wants every canonical encoding of the golden
// events decoded without encoding/json: a fallback would be correct but
// slow, and nothing else would notice.
func TestDecodeEventFastPath(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("testdata", "golden", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		e, err := calendarevent.Unmarshal(b)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		compact, err := AppendEvent(nil, e)
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range [][]byte{b, compact} {
			if _, ok := decodeEvent(in); !ok {
				t.Errorf("%s: canonical encoding took the encoding/json path", filepath.Base(p))
			}
		}
	}
}
