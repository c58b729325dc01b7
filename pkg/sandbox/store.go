package sandbox

import (
	"slices"
	"sort"
	"sync"

	"github.com/nsflow/nsflow/pkg/sandbox/nstime"
)

var deleteContexts = []enumVal{{"USER_INTERFACE", "User Interface"}, {"REST_WEBSERVICES", "REST Web Services"},
	{"CSV_IMPORT", "CSV Import"}, {"WEBSERVICES", "Web Services"}, {"SCHEDULED", "Scheduled Script"}}

const (
	ctxUserInterface = 0
	ctxREST          = 1
)

// delRow is one deletedrecord row.
type delRow struct {
	c         int64 // civil deleteddate in the account zone
	unix      int64
	id        int64
	name      string
	deletedBy int64
	context   uint8
}

func delLess(a, b delRow) bool {
	if a.c != b.c {
		return a.c < b.c
	}
	return a.id < b.id
}

// lmKey orders events by (civil last-modified time, id).
type lmKey struct {
	c  int64
	id int64
}

func (a lmKey) less(b lmKey) bool {
	if a.c != b.c {
		return a.c < b.c
	}
	return a.id < b.id
}

// bitset is a fixed-size set of small integers.
type bitset []uint64

func newBitset(n int) bitset    { return make(bitset, (n+63)/64) }
func (b bitset) has(i int) bool { return b[i>>6]&(1<<(uint(i)&63)) != 0 }
func (b bitset) set(i int)      { b[i>>6] |= 1 << (uint(i) & 63) }

// store holds the event data set: the generated base events as compact
// keys (IDs, created and last-modified times, and a permutation ordering
// them by (last-modified, id)), plus an overlay of events created, changed
// or deleted since. Generated events are materialised on demand.
//
// All fields are guarded by mu; readers (queries) hold it shared for the
// whole of a request, writers exclusively.
type store struct {
	mu   sync.RWMutex
	gen  *generator
	zone *nstime.Zone

	// Base events, by index i (ascending id).
	ids      []int64
	created  []int64
	modified []int64

	// Last-modified order of base events.
	ord  []int32 // position → base index
	ordC []int64 // position → civil last-modified
	pos  []int32 // base index → position

	gonePos  bitset  // positions removed from the base order (changed or deleted)
	goneList []int32 // the same, sorted, for counting

	deletedBase bitset  // base indexes deleted
	deletedList []int32 // the same, sorted

	// Overlay: current data of changed base events and created events.
	over     map[int64]*event
	overKeys []lmKey // sorted
	newIDs   []int64 // created events still alive, ascending
	nextID   int64
	extIDs   map[string]int64 // external IDs of overlay events

	deleted []delRow // sorted by (c, id)
}

func newStore(g *generator, n int) *store {
	k := g.genKeys(n)
	s := &store{gen: g, zone: g.acct, ids: k.ids, created: k.created, modified: k.modified,
		over: map[int64]*event{}, extIDs: map[string]int64{}}
	s.ord = make([]int32, n)
	s.ordC = make([]int64, n)
	s.pos = make([]int32, n)
	civ := make([]int64, n)
	for i := range n {
		s.ord[i] = int32(i)
		civ[i] = g.acct.ToCivil(k.modified[i])
	}
	slices.SortFunc(s.ord, func(a, b int32) int {
		if civ[a] != civ[b] {
			if civ[a] < civ[b] {
				return -1
			}
			return 1
		}
		return int(a - b) // ids ascend with the index
	})
	for p, i := range s.ord {
		s.ordC[p] = civ[i]
		s.pos[i] = int32(p)
	}
	s.gonePos = newBitset(n)
	s.deletedBase = newBitset(n)
	s.nextID = 1000
	if n > 0 {
		s.nextID = k.ids[n-1] + 1
	}
	for i := range k.deleted {
		k.deleted[i].c = g.acct.ToCivil(k.deleted[i].unix)
	}
	slices.SortFunc(k.deleted, func(a, b delRow) int {
		switch {
		case delLess(a, b):
			return -1
		case delLess(b, a):
			return 1
		}
		return 0
	})
	s.deleted = k.deleted
	return s
}

func insertSorted32(list []int32, v int32) []int32 {
	i := sort.Search(len(list), func(i int) bool { return list[i] >= v })
	if i < len(list) && list[i] == v {
		return list
	}
	return slices.Insert(list, i, v)
}

func countIn32(list []int32, lo, hi int32) int {
	a := sort.Search(len(list), func(i int) bool { return list[i] >= lo })
	b := sort.Search(len(list), func(i int) bool { return list[i] >= hi })
	return b - a
}

// baseIndex returns the base index of id, or -1.
func (s *store) baseIndex(id int64) int {
	i := sort.Search(len(s.ids), func(i int) bool { return s.ids[i] >= id })
	if i < len(s.ids) && s.ids[i] == id {
		return i
	}
	return -1
}

// liveCount returns the number of events.
func (s *store) liveCount() int {
	return len(s.ids) - len(s.deletedList) + len(s.newIDs)
}

// get returns the current event id.
func (s *store) get(id int64) (*event, bool) {
	if e, ok := s.over[id]; ok {
		return e, true
	}
	i := s.baseIndex(id)
	if i < 0 || s.deletedBase.has(i) {
		return nil, false
	}
	return s.gen.event(id, s.created[i], s.modified[i]), true
}

// exists reports whether event id exists, without generating it.
func (s *store) exists(id int64) bool {
	if _, ok := s.over[id]; ok {
		return true
	}
	i := s.baseIndex(id)
	return i >= 0 && !s.deletedBase.has(i)
}

// attendeesOf returns the attendee sublist of a live event.
func (s *store) attendeesOf(id int64) []attendee {
	if e, ok := s.over[id]; ok {
		return e.attendees
	}
	return s.gen.attendees(id)
}

func (s *store) attendeeCountOf(id int64) int {
	if e, ok := s.over[id]; ok {
		return len(e.attendees)
	}
	return s.gen.attendeeCount(id)
}

func (s *store) resourcesOf(id int64) []int64 {
	if e, ok := s.over[id]; ok {
		return e.resources
	}
	return s.gen.resources(id)
}

// materialise returns a full, private copy of a live event, sublists
// included.
func (s *store) materialise(id int64) (*event, bool) {
	if e, ok := s.over[id]; ok {
		return e.clone(), true
	}
	e, ok := s.get(id)
	if !ok {
		return nil, false
	}
	e.attendees = s.gen.attendees(id)
	e.resources = s.gen.resources(id)
	return e, true
}

func (s *store) removeOverKey(k lmKey) {
	i := sort.Search(len(s.overKeys), func(i int) bool { return !s.overKeys[i].less(k) })
	if i < len(s.overKeys) && s.overKeys[i] == k {
		s.overKeys = slices.Delete(s.overKeys, i, i+1)
	}
}

func (s *store) addOverKey(k lmKey) {
	i := sort.Search(len(s.overKeys), func(i int) bool { return !s.overKeys[i].less(k) })
	s.overKeys = slices.Insert(s.overKeys, i, k)
}

// put publishes e (a new or changed event) in the overlay.
func (s *store) put(e *event) {
	if old, ok := s.over[e.id]; ok {
		s.removeOverKey(lmKey{c: s.zone.ToCivil(old.modified), id: old.id})
		if old.externalID != "" && s.extIDs[old.externalID] == e.id {
			delete(s.extIDs, old.externalID)
		}
	} else if i := s.baseIndex(e.id); i >= 0 {
		p := s.pos[i]
		s.gonePos.set(int(p))
		s.goneList = insertSorted32(s.goneList, p)
	}
	s.over[e.id] = e
	s.addOverKey(lmKey{c: s.zone.ToCivil(e.modified), id: e.id})
	if e.externalID != "" {
		s.extIDs[e.externalID] = e.id
	}
}

// create adds a new event and returns its ID.
func (s *store) create(e *event) int64 {
	e.id = s.nextID
	s.nextID++
	s.newIDs = append(s.newIDs, e.id)
	s.put(e)
	return e.id
}

// remove deletes event id and records it in deletedrecord.
func (s *store) remove(id int64, now int64, by int64, context uint8) bool {
	var title string
	if e, ok := s.over[id]; ok {
		title = e.title
		s.removeOverKey(lmKey{c: s.zone.ToCivil(e.modified), id: id})
		delete(s.over, id)
		if e.externalID != "" && s.extIDs[e.externalID] == id {
			delete(s.extIDs, e.externalID)
		}
		if k, found := slices.BinarySearch(s.newIDs, id); found {
			s.newIDs = slices.Delete(s.newIDs, k, k+1)
		}
	}
	if i := s.baseIndex(id); i >= 0 {
		if s.deletedBase.has(i) {
			return false
		}
		if title == "" {
			title = s.gen.event(id, s.created[i], s.modified[i]).title
		}
		s.deletedBase.set(i)
		s.deletedList = insertSorted32(s.deletedList, int32(i))
		p := s.pos[i]
		if !s.gonePos.has(int(p)) {
			s.gonePos.set(int(p))
			s.goneList = insertSorted32(s.goneList, p)
		}
	} else if title == "" {
		return false
	}
	row := delRow{c: s.zone.ToCivil(now), unix: now, id: id, name: title, deletedBy: by, context: context}
	k := sort.Search(len(s.deleted), func(k int) bool { return !delLess(s.deleted[k], row) })
	s.deleted = slices.Insert(s.deleted, k, row)
	return true
}

// byExternalID resolves an external ID.
func (s *store) byExternalID(ext string) (int64, bool) {
	if id, ok := s.extIDs[ext]; ok {
		return id, true
	}
	// Generated events carry "ext-evt-<id>" when they have one.
	const prefix = "ext-evt-"
	if len(ext) <= len(prefix) || ext[:len(prefix)] != prefix {
		return 0, false
	}
	var id int64
	for _, c := range ext[len(prefix):] {
		if c < '0' || c > '9' || id > 1e15 {
			return 0, false
		}
		id = id*10 + int64(c-'0')
	}
	if _, changed := s.over[id]; changed {
		return 0, false
	}
	e, ok := s.get(id)
	if !ok || e.externalID != ext {
		return 0, false
	}
	return id, true
}
