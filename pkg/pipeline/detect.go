package pipeline

import (
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
