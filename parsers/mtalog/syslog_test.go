package mtalog

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unsafe"
)

// The timestamp cache must not trust text that aliases a reused buffer.
func TestClockCacheCopiesText(t *testing.T) {
	c := &Clock{Reference: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), Location: time.UTC}
	buf := []byte("Nov 22 09:15:02 h postfix/smtp[1]: x")
	line := unsafe.String(&buf[0], len(buf)) // as pipeline.ReadLines hands lines over
	sl, ok, err := c.ParseSyslog(line)
	if !ok || err != nil || sl.Time.Second() != 2 {
		t.Fatal(sl, ok, err)
	}
	copy(buf, "Nov 22 09:15:07") // the buffer is refilled with the next line
	sl, _, _ = c.ParseSyslog(line)
	if sl.Time.Second() != 7 {
		t.Errorf("stale cached time %v", sl.Time)
	}
}

func TestParseSyslogShapes(t *testing.T) {
	c := &Clock{Reference: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), Location: time.UTC}
	for _, tt := range []struct {
		line string
		ok   bool
		tag  string
	}{
		{"Nov  2 14:23:33 host postfix/smtp[1]: msg", true, "postfix/smtp"},
		{"<22>Nov  2 14:23:33 host postfix/smtp[1]: msg", true, "postfix/smtp"},
		{"Nov  2 14:23:33 host mail.info postfix/smtp[1]: msg", true, "postfix/smtp"},
		{"Nov  2 14:23:33 host postfix/smtp: msg", true, "postfix/smtp"},
		{"2026-11-22T14:23:33.123456+00:00 host postfix-out/smtp[1]: msg", true, "postfix-out/smtp"},
		{"Nov 1 00:00:00 0  exim", false, ""}, // two spaces: no tag (once a panic)
		{"Nov  2 14:23:33 host", false, ""},
		{"hello world", false, ""},
	} {
		sl, ok, err := c.ParseSyslog(tt.line)
		if ok != tt.ok || err != nil || sl.Tag != tt.tag {
			t.Errorf("%q: ok=%v err=%v tag=%q", tt.line, ok, err, sl.Tag)
		}
	}
}

// With Now set, the reference moves: a line from just now is this year's
// even after the clock passed the year's end since the parser was made.
func TestClockNowMoves(t *testing.T) {
	now := time.Date(2026, 12, 31, 23, 59, 0, 0, time.UTC)
	c := &Clock{Location: time.UTC, Now: func() time.Time { return now }}
	if y := c.YearLess(time.December, 31, 23, 58, 0, 0).Year(); y != 2026 {
		t.Errorf("year %d", y)
	}
	now = time.Date(2027, 1, 1, 0, 1, 0, 0, time.UTC)
	if y := c.YearLess(time.January, 1, 0, 0, 30, 0).Year(); y != 2027 {
		t.Errorf("year %d after New Year", y)
	}
}

func TestMonthOf(t *testing.T) {
	for i, m := range []string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"} {
		if got := monthOf(m[0], m[1], m[2]); got != time.Month(i+1) {
			t.Errorf("monthOf(%s) = %v", m, got)
		}
	}
	for _, m := range []string{"jan", "NOV", "Xyz", "Ma ", "\x00\x00\x00"} {
		if got := monthOf(m[0], m[1], m[2]); got != 0 {
			t.Errorf("monthOf(%q) = %v, want 0", m, got)
		}
	}
}

// SyslogTag judges by shape what ParseSyslog reads: on every line of the
// syslog testdata they agree on the tag, and on lines ParseSyslog refuses
// by shape SyslogTag finds none.
func TestSyslogTagAgreesWithParseSyslog(t *testing.T) {
	files, _ := filepath.Glob("../../testdata/*/*.log")
	n := 0
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			c := Clock{Reference: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), Location: time.UTC}
			sl, ok, err := c.ParseSyslog(line)
			if err != nil {
				continue // a bad timestamp of a good shape: SyslogTag may say either
			}
			tag, tok := SyslogTag(line)
			if ok != tok || tag != sl.Tag {
				t.Errorf("%s:%d: ParseSyslog %v %q, SyslogTag %v %q", name, i+1, ok, sl.Tag, tok, tag)
			}
			if ok {
				n++
			}
		}
	}
	if n < 200 {
		t.Errorf("only %d syslog lines checked", n)
	}
}

// YearLess with its minute cache gives what a fresh clock gives, for
// timestamps in and out of order, across New Year and Feb 29, with a
// reference that moves on (the daemon) or lies inside the minute asked.
func TestYearLessMinuteCache(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, loc := range []*time.Location{time.UTC, berlin} {
		ref := time.Date(2027, 12, 31, 23, 58, 30, 0, loc)
		c := &Clock{Location: loc, Now: func() time.Time { return ref }}
		for i := 0; i < 20000; i++ {
			if rng.IntN(50) == 0 {
				ref = ref.Add(time.Duration(rng.IntN(120)) * time.Second)
			}
			mon, day := time.Month(1+rng.IntN(12)), 1+rng.IntN(28)
			hour, min, sec := rng.IntN(24), rng.IntN(60), rng.IntN(61)
			switch rng.IntN(4) {
			case 0: // near the reference, even inside its minute
				r := ref.In(loc)
				mon, day, hour, min = r.Month(), r.Day(), r.Hour(), r.Minute()
			case 1:
				mon, day = time.February, 29
			}
			got := c.YearLess(mon, day, hour, min, sec, 0)
			fresh := &Clock{Location: loc, Reference: ref}
			if want := fresh.YearLess(mon, day, hour, min, sec, 0); !got.Equal(want) {
				t.Fatalf("%v %d %02d:%02d:%02d with reference %v: %v, a fresh clock says %v", mon, day, hour, min, sec, ref, got, want)
			}
		}
	}
}
