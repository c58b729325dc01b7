package transform

import (
	"math"
	"strings"
	"time"

	"github.com/nsflow/nsflow/pkg/calendarevent"
)

// Time zone sources (calendarevent.Local.TimeZoneSource).
const (
	zoneFromEvent   = "event"
	zoneFromAccount = "account"
)

// accountZone is the zone SuiteQL rendered wall-clock values in: the raw
// message's time_zone, else the transformer's default (noted).
func (m *mapper) accountZone() (*time.Location, string, *Error) {
	if m.acctLoc != nil {
		return m.acctLoc, m.acctZone, nil
	}
	if m.raw.TimeZone == "" {
		m.acctLoc, m.acctZone = m.t.defaultLocation, m.t.defaultZone
		m.notef("the raw message names no account time zone; used the transformer default %s", m.acctZone)
		return m.acctLoc, m.acctZone, nil
	}
	loc, err := m.zc.load(m.t, m.raw.TimeZone)
	if err != nil {
		return nil, "", newErr(ClassInvalidRecord, "time_zone", quoteShort(m.raw.TimeZone)+" is "+err.Error())
	}
	m.acctLoc, m.acctZone = loc, m.raw.TimeZone
	return loc, m.acctZone, nil
}

// recordZone reads the event's own timezone field, a zone id or an enum
// object whose id is one. ok is false when the record has none.
func (m *mapper) recordZone() (loc *time.Location, name string, ok bool, err *Error) {
	s := m.slot(fTimeZone)
	if s.absent() {
		return nil, "", false, nil
	}
	id, _, _, problem := m.slotRef(s)
	if problem != "" {
		return nil, "", false, newErr(ClassWrongType, s.name(), problem)
	}
	if id == "" {
		return nil, "", false, nil
	}
	loc, lerr := m.zc.load(m.t, id)
	if lerr != nil {
		return nil, "", false, newErr(ClassInvalidRecord, s.name(), quoteShort(id)+" is "+lerr.Error())
	}
	return loc, id, true, nil
}

// date reads a date field, preferring the SuiteQL TO_CHAR alias.
func (m *mapper) date(alias, plain int) (civilDate, bool, *Error) {
	f := m.pickField(alias, plain)
	v, err := m.text(f)
	if err != nil || v == "" {
		return civilDate{}, false, err
	}
	d, pref, ok := parseDateValue(v)
	if !ok {
		return civilDate{}, false, newErr(ClassInvalidDate, m.slot(f).name(), quoteShort(v)+" is not a valid date (want YYYY-MM-DD)")
	}
	if pref != "" {
		m.notef("%s read in the date-format preference %s", m.slot(f).name(), pref)
	}
	return d, true, nil
}

// clockField reads a time-of-day field, preferring the SuiteQL TO_CHAR alias.
func (m *mapper) clockField(alias, plain int) (clock, bool, *Error) {
	f := m.pickField(alias, plain)
	v, err := m.text(f)
	if err != nil || v == "" {
		return clock{}, false, err
	}
	c, pref, ok := parseTimeValue(v)
	if !ok {
		return clock{}, false, newErr(ClassInvalidDate, m.slot(f).name(), quoteShort(v)+" is not a valid time of day (want HH:mm or HH:mm:ss)")
	}
	if pref {
		m.notef("%s read in a 12-hour time-format preference", m.slot(f).name())
	}
	return c, true, nil
}

// timestamp reads an instant: the SuiteQL TO_CHAR alias (wall clock in the
// account zone), else the plain field, an ISO 8601 instant with Z or an
// offset (REST) or, tolerated and noted, a wall-clock value read in the
// account zone.
func (m *mapper) timestamp(alias, plain int, what string) (time.Time, bool, *Error) {
	if s := m.slot(alias); !s.absent() && string(s.val) != `""` {
		return m.instantOf(s, what, false)
	}
	return m.instantOf(m.slot(plain), what, true)
}

func (m *mapper) resolutionNote(what string, w wallClock, zone string, res resolution, gap time.Duration) {
	switch res {
	case resolvedGap:
		m.notef("%s %s does not exist in %s (DST gap); moved forward by %s", what, w, zone, gap)
	case resolvedAmbiguous:
		m.notef("%s %s occurs twice in %s (DST overlap); took the earlier instant", what, w, zone)
	}
}

// schedule sets Start, End, AllDay, Timed and Local.
//
// An event is all-day when allDayEvent is true or timedEvent is false (a
// date-only event); its start and end times are placeholders and are not
// read into the result; Start is the local midnight of startDate and End the
// next local midnight. Otherwise Start is startDate + startTime and End is
// startDate + endTime, or the next day when endTime is not after startTime.
// Wall-clock values are in the record's timezone, else the account zone.
func (m *mapper) schedule(ev *calendarevent.Event) *Error {
	date, hasDate, err := m.date(fNsStartDate, fStartDate)
	if err != nil {
		return err
	}
	st, hasStart, err := m.clockField(fNsStartTime, fStartTime)
	if err != nil {
		return err
	}
	et, hasEnd, err := m.clockField(fNsEndTime, fEndTime)
	if err != nil {
		return err
	}
	sAllDay, sTimed := m.slot(fAllDay), m.slot(fTimed)
	allDay, allDaySet, err := boolOf(sAllDay.field(), sAllDay.val)
	if err != nil {
		return err
	}
	timed, timedSet, err := boolOf(sTimed.field(), sTimed.val)
	if err != nil {
		return err
	}
	loc, zone, hasZone, err := m.recordZone()
	if err != nil {
		return err
	}

	dayOnly := (allDaySet && allDay) || (timedSet && !timed)
	switch {
	case allDaySet && allDay && timedSet && timed:
		m.note("allDayEvent and timedEvent are both true; treated as all-day")
	case timedSet && !timed && !(allDaySet && allDay):
		m.note("timedEvent is false; treated as a date-only (all-day) event")
	case !dayOnly && hasDate && !hasStart:
		dayOnly = true
		m.note("no start time; treated as a date-only (all-day) event")
	}
	ev.AllDay = dayOnly
	ev.Timed = !dayOnly && hasStart
	if !hasDate {
		if hasStart || hasEnd {
			m.note("start or end time without a start date; no start or end computed")
		}
		return nil
	}

	source := zoneFromEvent
	if !hasZone {
		if loc, zone, err = m.accountZone(); err != nil {
			return err
		}
		source = zoneFromAccount
		m.notef("the event has no timezone; start and end read in the account zone %s", zone)
	}
	local := &m.blk.local
	*local = calendarevent.Local{Date: m.dateString(date), TimeZone: zone, TimeZoneSource: source}
	ev.Local = local

	// Instants must stay within what RFC 3339 can write, day after included.
	if date.y >= 9999 && date.m == 12 && date.d == 31 || date.y == 1 && date.m == 1 && date.d == 1 {
		return newErr(ClassInvalidDate, m.pick(fNsStartDate, fStartDate).name(), quoteShort(date.String())+" is too close to the ends of the years 0001-9999")
	}
	if dayOnly {
		startW, endW := wallClock{date: date}, wallClock{date: date.next()}
		start, res, gap := m.toUTC(startW, loc)
		m.resolutionNote("start of day", startW, zone, res, gap)
		end, res, gap := m.toUTC(endW, loc)
		m.resolutionNote("end of day", endW, zone, res, gap)
		m.blk.start, m.blk.end = start, end
		ev.Start, ev.End = &m.blk.start, &m.blk.end
		return nil
	}

	startW := wallClock{date, st}
	start, res, gap := m.toUTC(startW, loc)
	m.resolutionNote("start", startW, zone, res, gap)
	m.blk.start = start
	ev.Start = &m.blk.start
	local.StartTime = m.clockString(st)
	if !hasEnd {
		m.note("timed event without an end time; end left empty")
		return nil
	}
	endDate := date
	if et.seconds() <= st.seconds() {
		endDate = date.next()
		m.note("endTime is not after startTime; the event ends the next day")
	}
	endW := wallClock{endDate, et}
	end, res, gap := m.toUTC(endW, loc)
	m.resolutionNote("end", endW, zone, res, gap)
	if end.Before(start) {
		// Only a start moved forward out of a DST gap past the end does this.
		end = start
		m.note("the end falls before the start moved out of the DST gap; end set to the start")
	}
	m.blk.end = end
	ev.End = &m.blk.end
	local.EndTime = m.clockString(et)
	local.EndDate = local.Date
	if endDate != date {
		local.EndDate = m.dateString(endDate)
	}
	return nil
}

// zoneMemo remembers, for a recycled mapper, the last zones it loaded and
// the offset periods it found in them, so that consecutive messages of an
// account (one account zone, a few event zones) skip the Transformer's
// zone cache and most zone lookups. Everything in it is immutable: zone
// names (copied, so that no event's strings are kept alive) and
// *time.Location values from a Transformer's cache.
type zoneMemo struct {
	zones [2]struct {
		t    *Transformer
		name string
		loc  *time.Location
	}
	periods  [4]offsetPeriod // most recent first
	nperiods int
}

// load is t.zones.load through the memo.
func (z *zoneMemo) load(t *Transformer, name string) (*time.Location, error) {
	for _, e := range z.zones {
		if e.t == t && e.name == name {
			return e.loc, nil
		}
	}
	loc, err := t.zones.load(name)
	if err != nil {
		return nil, err
	}
	z.zones[1] = z.zones[0]
	z.zones[0].t, z.zones[0].name, z.zones[0].loc = t, strings.Clone(name), loc
	return loc, nil
}

// offsetPeriod is a stretch of time, [start, end) in Unix seconds, in which
// loc's UTC offset is off.
type offsetPeriod struct {
	loc        *time.Location
	start, end int64
	off        int64
}

// toUTC is localToUTC with the zone periods of earlier conversions cached:
// an event's start, end and timestamps mostly fall in one period of each of
// its zones, and then need no zone lookup. When the period of constant
// offset around w reaches a day either side, localToUTC would find the same
// offset everywhere it looks and take that instant; otherwise it is asked.
func (m *mapper) toUTC(w wallClock, loc *time.Location) (time.Time, resolution, time.Duration) {
	naive := w.unix()
	z := &m.zc
	for _, p := range z.periods[:z.nperiods] {
		if p.loc == loc && p.start <= naive-86400 && naive+86400 < p.end {
			return time.Unix(naive-p.off, 0).UTC(), resolvedExact, 0
		}
	}
	t := time.Unix(naive, 0).In(loc)
	_, off := t.Zone()
	first, last := t.ZoneBounds()
	p := offsetPeriod{loc: loc, start: math.MinInt64, end: math.MaxInt64, off: int64(off)}
	if !first.IsZero() {
		p.start = first.Unix()
	}
	if !last.IsZero() {
		p.end = last.Unix()
	}
	if z.nperiods < len(z.periods) {
		z.nperiods++
	}
	copy(z.periods[1:z.nperiods], z.periods[:z.nperiods-1])
	z.periods[0] = p
	if p.start <= naive-86400 && naive+86400 < p.end {
		return time.Unix(naive-p.off, 0).UTC(), resolvedExact, 0
	}
	return localToUTC(w, loc)
}
