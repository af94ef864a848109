// Package parsertest holds what the parsers' tests share: seeding fuzz
// targets from the testdata logs and the properties every parsed event has.
package parsertest

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ppwatch/ppwatch/pkg/event"
)

// Lines returns every line of every testdata/<mta>/*.log, seen from a parser
// package directory.
func Lines(tb testing.TB, mta string) []string {
	tb.Helper()
	var out []string
	for _, name := range files(tb, mta) {
		out = append(out, File(tb, name)...)
	}
	return out
}

func files(tb testing.TB, mta string) []string {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", "testdata", mta, "*.log"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("no testdata for %s: %v", mta, err)
	}
	return files
}

// File returns the lines of one file.
func File(tb testing.TB, path string) []string {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

// CheckEvent reports what no parsed event may be: a recipient domain empty
// or not lower case, an SMTP code outside 200..599, an unknown status, a
// zero or non-UTC time, another MTA.
func CheckEvent(t *testing.T, mta string, ev event.Delivery) {
	t.Helper()
	if ev.RecipientDomain == "" || ev.RecipientDomain != strings.ToLower(ev.RecipientDomain) {
		t.Errorf("recipient domain %q", ev.RecipientDomain)
	}
	if ev.SMTPCode != 0 && (ev.SMTPCode < 200 || ev.SMTPCode > 599) {
		t.Errorf("smtp code %d", ev.SMTPCode)
	}
	if ev.Status != event.Delivered && ev.Status != event.Deferred && ev.Status != event.Bounced {
		t.Errorf("status %q", ev.Status)
	}
	if ev.Time.IsZero() || ev.Time.Location() != time.UTC {
		t.Errorf("time %v", ev.Time)
	}
	if ev.MTA != mta {
		t.Errorf("mta %q", ev.MTA)
	}
}
