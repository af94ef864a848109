package alert

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// source is a fixed set of figures: the same counts for every window.
type source struct {
	counts  map[Key]Counts
	replies []Reply
	err     error
}

func (s source) Counts(_ time.Time, windows []time.Duration) (map[time.Duration]map[Key]Counts, error) {
	if s.err != nil {
		return nil, s.err
	}
	out := map[time.Duration]map[Key]Counts{}
	for _, w := range windows {
		out[w] = s.counts
	}
	return out, nil
}

func (s source) EachReply(ip string, all bool, fn func(Reply)) error {
	for _, r := range s.replies {
		if all || r.SourceIP == ip {
			fn(r)
		}
	}
	return nil
}

func (s source) EachPairReply(ip, domain string, fn func(Reply)) error {
	for _, r := range s.replies {
		if r.SourceIP == ip && r.RecipientDomain == domain {
			fn(r)
		}
	}
	return nil
}

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

func ip(addr string, c Counts) map[Key]Counts {
	return map[Key]Counts{{SourceIP: addr, RecipientDomain: "acme.example"}: c}
}

func blockRule() *Rule {
	return &Rule{Name: "ProofpointBlockRatioHigh", Measure: BlockRatio, BySourceIP: true, Window: 15 * time.Minute,
		Threshold: 0.05, MinAttempts: 20, For: 5 * time.Minute, Severity: "page", Runbook: "proofpointblockratiohigh"}
}

// describe writes the state as "labels state" lines and the transitions
// as "labels from→to".
func describe(as Alerts) []string {
	var out []string
	for _, a := range as.Sorted() {
		s := labelString(a.Labels) + " " + a.State.String()
		if !a.ResolvedAt.IsZero() {
			s += " resolved@" + a.ResolvedAt.Sub(t0).String()
		}
		out = append(out, s)
	}
	return out
}

func transitions(ts []Transition) []string {
	var out []string
	for _, t := range ts {
		out = append(out, labelString(t.Alert.Labels)+" "+t.From.String()+"→"+t.To.String())
	}
	return out
}

func labelString(l map[string]string) string {
	var parts []string
	for k, v := range l {
		if k != LabelAlertName && k != LabelSeverity {
			parts = append(parts, k+"="+v)
		}
	}
	slices.Sort(parts)
	return "{" + strings.Join(parts, ",") + "}"
}

func TestEval(t *testing.T) {
	type step struct {
		at          time.Duration
		counts      map[Key]Counts
		state       []string
		transitions []string
	}
	noFor := func(r *Rule) *Rule { r.For = 0; return r }
	cases := []struct {
		name  string
		rule  *Rule
		steps []step
	}{
		{"exactly at the threshold does not fire", noFor(blockRule()), []step{
			{0, ip("192.0.2.1", Counts{Attempts: 20, Blocks: 1}), nil, nil},
		}},
		{"above the threshold fires at once with for 0", noFor(blockRule()), []step{
			{0, ip("192.0.2.1", Counts{Attempts: 20, Blocks: 2}), []string{"{source_ip=192.0.2.1} firing"}, []string{"{source_ip=192.0.2.1} inactive→firing"}},
		}},
		{"one attempt short of min_attempts", noFor(blockRule()), []step{
			{0, ip("192.0.2.1", Counts{Attempts: 19, Blocks: 19}), nil, nil},
		}},
		{"exactly min_attempts", noFor(blockRule()), []step{
			{0, ip("192.0.2.1", Counts{Attempts: 20, Blocks: 19}), []string{"{source_ip=192.0.2.1} firing"}, []string{"{source_ip=192.0.2.1} inactive→firing"}},
		}},
		{"pending until for has passed, firing after exactly for", blockRule(), []step{
			{0, ip("192.0.2.1", Counts{Attempts: 40, Blocks: 4}), []string{"{source_ip=192.0.2.1} pending"}, []string{"{source_ip=192.0.2.1} inactive→pending"}},
			{5*time.Minute - time.Second, ip("192.0.2.1", Counts{Attempts: 40, Blocks: 4}), []string{"{source_ip=192.0.2.1} pending"}, nil},
			{5 * time.Minute, ip("192.0.2.1", Counts{Attempts: 40, Blocks: 4}), []string{"{source_ip=192.0.2.1} firing"}, []string{"{source_ip=192.0.2.1} pending→firing"}},
			{6 * time.Minute, ip("192.0.2.1", Counts{Attempts: 40, Blocks: 4}), []string{"{source_ip=192.0.2.1} firing"}, nil},
		}},
		{"pending to inactive", blockRule(), []step{
			{0, ip("192.0.2.1", Counts{Attempts: 40, Blocks: 4}), []string{"{source_ip=192.0.2.1} pending"}, []string{"{source_ip=192.0.2.1} inactive→pending"}},
			{time.Minute, ip("192.0.2.1", Counts{Attempts: 40, Blocks: 2}), nil, []string{"{source_ip=192.0.2.1} pending→inactive"}},
			// The condition comes back: for starts again.
			{2 * time.Minute, ip("192.0.2.1", Counts{Attempts: 40, Blocks: 4}), []string{"{source_ip=192.0.2.1} pending"}, []string{"{source_ip=192.0.2.1} inactive→pending"}},
			{6 * time.Minute, ip("192.0.2.1", Counts{Attempts: 40, Blocks: 4}), []string{"{source_ip=192.0.2.1} pending"}, nil},
		}},
		{"firing to resolved", noFor(blockRule()), []step{
			{0, ip("192.0.2.1", Counts{Attempts: 40, Blocks: 4}), []string{"{source_ip=192.0.2.1} firing"}, []string{"{source_ip=192.0.2.1} inactive→firing"}},
			{time.Minute, nil, []string{"{source_ip=192.0.2.1} inactive resolved@1m0s"}, []string{"{source_ip=192.0.2.1} firing→inactive"}},
		}},
		{"by source IP and domain, unknown IP", &Rule{Name: "ProofpointDomainBlocked", Measure: BlockRatio, BySourceIP: true, ByDomain: true,
			Window: time.Hour, Threshold: 0.5, MinAttempts: 10, Severity: "warning"}, []step{
			{0, map[Key]Counts{
				{SourceIP: "", RecipientDomain: "acme.example"}:           {Attempts: 10, Blocks: 6},
				{SourceIP: "192.0.2.1", RecipientDomain: "acme.example"}:  {Attempts: 10, Blocks: 5},
				{SourceIP: "192.0.2.1", RecipientDomain: "wayne.example"}: {Attempts: 12, Blocks: 12},
			}, []string{
				"{recipient_domain=acme.example,source_ip=unknown} firing",
				"{recipient_domain=wayne.example,source_ip=192.0.2.1} firing",
			}, []string{
				"{recipient_domain=acme.example,source_ip=unknown} inactive→firing",
				"{recipient_domain=wayne.example,source_ip=192.0.2.1} inactive→firing",
			}},
		}},
		{"by recipient domain sums the sending IPs", &Rule{Name: "D", Measure: Deferrals, ByDomain: true, Window: time.Hour, Threshold: 9, Severity: "warning"}, []step{
			{0, map[Key]Counts{
				{SourceIP: "192.0.2.1", RecipientDomain: "acme.example"}:  {Attempts: 10, Deferrals: 5},
				{SourceIP: "192.0.2.2", RecipientDomain: "acme.example"}:  {Attempts: 10, Deferrals: 5},
				{SourceIP: "192.0.2.2", RecipientDomain: "other.example"}: {Attempts: 10, Deferrals: 9},
			}, []string{"{recipient_domain=acme.example} firing"}, []string{"{recipient_domain=acme.example} inactive→firing"}},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := &Evaluator{Rules: []*Rule{c.rule}, ExternalURL: "http://mta1.example.net:9797"}
			var state Alerts
			for i, s := range c.steps {
				res, err := e.Eval(t0.Add(s.at), source{counts: s.counts}, state)
				if err != nil {
					t.Fatal(err)
				}
				if d := cmp.Diff(s.state, describe(res.Alerts)); d != "" {
					t.Errorf("step %d state (-want +got):\n%s", i, d)
				}
				if d := cmp.Diff(s.transitions, transitions(res.Transitions)); d != "" {
					t.Errorf("step %d transitions (-want +got):\n%s", i, d)
				}
				state = res.Alerts
			}
		})
	}
}

func TestEvalKeepsTimesAndLabels(t *testing.T) {
	r := blockRule()
	r.Labels = map[string]string{"team": "mail"}
	e := &Evaluator{Rules: []*Rule{r}, ExternalURL: "http://mta1.example.net:9797", RunbookURL: "https://mta1.example.net:9797/runbook"}
	src := source{counts: ip("2001:db8::25", Counts{Attempts: 40, Blocks: 4})}
	res, _ := e.Eval(t0, src, nil)
	res, _ = e.Eval(t0.Add(5*time.Minute), src, res.Alerts)
	got := res.Alerts.Sorted()
	want := []Alert{{
		Rule:         "ProofpointBlockRatioHigh",
		Labels:       map[string]string{"alertname": "ProofpointBlockRatioHigh", "severity": "page", "source_ip": "2001:db8::25", "team": "mail"},
		Annotations:  map[string]string{"runbook_url": "https://mta1.example.net:9797/runbook#proofpointblockratiohigh", "report_url": "http://mta1.example.net:9797/ip/2001:db8::25"},
		State:        Firing,
		Value:        0.1,
		Counts:       Counts{Attempts: 40, Blocks: 4},
		ActiveAt:     t0,
		FiredAt:      t0.Add(5 * time.Minute),
		GeneratorURL: "http://mta1.example.net:9797/ip/2001:db8::25",
	}}
	if d := cmp.Diff(want, got); d != "" {
		t.Error(d)
	}
}

func TestEvalError(t *testing.T) {
	e := &Evaluator{Rules: []*Rule{blockRule()}}
	if _, err := e.Eval(t0, source{err: fmt.Errorf("disk on fire")}, nil); err == nil || err.Error() != "disk on fire" {
		t.Errorf("err = %v", err)
	}
}

// A rule that is gone (removed by a reload) resolves its firing alerts and
// drops its pending ones.
func TestRemovedRule(t *testing.T) {
	fire := blockRule()
	fire.For = 0
	pend := blockRule()
	pend.Name = "Other"
	e := &Evaluator{Rules: []*Rule{fire, pend}}
	src := source{counts: ip("192.0.2.1", Counts{Attempts: 40, Blocks: 4})}
	res, _ := e.Eval(t0, src, nil)
	if d := cmp.Diff([]string{"{source_ip=192.0.2.1} pending", "{source_ip=192.0.2.1} firing"}, describe(res.Alerts)); d != "" {
		t.Fatal(d)
	}
	e.Rules = nil
	res, _ = e.Eval(t0.Add(time.Minute), src, res.Alerts)
	if d := cmp.Diff([]string{"{source_ip=192.0.2.1} pending→inactive", "{source_ip=192.0.2.1} firing→inactive"}, transitions(res.Transitions)); d != "" {
		t.Error(d)
	}
	if d := cmp.Diff([]string{"{source_ip=192.0.2.1} inactive resolved@1m0s"}, describe(res.Alerts)); d != "" {
		t.Error(d)
	}
}

// A resolved alert says so: its summary and description are replaced by a
// resolved text (the firing summary kept as what it was), the other
// annotations stay.
func TestResolvedAnnotations(t *testing.T) {
	r := blockRule()
	r.For = 0
	r.Annotations = map[string]string{"summary": "Proofpoint blocks {{percent .Ratio}} of mail from {{.SourceIP}}", "description": "{{.Blocks}} blocks"}
	if err := r.Compile(); err != nil {
		t.Fatal(err)
	}
	d := &Rule{Name: "ProofpointDomainBlocked", Measure: BlockRatio, BySourceIP: true, ByDomain: true, Window: time.Hour, Threshold: 0.5, Severity: "warning"}
	e := &Evaluator{Rules: []*Rule{r, d}, ExternalURL: "http://mta1.example.net:9797", RunbookURL: "http://mta1.example.net:9797/runbook"}
	src := source{counts: map[Key]Counts{{SourceIP: "192.0.2.1", RecipientDomain: "acme.example"}: {Attempts: 40, Blocks: 24}}}
	res, _ := e.Eval(t0, src, nil)
	res.Alerts.Due(t0, time.Minute)
	res, _ = e.Eval(t0.Add(20*time.Minute+30*time.Second), source{}, res.Alerts)
	var got []map[string]string
	for _, n := range res.Alerts.Due(t0.Add(21*time.Minute), time.Minute) {
		got = append(got, n.Annotations)
	}
	want := []map[string]string{{
		"summary": "Resolved: ProofpointBlockRatioHigh for 192.0.2.1 (fired 2026-11-22T10:00:00Z, resolved 2026-11-22T10:20:30Z)",
		"description": "ProofpointBlockRatioHigh for 192.0.2.1 resolved at 2026-11-22T10:20:30Z: its condition no longer holds (it had fired for 20m 30s).\n" +
			"When it last fired: Proofpoint blocks 60.0% of mail from 192.0.2.1",
		"report_url":  "http://mta1.example.net:9797/ip/192.0.2.1",
		"runbook_url": "http://mta1.example.net:9797/runbook#proofpointblockratiohigh",
	}, {
		"summary":     "Resolved: ProofpointDomainBlocked for 192.0.2.1 to acme.example (fired 2026-11-22T10:00:00Z, resolved 2026-11-22T10:20:30Z)",
		"description": "ProofpointDomainBlocked for 192.0.2.1 to acme.example resolved at 2026-11-22T10:20:30Z: its condition no longer holds (it had fired for 20m 30s).",
		"report_url":  "http://mta1.example.net:9797/ip/192.0.2.1",
		"runbook_url": "http://mta1.example.net:9797/runbook",
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Error(diff)
	}
}

func TestMaxInstances(t *testing.T) {
	r := &Rule{Name: "B", Measure: Blocks, BySourceIP: true, ByDomain: true, Window: time.Hour, Severity: "warning"}
	e := &Evaluator{Rules: []*Rule{r}, MaxInstances: 2}
	counts := map[Key]Counts{
		{SourceIP: "192.0.2.1", RecipientDomain: "a.example"}: {Attempts: 5, Blocks: 1},
		{SourceIP: "192.0.2.1", RecipientDomain: "b.example"}: {Attempts: 5, Blocks: 3},
		{SourceIP: "192.0.2.1", RecipientDomain: "c.example"}: {Attempts: 5, Blocks: 2},
	}
	res, _ := e.Eval(t0, source{counts: counts}, nil)
	if d := cmp.Diff([]string{
		"{recipient_domain=b.example,source_ip=192.0.2.1} firing",
		"{recipient_domain=c.example,source_ip=192.0.2.1} firing",
	}, describe(res.Alerts)); d != "" {
		t.Error(d)
	}
	if res.Cut["B"] != 1 {
		t.Errorf("cut %v", res.Cut)
	}
	// An active instance keeps its place although a worse one comes.
	counts[Key{SourceIP: "192.0.2.1", RecipientDomain: "d.example"}] = Counts{Attempts: 9, Blocks: 9}
	res, _ = e.Eval(t0.Add(time.Minute), source{counts: counts}, res.Alerts)
	if d := cmp.Diff([]string{
		"{recipient_domain=b.example,source_ip=192.0.2.1} firing",
		"{recipient_domain=c.example,source_ip=192.0.2.1} firing",
	}, describe(res.Alerts)); d != "" {
		t.Error(d)
	}
	if res.Cut["B"] != 2 {
		t.Errorf("cut %v", res.Cut)
	}
}

func TestDue(t *testing.T) {
	r := blockRule()
	r.For = 0
	e := &Evaluator{Rules: []*Rule{r}, ExternalURL: "http://h:9797"}
	src := source{counts: ip("192.0.2.1", Counts{Attempts: 40, Blocks: 4})}
	const resend = time.Minute
	type step struct {
		at    time.Duration
		src   source
		sends []string // "startsAt endsAt" offsets from t0
	}
	steps := []step{
		{0, src, []string{"0s 4m0s"}},
		{15 * time.Second, src, nil},
		{time.Minute - time.Second, src, nil},
		{time.Minute, src, []string{"0s 5m0s"}},
		{time.Minute + 15*time.Second, src, nil},
		{2*time.Minute + 30*time.Second, src, []string{"0s 6m30s"}},
		{3 * time.Minute, source{}, []string{"0s 3m0s"}}, // resolved: EndsAt = the resolve time
		{3*time.Minute + 15*time.Second, source{}, nil},  // sent once
		{5 * time.Minute, source{}, nil},
	}
	var state Alerts
	for i, s := range steps {
		now := t0.Add(s.at)
		res, err := e.Eval(now, s.src, state)
		if err != nil {
			t.Fatal(err)
		}
		state = res.Alerts
		var got []string
		for _, n := range state.Due(now, resend) {
			got = append(got, n.StartsAt.Sub(t0).String()+" "+n.EndsAt.Sub(t0).String())
			if n.Labels["source_ip"] != "192.0.2.1" || n.GeneratorURL != "http://h:9797/ip/192.0.2.1" {
				t.Errorf("step %d: %+v", i, n)
			}
		}
		if d := cmp.Diff(s.sends, got); d != "" {
			t.Errorf("step %d (at %s) sends (-want +got):\n%s", i, s.at, d)
		}
	}
	if len(state) != 0 {
		t.Errorf("left: %v", describe(state))
	}
}

// After a restart the restored firing alert is sent at its resend time,
// not at once (no page storm), unless the EndsAt it was sent with would
// lapse first (the resend interval grew).
func TestDueAfterRestore(t *testing.T) {
	a := Alert{Rule: "R", Labels: map[string]string{"alertname": "R"}, State: Firing, FiredAt: t0,
		LastSentAt: t0.Add(time.Minute), ValidUntil: t0.Add(5 * time.Minute)}
	cases := []struct {
		now    time.Duration
		resend time.Duration
		sent   bool
	}{
		{time.Minute + 59*time.Second, time.Minute, false},
		{2 * time.Minute, time.Minute, true},
		{2 * time.Minute, 10 * time.Minute, true}, // the next send (11m) would come after the old EndsAt (5m)
		{3 * time.Minute, 2 * time.Minute, true},  // resend time
		{2 * time.Minute, 3 * time.Minute, true},  // 5m - 3m: the old EndsAt would lapse before the next send
		{time.Minute + time.Second, 3 * time.Minute, false},
	}
	for _, c := range cases {
		as := Alerts{a.Key(): a}
		got := as.Due(t0.Add(c.now), c.resend)
		if (len(got) == 1) != c.sent {
			t.Errorf("now +%s resend %s: sent %d", c.now, c.resend, len(got))
		}
	}
	p := Alerts{"p": {Rule: "R", State: Pending}}
	if got := p.Due(t0, time.Minute); len(got) != 0 {
		t.Errorf("pending sent: %v", got)
	}
}

// The reply an alert quotes: of the measured kind, seen within the window
// before the more frequent older one, then the most frequent, ties broken
// by domain and text; per IP, per (IP, domain) and per domain.
func TestTopReplies(t *testing.T) {
	now := t0.Add(time.Hour)
	recent, old := now.Add(-5*time.Minute), now.Add(-50*time.Minute)
	rep := func(ip, domain, text string, code int, class string, n uint64, last time.Time) Reply {
		return Reply{SourceIP: ip, RecipientDomain: domain, Response: text, SMTPCode: code, Class: class, Count: n, FirstSeen: old, LastSeen: last}
	}
	src := source{replies: []Reply{
		rep("192.0.2.1", "d1.example", "550 X", 550, "reputation", 5, old),
		rep("192.0.2.1", "d2.example", "554 Y", 554, "reputation", 2, recent),
		rep("192.0.2.1", "d1.example", "550 5.1.1 unknown", 550, "recipient", 9, recent),
		rep("192.0.2.1", "d3.example", "421 D", 421, "reputation", 7, recent),
		rep("192.0.2.2", "d2.example", "550 W", 550, "reputation", 3, recent),
		rep("192.0.2.2", "d1.example", "550 Z", 550, "reputation", 3, recent),
	}}
	groups := func(keys ...Key) []*group {
		var gs []*group
		for _, k := range keys {
			gs = append(gs, &group{key: k})
		}
		return gs
	}
	a, b := Key{SourceIP: "192.0.2.1"}, Key{SourceIP: "192.0.2.2"}
	for _, tc := range []struct {
		name       string
		measure    Measure
		ip, domain bool
		groups     []*group
		want       map[Key]string
	}{
		{"blocks per IP", BlockRatio, true, false, groups(a, b), map[Key]string{a: "554 Y", b: "550 Z"}},
		{"deferrals per IP", DeferralRatio, true, false, groups(a, b), map[Key]string{a: "421 D", b: ""}},
		{"blocks per pair", Blocks, true, true,
			groups(Key{"192.0.2.1", "d1.example"}, Key{"192.0.2.2", "d2.example"}),
			map[Key]string{{"192.0.2.1", "d1.example"}: "550 X", {"192.0.2.2", "d2.example"}: "550 W"}},
		{"blocks per domain", Blocks, false, true,
			groups(Key{RecipientDomain: "d1.example"}, Key{RecipientDomain: "d2.example"}),
			map[Key]string{{RecipientDomain: "d1.example"}: "550 Z", {RecipientDomain: "d2.example"}: "550 W"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &Rule{Name: "R", Measure: tc.measure, BySourceIP: tc.ip, ByDomain: tc.domain, Window: 15 * time.Minute,
				Annotations: map[string]string{"summary": "{{with .TopReply}}{{.Response}}{{end}}"}}
			if err := r.Compile(); err != nil {
				t.Fatal(err)
			}
			tops, err := topReplies(now, r, tc.groups, src)
			if err != nil {
				t.Fatal(err)
			}
			got := map[Key]string{}
			for k, r := range tops {
				got[k] = ""
				if r != nil {
					got[k] = r.Response
				}
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

// "other" is many domains at once: a per-domain rule never names it, while
// a per-IP rule counts its attempts like any.
func TestOtherDomainIsNoDomain(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	counts := map[Key]Counts{
		{SourceIP: "192.0.2.25", RecipientDomain: "other"}:     {Attempts: 100, Blocks: 90},
		{SourceIP: "192.0.2.25", RecipientDomain: "a.example"}: {Attempts: 100, Blocks: 10},
	}
	byDomain := &Rule{Name: "ProofpointDomainBlocked", Measure: BlockRatio, BySourceIP: true, ByDomain: true, Window: time.Hour,
		Threshold: 0.5, MinAttempts: 10, Severity: "warning"}
	byIP := &Rule{Name: "ProofpointBlockRatioHigh", Measure: BlockRatio, BySourceIP: true, Window: time.Hour,
		Threshold: 0.4, MinAttempts: 10, Severity: "page"}
	for _, r := range []*Rule{byDomain, byIP} {
		if err := r.Compile(); err != nil {
			t.Fatal(err)
		}
	}
	res, err := (&Evaluator{Rules: []*Rule{byDomain, byIP}}).Eval(t0, source{counts: counts}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range res.Alerts.Sorted() {
		if a.State != Inactive {
			got = append(got, fmt.Sprintf("%s %s %s %.2f", a.Rule, a.Labels[LabelSourceIP], a.Labels[LabelRecipientDomain], a.Value))
		}
	}
	want := []string{"ProofpointBlockRatioHigh 192.0.2.25  0.50"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("alerts %q, want %q", got, want)
	}
}
