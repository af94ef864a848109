package alert

import (
	"cmp"
	"net/url"
	"slices"
	"time"

	"github.com/ppwatch/ppwatch/pkg/event"
)

// Evaluator holds the rules and what the annotations link to.
type Evaluator struct {
	Rules        []*Rule
	ExternalURL  string // the daemon's URL as users reach it, without a trailing "/"
	RunbookURL   string // the runbook, without a fragment: each alert adds its rule's section
	MaxInstances int    // per rule; 0 = DefaultMaxInstances
}

// Result is the outcome of one evaluation.
type Result struct {
	Alerts      Alerts
	Transitions []Transition
	// Cut counts, per rule, the instances whose condition held but that were
	// left out over MaxInstances.
	Cut map[string]int
}

// group is one instance candidate: its counts and those per domain.
type group struct {
	key     Key
	counts  Counts
	domains map[string]Counts
	value   float64
}

// Eval evaluates every rule at now against prev and returns the new state.
// prev is not modified. On an error from src nothing is evaluated: the
// caller keeps prev.
func (e *Evaluator) Eval(now time.Time, src Source, prev Alerts) (Result, error) {
	var windows []time.Duration
	for _, r := range e.Rules {
		if !slices.Contains(windows, r.Window) {
			windows = append(windows, r.Window)
		}
	}
	slices.Sort(windows)
	var data map[time.Duration]map[Key]Counts
	if len(windows) > 0 {
		var err error
		if data, err = src.Counts(now, windows); err != nil {
			return Result{}, err
		}
	}
	max := e.MaxInstances
	if max <= 0 {
		max = DefaultMaxInstances
	}
	res := Result{Alerts: Alerts{}, Cut: map[string]int{}}
	for _, r := range e.Rules {
		groups := map[Key]*group{}
		for k, c := range data[r.Window] {
			if r.ByDomain && k.RecipientDomain == event.OtherDomain {
				continue // many domains together: no domain to name in an alert
			}
			gk := r.group(k)
			g := groups[gk]
			if g == nil {
				g = &group{key: gk}
				groups[gk] = g
			}
			g.counts.add(c)
		}
		var firing []*group
		for _, g := range groups {
			g.value = r.value(g.counts)
			if g.value > r.Threshold && g.counts.Attempts >= r.MinAttempts {
				firing = append(firing, g)
			}
		}
		// Instances already active keep their place over the bound, then
		// the worst first; the key breaks ties so the cut is stable.
		slices.SortFunc(firing, func(a, b *group) int {
			_, aa := prev[Fingerprint(r.Name, r.labels(a.key))]
			_, ba := prev[Fingerprint(r.Name, r.labels(b.key))]
			if aa != ba {
				if aa {
					return -1
				}
				return 1
			}
			return cmp.Or(cmp.Compare(b.value, a.value), cmp.Compare(a.key.SourceIP, b.key.SourceIP),
				cmp.Compare(a.key.RecipientDomain, b.key.RecipientDomain))
		})
		if len(firing) > max {
			res.Cut[r.Name] = len(firing) - max
			firing = firing[:max]
		}
		addDomains(r, firing, data[r.Window])
		tops, err := topReplies(now, r, firing, src)
		if err != nil {
			return Result{}, err
		}
		for _, g := range firing {
			labels := r.labels(g.key)
			k := Fingerprint(r.Name, labels)
			a, ok := prev[k]
			from := a.State
			if !ok || a.State == Inactive {
				a = Alert{Rule: r.Name, Labels: labels, State: Pending, ActiveAt: now}
				from = Inactive
			}
			a.Value, a.Counts = g.value, g.counts
			if a.State == Pending && now.Sub(a.ActiveAt) >= r.For {
				a.State, a.FiredAt = Firing, now
			}
			a.GeneratorURL = e.reportURL(r, g.key)
			a.Annotations = r.render(e.value(r, g, a.GeneratorURL, tops[g.key]))
			res.Alerts[k] = a
			if from != a.State {
				res.Transitions = append(res.Transitions, Transition{Alert: a, From: from, To: a.State})
			}
		}
	}
	for _, k := range prev.keys() {
		if _, ok := res.Alerts[k]; ok {
			continue
		}
		a := prev[k]
		switch a.State {
		case Pending:
			a.State = Inactive
			res.Transitions = append(res.Transitions, Transition{Alert: a, From: Pending, To: Inactive})
		case Firing:
			a.State, a.ResolvedAt = Inactive, now
			a.Annotations = resolvedAnnotations(a)
			res.Alerts[k] = a
			res.Transitions = append(res.Transitions, Transition{Alert: a, From: Firing, To: Inactive})
		default: // resolved, not sent yet
			if !a.ResolvedAt.IsZero() {
				res.Alerts[k] = a
			}
		}
	}
	slices.SortStableFunc(res.Transitions, func(a, b Transition) int { return cmp.Compare(a.Alert.Key(), b.Alert.Key()) })
	return res, nil
}

func (as Alerts) keys() []string {
	keys := make([]string, 0, len(as))
	for k := range as {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// reportURL is the daemon's page for the instance's sending IP, or its
// list of alerts when the rule is not by sending IP.
func (e *Evaluator) reportURL(r *Rule, k Key) string {
	if !r.BySourceIP {
		return e.ExternalURL + "/alerts"
	}
	return e.ExternalURL + "/ip/" + url.PathEscape(ipLabel(k.SourceIP))
}

// value is what the annotation templates see.
func (e *Evaluator) value(r *Rule, g *group, report string, top *Reply) Value {
	v := Value{
		AlertName:     r.Name,
		Severity:      r.Severity,
		Value:         g.value,
		BlockRatio:    ratio(g.counts.Blocks, g.counts.Attempts),
		DeferralRatio: ratio(g.counts.Deferrals, g.counts.Attempts),
		Attempts:      g.counts.Attempts,
		Blocks:        g.counts.Blocks,
		Deferrals:     g.counts.Deferrals,
		Window:        FormatDuration(r.Window),
		Threshold:     r.Threshold,
		MinAttempts:   r.MinAttempts,
		ReportURL:     report,
		RunbookURL:    e.RunbookURL,
		Labels:        r.labels(g.key),
	}
	if r.Runbook != "" {
		v.RunbookURL += "#" + r.Runbook
	}
	v.Ratio = v.BlockRatio
	if !r.Measure.blocks() {
		v.Ratio = v.DeferralRatio
	}
	if r.BySourceIP {
		v.SourceIP = ipLabel(g.key.SourceIP)
	}
	if r.ByDomain {
		v.RecipientDomain = g.key.RecipientDomain
	}
	for d, c := range g.domains {
		v.TopDomains = append(v.TopDomains, DomainCounts{Domain: d, Attempts: c.Attempts, Blocks: c.Blocks, Deferrals: c.Deferrals})
	}
	num := func(d DomainCounts) uint64 {
		if r.Measure.blocks() {
			return d.Blocks
		}
		return d.Deferrals
	}
	slices.SortFunc(v.TopDomains, func(a, b DomainCounts) int {
		return cmp.Or(cmp.Compare(num(b), num(a)), cmp.Compare(b.Attempts, a.Attempts), cmp.Compare(a.Domain, b.Domain))
	})
	if len(v.TopDomains) > topDomains {
		v.TopDomains = v.TopDomains[:topDomains]
	}
	v.TopReply = top
	return v
}

// addDomains fills the per-domain counts of the firing groups only, for
// their annotations: with 100,000 domains, a map per group of every group
// was most of an evaluation's memory.
func addDomains(r *Rule, firing []*group, data map[Key]Counts) {
	if len(r.tmpl) == 0 || len(firing) == 0 {
		return
	}
	byKey := make(map[Key]*group, len(firing))
	for _, g := range firing {
		g.domains = map[string]Counts{}
		byKey[g.key] = g
	}
	for k, c := range data {
		if g := byKey[r.group(k)]; g != nil {
			d := g.domains[k.RecipientDomain]
			d.add(c)
			g.domains[k.RecipientDomain] = d
		}
	}
}

// topReplies picks, for each firing group, the most frequent reply of the
// kind the rule measures (blocks: 5xx not about the recipient; deferrals:
// 4xx), preferring replies seen within the window. The replies stream past
// once per group's IP (or pair), never all kept: an IP sending to 100,000
// domains has as many.
func topReplies(now time.Time, r *Rule, firing []*group, src Source) (map[Key]*Reply, error) {
	if len(r.tmpl) == 0 || len(firing) == 0 {
		return nil, nil
	}
	tops := make(map[Key]*Reply, len(firing))
	recent := make(map[Key]bool, len(firing))
	for _, g := range firing {
		tops[g.key] = nil
	}
	consider := func(rep Reply) {
		gk := r.group(Key{SourceIP: rep.SourceIP, RecipientDomain: rep.RecipientDomain})
		cur, ok := tops[gk]
		if !ok || !r.Measure.counts(rep) {
			return
		}
		rec := rep.LastSeen.After(now.Add(-r.Window))
		if cur == nil || preferred(rep, rec, cur, recent[gk]) {
			c := rep
			tops[gk], recent[gk] = &c, rec
		}
	}
	if !r.BySourceIP {
		// By domain alone: every IP's replies, in one pass for all groups.
		return tops, src.EachReply("", true, consider)
	}
	for _, g := range firing {
		var err error
		if r.ByDomain {
			err = src.EachPairReply(g.key.SourceIP, g.key.RecipientDomain, consider)
		} else {
			err = src.EachReply(g.key.SourceIP, false, consider)
		}
		if err != nil {
			return nil, err
		}
	}
	return tops, nil
}

// counts reports whether rep is a reply of the kind the measure counts.
func (m Measure) counts(rep Reply) bool {
	if m.blocks() {
		return rep.SMTPCode >= 500 && rep.SMTPCode < 600 && rep.Class != "recipient"
	}
	return rep.SMTPCode >= 400 && rep.SMTPCode < 500
}

// preferred orders candidate replies: seen within the window first, then
// the most frequent, then the latest seen, then by domain and text, so the
// pick does not depend on the order the replies come in.
func preferred(rep Reply, recent bool, cur *Reply, curRecent bool) bool {
	if recent != curRecent {
		return recent
	}
	return cmp.Or(cmp.Compare(rep.Count, cur.Count), rep.LastSeen.Compare(cur.LastSeen),
		cmp.Compare(cur.RecipientDomain, rep.RecipientDomain), cmp.Compare(cur.Response, rep.Response)) > 0
}
