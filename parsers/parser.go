// Package parsers defines what every MTA parser implements. The parsers
// themselves live in the subpackages postfix, exim and pmta; they are pure
// functions of a line (plus, where an MTA needs it, a small bounded state such
// as a CSV header or an envelope-sender correlator). They never log, never
// read the clock and know nothing of storage or metrics.
package parsers

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
	// The strings of the returned event are substrings of line or strings
	// the parser owns and never changes; line may alias a reused buffer, so
	// callers copy the substrings before keeping the event.
	Parse(line string) (ev event.Delivery, ok bool, err error)
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
