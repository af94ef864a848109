package evidence

import (
	"cmp"
	"slices"

	"github.com/ppwatch/ppwatch/pkg/report"
)

// The orders a packet shows its lists in, whatever made them: a Builder,
// a daemon's state file, packets merged.

// SortDomains orders recipient domains: most blocks, then most
// deferrals, then by name.
func SortDomains(ds []report.Domain) {
	slices.SortFunc(ds, func(x, y report.Domain) int {
		return cmp.Or(cmp.Compare(y.Blocks, x.Blocks), cmp.Compare(y.Deferrals, x.Deferrals), cmp.Compare(x.RecipientDomain, y.RecipientDomain))
	})
}

// SortNames orders names by count, most first, then by name.
func SortNames(l []NameCount) {
	slices.SortFunc(l, func(a, b NameCount) int { return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Name, b.Name)) })
}

// mostNames are the topNames most frequent of l, which it sorts.
func mostNames(l []NameCount) []NameCount {
	SortNames(l)
	return l[:min(len(l), topNames)]
}

// sumNames adds up the counts of the names l holds more than once.
func sumNames(l []NameCount) []NameCount {
	by := map[string]int{}
	for _, n := range l {
		by[n.Name] += n.Count
	}
	out := []NameCount{}
	for n, c := range by {
		out = append(out, NameCount{n, c})
	}
	return out
}

// MergeReplies is one reply per text of replies that repeat texts (a
// state file keeps a reply per recipient domain; each of a fleet's
// packets has its own): counts added, first and last seen widened, the
// domains summed (the most frequent MaxReplyDomains); most frequent first,
// then by text.
func MergeReplies(rs []report.Reply) []report.Reply {
	byText := map[string]*report.Reply{}
	var order []string
	for _, r := range rs {
		x := byText[r.Response]
		if x == nil {
			c := r
			c.Count, c.RecipientDomains = 0, nil
			x = &c
			byText[r.Response] = x
			order = append(order, r.Response)
		}
		x.Count += r.Count
		if r.FirstSeen.Before(x.FirstSeen) {
			x.FirstSeen = r.FirstSeen
		}
		if r.LastSeen.After(x.LastSeen) {
			x.LastSeen = r.LastSeen
		}
		x.RecipientDomains = append(x.RecipientDomains, r.RecipientDomains...)
	}
	out := []report.Reply{}
	for _, t := range order {
		r := byText[t]
		r.RecipientDomains = sumDomains(r.RecipientDomains)
		out = append(out, *r)
	}
	slices.SortFunc(out, func(x, y report.Reply) int {
		return cmp.Or(cmp.Compare(y.Count, x.Count), cmp.Compare(x.Response, y.Response))
	})
	return out
}

// sumDomains adds up a reply's domains seen more than once, the most
// frequent MaxReplyDomains first.
func sumDomains(l []report.DomainCount) []report.DomainCount {
	by := map[string]int{}
	for _, d := range l {
		by[d.Domain] += d.Count
	}
	out := []report.DomainCount{}
	for d, n := range by {
		out = append(out, report.DomainCount{Domain: d, Count: n})
	}
	slices.SortFunc(out, func(x, y report.DomainCount) int {
		return cmp.Or(cmp.Compare(y.Count, x.Count), cmp.Compare(x.Domain, y.Domain))
	})
	return out[:min(len(out), report.MaxReplyDomains)]
}
