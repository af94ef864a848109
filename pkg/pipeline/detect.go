package pipeline

import (
	"bytes"

	"github.com/ppwatch/ppwatch/parsers/exim"
	"github.com/ppwatch/ppwatch/parsers/pmta"
	"github.com/ppwatch/ppwatch/parsers/postfix"
	"github.com/ppwatch/ppwatch/pkg/event"
)

// Detect names the MTA whose log the sample lines come from, by a vote of
// each parser's Sniff; "" when no line is recognised.
func Detect(sample []string) string {
	votes := map[string]int{}
	for _, l := range sample {
		switch {
		case pmta.Sniff(l):
			votes[event.PMTA]++
		case exim.Sniff(l):
			votes[event.Exim]++
		case postfix.Sniff(l):
			votes[event.Postfix]++
		}
	}
	best, n := "", 0
	for _, m := range MTAs {
		if votes[m] > n {
			best, n = m, votes[m]
		}
	}
	return best
}

// DetectHead names the MTA from the first bytes of a log (e.g. its first
// 64 KiB): the complete lines among them, at most 200, are voted on.
func DetectHead(b []byte) string {
	var sample []string
	for len(b) > 0 && len(sample) < 200 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			break // a cut-off last line would mislead
		}
		sample = append(sample, string(b[:i]))
		b = b[i+1:]
	}
	return Detect(sample)
}
