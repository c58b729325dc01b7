package jsonl

import "errors"

// ErrClosed is returned by Write and Ping after Close.
var ErrClosed = errors.New("jsonl sink closed")
