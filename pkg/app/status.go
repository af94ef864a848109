package app

import (
	"cmp"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/ppwatch/ppwatch/pkg/alert"
	"github.com/ppwatch/ppwatch/pkg/alerting"
	"github.com/ppwatch/ppwatch/pkg/config"
	"github.com/ppwatch/ppwatch/pkg/dnscheck"
	"github.com/ppwatch/ppwatch/pkg/event"
	"github.com/ppwatch/ppwatch/pkg/store"
	"github.com/ppwatch/ppwatch/pkg/version"
	"github.com/ppwatch/ppwatch/pkg/web"
)

// stateRules are the running config's rules that set an IP's state.
type stateRules struct {
	thresholds []web.Threshold
	windows    []time.Duration   // of thresholds, in order
	measures   map[string]string // rule name → measure, for the alerts' states
}

// rulesOf picks, for blocked, the block_ratio rule by source IP alone (the
// page-severity one if there is one) and, for deferred, the first
// deferral_ratio rule by source IP alone: the rules whose alerts say an IP
// is blocked or slowed down, as opposed to one domain of it.
func rulesOf(cfg *config.Config) stateRules {
	sr := stateRules{measures: map[string]string{}}
	var block, deferral *config.AlertRule
	for i, r := range cfg.Alerts {
		sr.measures[r.Name] = r.Measure
		if !r.BySourceIP() || r.ByDomain() {
			continue
		}
		switch {
		case r.Measure == string(alert.BlockRatio) && (block == nil || block.Severity != "page" && r.Severity == "page"):
			block = &cfg.Alerts[i]
		case r.Measure == string(alert.DeferralRatio) && deferral == nil:
			deferral = &cfg.Alerts[i]
		}
	}
	for _, p := range []struct {
		state string
		r     *config.AlertRule
	}{{web.StateBlocked, block}, {web.StateDeferred, deferral}} {
		if p.r == nil {
			continue
		}
		sr.thresholds = append(sr.thresholds, web.Threshold{State: p.state, AlertName: p.r.Name, Measure: p.r.Measure,
			Window: alert.FormatDuration(time.Duration(p.r.Window)), Threshold: p.r.Threshold, MinAttempts: uint64(p.r.MinAttempts)})
		sr.windows = append(sr.windows, time.Duration(p.r.Window))
	}
	return sr
}

// Summary implements web.Source: every IP the state file has attempts of,
// with its windows as the alert rules count them (event minutes, from the
// store), its state, alerts and top reply, worst first.
func (a *App) Summary() (*web.Summary, error) {
	now := a.now()
	a.mu.Lock()
	rules := rulesOf(a.cfg)
	a.mu.Unlock()
	ver, _, _ := version.Info()
	sum := &web.Summary{GeneratedAt: now.UTC(), Version: ver, Thresholds: rules.thresholds, IPs: []web.IPStatus{},
		Alerts: []web.AlertView{}, Inputs: a.Inputs(), HygieneFailures: []web.CheckFailure{}}
	if sum.Thresholds == nil {
		sum.Thresholds = []web.Threshold{}
	}
	windows := slices.Clone(a.alerts.PageWindows())
	for _, w := range rules.windows {
		if !slices.Contains(windows, w) {
			windows = append(windows, w)
		}
	}
	slices.Sort(windows)
	for _, w := range windows {
		sum.Windows = append(sum.Windows, alert.FormatDuration(w))
	}
	counts, err := alerting.StoreSource{Store: a.store}.Counts(now, windows)
	if err != nil {
		return nil, err
	}
	perIP := map[string]map[time.Duration]alert.Counts{}
	for w, byKey := range counts {
		for k, c := range byKey {
			if perIP[k.SourceIP] == nil {
				perIP[k.SourceIP] = map[time.Duration]alert.Counts{}
			}
			t := perIP[k.SourceIP][w]
			t.Attempts, t.Blocks, t.Deferrals = t.Attempts+c.Attempts, t.Blocks+c.Blocks, t.Deferrals+c.Deferrals
			perIP[k.SourceIP][w] = t
		}
	}
	snap := a.Snapshot(now)
	for _, at := range snap.Attempts {
		if perIP[at.SourceIP] == nil {
			perIP[at.SourceIP] = map[time.Duration]alert.Counts{}
		}
	}
	active := a.alerts.Snapshot()
	for _, al := range active {
		if al.State == alert.Firing {
			sum.Alerts = append(sum.Alerts, web.View(al))
		}
	}
	var longest time.Duration
	if len(windows) > 0 {
		longest = windows[len(windows)-1]
	}
	for ip, byWindow := range perIP {
		st := web.IPStatus{SourceIP: ipLabel(ip), Alerts: []web.AlertView{}}
		for _, w := range windows {
			c := byWindow[w]
			sw := web.StatusWindow{IPWindow: web.IPWindow{Window: alert.FormatDuration(w), Attempts: c.Attempts, Blocks: c.Blocks, Deferrals: c.Deferrals}}
			if c.Attempts > 0 {
				sw.BlockRatio, sw.DeferralRatio = float64(c.Blocks)/float64(c.Attempts), float64(c.Deferrals)/float64(c.Attempts)
			}
			for i, th := range rules.thresholds {
				if rules.windows[i] != w {
					continue
				}
				over := c.Attempts >= th.MinAttempts && c.Attempts > 0
				if th.State == web.StateBlocked {
					sw.BlockThreshold, sw.BlockOver = &th.Threshold, over && sw.BlockRatio > th.Threshold
				} else {
					sw.DeferralThreshold, sw.DeferralOver = &th.Threshold, over && sw.DeferralRatio > th.Threshold
				}
			}
			st.Windows = append(st.Windows, sw)
		}
		for _, al := range active {
			if al.State != alert.Inactive && al.Labels[alert.LabelSourceIP] == st.SourceIP {
				st.Alerts = append(st.Alerts, web.View(al))
			}
		}
		st.State, st.Reason, st.Since = ipState(st, rules)
		if t, ok := snap.LastBlock[ip]; ok {
			t = t.UTC()
			st.LastBlock = &t
		}
		var replies []store.Reply
		if err := a.store.EachIPReply(ip, func(r store.Reply) { replies = append(replies, r) }); err != nil {
			return nil, err
		}
		if top := web.TopReply(web.GroupReplies(replies), st.State, now.Add(-longest)); top != nil {
			st.TopReply = top
			st.NextStep = web.NextStep(top.Class)
		}
		sum.IPs = append(sum.IPs, st)
	}
	slices.SortFunc(sum.IPs, func(x, y web.IPStatus) int {
		xl, yl := x.Windows[len(x.Windows)-1], y.Windows[len(y.Windows)-1]
		return cmp.Or(cmp.Compare(web.StateRank(x.State), web.StateRank(y.State)), cmp.Compare(yl.Blocks, xl.Blocks),
			cmp.Compare(yl.Deferrals, xl.Deferrals), cmp.Compare(yl.Attempts, xl.Attempts), cmp.Compare(x.SourceIP, y.SourceIP))
	})
	for _, s := range a.checks.Latest() {
		if s.Verdict == dnscheck.Fail {
			sum.HygieneFailures = append(sum.HygieneFailures, web.CheckFailure{Check: string(s.Result.Check), Subject: s.Result.Subject,
				Reason: s.Result.Reason, Record: s.Result.Record, Since: s.Since.UTC()})
		}
	}
	return sum, nil
}

func ipLabel(ip string) string {
	if ip == "" {
		return alert.Unknown
	}
	return ip
}

// ipState is blocked while an alert of a block rule on the IP is pending or
// firing or the blocked threshold holds in its window, deferred likewise,
// else clean; with the reason and since when the state's alerts are active.
func ipState(st web.IPStatus, rules stateRules) (state, reason string, since *time.Time) {
	for _, want := range []string{web.StateBlocked, web.StateDeferred} {
		var why string
		for _, al := range st.Alerts {
			m := alert.Measure(rules.measures[al.AlertName])
			if (m == alert.BlockRatio || m == alert.Blocks) != (want == web.StateBlocked) || m == "" {
				continue
			}
			if since == nil || al.ActiveAt.Before(*since) {
				t := al.ActiveAt
				since = &t
			}
			if why == "" {
				why = al.AlertName + " " + al.State
				if d := al.Labels[alert.LabelRecipientDomain]; d != "" {
					why += " for " + d
				}
			}
		}
		for _, th := range rules.thresholds {
			if th.State != want || why != "" {
				continue
			}
			for _, w := range st.Windows {
				if w.Window != th.Window {
					continue
				}
				if r := w.BlockRatio; want == web.StateBlocked && w.BlockOver {
					why = fmt.Sprintf("block ratio %s over %s is above %s", alert.Percent(r), w.Window, alert.Percent(th.Threshold))
				} else if r := w.DeferralRatio; want == web.StateDeferred && w.DeferralOver {
					why = fmt.Sprintf("deferral ratio %s over %s is above %s", alert.Percent(r), w.Window, alert.Percent(th.Threshold))
				}
			}
		}
		if why != "" {
			return want, why, since
		}
	}
	return web.StateClean, "", nil
}

// Timeline implements web.Source: the IP's Proofpoint attempts, blocks and
// deferrals per step of event time, from the store's minute buckets.
func (a *App) Timeline(ip string, since, until time.Time, step time.Duration) (*web.Timeline, error) {
	stepMin := int64(step / time.Minute)
	first, last := store.MinuteOf(since)/stepMin*stepMin, store.MinuteOf(until)/stepMin*stepMin
	tl := &web.Timeline{SourceIP: ipLabel(ip), Since: time.Unix(first*60, 0).UTC(), Until: time.Unix((last+stepMin)*60, 0).UTC(),
		Step: alert.FormatDuration(step)}
	for m := first; m <= last; m += stepMin {
		tl.Points = append(tl.Points, web.TimelinePoint{Start: time.Unix(m*60, 0).UTC()})
	}
	err := a.store.IPBuckets(tl.Since, tl.Until, ip, func(m int64, se store.Series, n uint64) {
		i := (m - first) / stepMin
		if !se.Proofpoint || m < first || i >= int64(len(tl.Points)) {
			return
		}
		p := &tl.Points[i]
		p.Attempts += n
		switch se.Outcome {
		case event.OutcomeBlock:
			p.Blocks += n
		case event.OutcomeDeferral:
			p.Deferrals += n
		}
	})
	return tl, err
}

// lineRates keeps the previous look at each input's lines, for lines/s.
type lineRates struct {
	mu   sync.Mutex
	at   time.Time
	prev map[string]uint64
	rate map[string]float64
}

// Inputs implements web.Source: each input's health as /-/ready and the
// ppwatch_input_* metrics tell it, with lines read and lines/s.
func (a *App) Inputs() []web.InputStatus {
	now := a.now()
	lines := map[string]uint64{}
	for _, m := range collect(a.self.Lines) {
		lines[label(m, "input")] += uint64(m.GetCounter().GetValue())
	}
	last := map[string]time.Time{}
	for _, m := range collect(a.self.LastLine) {
		last[label(m, "input")] = time.Unix(0, int64(m.GetGauge().GetValue()*1e9)).UTC()
	}
	r := &a.rates
	r.mu.Lock()
	defer r.mu.Unlock()
	// A look within a second of the previous one keeps its rates: a
	// second is the least that says something at a flush a second.
	fresh := r.prev == nil || now.Sub(r.at) >= time.Second
	rates := map[string]float64{}
	if fresh && r.prev != nil {
		secs := now.Sub(r.at).Seconds()
		for in, n := range lines {
			rates[in] = float64(n-min(n, r.prev[in])) / secs
		}
	}
	if fresh {
		if r.prev != nil {
			r.rate = rates
		}
		r.at, r.prev = now, lines
	}
	out := []web.InputStatus{}
	for _, s := range a.health.states() {
		in := web.InputStatus{Input: s.input, Files: s.files, Lines: lines[s.input], Errors: s.errors}
		if rate, ok := r.rate[s.input]; ok {
			in.LinesPerSecond = &rate
		}
		if t, ok := last[s.input]; ok {
			in.LastLine = &t
		}
		if s.files == 0 {
			in.Problem = fmt.Sprintf("%v (%s)", s.err, s.hint)
		}
		out = append(out, in)
	}
	return out
}

// collect reads a metric vector's samples.
func collect(c prometheus.Collector) []*dto.Metric {
	ch := make(chan prometheus.Metric)
	go func() { c.Collect(ch); close(ch) }()
	var out []*dto.Metric
	for m := range ch {
		var d dto.Metric
		if m.Write(&d) == nil {
			out = append(out, &d)
		}
	}
	return out
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}
