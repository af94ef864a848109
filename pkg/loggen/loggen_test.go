package loggen

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestDeterministic(t *testing.T) {
	var a, b bytes.Buffer
	na, err := Write(&a, Options{Lines: 5000, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	Write(&b, Options{Lines: 5000, Seed: 7})
	if !bytes.Equal(a.Bytes(), b.Bytes()) || int64(a.Len()) != na {
		t.Fatal("same seed, different bytes")
	}
	if n := strings.Count(a.String(), "\n"); n != 5000 {
		t.Fatalf("%d lines", n)
	}
	var c bytes.Buffer
	Write(&c, Options{Lines: 5000, Seed: 8})
	if sha256.Sum256(a.Bytes()) == sha256.Sum256(c.Bytes()) {
		t.Fatal("different seeds, same bytes")
	}
	// About 10% of attempts go to Proofpoint.
	attempts := strings.Count(a.String(), ": to=<")
	pp := strings.Count(a.String(), "@corp")
	ratio := float64(pp) / float64(attempts)
	if ratio < 0.06 || ratio > 0.14 {
		t.Errorf("proofpoint share %s", fmt.Sprintf("%.3f", ratio))
	}
}

// DistinctDomains: one recipient domain per Proofpoint delivery, in order.
func TestDistinctDomains(t *testing.T) {
	var b bytes.Buffer
	if _, err := Write(&b, Options{MTA: "pmta", Lines: 1001, Seed: 3, ProofpointShare: 1, DistinctDomains: true}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")[1:] // after the header
	if len(lines) != 1000 {
		t.Fatalf("%d records", len(lines))
	}
	for i, l := range lines {
		if !strings.Contains(l, fmt.Sprintf("@corp%d.example,", i)) {
			t.Fatalf("record %d is not to corp%d.example: %s", i, i, l)
		}
	}
}

// A reply template that leaves an argument unused, or wants one more than
// it is given, makes fmt write "%!(EXTRA …)" or "%!s(MISSING)" into the
// log (delivered Postfix replies once ended in "%!(EXTRA string=…)"). Every
// template is used, and no format has such debris.
func TestNoFormatDebris(t *testing.T) {
	o := Options{Lines: 20000, Seed: 1, ProofpointShare: 0.5}
	var postfix bytes.Buffer
	if _, err := Write(&postfix, o); err != nil {
		t.Fatal(err)
	}
	for _, r := range slices.Concat(ppReplies, otherReplies) {
		if lit := longestLiteral(r.text); !strings.Contains(postfix.String(), lit) {
			t.Errorf("no line has the reply %q (its text %q): use more lines", r.text, lit)
		}
	}
	for _, mta := range []string{"postfix", "exim", "pmta"} {
		o.MTA = mta
		var b bytes.Buffer
		if _, err := Write(&b, o); err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(b.String(), "\n") {
			if strings.Contains(line, "%!") {
				t.Errorf("%s line %d: %s", mta, i+1, line)
				break
			}
		}
	}
}

// longestLiteral is the longest part of a format string between verbs.
func longestLiteral(format string) string {
	best := ""
	for _, part := range regexp.MustCompile(`%\[\d\]s|%s`).Split(format, -1) {
		if len(part) > len(best) {
			best = part
		}
	}
	return best
}
