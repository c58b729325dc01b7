package nstime

import (
	"sort"
	"time"
)

// SecondsPerDay is the length of a civil day.
const SecondsPerDay = 86400

// DaysFromCivil returns the number of days since 1970-01-01 of the proleptic
// Gregorian date y-m-d (m in 1..12, d in 1..31).
func DaysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y
	if era < 0 {
		era -= 399
	}
	era /= 400
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}

// CivilFromDays is the inverse of DaysFromCivil.
func CivilFromDays(z int64) (y, m, d int) {
	z += 719468
	era := z
	if era < 0 {
		era -= 146096
	}
	era /= 146097
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	yy := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = int(doy - (153*mp+2)/5 + 1)
	if mp < 10 {
		m = int(mp + 3)
	} else {
		m = int(mp - 9)
	}
	if m <= 2 {
		yy++
	}
	return int(yy), m, d
}

// Civil builds a civil time from its parts.
func Civil(y, mo, d, h, mi, s int) int64 {
	return DaysFromCivil(y, mo, d)*SecondsPerDay + int64(h*3600+mi*60+s)
}

// Parts is a civil time split into calendar fields.
type Parts struct {
	Year, Month, Day, Hour, Minute, Second int
}

// Split splits a civil time into its calendar fields.
func Split(c int64) Parts {
	days := floorDiv(c, SecondsPerDay)
	sod := int(c - days*SecondsPerDay)
	y, m, d := CivilFromDays(days)
	return Parts{Year: y, Month: m, Day: d, Hour: sod / 3600, Minute: sod / 60 % 60, Second: sod % 60}
}

// Days returns the day number (days since 1970-01-01) of a civil time.
func Days(c int64) int64 { return floorDiv(c, SecondsPerDay) }

// TruncDay returns midnight of the civil day containing c.
func TruncDay(c int64) int64 { return floorDiv(c, SecondsPerDay) * SecondsPerDay }

// Weekday returns the day of the week of civil time c.
func Weekday(c int64) time.Weekday {
	// 1970-01-01 was a Thursday.
	w := (floorDiv(c, SecondsPerDay) + 4) % 7
	if w < 0 {
		w += 7
	}
	return time.Weekday(w)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// Zone converts instants to civil times in one time zone quickly, through a
// table of the zone's offset changes built once.
type Zone struct {
	loc    *time.Location
	starts []int64 // unix second at which offsets[i] starts; ascending
	offs   []int64
}

// NewZone builds the offset table of loc for instants in [from, to). Outside
// that range Zone falls back to the time package.
func NewZone(loc *time.Location, from, to time.Time) *Zone {
	z := &Zone{loc: loc}
	t := from.In(loc)
	for t.Before(to) {
		_, off := t.Zone()
		z.starts = append(z.starts, t.Unix())
		z.offs = append(z.offs, int64(off))
		_, end := t.ZoneBounds()
		if end.IsZero() || !end.After(t) {
			break
		}
		t = end
	}
	z.starts = append(z.starts, to.Unix())
	z.offs = append(z.offs, 0)
	return z
}

// Location returns the zone's location.
func (z *Zone) Location() *time.Location { return z.loc }

// Offset returns the UTC offset in seconds in effect at instant unix.
func (z *Zone) Offset(unix int64) int64 {
	n := len(z.starts)
	if n < 2 || unix < z.starts[0] || unix >= z.starts[n-1] {
		_, off := time.Unix(unix, 0).In(z.loc).Zone()
		return int64(off)
	}
	i := sort.Search(n, func(i int) bool { return z.starts[i] > unix }) - 1
	return z.offs[i]
}

// ToCivil returns the wall-clock time in the zone at instant unix.
func (z *Zone) ToCivil(unix int64) int64 { return unix + z.Offset(unix) }

// ToUnix returns the instant at which the zone's wall clock shows civil time
// c. For a wall-clock time that occurs twice (the repeated hour when daylight
// saving time ends) the earlier instant is returned; for one that does not
// occur (the skipped hour) the instant is computed with the offset in effect
// before the gap.
func (z *Zone) ToUnix(c int64) int64 {
	p := Split(c)
	t := time.Date(p.Year, time.Month(p.Month), p.Day, p.Hour, p.Minute, p.Second, 0, z.loc)
	u := t.Unix()
	// time.Date may pick either instant of an ambiguous time; prefer the
	// earlier one deterministically.
	for _, d := range []int64{-3600, -1800} {
		if cand := u + d; z.ToCivil(cand) == c {
			return cand
		}
	}
	return u
}
