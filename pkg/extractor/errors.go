package extractor

import "errors"

// ErrLeaseHeld is wrapped by Lease.Do when another replica keeps the
// account's leader lease for longer than the caller would wait.
var ErrLeaseHeld = errors.New("leader lease held by another replica")
