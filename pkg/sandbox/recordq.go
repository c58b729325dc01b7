package sandbox

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/nsflow/nsflow/pkg/sandbox/nstime"
	"github.com/nsflow/nsflow/pkg/sandbox/suiteql"
)

// qError is a q filter error; its text is NetSuite's detail.
type qError struct{ detail string }

func (e *qError) Error() string { return e.detail }

// errBadQuery is the generic q syntax error.
var errBadQuery = &qError{detail: detailInvalidQuery}

type qKind uint8

const (
	qDateTime qKind = iota
	qDate
	qString
	qEnum
	qBool
	qRef
	qNumber
)

type qField struct {
	kind qKind
	col  int
}

// qFields are the filterable fields of calendarEvent (REST names, matched
// case-insensitively).
var qFields = map[string]qField{
	"id": {qNumber, ceID}, "externalid": {qString, ceExternalID}, "title": {qString, ceTitle},
	"message": {qString, ceMessage}, "location": {qString, ceLocation}, "status": {qEnum, ceStatus},
	"accesslevel": {qEnum, ceAccessLevel}, "alldayevent": {qBool, ceAllDay}, "timedevent": {qBool, ceTimed},
	"startdate": {qDate, ceStartDate}, "completeddate": {qDate, ceCompletedDate},
	"createddate": {qDateTime, ceCreated}, "lastmodifieddate": {qDateTime, ceModified},
	"timezone": {qString, ceTimezone}, "recurrence": {qString, ceRecurrence},
	"reminderminutes": {qNumber, ceReminderMinutes}, "remindertype": {qEnum, ceReminderType},
	"organizer": {qRef, ceOrganizer}, "owner": {qRef, ceOwner}, "company": {qRef, ceCompany},
	"contact": {qRef, ceContact}, "supportcase": {qRef, ceSupportCase}, "transaction": {qRef, ceTransaction},
	"relateditem": {qRef, ceRelatedItem}, "custevent_meeting_type": {qRef, ceMeetingType},
	"custevent_billable": {qBool, ceBillable}, "custevent_score": {qNumber, ceScore},
	"custevent_notes": {qString, ceNotes}, "custevent_follow_up_date": {qDate, ceFollowUp},
}

type qTok struct {
	kind byte // 'w' word, 's' string, 'n' number, or the punctuation itself
	text string
}

func lexQ(s string) ([]qTok, error) {
	var out []qTok
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(' || c == ')' || c == '[' || c == ']' || c == ',':
			out = append(out, qTok{kind: c})
			i++
		case c == '"':
			var sb strings.Builder
			j := i + 1
			for ; j < len(s) && s[j] != '"'; j++ {
				if s[j] == '\\' && j+1 < len(s) {
					j++
				}
				sb.WriteByte(s[j])
			}
			if j >= len(s) {
				return nil, errBadQuery
			}
			out = append(out, qTok{kind: 's', text: sb.String()})
			i = j + 1
		case c == '-' || c >= '0' && c <= '9':
			j := i + 1
			for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == '.') {
				j++
			}
			out = append(out, qTok{kind: 'n', text: s[i:j]})
			i = j
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			j := i + 1
			for j < len(s) && (s[j] == '_' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= '0' && s[j] <= '9') {
				j++
			}
			out = append(out, qTok{kind: 'w', text: s[i:j]})
			i = j
		default:
			return nil, errBadQuery
		}
	}
	return out, nil
}

// qPred is a compiled q filter over calendarevent rows.
type qPred func(r *ceRow) bool

type qParser struct {
	toks  []qTok
	i     int
	pref  *nstime.DatePref
	tz    string
	depth int
}

// parseQ compiles a REST q filter. Date literals follow the date-format
// preference, optionally with a time ("8/5/2026 11:53 pm"). A literal
// denotes an interval, its day (or its minute with a time): ON matches
// inside it, AFTER after its end, BEFORE before its start, ON_OR_AFTER and
// ON_OR_BEFORE include it.
func parseQ(q string, pref *nstime.DatePref, tz string) (qPred, error) {
	toks, err := lexQ(q)
	if err != nil {
		return nil, err
	}
	if len(toks) == 0 {
		return nil, errBadQuery
	}
	p := &qParser{toks: toks, pref: pref, tz: tz}
	pred, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.i != len(p.toks) {
		return nil, errBadQuery
	}
	return pred, nil
}

func (p *qParser) peekWord(w string) bool {
	return p.i < len(p.toks) && p.toks[p.i].kind == 'w' && strings.EqualFold(p.toks[p.i].text, w)
}

func (p *qParser) or() (qPred, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.peekWord("OR") {
		p.i++
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		a, b := l, r
		l = func(x *ceRow) bool { return a(x) || b(x) }
	}
	return l, nil
}

func (p *qParser) and() (qPred, error) {
	l, err := p.atom()
	if err != nil {
		return nil, err
	}
	for p.peekWord("AND") {
		p.i++
		r, err := p.atom()
		if err != nil {
			return nil, err
		}
		a, b := l, r
		l = func(x *ceRow) bool { return a(x) && b(x) }
	}
	return l, nil
}

func (p *qParser) atom() (qPred, error) {
	if p.i >= len(p.toks) {
		return nil, errBadQuery
	}
	if p.toks[p.i].kind == '(' {
		p.depth++
		if p.depth > 100 {
			return nil, errBadQuery
		}
		p.i++
		e, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.i >= len(p.toks) || p.toks[p.i].kind != ')' {
			return nil, errBadQuery
		}
		p.i++
		p.depth--
		return e, nil
	}
	return p.cond()
}

// values reads one value or a [list].
func (p *qParser) values() ([]qTok, error) {
	if p.i >= len(p.toks) {
		return nil, errBadQuery
	}
	t := p.toks[p.i]
	if t.kind != '[' {
		if t.kind != 's' && t.kind != 'n' && t.kind != 'w' {
			return nil, errBadQuery
		}
		p.i++
		return []qTok{t}, nil
	}
	p.i++
	var out []qTok
	for {
		if p.i >= len(p.toks) {
			return nil, errBadQuery
		}
		t := p.toks[p.i]
		if t.kind != 's' && t.kind != 'n' && t.kind != 'w' {
			return nil, errBadQuery
		}
		out = append(out, t)
		p.i++
		if p.i < len(p.toks) && p.toks[p.i].kind == ',' {
			p.i++
			continue
		}
		if p.i < len(p.toks) && p.toks[p.i].kind == ']' {
			p.i++
			return out, nil
		}
		return nil, errBadQuery
	}
}

func (p *qParser) cond() (qPred, error) {
	ft := p.toks[p.i]
	if ft.kind != 'w' {
		return nil, errBadQuery
	}
	f, ok := qFields[strings.ToLower(ft.text)]
	if !ok {
		return nil, &qError{detail: fmt.Sprintf("Unknown field name '%s' in the search query.", ft.text)}
	}
	p.i++
	if p.i >= len(p.toks) || p.toks[p.i].kind != 'w' {
		return nil, errBadQuery
	}
	op := strings.ToUpper(p.toks[p.i].text)
	p.i++
	negate := false
	if base, found := strings.CutSuffix(op, "_NOT"); found {
		op, negate = base, true
	}
	var pred qPred
	var err error
	if op == "EMPTY" {
		col := f.col
		pred = func(r *ceRow) bool { return r.Value(col).IsNull() }
	} else {
		vals, verr := p.values()
		if verr != nil {
			return nil, verr
		}
		if op == "BETWEEN" && len(vals) == 1 {
			more, merr := p.values()
			if merr != nil {
				return nil, merr
			}
			vals = append(vals, more...)
		}
		pred, err = p.build(f, op, vals)
		if err != nil {
			return nil, err
		}
	}
	if negate {
		inner := pred
		pred = func(r *ceRow) bool { return !inner(r) }
	}
	return pred, nil
}

func (p *qParser) dateInterval(t qTok, dateOnly bool) (int64, int64, error) {
	c, hasTime, err := p.pref.Parse(t.text)
	if err != nil || t.kind == '[' {
		return 0, 0, &qError{detail: fmt.Sprintf("Invalid search query. Search error occurred: Parse of date/time \"%s\" failed with date format \"%s\" in time zone %s",
			t.text, p.pref, p.tz)}
	}
	if hasTime && !dateOnly {
		return c, c + 60, nil
	}
	d := nstime.TruncDay(c)
	return d, d + nstime.SecondsPerDay, nil
}

func (p *qParser) build(f qField, op string, vals []qTok) (qPred, error) {
	col := f.col
	switch f.kind {
	case qDateTime, qDate:
		if len(vals) != 1 {
			return nil, errBadQuery
		}
		a, b, err := p.dateInterval(vals[0], f.kind == qDate)
		if err != nil {
			return nil, err
		}
		var test func(t int64) bool
		switch op {
		case "ON":
			test = func(t int64) bool { return t >= a && t < b }
		case "AFTER":
			test = func(t int64) bool { return t >= b }
		case "BEFORE":
			test = func(t int64) bool { return t < a }
		case "ON_OR_AFTER":
			test = func(t int64) bool { return t >= a }
		case "ON_OR_BEFORE":
			test = func(t int64) bool { return t < b }
		default:
			return nil, errBadQuery
		}
		return func(r *ceRow) bool {
			v := r.Value(col)
			return !v.IsNull() && test(v.Time)
		}, nil
	case qString, qEnum:
		var want []string
		for _, v := range vals {
			want = append(want, strings.ToLower(v.text))
		}
		var test func(s string) bool
		switch {
		case op == "IS" && len(want) == 1:
			test = func(s string) bool { return s == want[0] }
		case op == "ANY_OF" && f.kind == qEnum:
			test = func(s string) bool {
				for _, w := range want {
					if s == w {
						return true
					}
				}
				return false
			}
		case op == "CONTAIN" && f.kind == qString && len(want) == 1:
			test = func(s string) bool { return strings.Contains(s, want[0]) }
		case op == "START_WITH" && f.kind == qString && len(want) == 1:
			test = func(s string) bool { return strings.HasPrefix(s, want[0]) }
		case op == "END_WITH" && f.kind == qString && len(want) == 1:
			test = func(s string) bool { return strings.HasSuffix(s, want[0]) }
		default:
			return nil, errBadQuery
		}
		return func(r *ceRow) bool {
			v := r.Value(col)
			return !v.IsNull() && test(strings.ToLower(v.Str))
		}, nil
	case qBool:
		if op != "IS" || len(vals) != 1 {
			return nil, errBadQuery
		}
		var want string
		switch strings.ToLower(vals[0].text) {
		case "true", "t":
			want = "T"
		case "false", "f":
			want = "F"
		default:
			return nil, errBadQuery
		}
		return func(r *ceRow) bool { return r.Value(col).Str == want }, nil
	}
	// Numbers and references.
	nums := make([]float64, 0, len(vals))
	for _, v := range vals {
		n, err := strconv.ParseFloat(v.text, 64)
		if err != nil || v.kind == 'w' {
			return nil, errBadQuery
		}
		nums = append(nums, n)
	}
	var test func(x float64) bool
	one := len(nums) == 1
	switch {
	case op == "ANY_OF":
		test = func(x float64) bool {
			for _, n := range nums {
				if x == n {
					return true
				}
			}
			return false
		}
	case op == "EQUAL" && one:
		test = func(x float64) bool { return x == nums[0] }
	case op == "GREATER" && one:
		test = func(x float64) bool { return x > nums[0] }
	case op == "GREATER_OR_EQUAL" && one:
		test = func(x float64) bool { return x >= nums[0] }
	case op == "LESS" && one:
		test = func(x float64) bool { return x < nums[0] }
	case op == "LESS_OR_EQUAL" && one:
		test = func(x float64) bool { return x <= nums[0] }
	case op == "BETWEEN" && len(nums) == 2:
		test = func(x float64) bool { return x >= nums[0] && x <= nums[1] }
	default:
		return nil, errBadQuery
	}
	return func(r *ceRow) bool {
		v := r.Value(col)
		return v.Kind == suiteql.KindNumber && test(v.Num)
	}, nil
}
