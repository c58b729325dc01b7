package transform

import (
	"encoding/json"
	"html"
	"math/bits"
	"math/rand"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/nsflow/nsflow/pkg/calendarevent"
)

// The tests in this file hold the word-at-a-time and cached fast paths to
// the plain code they stand for, on random input built from the bytes and
// pieces each rule is about.

// TestWordMasks: the lowest byte specialMask and escapeMask mark is the
// first byte plainByte and htmlSafe turn away; plainText and upperOrEscaped
// agree with byte loops.
func TestWordMasks(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewSource(1))
	const picks = "\"\\<>&\x00\x1f\x20\x7f\x80\xff!#%'=?[]AZaz@`{"
	randBytes := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			switch r.Intn(3) {
			case 0:
				b[i] = byte(r.Intn(256))
			case 1:
				b[i] = picks[r.Intn(len(picks))]
			default:
				b[i] = byte('a' + r.Intn(26))
			}
		}
		return b
	}
	first := func(b []byte, ok func(byte) bool) int {
		for i, c := range b {
			if !ok(c) {
				return i
			}
		}
		return len(b)
	}
	lowest := func(mask uint64) int {
		if mask == 0 {
			return 8
		}
		return bits.TrailingZeros64(mask) >> 3
	}
	for range 200000 {
		w := randBytes(8)
		word := le64(w, 0)
		if got, want := lowest(escapeMask(word)), first(w, func(c byte) bool { return htmlSafe[c] }); got != want {
			t.Fatalf("escapeMask(%q) marks byte %d, want %d", w, got, want)
		}
		if got, want := lowest(specialMask(word)), first(w, func(c byte) bool { return plainByte[c] }); got != want {
			t.Fatalf("specialMask(%q) marks byte %d, want %d", w, got, want)
		}
		b := randBytes(r.Intn(40))
		if got, want := plainText(b), first(b, func(c byte) bool { return c != '\\' && c < 0x80 }) == len(b); got != want {
			t.Fatalf("plainText(%q) = %v", b, got)
		}
		upper := first(b, func(c byte) bool { return !(c >= 'A' && c <= 'Z' || c == '\\') }) < len(b)
		if upper && !upperOrEscaped(b) {
			t.Fatalf("upperOrEscaped(%q) missed", b)
		}
		if got, want := safePrefix(string(b)), first(b, func(c byte) bool { return htmlSafe[c] }); got != want {
			t.Fatalf("safePrefix(%q) = %d, want %d", b, got, want)
		}
	}
}

// TestAppendJSONString holds appendJSONString to encoding/json on random
// strings around every escaping rule.
func TestAppendJSONString(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewSource(2))
	pieces := []string{"a", "bc", "<", ">", "&", `"`, `\`, "\x00", "\x1f", "\x7f", "é", "\u2028", "\u2029", "\xff", "\xe2\x80", "☺"}
	for range 100000 {
		var sb strings.Builder
		for k := r.Intn(20); k > 0; k-- {
			sb.WriteString(pieces[r.Intn(len(pieces))])
		}
		s := sb.String()
		want, _ := json.Marshal(s)
		if got := appendJSONString(nil, s); string(got) != string(want) {
			t.Fatalf("appendJSONString(%q) = %s, want %s", s, got, want)
		}
	}
}

// TestAppendTime holds the UTC fast path of appendTime to MarshalJSON,
// errors included, across the years 0000-9999 and beyond.
func TestAppendTime(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewSource(3))
	check := func(tm time.Time) {
		want, werr := tm.MarshalJSON()
		got, gerr := appendTime(nil, tm)
		if (werr == nil) != (gerr == nil) || werr == nil && string(got) != string(want) {
			t.Fatalf("appendTime(%v) = %s, %v; MarshalJSON %s, %v", tm, got, gerr, want, werr)
		}
	}
	for range 200000 {
		sec := r.Int63n(1<<38) - 62135596800 - 1<<36
		ns := int64(0)
		if r.Intn(2) == 0 {
			ns = r.Int63n(1e9)
			ns -= ns % []int64{1, 1e3, 1e6}[r.Intn(3)] // trailing zeros to trim
		}
		check(time.Unix(sec, ns).UTC())
	}
	for _, sec := range []int64{-62167219201, -62167219200, -62135596800, -1, 0, 86399, 253402300799, 253402300800} {
		check(time.Unix(sec, 0).UTC())
		check(time.Unix(sec, 999999999).UTC())
	}
	check(time.Time{})
	check(time.Date(2024, 3, 4, 5, 6, 7, 8, time.FixedZone("X", 3600)))
}

// TestToUTCCache holds the zone-period cache of mapper.toUTC to localToUTC,
// with mappers that stay warm for a while, across zones with DST gaps,
// overlaps and odd offsets.
func TestToUTCCache(t *testing.T) {
	t.Parallel()
	var zones []*time.Location
	for _, n := range []string{"UTC", "America/New_York", "Europe/London", "Australia/Lord_Howe", "Asia/Kolkata", "Pacific/Apia", "Africa/Casablanca", "Antarctica/Troll"} {
		loc, err := time.LoadLocation(n)
		if err != nil {
			t.Fatal(err)
		}
		zones = append(zones, loc)
	}
	r := rand.New(rand.NewSource(4))
	m := new(mapper)
	for n := range 300000 {
		if n%50 == 0 {
			m = new(mapper)
		}
		loc := zones[r.Intn(len(zones))]
		w := wallClock{civilDate{1900 + r.Intn(200), 1 + r.Intn(12), 1 + r.Intn(28)}, clock{r.Intn(24), r.Intn(60), r.Intn(60)}}
		a, resA, gapA := localToUTC(w, loc)
		b, resB, gapB := m.toUTC(w, loc)
		if !a.Equal(b) || resA != resB || gapA != gapB {
			t.Fatalf("%v in %v: localToUTC %v %v %v, toUTC %v %v %v", w, loc, a, resA, gapA, b, resB, gapB)
		}
	}
}

// TestHTMLToTextEntities holds htmlToText, which decodes common entities
// as it writes, to the same rendering with every run of text decoded by
// html.UnescapeString.
func TestHTMLToTextEntities(t *testing.T) {
	t.Parallel()
	for _, lit := range []string{"&amp;", "&lt;", "&gt;", "&quot;", "&#39;", "&apos;", "&nbsp;"} {
		if n, text := commonEntity(lit + "x"); n != len(lit) || text != html.UnescapeString(lit) {
			t.Errorf("commonEntity(%q) = %d %q, want %d %q", lit, n, text, len(lit), html.UnescapeString(lit))
		}
	}
	r := rand.New(rand.NewSource(5))
	pieces := []string{"&amp;", "&lt;", "&gt;", "&quot;", "&#39;", "&apos;", "&nbsp;", "&", "&amp", "&#10;", "&#13;", "&#391;",
		"&ampx;", "&NewLine;", "&eacute;", "\r", "\n", "\r\n", " ", "\t", "a", "Bc", "<p>", "</p>", "<br>", "<b>", "<B>",
		"<a href='x>y'>", "\xc3", "\xa9", "\xe2\x80", "\xe2\x80\xa8", "é"}
	for range 200000 {
		var sb strings.Builder
		for k := r.Intn(12); k >= 0; k-- {
			sb.WriteString(pieces[r.Intn(len(pieces))])
		}
		s := sb.String()
		if got, want := htmlToText(s), referenceText(s); got != want {
			t.Fatalf("htmlToText(%q) = %q, want %q", s, got, want)
		}
	}
}

// referenceText is htmlToText with each run of text decoded by
// html.UnescapeString before it is written.
func referenceText(s string) string {
	lastGT := strings.LastIndexByte(s, '>')
	w := textWriter{plain: !hasTag(s, lastGT)}
	text := func(x string) { w.write(html.UnescapeString(x)) }
	for i := 0; i < len(s); {
		j := strings.IndexByte(s[i:], '<')
		if j < 0 {
			text(s[i:])
			break
		}
		j += i
		text(s[i:j])
		end, name, closing, ok := scanTagBefore(s, j, lastGT)
		if !ok {
			text("<")
			i = j + 1
			continue
		}
		i = end
		switch name {
		case "br":
			w.breaks++
		case "p":
			w.block(2)
		case "div", "li", "tr", "ul", "ol", "table", "blockquote", "hr", "h1", "h2", "h3", "h4", "h5", "h6":
			w.block(1)
		case "script", "style":
			if !closing {
				i = skipRawText(s, i, name)
			}
		}
	}
	return string(w.b)
}

// TestSplitObject holds splitObject and splitShallow to json.Valid on
// objects cut short or broken at every byte.
func TestSplitObject(t *testing.T) {
	t.Parallel()
	whole := `{"a":"x","b\u0041":"caf\u00e9","c":[1,{"d":null}],"e":-1.5e3,"f":true,"g":{},"h":"` + strings.Repeat("long ", 9) + `"}`
	var cases []string
	for i := range len(whole) + 1 {
		cases = append(cases, whole[:i], whole[:i]+"}", whole[:i]+`"}`, whole[:i]+"x"+whole[i:])
	}
	cases = append(cases, `{"00000":`, `{"a" : "b" , "c" : 1 }`, `{ }`, `{"a":"\x01"}`, `{"a":"\ud800"}`, "{\"a\":\"\xff\"}")
	for _, c := range cases {
		b := []byte(c)
		want := json.Valid(b) && len(b) > 0 && b[0] == '{'
		if len(b) == 0 || b[0] != '{' {
			continue
		}
		members, end, err := splitObject(b, 0, 0, nil)
		if got := err == nil && end == len(b); got != want {
			t.Fatalf("splitObject(%q): valid %v, json.Valid %v", c, got, want)
		}
		if want {
			var m map[string]json.RawMessage
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			for _, mb := range members {
				if val := b[mb.v:mb.vEnd]; !json.Valid(val) {
					t.Fatalf("splitObject(%q): member value %q", c, val)
				}
			}
		}
		// splitShallow finds the same ends on valid input.
		if want {
			shallow, end2, err := splitShallow(b, 0, 0, nil)
			if err != nil || end2 != end || len(shallow) != len(members) {
				t.Fatalf("splitShallow(%q) = %d members, %d, %v", c, len(shallow), end2, err)
			}
		}
	}
}

// TestEventBlockSize keeps eventBlock within its size class (see its
// comment): one field more would cost every event 256 bytes.
func TestEventBlockSize(t *testing.T) {
	t.Parallel()
	if n := unsafe.Sizeof(eventBlock{}); n > 1528 {
		t.Errorf("eventBlock is %d bytes, want at most 1528", n)
	}
}

// decodeRawFast is decodeEnvelope for a test that wants the Raw alone
// (FuzzDecodeRawFast); d must not have been used yet.
func decodeRawFast(payload []byte, d *decoder) (*calendarevent.Raw, bool) {
	m := new(mapper) // not pooled: the Raw points into it
	m.init(nil, *d)
	if !m.decodeEnvelope(payload) {
		return nil, false
	}
	return &m.rawBuf, true
}
