package app

import (
	"cmp"
	"slices"
	"time"

	"github.com/ppwatch/ppwatch/pkg/event"
	"github.com/ppwatch/ppwatch/pkg/store"
	"github.com/ppwatch/ppwatch/pkg/web"
)

// ipHistory adds the IP's latest episodes and its history to rep.
func (a *App) ipHistory(rep *web.IPReport, ip string, now time.Time) error {
	// All the IP's episodes kept: retention bounds them.
	eps, err := a.store.Episodes(ip, time.Time{}, now.Add(24*time.Hour))
	if err != nil {
		return err
	}
	rep.EpisodesTotal = len(eps)
	// The newest first; of one start, the IP's over all domains first.
	slices.SortStableFunc(eps, func(x, y store.Episode) int {
		return cmp.Or(y.Start.Compare(x.Start), cmp.Compare(x.RecipientDomain, y.RecipientDomain), cmp.Compare(x.Kind, y.Kind))
	})
	rep.Episodes = append([]web.EpisodeView{}, eps[:min(len(eps), web.MaxPageEpisodes)]...)
	h, err := a.store.IPHistory(ip)
	if err != nil {
		return err
	}
	h.SourceIP = rep.SourceIP
	first := now.UTC().AddDate(0, 0, 1-web.HistoryDays).Format(time.DateOnly)
	h.Days = slices.DeleteFunc(h.Days, func(d event.DayVolume) bool { return d.Day < first })
	rep.History = h
	return nil
}
