package app

import (
	"cmp"
	"slices"
	"time"

	"github.com/ppwatch/ppwatch/pkg/alert"
	"github.com/ppwatch/ppwatch/pkg/store"
	"github.com/ppwatch/ppwatch/pkg/web"
)

// IPReport implements web.Source: one IP's windows, alerts, top domains
// and replies, read from the aggregate, the alert state and the store.
func (a *App) IPReport(ip, label string) (*web.IPReport, error) {
	now := a.now()
	windows := a.alerts.PageWindows()
	rep := &web.IPReport{SourceIP: label, GeneratedAt: now.UTC(), Alerts: []web.AlertView{}, TopDomains: []web.DomainCounts{}, Replies: []web.ReplyView{}}
	snap := a.Snapshot(now)
	for _, w := range windows {
		iw := web.IPWindow{Window: alert.FormatDuration(w)}
		for _, sw := range snap.Windows {
			if sw.SourceIP == ip && sw.Window == w {
				iw.Attempts, iw.Blocks, iw.Deferrals = sw.Attempts, sw.Blocks, sw.Deferrals
				iw.BlockRatio, iw.DeferralRatio = float64(sw.Blocks)/float64(sw.Attempts), float64(sw.Deferrals)/float64(sw.Attempts)
			}
		}
		rep.Windows = append(rep.Windows, iw)
	}
	if t, ok := snap.LastBlock[ip]; ok {
		t = t.UTC()
		rep.LastBlock = &t
	}
	for _, al := range a.alerts.Snapshot() {
		if al.State == alert.Inactive || al.Labels[alert.LabelSourceIP] != label {
			continue
		}
		rep.Alerts = append(rep.Alerts, web.View(al))
	}
	if len(windows) > 0 {
		longest := slices.Max(windows)
		rep.DomainsWindow = alert.FormatDuration(longest)
		// The window as the alerts count it (whole minutes by event time,
		// ending with now's), over this IP's cells only.
		nowMin, span := store.MinuteOf(now), int64(longest/time.Minute)
		counts := map[string]*alert.Counts{}
		err := a.store.IPBuckets(time.Unix((nowMin-span+1)*60, 0), time.Unix((nowMin+1)*60, 0), ip, func(m int64, se store.Series, n uint64) {
			if !se.Proofpoint || m <= nowMin-span || m > nowMin {
				return
			}
			c := counts[se.RecipientDomain]
			if c == nil {
				c = &alert.Counts{}
				counts[se.RecipientDomain] = c
			}
			c.Add(se.Outcome, n)
		})
		if err != nil {
			return nil, err
		}
		for d, c := range counts {
			rep.TopDomains = append(rep.TopDomains, web.DomainCounts{Domain: d, Attempts: c.Attempts, Blocks: c.Blocks, Deferrals: c.Deferrals})
		}
		slices.SortFunc(rep.TopDomains, func(x, y web.DomainCounts) int {
			return cmp.Or(cmp.Compare(y.Blocks, x.Blocks), cmp.Compare(y.Deferrals, x.Deferrals), cmp.Compare(y.Attempts, x.Attempts), cmp.Compare(x.Domain, y.Domain))
		})
		if len(rep.TopDomains) > web.MaxPageDomains {
			rep.TopDomains = rep.TopDomains[:web.MaxPageDomains]
		}
	}
	// The IP's own replies only: the store's domain bound keeps them to a
	// few per kept domain, where Replies("") would read every IP's.
	var replies []store.Reply
	if err := a.store.EachIPReply(ip, func(r store.Reply) { replies = append(replies, r) }); err != nil {
		return nil, err
	}
	slices.SortFunc(replies, func(x, y store.Reply) int {
		return cmp.Or(cmp.Compare(y.Count, x.Count), cmp.Compare(x.RecipientDomain, y.RecipientDomain), cmp.Compare(x.Response, y.Response))
	})
	rep.RepliesTotal = len(replies)
	for _, r := range replies[:min(len(replies), web.MaxPageReplies)] {
		r.FirstSeen, r.LastSeen = r.FirstSeen.UTC(), r.LastSeen.UTC()
		rep.Replies = append(rep.Replies, r)
	}
	overflow, err := a.store.ReplyOverflow(ip)
	if err != nil {
		return nil, err
	}
	for _, o := range overflow {
		if o.SourceIP == ip { // ReplyOverflow("") is every IP's
			rep.RepliesOverflow += o.Count
		}
	}
	ds, err := a.store.DomainStats(ip)
	if err != nil {
		return nil, err
	}
	lim := a.store.Limits()
	rep.DomainsStored, rep.DomainsFolded = ds.Stored, ds.Folded
	rep.DomainsStoredLimit, rep.DomainsTotalLimit = lim.PerIP, lim.Total
	if err := a.ipHistory(rep, ip, now); err != nil {
		return nil, err
	}
	return rep, nil
}

// Alerts implements web.Source.
func (a *App) Alerts() []alert.Alert { return a.alerts.Snapshot() }

// Now implements web.Source.
func (a *App) Now() time.Time { return a.now() }
