package sandbox

import (
	"math"
	"strconv"
	"time"

	"github.com/nsflow/nsflow/pkg/sandbox/nstime"
)

// rng is a splitmix64 generator: cheap, and seeded per (seed, record,
// stream) so that any record can be derived on demand.
type rng struct{ s uint64 }

func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func newRNG(seed, stream uint64) *rng {
	r := mkRNG(seed, stream)
	return &r
}

func mkRNG(seed, stream uint64) rng {
	return rng{s: mix64(seed ^ mix64(stream))}
}

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func (r *rng) intn(n int) int { return int(r.next() % uint64(n)) }

func (r *rng) float() float64 { return float64(r.next()>>11) / (1 << 53) }

func (r *rng) chance(p float64) bool { return r.float() < p }

// Streams of the generator; each record field group draws from its own.
const (
	streamSlot = iota + 1
	streamKeys
	streamEvent
	streamRefs
	streamAttendees
	streamResources
	streamDeleted
)

func recStream(id int64, stream uint64) uint64 { return uint64(id)<<8 | stream }

var eventZones = []string{"", "", "", "", "America/Los_Angeles", "America/New_York", "America/Chicago",
	"Europe/London", "Europe/Paris", "Asia/Tokyo", "Australia/Sydney", "Asia/Kolkata", "America/Sao_Paulo"}

var (
	titleFixed = []string{"Quarterly review", "Réunion <b>Q3</b> — 東京", "Sprint planning", "Board meeting 🚀",
		"Lunch & learn: Go generics", "All-hands", "Budget sync", "Offsite prep", "定例ミーティング", "Retro"}
	messages = []string{
		"<p>Agenda:</p><ul><li>Budget review</li><li>Q&amp;A</li></ul>",
		"Bring Monthly Results<br />Thanks!",
		"Let's discuss the \"pricing\" proposal & next steps.\nDial-in: +1 (555) 010-4477",
		"Réunion trimestrielle — merci de confirmer 🙏",
		"会議の資料を事前に確認してください。",
		"<b>Important:</b> contract renewal <a href=\"https://example.com/x?a=1&b=2\">link</a>",
		"Tab\tseparated\tnotes\r\nline two",
		"Quarterly review<br />Bring results",
	}
	locations = []string{"Conference Room A", "Zoom", "Teams: https://teams.microsoft.com/l/meetup-join/19%3a", "Café West",
		"東京オフィス 3F", "Customer site", "Board Room", "Phone"}
	recurrences = []string{"Every week on Monday", "Every day", "Every 2 weeks on Tuesday, Thursday",
		"Every month on day 15", "Every weekday", "Every year on March 4"}
	notes = []string{"Follow up with legal", "Needs projector", "Customer asked for résumé of last call",
		"Éviter les lundis", "🚗 parking validated", "Budget: $12,500 <approx>"}
)

// zoneInfo lists the civil days on which a zone changes its offset.
type zoneInfo struct {
	name    string
	dstDays []int64
}

// generator derives events deterministically from (seed, id).
type generator struct {
	seed  uint64
	dir   *directory
	now   int64 // unix
	acct  *nstime.Zone
	zones map[string]*zoneInfo
}

func newGenerator(seed int64, dir *directory, now time.Time, acct *nstime.Zone) *generator {
	g := &generator{seed: uint64(seed), dir: dir, now: now.Unix(), acct: acct, zones: map[string]*zoneInfo{}}
	from, to := now.AddDate(-3, 0, 0), now.AddDate(1, 0, 0)
	for _, name := range append([]string{acct.Location().String()}, eventZones...) {
		if _, ok := g.zones[name]; ok || name == "" {
			continue
		}
		loc, err := time.LoadLocation(name)
		if err != nil {
			continue
		}
		zi := &zoneInfo{name: name}
		for t := from.In(loc); t.Before(to); {
			_, end := t.ZoneBounds()
			if end.IsZero() || !end.After(t) {
				break
			}
			if end.Before(to) {
				_, off := end.Add(-time.Second).Zone()
				zi.dstDays = append(zi.dstDays, nstime.Days(end.Unix()+int64(off)))
			}
			t = end.In(loc)
		}
		g.zones[name] = zi
	}
	return g
}

// refs are the references drawn before the rest of the event, so that
// attendee generation can use them without generating the whole event.
type refs struct {
	organizer, owner, company, contact int64
}

func (g *generator) refs(id int64) refs {
	r := mkRNG(g.seed, recStream(id, streamRefs))
	var f refs
	f.organizer = int64(employeeBase + r.intn(employeeCount))
	f.owner = f.organizer
	if r.chance(0.2) {
		f.owner = int64(employeeBase + r.intn(employeeCount))
	}
	if r.chance(0.6) {
		f.company = int64(customerBase + r.intn(customerCount))
		if r.chance(0.65) {
			// A contact of that company when it has one, else any contact.
			k := r.intn(contactCount)
			for j := range contactCount {
				c := (k + j) % contactCount
				if g.dir.contactOf[c] == f.company {
					k = c
					break
				}
			}
			f.contact = int64(contactBase + k)
		}
	}
	return f
}

// event generates the base event id with the given keys.
func (g *generator) event(id, created, modified int64) *event {
	e := &event{}
	g.eventInto(e, id, created, modified)
	return e
}

// eventInto generates the base event id into e (overwriting it).
func (g *generator) eventInto(e *event, id, created, modified int64) {
	r := mkRNG(g.seed, recStream(id, streamEvent))
	f := g.refs(id)
	*e = event{id: id, created: created, modified: modified, organizer: f.organizer, owner: f.owner,
		company: f.company, contact: f.contact, remMinutes: -1}
	// Title.
	switch k := r.intn(16); {
	case k < len(titleFixed):
		e.title = titleFixed[k]
	case k == 10 && f.company != 0:
		e.title = "Kickoff: " + g.dir.name(kindCustomer, f.company)
	case k == 11 && f.contact != 0:
		e.title = "Call with " + g.dir.name(kindContact, f.contact)
	case k == 12 && f.company != 0:
		e.title = "Follow-up \"pricing\" with " + g.dir.name(kindCustomer, f.company)
	case k == 13:
		e.title = "1:1 " + g.dir.name(kindEmployee, f.organizer)
	case k == 14:
		e.title = "Sprint planning #" + strconv.Itoa(1+r.intn(120))
	default:
		e.title = "Demo for " + g.dir.name(kindCustomer, int64(customerBase+r.intn(customerCount)))
	}
	if r.chance(0.8) {
		e.message = messages[r.intn(len(messages))]
	}
	if r.chance(0.7) {
		e.location = locations[r.intn(len(locations))]
	}
	e.timezone = eventZones[r.intn(len(eventZones))]
	if r.chance(0.2) {
		e.externalID = "ext-evt-" + strconv.FormatInt(id, 10)
	}
	// When: around the creation date.
	createdDay := nstime.Days(g.acct.ToCivil(created))
	e.startDay = createdDay + int64(r.intn(81)) - 20
	switch k := r.float(); {
	case k < 0.15:
		e.allDay, e.timed = true, false
		e.startSec, e.endSec = 8*3600, 18*3600
	case k < 0.18:
		// Crosses midnight: the end time is not after the start time.
		e.timed = true
		e.startSec = int32(22*3600 + r.intn(8)*900)
		e.endSec = int32(r.intn(9) * 900)
	case k < 0.20:
		// On a daylight-saving change, in the skipped or repeated hour.
		e.timed = true
		zone := e.timezone
		if zone == "" {
			zone = g.acct.Location().String()
		}
		if zi := g.zones[zone]; zi != nil && len(zi.dstDays) > 0 {
			best := zi.dstDays[0]
			for _, d := range zi.dstDays {
				if d >= e.startDay {
					best = d
					break
				}
				best = d
			}
			e.startDay = best
		}
		e.startSec = int32(3600 + r.intn(5)*900)
		e.endSec = int32(3*3600 + 1800)
	default:
		e.timed = true
		e.startSec = int32(7*3600 + r.intn(44)*900)
		e.endSec = e.startSec + int32(900*(1+r.intn(12)))
		if e.endSec >= 24*3600 {
			e.endSec = 23*3600 + 45*60
		}
	}
	nowDay := nstime.Days(g.acct.ToCivil(g.now))
	past := e.startDay < nowDay
	switch k := r.float(); {
	case past && k < 0.5:
		e.status = statusComplete
		e.hasDone, e.doneDay = true, e.startDay
	case k < 0.62:
		e.status = statusConfirmed
	case k < 0.85:
		e.status = statusTentative
	default:
		e.status = statusCancelled
	}
	switch k := r.float(); {
	case k < 0.8:
		e.accessLevel = 0
	case k < 0.9:
		e.accessLevel = 1
	default:
		e.accessLevel = 2
	}
	if r.chance(0.1) {
		e.recurrence = recurrences[r.intn(len(recurrences))]
	}
	if r.chance(0.5) {
		e.remMinutes = int16(reminderMinutes[r.intn(len(reminderMinutes))])
		e.remType = uint8(1 + r.intn(2))
	}
	if r.chance(0.1) {
		e.supportCase = int64(supportCaseBase + r.intn(supportCaseCount))
	}
	if r.chance(0.1) {
		e.transaction = int64(transactionBase + r.intn(transactionCount))
	}
	if r.chance(0.05) {
		e.relatedItem = int64(itemBase + r.intn(itemCount))
	}
	if r.chance(0.7) {
		e.meetingType = int64(meetingTypeBase + r.intn(len(meetingTypes)))
	}
	e.billable = r.chance(0.3)
	if r.chance(0.5) {
		e.hasScore, e.score = true, float64(r.intn(51))/10
	}
	if r.chance(0.3) {
		e.notes = notes[r.intn(len(notes))]
	}
	if r.chance(0.2) {
		e.hasFollowUp, e.followUpDay = true, e.startDay+int64(1+r.intn(30))
	}
}

// attendeeCount returns how many attendees event id has (cheap).
func (g *generator) attendeeCount(id int64) int {
	r := mkRNG(g.seed, recStream(id, streamAttendees))
	return attendeeCountFrom(&r)
}

func attendeeCountFrom(r *rng) int {
	switch k := r.float(); {
	case k < 0.2:
		return 0
	case k < 0.35:
		return 1
	case k < 0.55:
		return 2
	case k < 0.7:
		return 3
	case k < 0.82:
		return 4
	case k < 0.92:
		return 5
	}
	return 6
}

// attendees generates the attendee sublist of base event id, sorted by
// entity.
func (g *generator) attendees(id int64) []attendee {
	r := mkRNG(g.seed, recStream(id, streamAttendees))
	n := attendeeCountFrom(&r)
	if n == 0 {
		return nil
	}
	f := g.refs(id)
	out := make([]attendee, 0, n)
	has := func(e int64) bool {
		for _, a := range out {
			if a.entity == e {
				return true
			}
		}
		return false
	}
	out = append(out, attendee{entity: f.organizer, attendance: 0, response: 0})
	for tries := 0; len(out) < n && tries < 4*n; tries++ {
		var ent int64
		switch {
		case f.contact != 0 && !has(f.contact):
			ent = f.contact
		case r.chance(0.6):
			ent = int64(employeeBase + r.intn(employeeCount))
		default:
			ent = int64(contactBase + r.intn(contactCount))
		}
		if has(ent) {
			continue
		}
		a := attendee{entity: ent}
		if r.chance(0.25) {
			a.attendance = 1
		}
		a.response = uint8(r.intn(len(responseEnum)))
		out = append(out, a)
	}
	sortAttendees(out)
	return out
}

// resources generates the resource sublist of base event id, sorted.
func (g *generator) resources(id int64) []int64 {
	r := mkRNG(g.seed, recStream(id, streamResources))
	var n int
	switch k := r.float(); {
	case k < 0.5:
		return nil
	case k < 0.85:
		n = 1
	default:
		n = 2
	}
	a := int64(resourceBase + r.intn(len(resourceNames)))
	if n == 1 {
		return []int64{a}
	}
	b := int64(resourceBase + r.intn(len(resourceNames)-1))
	if b >= a {
		b++
	}
	if b < a {
		a, b = b, a
	}
	return []int64{a, b}
}

// keys are the compact, always-resident facts of the base data set.
type keys struct {
	ids      []int64
	created  []int64
	modified []int64
	deleted  []delRow // history of deleted events, unsorted
}

// genKeys derives the IDs and timestamps of n base events: IDs from 1000
// upward with occasional gaps (events deleted before the sandbox started,
// which appear in deletedrecord), created times spread over the two years
// before now in ID order, and last-modified times at or after creation,
// some of them shared by several events (bulk updates).
func (g *generator) genKeys(n int) keys {
	const span = 730 * 24 * 3600
	start := g.now - span
	est := float64(n) + float64(n)/32 + 16
	grid := max(int64(60), int64(float64(span)*50/float64(max(n, 1))))
	k := keys{ids: make([]int64, 0, n), created: make([]int64, 0, n), modified: make([]int64, 0, n)}
	for slot := int64(0); len(k.ids) < n; slot++ {
		id := 1000 + slot
		r := mkRNG(g.seed, recStream(id, streamKeys))
		created := start + int64((float64(slot)+r.float())*span/est)
		if created > g.now {
			created = g.now
		}
		if r.intn(33) == 0 {
			// Deleted before the sandbox started.
			del := created + int64(float64(g.now-created)*r.float())
			dr := mkRNG(g.seed, recStream(id, streamDeleted))
			k.deleted = append(k.deleted, delRow{
				id: id, unix: del, name: g.event(id, created, created).title,
				deletedBy: int64(employeeBase + dr.intn(employeeCount)), context: uint8(dr.intn(len(deleteContexts))),
			})
			continue
		}
		mod := created
		switch u := r.float(); {
		case u < 0.45:
		case u < 0.6:
			t := created + int64(float64(g.now-created)*r.float())
			t = (t + grid - 1) / grid * grid
			if t <= g.now {
				mod = t
			}
		default:
			mod = created + int64(float64(g.now-created)*math.Pow(r.float(), 2))
		}
		k.ids = append(k.ids, id)
		k.created = append(k.created, created)
		k.modified = append(k.modified, mod)
	}
	return k
}
