package store

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The alert state is kept as given, whole: a save replaces what was saved.
func TestAlertsRoundTrip(t *testing.T) {
	s := newTestStore(t)
	if got, err := s.LoadAlerts(); err != nil || got != nil {
		t.Fatalf("before any save: %v, %v", got, err)
	}
	firing := []byte(`{"rule":"ProofpointBlockRatioHigh","state":"firing"}`)
	pending := []byte(`{"rule":"ProofpointDeferralRatioHigh","state":"pending"}`)
	long := make([]byte, 40000) // a key over bbolt's bound is the caller's affair, not the store's
	for i := range long {
		long[i] = 'k'
	}
	// Loads come back in the order of the caller's keys.
	if err := s.SaveAlerts(map[string][]byte{"b": pending, "a": firing, string(long): []byte("x")}); err != nil {
		t.Fatal(err)
	}
	s = reopen(t, s)
	got, err := s.LoadAlerts()
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([][]byte{firing, pending, []byte("x")}, got); d != "" {
		t.Errorf("after reopen (-want +got):\n%s", d)
	}
	if err := s.SaveAlerts(map[string][]byte{"b": pending}); err != nil {
		t.Fatal(err)
	}
	s = reopen(t, s)
	if got, err = s.LoadAlerts(); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([][]byte{pending}, got); d != "" {
		t.Error(d)
	}
	if err := s.SaveAlerts(nil); err != nil {
		t.Fatal(err)
	}
	if got, err = s.LoadAlerts(); err != nil || len(got) != 0 {
		t.Errorf("after saving none: %v, %v", got, err)
	}
}
