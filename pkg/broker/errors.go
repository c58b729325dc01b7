package broker

import (
	"errors"
	"fmt"
)

// ErrConsumerNotFound means a Subscriber was asked to bind to a durable
// consumer that has not been provisioned.
var ErrConsumerNotFound = errors.New("durable consumer not found")

// ErrClosed is returned by a closed Publisher or Subscriber.
var ErrClosed = errors.New("broker closed")

type permanentError struct {
	err   error
	class string
}

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err as one that retrying cannot fix (bad input). class is a
// short snake_case error class for the dead-letter header; "" means
// "permanent". Permanent(nil) is nil.
func Permanent(err error, class string) error {
	if err == nil {
		return nil
	}
	if class == "" {
		class = "permanent"
	}
	return &permanentError{err: err, class: class}
}

// IsPermanent reports whether err (or an error it wraps) was marked Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// ErrorClass is the dead-letter error class of err: the class given to
// Permanent, "panic" for a recovered panic, "timeout" for a handler timeout,
// "transient" otherwise.
func ErrorClass(err error) string {
	var p *permanentError
	if errors.As(err, &p) {
		return p.class
	}
	var pe *PanicError
	if errors.As(err, &pe) {
		return "panic"
	}
	return "transient"
}

// PanicError is a panic recovered in a handler.
type PanicError struct {
	Value any
	Stack string
}

func (e *PanicError) Error() string { return fmt.Sprintf("panic in handler: %v", e.Value) }
