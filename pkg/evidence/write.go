package evidence

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"strings"
	"time"

	"github.com/ppwatch/ppwatch/pkg/event"
	"github.com/ppwatch/ppwatch/pkg/report"
)

// Postmaster is where a sender without a Proofpoint contract writes;
// Proofpoint customers open a case with the same text.
const Postmaster = "postmaster@proofpoint.com"

// WriteJSON writes the packet as indented JSON.
func WriteJSON(w io.Writer, p *Packet) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(p)
}

// WriteText writes the packet for people, then the message to send.
func WriteText(w io.Writer, p *Packet) error { return write(w, p, false) }

// WriteMarkdown writes what WriteText writes, as Markdown (for a ticket
// or a wiki).
func WriteMarkdown(w io.Writer, p *Packet) error { return write(w, p, true) }

// WriteEML writes the message as an RFC 5322 draft a mail client opens:
// From (from, may be ""), To Proofpoint's postmaster, the subject, and the
// packet's text as the body.
func WriteEML(w io.Writer, p *Packet, from string) error {
	var body bytes.Buffer
	d := &doc{w: &body}
	d.body(p)
	d.evidence(p)
	var b bytes.Buffer
	if from != "" {
		fmt.Fprintf(&b, "From: %s\r\n", from)
	}
	fmt.Fprintf(&b, "To: %s\r\n", Postmaster)
	fmt.Fprintf(&b, "Subject: %s\r\n", mime.QEncoding.Encode("utf-8", Subject(p)))
	fmt.Fprintf(&b, "Date: %s\r\n", p.Generated.Format(time.RFC1123Z))
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\nX-Unsent: 1\r\n\r\n")
	b.WriteString(strings.ReplaceAll(body.String(), "\n", "\r\n"))
	_, err := w.Write(b.Bytes())
	return err
}

// Subject is the message's subject: the IP, the kind and the reply's code.
func Subject(p *Packet) string {
	s := fmt.Sprintf("Sending IP %s: %s", p.IP, p.Case.Title)
	if p.Update != nil {
		s = "Update: " + s
	}
	if r := dominantReply(p); r != nil {
		code := fmt.Sprint(r.SMTPCode)
		if r.EnhancedCode != "" {
			code += " " + r.EnhancedCode
		}
		s += " (" + code + ")"
	}
	if p.Domain != "" {
		s += " at " + p.Domain
	}
	return s
}

// write writes the packet as it is sent: where to, the subject, the
// message with its one ask, then the evidence.
func write(w io.Writer, p *Packet, md bool) error {
	var buf bytes.Buffer
	d := &doc{w: &buf, md: md}
	d.title(fmt.Sprintf("Proofpoint evidence for %s", p.IP))
	d.line("Generated %s from %s%s.", ts(p.Generated), p.Source, span(p.FirstEvent, p.LastEvent))
	d.line("")
	d.kv("To", Postmaster+" (a Proofpoint customer opens a case with this text instead)")
	d.kv("Subject", Subject(p))
	d.line("")
	if len(p.Case.FixFirst) > 0 {
		// A request sent while the sender's own setup fails wastes the
		// one chance: mend it, check again, then send.
		d.line("Before sending, fix first (then check again with ppwatch check):")
		for _, f := range p.Case.FixFirst {
			d.item(f)
		}
		d.line("")
	}
	d.body(p)
	d.evidence(p)
	_, err := w.Write(buf.Bytes())
	return err
}

// evidence is the packet's sections.
func (d *doc) evidence(p *Packet) {
	d.heading("Identifiers")
	d.kv("Sending IP", p.IP)
	d.kv("PTR", ptrOf(p))
	d.kv("Sending domains", names(p.SendingDomains))
	d.kv("Envelope senders", names(p.Senders))
	d.kv("MTA hosts", orNone(strings.Join(p.Hosts, ", ")))
	var rd []string
	for _, r := range p.RecipientDomains {
		rd = append(rd, fmt.Sprintf("%s (%d attempts, %d blocks, %d deferrals)", r.RecipientDomain, r.ProofpointAttempts, r.Blocks, r.Deferrals))
	}
	d.kv("Recipient domains", orNone(strings.Join(rd, "; ")))
	if p.FirstSeen != nil {
		d.kv("IP first seen", ts(*p.FirstSeen))
	}

	d.heading("Case")
	d.kv("Kind", fmt.Sprintf("%s (%s)", p.Case.Title, p.Case.Kind))
	d.kv("Ask", p.Case.Ask)
	d.kv("First failure", tsp(p.FirstFailure))
	d.kv("Latest failure", tsp(p.LatestFailure))
	t := p.Totals
	d.kv("Attempts", fmt.Sprintf("%d in all, %d delivered; %d to Proofpoint: %d blocks (%s), %d deferrals (%s)",
		t.Attempts, t.Delivered, t.ProofpointAttempts, t.Blocks, pct(t.BlockRatio), t.Deferrals, pct(t.DeferralRatio)))
	if len(p.Case.FixFirst) > 0 {
		d.line("Fix first:")
		for _, f := range p.Case.FixFirst {
			d.item(f)
		}
	}

	d.heading("Messages deferred by Proofpoint")
	m := p.Messages
	if m.Deferred == 0 {
		d.line("None.")
	} else {
		delay := ""
		switch {
		case m.MedianDelay > 0:
			delay = fmt.Sprintf(" (median delay %s)", m.MedianDelay.Round(time.Second))
		case m.MeanDelay > 0:
			delay = fmt.Sprintf(" (mean delay %s)", m.MeanDelay.Round(time.Second))
		}
		most := ""
		if m.MaxAttempts > 0 {
			most = fmt.Sprintf("; up to %d attempts each", m.MaxAttempts)
		}
		d.line("%d messages deferred: %d delivered after retry%s, %d bounced, %d expired, %d still deferred at the last line read%s.",
			m.Deferred, m.DeliveredAfterRetry, delay, m.Bounced, m.Expired, m.StillDeferred, most)
		if m.Dropped > 0 {
			d.line("%d more were not followed (past %d messages).", m.Dropped, maxMessages)
		}
	}

	d.heading("Replies, verbatim")
	if len(p.Replies) == 0 {
		d.line("None.")
	}
	for _, r := range p.Replies {
		d.item(fmt.Sprintf("%d× %s", r.Count, r.Response))
		d.sub(fmt.Sprintf("class %s; first %s, last %s; %s", r.Class, ts(r.FirstSeen), ts(r.LastSeen), domainCounts(r.RecipientDomains)))
	}

	d.heading("Sample attempts")
	if len(p.Samples) == 0 {
		d.line("None.")
	}
	for _, s := range p.Samples {
		d.item(fmt.Sprintf("%s %s queue %s message-id <%s> from <%s> to <%s>: %s", ts(s.Time), orDash(s.Host), orDash(s.QueueID),
			s.MessageID, s.Sender, s.Recipient, s.Status))
		d.sub(s.Response)
	}

	d.heading("Volume by day (UTC)")
	for _, day := range p.Days {
		d.item(fmt.Sprintf("%s: %d attempts, %d to Proofpoint, %d blocks, %d deferrals", day.Date, day.Attempts, day.ProofpointAttempts, day.Blocks, day.Deferrals))
	}

	d.heading("Episodes")
	if len(p.Episodes) == 0 {
		d.line("None kept (the daemon keeps them: ppwatch report --url).")
	}
	blocks := 0
	for _, e := range p.Episodes {
		if e.Kind == event.OutcomeBlock {
			blocks++
		}
		state := "closed"
		if e.Open {
			state = "open"
		}
		d.item(fmt.Sprintf("%s %s to %s (%s): %d blocks, %d deferrals of %d attempts", e.Kind, ts(e.Start), ts(e.End), state, e.Blocks, e.Deferrals, e.Attempts))
		d.sub(fmt.Sprintf("%d× %s", e.Reply.Count, e.Reply.Response))
	}
	if blocks > 1 {
		d.line("Blocked %d times in what is kept: a recurring listing.", blocks)
	}
	for _, j := range p.Jumps {
		d.line("Volume jump on %s: %d attempts against a median of %d on the days before.", j.Day, j.Attempts, j.Median)
	}

	d.heading("Sender checks (DNS)")
	if len(p.Hygiene) == 0 {
		d.line("Not checked.")
	}
	for _, h := range p.Hygiene {
		d.item(fmt.Sprintf("%s (checked %s)", h.Line(), ts(h.Checked)))
	}
}

// body is the message: identifiers first, one ask, the evidence after;
// for an update, what is new since the last message.
func (d *doc) body(p *Packet) {
	if u := p.Update; u != nil {
		d.line("Hello,")
		d.line("")
		d.line("An update to our case about sending IP %s (%s), with what our MTA logs show since %s:", p.IP, p.Case.Title, ts(u.Since))
		d.line("")
		d.line("New failures since then: %d", u.Failures)
		d.line("Recipient domains newly affected: %s", orNone(strings.Join(u.NewDomains, ", ")))
		d.line("Latest failure: %s", tsp(u.LatestFailure))
		d.line("Authentication and DNS now: %s", checkSummary(p))
		d.line("")
		d.line("%s", p.Case.Ask)
		d.line("")
		d.line("The evidence from our MTA logs follows (times in UTC).")
		d.line("")
		return
	}
	d.line("Hello,")
	d.line("")
	d.line("Mail from our sending IP %s is being %s by Proofpoint-protected receivers.", p.IP, verb(p))
	d.line("")
	d.line("Sending IP: %s", p.IP)
	d.line("Sending domains: %s", names(p.SendingDomains))
	d.line("Envelope senders: %s", names(p.Senders))
	d.line("Recipient domains affected: %d", len(p.RecipientDomains))
	d.line("First failure: %s", tsp(p.FirstFailure))
	d.line("Latest failure: %s", tsp(p.LatestFailure))
	if r := dominantReply(p); r != nil {
		d.line("Reply (%d times): %s", r.Count, r.Response)
	}
	d.line("")
	d.line("%s", p.Case.Ask)
	d.line("")
	d.line("The evidence from our MTA logs follows (times in UTC).")
	d.line("")
}

// checkSummary says the sender checks in one line: which failed, or that
// they pass, or that none was made.
func checkSummary(p *Packet) string {
	if len(p.Hygiene) == 0 {
		return "not checked"
	}
	var failed []string
	for _, h := range p.Hygiene {
		if h.Status == "fail" {
			failed = append(failed, string(h.Check)+" "+h.Target())
		}
	}
	if len(failed) == 0 {
		return fmt.Sprintf("all %d checks pass", len(p.Hygiene))
	}
	return "failing: " + strings.Join(failed, "; ")
}

func verb(p *Packet) string {
	switch p.Case.Kind {
	case KindDeferral:
		return "deferred"
	case KindNone:
		return "delivered"
	}
	return "rejected"
}

func ptrOf(p *Packet) string {
	for _, h := range p.Hygiene {
		if h.Check == "ptr" && h.Subject == p.IP {
			return fmt.Sprintf("%s (%s, checked %s)", orNone(h.Record), h.Status, ts(h.Checked))
		}
	}
	return "not checked"
}

func names(l []NameCount) string {
	var s []string
	for _, n := range l {
		s = append(s, fmt.Sprintf("%s (%d)", n.Name, n.Count))
	}
	return orNone(strings.Join(s, ", "))
}

func domainCounts(l []report.DomainCount) string {
	var s []string
	for _, c := range l {
		s = append(s, fmt.Sprintf("%s %d", c.Domain, c.Count))
	}
	return strings.Join(s, ", ")
}

func span(first, last *time.Time) string {
	if first == nil || last == nil {
		return ", no attempts"
	}
	return fmt.Sprintf(", attempts from %s to %s", ts(*first), ts(*last))
}

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func tsp(t *time.Time) string {
	if t == nil {
		return "none"
	}
	return ts(*t)
}

func pct(r float64) string { return fmt.Sprintf("%.1f%%", 100*r) }

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// doc writes text or Markdown.
type doc struct {
	w  *bytes.Buffer
	md bool
}

func (d *doc) title(s string) {
	if d.md {
		fmt.Fprintf(d.w, "# %s\n\n", s)
		return
	}
	fmt.Fprintf(d.w, "%s\n%s\n", s, strings.Repeat("=", len([]rune(s))))
}

func (d *doc) heading(s string) {
	if d.md {
		fmt.Fprintf(d.w, "\n## %s\n\n", s)
		return
	}
	fmt.Fprintf(d.w, "\n%s\n%s\n", s, strings.Repeat("-", len([]rune(s))))
}

func (d *doc) line(format string, args ...any) {
	fmt.Fprintf(d.w, format+"\n", args...)
}

func (d *doc) kv(k, v string) {
	if d.md {
		fmt.Fprintf(d.w, "- **%s:** %s\n", k, v)
		return
	}
	fmt.Fprintf(d.w, "%-18s %s\n", k+":", v)
}

func (d *doc) item(s string) {
	if d.md {
		fmt.Fprintf(d.w, "- %s\n", s)
		return
	}
	fmt.Fprintf(d.w, "  %s\n", s)
}

func (d *doc) sub(s string) {
	if d.md {
		fmt.Fprintf(d.w, "  - %s\n", s)
		return
	}
	fmt.Fprintf(d.w, "      %s\n", s)
}
