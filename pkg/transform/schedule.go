package transform

import (
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
	loc, err := m.t.zones.load(m.raw.TimeZone)
	if err != nil {
		return nil, "", newErr(ClassInvalidRecord, "time_zone", quoteShort(m.raw.TimeZone)+" is "+err.Error())
	}
	m.acctLoc, m.acctZone = loc, m.raw.TimeZone
	return loc, m.acctZone, nil
}

// recordZone reads the event's own timezone field, a zone id or an enum
// object whose id is one. ok is false when the record has none.
func (m *mapper) recordZone() (loc *time.Location, name string, ok bool, err *Error) {
	s := m.slots[fTimeZone]
	if s.absent() {
		return nil, "", false, nil
	}
	id, _, _, problem := m.refParts(s.val)
	if problem != "" {
		return nil, "", false, newErr(ClassWrongType, s.name(), problem)
	}
	if id == "" {
		return nil, "", false, nil
	}
	loc, lerr := m.t.zones.load(id)
	if lerr != nil {
		return nil, "", false, newErr(ClassInvalidRecord, s.name(), quoteShort(id)+" is "+lerr.Error())
	}
	return loc, id, true, nil
}

// date reads a date field, preferring the SuiteQL TO_CHAR alias.
func (m *mapper) date(alias, plain int) (civilDate, bool, *Error) {
	s := m.pick(alias, plain)
	if s.absent() {
		return civilDate{}, false, nil
	}
	v, err := m.textOf(s.field(), s.val)
	if err != nil || v == "" {
		return civilDate{}, false, err
	}
	d, pref, ok := parseDateValue(v)
	if !ok {
		return civilDate{}, false, newErr(ClassInvalidDate, s.name(), quoteShort(v)+" is not a valid date (want YYYY-MM-DD)")
	}
	if pref != "" {
		m.notef("%s read in the date-format preference %s", s.name(), pref)
	}
	return d, true, nil
}

// clockField reads a time-of-day field, preferring the SuiteQL TO_CHAR alias.
func (m *mapper) clockField(alias, plain int) (clock, bool, *Error) {
	s := m.pick(alias, plain)
	if s.absent() {
		return clock{}, false, nil
	}
	v, err := m.textOf(s.field(), s.val)
	if err != nil || v == "" {
		return clock{}, false, err
	}
	c, pref, ok := parseTimeValue(v)
	if !ok {
		return clock{}, false, newErr(ClassInvalidDate, s.name(), quoteShort(v)+" is not a valid time of day (want HH:mm or HH:mm:ss)")
	}
	if pref {
		m.notef("%s read in a 12-hour time-format preference", s.name())
	}
	return c, true, nil
}

// timestamp reads an instant: the SuiteQL TO_CHAR alias (wall clock in the
// account zone), else the plain field, an ISO 8601 instant with Z or an
// offset (REST) or, tolerated and noted, a wall-clock value read in the
// account zone.
func (m *mapper) timestamp(alias, plain int, what string) (time.Time, bool, *Error) {
	if s := m.slots[alias]; !s.absent() && string(s.val) != `""` {
		return m.instantOf(s, what, false)
	}
	return m.instantOf(m.slots[plain], what, true)
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
	sAllDay, sTimed := m.slots[fAllDay], m.slots[fTimed]
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
	*local = calendarevent.Local{Date: date.String(), TimeZone: zone, TimeZoneSource: source}
	ev.Local = local

	// Instants must stay within what RFC 3339 can write, day after included.
	if date.y >= 9999 && date.m == 12 && date.d == 31 || date.y == 1 && date.m == 1 && date.d == 1 {
		return newErr(ClassInvalidDate, m.pick(fNsStartDate, fStartDate).name(), quoteShort(date.String())+" is too close to the ends of the years 0001-9999")
	}
	if dayOnly {
		startW, endW := wallClock{date: date}, wallClock{date: date.next()}
		start, res, gap := localToUTC(startW, loc)
		m.resolutionNote("start of day", startW, zone, res, gap)
		end, res, gap := localToUTC(endW, loc)
		m.resolutionNote("end of day", endW, zone, res, gap)
		m.blk.start, m.blk.end = start, end
		ev.Start, ev.End = &m.blk.start, &m.blk.end
		return nil
	}

	startW := wallClock{date, st}
	start, res, gap := localToUTC(startW, loc)
	m.resolutionNote("start", startW, zone, res, gap)
	m.blk.start = start
	ev.Start = &m.blk.start
	local.StartTime = st.String()
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
	end, res, gap := localToUTC(endW, loc)
	m.resolutionNote("end", endW, zone, res, gap)
	if end.Before(start) {
		// Only a start moved forward out of a DST gap past the end does this.
		end = start
		m.note("the end falls before the start moved out of the DST gap; end set to the start")
	}
	m.blk.end = end
	ev.End = &m.blk.end
	local.EndTime = et.String()
	local.EndDate = endDate.String()
	return nil
}
