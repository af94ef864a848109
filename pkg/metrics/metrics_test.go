package metrics

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ppwatch/ppwatch/pkg/agg"
	"github.com/ppwatch/ppwatch/pkg/event"
)

var now = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

func window(d time.Duration) string {
	if d%time.Hour == 0 {
		return fmt.Sprintf("%dh", d/time.Hour)
	}
	return fmt.Sprintf("%dm", d/time.Minute)
}

func ev(ago time.Duration, ip, domain, status, class string, pp, block, deferral bool) agg.Event {
	out := ""
	if block {
		out = event.OutcomeBlock
	} else if deferral {
		out = event.OutcomeDeferral
	}
	return agg.Event{Time: now.Add(-ago),
		Series: agg.Series{MTA: "postfix", SourceIP: ip, RecipientDomain: domain, Status: status, Class: class, Proofpoint: pp, Outcome: out}}
}

func TestCollector(t *testing.T) {
	a := agg.New(agg.Options{Top: 1, Always: []string{"always.example"}, Windows: []time.Duration{5 * time.Minute, time.Hour}})
	a.Add([]agg.Event{
		ev(time.Minute, "192.0.2.25", "big.example", "bounced", "reputation", true, true, false),
		ev(2*time.Minute, "192.0.2.25", "big.example", "bounced", "reputation", true, true, false),
		ev(3*time.Minute, "192.0.2.25", "big.example", "delivered", "none", true, false, false),
		ev(30*time.Minute, "192.0.2.25", "small.example", "deferred", "reputation", true, false, true),
		ev(40*time.Minute, "192.0.2.25", "always.example", "delivered", "none", true, false, false),
		ev(50*time.Minute, "192.0.2.25", "tiny.example", "delivered", "none", true, false, false),
		ev(time.Minute, "", "", "delivered", "none", false, false, false),
		ev(2*time.Hour, "198.51.100.7", "big.example", "deferred", "rate_limit", true, false, true),
	})
	c := NewCollector(a, func() time.Time { return now }, window)
	want := `
# HELP ppwatch_attempts_total Delivery attempts by MTA, sending IP, status, class and whether the receiver is Proofpoint.
# TYPE ppwatch_attempts_total counter
ppwatch_attempts_total{class="none",mta="postfix",proofpoint="false",source_ip="unknown",status="delivered"} 1
ppwatch_attempts_total{class="none",mta="postfix",proofpoint="true",source_ip="192.0.2.25",status="delivered"} 3
ppwatch_attempts_total{class="rate_limit",mta="postfix",proofpoint="true",source_ip="198.51.100.7",status="deferred"} 1
ppwatch_attempts_total{class="reputation",mta="postfix",proofpoint="true",source_ip="192.0.2.25",status="bounced"} 2
ppwatch_attempts_total{class="reputation",mta="postfix",proofpoint="true",source_ip="192.0.2.25",status="deferred"} 1
# HELP ppwatch_proofpoint_attempts_total Delivery attempts to Proofpoint receivers by sending IP, recipient domain (top N, others as "other"), status and class.
# TYPE ppwatch_proofpoint_attempts_total counter
ppwatch_proofpoint_attempts_total{class="none",recipient_domain="always.example",source_ip="192.0.2.25",status="delivered"} 1
ppwatch_proofpoint_attempts_total{class="none",recipient_domain="big.example",source_ip="192.0.2.25",status="delivered"} 1
ppwatch_proofpoint_attempts_total{class="none",recipient_domain="other",source_ip="192.0.2.25",status="delivered"} 1
ppwatch_proofpoint_attempts_total{class="rate_limit",recipient_domain="big.example",source_ip="198.51.100.7",status="deferred"} 1
ppwatch_proofpoint_attempts_total{class="reputation",recipient_domain="big.example",source_ip="192.0.2.25",status="bounced"} 2
ppwatch_proofpoint_attempts_total{class="reputation",recipient_domain="other",source_ip="192.0.2.25",status="deferred"} 1
# HELP ppwatch_proofpoint_block_ratio Blocks divided by Proofpoint attempts of the sending IP in the window, by event time.
# TYPE ppwatch_proofpoint_block_ratio gauge
ppwatch_proofpoint_block_ratio{source_ip="192.0.2.25",window="1h"} 0.3333333333333333
ppwatch_proofpoint_block_ratio{source_ip="192.0.2.25",window="5m"} 0.6666666666666666
# HELP ppwatch_proofpoint_blocks_total Proofpoint attempts that were blocks (5xx, class not recipient) by sending IP, recipient domain (as in ppwatch_proofpoint_attempts_total) and class.
# TYPE ppwatch_proofpoint_blocks_total counter
ppwatch_proofpoint_blocks_total{class="reputation",recipient_domain="big.example",source_ip="192.0.2.25"} 2
# HELP ppwatch_proofpoint_deferral_ratio Deferrals divided by Proofpoint attempts of the sending IP in the window, by event time.
# TYPE ppwatch_proofpoint_deferral_ratio gauge
ppwatch_proofpoint_deferral_ratio{source_ip="192.0.2.25",window="1h"} 0.16666666666666666
ppwatch_proofpoint_deferral_ratio{source_ip="192.0.2.25",window="5m"} 0
# HELP ppwatch_proofpoint_deferrals_total Proofpoint attempts that were deferrals (4xx) by sending IP, recipient domain (as in ppwatch_proofpoint_attempts_total) and class.
# TYPE ppwatch_proofpoint_deferrals_total counter
ppwatch_proofpoint_deferrals_total{class="rate_limit",recipient_domain="big.example",source_ip="198.51.100.7"} 1
ppwatch_proofpoint_deferrals_total{class="reputation",recipient_domain="other",source_ip="192.0.2.25"} 1
# HELP ppwatch_proofpoint_last_block_timestamp_seconds Event time of the latest Proofpoint block of the sending IP.
# TYPE ppwatch_proofpoint_last_block_timestamp_seconds gauge
ppwatch_proofpoint_last_block_timestamp_seconds{source_ip="192.0.2.25"} 1.79534874e+09
# HELP ppwatch_proofpoint_window_attempts Proofpoint attempts of the sending IP in the window, by event time (the ratios' denominator).
# TYPE ppwatch_proofpoint_window_attempts gauge
ppwatch_proofpoint_window_attempts{source_ip="192.0.2.25",window="1h"} 6
ppwatch_proofpoint_window_attempts{source_ip="192.0.2.25",window="5m"} 3
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	if probs, err := testutil.CollectAndLint(c); err != nil || len(probs) > 0 {
		t.Errorf("lint: %v %v", err, probs)
	}
}

// 100,000 recipient domains never make more than Top+always+1 series per
// (ip, status, class).
func TestCardinalityBound(t *testing.T) {
	a := agg.New(agg.Options{Top: 50, Always: []string{"keep.example"}, Windows: []time.Duration{time.Hour}})
	var evs []agg.Event
	for i := 0; i < 100000; i++ {
		evs = append(evs, ev(time.Minute, "192.0.2.25", fmt.Sprintf("d%d.example", i), "bounced", "reputation", true, true, false))
	}
	evs = append(evs, ev(time.Minute, "192.0.2.25", "keep.example", "bounced", "reputation", true, true, false))
	a.Add(evs)
	c := NewCollector(a, func() time.Time { return now }, window)
	if n := testutil.CollectAndCount(c, "ppwatch_proofpoint_attempts_total"); n != 50+1+1 {
		t.Errorf("%d series, want 52", n)
	}
	if n := testutil.CollectAndCount(c, "ppwatch_proofpoint_blocks_total"); n != 50+1+1 {
		t.Errorf("%d block series, want 52", n)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	if _, err := reg.Gather(); err != nil {
		t.Error(err)
	}
}

func TestSelfLint(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	s := NewSelf(reg)
	s.Lines.WithLabelValues("/var/log/mail.log", "parsed").Add(3)
	if probs, err := testutil.GatherAndLint(reg); err != nil || len(probs) > 0 {
		t.Errorf("lint: %v %v", err, probs)
	}
	if got := testutil.ToFloat64(s.Lines.WithLabelValues("/var/log/mail.log", "parsed")); got != 3 {
		t.Errorf("lines %v", got)
	}
}

func TestWebInfo(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	url := ""
	RegisterWebInfo(reg, func() string { return url })
	if n, err := testutil.GatherAndCount(reg, "ppwatch_web_info"); err != nil || n != 0 {
		t.Errorf("without a URL: %d series, %v", n, err)
	}
	url = "https://mta1.example.net/ppwatch"
	want := `# HELP ppwatch_web_info The URL people reach the daemon at (external_url); the value is 1.
# TYPE ppwatch_web_info gauge
ppwatch_web_info{external_url="https://mta1.example.net/ppwatch"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "ppwatch_web_info"); err != nil {
		t.Error(err)
	}
	if probs, err := testutil.GatherAndLint(reg); err != nil || len(probs) > 0 {
		t.Errorf("lint: %v %v", err, probs)
	}
}

func BenchmarkCollect100kDomains(b *testing.B) {
	a := agg.New(agg.Options{Top: 50, Windows: []time.Duration{5 * time.Minute, time.Hour, 24 * time.Hour}})
	var evs []agg.Event
	for i := 0; i < 100000; i++ {
		evs = append(evs, ev(time.Duration(i%1440)*time.Minute, fmt.Sprintf("192.0.2.%d", i%4), fmt.Sprintf("d%d.example", i), "bounced", "reputation", true, true, false))
	}
	a.Add(evs)
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector(a, func() time.Time { return now }, window))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := reg.Gather(); err != nil {
			b.Fatal(err)
		}
	}
}

// The attempts the state file folded into "other": loaded totals plus the
// folded events committed since, per IP.
func TestFoldedCounter(t *testing.T) {
	a := agg.New(agg.Options{Top: 5, Windows: []time.Duration{time.Hour}})
	a.AddFolded("192.0.2.25", 41)
	folded := ev(time.Minute, "192.0.2.25", agg.Other, "bounced", "reputation", true, true, false)
	folded.Folded = true
	unknown := ev(time.Minute, "", agg.Other, "delivered", "none", true, false, false)
	unknown.Folded = true
	a.Add([]agg.Event{folded, unknown, ev(time.Minute, "192.0.2.25", "kept.example", "delivered", "none", true, false, false)})
	c := NewCollector(a, func() time.Time { return now }, window)
	want := `
# HELP ppwatch_proofpoint_domains_folded_total Proofpoint attempts of the sending IP that the state file counts under recipient_domain "other" because the IP, or the file, had reached its bound of recipient domains kept by name (domains.stored_per_ip, domains.stored_total).
# TYPE ppwatch_proofpoint_domains_folded_total counter
ppwatch_proofpoint_domains_folded_total{source_ip="192.0.2.25"} 42
ppwatch_proofpoint_domains_folded_total{source_ip="unknown"} 1
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "ppwatch_proofpoint_domains_folded_total"); err != nil {
		t.Error(err)
	}
	if probs, err := testutil.CollectAndLint(c); err != nil || len(probs) > 0 {
		t.Errorf("lint: %v %v", err, probs)
	}
}
