package store

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestAlertsRoundTrip(t *testing.T) {
	s := newTestStore(t)
	if got, err := s.LoadAlerts(); err != nil || got != nil {
		t.Fatalf("before any save: %v, %v", got, err)
	}
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	firing := Alert{Rule: "ProofpointBlockRatioHigh",
		Labels:      map[string]string{"alertname": "ProofpointBlockRatioHigh", "severity": "page", "source_ip": "192.0.2.25"},
		Annotations: map[string]string{"summary": "192.0.2.25: 7.3% blocked"},
		State:       "firing", Value: 0.073, Attempts: 41, Blocks: 3, ActiveAt: t0, FiredAt: t0.Add(5 * time.Minute),
		LastSentAt: t0.Add(6 * time.Minute), ValidUntil: t0.Add(10 * time.Minute), Generator: "http://h:9797/ip/192.0.2.25"}
	pending := Alert{Rule: "ProofpointDeferralRatioHigh",
		Labels: map[string]string{"alertname": "ProofpointDeferralRatioHigh", "severity": "warning", "source_ip": "192.0.2.25"},
		State:  "pending", Value: 0.5, Attempts: 20, Deferrals: 10, ActiveAt: t0.Add(time.Minute)}
	// Saved in reverse key order: loads come back in key order.
	if err := s.SaveAlerts([]Alert{pending, firing}); err != nil {
		t.Fatal(err)
	}
	s = reopen(t, s)
	got, err := s.LoadAlerts()
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]Alert{firing, pending}, got); d != "" {
		t.Errorf("after reopen (-want +got):\n%s", d)
	}

	// A save replaces the state: the resolved and removed are gone.
	if err := s.SaveAlerts([]Alert{pending}); err != nil {
		t.Fatal(err)
	}
	s = reopen(t, s)
	if got, err = s.LoadAlerts(); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]Alert{pending}, got); d != "" {
		t.Error(d)
	}
	if err := s.SaveAlerts(nil); err != nil {
		t.Fatal(err)
	}
	if got, err = s.LoadAlerts(); err != nil || len(got) != 0 {
		t.Errorf("after saving none: %v, %v", got, err)
	}
}

// Two instances that differ only in a label value are two keys.
func TestAlertKeysDistinct(t *testing.T) {
	a := Alert{Rule: "R", Labels: map[string]string{"source_ip": "192.0.2.1", "recipient_domain": "a.example"}}
	b := Alert{Rule: "R", Labels: map[string]string{"source_ip": "192.0.2.1", "recipient_domain": "b.example"}}
	c := Alert{Rule: "R", Labels: map[string]string{"recipient_domain": "a.example", "source_ip": "192.0.2.1"}}
	if string(alertKey(&a)) == string(alertKey(&b)) || string(alertKey(&a)) != string(alertKey(&c)) {
		t.Errorf("keys %q %q %q", alertKey(&a), alertKey(&b), alertKey(&c))
	}
}
