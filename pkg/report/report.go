// Package report aggregates delivery events into the one-shot report of
// "ppwatch scan": totals, per source IP, per Proofpoint recipient domain,
// and the distinct Proofpoint replies verbatim with first and last seen.
package report

import (
	"sort"
	"strings"
	"time"

	"github.com/ppwatch/ppwatch/pkg/event"
)

// MaxReplies caps the distinct Proofpoint replies kept; more are counted in
// RepliesDropped. Replies that name a recipient are distinct per recipient,
// so a long scan could otherwise hold one per message.
const MaxReplies = 10000

// MaxPartReplies caps the distinct replies a builder of one file keeps
// before they are merged under MaxReplies: far above it, so that merging
// files read apart gives what reading them in one go would (that holds
// unless a single file has more distinct replies than this).
const MaxPartReplies = 20 * MaxReplies

// MaxReplyDomains caps the recipient domains listed per reply.
const MaxReplyDomains = 5

// Counts are the attempt counts of one group. Block and deferral ratios are
// over Proofpoint attempts; they are 0 when there were none.
type Counts struct {
	Attempts           int            `json:"attempts"`
	Delivered          int            `json:"delivered"`
	Deferred           int            `json:"deferred"`
	Bounced            int            `json:"bounced"`
	ProofpointAttempts int            `json:"proofpoint_attempts"`
	Blocks             int            `json:"blocks"`
	Deferrals          int            `json:"deferrals"`
	BlockRatio         float64        `json:"block_ratio"`
	DeferralRatio      float64        `json:"deferral_ratio"`
	Classes            map[string]int `json:"classes"` // filled by finish from classN

	// Per-event counting by class index: a map update per event and group
	// was a third of the report's cost.
	classN [numClasses]int
}

const numClasses = 9 // len(event.Classes); checked in classIndex's test

// classIndex is c's position in event.Classes; unknown classes count as
// other.
func classIndex(c event.Class) int {
	for i, k := range event.Classes {
		if k == c {
			return i
		}
	}
	return numClasses - 1
}

// tally is what one event adds to the counts of each group it is in,
// worked out once for its three groups (totals, IP, domain).
type tally struct {
	status                      event.Status
	class                       int
	proofpoint, block, deferral bool
}

func tallyOf(ev *event.Delivery) tally {
	return tally{status: ev.Status, class: classIndex(ev.Class), proofpoint: ev.Proofpoint, block: ev.IsBlock(), deferral: ev.IsDeferral()}
}

func (c *Counts) add(t *tally) {
	c.Attempts++
	switch t.status {
	case event.Delivered:
		c.Delivered++
	case event.Deferred:
		c.Deferred++
	case event.Bounced:
		c.Bounced++
	}
	if t.proofpoint {
		c.ProofpointAttempts++
		if t.block {
			c.Blocks++
		}
		if t.deferral {
			c.Deferrals++
		}
	}
	c.classN[t.class]++
}

func (c *Counts) merge(o *Counts) {
	c.Attempts += o.Attempts
	c.Delivered += o.Delivered
	c.Deferred += o.Deferred
	c.Bounced += o.Bounced
	c.ProofpointAttempts += o.ProofpointAttempts
	c.Blocks += o.Blocks
	c.Deferrals += o.Deferrals
	for i, n := range o.classN {
		c.classN[i] += n
	}
}

func (c *Counts) finish() {
	c.SetRatios()
	c.Classes = map[string]int{}
	for i, n := range c.classN {
		if n > 0 {
			c.Classes[string(event.Classes[i])] = n
		}
	}
}

// SetRatios sets the block and deferral ratios from the counts.
func (c *Counts) SetRatios() {
	c.BlockRatio, c.DeferralRatio = 0, 0
	if c.ProofpointAttempts > 0 {
		c.BlockRatio = float64(c.Blocks) / float64(c.ProofpointAttempts)
		c.DeferralRatio = float64(c.Deferrals) / float64(c.ProofpointAttempts)
	}
}

// Sum adds the counts of a report made apart (a fleet's packets), as
// finished (their Classes), and sets the ratios of the sum.
func (c *Counts) Sum(o *Counts) {
	c.merge(o)
	for k, n := range o.Classes {
		if c.Classes == nil {
			c.Classes = map[string]int{}
		}
		c.Classes[k] += n
	}
	c.SetRatios()
}

// IP is one sending IP ("" when unknown).
type IP struct {
	SourceIP string `json:"source_ip"`
	Counts
}

// Domain is one Proofpoint recipient domain.
type Domain struct {
	RecipientDomain string `json:"recipient_domain"`
	Counts
}

// Reply is one distinct Proofpoint reply from one source IP.
type Reply struct {
	SourceIP         string          `json:"source_ip"`
	Response         string          `json:"response"`
	SMTPCode         int             `json:"smtp_code"`
	EnhancedCode     string          `json:"enhanced_code"`
	Class            string          `json:"class"`
	Rule             string          `json:"rule"`
	Count            int             `json:"count"`
	FirstSeen        time.Time       `json:"first_seen"`
	LastSeen         time.Time       `json:"last_seen"`
	RecipientDomains []DomainCount   `json:"recipient_domains"` // the most frequent, at most MaxReplyDomains
	domains          map[string]*int // one lookup per event
}

// DomainCount is a recipient domain with its count.
type DomainCount struct {
	Domain string `json:"domain"`
	Count  int    `json:"count"`
}

// File is what was read from one input.
type File struct {
	Path  string `json:"path"`
	MTA   string `json:"mta"`
	Error string `json:"error,omitempty"` // why the file could not be read to its end; its counts are up to there
	Lines
}

// Lines counts lines by outcome.
type Lines struct {
	Read        int `json:"read"`
	Parsed      int `json:"parsed"`
	Ignored     int `json:"ignored"`
	Malformed   int `json:"malformed"`
	BeforeSince int `json:"before_since,omitempty"`
}

// Report is the whole scan report; its JSON form is documented in README.
type Report struct {
	Since             *time.Time `json:"since,omitempty"`
	FirstEvent        *time.Time `json:"first_event"`
	LastEvent         *time.Time `json:"last_event"`
	Files             []File     `json:"files"`
	Lines             Lines      `json:"lines"`
	Totals            Counts     `json:"totals"`
	SourceIPs         []IP       `json:"source_ips"`
	ProofpointDomains []Domain   `json:"proofpoint_domains"`
	ProofpointReplies []Reply    `json:"proofpoint_replies"`
	RepliesDropped    int        `json:"replies_dropped"`
}

// Builder accumulates events. Not safe for concurrent use; files read in
// parallel each get their own (NewPartBuilder), merged in file order.
type Builder struct {
	r           Report
	first, last time.Time // of the events; zero before the first
	ips         map[string]*IP
	domains     map[string]*Domain
	replies     map[replyKey]*Reply
	order       []*Reply // replies in order of first occurrence, for Merge
	maxReplies  int
}

type replyKey struct{ ip, response string }

// NewBuilder returns an empty Builder keeping at most MaxReplies replies.
func NewBuilder() *Builder { return newBuilder(MaxReplies) }

// NewPartBuilder returns an empty Builder for one file of several, to be
// merged into a NewBuilder's; it keeps up to MaxPartReplies replies.
func NewPartBuilder() *Builder { return newBuilder(MaxPartReplies) }

func newBuilder(maxReplies int) *Builder {
	return &Builder{ips: map[string]*IP{}, domains: map[string]*Domain{}, replies: map[replyKey]*Reply{}, maxReplies: maxReplies}
}

// SetSince records the --since cut-off shown in the report.
func (b *Builder) SetSince(t time.Time) { b.r.Since = &t }

// AddFile records the line counts of one input.
func (b *Builder) AddFile(f File) {
	b.r.Files = append(b.r.Files, f)
	b.r.Lines.add(&f.Lines)
}

func (l *Lines) add(o *Lines) {
	l.Read += o.Read
	l.Parsed += o.Parsed
	l.Ignored += o.Ignored
	l.Malformed += o.Malformed
	l.BeforeSince += o.BeforeSince
}

// Add counts one event. Its strings are kept, so they must not alias a
// reused buffer.
func (b *Builder) Add(ev *event.Delivery) {
	b.span(ev.Time, ev.Time)
	t := tallyOf(ev)
	b.r.Totals.add(&t)
	ip := b.ips[ev.SourceIP]
	if ip == nil {
		// Keys are copied: an event's strings may share one buffer with its
		// whole log line, which a long-lived key would keep alive.
		ip = &IP{SourceIP: strings.Clone(ev.SourceIP)}
		b.ips[ip.SourceIP] = ip
	}
	ip.add(&t)
	if !ev.Proofpoint {
		return
	}
	d := b.domains[ev.RecipientDomain]
	if d == nil {
		d = &Domain{RecipientDomain: strings.Clone(ev.RecipientDomain)}
		b.domains[d.RecipientDomain] = d
	}
	d.add(&t)
	if ev.Status == event.Delivered {
		return
	}
	k := replyKey{ev.SourceIP, ev.Response}
	r := b.replies[k]
	if r == nil {
		if len(b.replies) >= b.maxReplies {
			b.r.RepliesDropped++
			return
		}
		r = &Reply{SourceIP: strings.Clone(ev.SourceIP), Response: strings.Clone(ev.Response), SMTPCode: ev.SMTPCode,
			EnhancedCode: strings.Clone(ev.EnhancedCode), Class: string(ev.Class), Rule: ev.Rule, FirstSeen: ev.Time, LastSeen: ev.Time,
			domains: map[string]*int{}}
		b.replies[replyKey{r.SourceIP, r.Response}] = r
		b.order = append(b.order, r)
	}
	r.Count++
	if ev.Time.Before(r.FirstSeen) {
		r.FirstSeen = ev.Time
	}
	if ev.Time.After(r.LastSeen) {
		r.LastSeen = ev.Time
	}
	if n := r.domains[ev.RecipientDomain]; n != nil {
		*n++
	} else {
		one := 1
		r.domains[strings.Clone(ev.RecipientDomain)] = &one
	}
}

// span widens the events' time span to first..last.
func (b *Builder) span(first, last time.Time) {
	if b.first.IsZero() || first.Before(b.first) {
		b.first = first
	}
	if last.After(b.last) {
		b.last = last
	}
}

// Merge adds what o counted after what b counted, as if o's events had come
// after b's: files read in parallel are merged in their order, so the
// report is the one a single pass would give. o must not be used after.
func (b *Builder) Merge(o *Builder) {
	b.r.Files = append(b.r.Files, o.r.Files...)
	b.r.Lines.add(&o.r.Lines)
	if !o.first.IsZero() {
		b.span(o.first, o.last)
	}
	b.r.Totals.merge(&o.r.Totals)
	for k, oip := range o.ips {
		if ip := b.ips[k]; ip != nil {
			ip.merge(&oip.Counts)
		} else {
			b.ips[k] = oip
		}
	}
	for k, od := range o.domains {
		if d := b.domains[k]; d != nil {
			d.merge(&od.Counts)
		} else {
			b.domains[k] = od
		}
	}
	b.r.RepliesDropped += o.r.RepliesDropped
	for _, or := range o.order {
		k := replyKey{or.SourceIP, or.Response}
		r := b.replies[k]
		switch {
		case r == nil && len(b.replies) >= b.maxReplies:
			b.r.RepliesDropped += or.Count
			continue
		case r == nil:
			b.replies[k] = or
			b.order = append(b.order, or)
			continue
		}
		r.Count += or.Count
		if or.FirstSeen.Before(r.FirstSeen) {
			r.FirstSeen = or.FirstSeen
		}
		if or.LastSeen.After(r.LastSeen) {
			r.LastSeen = or.LastSeen
		}
		for d, n := range or.domains {
			if m := r.domains[d]; m != nil {
				*m += *n
			} else {
				r.domains[d] = n
			}
		}
	}
}

// Report sorts and returns the report: IPs and domains by blocks, then
// deferrals, then attempts (most first); replies by count.
func (b *Builder) Report() *Report {
	r := b.r
	if !b.first.IsZero() {
		first, last := b.first, b.last
		r.FirstEvent, r.LastEvent = &first, &last
	}
	r.Totals.finish()
	r.SourceIPs = make([]IP, 0, len(b.ips))
	for _, ip := range b.ips {
		ip.finish()
		r.SourceIPs = append(r.SourceIPs, *ip)
	}
	sort.Slice(r.SourceIPs, func(i, j int) bool {
		return worse(&r.SourceIPs[i].Counts, &r.SourceIPs[j].Counts, r.SourceIPs[i].SourceIP, r.SourceIPs[j].SourceIP)
	})
	r.ProofpointDomains = make([]Domain, 0, len(b.domains))
	for _, d := range b.domains {
		d.finish()
		r.ProofpointDomains = append(r.ProofpointDomains, *d)
	}
	sort.Slice(r.ProofpointDomains, func(i, j int) bool {
		a, c := &r.ProofpointDomains[i], &r.ProofpointDomains[j]
		return worse(&a.Counts, &c.Counts, a.RecipientDomain, c.RecipientDomain)
	})
	r.ProofpointReplies = make([]Reply, 0, len(b.replies))
	for _, rp := range b.replies {
		rp.RecipientDomains = topDomains(rp.domains)
		r.ProofpointReplies = append(r.ProofpointReplies, *rp)
	}
	sort.Slice(r.ProofpointReplies, func(i, j int) bool {
		a, c := &r.ProofpointReplies[i], &r.ProofpointReplies[j]
		if a.Count != c.Count {
			return a.Count > c.Count
		}
		if a.SourceIP != c.SourceIP {
			return a.SourceIP < c.SourceIP
		}
		return a.Response < c.Response
	})
	if r.Files == nil {
		r.Files = []File{}
	}
	return &r
}

func worse(a, b *Counts, ka, kb string) bool {
	if a.Blocks != b.Blocks {
		return a.Blocks > b.Blocks
	}
	if a.Deferrals != b.Deferrals {
		return a.Deferrals > b.Deferrals
	}
	if a.Attempts != b.Attempts {
		return a.Attempts > b.Attempts
	}
	return ka < kb
}

func topDomains(m map[string]*int) []DomainCount {
	out := make([]DomainCount, 0, len(m))
	for d, n := range m {
		out = append(out, DomainCount{d, *n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Domain < out[j].Domain
	})
	if len(out) > MaxReplyDomains {
		out = out[:MaxReplyDomains]
	}
	return out
}
