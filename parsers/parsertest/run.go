package parsertest

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ppwatch/ppwatch/parsers/mtalog"
	"github.com/ppwatch/ppwatch/pkg/event"
)

// Reference is the clock of the parsers' tests: late enough for the Nov
// 2026 samples, early enough that "Dec 31" falls in 2025.
var Reference = time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)

// New makes a parser of one MTA (its package's New, as the MTA table has it).
type New func(mtalog.Options) mtalog.Parser

// Parse runs one line through p and returns the event by value, for tests.
func Parse(p mtalog.Parser, line string) (event.Delivery, bool, error) {
	var ev event.Delivery
	ok, err := p.Parse(line, &ev)
	if !ok {
		ev = event.Delivery{}
	}
	return ev, ok, err
}

// Case is one row of a parser's table test: a literal line and what it is.
type Case struct {
	Name    string
	Loc     *time.Location // zone of zone-less timestamps; nil means UTC
	Before  []string       // lines read first (headers, sender lines); none may be an attempt or an error
	Line    string
	Want    *event.Delivery // nil: not an attempt
	WantErr string          // the error's exact text; the line is then malformed
}

// Run runs every case on a fresh parser.
func Run(t *testing.T, newParser New, cases []Case) {
	t.Helper()
	for _, tt := range cases {
		name := tt.Name
		if name == "" {
			name = tt.Line[:min(len(tt.Line), 60)]
		}
		t.Run(name, func(t *testing.T) {
			loc := tt.Loc
			if loc == nil {
				loc = time.UTC
			}
			p := newParser(mtalog.Options{Reference: Reference, Location: loc})
			for _, b := range tt.Before {
				if ev, ok, err := Parse(p, b); ok || err != nil {
					t.Fatalf("line before %q: ok=%v err=%v ev=%+v", b, ok, err, ev)
				}
			}
			ev, ok, err := Parse(p, tt.Line)
			switch {
			case tt.WantErr != "":
				if err == nil || err.Error() != tt.WantErr || ok {
					t.Fatalf("got ok=%v err=%v, want error %q", ok, err, tt.WantErr)
				}
			case err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.Want == nil:
				if ok {
					t.Fatalf("want no attempt, got %+v", ev)
				}
			case !ok:
				t.Fatal("not an attempt")
			default:
				if d := cmp.Diff(*tt.Want, ev); d != "" {
					t.Errorf("(-want +got)\n%s", d)
				}
			}
		})
	}
}

// Fuzz checks the properties every parser keeps, on the lines of
// testdata/<mta>/*.log (each alone, and the first lines of each file
// together) and seeds: it never panics, never returns ok with an error,
// every event passes CheckEvent (and check, when given), and no line takes
// long. An input is split into lines read by one fresh parser: state
// across lines (headers, senders, split syslog lines) is fuzzed, and a
// failure reproduces from its input alone.
func Fuzz(f *testing.F, mta string, newParser New, seeds []string, check func(*testing.T, event.Delivery)) {
	for _, name := range files(f, mta) {
		lines := File(f, name)
		for _, l := range lines {
			f.Add(l)
		}
		if len(lines) > 1 {
			f.Add(strings.Join(lines[:min(len(lines), 4)], "\n"))
		}
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		p := newParser(mtalog.Options{Reference: Reference, Location: time.UTC, MaxSenders: 2})
		var ev event.Delivery
		for _, line := range strings.Split(data, "\n") {
			start := time.Now()
			ok, err := p.Parse(line, &ev)
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("Parse took %v on a %d-byte line", d, len(line))
			}
			if err != nil && ok {
				t.Fatal("ok with an error")
			}
			if !ok {
				continue
			}
			CheckEvent(t, mta, ev)
			if check != nil {
				check(t, ev)
			}
		}
	})
}
