package agg

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/ppwatch/ppwatch/pkg/event"
)

var now = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

func TestWindowsByEventTime(t *testing.T) {
	a := New(Options{Windows: []time.Duration{5 * time.Minute, time.Hour}})
	pp := func(ago time.Duration, outcome string) Event {
		return Event{Time: now.Add(-ago), Series: Series{SourceIP: "192.0.2.25", RecipientDomain: "x.example", Status: "bounced", Class: "reputation", Proofpoint: true, Outcome: outcome}}
	}
	a.Add([]Event{
		pp(30*time.Second, event.OutcomeBlock),
		pp(4*time.Minute, event.OutcomeDeferral),
		pp(10*time.Minute, event.OutcomeBlock),
		pp(59*time.Minute, ""),
		pp(61*time.Minute, event.OutcomeBlock),                                                  // outside both windows
		pp(-2*time.Minute, event.OutcomeBlock),                                                  // in the future: in no window yet
		{Time: now, Series: Series{SourceIP: "192.0.2.25", Status: "delivered", Class: "none"}}, // not Proofpoint
	})
	got := a.Snapshot(now).Windows
	want := []Window{
		{SourceIP: "192.0.2.25", Window: 5 * time.Minute, Attempts: 2, Blocks: 1, Deferrals: 1},
		{SourceIP: "192.0.2.25", Window: time.Hour, Attempts: 4, Blocks: 2, Deferrals: 1},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Error(d)
	}
	// The future block becomes visible when its minute comes.
	if got := a.Snapshot(now.Add(3 * time.Minute)).Windows[0]; got.Attempts != 2 || got.Blocks != 2 || got.Deferrals != 0 {
		t.Errorf("later: %+v", got)
	}
	if lb := a.Snapshot(now).LastBlock["192.0.2.25"]; !lb.Equal(now.Add(2 * time.Minute)) {
		t.Errorf("last block %v", lb)
	}
}

// A minute older than the ring reaches never overwrites a newer one.
func TestRingKeepsNewer(t *testing.T) {
	r := &ring{slots: make([]slot, 60)}
	r.add(1000, 1, 1, 0)
	r.add(940, 5, 5, 0) // same slot, 60 minutes older
	if n, b, _ := r.sum(1000, 60); n != 1 || b != 1 {
		t.Errorf("sum %d %d", n, b)
	}
	r.add(1060, 2, 0, 2) // same slot, newer: replaces
	if n, _, d := r.sum(1060, 60); n != 2 || d != 2 {
		t.Errorf("sum %d %d", n, d)
	}
}

// No window is reported for an IP without Proofpoint attempts in it.
func TestNoWindowWithoutAttempts(t *testing.T) {
	a := New(Options{Windows: []time.Duration{5 * time.Minute}})
	a.AddMinute("192.0.2.25", now.Add(-time.Hour).Unix()/60, 3, 3, 0)
	if w := a.Snapshot(now).Windows; len(w) != 0 {
		t.Errorf("windows %+v", w)
	}
}

// Between refolds the folded counts follow every Add; the top set is chosen
// again after refold. A top that is not full takes new domains at once.
func TestFoldedCountsStayExact(t *testing.T) {
	a := New(Options{Top: 1, Windows: []time.Duration{time.Hour}})
	add := func(domain string, n int) {
		for i := 0; i < n; i++ {
			a.Add([]Event{{Time: now, Series: Series{SourceIP: "192.0.2.25", RecipientDomain: domain, Status: "bounced", Class: "reputation", Proofpoint: true, Outcome: event.OutcomeBlock}}})
		}
	}
	pp := func(s *Snapshot) map[string]uint64 {
		m := map[string]uint64{}
		for _, p := range s.PPAttempts {
			m[p.RecipientDomain] += p.N
		}
		return m
	}
	if s := a.Snapshot(now); len(s.PPAttempts) != 0 { // folds while empty
		t.Fatal(s.PPAttempts)
	}
	add("a.example", 2)
	add("b.example", 1)
	if d := cmp.Diff(map[string]uint64{"a.example": 2, Other: 1}, pp(a.Snapshot(now))); d != "" {
		t.Error(d)
	}
	add("b.example", 5) // b now leads, but the top is kept until the next refold
	add("c.example", 1)
	if d := cmp.Diff(map[string]uint64{"a.example": 2, Other: 7}, pp(a.Snapshot(now.Add(time.Second)))); d != "" {
		t.Error(d)
	}
	if d := cmp.Diff(map[string]uint64{"b.example": 6, Other: 3}, pp(a.Snapshot(now.Add(refold)))); d != "" {
		t.Error(d)
	}
}
