// Package alert evaluates ppwatch's threshold rules over per-window
// Proofpoint counts, the way Prometheus evaluates alerting rules: a rule's
// condition (measure > threshold and attempts ≥ min_attempts) makes an
// alert pending; after it held for the rule's `for` the alert fires; when it
// no longer holds a firing alert is resolved and sent once more, a pending
// one simply ends. Due decides when to send, as Prometheus' needsSending.
//
// The package is pure: it reads counts through the Source interface, takes
// the previous state and the clock from the caller and returns the new
// state and the transitions. Storage, metrics, logs and delivery belong to
// the daemon's wiring.
package alert

import (
	"encoding/json"
	"slices"
	"strings"
	"text/template"
	"time"

	"github.com/ppwatch/ppwatch/pkg/event"
)

// Measure is what a rule compares with its threshold.
type Measure string

// The measures. Attempts are Proofpoint attempts in the window.
const (
	BlockRatio    Measure = "block_ratio"    // blocks / attempts
	DeferralRatio Measure = "deferral_ratio" // deferrals / attempts
	Blocks        Measure = "blocks"
	Deferrals     Measure = "deferrals"
)

// IsRatio reports whether the measure is a ratio (0..1).
func (m Measure) IsRatio() bool { return m == BlockRatio || m == DeferralRatio }

func (m Measure) blocks() bool { return m == BlockRatio || m == Blocks }

// State is where an alert instance is.
type State int

// The states of an alert instance. A resolved alert is Inactive with
// ResolvedAt set until it has been sent.
const (
	Inactive State = iota
	Pending
	Firing
)

func (s State) String() string {
	switch s {
	case Pending:
		return "pending"
	case Firing:
		return "firing"
	}
	return "inactive"
}

// ParseState is the inverse of State.String.
func ParseState(s string) State {
	switch s {
	case "pending":
		return Pending
	case "firing":
		return Firing
	}
	return Inactive
}

// Label names every alert may carry.
const (
	LabelAlertName       = "alertname"
	LabelSeverity        = "severity"
	LabelSourceIP        = "source_ip"
	LabelRecipientDomain = "recipient_domain"
)

// Unknown is the source_ip label value of attempts whose sending IP is not
// known (as in the daemon's metrics).
const Unknown = "unknown"

// DefaultMaxInstances bounds the alert instances of one rule.
const DefaultMaxInstances = 1000

// topDomains is how many recipient domains an alert names.
const topDomains = 5

// Key is one (sending IP, recipient domain) pair. SourceIP "" is unknown.
type Key struct {
	SourceIP, RecipientDomain string
}

// Counts are Proofpoint figures over a window.
type Counts struct {
	Attempts, Blocks, Deferrals uint64
}

// Add counts n attempts of an outcome (event.Delivery.Outcome).
func (c *Counts) Add(outcome string, n uint64) {
	c.Attempts += n
	switch outcome {
	case event.OutcomeBlock:
		c.Blocks += n
	case event.OutcomeDeferral:
		c.Deferrals += n
	}
}

func (c *Counts) add(o Counts) {
	c.Attempts += o.Attempts
	c.Blocks += o.Blocks
	c.Deferrals += o.Deferrals
}

// Reply is one distinct Proofpoint reply, verbatim, as the store keeps it.
type Reply = event.Reply

// Source gives the evaluator its figures.
type Source interface {
	// Counts returns, for each window, the Proofpoint counts per (source
	// IP, real recipient domain) of the event minutes m with
	// now-window < m ≤ now (the minute of now counts, as in the ratio
	// gauges).
	Counts(now time.Time, windows []time.Duration) (map[time.Duration]map[Key]Counts, error)
	// EachReply calls fn with each distinct Proofpoint reply of sourceIP
	// ("" is the unknown IP), or of every sending IP when all is set.
	EachReply(sourceIP string, all bool, fn func(Reply)) error
	// EachPairReply calls fn with the replies of one (source IP,
	// recipient domain) pair.
	EachPairReply(sourceIP, domain string, fn func(Reply)) error
}

// Rule is one threshold rule.
type Rule struct {
	Name                 string
	Measure              Measure
	BySourceIP, ByDomain bool
	Window, For          time.Duration
	Threshold            float64
	MinAttempts          uint64
	Severity             string
	Labels               map[string]string
	Annotations          map[string]string // text/template sources over Value
	Runbook              string            // the id of the runbook section its alerts link to

	tmpl map[string]*template.Template
}

// Compile parses the annotation templates. Eval renders only compiled
// rules' annotations.
func (r *Rule) Compile() error {
	r.tmpl = make(map[string]*template.Template, len(r.Annotations))
	for name, text := range r.Annotations {
		t, err := template.New(r.Name + "." + name).Funcs(Funcs()).Option("missingkey=zero").Parse(text)
		if err != nil {
			return err
		}
		r.tmpl[name] = t
	}
	return nil
}

// labels returns the label set of the rule's instance for k.
func (r *Rule) labels(k Key) map[string]string {
	l := make(map[string]string, len(r.Labels)+4)
	for n, v := range r.Labels {
		l[n] = v
	}
	l[LabelAlertName] = r.Name
	l[LabelSeverity] = r.Severity
	if r.BySourceIP {
		l[LabelSourceIP] = ipLabel(k.SourceIP)
	}
	if r.ByDomain {
		l[LabelRecipientDomain] = k.RecipientDomain
	}
	return l
}

func ipLabel(ip string) string {
	if ip == "" {
		return Unknown
	}
	return ip
}

// group returns the key a rule groups k under.
func (r *Rule) group(k Key) Key {
	var g Key
	if r.BySourceIP {
		g.SourceIP = k.SourceIP
	}
	if r.ByDomain {
		g.RecipientDomain = k.RecipientDomain
	}
	return g
}

// value returns the rule's measure over c.
func (r *Rule) value(c Counts) float64 {
	switch r.Measure {
	case BlockRatio:
		return ratio(c.Blocks, c.Attempts)
	case DeferralRatio:
		return ratio(c.Deferrals, c.Attempts)
	case Blocks:
		return float64(c.Blocks)
	case Deferrals:
		return float64(c.Deferrals)
	}
	return 0
}

func ratio(n, d uint64) float64 {
	if d == 0 {
		return 0
	}
	return float64(n) / float64(d)
}

// Alert is one instance of a rule: the rule name and one label set.
type Alert struct {
	Rule         string
	Labels       map[string]string
	Annotations  map[string]string
	State        State
	Value        float64
	Counts       Counts
	ActiveAt     time.Time // the condition holds since
	FiredAt      time.Time // StartsAt of what is sent
	ResolvedAt   time.Time // set when a firing alert ends
	LastSentAt   time.Time
	ValidUntil   time.Time // EndsAt of the latest firing send
	GeneratorURL string
}

// Key identifies the alert: the rule name and its labels.
func (a *Alert) Key() string { return Fingerprint(a.Rule, a.Labels) }

// Fingerprint is the state key of the instance of rule with labels.
func Fingerprint(rule string, labels map[string]string) string {
	names := make([]string, 0, len(labels))
	for n := range labels {
		names = append(names, n)
	}
	slices.Sort(names)
	var b strings.Builder
	b.WriteString(rule)
	for _, n := range names {
		b.WriteByte(0xff)
		b.WriteString(n)
		b.WriteByte('=')
		b.WriteString(labels[n])
	}
	return b.String()
}

// Alerts is the state of all instances, by Key.
type Alerts map[string]Alert

// Sorted returns the alerts ordered by key.
func (as Alerts) Sorted() []Alert {
	keys := make([]string, 0, len(as))
	for k := range as {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]Alert, 0, len(keys))
	for _, k := range keys {
		out = append(out, as[k])
	}
	return out
}

// Transition is one change of an alert's state.
type Transition struct {
	Alert    Alert // as it is after the change
	From, To State
}

// stored is an Alert as the state file keeps it: the names, the state as
// a word and the counts inline, as they were written before the store
// kept alert state as opaque bytes, so that files from then load as they
// are.
type stored struct {
	Rule        string            `json:"rule"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations,omitempty"`
	State       string            `json:"state"` // pending, firing, or inactive (resolved, not yet sent)
	Value       float64           `json:"value"`
	Attempts    uint64            `json:"attempts"`
	Blocks      uint64            `json:"blocks"`
	Deferrals   uint64            `json:"deferrals"`
	ActiveAt    time.Time         `json:"active_at"`
	FiredAt     time.Time         `json:"fired_at,omitzero"`
	ResolvedAt  time.Time         `json:"resolved_at,omitzero"`
	LastSentAt  time.Time         `json:"last_sent_at,omitzero"`
	ValidUntil  time.Time         `json:"valid_until,omitzero"`
	Generator   string            `json:"generator_url,omitempty"`
}

// MarshalJSON writes the alert as the state file keeps it.
func (a Alert) MarshalJSON() ([]byte, error) {
	return json.Marshal(stored{Rule: a.Rule, Labels: a.Labels, Annotations: a.Annotations, State: a.State.String(), Value: a.Value,
		Attempts: a.Counts.Attempts, Blocks: a.Counts.Blocks, Deferrals: a.Counts.Deferrals,
		ActiveAt: a.ActiveAt, FiredAt: a.FiredAt, ResolvedAt: a.ResolvedAt, LastSentAt: a.LastSentAt, ValidUntil: a.ValidUntil,
		Generator: a.GeneratorURL})
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (a *Alert) UnmarshalJSON(b []byte) error {
	var s stored
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*a = Alert{Rule: s.Rule, Labels: s.Labels, Annotations: s.Annotations, State: ParseState(s.State), Value: s.Value,
		Counts:   Counts{Attempts: s.Attempts, Blocks: s.Blocks, Deferrals: s.Deferrals},
		ActiveAt: s.ActiveAt, FiredAt: s.FiredAt, ResolvedAt: s.ResolvedAt, LastSentAt: s.LastSentAt, ValidUntil: s.ValidUntil,
		GeneratorURL: s.Generator}
	return nil
}
