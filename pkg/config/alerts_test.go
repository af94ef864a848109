package config

import (
	"maps"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestAlertsDefaults(t *testing.T) {
	c, err := Parse([]byte("listen: \":9797\"\n"), "x.yml")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(DefaultAlerts(), c.Alerts); d != "" {
		t.Error(d)
	}
	want := Alerting{EvalInterval: Duration(15 * time.Second), ResendInterval: Duration(time.Minute)}
	if d := cmp.Diff(want, c.Alerting); d != "" {
		t.Error(d)
	}
	if c.ExternalURL != "" {
		t.Errorf("external_url %q", c.ExternalURL)
	}
	if d := cmp.Diff(DefaultAlerts(), Default().Alerts); d != "" {
		t.Errorf("Default(): %s", d)
	}

	// The shipped rules, as agreed with the Prometheus rule file.
	rules := DefaultAlerts()
	type shape struct {
		Name, Measure, By, Window, For, Severity string
		Threshold                                float64
		MinAttempts                              int
	}
	var shapes []shape
	for _, r := range rules {
		shapes = append(shapes, shape{r.Name, r.Measure, r.By, r.Window.String(), r.For.String(), r.Severity, r.Threshold, r.MinAttempts})
	}
	if d := cmp.Diff([]shape{
		{"ProofpointBlockRatioHigh", "block_ratio", "source_ip", "15m", "5m", "page", 0.05, 20},
		{"ProofpointDeferralRatioHigh", "deferral_ratio", "source_ip", "30m", "10m", "warning", 0.2, 20},
		{"ProofpointDomainBlocked", "block_ratio", "source_ip,recipient_domain", "1h", "10m", "warning", 0.5, 10},
	}, shapes); d != "" {
		t.Error(d)
	}
	for _, r := range rules {
		for n, text := range r.Annotations {
			if err := ParseTemplate(n, text); err != nil {
				t.Errorf("%s %s: %v", r.Name, n, err)
			}
		}
	}
}

// alerts: [] or an empty alerts: key turn the daemon's alerts off.
func TestAlertsOff(t *testing.T) {
	for _, doc := range []string{"alerts: []\n", "alerts:\n"} {
		c, err := Parse([]byte(doc), "x.yml")
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Alerts) != 0 {
			t.Errorf("%q: %d rules", doc, len(c.Alerts))
		}
	}
}

func TestAlertsParse(t *testing.T) {
	doc := `external_url: http://mta1.example.net:9797/
alerting:
  resend_interval: 2m
  external_labels: {instance: mta1.example.net:9797, region: eu}
  runbook_url: https://wiki.example.net/ppwatch/runbook
  alertmanagers:
    - url: https://am.example.net/prefix
      timeout: 5s
      bearer_token_file: /etc/ppwatch/token
      tls_config: {ca_file: /etc/ppwatch/ca.pem, server_name: am, insecure_skip_verify: false}
  webhooks:
    - url: https://hooks.example.net/ppwatch
      basic_auth: {username: u, password_file: /etc/ppwatch/pw}
alerts:
  - name: Blocks
    measure: blocks
    by: recipient_domain, source_ip
    window: 1h
    threshold: 0
    labels: {team: mail}
  - name: Ratio
    measure: deferral_ratio
    window: 30m
    threshold: 0.3
    for: 0s
    annotations:
      summary: "{{.SourceIP}} {{percent .Ratio}}"
`
	c, err := Parse([]byte(doc), "x.yml")
	if err != nil {
		t.Fatal(err)
	}
	if c.ExternalURL != "http://mta1.example.net:9797" {
		t.Errorf("external_url %q", c.ExternalURL)
	}
	want := Alerting{
		EvalInterval: Duration(15 * time.Second), ResendInterval: Duration(2 * time.Minute),
		ExternalLabels: map[string]string{"instance": "mta1.example.net:9797", "region": "eu"},
		RunbookURL:     "https://wiki.example.net/ppwatch/runbook",
		Alertmanagers: []AlertTarget{{URL: "https://am.example.net/prefix", Timeout: Duration(5 * time.Second), BearerTokenFile: "/etc/ppwatch/token",
			TLSConfig: TLSConfig{CAFile: "/etc/ppwatch/ca.pem", ServerName: "am"}}},
		Webhooks: []AlertTarget{{URL: "https://hooks.example.net/ppwatch", BasicAuth: &BasicAuth{Username: "u", PasswordFile: "/etc/ppwatch/pw"}}},
	}
	if d := cmp.Diff(want, c.Alerting); d != "" {
		t.Error(d)
	}
	// Unset keys take the rule defaults: by source_ip, severity warning,
	// min_attempts 20 for a ratio and 0 for a count.
	rules := []AlertRule{
		{Name: "Blocks", Measure: "blocks", By: "source_ip,recipient_domain", Window: Duration(time.Hour), Severity: "warning",
			Labels: map[string]string{"team": "mail"}},
		{Name: "Ratio", Measure: "deferral_ratio", By: "source_ip", Window: Duration(30 * time.Minute), Threshold: 0.3, MinAttempts: 20,
			Severity: "warning", Annotations: map[string]string{"summary": "{{.SourceIP}} {{percent .Ratio}}"}},
	}
	// Rules of the user's get the default summary and description of their
	// measure and grouping where they give none (their exact text is
	// tested where it is rendered, in pkg/app); the runbook link is the
	// evaluator's.
	for i := range rules {
		r := &rules[i]
		given := r.Annotations
		r.Annotations = defaultAnnotations(*r)
		maps.Copy(r.Annotations, given)
	}
	if d := cmp.Diff(rules, c.Alerts); d != "" {
		t.Error(d)
	}
	if !c.Alerts[0].BySourceIP() || !c.Alerts[0].ByDomain() || !c.Alerts[1].BySourceIP() || c.Alerts[1].ByDomain() {
		t.Error("grouping")
	}
}

// Each alerts-bad-*.yml has one exact error: file, line, field and what to do.
func TestAlertsBadConfigs(t *testing.T) {
	want := map[string]string{
		"alerts-bad-auth.yml":             `testdata/alerts-bad-auth.yml:5: alerting.webhooks[0].basic_auth: give password or password_file, not both`,
		"alerts-bad-by.yml":               `testdata/alerts-bad-by.yml:4: alerts[0].by: unknown grouping "instance" (use source_ip, "source_ip,recipient_domain" or recipient_domain)`,
		"alerts-bad-duplicate.yml":        `testdata/alerts-bad-duplicate.yml:6: alerts[1].name: "A" is used by an earlier rule`,
		"alerts-bad-external-url.yml":     `testdata/alerts-bad-external-url.yml:1: external_url: "mta1.example.net:9797" is not an http or https URL (give the daemon's URL as users reach it, e.g. http://mta1.example.net:9797)`,
		"alerts-bad-external-labels.yml":  `testdata/alerts-bad-external-labels.yml:3: alerting.external_labels: "source_ip" is set by each alert itself (alertname, severity, source_ip, recipient_domain)`,
		"alerts-bad-runbook-url.yml":      `testdata/alerts-bad-runbook-url.yml:3: alerting.runbook_url: "wiki.example.net/ppwatch" is not an http or https URL (leave it out for the runbook the daemon serves at /runbook)`,
		"alerts-bad-runbook-fragment.yml": `testdata/alerts-bad-runbook-fragment.yml:2: alerting.runbook_url: "https://wiki.example.net/ppwatch#alerts" has a #fragment: each alert adds its own section's (give the runbook's URL without it)`,
		"alerts-bad-interval.yml":         `testdata/alerts-bad-interval.yml:2: alerting.eval_interval: 0s is outside 10ms..10m`,
		"alerts-bad-key.yml":              `testdata/alerts-bad-key.yml:2: unknown key "alertmanager" in alerting (known keys: alertmanagers, eval_interval, external_labels, resend_interval, runbook_url, webhooks)`,
		"alerts-bad-label.yml":            `testdata/alerts-bad-label.yml:7: alerts[0].labels: "source_ip" is set by ppwatch itself (alertname, severity, source_ip, recipient_domain)`,
		"alerts-bad-measure.yml":          `testdata/alerts-bad-measure.yml:3: alerts[0].measure: unknown measure "block_rate" (use block_ratio, deferral_ratio, blocks or deferrals)`,
		"alerts-bad-min-attempts.yml":     `testdata/alerts-bad-min-attempts.yml:6: alerts[0].min_attempts: -1 is negative`,
		"alerts-bad-missing.yml":          "testdata/alerts-bad-missing.yml:2: alerts[0]: name is missing (name the alert, e.g. name: ProofpointBlockRatioHigh)\ntestdata/alerts-bad-missing.yml:2: alerts[0]: window is missing (e.g. window: 15m)",
		"alerts-bad-name.yml":             `testdata/alerts-bad-name.yml:2: alerts[0].name: "Block ratio high": use letters, digits and '_', starting with a letter`,
		"alerts-bad-no-threshold.yml":     `testdata/alerts-bad-no-threshold.yml:2: alerts[0]: threshold is missing (the alert fires when the measure is above it, e.g. threshold: 0.05)`,
		"alerts-bad-ratio.yml":            `testdata/alerts-bad-ratio.yml:5: alerts[0].threshold: 5: a ratio is at most 1 (write 5% as 0.05)`,
		"alerts-bad-severity.yml":         `testdata/alerts-bad-severity.yml:6: alerts[0].severity: unknown severity "critical" (use page or warning)`,
		"alerts-bad-template.yml":         `testdata/alerts-bad-template.yml:7: alerts[0].annotations: template: description:1: function "percnt" not defined`,
		"alerts-bad-threshold.yml":        `testdata/alerts-bad-threshold.yml:5: alerts[0].threshold: -1 is negative`,
		"alerts-bad-tls.yml":              `testdata/alerts-bad-tls.yml:5: alerting.alertmanagers[0].tls_config: give both cert_file and key_file, or neither`,
		"alerts-bad-url.yml":              `testdata/alerts-bad-url.yml:4: alerting.alertmanagers[1].url: "127.0.0.1:9093" is not an http or https URL`,
		"alerts-bad-window-retention.yml": `testdata/alerts-bad-window-retention.yml:5: alerts[0].window: 192h is longer than retention 168h (the store has no older counts)`,
		"alerts-bad-window.yml":           `testdata/alerts-bad-window.yml:4: alerts[0].window: 1m30s: windows are whole minutes, at least 1m`,
	}
	files, _ := filepath.Glob("testdata/alerts-bad-*.yml")
	if len(files) != len(want) {
		t.Errorf("%d bad files, %d expectations", len(files), len(want))
	}
	for _, f := range files {
		_, err := Load(f)
		if err == nil {
			t.Errorf("%s: loaded", f)
			continue
		}
		if got := err.Error(); got != want[filepath.Base(f)] {
			t.Errorf("%s:\n got %s\nwant %s", f, got, want[filepath.Base(f)])
		}
	}
}
