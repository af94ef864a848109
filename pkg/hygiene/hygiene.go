// Package hygiene runs the daemon's sender checks (pkg/dnscheck) on an
// interval, in its own goroutine and never on the ingest path: reverse
// DNS, SPF, DMARC and DKIM every hygiene.interval, the DNSBLs every
// hygiene.dnsbl_interval. It keeps the latest result of each check and
// every change of its verdict in the store, so that a restart neither
// loses the history nor records a change that was none, and exposes the
// results as metrics.
//
// Subjects are the configured IPs (hygiene.ips, source_ips) and domains
// (hygiene.domains), the hygiene.top_ips source IPs with the most
// attempts in the logs that receivers can see, and the hygiene.top_domains
// envelope-sender domains with the most Proofpoint failures: the domains
// Proofpoint judged the mail as (SPF for the checked IPs, DMARC; DKIM
// needs the selectors only the config gives).
//
// A verdict is pass, warn or fail. An unknown result (a lookup that failed
// or timed out, a DNSBL that gave no verdict) is the latest result, but it
// never changes the verdict: a failing resolver records no change.
package hygiene

import (
	"context"
	"encoding/json"
	"maps"
	"net/netip"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/ppwatch/ppwatch/pkg/config"
	"github.com/ppwatch/ppwatch/pkg/dnscheck"
	"github.com/ppwatch/ppwatch/pkg/store"
)

// Options are what the runner needs besides the configuration.
type Options struct {
	Logger     zerolog.Logger
	Store      *store.Store
	Registerer prometheus.Registerer
	// Now is the clock of the rounds and of the results (default
	// time.Now); After waits between rounds (default time.After). Tests
	// drive the rounds with their own.
	Now   func() time.Time
	After func(time.Duration) <-chan time.Time
	// SourceIPs gives the attempts per source IP seen in the logs; values
	// that are no address ("unknown") are skipped. nil: none.
	SourceIPs func() map[string]uint64
	// SenderDomains gives the Proofpoint failures per envelope-sender
	// domain seen in the logs; nil for none.
	SenderDomains func() map[string]uint64
	// ResolvConf names the resolvers when dns.servers names none (default
	// /etc/resolv.conf).
	ResolvConf string
}

// State is what the store keeps of a check of a target: the latest
// result, unknown included, and the verdict it is in since when.
type State struct {
	Result  dnscheck.Result `json:"result"`
	Verdict dnscheck.Status `json:"verdict,omitempty"` // pass, warn or fail; "" before the first
	Since   time.Time       `json:"since,omitzero"`    // when Verdict began
}

// change is what the store keeps of a change of a verdict; the check,
// target and time are its key.
type change struct {
	From   dnscheck.Status `json:"from,omitempty"` // "" for the first verdict
	To     dnscheck.Status `json:"to"`
	Reason string          `json:"reason"`
	Record string          `json:"record,omitempty"`
}

// Setup is a configuration's checks, built, ready to swap in.
type Setup struct {
	interval, dnsblInterval time.Duration
	configured              dnscheck.Subjects
	zones                   []dnscheck.Zone
	topIPs                  int
	topDomains              int
	resolver                resolver
	dns, dnsbl              *dnscheck.Checker // nil with err, or when the resolver did not change
	err                     error             // no checker could be made: no checks run
}

// resolver is what the checkers are made of: a reload that keeps it keeps
// them and their caches.
type resolver struct {
	servers []string
	timeout time.Duration
	zones   []string
}

// Runner runs the checks in its own goroutine, keeps their state in the
// store and exposes it as metrics.
type Runner struct {
	log        zerolog.Logger
	st         *store.Store
	now        func() time.Time
	after      func(time.Duration) <-chan time.Time
	sources    func() map[string]uint64
	senders    func() map[string]uint64
	resolvConf string

	// runMu guards the running setup; rounds run outside it, so that a
	// reload never waits for DNS.
	runMu      sync.Mutex
	setup      *Setup
	dns, dnsbl *dnscheck.Checker
	nextDNS    time.Time
	gen        uint64 // counts Apply: a round begun before one does not set nextDNS
	unsaved    []store.CheckState
	changes    []store.CheckChange // not saved yet: the store failed

	// mu guards what scrapes read.
	mu       sync.Mutex
	latest   map[store.CheckKey]State
	subjects subjects // of the latest round: what the metrics show

	kick   chan struct{}
	cancel context.CancelFunc
	done   chan struct{}
}

// New restores the saved state and applies cfg's checks; Start starts
// them.
func New(o Options, cfg *config.Config) (*Runner, error) {
	r := &Runner{log: o.Logger.With().Str("component", "hygiene").Logger(), st: o.Store, now: o.Now, after: o.After,
		sources: o.SourceIPs, senders: o.SenderDomains, resolvConf: o.ResolvConf, latest: map[store.CheckKey]State{}, kick: make(chan struct{}, 1)}
	if r.now == nil {
		r.now = time.Now
	}
	if r.after == nil {
		r.after = time.After
	}
	saved, err := r.st.Checks()
	if err != nil {
		return nil, err
	}
	for _, cs := range saved {
		var s State
		if err := json.Unmarshal(cs.Value, &s); err != nil {
			// The next round checks it again; only the verdict's start is
			// lost, and the next verdict is recorded as a first one.
			r.log.Warn().Err(err).Str("check", cs.Key.Check).Str("target", cs.Key.Target).Msg("saved sender check unreadable; it is checked afresh")
			continue
		}
		r.latest[cs.Key] = s
	}
	r.Apply(r.Prepare(cfg))
	r.subjects = r.subjectsOf(r.setup) // the restored results of today's subjects show until the first round
	if o.Registerer != nil {
		o.Registerer.MustRegister(r)
	}
	return r, nil
}

// Prepare builds a configuration's checks without touching the running
// ones. It cannot fail: checks that cannot run (no resolver found) are
// logged when applied, and the daemon runs on without them.
func (r *Runner) Prepare(cfg *config.Config) *Setup {
	o := cfg.DNSCheckOptions(nil)
	o.ResolvConf, o.Now = r.resolvConf, r.now
	s := &Setup{interval: time.Duration(cfg.Hygiene.Interval), dnsblInterval: time.Duration(cfg.Hygiene.DNSBLInterval),
		configured: cfg.HygieneSubjects(), zones: o.DNSBL, topIPs: cfg.Hygiene.TopIPs, topDomains: cfg.Hygiene.TopDomains,
		resolver: resolver{servers: cfg.DNS.Servers, timeout: o.Timeout, zones: cfg.Hygiene.DNSBL}}
	r.runMu.Lock()
	same := r.setup != nil && r.setup.err == nil && reflect.DeepEqual(s.resolver, r.setup.resolver)
	r.runMu.Unlock()
	if same {
		return s
	}
	// Two checkers: the rounds of reverse DNS and the domains ask no
	// DNSBL, and the DNSBL rounds ask nothing else.
	bl := o.DNSBL
	o.DNSBL = nil
	if s.dns, s.err = dnscheck.New(o); s.err == nil {
		o.DNSBL = bl
		s.dnsbl, s.err = dnscheck.New(o)
	}
	if s.err != nil {
		s.dns, s.dnsbl = nil, nil
	}
	return s
}

// Apply swaps a prepared setup in. The checks run again at once, with its
// subjects; the DNSBLs only where their last answer is older than the
// interval.
func (r *Runner) Apply(s *Setup) {
	r.runMu.Lock()
	if s.dns != nil || s.err != nil {
		r.dns, r.dnsbl = s.dns, s.dnsbl
	}
	if s.err != nil {
		r.log.Warn().Err(s.err).Msg("sender checks off: no DNS resolver (set dns.servers)")
	}
	r.setup = s
	r.gen++
	r.nextDNS = time.Time{}
	r.runMu.Unlock()
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// Start begins the rounds: the checks at once, then on their intervals.
func (r *Runner) Start() {
	// The first round runs at once anyway: a kick from New's Apply would
	// only make a second look.
	select {
	case <-r.kick:
	default:
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.done = cancel, make(chan struct{})
	go r.run(ctx)
}

// Stop ends the rounds; a round under way is cancelled and its results
// dropped, not saved as unknown. Safe without Start, and twice.
func (r *Runner) Stop() {
	if r.cancel == nil {
		return
	}
	r.cancel()
	<-r.done
	r.cancel = nil
}

func (r *Runner) run(ctx context.Context) {
	defer close(r.done)
	for {
		wait := r.step(ctx)
		if ctx.Err() != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-r.after(wait):
		case <-r.kick:
		}
	}
}

// step runs the checks that are due and returns how long until the next
// are.
func (r *Runner) step(ctx context.Context) time.Duration {
	r.runMu.Lock()
	s, dnsC, blC, gen := r.setup, r.dns, r.dnsbl, r.gen
	now := r.now()
	doDNS := !now.Before(r.nextDNS)
	r.runMu.Unlock()

	subj := r.subjectsOf(s)
	r.mu.Lock()
	r.subjects = subj
	r.mu.Unlock()
	if dnsC == nil {
		return s.interval
	}
	blDue, anyBL := r.dnsblDue(subj, s.dnsblInterval, now)
	doBL := anyBL && !now.Before(blDue)
	if doDNS || doBL {
		// The deadline keeps a round from running into the next one
		// whatever the resolvers do.
		rctx, cancel := context.WithTimeout(ctx, s.interval)
		var results []dnscheck.Result
		if doDNS && (len(subj.ips) > 0 || len(subj.domains) > 0) {
			results = dnsC.Check(rctx, dnscheck.Subjects{IPs: subj.ips, Domains: subj.domains})
		}
		if doBL {
			for _, ip := range subj.ips {
				results = append(results, blC.CheckDNSBL(rctx, ip)...)
			}
		}
		cancel()
		if ctx.Err() != nil {
			return 0 // stopped: what the lookups gave up on is not unknown
		}
		r.record(results)
		r.runMu.Lock()
		if doDNS && r.gen == gen {
			r.nextDNS = now.Add(s.interval)
		}
		next := r.nextDNS
		r.runMu.Unlock()
		if doDNS {
			r.prune()
		}
		blDue, anyBL = r.dnsblDue(subj, s.dnsblInterval, now)
		if !anyBL || blDue.After(next) {
			blDue = next
		}
		return max(blDue.Sub(r.now()), 0)
	}
	r.runMu.Lock()
	next := r.nextDNS
	r.runMu.Unlock()
	if anyBL && blDue.Before(next) {
		next = blDue
	}
	return max(next.Sub(r.now()), 0)
}

// dnsblDue is when the DNSBLs are next due for subj: the oldest answer of
// an (IP, zone) pair plus the interval, or now when a pair has none, which
// a restart therefore does not ask again before its time. ok is false
// when there is no pair to ask about.
func (r *Runner) dnsblDue(subj subjects, interval time.Duration, now time.Time) (due time.Time, ok bool) {
	type pair struct{ ip, zone string }
	checked := map[pair]time.Time{}
	r.mu.Lock()
	for _, s := range r.latest {
		if s.Result.Check == dnscheck.CheckDNSBL {
			checked[pair{s.Result.Subject, s.Result.Zone}] = s.Result.Checked
		}
	}
	r.mu.Unlock()
	for _, ip := range subj.ips {
		for _, z := range subj.zones {
			if ip.Is6() && !z.IPv6 {
				continue
			}
			t, seen := checked[pair{ip.String(), z.Name}]
			if !seen {
				return now, true
			}
			if !ok || t.Before(due) {
				due, ok = t, true
			}
		}
	}
	return due.Add(interval), ok
}

// record takes a round's results in: the latest state of each, and a
// change where a verdict changed; both saved in one transaction.
func (r *Runner) record(results []dnscheck.Result) {
	if len(results) == 0 {
		return
	}
	r.mu.Lock()
	next := maps.Clone(r.latest)
	r.mu.Unlock()
	var states []store.CheckState
	var changes []store.CheckChange
	for _, res := range results {
		k := Key(res)
		prev := next[k]
		s := State{Result: res, Verdict: prev.Verdict, Since: prev.Since}
		if res.Status != dnscheck.Unknown && res.Status != prev.Verdict {
			s.Verdict, s.Since = res.Status, res.Checked
			b, _ := json.Marshal(change{From: prev.Verdict, To: res.Status, Reason: res.Reason, Record: res.Record})
			changes = append(changes, store.CheckChange{Key: k, Time: res.Checked, Value: b})
			r.logChange(k, prev.Verdict, res)
		}
		next[k] = s
		b, _ := json.Marshal(s)
		states = append(states, store.CheckState{Key: k, Checked: res.Checked, Value: b})
	}
	r.mu.Lock()
	r.latest = next
	r.mu.Unlock()
	r.runMu.Lock()
	states, changes = append(r.unsaved, states...), append(r.changes, changes...)
	r.runMu.Unlock()
	err := r.st.SaveChecks(states, changes)
	if err != nil {
		// Kept for the next round's save, so that a change is recorded at
		// its own time once the store works again.
		r.log.Error().Err(err).Msg("saving sender checks failed")
	} else {
		states, changes = nil, nil
	}
	r.runMu.Lock()
	r.unsaved, r.changes = states, changes
	r.runMu.Unlock()
}

func (r *Runner) logChange(k store.CheckKey, from dnscheck.Status, res dnscheck.Result) {
	ev := r.log.Info()
	switch {
	case res.Status == dnscheck.Fail:
		ev = r.log.Warn()
	case from == "" && res.Status == dnscheck.Pass:
		ev = r.log.Debug() // a first look that finds nothing wrong is no news
	}
	ev.Str("check", k.Check).Str("target", k.Target).Str("status", string(res.Status)).Str("previous_status", string(from)).
		Str("reason", res.Reason).Msg("sender check changed")
}

// prune applies the history's bounds, in the store and in memory.
func (r *Runner) prune() {
	now := r.now()
	if _, err := r.st.PruneChecks(now); err != nil {
		r.log.Error().Err(err).Msg("pruning sender checks failed")
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, s := range r.latest {
		if s.Result.Checked.Before(now.Add(-store.CheckHistory)) {
			delete(r.latest, k)
		}
	}
}

// Key is the store's key of a result: its check and target.
func Key(r dnscheck.Result) store.CheckKey {
	return store.CheckKey{Check: string(r.Check), Target: r.Target()}
}

// Latest returns the latest state of each check of today's subjects, in
// the order ppwatch check prints them.
func (r *Runner) Latest() []State {
	r.mu.Lock()
	byKey := map[store.CheckKey]State{}
	var results []dnscheck.Result
	for k, s := range r.latest {
		if r.subjects.covers(s.Result) {
			byKey[k] = s
			results = append(results, s.Result)
		}
	}
	r.mu.Unlock()
	dnscheck.Sort(results)
	out := make([]State, len(results))
	for i, res := range results {
		out[i] = byKey[Key(res)]
	}
	return out
}

// subjectsOf is what s checks now: the configured subjects and the top
// source IPs of the logs.
func (r *Runner) subjectsOf(s *Setup) subjects {
	var attempts map[string]uint64
	if r.sources != nil && s.topIPs > 0 {
		attempts = r.sources()
	}
	ips := append([]netip.Addr(nil), s.configured.IPs...)
	ips = append(ips, topIPs(attempts, s.topIPs, ips)...)
	// As the results name them, so that covers finds them.
	var domains []dnscheck.Domain
	for _, d := range s.configured.Domains {
		d.Name = strings.ToLower(strings.TrimSuffix(d.Name, "."))
		domains = append(domains, d)
	}
	if r.senders != nil && s.topDomains > 0 {
		domains = append(domains, topDomains(r.senders(), s.topDomains, domains)...)
	}
	return subjects{ips: ips, domains: domains, zones: s.zones}
}
