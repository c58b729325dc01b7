// Package jsonl is the JSON Lines sink: an append log of canonical events,
// one calendarevent.Marshal encoding per line, for debugging and for feeding
// tools that read files.
//
// It is an append log, not a table: every version it is given is written, in
// the order given — stale versions and redeliveries included — and no version
// guard is applied (a reader that wants the current state folds the log with
// calendarevent.Event.Newer; ReadAll decodes a log). A Write appends its whole
// batch with one write(2) and then fsyncs the file, so a batch is on disk when
// Write returns. If the write fails the file is truncated back to where the
// batch started. One process should append to a given file; a line torn by a
// crash is cut off from the next batch by a newline at the next Open.
//
// "-" writes to standard output (no fsync).
package jsonl

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"

	"github.com/nsflow/nsflow/pkg/calendarevent"
	"github.com/nsflow/nsflow/pkg/sink/internal/core"
)

// Options configures Open.
type Options struct {
	// Logger receives operational logs (ids and counts only). Nil discards.
	Logger *slog.Logger
	// Stdout is where "-" writes; nil means os.Stdout.
	Stdout io.Writer
}

// Sink appends canonical events to a file or standard output.
type Sink struct {
	mu     sync.Mutex
	path   string
	f      *os.File  // nil for stdout
	w      io.Writer // f or stdout
	log    *slog.Logger
	buf    []byte
	closed bool
}

// Open opens path for appending (creating it with mode 0600: events carry
// personal data), or standard output for "-".
func Open(path string, opts Options) (*Sink, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if path == "" {
		return nil, errors.New("jsonl sink: empty path (use - for standard output)")
	}
	s := &Sink{path: path, log: opts.Logger}
	if path == "-" {
		s.w = opts.Stdout
		if s.w == nil {
			s.w = os.Stdout
		}
		return s, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open jsonl %s: %w", path, err)
	}
	if err := isolateTornLine(f, path); err != nil {
		_ = f.Close()
		return nil, err
	}
	s.f, s.w = f, f
	return s, nil
}

// isolateTornLine ends the file with a newline if a crash left a partial line.
func isolateTornLine(f *os.File, path string) error {
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat jsonl %s: %w", path, err)
	}
	if st.Size() == 0 {
		return nil
	}
	r, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open jsonl %s: %w", path, err)
	}
	defer r.Close()
	last := make([]byte, 1)
	if _, err := r.ReadAt(last, st.Size()-1); err != nil {
		return fmt.Errorf("read jsonl %s: %w", path, err)
	}
	if last[0] == '\n' {
		return nil
	}
	if _, err := f.Write([]byte{'\n'}); err != nil {
		return fmt.Errorf("repair jsonl %s: %w", path, err)
	}
	return nil
}

// Path returns the file path, or "-".
func (s *Sink) Path() string { return s.path }

// Write appends one line per event and fsyncs. Nothing is skipped: this is a
// log of every version received.
func (s *Sink) Write(ctx context.Context, events []*calendarevent.Event) error {
	if len(events) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("jsonl write: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	buf := s.buf[:0]
	for i, e := range events {
		if e == nil {
			return core.Permanent(fmt.Errorf("jsonl write: event %d is nil", i))
		}
		b, err := calendarevent.Marshal(e)
		if err != nil {
			return core.Permanent(fmt.Errorf("jsonl write: event %d: %w", i, err))
		}
		buf = append(append(buf, b...), '\n')
	}
	s.buf = buf
	if s.f == nil {
		if _, err := s.w.Write(buf); err != nil {
			return fmt.Errorf("jsonl write to stdout: %w", err)
		}
		return nil
	}
	st, err := s.f.Stat()
	if err != nil {
		return fmt.Errorf("jsonl write %s: %w", s.path, err)
	}
	if _, err := s.f.Write(buf); err != nil {
		if terr := s.f.Truncate(st.Size()); terr != nil {
			s.log.Error("jsonl truncate after failed write", "path", s.path, "error", terr)
		}
		return fmt.Errorf("jsonl write %s: %w", s.path, err)
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("jsonl fsync %s: %w", s.path, err)
	}
	return nil
}

// Ping reports whether the file is still open and reachable.
func (s *Sink) Ping(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.f != nil {
		if _, err := s.f.Stat(); err != nil {
			return fmt.Errorf("jsonl ping %s: %w", s.path, err)
		}
	}
	return nil
}

// Close syncs and closes the file (standard output is left open).
func (s *Sink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.f == nil {
		return nil
	}
	if err := errors.Join(s.f.Sync(), s.f.Close()); err != nil {
		return fmt.Errorf("close jsonl %s: %w", s.path, err)
	}
	return nil
}

// ReadAll decodes a JSON Lines log written by this sink, in order. Blank
// lines are skipped, and so is a final line without a newline (torn by a
// crash) or a line cut short by one and isolated at the next Open; any other
// undecodable line is an error.
func ReadAll(r io.Reader) ([]*calendarevent.Event, error) {
	var out []*calendarevent.Event
	br := bufio.NewReader(r)
	for n := 1; ; n++ {
		line, err := br.ReadBytes('\n')
		complete := err == nil
		if err != nil && !errors.Is(err, io.EOF) {
			return out, fmt.Errorf("read jsonl line %d: %w", n, err)
		}
		if trimmed := bytes.TrimSpace(line); len(trimmed) > 0 && complete {
			e, derr := calendarevent.Unmarshal(trimmed)
			if derr != nil {
				if !looksTorn(trimmed) {
					return out, fmt.Errorf("jsonl line %d: %w", n, derr)
				}
			} else {
				out = append(out, e)
			}
		}
		if !complete {
			return out, nil
		}
	}
}

// looksTorn reports whether b looks like the start of an event line cut
// short (a torn write): it begins like an object but never closes.
func looksTorn(b []byte) bool {
	return len(b) > 0 && b[0] == '{' && b[len(b)-1] != '}'
}
