package app

import (
	"cmp"
	"slices"
	"time"

	"github.com/ppwatch/ppwatch/pkg/alert"
	"github.com/ppwatch/ppwatch/pkg/alerting"
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
		counts, err := alerting.StoreSource{Store: a.store}.Counts(now, []time.Duration{longest})
		if err != nil {
			return nil, err
		}
		for k, c := range counts[longest] {
			if k.SourceIP == ip {
				rep.TopDomains = append(rep.TopDomains, web.DomainCounts{Domain: k.RecipientDomain, Attempts: c.Attempts, Blocks: c.Blocks, Deferrals: c.Deferrals})
			}
		}
		slices.SortFunc(rep.TopDomains, func(x, y web.DomainCounts) int {
			return cmp.Or(cmp.Compare(y.Blocks, x.Blocks), cmp.Compare(y.Deferrals, x.Deferrals), cmp.Compare(y.Attempts, x.Attempts), cmp.Compare(x.Domain, y.Domain))
		})
		if len(rep.TopDomains) > web.MaxPageDomains {
			rep.TopDomains = rep.TopDomains[:web.MaxPageDomains]
		}
	}
	replies, err := a.store.Replies(ip)
	if err != nil {
		return nil, err
	}
	for _, r := range replies {
		if r.SourceIP != ip { // Replies("") is every IP's
			continue
		}
		if rep.RepliesTotal++; len(rep.Replies) == web.MaxPageReplies {
			continue
		}
		rep.Replies = append(rep.Replies, web.ReplyView{RecipientDomain: r.RecipientDomain, Response: r.Response, SMTPCode: r.SMTPCode,
			EnhancedCode: r.EnhancedCode, Class: r.Class, Count: r.Count, FirstSeen: r.FirstSeen.UTC(), LastSeen: r.LastSeen.UTC()})
	}
	return rep, nil
}

// Alerts implements web.Source.
func (a *App) Alerts() []alert.Alert { return a.alerts.Snapshot() }

// Now implements web.Source.
func (a *App) Now() time.Time { return a.now() }
