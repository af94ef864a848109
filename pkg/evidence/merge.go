package evidence

import (
	"maps"
	"slices"
	"time"

	"github.com/ppwatch/ppwatch/pkg/event"
	"github.com/ppwatch/ppwatch/pkg/report"
)

// Merge is one packet of several about the same IP: a fleet's daemons,
// or a daemon and the log files, each saw part of its mail. Counts add
// up; a reply seen by several is one reply with their counts; the samples
// are the first and latest of all; each check is its latest.
func Merge(ps []*Packet, now time.Time, source string) *Packet {
	if len(ps) == 1 {
		p := *ps[0]
		p.Generated, p.Source = now.UTC(), source
		return p.Finish()
	}
	out := &Packet{Generated: now.UTC(), Source: source}
	hosts := map[string]bool{}
	var senders, domains []NameCount
	rdoms := map[string]*report.Domain{}
	var replies []report.Reply
	days := map[string]*Day{}
	checks := map[string]Check{}
	var newDomains []string
	for _, p := range ps {
		out.IP, out.Domain = p.IP, p.Domain
		out.FirstEvent, out.LastEvent = earliest(out.FirstEvent, p.FirstEvent), latest(out.LastEvent, p.LastEvent)
		out.FirstSeen = earliest(out.FirstSeen, p.FirstSeen)
		for _, h := range p.Hosts {
			hosts[h] = true
		}
		senders = append(senders, p.Senders...)
		domains = append(domains, p.SendingDomains...)
		out.Totals.Sum(&p.Totals)
		for _, d := range p.RecipientDomains {
			x := rdoms[d.RecipientDomain]
			if x == nil {
				x = &report.Domain{RecipientDomain: d.RecipientDomain}
				rdoms[d.RecipientDomain] = x
			}
			x.Counts.Sum(&d.Counts)
		}
		replies = append(replies, p.Replies...)
		out.Samples = append(out.Samples, p.Samples...)
		out.Episodes = append(out.Episodes, p.Episodes...)
		out.Jumps = append(out.Jumps, p.Jumps...)
		m := &out.Messages
		if p.Messages.DeliveredAfterRetry > m.DeliveredAfterRetry {
			m.MedianDelay = p.Messages.MedianDelay // medians do not add: the larger part's
		}
		if n := m.DeliveredAfterRetry + p.Messages.DeliveredAfterRetry; n > 0 {
			m.MeanDelay = (m.MeanDelay*time.Duration(m.DeliveredAfterRetry) + p.Messages.MeanDelay*time.Duration(p.Messages.DeliveredAfterRetry)) / time.Duration(n)
		}
		m.Deferred += p.Messages.Deferred
		m.DeliveredAfterRetry += p.Messages.DeliveredAfterRetry
		m.Bounced += p.Messages.Bounced
		m.Expired += p.Messages.Expired
		m.StillDeferred += p.Messages.StillDeferred
		m.Dropped += p.Messages.Dropped
		m.MaxAttempts = max(m.MaxAttempts, p.Messages.MaxAttempts)
		for _, d := range p.Days {
			x := days[d.Date]
			if x == nil {
				x = &Day{Date: d.Date}
				days[d.Date] = x
			}
			x.Attempts += d.Attempts
			x.ProofpointAttempts += d.ProofpointAttempts
			x.Blocks += d.Blocks
			x.Deferrals += d.Deferrals
		}
		for _, c := range p.Hygiene {
			k := string(c.Check) + " " + c.Target()
			if old, ok := checks[k]; !ok || c.Checked.After(old.Checked) {
				checks[k] = c
			}
		}
		if p.Update != nil {
			if out.Update == nil {
				out.Update = &Update{Since: p.Update.Since}
			}
			out.Update.Failures += p.Update.Failures
			newDomains = append(newDomains, p.Update.NewDomains...)
		}
	}
	out.Hosts = slices.Sorted(maps.Keys(hosts))
	out.Senders, out.SendingDomains = mostNames(sumNames(senders)), mostNames(sumNames(domains))
	for _, d := range rdoms {
		out.RecipientDomains = append(out.RecipientDomains, *d)
	}
	SortDomains(out.RecipientDomains)
	out.Replies = MergeReplies(replies)
	slices.SortStableFunc(out.Samples, func(x, y Sample) int { return x.Time.Compare(y.Time) })
	// Each host's episodes are its own: a fleet's are listed together,
	// newest first.
	slices.SortStableFunc(out.Episodes, func(x, y event.Episode) int { return y.Start.Compare(x.Start) })
	if n := len(out.Samples); n > DefaultSamples {
		half := DefaultSamples / 2
		out.Samples = append(out.Samples[:half:half], out.Samples[n-(DefaultSamples-half):]...)
	}
	for _, d := range slices.Sorted(maps.Keys(days)) {
		out.Days = append(out.Days, *days[d])
	}
	if len(out.Days) > volumeDays {
		out.Days = out.Days[len(out.Days)-volumeDays:]
	}
	for _, k := range slices.Sorted(maps.Keys(checks)) {
		out.Hygiene = append(out.Hygiene, checks[k])
	}
	if out.Update != nil {
		slices.Sort(newDomains)
		out.Update.NewDomains = slices.Compact(newDomains)
		if out.Update.NewDomains == nil {
			out.Update.NewDomains = []string{}
		}
	}
	return out.Finish()
}

func earliest(a, b *time.Time) *time.Time {
	if a == nil || b != nil && b.Before(*a) {
		return b
	}
	return a
}

func latest(a, b *time.Time) *time.Time {
	if a == nil || b != nil && b.After(*a) {
		return b
	}
	return a
}
