// Package mtalog holds what the MTA parsers share: the Parser interface and
// its errors, the options every constructor takes, syslog prefixes and their
// clock, SMTP reply codes and the envelope-sender correlator. The MTA table
// is in the parsers package above it.
package mtalog

import (
	"fmt"

	"github.com/ppwatch/ppwatch/pkg/event"
)

// Parser reads one log line at a time.
type Parser interface {
	// Parse reads one log line without its trailing newline. ok is false for
	// lines that are not delivery attempts. A non-nil error means the line
	// looked like an attempt but a field could not be read; the line is then
	// malformed and ok is false.
	//
	// When ok, *ev holds the attempt, every field written (the classifier's
	// fields zero). Otherwise *ev may have been written in part and means
	// nothing: most lines are noise, and the caller's event is reused
	// rather than a whole record zeroed and copied per line.
	//
	// The strings of the event are substrings of line or strings the parser
	// owns and never changes; line may alias a reused buffer, so callers
	// copy the substrings before keeping the event.
	Parse(line string, ev *event.Delivery) (ok bool, err error)
}

// HeaderSetter is implemented by parsers of files that start with a header
// line (PowerMTA's CSV): when a file is read from the middle, its first line
// is handed over first.
type HeaderSetter interface {
	SetHeader(line string) error
}

// ParseError names the field that could not be read. The caller adds the
// file and line number.
type ParseError struct {
	Field  string
	Reason string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("field %s: %s", e.Field, e.Reason)
}

// Errorf returns a *ParseError for field.
func Errorf(field, format string, args ...any) error {
	return &ParseError{Field: field, Reason: fmt.Sprintf(format, args...)}
}
