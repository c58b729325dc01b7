package transform

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/nsflow/nsflow/pkg/calendarevent"
)

func TestHTMLToText(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"", ""},
		{"plain", "plain"},
		{"  padded  \t text ", "padded text"},
		{"Quarterly review<br />Bring results", "Quarterly review\nBring results"},
		{"a<br>b<BR/>c<br >d", "a\nb\nc\nd"},
		{"a<br><br><br><br>b", "a\n\nb"},
		{"<p>one</p><p>two</p>", "one\n\ntwo"},
		{"<div>one</div><div>two</div>three", "one\ntwo\nthree"},
		{"<ul><li>x</li><li>y</li></ul>", "x\ny"},
		{"AT&amp;T &lt;b&gt; &quot;q&quot; &#39;s&#39; &eacute; &#x263A;", `AT&T <b> "q" 's' é ☺`},
		{"a&nbsp;&nbsp;b", "a b"},
		{"x < y and y > z", "x < y and y > z"},
		{"a <b>bold</b> word", "a bold word"},
		{`<a href="x>y" title='a>b'>link</a>`, "link"},
		{"<!-- hidden --><p>shown</p>", "shown"},
		{"before<!-- never closed", "before"},
		{"<script>alert('<p>')</script>text<style>p{}</style>", "text"},
		{"<p>line one\nline two</p>", "line one line two"},                     // HTML: newline is white space
		{"line one\nline two\r\n\r\n\r\nthree", "line one\nline two\n\nthree"}, // plain text keeps breaks
		{"unclosed <b", "unclosed <b"},
		{"<p>\n  </p>", ""},
		{"bad \xff byte", "bad \ufffd byte"},
		{"<?xml version='1.0'?><!DOCTYPE html><p>x</p>", "x"},
	}
	for _, tt := range tests {
		if got := htmlToText(tt.in); got != tt.want {
			t.Errorf("htmlToText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzHTMLToText: never panics, and the output is normalised text.
func FuzzHTMLToText(f *testing.F) {
	for _, s := range []string{"", "a<br>b", "<p>x</p><p>y</p>", "&amp;&lt;&#0;&#x110000;", "<!--", "<script>", "a\r\n\r\nb", "<a href='>'>", "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := htmlToText(in)
		if !utf8.ValidString(out) {
			t.Fatalf("invalid UTF-8: %q", out)
		}
		if out != strings.TrimFunc(out, unicode.IsSpace) {
			t.Fatalf("not trimmed: %q", out)
		}
		if strings.Contains(out, "  ") || strings.Contains(out, " \n") || strings.Contains(out, "\n ") || strings.Contains(out, "\n\n\n") {
			t.Fatalf("white space not collapsed: %q", out)
		}
		for _, r := range out {
			if r != '\n' && unicode.IsSpace(r) && r != ' ' {
				t.Fatalf("stray white space %U in %q", r, out)
			}
		}
		if again := htmlToText(in); again != out {
			t.Fatalf("not deterministic")
		}
	})
}

func TestParseDates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want string // "" = invalid
		pref string
	}{
		{"2024-03-04", "2024-03-04", ""},
		{"2024-02-29", "2024-02-29", ""},
		{"2023-02-29", "", ""},
		{"2024-02-30", "", ""},
		{"2024-13-01", "", ""},
		{"0000-01-01", "", ""},
		{"2024-3-4", "", ""},
		{"3/4/2024", "2024-03-04", "M/D/YYYY"},
		{"12/31/24", "2024-12-31", "M/D/YYYY"},
		{"31/12/2024", "", ""}, // D/M is not guessed
		{"4.3.2024", "2024-03-04", "D.M.YYYY"},
		{"04-Mar-2024", "2024-03-04", "D-Mon-YYYY"},
		{"4-mar-24", "2024-03-04", "D-Mon-YYYY"},
		{"2024/3/4", "2024-03-04", "YYYY/M/D"},
		{"3/4", "", ""},
		{"", "", ""},
		{"a/b/c", "", ""},
	}
	for _, tt := range tests {
		d, pref, ok := parseDateValue(tt.in)
		got := ""
		if ok {
			got = d.String()
		}
		if got != tt.want || pref != tt.pref {
			t.Errorf("parseDateValue(%q) = %q %q, want %q %q", tt.in, got, pref, tt.want, tt.pref)
		}
	}
}

func TestParseTimes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want string
		pref bool
	}{
		{"09:30", "09:30:00", false},
		{"09:30:15", "09:30:15", false},
		{"9:30", "09:30:00", false},
		{"23:59:59", "23:59:59", false},
		{"24:00", "", false},
		{"25:00", "", false},
		{"09:60", "", false},
		{"09:30:60", "", false},
		{"0930", "", false},
		{"9:30 am", "09:30:00", true},
		{"12:05 AM", "00:05:00", true},
		{"12:05 pm", "12:05:00", true},
		{"1:00pm", "13:00:00", true},
		{"13:00 pm", "", false},
		{"3/4/2024 9:30 am", "09:30:00", true},
		{"", "", false},
	}
	for _, tt := range tests {
		c, pref, ok := parseTimeValue(tt.in)
		got := ""
		if ok {
			got = c.String()
		}
		if got != tt.want || (ok && pref != tt.pref) {
			t.Errorf("parseTimeValue(%q) = %q %v, want %q %v", tt.in, got, pref, tt.want, tt.pref)
		}
	}
	for _, tt := range []struct{ in, want string }{
		{"2024-03-02 09:15:00", "2024-03-02 09:15:00"},
		{"2024-03-02T09:15:00", "2024-03-02 09:15:00"},
		{"2024-03-02 09:15", "2024-03-02 09:15:00"},
		{"3/2/2024 9:15 am", "2024-03-02 09:15:00"},
		{"2024-02-30 09:15:00", ""},
		{"2024-03-02 24:00:00", ""},
	} {
		w, _, ok := parseWallClock(tt.in)
		got := ""
		if ok {
			got = w.String()
		}
		if got != tt.want {
			t.Errorf("parseWallClock(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestLocalToUTC(t *testing.T) {
	t.Parallel()
	la, _ := time.LoadLocation("America/Los_Angeles")
	tests := []struct {
		date civilDate
		clk  clock
		want string
		res  resolution
		gap  time.Duration
	}{
		{civilDate{2024, 3, 10}, clock{1, 59, 59}, "2024-03-10T09:59:59Z", resolvedExact, 0},
		{civilDate{2024, 3, 10}, clock{2, 0, 0}, "2024-03-10T10:00:00Z", resolvedGap, time.Hour},
		{civilDate{2024, 3, 10}, clock{2, 59, 59}, "2024-03-10T10:59:59Z", resolvedGap, time.Hour},
		{civilDate{2024, 3, 10}, clock{3, 0, 0}, "2024-03-10T10:00:00Z", resolvedExact, 0},
		{civilDate{2024, 11, 3}, clock{0, 59, 59}, "2024-11-03T07:59:59Z", resolvedExact, 0},
		{civilDate{2024, 11, 3}, clock{1, 0, 0}, "2024-11-03T08:00:00Z", resolvedAmbiguous, 0},
		{civilDate{2024, 11, 3}, clock{1, 59, 59}, "2024-11-03T08:59:59Z", resolvedAmbiguous, 0},
		{civilDate{2024, 11, 3}, clock{2, 0, 0}, "2024-11-03T10:00:00Z", resolvedExact, 0},
	}
	for _, tt := range tests {
		got, res, gap := localToUTC(wallClock{tt.date, tt.clk}, la)
		if got.Format(time.RFC3339) != tt.want || res != tt.res || gap != tt.gap {
			t.Errorf("%v %v: %s %v %v, want %s %v %v", tt.date, tt.clk, got.Format(time.RFC3339), res, gap, tt.want, tt.res, tt.gap)
		}
	}
	// Every wall clock that exists exactly once round-trips, in a few zones
	// with odd rules.
	for _, name := range []string{"Europe/London", "Australia/Lord_Howe", "America/Santiago", "Asia/Kathmandu", "Pacific/Apia"} {
		loc, err := time.LoadLocation(name)
		if err != nil {
			t.Fatal(err)
		}
		for ts := time.Date(2011, 1, 1, 0, 0, 0, 0, time.UTC); ts.Year() < 2013; ts = ts.Add(97 * time.Minute) {
			l := ts.In(loc)
			w := wallClock{civilDate{l.Year(), int(l.Month()), l.Day()}, clock{l.Hour(), l.Minute(), l.Second()}}
			got, res, _ := localToUTC(w, loc)
			if res == resolvedExact && !got.Equal(ts) {
				t.Fatalf("%s %s: got %s, want %s", name, w, got, ts)
			}
			if res == resolvedAmbiguous && got.After(ts) {
				t.Fatalf("%s %s: ambiguous resolved to the later instant", name, w)
			}
			if res == resolvedGap {
				t.Fatalf("%s %s: an existing time reported as a gap", name, w)
			}
		}
	}
}

func TestZoneCache(t *testing.T) {
	t.Parallel()
	var z zoneCache
	for _, bad := range []string{"", "Local", "../../etc/passwd", "/etc/localtime", "Europe/Nowhere", "A b", strings.Repeat("x", 100)} {
		if _, err := z.load(bad); err == nil {
			t.Errorf("load(%q) succeeded", bad)
		}
	}
	a, err := z.load("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := z.load("Europe/Paris")
	if a != b {
		t.Error("location not cached")
	}
}

func TestCompareIDs(t *testing.T) {
	t.Parallel()
	ids := []string{"10", "9", "abc", "0010", "-5", "", "100", "9"}
	want := []string{"9", "9", "10", "0010", "100", "", "-5", "abc"}
	got := append([]string(nil), ids...)
	slicesSortFunc(got, compareIDs)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("sorted = %q, want %q", got, want)
	}
}

func slicesSortFunc(s []string, cmp func(a, b string) int) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && cmp(s[j-1], s[j]) > 0; j-- {
			s[j-1], s[j] = s[j], s[j-1]
		}
	}
}

func TestHrefRecordType(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"https://1.suitetalk.api.netsuite.com/services/rest/record/v1/employee/5":          "employee",
		"https://1.suitetalk.api.netsuite.com/services/rest/record/v1/salesOrder/5?x=1":    "salesorder",
		"https://1.suitetalk.api.netsuite.com/services/rest/record/v1/customrecord_abc/12": "customrecord_abc",
		"https://1.suitetalk.api.netsuite.com/services/rest/query/v1/suiteql":              "",
		"https://x/services/rest/record/v1//5":                                             "",
		"https://x/services/rest/record/v1/a%2Fb/5":                                        "",
		"": "",
	} {
		if got := hrefRecordType(in); got != want {
			t.Errorf("hrefRecordType(%q) = %q, want %q", in, got, want)
		}
	}
}

// seedFiles returns the raw corpus, good and bad, for fuzz seeds.
func seedFiles(f *testing.F) [][]byte {
	f.Helper()
	var out [][]byte
	for _, dir := range []string{"raw", "bad"} {
		files, _ := filepath.Glob(filepath.Join("testdata", dir, "*.json"))
		for _, p := range files {
			b, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			out = append(out, b)
		}
	}
	return out
}

// FuzzValidJSON holds the in-place reader to encoding/json's idea of valid
// JSON, and its iterators to never panic.
func FuzzValidJSON(f *testing.F) {
	for _, b := range seedFiles(f) {
		f.Add(b)
	}
	for _, s := range []string{`{}`, `[]`, `"\u00e9"`, `-0.5e+3`, `01`, `{"a":}`, `[1,]`, `"\x01"`, `"\ud800"`, `{"a":1}x`, "\"\xff\"", `1.`, `-`, `tru`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := validJSON(b), json.Valid(b); got != want {
			t.Fatalf("validJSON = %v, json.Valid = %v for %q", got, want, b)
		}
		v := trimValue(b)
		// Iterators must terminate without panicking on anything.
		for _, strict := range []bool{false, true} {
			it, _ := newObjIter(v)
			it.strict = strict
			for n := 0; n <= len(v); n++ {
				k, val, ok := it.next()
				if !ok {
					break
				}
				if len(k) < 2 || len(val) == 0 {
					t.Fatalf("empty member from %q", v)
				}
			}
			a, _ := newArrIter(v)
			a.strict = strict
			for n := 0; n <= len(v); n++ {
				if _, ok := a.next(); !ok {
					break
				}
			}
		}
		if validJSON(b) && kindOf(v) == kindString {
			var want string
			_ = json.Unmarshal(v, &want)
			if got := decodeString(v); got != want {
				t.Fatalf("decodeString(%q) = %q, want %q", v, got, want)
			}
			d := newDecoder(v)
			if got := d.str(v); got != want {
				t.Fatalf("decoder.str(%q) = %q, want %q", v, got, want)
			}
		}
	})
}

// FuzzDecodeRawFast holds the fast envelope decoder to calendarevent.DecodeRaw:
// whatever it accepts, DecodeRaw accepts and decodes the same way (the
// record aside, which the fast decoder leaves to the mapping).
func FuzzDecodeRawFast(f *testing.F) {
	for _, b := range seedFiles(f) {
		f.Add(b)
		raw, err := calendarevent.DecodeRaw(b)
		if err == nil {
			f.Add(raw.AppendJSON(nil))
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d := newDecoder(b)
		fast, ok := decodeRawFast(b, &d)
		if !ok {
			return
		}
		slow, err := calendarevent.DecodeRaw(b)
		if err != nil {
			if validJSON(fast.Record) {
				t.Fatalf("fast decoder accepted what DecodeRaw rejects (%v): %q", err, b)
			}
			return
		}
		if !validJSON(fast.Record) {
			t.Fatalf("DecodeRaw accepted an invalid record the fast decoder found: %q", b)
		}
		norm := func(r *calendarevent.Raw) *calendarevent.Raw {
			c := *r
			c.Record = nil
			if len(c.Attendees) == 0 {
				c.Attendees = nil
			}
			if len(c.Resources) == 0 {
				c.Resources = nil
			}
			return &c
		}
		if !reflect.DeepEqual(norm(fast), norm(slow)) || string(fast.Record) != string(slow.Record) {
			t.Fatalf("decoders differ on %q:\nfast %+v\nslow %+v", b, fast, slow)
		}
	})
}

// TestHTMLToTextLinear feeds hostile markup that a naive tag scanner handles
// in quadratic time; each case must finish in well under a second.
func TestHTMLToTextLinear(t *testing.T) {
	t.Parallel()
	for _, s := range []string{
		strings.Repeat("<a", 200000),
		strings.Repeat(`<a "`, 100000) + ">",
		strings.Repeat(`<a "x'`, 100000) + ">",
		strings.Repeat("<!--", 100000),
		strings.Repeat("</a", 100000) + ">",
		"<script>" + strings.Repeat("</a", 100000) + ">",
	} {
		start := time.Now()
		htmlToText(s)
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%.12q...: %v", s, d)
		}
	}
}
