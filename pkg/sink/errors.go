package sink

import (
	"errors"

	"github.com/nsflow/nsflow/pkg/sink/internal/core"
)

// RecordError is one record of a batch that the backend did not accept:
// Index is its position in the slice passed to Write, Err the reason
// (for AEP the inlet's per-message status and message), and Permanent says
// whether sending the record again cannot succeed.
type RecordError = core.RecordError

// PartialError reports that the records in Failed were not accepted while
// every other record of the batch was committed. Only sinks without batch
// atomicity (AEP) return it; use errors.As to get it.
type PartialError = core.PartialError

// ErrUnknownScheme is returned by Open for a URL no sink accepts.
var ErrUnknownScheme = errors.New("unknown sink URL scheme")

// Permanent marks err as permanent: retrying the same batch cannot succeed.
// Sinks use it for errors caused by a record; the loader splits the batch.
func Permanent(err error) error { return core.Permanent(err) }

// IsPermanent reports whether err, returned by Write for a whole batch, will
// fail again on retry (e.g. a constraint violation caused by one record). A
// *PartialError is not itself permanent: inspect its records.
func IsPermanent(err error) bool { return core.IsPermanent(err) }
