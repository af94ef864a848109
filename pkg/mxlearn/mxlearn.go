// Package mxlearn learns, for the daemon, which recipient domains are
// behind Proofpoint from their MX records, so that attempts to them count
// as Proofpoint attempts even when the log does not show a Proofpoint relay
// (a connection that failed before a host was named, a customer's own MX
// name in front of Proofpoint).
//
// The classifier asks Proofpoint about each recipient domain that nothing
// else marks. The answer comes from memory and never waits: a domain not
// known yet is queued for a lookup, and counts as not Proofpoint until its
// verdict is in. A verdict marks the attempts classified after it; counts
// already made are never rewritten, so what a restart reads again is
// counted as it was, from the verdicts saved with their time.
//
// Verdicts are kept for their MX records' TTL, held between MinTTL and
// MaxTTL (a 300 s TTL would mean a lookup every five minutes for every
// busy domain), and saved in the state file (store.SaveMX), so a restart
// does not ask again. A lookup that fails (timeout, SERVFAIL) gives no
// verdict: the domain is asked again after RetryAfter. At most MaxDomains
// domains are known at once; a flood of new domains past that, or past
// the queue, is not looked up (counted in
// ppwatch_mx_lookups_skipped_total), which costs only precision. Lookups
// are paced (Rate a second): a backlog read at start must not spend the
// reading's CPU on DNS.
package mxlearn

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"golang.org/x/time/rate"

	"github.com/ppwatch/ppwatch/pkg/dnscheck"
	"github.com/ppwatch/ppwatch/pkg/store"
)

// Defaults of Options.
const (
	DefaultMaxDomains = 50000
	DefaultQueueSize  = 1000
	DefaultWorkers    = 2
	DefaultRate       = 20 // lookups a second
	DefaultMinTTL     = time.Hour
	DefaultMaxTTL     = 7 * 24 * time.Hour
	DefaultRetryAfter = 10 * time.Minute
	DefaultSaveEvery  = 10 * time.Second
	lookupTimeout     = 30 * time.Second
)

// Options make a Learner. Lookup and Store are required.
type Options struct {
	Lookup     func(ctx context.Context, domain string) dnscheck.Result // dnscheck.Checker.CheckMX
	Store      *store.Store
	Now        func() time.Time // nil: time.Now
	Logger     zerolog.Logger
	Registerer prometheus.Registerer // nil: no metrics
	MaxDomains int
	QueueSize  int
	Workers    int
	Rate       float64 // lookups a second at most: learning must not take the reading's CPU
	MinTTL     time.Duration
	MaxTTL     time.Duration
	RetryAfter time.Duration
	SaveEvery  time.Duration // how often new verdicts are written, and expired ones dropped
}

func (o Options) withDefaults() Options {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.MaxDomains, DefaultMaxDomains)
	def(&o.QueueSize, DefaultQueueSize)
	def(&o.Workers, DefaultWorkers)
	if o.Rate <= 0 {
		o.Rate = DefaultRate
	}
	defDur(&o.MinTTL, DefaultMinTTL)
	defDur(&o.MaxTTL, DefaultMaxTTL)
	defDur(&o.RetryAfter, DefaultRetryAfter)
	defDur(&o.SaveEvery, DefaultSaveEvery)
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// verdict is what is known of a domain. A queued or failed domain has one
// too (not Proofpoint, saved false), so that it is not queued again at
// every attempt.
type verdict struct {
	proofpoint bool
	expires    time.Time
	saved      bool // a real verdict, kept in the state file
}

// Learner holds the verdicts and asks DNS for new ones.
type Learner struct {
	o       Options
	log     zerolog.Logger
	queue   chan string
	limit   *rate.Limiter
	stop    chan struct{}
	wg      sync.WaitGroup
	metrics *metrics

	mu    sync.RWMutex
	known map[string]verdict
	put   []store.MXVerdict // verdicts to save
	drop  []string          // saved verdicts that expired
}

// New loads the saved verdicts that have not expired. It asks nothing yet:
// Start does.
func New(o Options) (*Learner, error) {
	o = o.withDefaults()
	l := &Learner{o: o, log: o.Logger.With().Str("component", "mxlearn").Logger(), queue: make(chan string, o.QueueSize),
		limit: rate.NewLimiter(rate.Limit(o.Rate), 1), stop: make(chan struct{}), known: map[string]verdict{}}
	saved, err := o.Store.LoadMX()
	if err != nil {
		return nil, err
	}
	now := o.Now()
	for _, v := range saved {
		if !v.Expires.After(now) || len(l.known) >= o.MaxDomains {
			l.drop = append(l.drop, v.Domain)
			continue
		}
		l.known[v.Domain] = verdict{proofpoint: v.Proofpoint, expires: v.Expires, saved: true}
	}
	if o.Registerer != nil {
		l.metrics = newMetrics(o.Registerer, l)
	}
	return l, nil
}

// Proofpoint tells whether domain is known to be behind Proofpoint. A
// domain not known yet (or whose verdict expired) is queued for a lookup
// and is not Proofpoint until its verdict is in. It never waits for DNS.
func (l *Learner) Proofpoint(domain string) bool {
	// Most calls are for domains known already: a shared lock, which the
	// lookups' writes rarely take from the reading.
	l.mu.RLock()
	v, ok := l.known[domain]
	l.mu.RUnlock()
	if ok {
		return v.proofpoint
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if v, ok := l.known[domain]; ok {
		return v.proofpoint
	}
	if len(l.known) >= l.o.MaxDomains {
		l.metrics.skipped(skipBound)
		return false
	}
	// Until the lookup answers; one that never does leaves the domain to
	// be asked again after RetryAfter. A domain the full queue cannot take
	// is tried again a minute later, not at each of its attempts.
	retry := l.o.RetryAfter + lookupTimeout
	select {
	case l.queue <- domain:
	default:
		l.metrics.skipped(skipQueueFull)
		retry = time.Minute
	}
	l.known[domain] = verdict{expires: l.o.Now().Add(retry)}
	return false
}

// Start starts the lookups and the saving.
func (l *Learner) Start() {
	for range l.o.Workers {
		l.wg.Add(1)
		go l.work()
	}
	l.wg.Add(1)
	go l.keep()
}

// Stop ends the lookups, waits for those in flight, and saves what was
// learned.
func (l *Learner) Stop() error {
	close(l.stop)
	l.wg.Wait()
	return l.save()
}

func (l *Learner) work() {
	defer l.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-l.stop
		cancel()
	}()
	for {
		select {
		case <-l.stop:
			return
		case d := <-l.queue:
			if l.limit.Wait(ctx) != nil {
				return // stopped
			}
			lctx, lcancel := context.WithTimeout(ctx, lookupTimeout)
			r := l.o.Lookup(lctx, d)
			lcancel()
			l.learn(d, r)
		}
	}
}

// learn records a lookup's result.
func (l *Learner) learn(domain string, r dnscheck.Result) {
	now := l.o.Now()
	if r.Status == dnscheck.Unknown {
		l.metrics.looked(lookedUnknown)
		l.log.Debug().Str("domain", domain).Str("reason", r.Reason).Msg("MX lookup failed; asked again later")
		l.mu.Lock()
		l.known[domain] = verdict{expires: now.Add(l.o.RetryAfter)}
		l.mu.Unlock()
		return
	}
	ttl := min(max(time.Duration(r.TTL)*time.Second, l.o.MinTTL), l.o.MaxTTL)
	v := store.MXVerdict{Domain: domain, Proofpoint: r.Proofpoint, Checked: now, Expires: now.Add(ttl)}
	if r.Proofpoint {
		l.metrics.looked(lookedProofpoint)
		l.log.Info().Str("domain", domain).Str("mx", r.Record).Float64("valid_seconds", ttl.Seconds()).
			Msg("recipient domain learned to be behind Proofpoint: its attempts count as Proofpoint attempts from now on")
	} else {
		l.metrics.looked(lookedOther)
	}
	l.mu.Lock()
	l.known[domain] = verdict{proofpoint: v.Proofpoint, expires: v.Expires, saved: true}
	l.put = append(l.put, v)
	l.mu.Unlock()
}

// keep saves new verdicts and forgets expired ones, every SaveEvery.
func (l *Learner) keep() {
	defer l.wg.Done()
	t := time.NewTicker(l.o.SaveEvery)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			l.expire()
			if err := l.save(); err != nil {
				l.log.Error().Err(err).Msg("MX verdicts not saved; they are asked again after a restart")
			}
		}
	}
}

// expire forgets the verdicts past their time: the next attempt to such a
// domain asks again.
func (l *Learner) expire() {
	now := l.o.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	for d, v := range l.known {
		if v.expires.After(now) {
			continue
		}
		delete(l.known, d)
		if v.saved {
			l.drop = append(l.drop, d)
		}
	}
}

func (l *Learner) save() error {
	l.mu.Lock()
	put, drop := l.put, l.drop
	l.put, l.drop = nil, nil
	l.mu.Unlock()
	if len(put) == 0 && len(drop) == 0 {
		return nil
	}
	if err := l.o.Store.SaveMX(put, drop); err != nil {
		l.mu.Lock()
		l.put, l.drop = append(put, l.put...), append(drop, l.drop...)
		l.mu.Unlock()
		return err
	}
	return nil
}

// counts are the known domains, for the gauge.
func (l *Learner) counts() (proofpoint, other int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, v := range l.known {
		switch {
		case v.proofpoint:
			proofpoint++
		case v.saved:
			other++
		}
	}
	return proofpoint, other
}
