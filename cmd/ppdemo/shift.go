package main

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/ppwatch/ppwatch/parsers/mtalog"
)

// The samples were logged on 22 November 2026. The daemon counts by event
// time in windows that end now, so copies that kept those times would be in
// its totals but in none of its windows, and no alert could hold on them.
// shift moves a copy as a whole: the spacing of its lines, and so every
// figure of the scan report, is kept. Each copy ends now on its own: they
// are the logs of three hosts, and the Postfix one has no year to line it
// up with the others by.

// Timestamp layouts of the samples, as each MTA writes them.
const (
	syslogLayout = time.Stamp                 // Postfix via syslog: no year, no zone
	eximLayout   = "2006-01-02 15:04:05"      // Exim without log_timezone: no zone
	pmtaLayout   = "2006-01-02 15:04:05-0700" // PowerMTA accounting time fields
)

// stamp is one timestamp of a line: where its text is, its layout, and the
// instant it stands for.
type stamp struct {
	from, to int
	layout   string
	t        time.Time
}

// shift rewrites log, written by mta, so that its newest timestamp is now
// and every other one keeps its distance to it, and returns by how much it
// moved them. Timestamps without a zone are read and written in loc; those
// without a year are placed as the parsers place them: in the latest year
// that does not put them after ref.
func shift(log []byte, mta string, ref, now time.Time, loc *time.Location) ([]byte, time.Duration, error) {
	lines, stamps, err := readStamps(log, mta, ref, loc)
	if err != nil {
		return nil, 0, err
	}
	newest, ok := latest(stamps)
	if !ok {
		return log, 0, nil
	}
	d := now.Sub(newest)
	var b bytes.Buffer
	b.Grow(len(log))
	for i, line := range lines {
		at := 0
		for _, s := range stamps[i] {
			zone := loc
			if s.layout == pmtaLayout { // keeps the offset it was written with
				_, off := s.t.Zone()
				zone = time.FixedZone("", off)
			}
			b.WriteString(line[at:s.from])
			b.WriteString(s.t.Add(d).In(zone).Format(s.layout))
			at = s.to
		}
		b.WriteString(line[at:])
	}
	return b.Bytes(), d, nil
}

func latest(stamps [][]stamp) (time.Time, bool) {
	var t time.Time
	found := false
	for _, line := range stamps {
		for _, s := range line {
			if !found || s.t.After(t) {
				t, found = s.t, true
			}
		}
	}
	return t, found
}

// readStamps splits log into lines (each with its newline) and finds the
// timestamps of each. A line whose timestamp is not where its MTA writes it
// is an error: a sample of a new shape must be taught here, not copied with
// its old times.
func readStamps(log []byte, mta string, ref time.Time, loc *time.Location) ([]string, [][]stamp, error) {
	find, err := stampFinder(mta)
	if err != nil {
		return nil, nil, err
	}
	clock := mtalog.Clock{Reference: ref, Location: loc}
	var lines []string
	var stamps [][]stamp
	for n, rest := 1, string(log); rest != ""; n++ {
		line := rest
		if i := strings.IndexByte(rest, '\n'); i >= 0 {
			line = rest[:i+1]
		}
		rest = rest[len(line):]
		found, err := find(strings.TrimRight(line, "\r\n"))
		for i := 0; err == nil && i < len(found); i++ {
			found[i].t, err = instant(&clock, line[found[i].from:found[i].to], found[i].layout, loc)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%s log, line %d: %w", mta, n, err)
		}
		lines, stamps = append(lines, line), append(stamps, found)
	}
	return lines, stamps, nil
}

// instant reads one timestamp; a year-less one gets its year from clock,
// by the parsers' own rule.
func instant(clock *mtalog.Clock, text, layout string, loc *time.Location) (time.Time, error) {
	t, err := time.ParseInLocation(layout, text, loc)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a %q timestamp", text, layout)
	}
	if layout == syslogLayout {
		t = clock.YearLess(t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), 0)
	}
	return t, nil
}

// stampFinder returns where mta's log lines hold their timestamps. Syslog
// and Exim lines start with one; a PowerMTA record has one in each column
// whose name in the header starts with "time" (timeLogged, timeQueued).
func stampFinder(mta string) (func(line string) ([]stamp, error), error) {
	leading := func(layout string) func(string) ([]stamp, error) {
		return func(line string) ([]stamp, error) {
			if len(line) < len(layout) {
				return nil, fmt.Errorf("%q is not a %q timestamp", line, layout)
			}
			return []stamp{{from: 0, to: len(layout), layout: layout}}, nil
		}
	}
	switch mta {
	case "postfix":
		return leading(syslogLayout), nil
	case "exim":
		return leading(eximLayout), nil
	case "pmta":
		var cols []int // of the time fields, from the header
		header := false
		return func(line string) ([]stamp, error) {
			if h := strings.TrimPrefix(line, "#"); strings.HasPrefix(h, "type,") {
				cols, header = nil, true
				for i, name := range strings.Split(h, ",") {
					if strings.HasPrefix(name, "time") {
						cols = append(cols, i)
					}
				}
				return nil, nil
			}
			if !header {
				return nil, fmt.Errorf("a record before the header")
			}
			fields := csvFields(line)
			var found []stamp
			for _, c := range cols {
				if c < len(fields) && fields[c][0] < fields[c][1] {
					found = append(found, stamp{from: fields[c][0], to: fields[c][1], layout: pmtaLayout})
				}
			}
			return found, nil
		}, nil
	}
	return nil, fmt.Errorf("no timestamp layout for MTA %q", mta)
}

// csvFields returns where each field of a CSV record is, quotes included:
// the time fields are never quoted, so a quoted field only has to be
// stepped over.
func csvFields(line string) [][2]int {
	var fields [][2]int
	start, quoted := 0, false
	for i := 0; i < len(line); i++ {
		switch {
		case line[i] == '"':
			quoted = !quoted
		case line[i] == ',' && !quoted:
			fields = append(fields, [2]int{start, i})
			start = i + 1
		}
	}
	return append(fields, [2]int{start, len(line)})
}
