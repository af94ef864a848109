package outcome

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ppwatch/ppwatch/pkg/event"
)

var t0 = time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)

func at(min int, ip, qid, rcpt string, st event.Status, code int, resp string) *event.Delivery {
	return &event.Delivery{Time: t0.Add(time.Duration(min) * time.Minute), SourceIP: ip, QueueID: qid, Recipient: rcpt,
		RecipientDomain: event.DomainOf(rcpt), Status: st, SMTPCode: code, Proofpoint: true, Class: event.ClassReputation, Response: resp}
}

// Each outcome once: delivered after retry (its delay from the first
// deferral), bounced, expired by Exim's retry timeout and by no attempt
// for ExpireAfter; a message never deferred is not followed; past MaxOpen
// one is untracked. The state comes back whole from its figures, and the
// metrics say the same.
// Postfix defers a message after a 554 greeting and tries again: such a
// message is followed as a 4xx one is. A connection dropped after EHLO is
// deferred too, but without a reply nothing says it was Proofpoint's doing.
func TestDeferredWithoutA4xx(t *testing.T) {
	tr := New()
	banner := at(0, "192.0.2.10", "Q1", "a@acme.example", event.Deferred, 554, "554 mx0a.pphosted.com ESMTP Blocked - see https://ipcheck.proofpoint.com/?ip=192.0.2.10")
	dropped := at(0, "192.0.2.10", "Q2", "b@acme.example", event.Deferred, 0, "lost connection with mx0a.pphosted.com[192.0.2.99] while performing the EHLO handshake")
	dropped.Class = event.ClassConnection
	for _, ev := range []*event.Delivery{
		banner, dropped,
		at(0, "192.0.2.10", "Q3", "c@acme.example", event.Bounced, 550, "550 5.7.0 Blocked"), // bounced at once: never followed
		at(2, "192.0.2.10", "Q1", "a@acme.example", event.Delivered, 250, "250 ok"),
		at(3, "192.0.2.10", "Q2", "b@acme.example", event.Delivered, 250, "250 ok"),
	} {
		tr.Observe(ev)
	}
	want := []IPCounts{{SourceIP: "192.0.2.10", Counts: Counts{Delivered: 1, DelaySeconds: 120}}}
	if d := cmp.Diff(want, tr.Snapshot()); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestOutcomes(t *testing.T) {
	tr := New()
	tr.MaxOpen = 3
	for _, ev := range []*event.Delivery{
		at(0, "192.0.2.10", "Q1", "a@acme.example", event.Deferred, 421, "421 Deferred"),
		at(0, "192.0.2.10", "Q1", "b@acme.example", event.Deferred, 421, "421 Deferred"),
		at(1, "192.0.2.10", "Q2", "c@acme.example", event.Delivered, 250, "250 ok"), // never deferred
		at(10, "192.0.2.10", "Q1", "a@acme.example", event.Deferred, 421, "421 Deferred"),
		at(30, "192.0.2.10", "Q1", "a@acme.example", event.Delivered, 250, "250 ok"),
		at(40, "192.0.2.10", "Q1", "b@acme.example", event.Bounced, 554, "554 Blocked"),
		at(41, "192.0.2.11", "Q3", "d@acme.example", event.Deferred, 451, "451 later"),
		at(41, "192.0.2.11", "Q5", "f@acme.example", event.Deferred, 421, "421 Deferred"),
		at(42, "192.0.2.11", "Q6", "g@acme.example", event.Deferred, 421, "421 Deferred"),
		at(43, "192.0.2.11", "Q7", "h@acme.example", event.Deferred, 421, "421 Deferred"), // past MaxOpen
		at(60, "192.0.2.11", "Q5", "f@acme.example", event.Bounced, 421, "421 Deferred: retry timeout exceeded"),
	} {
		tr.Observe(ev)
	}
	// Q3 is heard from again; Q6 is not, for eight days of log.
	tr.Observe(at(8*24*60, "192.0.2.11", "Q3", "d@acme.example", event.Deferred, 451, "451 later"))
	figs := tr.Changes(true)
	want := []IPCounts{
		{SourceIP: "192.0.2.10", Counts: Counts{Delivered: 1, Bounced: 1, DelaySeconds: 1800}},
		{SourceIP: "192.0.2.11", Counts: Counts{Expired: 2, Untracked: 1}, Open: 1},
	}
	if d := cmp.Diff(want, tr.Snapshot()); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	if len(tr.Changes(true)) != 0 {
		t.Error("Changes again without a change")
	}
	// The figures hold only what is open and the counts.
	var keys []string
	for k, v := range figs {
		if v != nil {
			keys = append(keys, strings.ReplaceAll(k, "\x00", "|"))
		}
	}
	if d := cmp.Diff([]string{"outcome.counts:192.0.2.10", "outcome.counts:192.0.2.11", "outcome.open:192.0.2.11|Q3|d@acme.example",
		"outcome.samples:192.0.2.10", "outcome.samples:192.0.2.11", "outcome.senders:192.0.2.10", "outcome.senders:192.0.2.11"}, slices.Sorted(slices.Values(keys))); d != "" {
		t.Errorf("figures (-want +got):\n%s", d)
	}
	back := New()
	if err := back.Restore(figs); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, back.Snapshot()); d != "" {
		t.Errorf("restored (-want +got):\n%s", d)
	}
	// The open message goes on from where it was.
	back.Observe(at(8*24*60+5, "192.0.2.11", "Q3", "d@acme.example", event.Delivered, 250, "250 ok"))
	if s := back.Snapshot(); s[1].Delivered != 1 || s[1].Open != 0 || s[1].DelaySeconds != (8*24*60+5-41)*60 {
		t.Errorf("after restore: %+v", s[1])
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(tr)
	exp := `
# HELP ppwatch_proofpoint_messages_deferred Messages Proofpoint deferred that have no outcome yet: still queued.
# TYPE ppwatch_proofpoint_messages_deferred gauge
ppwatch_proofpoint_messages_deferred{source_ip="192.0.2.10"} 0
ppwatch_proofpoint_messages_deferred{source_ip="192.0.2.11"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(exp), "ppwatch_proofpoint_messages_deferred"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(tr, "ppwatch_proofpoint_message_outcomes_total"); n != 6 {
		t.Errorf("%d outcome series, want 3 per IP", n)
	}
	if err := back.Restore(map[string][]byte{"outcome.open:x": {1}}); err == nil {
		t.Error("a damaged figure restored")
	}
}

// An IP's samples are its first SamplesFirst failures and its latest
// SamplesLatest, with their Message-ID and sender; its senders are
// counted; both come back from their figures.
func TestSamples(t *testing.T) {
	tr := New()
	for i := range 12 {
		ev := at(i, "192.0.2.10", fmt.Sprintf("Q%02d", i), "a@acme.example", event.Bounced, 554, "554 Blocked")
		ev.MessageID, ev.Sender = fmt.Sprintf("m%d@shop.example", i), []string{"orders@shop.example", "news@shop.example"}[i%3/2]
		tr.Observe(ev)
	}
	tr.Observe(at(20, "192.0.2.10", "Q99", "b@acme.example", event.Delivered, 250, "250 ok")) // no failure: no sample
	ids := func(tr *Tracker) string {
		got, senders := tr.Samples("192.0.2.10")
		var out []string
		for _, d := range got {
			out = append(out, d.QueueID+"/"+d.MessageID)
		}
		for _, s := range senders {
			out = append(out, fmt.Sprintf("%s=%d", s.Address, s.Attempts))
		}
		return strings.Join(out, " ")
	}
	want := "Q00/m0@shop.example Q01/m1@shop.example Q02/m2@shop.example Q03/m3@shop.example Q04/m4@shop.example " +
		"Q07/m7@shop.example Q08/m8@shop.example Q09/m9@shop.example Q10/m10@shop.example Q11/m11@shop.example orders@shop.example=8 news@shop.example=4"
	if got := ids(tr); got != want {
		t.Errorf("samples:\n got %s\nwant %s", got, want)
	}
	if d := cmp.Diff(map[string]uint64{"shop.example": 12}, tr.SenderDomains()); d != "" {
		t.Errorf("sender domains (-want +got):\n%s", d)
	}
	back := New()
	if err := back.Restore(tr.Changes(true)); err != nil {
		t.Fatal(err)
	}
	if got := ids(back); got != want {
		t.Errorf("restored:\n got %s\nwant %s", got, want)
	}
}
