// Package agg keeps, in memory, what the metrics endpoint and the alerts
// read: monotonic attempt totals, Proofpoint totals per recipient domain,
// and per-minute Proofpoint figures per source IP for the ratio windows. The
// daemon loads it from the store at start and adds each committed batch, so
// a scrape never opens a store transaction. Safe for concurrent use.
package agg

import (
	"container/heap"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ppwatch/ppwatch/pkg/event"
)

// Other is the recipient_domain value of the domains outside the cap.
const Other = event.OtherDomain

// Series is what one attempt is counted under (the one type of it).
type Series = event.Series

// Attempt is the sample of ppwatch_attempts_total.
type Attempt struct {
	MTA, SourceIP, Status, Class string
	Proofpoint                   bool
	N                            uint64
}

// PPAttempt is a sample of ppwatch_proofpoint_attempts_total, or, with
// Outcome set, of ppwatch_proofpoint_blocks_total or _deferrals_total.
type PPAttempt struct {
	SourceIP, RecipientDomain, Status, Class string
	Outcome                                  string // Block, Deferral or ""
	N                                        uint64
}

// Window holds the Proofpoint figures of one source IP over one window.
type Window struct {
	SourceIP  string
	Window    time.Duration
	Attempts  uint64 // Proofpoint attempts
	Blocks    uint64
	Deferrals uint64
}

// Snapshot is a consistent copy for one scrape or one alert evaluation.
type Snapshot struct {
	Attempts   []Attempt
	PPAttempts []PPAttempt // at most Top+len(Always)+1 domains per (ip, status, class); Outcome ""
	PPOutcomes []PPAttempt // blocks and deferrals by (ip, domain, class), same domains; Status ""
	Windows    []Window    // only windows with Proofpoint attempts
	LastBlock  map[string]time.Time
	// Folded is, per source IP, the Proofpoint attempts the state file
	// counts under Other because the IP (or the store) had reached its
	// bound of recipient domains kept by name; a part of PPAttempts'
	// "other", which also holds the domains outside the top N.
	Folded map[string]uint64
}

// Options bound the domains and set the windows.
type Options struct {
	Top     int             // domains with most Proofpoint attempts that keep their name
	Always  []string        // domains that always keep their name
	Windows []time.Duration // ratio windows; the longest sets the memory kept per IP
}

// Agg is the in-memory aggregate.
type Agg struct {
	mu        sync.Mutex
	opts      Options
	always    map[string]bool
	attempts  map[Attempt]uint64 // key with N = 0
	minutes   map[string]*ring
	span      int64 // minutes kept per IP
	lastBlock map[string]time.Time
	stored    map[string]uint64 // source IP -> attempts the store folded (Snapshot.Folded)
	strs      map[string]string // label values interned: keys must not pin event lines

	// Proofpoint attempts per recipient domain: with 100,000 domains these
	// are most of the daemon's memory, so a key is a domain pointer and
	// small label numbers (24 bytes) instead of five strings.
	domains map[string]*domain
	pp      map[ppKey]uint64
	labels  map[string]uint32 // label value -> number
	names   []string          // number -> label value

	// The domain cap is recomputed at most once per refold: the folded
	// counts are kept up to date in between, so a scrape copies at most
	// Top+len(Always)+1 domains' series instead of folding them all. (A
	// domain entering or leaving the top moves counts between its series
	// and "other", as any top-N cap does; doing it rarely keeps that rare.)
	folding  bool // the cap has been chosen once
	keptTop  int  // domains kept by volume, not by Always
	folded   map[PPAttempt]uint64
	foldedAt time.Time
	// keptVersion changes whenever the kept domains may have changed, so
	// that the caller saves them (Kept) only then.
	keptVersion uint64
}

// domain is one recipient domain of Proofpoint attempts.
type domain struct {
	name   string
	volume uint64 // Proofpoint attempts
	keep   bool   // has its own series (else "other")
}

// ppKey is a PPAttempt with its label values as numbers.
type ppKey struct {
	d                          *domain
	ip, status, class, outcome uint32
}

// refold is how often the top domains are chosen again.
const refold = time.Minute

// New returns an empty aggregate.
func New(o Options) *Agg {
	a := &Agg{opts: o, always: map[string]bool{}, attempts: map[Attempt]uint64{}, minutes: map[string]*ring{},
		lastBlock: map[string]time.Time{}, stored: map[string]uint64{}, strs: map[string]string{},
		domains: map[string]*domain{}, pp: map[ppKey]uint64{}, labels: map[string]uint32{}}
	for _, d := range o.Always {
		a.always[d] = true
	}
	for _, w := range o.Windows {
		if m := int64(w / time.Minute); m > a.span {
			a.span = m
		}
	}
	if a.span == 0 {
		a.span = 1
	}
	return a
}

// AddTotal adds n to the monotonic totals of s (loading from the store).
func (a *Agg) AddTotal(s Series, n uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.addTotal(s, n)
}

func (a *Agg) addTotal(s Series, n uint64) {
	k := Attempt{MTA: s.MTA, SourceIP: s.SourceIP, Status: s.Status, Class: s.Class, Proofpoint: s.Proofpoint}
	if _, ok := a.attempts[k]; !ok {
		k = Attempt{MTA: a.intern(s.MTA), SourceIP: a.intern(s.SourceIP), Status: a.intern(s.Status), Class: a.intern(s.Class), Proofpoint: s.Proofpoint}
	}
	a.attempts[k] += n
	if !s.Proofpoint {
		return
	}
	d := a.domains[s.RecipientDomain]
	if d == nil {
		d = &domain{name: strings.Clone(s.RecipientDomain), keep: a.always[s.RecipientDomain]}
		a.domains[d.name] = d
		if a.folding && !d.keep && a.keptTop < a.opts.Top {
			// The top is not full yet (a young state file): a new domain
			// joins it at once instead of waiting for the next refold.
			d.keep = true
			a.keptTop++
			a.keptVersion++
		}
	}
	d.volume += n
	pk := ppKey{d: d, ip: a.label(s.SourceIP), status: a.label(s.Status), class: a.label(s.Class), outcome: a.label(s.Outcome)}
	a.pp[pk] += n
	if a.folding {
		a.folded[a.foldedKey(pk)] += n
	}
}

// label returns the number of a label value of a small set (IPs,
// statuses, classes, outcomes).
func (a *Agg) label(v string) uint32 {
	if n, ok := a.labels[v]; ok {
		return n
	}
	c := a.intern(v)
	n := uint32(len(a.names))
	a.names = append(a.names, c)
	a.labels[c] = n
	return n
}

// foldedKey is the series k is counted under after the domain cap.
func (a *Agg) foldedKey(k ppKey) PPAttempt {
	dom := Other
	if k.d.keep {
		dom = k.d.name
	}
	return PPAttempt{SourceIP: a.names[k.ip], RecipientDomain: dom, Status: a.names[k.status], Class: a.names[k.class], Outcome: a.names[k.outcome]}
}

// intern returns the one copy of a label value of a small set (IPs,
// statuses, classes, MTAs).
func (a *Agg) intern(s string) string {
	if c, ok := a.strs[s]; ok {
		return c
	}
	c := strings.Clone(s)
	a.strs[c] = c
	return c
}

// AddMinute adds n Proofpoint attempts of which blocks and deferrals, at
// event minute m (unix seconds / 60), to the windows of ip.
func (a *Agg) AddMinute(ip string, m int64, n, blocks, deferrals uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.addMinute(ip, m, n, blocks, deferrals)
}

func (a *Agg) addMinute(ip string, m int64, n, blocks, deferrals uint64) {
	r := a.minutes[ip]
	if r == nil {
		r = &ring{slots: make([]slot, a.span)}
		a.minutes[a.intern(ip)] = r
	}
	r.add(m, n, blocks, deferrals)
}

// SetLastBlock records a block at t for ip if it is the latest.
func (a *Agg) SetLastBlock(ip string, t time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.setLastBlock(ip, t)
}

func (a *Agg) setLastBlock(ip string, t time.Time) {
	if t.After(a.lastBlock[ip]) {
		a.lastBlock[a.intern(ip)] = t
	}
}

// AddFolded adds n to the attempts of ip that the state file counts under
// Other (loading from the store).
func (a *Agg) AddFolded(ip string, n uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.stored[a.intern(ip)] += n
}

// Event is one committed attempt.
type Event struct {
	Time   time.Time
	Series Series
	Folded bool // counted under Other: the domain was past the store's bound
}

// Add counts committed attempts.
func (a *Agg) Add(evs []Event) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i := range evs {
		e := &evs[i]
		a.addTotal(e.Series, 1)
		if e.Folded {
			a.stored[a.intern(e.Series.SourceIP)]++
		}
		if !e.Series.Proofpoint {
			continue
		}
		var b, d uint64
		switch e.Series.Outcome {
		case event.OutcomeBlock:
			b = 1
			a.setLastBlock(e.Series.SourceIP, e.Time)
		case event.OutcomeDeferral:
			d = 1
		}
		a.addMinute(e.Series.SourceIP, e.Time.Unix()/60, 1, b, d)
	}
}

// Snapshot copies the figures as of now, with the recipient domains capped.
func (a *Agg) Snapshot(now time.Time) *Snapshot {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := &Snapshot{LastBlock: make(map[string]time.Time, len(a.lastBlock)), Folded: make(map[string]uint64, len(a.stored))}
	for ip, n := range a.stored {
		s.Folded[ip] = n
	}
	for k, n := range a.attempts {
		k.N = n
		s.Attempts = append(s.Attempts, k)
	}
	if !a.folding || now.Sub(a.foldedAt) >= refold || now.Before(a.foldedAt) {
		var changed bool
		a.keptTop, changed = a.chooseKept()
		a.fold()
		if changed || !a.folding {
			a.keptVersion++
		}
		a.folding, a.foldedAt = true, now
	}
	// The folded keys carry the outcome: attempts sum over it, and blocks
	// and deferrals are the keys that have one, summed over the status.
	attempts := make(map[PPAttempt]uint64, len(a.folded))
	outcomes := map[PPAttempt]uint64{}
	for k, n := range a.folded {
		if k.Outcome != "" {
			outcomes[PPAttempt{SourceIP: k.SourceIP, RecipientDomain: k.RecipientDomain, Class: k.Class, Outcome: k.Outcome}] += n
		}
		k.Outcome = ""
		attempts[k] += n
	}
	for k, n := range attempts {
		k.N = n
		s.PPAttempts = append(s.PPAttempts, k)
	}
	for k, n := range outcomes {
		k.N = n
		s.PPOutcomes = append(s.PPOutcomes, k)
	}
	nowMin := now.Unix() / 60
	for ip, r := range a.minutes {
		for _, w := range a.opts.Windows {
			n, b, d := r.sum(nowMin, int64(w/time.Minute))
			if n > 0 {
				s.Windows = append(s.Windows, Window{SourceIP: ip, Window: w, Attempts: n, Blocks: b, Deferrals: d})
			}
		}
	}
	for ip, t := range a.lastBlock {
		s.LastBlock[ip] = t
	}
	sort.Slice(s.Attempts, func(i, j int) bool { return lessAttempt(s.Attempts[i], s.Attempts[j]) })
	sort.Slice(s.PPAttempts, func(i, j int) bool { return lessPP(s.PPAttempts[i], s.PPAttempts[j]) })
	sort.Slice(s.PPOutcomes, func(i, j int) bool { return lessPP(s.PPOutcomes[i], s.PPOutcomes[j]) })
	sort.Slice(s.Windows, func(i, j int) bool {
		if s.Windows[i].SourceIP != s.Windows[j].SourceIP {
			return s.Windows[i].SourceIP < s.Windows[j].SourceIP
		}
		return s.Windows[i].Window < s.Windows[j].Window
	})
	return s
}

// Kept is the choice of domains that have their own series: the ones kept
// by volume (sorted; the configured ones are not listed) and when they
// were chosen. Version changes whenever the choice may have; ok is false
// before the first choice.
type Kept struct {
	Domains []string  `json:"domains"`
	At      time.Time `json:"at"`
	Version uint64    `json:"-"`
}

// KeptVersion is Kept().Version, without the copy.
func (a *Agg) KeptVersion() uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.keptVersion
}

// Kept returns the current choice, to be saved and given to Keep after a
// restart: chosen again from the loaded totals, the top domains could
// differ from the ones the running daemon chose over time, and counts would
// move between a domain's series and "other" at every restart.
func (a *Agg) Kept() (Kept, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	k := Kept{At: a.foldedAt, Version: a.keptVersion}
	for _, d := range a.domains {
		if d.keep && !a.always[d.name] {
			k.Domains = append(k.Domains, d.name)
		}
	}
	sort.Strings(k.Domains)
	return k, a.folding
}

// Keep restores a choice saved from Kept, once the totals are loaded. A
// choice that no longer fits the options (more domains than Top) is
// dropped, and the next snapshot chooses again.
func (a *Agg) Keep(k Kept) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(k.Domains) > a.opts.Top {
		return
	}
	a.keptTop = 0
	for _, d := range a.domains {
		d.keep = a.always[d.name]
	}
	for _, name := range k.Domains {
		if d := a.domains[name]; d != nil && !d.keep {
			d.keep = true
			a.keptTop++
		}
	}
	if a.keptTop < a.opts.Top {
		// The top was not full when the choice was saved, so the running
		// daemon let the domains that came after it join: the loaded ones
		// not in the choice join now, the biggest first.
		var rest []*domain
		for _, d := range a.domains {
			if !d.keep {
				rest = append(rest, d)
			}
		}
		sort.Slice(rest, func(i, j int) bool { return better(rest[i], rest[j]) })
		for _, d := range rest[:min(len(rest), a.opts.Top-a.keptTop)] {
			d.keep = true
			a.keptTop++
		}
	}
	a.fold()
	a.folding, a.foldedAt = true, k.At
}

// fold counts every series again under the kept domains (the others as
// Other), after the kept set was chosen.
func (a *Agg) fold() {
	a.folded = map[PPAttempt]uint64{}
	for k, n := range a.pp {
		a.folded[a.foldedKey(k)] += n
	}
}

// chooseKept marks the domains that keep their name: the configured ones
// and the Top by volume (ties broken by name, so the set is stable). It
// returns how many are kept by volume, and whether the set changed.
func (a *Agg) chooseKept() (int, bool) {
	was := make(map[*domain]bool, a.keptTop)
	for _, d := range a.domains {
		if d.keep {
			was[d] = true
		}
	}
	h := &topHeap{}
	for _, d := range a.domains {
		d.keep = a.always[d.name]
		if d.keep || a.opts.Top <= 0 {
			continue
		}
		if h.Len() < a.opts.Top {
			heap.Push(h, d)
		} else if better(d, (*h)[0]) {
			(*h)[0] = d
			heap.Fix(h, 0)
		}
	}
	changed := false
	for _, d := range *h {
		d.keep = true
		changed = changed || !was[d]
	}
	for _, d := range a.domains {
		changed = changed || was[d] && !d.keep
	}
	return h.Len(), changed
}

func better(a, b *domain) bool { return a.volume > b.volume || a.volume == b.volume && a.name < b.name }

// topHeap is a min-heap: its root is the weakest of the kept domains.
type topHeap []*domain

func (h topHeap) Len() int           { return len(h) }
func (h topHeap) Less(i, j int) bool { return better(h[j], h[i]) }
func (h topHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *topHeap) Push(x any)        { *h = append(*h, x.(*domain)) }
func (h *topHeap) Pop() any          { o := *h; x := o[len(o)-1]; *h = o[:len(o)-1]; return x }

func lessAttempt(a, b Attempt) bool {
	if a.MTA != b.MTA {
		return a.MTA < b.MTA
	}
	if a.SourceIP != b.SourceIP {
		return a.SourceIP < b.SourceIP
	}
	if a.Status != b.Status {
		return a.Status < b.Status
	}
	if a.Class != b.Class {
		return a.Class < b.Class
	}
	return !a.Proofpoint && b.Proofpoint
}

func lessPP(a, b PPAttempt) bool {
	if a.SourceIP != b.SourceIP {
		return a.SourceIP < b.SourceIP
	}
	if a.RecipientDomain != b.RecipientDomain {
		return a.RecipientDomain < b.RecipientDomain
	}
	if a.Status != b.Status {
		return a.Status < b.Status
	}
	if a.Class != b.Class {
		return a.Class < b.Class
	}
	return a.Outcome < b.Outcome
}

// ring holds per-minute figures for the last len(slots) minutes.
type ring struct{ slots []slot }

type slot struct {
	minute               int64
	n, blocks, deferrals uint64
}

func (r *ring) add(m int64, n, b, d uint64) {
	s := &r.slots[int(uint64(m)%uint64(len(r.slots)))]
	switch {
	case s.minute == m:
	case s.minute < m: // the slot held an older minute: reuse it
		*s = slot{minute: m}
	default: // older than the ring reaches: no window can use it
		return
	}
	s.n += n
	s.blocks += b
	s.deferrals += d
}

// sum adds the minutes in (now-w, now].
func (r *ring) sum(now, w int64) (n, b, d uint64) {
	for _, s := range r.slots {
		if s.n > 0 && s.minute > now-w && s.minute <= now {
			n += s.n
			b += s.blocks
			d += s.deferrals
		}
	}
	return n, b, d
}
