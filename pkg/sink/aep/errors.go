package aep

import (
	"errors"
	"fmt"
	"time"
)

// Errors the sink returns (wrapped).
var (
	// ErrRecordTooLarge: one record's message alone exceeds the request limit.
	ErrRecordTooLarge = errors.New("record exceeds the inlet's request size limit")
	// ErrUnauthorized: the inlet refused the credentials (401/403), even
	// after a fresh token, or authentication is not configured.
	ErrUnauthorized = errors.New("inlet refused authorization")
)

// InletError is a status the inlet returned, for a message or a request.
type InletError struct {
	Status int
	// Message is AEP's explanation (per-message "message", or the problem
	// document's title and report message), truncated.
	Message string
	// RetryAfter is the inlet's Retry-After, when it sent one.
	RetryAfter time.Duration
}

// Error describes the status and AEP's message.
func (e *InletError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("aep inlet status %d", e.Status)
	}
	return fmt.Sprintf("aep inlet status %d: %s", e.Status, e.Message)
}
