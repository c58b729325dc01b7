package transform

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"

	"github.com/nsflow/nsflow/pkg/calendarevent"
)

func benchInput(b *testing.B) []byte {
	b.Helper()
	file, err := os.ReadFile("testdata/raw/suiteql_full.json")
	if err != nil {
		b.Fatal(err)
	}
	raw, err := calendarevent.DecodeRaw(file)
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	_ = json.Compact(&buf, raw.Record)
	raw.Record = buf.Bytes()
	return raw.AppendJSON(nil)
}

// BenchmarkPhases splits TransformBytes into the envelope decoder and the
// mapping, to show where the time goes.
func BenchmarkPhases(b *testing.B) {
	payload := benchInput(b)
	tr, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("envelope", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			d := newDecoder(payload)
			if _, ok := decodeRawFast(payload, &d); !ok {
				b.Fatal("fast path refused the payload")
			}
		}
	})
	b.Run("mapping", func(b *testing.B) {
		d := newDecoder(payload)
		raw, _ := decodeRawFast(payload, &d)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := tr.transform(raw, Meta{}, validateRecord, d); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("validate", func(b *testing.B) {
		for b.Loop() {
			if !validJSON(payload) {
				b.Fatal("invalid")
			}
		}
	})
}
