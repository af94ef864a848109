package alert

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// An alert's saved state reads back whole, and state written by earlier
// versions (the store's own Alert type, these very bytes) still loads.
func TestStoredState(t *testing.T) {
	old := `{"rule":"ProofpointBlockRatioHigh","labels":{"alertname":"ProofpointBlockRatioHigh","severity":"page","source_ip":"192.0.2.25"},` +
		`"annotations":{"summary":"192.0.2.25: 7.3% blocked"},"state":"firing","value":0.073,"attempts":41,"blocks":3,"deferrals":0,` +
		`"active_at":"2026-11-22T10:00:00Z","fired_at":"2026-11-22T10:05:00Z","last_sent_at":"2026-11-22T10:06:00Z",` +
		`"valid_until":"2026-11-22T10:10:00Z","generator_url":"http://h:9797/ip/192.0.2.25"}`
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	want := Alert{Rule: "ProofpointBlockRatioHigh",
		Labels:      map[string]string{"alertname": "ProofpointBlockRatioHigh", "severity": "page", "source_ip": "192.0.2.25"},
		Annotations: map[string]string{"summary": "192.0.2.25: 7.3% blocked"},
		State:       Firing, Value: 0.073, Counts: Counts{Attempts: 41, Blocks: 3}, ActiveAt: t0, FiredAt: t0.Add(5 * time.Minute),
		LastSentAt: t0.Add(6 * time.Minute), ValidUntil: t0.Add(10 * time.Minute), GeneratorURL: "http://h:9797/ip/192.0.2.25"}
	var got Alert
	if err := json.Unmarshal([]byte(old), &got); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("earlier state (-want +got):\n%s", d)
	}
	b, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != old {
		t.Errorf("written\n %s\nwant the earlier bytes\n %s", b, old)
	}
}
