package tokencache

import "errors"

// ErrInvalidConfig is returned by every method of a Store built with a nil
// KeyValue or an invalid account id. Missing tokens and held locks are
// reported with netsuite.ErrNoToken and netsuite.ErrLocked, as the
// netsuite.TokenStore contract says.
var ErrInvalidConfig = errors.New("tokencache: invalid configuration")
