package governor

import "errors"

var (
	// ErrInvalidConfig is wrapped by the constructors when their arguments
	// are unusable.
	ErrInvalidConfig = errors.New("governor: invalid configuration")

	// ErrClosed is returned by KV.Acquire after Close.
	ErrClosed = errors.New("governor: closed")
)
