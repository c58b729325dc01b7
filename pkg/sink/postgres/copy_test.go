package postgres

import (
	"encoding/binary"
	"errors"
	"io"
	"testing"
	"time"
)

func TestParseDateAndTime(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   string
		want int32
		ok   bool
	}{
		{"2000-01-01", 0, true},
		{"2000-01-02", 1, true},
		{"1999-12-31", -1, true},
		{"2024-02-29", 8825, true},
		{"0001-01-01", -730119, true},
		{"2023-02-29", 0, false}, // no such day: the server decides
		{"2024-13-01", 0, false},
		{"2024-3-05", 0, false},
		{"2024-03-05T00", 0, false},
		{"0000-01-01", 0, false},
		{"", 0, false},
	} {
		got, ok := parseDate(tt.in)
		if ok != tt.ok || (ok && got != tt.want) {
			t.Errorf("parseDate(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
	for _, tt := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"00:00:00", 0, true},
		{"23:59:59", 86_399_000_000, true},
		{"09:30:05", (9*3600 + 30*60 + 5) * 1_000_000, true},
		{"24:00:00", 0, false}, // valid for the server, not canonical
		{"9:30:00", 0, false},
		{"09:60:00", 0, false},
		{"09:30", 0, false},
	} {
		got, ok := parseTime(tt.in)
		if ok != tt.ok || (ok && got != tt.want) {
			t.Errorf("parseTime(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestEncoderFields(t *testing.T) {
	t.Parallel()
	var e encoder
	e.text("")
	e.text("ab")
	e.jsonb([]byte(`{}`))
	e.json(nil)
	e.timestamptz(time.Date(2000, 1, 1, 0, 0, 1, 1500, time.UTC), false)
	e.timestamptz(time.Time{}, true)
	e.boolean(true)
	want := []byte{
		0xff, 0xff, 0xff, 0xff, // "" is NULL
		0, 0, 0, 2, 'a', 'b',
		0, 0, 0, 3, 1, '{', '}', // jsonb: version 1
		0xff, 0xff, 0xff, 0xff,
		0, 0, 0, 8, 0, 0, 0, 0, 0, 0x0f, 0x42, 0x41, // 1,000,001 µs after 2000-01-01 (ns truncated)
		0xff, 0xff, 0xff, 0xff,
		0, 0, 0, 1, 1,
	}
	if string(e.buf) != string(want) {
		t.Fatalf("encoded\n% x\nwant\n% x", e.buf, want)
	}
}

// TestCopySourceFraming reads a copy source through small buffers and checks
// the header, the rows in order, the trailer and the abort.
func TestCopySourceFraming(t *testing.T) {
	t.Parallel()
	src := newCopySource(&encoder{}, 3, func(e *encoder, i int) bool {
		e.buf = binary.BigEndian.AppendUint16(e.buf, 1)
		e.int4(int32(i))
		return true
	})
	var got []byte
	p := make([]byte, 7)
	for {
		n, err := src.Read(p)
		got = append(got, p[:n]...)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	want := []byte(copyHeader)
	for i := range 3 {
		want = append(want, 0, 1, 0, 0, 0, 4, 0, 0, 0, byte(i))
	}
	want = append(want, 0xff, 0xff)
	if string(got) != string(want) {
		t.Fatalf("copy data\n% x\nwant\n% x", got, want)
	}

	abort := newCopySource(&encoder{}, 3, func(e *encoder, i int) bool { return i < 1 })
	big := make([]byte, 1<<16)
	if _, err := abort.Read(big); !errors.Is(err, errCopyAborted) {
		t.Fatalf("Read of an aborted copy: %v, want errCopyAborted", err)
	}
}
