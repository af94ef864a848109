package alerting

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"github.com/ppwatch/ppwatch/pkg/alert"
	"github.com/ppwatch/ppwatch/pkg/config"
	"github.com/ppwatch/ppwatch/pkg/store"
)

func TestAlertMetricsLint(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "ppwatch.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	reg := prometheus.NewRegistry()
	al, err := New(zerolog.New(zerolog.NewTestWriter(t)), st, time.Now, reg, config.Default())
	if err != nil {
		t.Fatal(err)
	}
	defer al.Stop()
	al.alerts = alert.Alerts{
		"a": {Rule: "R", State: alert.Firing, Labels: map[string]string{"alertname": "R", "severity": "page", "source_ip": "192.0.2.1"}},
		"b": {Rule: "S", State: alert.Pending, Labels: map[string]string{"alertname": "S", "severity": "warning", "source_ip": "192.0.2.1", "recipient_domain": "a.example"}},
		"c": {Rule: "R", State: alert.Inactive, ResolvedAt: time.Now(), Labels: map[string]string{"alertname": "R", "severity": "page", "source_ip": "192.0.2.2"}},
	}
	problems, err := testutil.CollectAndLint(al)
	if err != nil || len(problems) != 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
	want := `# HELP ppwatch_alert_firing 1 while the daemon's alert is firing.
# TYPE ppwatch_alert_firing gauge
ppwatch_alert_firing{alertname="R",recipient_domain="",severity="page",source_ip="192.0.2.1"} 1
# HELP ppwatch_alert_pending 1 while the daemon's alert is pending (its condition holds, for less than its "for").
# TYPE ppwatch_alert_pending gauge
ppwatch_alert_pending{alertname="S",recipient_domain="a.example",severity="warning",source_ip="192.0.2.1"} 1
# HELP ppwatch_alert_rules Alert rules the daemon evaluates.
# TYPE ppwatch_alert_rules gauge
ppwatch_alert_rules 3
`
	if err := testutil.CollectAndCompare(al, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	for _, name := range []string{"ppwatch_alert_evaluations_total", "ppwatch_alert_evaluation_failures_total", "ppwatch_alert_evaluation_duration_seconds", "ppwatch_alert_instances_dropped_total"} {
		if problems, err := testutil.GatherAndLint(reg, name); err != nil || len(problems) != 0 {
			t.Errorf("%s: %v %v", name, problems, err)
		}
	}
}
