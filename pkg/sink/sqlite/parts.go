package sqlite

import (
	"sync"
	"sync/atomic"

	"github.com/nsflow/nsflow/pkg/calendarevent"
	"github.com/nsflow/nsflow/pkg/sink/internal/sqlrow"
)

// partRows is how many rows of a batch are flattened and bound together.
// When a Write is the only one in progress, a batch larger than one part is
// prepared by a goroutine while the transaction writes the parts before it:
// on a few cores, preparing (mostly JSON encoding when the events come
// without it) then overlaps the database's work instead of preceding it.
// Concurrent Writes prepare their whole batch before they take the
// connection: their preparations overlap each other's statements already,
// and a transaction waiting for its next part would leave the connection
// idle.
const partRows = 256

// part is a key-ordered range of a batch's rows, ready to write.
type part struct {
	tombs []*sqlrow.Row
	live  *liveBatch
	err   error // the first event of the range that cannot be stored
}

// parts hands out the parts of a batch in order as they become ready.
type parts struct {
	all   []part
	ready []chan struct{} // ready[k] is closed once all[k] is set
	k     int
	quit  atomic.Bool
	done  sync.WaitGroup
}

// prepareParts prepares the rows order names (sqlrow.Plan) in parts: before
// it returns, or, when pipeline is set, on a goroutine.
func prepareParts(events []*calendarevent.Event, encoded [][]byte, order []int, loadedAt string, pipeline bool) *parts {
	n := (len(order) + partRows - 1) / partRows
	ps := &parts{all: make([]part, n), ready: make([]chan struct{}, n)}
	for k := range ps.ready {
		ps.ready[k] = make(chan struct{})
	}
	prepare := func(k int) {
		lo := k * partRows
		ps.all[k] = preparePart(events, encoded, order[lo:min(lo+partRows, len(order))], lo, loadedAt)
		close(ps.ready[k])
	}
	if !pipeline {
		for k := range n {
			prepare(k)
		}
		return ps
	}
	ps.done.Go(func() {
		for k := 0; k < n && !ps.quit.Load(); k++ {
			prepare(k)
		}
	})
	return ps
}

// next returns the next part, waiting for it, or nil after the last.
func (ps *parts) next() *part {
	if ps.k == len(ps.all) {
		return nil
	}
	<-ps.ready[ps.k]
	ps.k++
	return &ps.all[ps.k-1]
}

// stop ends the preparation of parts not yet handed out and waits for it.
func (ps *parts) stop() {
	ps.quit.Store(true)
	ps.done.Wait()
}

// preparePart prepares the rows order names, which are at positions lo… of
// the batch's plan, spread over the available cores.
func preparePart(events []*calendarevent.Event, encoded [][]byte, order []int, lo int, loadedAt string) part {
	rows := make([]sqlrow.Row, len(order))
	errs := make([]error, len(order))
	parallel(len(order), func(lo, hi int) {
		for k := lo; k < hi; k++ {
			i := order[k]
			var enc []byte
			if encoded != nil {
				enc = encoded[i]
			}
			rows[k], errs[k] = sqlrow.Flatten(i, events[i], enc)
		}
	})
	for _, err := range errs {
		if err != nil {
			return part{err: err}
		}
	}
	var (
		p    part
		live []*sqlrow.Row
		pos  []int
	)
	for i := range rows {
		if rows[i].Deleted {
			p.tombs = append(p.tombs, &rows[i])
		} else {
			live = append(live, &rows[i])
			pos = append(pos, lo+i)
		}
	}
	p.live = prepareLive(live, pos, loadedAt)
	return p
}
