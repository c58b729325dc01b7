// Package core holds the types pkg/sink and its sink subpackages share:
// pkg/sink imports the subpackages (for Open), so they cannot import it back.
// pkg/sink re-exports everything here under the same names; use those.
package core

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// DeleteMode says what a stateful sink does with a tombstone.
type DeleteMode int

const (
	// DeleteRow removes the event's row (and its attendee rows) and records a
	// tombstone so that an older version replayed later does not resurrect it.
	DeleteRow DeleteMode = iota
	// MarkDeleted keeps the row with deleted = true and deleted_at set.
	MarkDeleted
)

// String returns "delete-row" or "mark-deleted".
func (m DeleteMode) String() string {
	switch m {
	case DeleteRow:
		return "delete-row"
	case MarkDeleted:
		return "mark-deleted"
	default:
		return "DeleteMode(" + strconv.Itoa(int(m)) + ")"
	}
}

// ParseDeleteMode parses "delete-row" (or "delete", "") and "mark-deleted"
// (or "mark").
func ParseDeleteMode(s string) (DeleteMode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "delete-row", "delete_row", "delete":
		return DeleteRow, nil
	case "mark-deleted", "mark_deleted", "mark":
		return MarkDeleted, nil
	default:
		return 0, fmt.Errorf("unknown delete mode %q (want delete-row or mark-deleted)", s)
	}
}

// Valid reports whether m is one of the defined modes.
func (m DeleteMode) Valid() bool { return m == DeleteRow || m == MarkDeleted }

// RecordError is one record of a batch that the backend did not accept.
type RecordError struct {
	// Index is the record's position in the slice passed to Write.
	Index int
	// Err says why; for AEP it carries the inlet's per-message status and message.
	Err error
	// Permanent is true when sending the same record again cannot succeed
	// (e.g. AEP answered 400 for it); false when it failed transiently and
	// may be retried on its own.
	Permanent bool
}

// Error describes the failed record by index; it never contains record content.
func (e RecordError) Error() string {
	kind := "transient"
	if e.Permanent {
		kind = "permanent"
	}
	return fmt.Sprintf("record %d (%s): %v", e.Index, kind, e.Err)
}

// Unwrap returns the cause.
func (e RecordError) Unwrap() error { return e.Err }

// PartialError reports that some records of a batch failed while every other
// record of the batch was committed. Only sinks without batch atomicity
// (AEP) return it.
type PartialError struct {
	// Failed lists the failed records, in index order.
	Failed []RecordError
}

// Error summarises the failures.
func (e *PartialError) Error() string {
	perm := 0
	for _, f := range e.Failed {
		if f.Permanent {
			perm++
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d record(s) failed (%d permanent, %d transient)", len(e.Failed), perm, len(e.Failed)-perm)
	if len(e.Failed) > 0 {
		fmt.Fprintf(&b, ", first: %v", e.Failed[0])
	}
	return b.String()
}

// Unwrap returns the record errors, so errors.Is/As see their causes.
func (e *PartialError) Unwrap() []error {
	errs := make([]error, len(e.Failed))
	for i := range e.Failed {
		errs[i] = e.Failed[i]
	}
	return errs
}

// Permanent marks err as permanent: retrying the same batch cannot succeed.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// IsPermanent reports whether err, a whole-batch error, will fail again on
// retry. A *PartialError is not permanent as such: inspect its records.
func IsPermanent(err error) bool {
	if err == nil {
		return false
	}
	var pe *PartialError
	if errors.As(err, &pe) {
		return false
	}
	var p *permanentError
	return errors.As(err, &p)
}
