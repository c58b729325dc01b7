package transform

import (
	"fmt"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // zone data for FROM scratch images, where the host has none
)

// civilDate is a wall-calendar date.
type civilDate struct{ y, m, d int }

// clock is a wall-clock time of day.
type clock struct{ h, m, s int }

func (d civilDate) String() string { b := d.text(); return string(b[:]) }

func (c clock) String() string { b := c.text(); return string(b[:]) }

// text is d as YYYY-MM-DD.
func (d civilDate) text() [10]byte {
	b := [10]byte{'0', '0', '0', '0', '-', '0', '0', '-', '0', '0'}
	put(b[0:4], d.y)
	put(b[5:7], d.m)
	put(b[8:10], d.d)
	return b
}

// text is c as HH:MM:SS.
func (c clock) text() [8]byte {
	b := [8]byte{'0', '0', ':', '0', '0', ':', '0', '0'}
	put(b[0:2], c.h)
	put(b[3:5], c.m)
	put(b[6:8], c.s)
	return b
}

// dateString is d.String with the string in the decoder's arena.
func (d *decoder) dateString(c civilDate) string { b := c.text(); return d.arena.copy(b[:]) }

// clockString is c.String with the string in the decoder's arena.
func (d *decoder) clockString(c clock) string { b := c.text(); return d.arena.copy(b[:]) }

// put writes v as len(b) decimal digits, zero-padded (v is in range).
func put(b []byte, v int) {
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = byte('0' + v%10)
		v /= 10
	}
}

func (c clock) seconds() int { return c.h*3600 + c.m*60 + c.s }

// next returns the following calendar day.
func (d civilDate) next() civilDate {
	t := time.Date(d.y, time.Month(d.m), d.d+1, 0, 0, 0, 0, time.UTC)
	return civilDate{t.Year(), int(t.Month()), t.Day()}
}

func daysIn(y, m int) int {
	return time.Date(y, time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

func validDate(y, m, d int) bool {
	return y >= 1 && y <= 9999 && m >= 1 && m <= 12 && d >= 1 && d <= daysIn(y, m)
}

// digits parses s[i:i+n] as a decimal number.
func digits(s string, i, n int) (int, bool) {
	if i+n > len(s) {
		return 0, false
	}
	v := 0
	for _, c := range []byte(s[i : i+n]) {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

// parseISODate parses exactly YYYY-MM-DD.
func parseISODate(s string) (civilDate, bool) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return civilDate{}, false
	}
	y, ok1 := digits(s, 0, 4)
	m, ok2 := digits(s, 5, 2)
	d, ok3 := digits(s, 8, 2)
	if !ok1 || !ok2 || !ok3 || !validDate(y, m, d) {
		return civilDate{}, false
	}
	return civilDate{y, m, d}, true
}

// splitNumbers splits s on sep into up to max decimal fields of 1 to 4 digits.
func splitNumbers(s string, sep byte, max int) ([]int, bool) {
	out := make([]int, 0, max)
	for len(s) > 0 || len(out) == 0 {
		i := strings.IndexByte(s, sep)
		part := s
		if i >= 0 {
			part, s = s[:i], s[i+1:]
		} else {
			s = ""
		}
		if len(part) == 0 || len(part) > 4 || len(out) == max {
			return nil, false
		}
		v, ok := digits(part, 0, len(part))
		if !ok {
			return nil, false
		}
		out = append(out, v)
		if i < 0 {
			break
		}
	}
	return out, true
}

var monthAbbr = map[string]int{
	"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
	"jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
}

func fullYear(y, width int) int {
	if width <= 2 {
		return 2000 + y
	}
	return y
}

// parsePrefDate parses a date written in a NetSuite date-format preference:
// M/D/YYYY and M/D/YY (the US default), D.M.YYYY, D-Mon-YYYY, YYYY/M/D.
// Slash dates are read month first: D/M/YYYY accounts must select the
// TO_CHAR aliases, which the extractor always does.
func parsePrefDate(s string) (civilDate, string, bool) {
	switch {
	case strings.Count(s, "/") == 2:
		p, ok := splitNumbers(s, '/', 3)
		if !ok {
			return civilDate{}, "", false
		}
		first := s[:strings.IndexByte(s, '/')]
		if len(first) == 4 { // YYYY/M/D
			if validDate(p[0], p[1], p[2]) {
				return civilDate{p[0], p[1], p[2]}, "YYYY/M/D", true
			}
			return civilDate{}, "", false
		}
		last := s[strings.LastIndexByte(s, '/')+1:]
		if len(last) != 2 && len(last) != 4 {
			return civilDate{}, "", false
		}
		y := fullYear(p[2], len(last))
		if validDate(y, p[0], p[1]) {
			return civilDate{y, p[0], p[1]}, "M/D/YYYY", true
		}
	case strings.Count(s, ".") == 2:
		p, ok := splitNumbers(s, '.', 3)
		last := s[strings.LastIndexByte(s, '.')+1:]
		if ok && (len(last) == 2 || len(last) == 4) {
			y := fullYear(p[2], len(last))
			if validDate(y, p[1], p[0]) {
				return civilDate{y, p[1], p[0]}, "D.M.YYYY", true
			}
		}
	case strings.Count(s, "-") == 2:
		i, j := strings.IndexByte(s, '-'), strings.LastIndexByte(s, '-')
		d, okD := digits(s, 0, i)
		m, okM := monthAbbr[strings.ToLower(s[i+1:j])]
		yPart := s[j+1:]
		y, okY := digits(yPart, 0, len(yPart))
		if okD && okM && okY && i >= 1 && i <= 2 && (len(yPart) == 2 || len(yPart) == 4) {
			y = fullYear(y, len(yPart))
			if validDate(y, m, d) {
				return civilDate{y, m, d}, "D-Mon-YYYY", true
			}
		}
	}
	return civilDate{}, "", false
}

// parseClock parses HH:mm or HH:mm:ss (a one-digit hour is tolerated).
func parseClock(s string) (clock, bool) {
	if len(s) < 4 || len(s) > 8 {
		return clock{}, false
	}
	i := strings.IndexByte(s, ':')
	if i < 1 || i > 2 {
		return clock{}, false
	}
	h, ok := digits(s, 0, i)
	if !ok {
		return clock{}, false
	}
	rest := s[i+1:]
	var m, sec int
	switch len(rest) {
	case 2:
		if m, ok = digits(rest, 0, 2); !ok {
			return clock{}, false
		}
	case 5:
		if rest[2] != ':' {
			return clock{}, false
		}
		var ok2 bool
		m, ok = digits(rest, 0, 2)
		sec, ok2 = digits(rest, 3, 2)
		if !ok || !ok2 {
			return clock{}, false
		}
	default:
		return clock{}, false
	}
	if h > 23 || m > 59 || sec > 59 {
		return clock{}, false
	}
	return clock{h, m, sec}, true
}

// parsePrefClock parses a time in a 12-hour preference format: "9:30 am",
// "9:30:15 PM", "9:30am". A 24-hour time without a suffix is accepted too.
func parsePrefClock(s string) (clock, bool) {
	ls := strings.ToLower(s)
	var pm, twelve bool
	switch {
	case strings.HasSuffix(ls, "am"):
		twelve, ls = true, strings.TrimSpace(ls[:len(ls)-2])
	case strings.HasSuffix(ls, "pm"):
		twelve, pm, ls = true, true, strings.TrimSpace(ls[:len(ls)-2])
	}
	c, ok := parseClock(ls)
	if !ok {
		return clock{}, false
	}
	if twelve {
		if c.h < 1 || c.h > 12 {
			return clock{}, false
		}
		c.h %= 12
		if pm {
			c.h += 12
		}
	}
	return c, true
}

// parseDateValue parses a date field: YYYY-MM-DD, else a preference format
// (reported in pref so the caller can note it).
func parseDateValue(s string) (d civilDate, pref string, ok bool) {
	if d, ok := parseISODate(s); ok {
		return d, "", true
	}
	return parsePrefDate(s)
}

// parseTimeValue parses a time-of-day field: HH:mm[:ss], else a preference
// format, optionally behind a date ("3/4/2024 9:30 am", whose date part is
// ignored: NetSuite keeps the time of a time field on a placeholder date).
func parseTimeValue(s string) (c clock, pref bool, ok bool) {
	if c, ok := parseClock(s); ok {
		return c, false, true
	}
	if i := strings.IndexByte(s, ' '); i > 0 {
		if _, _, isDate := parseDateValue(s[:i]); isDate {
			s = strings.TrimSpace(s[i+1:])
		}
	}
	if c, ok := parsePrefClock(s); ok {
		return c, true, true
	}
	return clock{}, false, false
}

// wallClock is a date and time without a zone.
type wallClock struct {
	date civilDate
	clk  clock
}

func (w wallClock) String() string { return w.date.String() + " " + w.clk.String() }

// unix returns w read as UTC, in Unix seconds.
func (w wallClock) unix() int64 {
	return time.Date(w.date.y, time.Month(w.date.m), w.date.d, w.clk.h, w.clk.m, w.clk.s, 0, time.UTC).Unix()
}

// parseWallClock parses "YYYY-MM-DD HH:MM:SS" (the TO_CHAR aliases; a "T"
// separator and a missing seconds part are tolerated), else a preference
// date followed by a preference time ("3/2/2024 9:15 am").
func parseWallClock(s string) (w wallClock, pref bool, ok bool) {
	if len(s) >= 16 && (s[10] == ' ' || s[10] == 'T') {
		if d, ok := parseISODate(s[:10]); ok {
			if c, ok := parseClock(s[11:]); ok {
				return wallClock{d, c}, false, true
			}
		}
	}
	i := strings.IndexByte(s, ' ')
	if i <= 0 {
		return wallClock{}, false, false
	}
	d, _, ok := parseDateValue(s[:i])
	if !ok {
		return wallClock{}, false, false
	}
	c, ok := parsePrefClock(strings.TrimSpace(s[i+1:]))
	if !ok {
		return wallClock{}, false, false
	}
	return wallClock{d, c}, true, true
}

// parseInstant parses an ISO 8601 instant with Z or an offset
// ("2024-03-02T09:15:00Z", "2024-03-02T10:15:00+01:00", fractions allowed;
// "+0100" tolerated).
func parseInstant(s string) (time.Time, bool) {
	if len(s) < 20 || s[10] != 'T' {
		return time.Time{}, false
	}
	for _, layout := range [...]string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999Z0700", "2006-01-02T15:04Z07:00"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// inRange reports whether t lies in the years 0001 to 9999, the range RFC
// 3339 and encoding/json can write.
func inRange(t time.Time) bool {
	y := t.UTC().Year()
	return y >= 1 && y <= 9999
}

// resolution says how a wall-clock time became an instant.
type resolution int

const (
	resolvedExact     resolution = iota
	resolvedGap                  // the time does not exist (DST gap); shifted forward
	resolvedAmbiguous            // the time exists twice (DST overlap); earlier taken
)

// localToUTC converts a wall-clock time in loc to an instant. A time in a
// DST gap is shifted forward by the length of the gap (02:30 on a
// spring-forward night becomes 03:30 in the new offset); a time in an
// overlap resolves to the earlier of its two instants. time.Date leaves both
// cases unspecified, so the offsets are worked out here.
func localToUTC(w wallClock, loc *time.Location) (time.Time, resolution, time.Duration) {
	naive := w.unix()
	offsetAt := func(unix int64) int64 {
		_, off := time.Unix(unix, 0).In(loc).Zone()
		return int64(off)
	}
	// Offsets in force around the wall-clock time. Transitions are at least
	// days apart in every zone, so a day either side sees them all.
	before, at, after := offsetAt(naive-86400), offsetAt(naive), offsetAt(naive+86400)
	if before == at && at == after && offsetAt(naive-before) == before {
		return time.Unix(naive-before, 0).UTC(), resolvedExact, 0
	}
	var cands [3]int64
	n := 0
	for _, off := range [...]int64{before, at, after} {
		c := naive - off
		if offsetAt(c) != off {
			continue
		}
		dup := false
		for _, x := range cands[:n] {
			dup = dup || x == c
		}
		if !dup {
			cands[n] = c
			n++
		}
	}
	if n > 0 {
		best := cands[0]
		for _, c := range cands[1:n] {
			best = min(best, c)
		}
		if n == 1 {
			return time.Unix(best, 0).UTC(), resolvedExact, 0
		}
		return time.Unix(best, 0).UTC(), resolvedAmbiguous, 0
	}
	// Gap: read the wall clock with the offset in force before the
	// transition, which lands the same distance past it.
	t := naive - before
	gap := time.Duration(offsetAt(t)-before) * time.Second
	return time.Unix(t, 0).UTC(), resolvedGap, gap
}

// zoneCache caches time.Location lookups; safe for concurrent use. Only
// zones that load are cached, so the cache is bounded by the zone database.
type zoneCache struct{ m sync.Map }

// load returns the location called name. "Local" is refused: it depends on
// the host and would make the output differ between machines.
func (z *zoneCache) load(name string) (*time.Location, error) {
	if v, ok := z.m.Load(name); ok {
		return v.(*time.Location), nil
	}
	if !plausibleZone(name) {
		return nil, fmt.Errorf("not an IANA time zone name")
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("not a known IANA time zone")
	}
	z.m.Store(name, loc)
	return loc, nil
}

// plausibleZone rejects names that cannot be zone ids before they reach the
// file system.
func plausibleZone(name string) bool {
	if name == "" || name == "Local" || len(name) > 64 || name[0] == '/' || strings.Contains(name, "..") {
		return false
	}
	for _, c := range []byte(name) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '/', c == '_', c == '-', c == '+':
		default:
			return false
		}
	}
	return true
}
