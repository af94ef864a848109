package web

import (
	"cmp"
	"regexp"
	"slices"
	"time"

	"github.com/ppwatch/ppwatch/pkg/event"
)

// The states of a sending IP, worst first.
const (
	StateBlocked  = "blocked"
	StateDeferred = "deferred"
	StateClean    = "clean"
)

// StateRank orders states worst first.
func StateRank(state string) int {
	switch state {
	case StateBlocked:
		return 0
	case StateDeferred:
		return 1
	}
	return 2
}

// Summary is every sending IP at a glance: GET / shows it, GET
// /api/v1/summary returns it (field names are a public contract).
type Summary struct {
	GeneratedAt time.Time     `json:"generated_at"`
	Version     string        `json:"version"`
	Windows     []string      `json:"windows"`
	Thresholds  []Threshold   `json:"thresholds"`
	IPs         []IPStatus    `json:"ips"`           // worst first
	Alerts      []AlertView   `json:"firing_alerts"` // every firing alert, of any IP
	Inputs      []InputStatus `json:"inputs"`
	// HygieneFailures are the sender checks that fail now.
	HygieneFailures []CheckFailure `json:"hygiene_failures"`
}

// Threshold is an alert rule that sets a state: the block_ratio rule by
// source IP (the page-severity one first) for blocked, the deferral_ratio
// rule for deferred.
type Threshold struct {
	State       string  `json:"state"`
	AlertName   string  `json:"alertname"`
	Measure     string  `json:"measure"`
	Window      string  `json:"window"`
	Threshold   float64 `json:"threshold"`
	MinAttempts uint64  `json:"min_attempts"`
}

// IPStatus is one sending IP's row of the summary and the banner of its page.
type IPStatus struct {
	SourceIP string `json:"source_ip"`
	State    string `json:"state"`            // blocked, deferred or clean
	Reason   string `json:"reason,omitempty"` // what makes the state; "" when clean
	// Since is when the state's earliest pending or firing alert became
	// active; absent when no alert is active yet.
	Since     *time.Time     `json:"since,omitempty"`
	Windows   []StatusWindow `json:"windows"`
	LastBlock *time.Time     `json:"last_block,omitempty"`
	// TopReply is the reply that explains the state: the most frequent
	// one of its kind (block or deferral) seen in the longest window.
	TopReply *ReplyGroup `json:"top_reply,omitempty"`
	NextStep string      `json:"next_step,omitempty"` // the runbook's advice for TopReply's class
	Alerts   []AlertView `json:"alerts"`              // the IP's pending and firing alerts
}

// StatusWindow is one window of an IP with the thresholds that apply to it.
type StatusWindow struct {
	IPWindow
	BlockThreshold    *float64 `json:"block_threshold,omitempty"`
	DeferralThreshold *float64 `json:"deferral_threshold,omitempty"`
	BlockOver         bool     `json:"block_over_threshold"`
	DeferralOver      bool     `json:"deferral_over_threshold"`
}

// InputStatus is one configured input's health, from the same figures as
// the ppwatch_input_* and ppwatch_log_lines_total metrics.
type InputStatus struct {
	Input string `json:"input"`
	Files int    `json:"files"` // followed now; 0: the input reads nothing
	Lines uint64 `json:"lines"` // read since the daemon started
	// LinesPerSecond is over the time since the previous look at the
	// inputs; null at the first.
	LinesPerSecond *float64          `json:"lines_per_second"`
	LastLine       *time.Time        `json:"last_line,omitempty"`
	Errors         map[string]uint64 `json:"errors"`
	Problem        string            `json:"problem,omitempty"` // why it reads nothing, and the fix
}

// CheckFailure is a sender check that fails.
type CheckFailure struct {
	Check   string    `json:"check"`
	Subject string    `json:"subject"`
	Reason  string    `json:"reason"`
	Record  string    `json:"record,omitempty"`
	Since   time.Time `json:"since,omitzero"`
}

// ReplyGroup is one reply text of an IP, over the recipient domains it
// came from.
type ReplyGroup struct {
	Response     string          `json:"response"`
	SMTPCode     int             `json:"smtp_code"`
	EnhancedCode string          `json:"enhanced_code"`
	Class        string          `json:"class"`
	Outcome      string          `json:"outcome"` // block, deferral or ""
	Count        uint64          `json:"count"`
	Domains      int             `json:"domains"`
	TopDomains   []DomainReplies `json:"top_domains"` // the MaxGroupDomains with most
	FirstSeen    time.Time       `json:"first_seen"`
	LastSeen     time.Time       `json:"last_seen"`
	// LookupURL is Proofpoint's lookup page named in the reply: a link
	// for people, never fetched by ppwatch.
	LookupURL string `json:"lookup_url,omitempty"`
}

// DomainReplies is how often one recipient domain got a reply.
type DomainReplies struct {
	Domain string `json:"recipient_domain"`
	Count  uint64 `json:"count"`
}

// MaxGroupDomains bounds the domains a reply group names.
const MaxGroupDomains = 5

// Timeline is an IP's Proofpoint attempts per step: GET
// /api/v1/ips/{ip}/timeline returns it, the IP page draws it.
type Timeline struct {
	SourceIP string          `json:"source_ip"`
	Since    time.Time       `json:"since"` // the first point's start
	Until    time.Time       `json:"until"` // the last point's end
	Step     string          `json:"step"`
	Points   []TimelinePoint `json:"points"`
}

// TimelinePoint is one step of a timeline, by event time.
type TimelinePoint struct {
	Start     time.Time `json:"start"`
	Attempts  uint64    `json:"attempts"`
	Blocks    uint64    `json:"blocks"`
	Deferrals uint64    `json:"deferrals"`
}

// IPPage is everything the IP page shows: GET /api/v1/ips/{ip} returns
// it; the report's fields come first, as /api/v1/ip/<ip> has them.
type IPPage struct {
	*IPReport
	Status      IPStatus     `json:"status"`
	ReplyGroups []ReplyGroup `json:"reply_groups"`
	Timeline    *Timeline    `json:"timeline"`
}

// ReplyOutcome is a stored Proofpoint reply's outcome, by the rule
// attempts are counted with.
func ReplyOutcome(code int, class string) string {
	switch {
	case event.IsBlockReply(code, event.Class(class)):
		return event.OutcomeBlock
	case code >= 400 && code <= 499:
		return event.OutcomeDeferral
	}
	return ""
}

// lookupURL finds Proofpoint's lookup page in a reply ("see
// https://ipcheck.proofpoint.com/?ip=…").
var lookupURL = regexp.MustCompile(`https?://[A-Za-z0-9.-]*proofpoint\.com[^\s<>"')\]]*`)

// GroupReplies groups replies by their text, the most frequent first.
func GroupReplies(replies []ReplyView) []ReplyGroup {
	byText := map[string]int{}
	var groups []ReplyGroup
	var domains []map[string]uint64
	for _, r := range replies {
		i, ok := byText[r.Response]
		if !ok {
			i = len(groups)
			byText[r.Response] = i
			groups = append(groups, ReplyGroup{Response: r.Response, SMTPCode: r.SMTPCode, EnhancedCode: r.EnhancedCode, Class: r.Class,
				Outcome: ReplyOutcome(r.SMTPCode, r.Class), FirstSeen: r.FirstSeen.UTC(), LastSeen: r.LastSeen.UTC(),
				LookupURL: lookupURL.FindString(r.Response)})
			domains = append(domains, map[string]uint64{})
		}
		g := &groups[i]
		g.Count += r.Count
		if r.FirstSeen.Before(g.FirstSeen) {
			g.FirstSeen = r.FirstSeen.UTC()
		}
		if r.LastSeen.After(g.LastSeen) {
			g.LastSeen = r.LastSeen.UTC()
		}
		domains[i][r.RecipientDomain] += r.Count
	}
	for i := range groups {
		g := &groups[i]
		g.Domains = len(domains[i])
		for d, n := range domains[i] {
			g.TopDomains = append(g.TopDomains, DomainReplies{Domain: d, Count: n})
		}
		slices.SortFunc(g.TopDomains, func(x, y DomainReplies) int {
			return cmp.Or(cmp.Compare(y.Count, x.Count), cmp.Compare(x.Domain, y.Domain))
		})
		g.TopDomains = g.TopDomains[:min(len(g.TopDomains), MaxGroupDomains)]
	}
	slices.SortFunc(groups, func(x, y ReplyGroup) int {
		return cmp.Or(cmp.Compare(y.Count, x.Count), y.LastSeen.Compare(x.LastSeen), cmp.Compare(x.Response, y.Response))
	})
	if groups == nil {
		groups = []ReplyGroup{}
	}
	return groups
}

// TopReply is the group that explains a state: the most frequent of the
// state's outcome last seen since recent, else of any time; for a clean IP
// the most frequent of all. nil when there is none.
func TopReply(groups []ReplyGroup, state string, recent time.Time) *ReplyGroup {
	want := map[string]string{StateBlocked: event.OutcomeBlock, StateDeferred: event.OutcomeDeferral}[state]
	var any *ReplyGroup
	for i := range groups {
		g := &groups[i]
		if want != "" && g.Outcome != want {
			continue
		}
		if !g.LastSeen.Before(recent) {
			return g
		}
		if any == nil {
			any = g
		}
	}
	return any
}

// classAdvice is, per class, what it is and the runbook's next step ("What
// kind of problem is it" and the sections after it in docs/runbook.md).
var classAdvice = map[string]struct{ What, Next, Section string }{
	"reputation": {"Proofpoint Dynamic Reputation",
		"Fix the sender side first (PTR, SPF, DKIM, DMARC, blocklists: ppwatch check), slow down to the affected domains and pause bulk mail from the IP; if it does not lift, open a case with Proofpoint with the report.",
		"fix-the-sender-side-first"},
	"rate_limit": {"rate limiting",
		"Slow down: lower the concurrency and the message rate to the affected domains; the MTA retries.", "what-kind-of-problem-is-it"},
	"content": {"content filtering",
		"Look at what this IP sent: one campaign across many IPs is likely a content false positive, to report to Proofpoint.", "contact-proofpoint"},
	"auth": {"authentication (SPF, DKIM, DMARC, PTR)",
		"Fix your DNS or signing (ppwatch check shows what fails); no case with Proofpoint is needed.", "fix-the-sender-side-first"},
	"policy": {"the recipient's own policy",
		"Contact the receiving organisation, not Proofpoint.", "what-kind-of-problem-is-it"},
	"recipient": {"bad recipients",
		"Not a block: remove the addresses that bounce.", "what-kind-of-problem-is-it"},
}

// NextStep is the runbook's next step for a reply class.
func NextStep(class string) string {
	if a, ok := classAdvice[class]; ok {
		return a.Next
	}
	return "Read the reply below verbatim and follow the runbook's first five minutes."
}

// classWhat names a class for people ("Proofpoint Dynamic Reputation").
func classWhat(class string) string {
	if a, ok := classAdvice[class]; ok {
		return a.What
	}
	return class
}

// classSection is the runbook section of a class's next step.
func classSection(class string) string {
	if a, ok := classAdvice[class]; ok {
		return a.Section
	}
	return "the-first-five-minutes-all-proofpoint-alerts"
}
