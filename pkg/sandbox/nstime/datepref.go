package nstime

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

var monthAbbr = [...]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

var monthName = [...]string{"January", "February", "March", "April", "May", "June", "July", "August",
	"September", "October", "November", "December"}

var dayName = [...]string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}

// DaysIn returns the number of days in month m of year y.
func DaysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	default:
		return 31
	}
}

type prefKind uint8

const (
	prefLit prefKind = iota
	prefDay
	prefDay2
	prefMonth
	prefMonth2
	prefMonthAbbr
	prefMonthName
	prefYear2
	prefYear4
)

type prefElem struct {
	kind prefKind
	lit  byte
}

// DatePref is a NetSuite user date-format preference such as "M/d/yyyy",
// "MM/DD/YYYY", "d.M.yyyy", "DD-Mon-YYYY" or "yyyy-MM-dd". Letters d/D are
// the day, M the month (MMM and "Mon" the abbreviated month name, MMMM the
// full name), y/Y the year; anything else is a literal separator. Times use
// the preference "h:mm a" (for example "9:15 am").
type DatePref struct {
	pattern string
	elems   []prefElem
}

// ParseDatePref compiles a date-format preference.
func ParseDatePref(pattern string) (*DatePref, error) {
	p := &DatePref{pattern: pattern}
	var hasD, hasM, hasY bool
	for i := 0; i < len(pattern); {
		c := pattern[i]
		if strings.HasPrefix(pattern[i:], "Mon") && !strings.HasPrefix(pattern[i:], "Month") {
			p.elems = append(p.elems, prefElem{kind: prefMonthAbbr})
			hasM = true
			i += 3
			continue
		}
		lc := c | 0x20
		if lc != 'd' && lc != 'm' && lc != 'y' {
			if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
				return nil, fmt.Errorf("parse date format %q: unsupported letter %q", pattern, c)
			}
			p.elems = append(p.elems, prefElem{kind: prefLit, lit: c})
			i++
			continue
		}
		j := i
		for j < len(pattern) && pattern[j]|0x20 == lc {
			j++
		}
		n := j - i
		var k prefKind
		switch {
		case lc == 'd' && n == 1:
			k, hasD = prefDay, true
		case lc == 'd' && n == 2:
			k, hasD = prefDay2, true
		case lc == 'm' && n == 1:
			k, hasM = prefMonth, true
		case lc == 'm' && n == 2:
			k, hasM = prefMonth2, true
		case lc == 'm' && n == 3:
			k, hasM = prefMonthAbbr, true
		case lc == 'm' && n == 4:
			k, hasM = prefMonthName, true
		case lc == 'y' && n == 2:
			k, hasY = prefYear2, true
		case lc == 'y' && n == 4:
			k, hasY = prefYear4, true
		default:
			return nil, fmt.Errorf("parse date format %q: unsupported element %q", pattern, pattern[i:j])
		}
		p.elems = append(p.elems, prefElem{kind: k})
		i = j
	}
	if !hasD || !hasM || !hasY {
		return nil, fmt.Errorf("parse date format %q: day, month and year are all required", pattern)
	}
	return p, nil
}

// String returns the pattern.
func (p *DatePref) String() string { return p.pattern }

// AppendDate appends the date part of civil time c in the preference format.
func (p *DatePref) AppendDate(b []byte, c int64) []byte {
	y, m, d := CivilFromDays(Days(c))
	for _, e := range p.elems {
		switch e.kind {
		case prefLit:
			b = append(b, e.lit)
		case prefDay:
			b = strconv.AppendInt(b, int64(d), 10)
		case prefDay2:
			b = append2(b, d)
		case prefMonth:
			b = strconv.AppendInt(b, int64(m), 10)
		case prefMonth2:
			b = append2(b, m)
		case prefMonthAbbr:
			b = append(b, monthAbbr[m-1]...)
		case prefMonthName:
			b = append(b, monthName[m-1]...)
		case prefYear2:
			b = append2(b, ((y%100)+100)%100)
		case prefYear4:
			b = append4(b, y)
		}
	}
	return b
}

// AppendDateTime appends civil time c as date and "h:mm am" time.
func (p *DatePref) AppendDateTime(b []byte, c int64) []byte {
	b = p.AppendDate(b, c)
	b = append(b, ' ')
	return AppendClock12(b, c)
}

// AppendClock12 appends the time of day of c as "h:mm am".
func AppendClock12(b []byte, c int64) []byte {
	sod := c - TruncDay(c)
	h := int(sod / 3600)
	mi := int(sod / 60 % 60)
	h12 := h % 12
	if h12 == 0 {
		h12 = 12
	}
	b = strconv.AppendInt(b, int64(h12), 10)
	b = append(b, ':')
	b = append2(b, mi)
	if h < 12 {
		return append(b, " am"...)
	}
	return append(b, " pm"...)
}

// ErrDateParse reports a date literal that does not match the preference.
var ErrDateParse = errors.New("date does not match the date format")

// Parse reads a date, optionally followed by a time of day ("11:53 pm",
// "11:53:07 pm" or 24-hour "23:53"), in the preference format. It returns the
// civil time and whether a time of day was present.
func (p *DatePref) Parse(s string) (c int64, hasTime bool, err error) {
	in := strings.TrimSpace(s)
	i := 0
	y, m, d := -1, -1, -1
	for _, e := range p.elems {
		switch e.kind {
		case prefLit:
			if i >= len(in) || in[i] != e.lit {
				return 0, false, ErrDateParse
			}
			i++
		case prefDay, prefDay2, prefMonth, prefMonth2, prefYear2, prefYear4:
			maxDigits := 2
			if e.kind == prefYear4 {
				maxDigits = 4
			}
			v, n := readDigits(in[i:], maxDigits)
			if n == 0 || (e.kind == prefYear4 && n != 4) || (e.kind == prefYear2 && n != 2) {
				return 0, false, ErrDateParse
			}
			i += n
			switch e.kind {
			case prefDay, prefDay2:
				d = v
			case prefMonth, prefMonth2:
				m = v
			case prefYear2:
				y = 2000 + v
			default:
				y = v
			}
		case prefMonthAbbr, prefMonthName:
			found := false
			names := monthAbbr[:]
			if e.kind == prefMonthName {
				names = monthName[:]
			}
			for k, name := range names {
				if len(in)-i >= len(name) && strings.EqualFold(in[i:i+len(name)], name) {
					m, i, found = k+1, i+len(name), true
					break
				}
			}
			if !found {
				return 0, false, ErrDateParse
			}
		}
	}
	if m < 1 || m > 12 || d < 1 || d > DaysIn(y, m) {
		return 0, false, ErrDateParse
	}
	c = Civil(y, m, d, 0, 0, 0)
	rest := in[i:]
	if rest == "" {
		return c, false, nil
	}
	if rest[0] != ' ' {
		return 0, false, ErrDateParse
	}
	sec, ok := parseClock(strings.TrimSpace(rest))
	if !ok {
		return 0, false, ErrDateParse
	}
	return c + sec, true, nil
}

// parseClock reads "h:mm[:ss][ am|pm]" and returns seconds of the day.
func parseClock(s string) (int64, bool) {
	h, n := readDigits(s, 2)
	if n == 0 || len(s) <= n || s[n] != ':' {
		return 0, false
	}
	s = s[n+1:]
	mi, n := readDigits(s, 2)
	if n != 2 {
		return 0, false
	}
	s = s[n:]
	sec := 0
	if len(s) > 0 && s[0] == ':' {
		sec, n = readDigits(s[1:], 2)
		if n != 2 {
			return 0, false
		}
		s = s[1+n:]
	}
	s = strings.TrimSpace(s)
	switch strings.ToLower(s) {
	case "":
		if h > 23 {
			return 0, false
		}
	case "am", "pm":
		if h < 1 || h > 12 {
			return 0, false
		}
		h %= 12
		if s[0]|0x20 == 'p' {
			h += 12
		}
	default:
		return 0, false
	}
	if mi > 59 || sec > 59 {
		return 0, false
	}
	return int64(h*3600 + mi*60 + sec), true
}

func readDigits(s string, maxDigits int) (v, n int) {
	for n < len(s) && n < maxDigits && s[n] >= '0' && s[n] <= '9' {
		v = v*10 + int(s[n]-'0')
		n++
	}
	return v, n
}

func append2(b []byte, v int) []byte {
	return append(b, byte('0'+v/10%10), byte('0'+v%10))
}

func append4(b []byte, v int) []byte {
	if v < 0 || v > 9999 {
		return strconv.AppendInt(b, int64(v), 10)
	}
	return append(b, byte('0'+v/1000), byte('0'+v/100%10), byte('0'+v/10%10), byte('0'+v%10))
}
