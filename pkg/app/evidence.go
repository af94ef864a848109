package app

import (
	"cmp"
	"fmt"
	"maps"
	"os"
	"slices"
	"time"

	"github.com/ppwatch/ppwatch/pkg/config"
	"github.com/ppwatch/ppwatch/pkg/dnscheck"
	"github.com/ppwatch/ppwatch/pkg/event"
	"github.com/ppwatch/ppwatch/pkg/evidence"
	"github.com/ppwatch/ppwatch/pkg/ingest"
	"github.com/ppwatch/ppwatch/pkg/outcome"
	"github.com/ppwatch/ppwatch/pkg/report"
	"github.com/ppwatch/ppwatch/pkg/store"
)

// Evidence is the evidence packet of one sending IP from what the daemon
// keeps: the per-minute counts of the state file over [since, until)
// (since zero: the retention), its replies verbatim, and the latest sender
// checks. The daemon keeps no attempts, so the packet has no samples and
// no message outcomes; ppwatch report over the log files gives those.
// With updateSince set, it is a case's update.
func (a *App) Evidence(ip, domain string, since, until, updateSince time.Time) (*evidence.Packet, error) {
	var checks []dnscheck.Result
	for _, s := range a.checks.Latest() {
		checks = append(checks, s.Result)
	}
	host, _ := os.Hostname()
	return storeEvidence(a.store, "the state file of "+host, []string{host}, time.Duration(a.cfg.Retention), a.cfg.Report.MaskRecipients, a.now(), a.msgs, checks, ip, domain, since, until, updateSince)
}

// StateEvidence is Evidence from the state file of a stopped daemon
// (ppwatch report --state): opened with a timeout, so that one a running
// daemon holds is refused with ErrStateInUse at once, and only read. The
// sender checks are not in it (ppwatch report --check makes them).
func StateEvidence(path string, cfg *config.Config, now time.Time, ip, domain string, since, until, updateSince time.Time) (*evidence.Packet, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("state file %s: %w", path, err) // Open would make a new one
	}
	st, err := store.Open(path, store.Options{Timeout: time.Second, Retention: time.Duration(cfg.Retention), CheckPosition: ingest.CheckPosition})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	figs, err := st.Figures()
	if err != nil {
		return nil, err
	}
	msgs := outcome.New()
	if err := msgs.Restore(figs); err != nil {
		return nil, err
	}
	// Which host wrote the file is not in it: the packet names none.
	return storeEvidence(st, "the state file "+path, nil, time.Duration(cfg.Retention), cfg.Report.MaskRecipients, now, msgs, nil, ip, domain, since, until, updateSince)
}

// storeEvidence assembles the packet from a state file.
func storeEvidence(st *store.Store, source string, hosts []string, retention time.Duration, mask bool, now time.Time, msgs *outcome.Tracker, checks []dnscheck.Result,
	ip, domain string, since, until, updateSince time.Time) (*evidence.Packet, error) {
	if since.IsZero() || since.Before(now.Add(-retention)) {
		since = now.Add(-retention)
	}
	if until.IsZero() || until.After(now) {
		until = now.Add(time.Minute) // the minute of now is counted whole
	}
	label := cmp.Or(ip, "unknown")
	p := &evidence.Packet{IP: label, Domain: domain, Generated: now.UTC(), Source: source, Hosts: hosts}
	if !updateSince.IsZero() {
		p.Update = &evidence.Update{Since: updateSince.UTC(), NewDomains: []string{}}
	}

	var first, last time.Time
	domains := map[string]*report.Domain{}
	days := map[string]*evidence.Day{}
	firstFailure := map[string]int64{} // domain → first minute with a failure
	err := st.IPBuckets(since, until, ip, func(m int64, se store.Series, n uint64) {
		if domain != "" && se.RecipientDomain != domain {
			return
		}
		t := time.Unix(m*60, 0).UTC()
		if first.IsZero() || t.Before(first) {
			first = t
		}
		if t.After(last) {
			last = t
		}
		c := int(n)
		add := func(k *report.Counts) {
			k.Attempts += c
			if k.Classes == nil {
				k.Classes = map[string]int{}
			}
			k.Classes[se.Class] += c
			switch event.Status(se.Status) {
			case event.Delivered:
				k.Delivered += c
			case event.Deferred:
				k.Deferred += c
			case event.Bounced:
				k.Bounced += c
			}
			if !se.Proofpoint {
				return
			}
			k.ProofpointAttempts += c
			switch se.Outcome {
			case event.OutcomeBlock:
				k.Blocks += c
			case event.OutcomeDeferral:
				k.Deferrals += c
			}
		}
		add(&p.Totals)
		date := t.Format(time.DateOnly)
		d := days[date]
		if d == nil {
			d = &evidence.Day{Date: date}
			days[date] = d
		}
		d.Attempts += c
		if se.Proofpoint {
			d.ProofpointAttempts += c
			rd := domains[se.RecipientDomain]
			if rd == nil {
				rd = &report.Domain{RecipientDomain: se.RecipientDomain}
				domains[se.RecipientDomain] = rd
			}
			add(&rd.Counts)
		}
		switch se.Outcome {
		case event.OutcomeBlock:
			d.Blocks += c
		case event.OutcomeDeferral:
			d.Deferrals += c
		}
		if se.Outcome == event.OutcomeBlock || se.Outcome == event.OutcomeDeferral {
			if f, ok := firstFailure[se.RecipientDomain]; !ok || m < f {
				firstFailure[se.RecipientDomain] = m
			}
			if p.Update != nil && !t.Before(updateSince.Truncate(time.Minute)) {
				p.Update.Failures += c
			}
		}
	})
	if err != nil {
		return nil, err
	}
	if !first.IsZero() {
		p.FirstEvent, p.LastEvent = &first, &last
	}
	p.Totals.SetRatios()
	for _, d := range domains {
		d.Counts.SetRatios()
		p.RecipientDomains = append(p.RecipientDomains, *d)
	}
	evidence.SortDomains(p.RecipientDomains)
	for _, date := range slices.Sorted(maps.Keys(days)) {
		p.Days = append(p.Days, *days[date])
	}
	if len(p.Days) > 14 {
		p.Days = p.Days[len(p.Days)-14:]
	}
	if p.Update != nil {
		for d, m := range firstFailure {
			if m*60 >= updateSince.Unix()/60*60 {
				p.Update.NewDomains = append(p.Update.NewDomains, d)
			}
		}
		slices.Sort(p.Update.NewDomains)
	}

	// The replies, one per text: the state file keeps them per domain.
	var replies []report.Reply
	err = st.EachIPReply(ip, func(r store.Reply) {
		if domain != "" && r.RecipientDomain != domain || r.LastSeen.Before(since) || !r.FirstSeen.Before(until) {
			return
		}
		replies = append(replies, report.Reply{SourceIP: label, Response: r.Response, SMTPCode: r.SMTPCode, EnhancedCode: r.EnhancedCode, Class: r.Class,
			Count: int(r.Count), FirstSeen: r.FirstSeen, LastSeen: r.LastSeen, RecipientDomains: []report.DomainCount{{Domain: r.RecipientDomain, Count: int(r.Count)}}})
	})
	if err != nil {
		return nil, err
	}
	p.Replies = evidence.MergeReplies(replies)

	// The IP's episodes over all its domains, and its history.
	eps, err := st.Episodes(ip, since, until)
	if err != nil {
		return nil, err
	}
	for _, e := range eps {
		if e.RecipientDomain == domain {
			p.Episodes = append(p.Episodes, e)
		}
	}
	slices.SortFunc(p.Episodes, func(x, y event.Episode) int { return y.Start.Compare(x.Start) })
	h, err := st.IPHistory(ip)
	if err != nil {
		return nil, err
	}
	if !h.FirstSeen.IsZero() {
		first := h.FirstSeen
		p.FirstSeen = &first
	}
	p.Jumps = h.Jumps

	// The sample failures, with their Message-ID and envelope sender, and
	// the senders seen.
	samples, senders := msgs.Samples(ip)
	for _, d := range samples {
		if domain != "" && event.DomainOf(d.Recipient) != domain {
			continue
		}
		if mask {
			d.Recipient = evidence.MaskRecipient(d.Recipient)
		}
		p.Samples = append(p.Samples, d)
	}
	byDomain := map[string]int{}
	for _, s := range senders {
		p.Senders = append(p.Senders, evidence.NameCount{Name: s.Address, Count: s.Attempts})
		byDomain[event.DomainOf(s.Address)] += s.Attempts
	}
	for d, n := range byDomain {
		p.SendingDomains = append(p.SendingDomains, evidence.NameCount{Name: d, Count: n})
	}
	evidence.SortNames(p.SendingDomains)

	// The messages deferred, as the daemon followed them (since it began
	// to: not only in the window).
	for _, c := range msgs.Snapshot() {
		if c.SourceIP != ip {
			continue
		}
		m := &p.Messages
		m.DeliveredAfterRetry, m.Bounced, m.Expired, m.StillDeferred = int(c.Delivered), int(c.Bounced), int(c.Expired), c.Open
		m.Deferred = m.DeliveredAfterRetry + m.Bounced + m.Expired + m.StillDeferred
		m.Dropped = int(c.Untracked)
		if c.Delivered > 0 {
			m.MeanDelay = time.Duration(c.DelaySeconds / float64(c.Delivered) * float64(time.Second))
		}
	}

	// The checks of this IP, and of the sending domains (the daemon keeps
	// no senders, so every configured domain's).
	for _, r := range checks {
		if r.Subject == label || r.IP == label || r.Check == dnscheck.CheckDMARC || r.Check == dnscheck.CheckDKIM {
			p.Hygiene = append(p.Hygiene, r)
		}
	}
	return p.Finish(), nil
}
