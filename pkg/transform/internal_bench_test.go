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

// BenchmarkPhases splits TransformBytes into the envelope decoder (the one
// validating pass, which also splits the record and the sublist rows into
// members) and the mapping, to show where the time goes.
func BenchmarkPhases(b *testing.B) {
	payload := benchInput(b)
	tr, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("envelope", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m := newMapper(tr, newDecoder(payload))
			if !m.decodeEnvelope(payload) {
				b.Fatal("fast path refused the payload")
			}
			m.free()
		}
	})
	// The mapping starts from a copy of the envelope's result. The strings it
	// makes go to an arena chunk of their own here (in TransformBytes they
	// take the room left in the string block), so B/op is a little higher
	// than the mapping's share of TransformBytes.
	b.Run("mapping", func(b *testing.B) {
		base := new(mapper)
		base.init(tr, newDecoder(payload))
		if !base.decodeEnvelope(payload) {
			b.Fatal("fast path refused the payload")
		}
		b.ReportAllocs()
		for b.Loop() {
			m := newMapper(tr, newDecoder(payload))
			m.members = append(m.members, base.members...)
			m.buf, m.strs, m.rec, m.envRows, m.rawBuf = base.buf, base.strs, base.rec, base.envRows, base.rawBuf
			if _, err := m.run(&m.rawBuf, Meta{}, split); err != nil {
				b.Fatal(err)
			}
			m.free()
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
