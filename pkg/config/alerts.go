package config

import (
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"text/template"
	"time"

	"github.com/ppwatch/ppwatch/pkg/alert"
)

// Alerting is where and how often the daemon's alerts go.
type Alerting struct {
	EvalInterval   Duration      `yaml:"eval_interval"`
	ResendInterval Duration      `yaml:"resend_interval"`
	Alertmanagers  []AlertTarget `yaml:"alertmanagers"`
	Webhooks       []AlertTarget `yaml:"webhooks"`
	// ExternalLabels are added to every alert sent, as Prometheus'
	// global.external_labels; instance defaults to the host and port of
	// external_url.
	ExternalLabels map[string]string `yaml:"external_labels"`
	// RunbookURL is the runbook the alerts link to, each at its section;
	// "" is the copy the daemon serves at <external_url>/runbook.
	RunbookURL string `yaml:"runbook_url"`
}

// AlertTarget is one Alertmanager (URL is its base; /api/v2/alerts is
// appended) or webhook (URL as is).
type AlertTarget struct {
	URL             string     `yaml:"url"`
	Timeout         Duration   `yaml:"timeout"`
	BasicAuth       *BasicAuth `yaml:"basic_auth"`
	BearerToken     string     `yaml:"bearer_token"`
	BearerTokenFile string     `yaml:"bearer_token_file"`
	TLSConfig       TLSConfig  `yaml:"tls_config"`
}

// BasicAuth is HTTP basic auth; PasswordFile is read at each send.
type BasicAuth struct {
	Username     string `yaml:"username"`
	Password     string `yaml:"password"`
	PasswordFile string `yaml:"password_file"`
}

// TLSConfig is the client side of TLS to a target.
type TLSConfig struct {
	CAFile             string `yaml:"ca_file"`
	CertFile           string `yaml:"cert_file"`
	KeyFile            string `yaml:"key_file"`
	ServerName         string `yaml:"server_name"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

// AlertRule is one threshold rule of the daemon.
type AlertRule struct {
	Name        string            `yaml:"name"`
	Measure     string            `yaml:"measure"` // block_ratio, deferral_ratio, blocks, deferrals
	By          string            `yaml:"by"`      // source_ip (default), "source_ip,recipient_domain", recipient_domain
	Window      Duration          `yaml:"window"`
	Threshold   float64           `yaml:"threshold"` // fires when the measure is above it
	MinAttempts int               `yaml:"min_attempts"`
	For         Duration          `yaml:"for"`
	Severity    string            `yaml:"severity"` // page or warning (default)
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"` // Go templates
}

// BySourceIP reports whether the rule groups by sending IP.
func (r AlertRule) BySourceIP() bool { return slices.Contains(byParts(r.By), "source_ip") }

// ByDomain reports whether the rule groups by recipient domain.
func (r AlertRule) ByDomain() bool { return slices.Contains(byParts(r.By), "recipient_domain") }

func byParts(by string) []string {
	parts := strings.Split(by, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

// Defaults of the alerting keys.
const (
	DefaultEvalInterval   = 15 * time.Second
	DefaultResendInterval = time.Minute
)

// Shipped default rules: the Prometheus rule file in configs/prometheus has
// the same alert names and severities.
const (
	blockSummary = `Proofpoint blocks {{percent .Ratio}} of mail from {{.SourceIP}} ({{.Blocks}} of {{.Attempts}} attempts in {{.Window}})`
	blockDescr   = `{{.Blocks}} of {{.Attempts}} delivery attempts from {{.SourceIP}} to Proofpoint-protected receivers were blocked in the last {{.Window}} ({{percent .Ratio}}; the threshold is {{percent .Threshold}}).
Top recipient domains (blocks/attempts): {{range $i, $d := .TopDomains}}{{if $i}}, {{end}}{{$d.Domain}} {{$d.Blocks}}/{{$d.Attempts}}{{end}}.
{{with .TopReply}}Most frequent reply (class {{.Class}}, {{.Count}} times, first seen {{utc .FirstSeen}}, last seen {{utc .LastSeen}}):
{{.Response}}
{{end}}Report: {{.ReportURL}}
Runbook: {{.RunbookURL}}`
	deferralSummary = `Proofpoint defers {{percent .Ratio}} of mail from {{.SourceIP}} ({{.Deferrals}} of {{.Attempts}} attempts in {{.Window}})`
	deferralDescr   = `{{.Deferrals}} of {{.Attempts}} delivery attempts from {{.SourceIP}} to Proofpoint-protected receivers were deferred in the last {{.Window}} ({{percent .Ratio}}; the threshold is {{percent .Threshold}}). Deferrals often come before blocks.
Top recipient domains (deferrals/attempts): {{range $i, $d := .TopDomains}}{{if $i}}, {{end}}{{$d.Domain}} {{$d.Deferrals}}/{{$d.Attempts}}{{end}}.
{{with .TopReply}}Most frequent reply (class {{.Class}}, {{.Count}} times, first seen {{utc .FirstSeen}}, last seen {{utc .LastSeen}}):
{{.Response}}
{{end}}Report: {{.ReportURL}}
Runbook: {{.RunbookURL}}`
	domainSummary = `Proofpoint at {{.RecipientDomain}} blocks {{percent .Ratio}} of mail from {{.SourceIP}} ({{.Blocks}} of {{.Attempts}} attempts in {{.Window}})`
	domainDescr   = `{{.Blocks}} of {{.Attempts}} delivery attempts from {{.SourceIP}} to {{.RecipientDomain}} were blocked in the last {{.Window}} ({{percent .Ratio}}; the threshold is {{percent .Threshold}}).
{{with .TopReply}}Most frequent reply (class {{.Class}}, {{.Count}} times, first seen {{utc .FirstSeen}}, last seen {{utc .LastSeen}}):
{{.Response}}
{{end}}Report: {{.ReportURL}}
Runbook: {{.RunbookURL}}`
)

// defaultAnnotations are the summary and description of a rule that gives
// none: who is hit, by how much, the top domains and reply, and the links.
// The shipped rules have their own wording of the same.
func defaultAnnotations(r AlertRule) map[string]string {
	what, verb := "Blocks", "blocked"
	if r.Measure == "deferral_ratio" || r.Measure == "deferrals" {
		what, verb = "Deferrals", "deferred"
	}
	threshold := "{{percent .Threshold}}"
	if r.Measure == "blocks" || r.Measure == "deferrals" {
		threshold = "{{.Threshold}} " + strings.ToLower(what)
	}
	from := "{{with .SourceIP}} from {{.}}{{end}}"
	to := "{{with .RecipientDomain}}{{.}}{{else}}Proofpoint-protected receivers{{end}}"
	return map[string]string{
		"summary": fmt.Sprintf("Proofpoint %s {{percent .Ratio}} of mail%s to %s ({{.%s}} of {{.Attempts}} attempts in {{.Window}})",
			verb, from, to, what),
		"description": fmt.Sprintf("{{.%s}} of {{.Attempts}} delivery attempts%s to %s were %s in the last {{.Window}} ({{percent .Ratio}}; the alert is above %s).\n", what, from, to, verb, threshold) +
			"Top recipient domains (" + strings.ToLower(what) + "/attempts): {{range $i, $d := .TopDomains}}{{if $i}}, {{end}}{{$d.Domain}} {{$d." + what + "}}/{{$d.Attempts}}{{end}}.\n" +
			"{{with .TopReply}}Most frequent reply (class {{.Class}}, {{.Count}} times, first seen {{utc .FirstSeen}}, last seen {{utc .LastSeen}}):\n{{.Response}}\n{{end}}" +
			"Report: {{.ReportURL}}\nRunbook: {{.RunbookURL}}",
	}
}

// DefaultAlerts are the rules used when the config has no alerts key.
func DefaultAlerts() []AlertRule {
	return []AlertRule{
		{Name: "ProofpointBlockRatioHigh", Measure: "block_ratio", By: "source_ip", Window: Duration(15 * time.Minute),
			Threshold: 0.05, MinAttempts: 20, For: Duration(5 * time.Minute), Severity: "page",
			Annotations: map[string]string{"summary": blockSummary, "description": blockDescr}},
		{Name: "ProofpointDeferralRatioHigh", Measure: "deferral_ratio", By: "source_ip", Window: Duration(30 * time.Minute),
			Threshold: 0.2, MinAttempts: 20, For: Duration(10 * time.Minute), Severity: "warning",
			Annotations: map[string]string{"summary": deferralSummary, "description": deferralDescr}},
		{Name: "ProofpointDomainBlocked", Measure: "block_ratio", By: "source_ip,recipient_domain", Window: Duration(time.Hour),
			Threshold: 0.5, MinAttempts: 10, For: Duration(10 * time.Minute), Severity: "warning",
			Annotations: map[string]string{"summary": domainSummary, "description": domainDescr}},
	}
}

// ParseTemplate checks an annotation template's syntax and function names.
func ParseTemplate(name, text string) error {
	_, err := template.New(name).Funcs(alert.Funcs()).Parse(text)
	return err
}

var (
	alertName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
	labelName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
)

var reservedLabels = []string{"alertname", "severity", "source_ip", "recipient_domain"}

// validateAlerts checks external_url, alerting and alerts, and fills the
// per-rule defaults of rules from the file.
func (c *Config) validateAlerts(bad func(field, format string, args ...any), lines map[string]int) {
	if c.ExternalURL != "" {
		if !httpURL(c.ExternalURL) {
			bad("external_url", "%q is not an http or https URL (give the daemon's URL as users reach it, e.g. http://mta1.example.net:9797)", c.ExternalURL)
		}
		c.ExternalURL = strings.TrimRight(c.ExternalURL, "/")
	}
	a := &c.Alerting
	if a.EvalInterval < Duration(10*time.Millisecond) || a.EvalInterval > Duration(10*time.Minute) {
		bad("alerting.eval_interval", "%s is outside 10ms..10m", time.Duration(a.EvalInterval))
	}
	if a.ResendInterval < Duration(10*time.Millisecond) || a.ResendInterval > Duration(time.Hour) {
		bad("alerting.resend_interval", "%s is outside 10ms..1h", time.Duration(a.ResendInterval))
	}
	for _, n := range slices.Sorted(maps.Keys(a.ExternalLabels)) {
		switch {
		case !labelName.MatchString(n):
			bad("alerting.external_labels", "%q is not a label name (letters, digits and '_', starting with a letter)", n)
		case slices.Contains(reservedLabels, n):
			bad("alerting.external_labels", "%q is set by each alert itself (%s)", n, strings.Join(reservedLabels, ", "))
		case a.ExternalLabels[n] == "":
			bad("alerting.external_labels", "%q has no value (leave the label out instead)", n)
		}
	}
	if a.RunbookURL != "" {
		if u, err := url.Parse(a.RunbookURL); !httpURL(a.RunbookURL) || err != nil {
			bad("alerting.runbook_url", "%q is not an http or https URL (leave it out for the runbook the daemon serves at /runbook)", a.RunbookURL)
		} else if u.Fragment != "" {
			bad("alerting.runbook_url", "%q has a #fragment: each alert adds its own section's (give the runbook's URL without it)", a.RunbookURL)
		}
	}
	for i, t := range a.Alertmanagers {
		validateTarget(bad, fmt.Sprintf("alerting.alertmanagers[%d]", i), t)
	}
	for i, t := range a.Webhooks {
		validateTarget(bad, fmt.Sprintf("alerting.webhooks[%d]", i), t)
	}

	fromFile := lines["alerts"] != 0
	names := map[string]bool{}
	for i := range c.Alerts {
		r := &c.Alerts[i]
		f := fmt.Sprintf("alerts[%d]", i)
		given := func(key string) bool { return !fromFile || lines[f+"."+key] != 0 }
		switch {
		case r.Name == "":
			bad(f, "name is missing (name the alert, e.g. name: ProofpointBlockRatioHigh)")
		case !alertName.MatchString(r.Name):
			bad(f+".name", "%q: use letters, digits and '_', starting with a letter", r.Name)
		case names[r.Name]:
			bad(f+".name", "%q is used by an earlier rule", r.Name)
		}
		names[r.Name] = true
		ratio := r.Measure == "block_ratio" || r.Measure == "deferral_ratio"
		switch r.Measure {
		case "block_ratio", "deferral_ratio", "blocks", "deferrals":
		case "":
			bad(f, "measure is missing (use block_ratio, deferral_ratio, blocks or deferrals)")
		default:
			bad(f+".measure", "unknown measure %q (use block_ratio, deferral_ratio, blocks or deferrals)", r.Measure)
		}
		if r.By == "" {
			r.By = "source_ip"
		}
		switch strings.Join(byParts(r.By), ",") {
		case "source_ip", "recipient_domain":
		case "source_ip,recipient_domain", "recipient_domain,source_ip":
			r.By = "source_ip,recipient_domain"
		default:
			bad(f+".by", "unknown grouping %q (use source_ip, \"source_ip,recipient_domain\" or recipient_domain)", r.By)
		}
		switch {
		case !given("window"):
			bad(f, "window is missing (e.g. window: 15m)")
		case r.Window < Duration(time.Minute) || time.Duration(r.Window)%time.Minute != 0:
			bad(f+".window", "%s: windows are whole minutes, at least 1m", time.Duration(r.Window))
		case r.Window > c.Retention:
			bad(f+".window", "%s is longer than retention %s (the store has no older counts)", r.Window, c.Retention)
		}
		switch {
		case !given("threshold"):
			bad(f, "threshold is missing (the alert fires when the measure is above it, e.g. threshold: 0.05)")
		case r.Threshold < 0:
			bad(f+".threshold", "%g is negative", r.Threshold)
		case ratio && r.Threshold > 1:
			bad(f+".threshold", "%g: a ratio is at most 1 (write 5%% as 0.05)", r.Threshold)
		}
		if !given("min_attempts") && ratio {
			// No page on one block out of one attempt.
			r.MinAttempts = 20
		}
		if r.MinAttempts < 0 {
			bad(f+".min_attempts", "%d is negative", r.MinAttempts)
		}
		if r.Severity == "" {
			r.Severity = "warning"
		}
		if r.Severity != "page" && r.Severity != "warning" {
			bad(f+".severity", "unknown severity %q (use page or warning)", r.Severity)
		}
		for _, n := range slices.Sorted(maps.Keys(r.Labels)) {
			switch {
			case !labelName.MatchString(n):
				bad(f+".labels", "%q is not a label name (letters, digits and '_', starting with a letter)", n)
			case slices.Contains(reservedLabels, n):
				bad(f+".labels", "%q is set by ppwatch itself (%s)", n, strings.Join(reservedLabels, ", "))
			}
		}
		for n, text := range defaultAnnotations(*r) {
			if _, ok := r.Annotations[n]; !ok {
				if r.Annotations == nil {
					r.Annotations = map[string]string{}
				}
				r.Annotations[n] = text
			}
		}
		for _, n := range slices.Sorted(maps.Keys(r.Annotations)) {
			if !labelName.MatchString(n) {
				bad(f+".annotations", "%q is not an annotation name (letters, digits and '_', starting with a letter)", n)
			} else if err := ParseTemplate(n, r.Annotations[n]); err != nil {
				bad(f+".annotations."+n, "%v", err)
			}
		}
	}
}

func validateTarget(bad func(field, format string, args ...any), f string, t AlertTarget) {
	switch {
	case t.URL == "":
		bad(f, "url is missing (e.g. url: http://127.0.0.1:9093)")
	case !httpURL(t.URL):
		bad(f+".url", "%q is not an http or https URL", t.URL)
	}
	if t.Timeout < 0 || t.Timeout > Duration(5*time.Minute) {
		bad(f+".timeout", "%s is outside 0..5m (0 is 10s)", time.Duration(t.Timeout))
	}
	if b := t.BasicAuth; b != nil {
		if b.Username == "" {
			bad(f+".basic_auth", "username is missing")
		}
		if b.Password != "" && b.PasswordFile != "" {
			bad(f+".basic_auth", "give password or password_file, not both")
		}
		if t.BearerToken != "" || t.BearerTokenFile != "" {
			bad(f+".basic_auth", "give basic_auth or a bearer token, not both")
		}
	}
	if t.BearerToken != "" && t.BearerTokenFile != "" {
		bad(f+".bearer_token", "give bearer_token or bearer_token_file, not both")
	}
	if (t.TLSConfig.CertFile == "") != (t.TLSConfig.KeyFile == "") {
		bad(f+".tls_config", "give both cert_file and key_file, or neither")
	}
}

func httpURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}
