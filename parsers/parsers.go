// Package parsers holds the MTA table: every MTA ppwatch reads, with its
// parser's constructor, its line detector and its default log paths.
// Validation, detection, defaults and help text derive from the table, so
// adding an MTA is one package under parsers/ plus one entry here.
//
// What the parsers share (the Parser interface, options, syslog prefixes,
// SMTP replies, the envelope-sender correlator) is in parsers/mtalog; the
// parsers themselves are in postfix, exim and pmta. They are pure functions
// of a line plus, where an MTA needs it, a small bounded state (a CSV
// header, a sender correlator). They never log, never read the clock and
// know nothing of storage or metrics.
package parsers

import (
	"bytes"
	"strings"

	"github.com/ppwatch/ppwatch/parsers/exim"
	"github.com/ppwatch/ppwatch/parsers/mtalog"
	"github.com/ppwatch/ppwatch/parsers/pmta"
	"github.com/ppwatch/ppwatch/parsers/postfix"
	"github.com/ppwatch/ppwatch/pkg/event"
)

// MTA describes one MTA.
type MTA struct {
	Name  string // the event's mta field, the --mta and inputs[].mta value
	Title string // how help texts name it
	New   func(mtalog.Options) mtalog.Parser
	// Sniff reports whether a line surely comes from this MTA's log; it
	// is what --mta auto votes with.
	Sniff func(line string) bool
	// Paths are where the MTA's log usually is (globs): the daemon reads
	// those that exist when the config names no inputs.
	Paths []string
}

// Table lists the MTAs. Detection asks them in this order (no two Sniffs
// accept the same line today; if one ever does, the first wins).
var Table = []MTA{
	{Name: event.Postfix, Title: "Postfix", New: func(o mtalog.Options) mtalog.Parser { return postfix.New(o) }, Sniff: postfix.Sniff, Paths: []string{"/var/log/mail.log", "/var/log/maillog"}},
	{Name: event.Exim, Title: "Exim", New: func(o mtalog.Options) mtalog.Parser { return exim.New(o) }, Sniff: exim.Sniff, Paths: []string{"/var/log/exim4/mainlog", "/var/log/exim/main.log"}},
	{Name: event.PMTA, Title: "PowerMTA", New: func(o mtalog.Options) mtalog.Parser { return pmta.New(o) }, Sniff: pmta.Sniff, Paths: []string{"/var/log/pmta/acct-*.csv"}},
}

// Lookup returns the table entry of name.
func Lookup(name string) (MTA, bool) {
	for _, m := range Table {
		if m.Name == name {
			return m, true
		}
	}
	return MTA{}, false
}

// Names returns the MTAs' names joined by sep, for help and error texts:
// "postfix, exim, pmta".
func Names(sep string) string {
	names := make([]string, len(Table))
	for i, m := range Table {
		names[i] = m.Name
	}
	return strings.Join(names, sep)
}

// Titles returns the MTAs' titles for prose: "Postfix, Exim or PowerMTA".
func Titles() string {
	var b strings.Builder
	for i, m := range Table {
		switch {
		case i == 0:
		case i == len(Table)-1:
			b.WriteString(" or ")
		default:
			b.WriteString(", ")
		}
		b.WriteString(m.Title)
	}
	return b.String()
}

// DetectLines is how many complete lines detection votes on at most.
const DetectLines = 2000

// Detect names the MTA whose log the sample lines come from, by a vote of
// each MTA's Sniff; "" when no line is recognised.
func Detect(sample []string) string {
	votes := make([]int, len(Table))
	for _, l := range sample {
		for i, m := range Table {
			if m.Sniff(l) {
				votes[i]++
				break
			}
		}
	}
	best, n := "", 0
	for i, m := range Table {
		if votes[i] > n {
			best, n = m.Name, votes[i]
		}
	}
	return best
}

// DetectHead names the MTA from the first bytes of a log: the complete
// lines among them, at most DetectLines, are voted on. Callers pass as much
// as they have at hand (a reader's buffer): a log may start with many lines
// no parser cares about.
func DetectHead(b []byte) string {
	var sample []string
	for len(b) > 0 && len(sample) < DetectLines {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			break // a cut-off last line would mislead
		}
		sample = append(sample, string(bytes.TrimSuffix(b[:i], []byte{'\r'})))
		b = b[i+1:]
	}
	return Detect(sample)
}
