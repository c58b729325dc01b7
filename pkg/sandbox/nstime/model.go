package nstime

import (
	"fmt"
	"strings"
)

type elemKind uint8

const (
	elLit elemKind = iota
	elYear4
	elYear2
	elMonth2
	elMonthAbbr
	elMonthName
	elDay2
	elDayName
	elDayAbbr
	elHour24
	elHour12
	elMinute
	elSecond
	elFrac
	elMeridian
	elMeridianDots
)

type modelElem struct {
	kind  elemKind
	lit   string
	upper bool // alphabetic output in upper case
	lower bool // alphabetic output in lower case (else capitalised)
	width int  // digits for elFrac
}

// Model is a compiled Oracle datetime format model, for example
// 'YYYY-MM-DD HH24:MI:SS'. Supported elements: YYYY, RRRR, YY, RR, MM, MON,
// MONTH, DD, DY, DAY, HH24, HH12, HH, MI, SS, FF[1-9], AM, PM, A.M., P.M.;
// punctuation (- / , . ; : and space) and "quoted text" are copied.
type Model struct {
	src     string
	elems   []modelElem
	hasTime bool
	hasDate bool
}

// CompileModel compiles an Oracle datetime format model.
func CompileModel(src string) (*Model, error) {
	m := &Model{src: src}
	s := src
	for len(s) > 0 {
		c := s[0]
		switch {
		case c == '"':
			end := strings.IndexByte(s[1:], '"')
			if end < 0 {
				return nil, fmt.Errorf("date format not recognized: unterminated quoted text in '%s'", src)
			}
			m.elems = append(m.elems, modelElem{kind: elLit, lit: s[1 : 1+end]})
			s = s[2+end:]
			continue
		case strings.IndexByte("-/,.;: ", c) >= 0:
			m.elems = append(m.elems, modelElem{kind: elLit, lit: s[:1]})
			s = s[1:]
			continue
		}
		e, n := matchElem(s)
		if n == 0 {
			return nil, fmt.Errorf("date format not recognized: '%s'", src)
		}
		switch e.kind {
		case elHour24, elHour12, elMinute, elSecond, elFrac, elMeridian, elMeridianDots:
			m.hasTime = true
		default:
			m.hasDate = true
		}
		m.elems = append(m.elems, e)
		s = s[n:]
	}
	return m, nil
}

// String returns the source of the model.
func (m *Model) String() string { return m.src }

// HasTime reports whether the model has time-of-day elements.
func (m *Model) HasTime() bool { return m.hasTime }

func matchElem(s string) (modelElem, int) {
	u := strings.ToUpper(s)
	caseOf := func(n int) (upper, lower bool) {
		w := s[:n]
		switch {
		case w == strings.ToUpper(w) && len(w) > 1 && w[1] >= 'A' && w[1] <= 'Z':
			return true, false
		case w[0] >= 'a' && w[0] <= 'z':
			return false, true
		default:
			return false, false
		}
	}
	type cand struct {
		tok  string
		kind elemKind
	}
	cands := []cand{
		{"YYYY", elYear4}, {"RRRR", elYear4}, {"YY", elYear2}, {"RR", elYear2},
		{"MONTH", elMonthName}, {"MON", elMonthAbbr}, {"MM", elMonth2}, {"MI", elMinute},
		{"DAY", elDayName}, {"DY", elDayAbbr}, {"DD", elDay2},
		{"HH24", elHour24}, {"HH12", elHour12}, {"HH", elHour12},
		{"SS", elSecond}, {"A.M.", elMeridianDots}, {"P.M.", elMeridianDots}, {"AM", elMeridian}, {"PM", elMeridian},
	}
	for _, c := range cands {
		if strings.HasPrefix(u, c.tok) {
			up, lo := caseOf(len(c.tok))
			if c.kind == elMeridian || c.kind == elMeridianDots {
				up, lo = s[0] >= 'A' && s[0] <= 'Z', s[0] >= 'a' && s[0] <= 'z'
			}
			return modelElem{kind: c.kind, upper: up, lower: lo}, len(c.tok)
		}
	}
	if strings.HasPrefix(u, "FF") {
		w := 6
		n := 2
		if len(u) > 2 && u[2] >= '1' && u[2] <= '9' {
			w = int(u[2] - '0')
			n = 3
		}
		return modelElem{kind: elFrac, width: w}, n
	}
	return modelElem{}, 0
}

func caseWord(b []byte, w string, e modelElem) []byte {
	switch {
	case e.upper:
		return append(b, strings.ToUpper(w)...)
	case e.lower:
		return append(b, strings.ToLower(w)...)
	default:
		return append(b, w...)
	}
}

// Append formats civil time c with the model.
func (m *Model) Append(b []byte, c int64) []byte {
	p := Split(c)
	for _, e := range m.elems {
		switch e.kind {
		case elLit:
			b = append(b, e.lit...)
		case elYear4:
			b = append4(b, p.Year)
		case elYear2:
			b = append2(b, ((p.Year%100)+100)%100)
		case elMonth2:
			b = append2(b, p.Month)
		case elMonthAbbr:
			b = caseWord(b, monthAbbr[p.Month-1], e)
		case elMonthName:
			b = caseWord(b, fmt.Sprintf("%-9s", monthName[p.Month-1]), e)
		case elDay2:
			b = append2(b, p.Day)
		case elDayName:
			b = caseWord(b, fmt.Sprintf("%-9s", dayName[Weekday(c)]), e)
		case elDayAbbr:
			b = caseWord(b, dayName[Weekday(c)][:3], e)
		case elHour24:
			b = append2(b, p.Hour)
		case elHour12:
			h := p.Hour % 12
			if h == 0 {
				h = 12
			}
			b = append2(b, h)
		case elMinute:
			b = append2(b, p.Minute)
		case elSecond:
			b = append2(b, p.Second)
		case elFrac:
			for range e.width {
				b = append(b, '0')
			}
		case elMeridian, elMeridianDots:
			w := "AM"
			if p.Hour >= 12 {
				w = "PM"
			}
			if e.kind == elMeridianDots {
				w = w[:1] + "." + w[1:] + "."
			}
			if e.lower {
				w = strings.ToLower(w)
			}
			b = append(b, w...)
		}
	}
	return b
}

// Format formats civil time c with the model.
func (m *Model) Format(c int64) string { return string(m.Append(nil, c)) }

func isPunct(c byte) bool { return strings.IndexByte("-/,.;: ", c) >= 0 }

// Parse reads s with the model, as TO_DATE and TO_TIMESTAMP do. Numeric
// fields may have fewer digits than their width; any punctuation in s
// matches any punctuation in the model. Fields the model lacks default to
// the year and month of now (a civil time), day 1 and midnight, as in
// Oracle.
func (m *Model) Parse(s string, now int64) (int64, error) {
	np := Split(now)
	y, mo, d, h, mi, sec := np.Year, np.Month, 1, 0, 0, 0
	pm, hasMer, h12 := false, false, false
	i := 0
	bad := func() (int64, error) {
		return 0, fmt.Errorf("literal '%s' does not match format string '%s'", s, m.src)
	}
	for _, e := range m.elems {
		switch e.kind {
		case elLit:
			for k := 0; k < len(e.lit); k++ {
				switch {
				case i < len(s) && s[i] == e.lit[k]:
					i++
				case i < len(s) && isPunct(s[i]) && isPunct(e.lit[k]):
					i++
				default:
					return bad()
				}
			}
			continue
		case elMonthAbbr, elMonthName, elDayName, elDayAbbr:
			names := monthAbbr[:]
			switch e.kind {
			case elMonthName:
				names = monthName[:]
			case elDayName:
				names = dayName[:]
			case elDayAbbr:
				names = []string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}
			}
			found := false
			for k, name := range names {
				if len(s)-i >= len(name) && strings.EqualFold(s[i:i+len(name)], name) {
					i += len(name)
					if e.kind == elMonthAbbr || e.kind == elMonthName {
						mo = k + 1
					}
					found = true
					break
				}
			}
			if !found {
				return bad()
			}
			for e.kind == elMonthName || e.kind == elDayName {
				if i < len(s) && s[i] == ' ' {
					i++
					continue
				}
				break
			}
			continue
		case elMeridian, elMeridianDots:
			w := 2
			if e.kind == elMeridianDots {
				w = 4
			}
			if len(s)-i < w {
				return bad()
			}
			t := strings.ToUpper(strings.ReplaceAll(s[i:i+w], ".", ""))
			switch t {
			case "AM":
			case "PM":
				pm = true
			default:
				return bad()
			}
			hasMer = true
			i += w
			continue
		}
		width := 2
		switch e.kind {
		case elYear4:
			width = 4
		case elFrac:
			width = 9
		}
		v, n := readDigits(s[i:], width)
		if n == 0 {
			return bad()
		}
		i += n
		switch e.kind {
		case elYear4:
			y = v
		case elYear2:
			y = 2000 + v
		case elMonth2:
			mo = v
		case elDay2:
			d = v
		case elHour24:
			h = v
		case elHour12:
			h, h12 = v, true
		case elMinute:
			mi = v
		case elSecond:
			sec = v
		}
	}
	if i != len(s) {
		return 0, fmt.Errorf("date format picture ends before converting entire input string '%s'", s)
	}
	if h12 || hasMer {
		if h < 1 || h > 12 {
			return 0, fmt.Errorf("hour must be between 1 and 12 in '%s'", s)
		}
		h %= 12
		if pm {
			h += 12
		}
	}
	if mo < 1 || mo > 12 || d < 1 || d > DaysIn(y, mo) || h > 23 || mi > 59 || sec > 59 {
		return 0, fmt.Errorf("date/time field value out of range in '%s'", s)
	}
	return Civil(y, mo, d, h, mi, sec), nil
}
