// Package evidence assembles the packet a postmaster sends Proofpoint
// about one sending IP: the identifiers first, what kind of case it is and
// what to ask, the replies verbatim with their times, the messages
// affected and what became of them, sample attempts with their Message-ID
// and envelope sender, the IP's volume, and the sender checks when they
// were made; and the message to send with it.
//
// Proofpoint's blocks are dynamic: a lookup tomorrow may say "not
// blocked" although it was, so what the logs said at the time is the
// proof. A Builder reads the attempts (from log files through the scan
// path), Packet gives the packet, and the writers render it as text,
// Markdown, JSON or an RFC 5322 draft.
package evidence

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/ppwatch/ppwatch/pkg/alert"
	"github.com/ppwatch/ppwatch/pkg/dnscheck"
	"github.com/ppwatch/ppwatch/pkg/event"
	"github.com/ppwatch/ppwatch/pkg/report"
)

// Bounds of what a Builder keeps.
const (
	DefaultSamples     = 10     // sample failures: the first half and the latest half
	DefaultMaxMessages = 100000 // messages followed for their outcome; more are counted in Messages.Dropped
	MaxNames           = 1000   // distinct senders, sending domains, hosts kept
	volumeDays         = 14     // days of volume shown
	topNames           = 10     // senders and sending domains shown
	unknownIP          = "unknown"
)

// Options choose what goes into a packet.
type Options struct {
	IP             string    // the sending IP; "unknown" for attempts without one
	Domain         string    // only attempts to this recipient domain; "" for all
	Since, Until   time.Time // only attempts in [Since, Until); zero: open
	Samples        int       // sample failures kept (DefaultSamples when 0)
	MaskRecipients bool      // recipients' local parts shown as "…" (report.mask_recipients)
	// UpdateSince, when set, makes the packet an update of a case opened
	// before: what is new since then.
	UpdateSince time.Time
}

// Update is what is new in a case since its last message.
type Update struct {
	Since         time.Time  `json:"since"`
	Failures      int        `json:"failures"`       // blocks and deferrals since
	NewDomains    []string   `json:"new_domains"`    // recipient domains whose first failure is since
	LatestFailure *time.Time `json:"latest_failure"` // of all
}

// Packet is the evidence of one case. Its JSON is ppwatch report --format
// json; the field names are a public contract.
type Packet struct {
	IP               string          `json:"ip"`
	Domain           string          `json:"domain,omitempty"` // the recipient domain the packet is about, if one
	Generated        time.Time       `json:"generated"`
	Source           string          `json:"source"` // where the evidence comes from: "log files", a daemon's URL
	FirstEvent       *time.Time      `json:"first_event"`
	LastEvent        *time.Time      `json:"last_event"`
	FirstSeen        *time.Time      `json:"first_seen"` // the IP's first attempt in what was read
	Hosts            []string        `json:"hosts"`      // the MTA hosts that logged the attempts
	Senders          []NameCount     `json:"senders"`
	SendingDomains   []NameCount     `json:"sending_domains"`
	RecipientDomains []report.Domain `json:"recipient_domains"` // Proofpoint recipient domains
	Totals           report.Counts   `json:"totals"`            // all of the IP's attempts
	Case             Case            `json:"case"`
	FirstFailure     *time.Time      `json:"first_failure"`
	LatestFailure    *time.Time      `json:"latest_failure"`
	Messages         Messages        `json:"messages"`
	Replies          []report.Reply  `json:"replies"`
	Samples          []Sample        `json:"samples"`
	Days             []Day           `json:"days"`
	// Episodes are the IP's block and deferral episodes over all its
	// domains (the daemon keeps them; log files give none), newest first;
	// Jumps the days of sudden volume.
	Episodes []event.Episode    `json:"episodes"`
	Jumps    []event.VolumeJump `json:"jumps"`
	Hygiene  []Check            `json:"hygiene"` // none: not checked
	Update   *Update            `json:"update,omitempty"`
}

// NameCount is a name with how often it was seen.
type NameCount struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

// Sample is one failed attempt, as the log said it.
type Sample = event.Sample

// Messages are the messages Proofpoint deferred, and what became of them.
type Messages struct {
	Deferred            int           `json:"deferred"` // messages (queue ID and recipient) deferred at least once
	DeliveredAfterRetry int           `json:"delivered_after_retry"`
	MedianDelay         time.Duration `json:"median_delay_ns"` // of those delivered after retry, from the first deferral
	MeanDelay           time.Duration `json:"mean_delay_ns"`   // the same, the mean: what a daemon's counters give
	Bounced             int           `json:"bounced"`
	Expired             int           `json:"expired"`        // given up by the MTA's retry limit (Exim's "retry timeout exceeded")
	StillDeferred       int           `json:"still_deferred"` // no later attempt in what was read: still queued (or expired where the MTA logs it per message only: Postfix)
	MaxAttempts         int           `json:"max_attempts"`
	Dropped             int           `json:"dropped,omitempty"` // not followed: past the bound (DefaultMaxMessages)
}

// Day is one UTC day's volume.
type Day struct {
	Date               string `json:"date"` // 2006-01-02
	Attempts           int    `json:"attempts"`
	ProofpointAttempts int    `json:"proofpoint_attempts"`
	Blocks             int    `json:"blocks"`
	Deferrals          int    `json:"deferrals"`
}

// Check is one sender check and when it was made.
type Check = dnscheck.Result

// Builder reads attempts into a packet. Not safe for concurrent use.
type Builder struct {
	o        Options
	rep      *report.Builder
	senders  map[string]*int // pointers: assigning to a map entry would store ev's (aliasing) key
	domains  map[string]*int
	hosts    map[string]bool
	days     map[string]*Day
	first    time.Time
	failures int
	head     []Sample // the first failures
	tail     []Sample // the latest failures, a ring
	next     int
	msgs     map[msgKey]*message
	dropped  int
	outcomes Messages
	delays   []time.Duration // of the messages delivered after retry
	// For an update: each recipient domain's first failure, and the
	// failures since UpdateSince.
	firstFailure map[string]time.Time
	newFailures  int
}

// maxMessages is DefaultMaxMessages; tests lower it.
var maxMessages = DefaultMaxMessages

type msgKey struct{ queueID, recipient string }

type message struct {
	firstDeferral time.Time
	attempts      int
	done          bool
}

// NewBuilder returns a Builder for o.
func NewBuilder(o Options) *Builder {
	if o.Samples <= 0 {
		o.Samples = DefaultSamples
	}
	return &Builder{o: o, rep: report.NewBuilder(), senders: map[string]*int{}, domains: map[string]*int{}, hosts: map[string]bool{},
		days: map[string]*Day{}, msgs: map[msgKey]*message{}, firstFailure: map[string]time.Time{}}
}

// Add reads one attempt; those of other IPs, domains or times are left
// out. What is kept is copied: ev may alias a reused read buffer.
func (b *Builder) Add(ev *event.Delivery) {
	if cmp.Or(ev.SourceIP, unknownIP) != b.o.IP || b.o.Domain != "" && ev.RecipientDomain != b.o.Domain {
		// Postfix logs no sending IP: a deferral learns it from the reply
		// ("?ip="), the delivery that ends the message does not.
		if ev.Proofpoint && b.msgs[msgKey{ev.QueueID, ev.Recipient}] != nil {
			b.follow(ev)
		}
		return
	}
	if b.first.IsZero() || ev.Time.Before(b.first) {
		b.first = ev.Time
	}
	if !b.o.Since.IsZero() && ev.Time.Before(b.o.Since) || !b.o.Until.IsZero() && !ev.Time.Before(b.o.Until) {
		return
	}
	b.rep.Add(ev)
	count(b.senders, ev.Sender)
	count(b.domains, event.DomainOf(ev.Sender))
	if ev.Host != "" && !b.hosts[ev.Host] && len(b.hosts) < MaxNames {
		b.hosts[strings.Clone(ev.Host)] = true
	}
	b.day(ev)
	if !ev.Proofpoint {
		return
	}
	b.follow(ev)
	if ev.IsBlock() || ev.IsDeferral() {
		b.sample(ev)
		if t, ok := b.firstFailure[ev.RecipientDomain]; (!ok || ev.Time.Before(t)) && (ok || len(b.firstFailure) < MaxNames) {
			b.firstFailure[strings.Clone(ev.RecipientDomain)] = ev.Time
		}
		if !b.o.UpdateSince.IsZero() && !ev.Time.Before(b.o.UpdateSince) {
			b.newFailures++
		}
	}
}

func count(m map[string]*int, name string) {
	switch n := m[name]; {
	case name == "":
	case n != nil:
		*n++
	case len(m) < MaxNames:
		one := 1
		m[strings.Clone(name)] = &one
	}
}

func (b *Builder) day(ev *event.Delivery) {
	date := ev.Time.UTC().Format(time.DateOnly) // a new string
	d := b.days[date]
	if d == nil {
		d = &Day{Date: date}
		b.days[date] = d
	}
	d.Attempts++
	if ev.Proofpoint {
		d.ProofpointAttempts++
	}
	switch {
	case ev.IsBlock():
		d.Blocks++
	case ev.IsDeferral():
		d.Deferrals++
	}
}

// follow keeps each message Proofpoint deferred until its outcome.
func (b *Builder) follow(ev *event.Delivery) {
	if ev.QueueID == "" {
		return
	}
	k := msgKey{ev.QueueID, ev.Recipient}
	m := b.msgs[k]
	if m == nil {
		if !ev.Delays() {
			return // only deferred messages are followed
		}
		if len(b.msgs) >= maxMessages {
			b.dropped++
			return
		}
		m = &message{firstDeferral: ev.Time}
		b.msgs[msgKey{strings.Clone(k.queueID), strings.Clone(k.recipient)}] = m
	}
	if m.done {
		return
	}
	m.attempts++
	switch ev.Status {
	case event.Delivered:
		m.done = true
		b.outcomes.DeliveredAfterRetry++
		b.delays = append(b.delays, ev.Time.Sub(m.firstDeferral))
	case event.Bounced:
		m.done = true
		if strings.HasSuffix(ev.Response, "retry timeout exceeded") {
			b.outcomes.Expired++
		} else {
			b.outcomes.Bounced++
		}
	}
	b.outcomes.MaxAttempts = max(b.outcomes.MaxAttempts, m.attempts)
}

// sample keeps the first and the latest failures.
func (b *Builder) sample(ev *event.Delivery) {
	s := event.SampleOf(ev)
	if b.o.MaskRecipients {
		s.Recipient = MaskRecipient(s.Recipient)
	}
	b.failures++
	half := (b.o.Samples + 1) / 2
	switch {
	case len(b.head) < half:
		b.head = append(b.head, s)
	case len(b.tail) < b.o.Samples-half:
		b.tail = append(b.tail, s)
	case len(b.tail) > 0:
		b.tail[b.next] = s
		b.next = (b.next + 1) % len(b.tail)
	}
}

// MaskRecipient hides a recipient's local part: "…@acme.example".
func MaskRecipient(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return "…" + addr[i:]
	}
	return "…"
}

// Packet is what was read, as of now, with the sender checks of the IP
// and its domains when they were made (none: "not checked").
func (b *Builder) Packet(now time.Time, source string, hygiene []Check) *Packet {
	r := b.rep.Report()
	p := &Packet{IP: b.o.IP, Domain: b.o.Domain, Generated: now.UTC(), Source: source, FirstEvent: r.FirstEvent, LastEvent: r.LastEvent,
		Totals: r.Totals, RecipientDomains: r.ProofpointDomains, Replies: r.ProofpointReplies, Hygiene: hygiene}
	if !b.first.IsZero() {
		first := b.first
		p.FirstSeen = &first
	}
	p.Hosts = slices.Sorted(maps.Keys(b.hosts))
	p.Senders, p.SendingDomains = top(b.senders), top(b.domains)
	p.Samples = append(append(p.Samples, b.head...), b.tail[b.next:]...)
	p.Samples = append(p.Samples, b.tail[:b.next]...)
	p.Messages = b.outcomes
	p.Messages.Deferred = len(b.msgs)
	p.Messages.Dropped = b.dropped
	p.Messages.StillDeferred = p.Messages.Deferred - p.Messages.DeliveredAfterRetry - p.Messages.Bounced - p.Messages.Expired
	if n := len(b.delays); n > 0 {
		d := slices.Clone(b.delays)
		slices.Sort(d)
		p.Messages.MedianDelay = d[(n-1)/2]
		var sum time.Duration
		for _, x := range d {
			sum += x
		}
		p.Messages.MeanDelay = sum / time.Duration(n)
	}
	p.Days = b.lastDays()
	if !b.o.UpdateSince.IsZero() {
		u := &Update{Since: b.o.UpdateSince.UTC(), Failures: b.newFailures, NewDomains: []string{}}
		for d, t := range b.firstFailure {
			if !t.Before(b.o.UpdateSince) {
				u.NewDomains = append(u.NewDomains, d)
			}
		}
		slices.Sort(u.NewDomains)
		p.Update = u
	}
	return p.Finish()
}

// Finish fills in what a packet's source does not give, from what it
// does: the first and latest failure, the kind of case and what to ask,
// the update's latest failure, and empty lists for absent ones. Sources
// other than a Builder (a daemon's state file, packets merged) call it.
func (p *Packet) Finish() *Packet {
	p.FirstFailure, p.LatestFailure = nil, nil
	for _, r := range p.Replies {
		if p.FirstFailure == nil || r.FirstSeen.Before(*p.FirstFailure) {
			t := r.FirstSeen
			p.FirstFailure = &t
		}
		if p.LatestFailure == nil || r.LastSeen.After(*p.LatestFailure) {
			t := r.LastSeen
			p.LatestFailure = &t
		}
	}
	p.Case = caseOf(p)
	if p.Update != nil {
		p.Update.LatestFailure = p.LatestFailure
	}
	if p.Hosts == nil {
		p.Hosts = []string{}
	}
	if p.Senders == nil {
		p.Senders = []NameCount{}
	}
	if p.SendingDomains == nil {
		p.SendingDomains = []NameCount{}
	}
	if p.RecipientDomains == nil {
		p.RecipientDomains = []report.Domain{}
	}
	if p.Replies == nil {
		p.Replies = []report.Reply{}
	}
	if p.Samples == nil {
		p.Samples = []Sample{}
	}
	if p.Days == nil {
		p.Days = []Day{}
	}
	if p.Hygiene == nil {
		p.Hygiene = []Check{}
	}
	if p.Episodes == nil {
		p.Episodes = []event.Episode{}
	}
	if p.Jumps == nil {
		p.Jumps = []event.VolumeJump{}
	}
	return p
}

// top are the most frequent names, ties by name.
func top(m map[string]*int) []NameCount {
	out := []NameCount{}
	for n, c := range m {
		out = append(out, NameCount{n, *c})
	}
	return mostNames(out)
}

// lastDays are the volumeDays days up to the last attempt read.
func (b *Builder) lastDays() []Day {
	dates := slices.Sorted(maps.Keys(b.days))
	if len(dates) > volumeDays {
		dates = dates[len(dates)-volumeDays:]
	}
	out := []Day{}
	for _, d := range dates {
		out = append(out, *b.days[d])
	}
	return out
}

// ParseWhen reads a time a user gives (flags, API parameters): a duration
// before now ("24h", "7d"), a UTC date ("2026-11-22") or an RFC 3339 time.
func ParseWhen(s string, now time.Time) (time.Time, error) {
	if d, err := alert.ParseDuration(s); err == nil {
		return now.Add(-d).UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, fmt.Errorf("%q is neither a duration (24h, 7d), a date (2026-11-22) nor an RFC 3339 time", s)
}
