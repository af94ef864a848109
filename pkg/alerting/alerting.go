// Package alerting runs the daemon's own alert rules (pkg/alert) over the
// store: an evaluation loop, the alert state saved in the store so that a
// restart neither re-pages nor forgets, the alert metrics, and the hand-off
// of what is due to the notifier (pkg/notify).
package alerting

import (
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/rs/zerolog"

	"github.com/ppwatch/ppwatch/docs"
	"github.com/ppwatch/ppwatch/pkg/alert"
	"github.com/ppwatch/ppwatch/pkg/config"
	"github.com/ppwatch/ppwatch/pkg/notify"
	"github.com/ppwatch/ppwatch/pkg/store"
)

var (
	alertFiringDesc = prometheus.NewDesc("ppwatch_alert_firing",
		"1 while the daemon's alert is firing.", []string{"alertname", "severity", "source_ip", "recipient_domain"}, nil)
	alertPendingDesc = prometheus.NewDesc("ppwatch_alert_pending",
		"1 while the daemon's alert is pending (its condition holds, for less than its \"for\").",
		[]string{"alertname", "severity", "source_ip", "recipient_domain"}, nil)
)

// Setup is a configuration's alerting, checked and built, ready to
// swap in.
type Setup struct {
	rules            []*alert.Rule
	interval, resend time.Duration
	externalURL      string // as configured; "" = this host's name and port
	externalLabels   map[string]string
	runbookURL       string           // as configured; "" = the daemon's /runbook
	targets          []notify.Target  // compared on reload: unchanged targets keep their queues
	windows          []time.Duration  // the ratio windows, for the per-IP page
	notifier         *notify.Notifier // nil when the targets did not change
}

// Runner evaluates the alert rules over the store in its own goroutine,
// keeps their state (saved in the store, so a restart neither re-pages nor
// forgets), exposes it as metrics and hands what is due to the notifier.
type Runner struct {
	log  zerolog.Logger
	base zerolog.Logger // without the component, for the notifier
	st   *store.Store
	now  func() time.Time
	reg  prometheus.Registerer

	// runMu serialises evaluations and reloads; the fields below it are
	// the running setup.
	runMu       sync.Mutex
	eval        alert.Evaluator
	interval    time.Duration
	resend      time.Duration
	externalURL string
	defaultURL  string
	extLabels   map[string]string // as configured
	runbookURL  string            // as configured
	labels      map[string]string // added to what is sent: extLabels and the default instance
	targets     []notify.Target
	notifier    *notify.Notifier
	savedSig    string
	failing     bool

	// mu guards the published state that scrapes and pages read, so that
	// they never wait for an evaluation's store reads.
	mu      sync.Mutex
	alerts  alert.Alerts
	rules   int
	windows []time.Duration
	inUse   string // the daemon's URL in use, for scrapes

	evaluations prometheus.Counter
	evalCount   atomic.Uint64 // the same, for Evaluations
	failures    prometheus.Counter
	duration    prometheus.Histogram
	cut         *prometheus.CounterVec

	kick    chan struct{}
	stop    chan struct{}
	done    chan struct{}
	started bool
}

func New(log zerolog.Logger, st *store.Store, now func() time.Time, reg prometheus.Registerer, cfg *config.Config) (*Runner, error) {
	// Each package names itself in its log lines: the notifier gets the
	// logger without this one's component, so no line has the key twice.
	al := &Runner{log: log.With().Str("component", "alert").Logger(), base: log, st: st, now: now, reg: reg,
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	setup, err := al.Prepare(cfg)
	if err != nil {
		return nil, err
	}
	saved, err := st.LoadAlerts()
	if err != nil {
		return nil, err
	}
	al.alerts = alert.Alerts{}
	for _, b := range saved {
		var a alert.Alert
		if err := json.Unmarshal(b, &a); err != nil {
			// Alert state is evaluated again from the counts: dropping an
			// unreadable one costs at most a "for" started anew.
			log.Warn().Err(err).Msg("saved alert state unreadable; that alert is evaluated afresh")
			continue
		}
		al.alerts[a.Key()] = a
	}
	al.savedSig = signature(al.alerts)
	al.Apply(setup)
	f := promauto.With(reg)
	al.evaluations = f.NewCounter(prometheus.CounterOpts{Name: "ppwatch_alert_evaluations_total",
		Help: "Evaluations of the daemon's alert rules."})
	al.failures = f.NewCounter(prometheus.CounterOpts{Name: "ppwatch_alert_evaluation_failures_total",
		Help: "Evaluations of the daemon's alert rules that failed to read the store."})
	al.duration = f.NewHistogram(prometheus.HistogramOpts{Name: "ppwatch_alert_evaluation_duration_seconds",
		Help: "Duration of evaluations of the daemon's alert rules.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)})
	al.cut = f.NewCounterVec(prometheus.CounterOpts{Name: "ppwatch_alert_instances_dropped_total",
		Help: "Alert instances left out of an evaluation over the per-rule bound of 1000."}, []string{"alertname"})
	reg.MustRegister(al)
	if len(saved) > 0 {
		log.Info().Int("alerts", len(saved)).Msg("alert state restored")
	}
	return al, nil
}

// Prepare checks and builds a configuration's alerting without touching
// the running one, so that a bad config is refused whole.
func (al *Runner) Prepare(cfg *config.Config) (*Setup, error) {
	s := &Setup{interval: time.Duration(cfg.Alerting.EvalInterval), resend: time.Duration(cfg.Alerting.ResendInterval), externalURL: cfg.ExternalURL,
		externalLabels: cfg.Alerting.ExternalLabels, runbookURL: cfg.Alerting.RunbookURL}
	if s.interval <= 0 {
		s.interval = config.DefaultEvalInterval
	}
	if s.resend <= 0 {
		s.resend = config.DefaultResendInterval
	}
	for _, w := range cfg.Windows {
		s.windows = append(s.windows, time.Duration(w))
	}
	for _, r := range cfg.Alerts {
		ar, err := Rule(r)
		if err != nil {
			return nil, err
		}
		s.rules = append(s.rules, ar)
	}
	for _, t := range cfg.Alerting.Alertmanagers {
		s.targets = append(s.targets, target(notify.Alertmanager, t))
	}
	for _, t := range cfg.Alerting.Webhooks {
		s.targets = append(s.targets, target(notify.Webhook, t))
	}
	al.runMu.Lock()
	same := al.notifier != nil && reflect.DeepEqual(s.targets, al.targets)
	al.runMu.Unlock()
	if !same {
		n, err := notify.New(notify.Options{Targets: s.targets, Logger: al.base, Registerer: al.reg})
		if err != nil {
			return nil, err
		}
		s.notifier = n
	}
	return s, nil
}

// Check builds a configuration's alerting as Prepare does, and drops it:
// the rules' templates compile, the targets' URLs, auth and TLS files load.
func Check(cfg *config.Config) error {
	_, err := (&Runner{base: zerolog.Nop(), reg: prometheus.NewRegistry()}).Prepare(cfg)
	return err
}

// Rule compiles a configured alert rule.
func Rule(r config.AlertRule) (*alert.Rule, error) {
	ar := &alert.Rule{Name: r.Name, Measure: alert.Measure(r.Measure), BySourceIP: r.BySourceIP(), ByDomain: r.ByDomain(),
		Window: time.Duration(r.Window), For: time.Duration(r.For), Threshold: r.Threshold, MinAttempts: uint64(max(r.MinAttempts, 0)),
		Severity: r.Severity, Labels: r.Labels, Annotations: r.Annotations, Runbook: docs.Section(r.Name)}
	if err := ar.Compile(); err != nil {
		return nil, fmt.Errorf("alerts: %s: %w", r.Name, err)
	}
	return ar, nil
}

func target(kind notify.Kind, t config.AlertTarget) notify.Target {
	nt := notify.Target{Kind: kind, URL: t.URL, Timeout: time.Duration(t.Timeout), BearerToken: t.BearerToken, BearerTokenFile: t.BearerTokenFile,
		TLS: notify.TLS{CAFile: t.TLSConfig.CAFile, CertFile: t.TLSConfig.CertFile, KeyFile: t.TLSConfig.KeyFile,
			ServerName: t.TLSConfig.ServerName, InsecureSkipVerify: t.TLSConfig.InsecureSkipVerify}}
	if b := t.BasicAuth; b != nil {
		nt.BasicAuth = &notify.BasicAuth{Username: b.Username, Password: b.Password, PasswordFile: b.PasswordFile}
	}
	return nt
}

// Apply swaps a prepared setup in. The state of rules that stay is kept;
// instances of removed rules resolve at the next evaluation, which starts
// at once.
func (al *Runner) Apply(s *Setup) {
	al.runMu.Lock()
	al.eval.Rules = s.rules
	al.interval, al.resend, al.externalURL = s.interval, s.resend, s.externalURL
	al.extLabels, al.runbookURL = s.externalLabels, s.runbookURL
	var old *notify.Notifier
	if s.notifier != nil {
		old, al.notifier, al.targets = al.notifier, s.notifier, s.targets
		if al.started {
			al.notifier.Start()
		}
		if old != nil {
			// New targets hear of what fires now, not a resend interval later.
			al.mu.Lock()
			next := maps.Clone(al.alerts)
			for k, a := range next {
				if a.State == alert.Firing {
					a.LastSentAt = time.Time{}
					next[k] = a
				}
			}
			al.alerts = next
			al.mu.Unlock()
		}
	}
	al.applyURL()
	al.mu.Lock()
	al.rules, al.windows = len(s.rules), s.windows
	al.mu.Unlock()
	al.runMu.Unlock()
	if old != nil {
		old.Stop() // may wait for one in-flight request: outside the lock
	}
	select {
	case al.kick <- struct{}{}:
	default:
	}
}

func (al *Runner) url() string {
	if al.externalURL != "" {
		return al.externalURL
	}
	return al.defaultURL
}

// applyURL sets what follows from the daemon's URL: the links, the
// payloads' externalURL and the default instance label. Called with runMu
// held, whenever the URL or the setup changes.
func (al *Runner) applyURL() {
	u := al.url()
	al.mu.Lock()
	al.inUse = u
	al.mu.Unlock()
	al.eval.ExternalURL = u
	al.eval.RunbookURL = al.runbookURL
	if al.eval.RunbookURL == "" {
		al.eval.RunbookURL = u + "/runbook"
	}
	al.notifier.SetExternalURL(u)
	al.labels = maps.Clone(al.extLabels)
	if al.labels == nil {
		al.labels = map[string]string{}
	}
	if _, ok := al.labels[LabelInstance]; !ok {
		// The host and port people reach the daemon at: what Prometheus
		// calls the instance when it scrapes it there, so the daemon's
		// alert and Prometheus's copy share the label.
		if pu, err := url.Parse(u); err == nil && pu.Host != "" {
			al.labels[LabelInstance] = pu.Host
		}
	}
}

// LabelInstance is the external label every alert carries unless
// alerting.external_labels sets it: the daemon's host and port.
const LabelInstance = "instance"

// Start begins evaluating; addr is the address the daemon listens on, for
// the default external URL.
func (al *Runner) Start(addr string) {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	_, port, _ := net.SplitHostPort(addr)
	al.runMu.Lock()
	al.defaultURL = "http://" + net.JoinHostPort(host, port)
	al.applyURL()
	al.started = true
	al.notifier.Start()
	al.runMu.Unlock()
	go al.run()
}

func (al *Runner) run() {
	defer close(al.done)
	al.runMu.Lock()
	interval := al.interval
	al.runMu.Unlock()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		al.evaluate()
		select {
		case <-al.stop:
			return
		case <-tick.C:
		case <-al.kick:
			al.runMu.Lock()
			if al.interval != interval {
				interval = al.interval
				tick.Reset(interval)
			}
			al.runMu.Unlock()
		}
	}
}

// Stop ends the evaluations and then the notifier. Safe without start.
func (al *Runner) Stop() {
	if al.started {
		close(al.stop)
		<-al.done
	}
	al.runMu.Lock()
	n := al.notifier
	al.runMu.Unlock()
	if n != nil {
		n.Stop()
	}
}

// evaluate runs the rules once: transitions are logged, what is due is
// sent, and the state is saved when it changed.
func (al *Runner) evaluate() {
	al.runMu.Lock()
	defer al.runMu.Unlock()
	now := al.now()
	start := time.Now()
	al.mu.Lock()
	prev := al.alerts
	al.mu.Unlock()
	res, err := al.eval.Eval(now, StoreSource{al.st}, prev)
	al.evaluations.Inc()
	al.evalCount.Add(1)
	al.duration.Observe(time.Since(start).Seconds())
	next := res.Alerts
	if err != nil {
		al.failures.Inc()
		if !al.failing {
			al.log.Error().Err(err).Msg("alert evaluation failed; alerts keep their state")
		}
		al.failing = true
		// Firing alerts are still resent below, so Alertmanager does not
		// take them for ended while the store cannot be read.
		next = maps.Clone(prev)
	} else {
		if al.failing {
			al.log.Info().Msg("alert evaluation works again")
		}
		al.failing = false
		for _, t := range res.Transitions {
			al.logTransition(t)
		}
		for rule, n := range res.Cut {
			al.cut.WithLabelValues(rule).Add(float64(n))
		}
	}
	due := next.Due(now, al.resend)
	al.mu.Lock()
	al.alerts = next
	al.mu.Unlock()
	if len(due) > 0 {
		out := make([]notify.Alert, len(due))
		for i, d := range due {
			// As Prometheus' external labels: added to what is sent, not to
			// the alert's identity, so changing them neither re-pages nor
			// loses the saved state; a rule's own label wins.
			labels := maps.Clone(d.Labels)
			for n, v := range al.labels {
				if _, ok := labels[n]; !ok {
					labels[n] = v
				}
			}
			out[i] = notify.Alert{Labels: labels, Annotations: d.Annotations, StartsAt: d.StartsAt, EndsAt: d.EndsAt, GeneratorURL: d.GeneratorURL}
		}
		al.notifier.Send(out)
	}
	if sig := signature(next); sig != al.savedSig {
		saved := make(map[string][]byte, len(next))
		for k, a := range next {
			b, err := json.Marshal(a)
			if err != nil {
				al.log.Error().Err(err).Msg("saving alert state failed")
				return
			}
			saved[k] = b
		}
		if err := al.st.SaveAlerts(saved); err != nil {
			al.log.Error().Err(err).Msg("saving alert state failed")
			return
		}
		al.savedSig = sig
	}
}

func (al *Runner) logTransition(t alert.Transition) {
	a := t.Alert
	state, ev := t.To.String(), al.log.Info()
	switch {
	case t.To == alert.Firing:
		ev = al.log.Warn()
	case t.From == alert.Firing:
		state = "resolved"
	}
	ev.Str("alertname", a.Labels[alert.LabelAlertName]).Str("severity", a.Labels[alert.LabelSeverity]).
		Str("source_ip", a.Labels[alert.LabelSourceIP]).Str("recipient_domain", a.Labels[alert.LabelRecipientDomain]).
		Float64("value", a.Value).Str("state", state).Msg("alert " + state)
}

// signature is what must be saved: not the value, which moves at every
// evaluation, but every change of state or of when it was sent.
func signature(as alert.Alerts) string {
	var b strings.Builder
	for _, a := range as.Sorted() {
		fmt.Fprintf(&b, "%q %d %d %d %d %d %d\n", a.Key(), a.State, a.ActiveAt.UnixNano(), a.FiredAt.UnixNano(),
			a.ResolvedAt.UnixNano(), a.LastSentAt.UnixNano(), a.ValidUntil.UnixNano())
	}
	return b.String()
}

// ExternalURL is the daemon's URL as the alerts' links have it:
// external_url, or this host's name and the port it listens on once
// started.
func (al *Runner) ExternalURL() string {
	al.mu.Lock()
	defer al.mu.Unlock()
	return al.inUse
}

// PageWindows are the configured ratio windows.
func (al *Runner) PageWindows() []time.Duration {
	al.mu.Lock()
	defer al.mu.Unlock()
	return al.windows
}

// Snapshot returns the alert instances, in name and label order.
func (al *Runner) Snapshot() []alert.Alert {
	al.mu.Lock()
	defer al.mu.Unlock()
	return al.alerts.Sorted()
}

// Describe implements prometheus.Collector.
func (al *Runner) Describe(ch chan<- *prometheus.Desc) {
	ch <- alertFiringDesc
	ch <- alertPendingDesc
	ch <- alertRulesDesc
}

var alertRulesDesc = prometheus.NewDesc("ppwatch_alert_rules", "Alert rules the daemon evaluates.", nil, nil)

// Collect implements prometheus.Collector: one series per pending or
// firing instance, gone when the alert ends.
func (al *Runner) Collect(ch chan<- prometheus.Metric) {
	al.mu.Lock()
	rules := al.rules
	al.mu.Unlock()
	ch <- prometheus.MustNewConstMetric(alertRulesDesc, prometheus.GaugeValue, float64(rules))
	for _, a := range al.Snapshot() {
		d := alertFiringDesc
		switch a.State {
		case alert.Pending:
			d = alertPendingDesc
		case alert.Firing:
		default:
			continue
		}
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, 1, a.Labels[alert.LabelAlertName], a.Labels[alert.LabelSeverity],
			a.Labels[alert.LabelSourceIP], a.Labels[alert.LabelRecipientDomain])
	}
}

// StoreSource reads the alert figures from the store, by event time, in
// its short read transactions.
type StoreSource struct{ Store *store.Store }

// Counts implements alert.Source with one scan over the longest window.
func (s StoreSource) Counts(now time.Time, windows []time.Duration) (map[time.Duration]map[alert.Key]alert.Counts, error) {
	nowMin := store.MinuteOf(now)
	var longest int64
	for _, w := range windows {
		longest = max(longest, int64(w/time.Minute))
	}
	out := make(map[time.Duration]map[alert.Key]alert.Counts, len(windows))
	for _, w := range windows {
		out[w] = map[alert.Key]alert.Counts{}
	}
	from, to := time.Unix((nowMin-longest+1)*60, 0), time.Unix((nowMin+1)*60, 0)
	err := s.Store.Buckets(from, to, func(m int64, se store.Series, n uint64) {
		if !se.Proofpoint {
			return
		}
		k := alert.Key{SourceIP: se.SourceIP, RecipientDomain: se.RecipientDomain}
		for _, w := range windows {
			if m <= nowMin-int64(w/time.Minute) || m > nowMin {
				continue
			}
			c := out[w][k]
			c.Add(se.Outcome, n)
			out[w][k] = c
		}
	})
	return out, err
}

// EachReply implements alert.Source.
func (s StoreSource) EachReply(ip string, all bool, fn func(alert.Reply)) error {
	return s.Store.EachReply(ip, func(r store.Reply) {
		if all || r.SourceIP == ip { // the store's "" is every IP
			fn(r)
		}
	})
}

// EachPairReply implements alert.Source.
func (s StoreSource) EachPairReply(ip, domain string, fn func(alert.Reply)) error {
	return s.Store.EachPairReply(ip, domain, fn)
}

// Evaluations is how many evaluations have run (ppwatch_alert_evaluations_total).
func (al *Runner) Evaluations() uint64 { return al.evalCount.Load() }
