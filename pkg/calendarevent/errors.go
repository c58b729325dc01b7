package calendarevent

import "errors"

var (
	// ErrMalformed means a payload is not valid JSON of the expected shape.
	ErrMalformed = errors.New("malformed payload")
	// ErrInvalid means a payload decoded but breaks the contract (missing id, unknown kind...).
	ErrInvalid = errors.New("invalid payload")
	// ErrUnsupportedSchema means a message carries a schema version this build does not know.
	ErrUnsupportedSchema = errors.New("unsupported schema version")
)
