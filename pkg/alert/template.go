package alert

import (
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"text/template"
	"time"
)

// Value is what annotation templates see: {{.SourceIP}}, {{percent .Ratio}}, …
type Value struct {
	AlertName, Severity string
	Labels              map[string]string

	Value         float64 // the rule's measure
	Ratio         float64 // BlockRatio for block measures, else DeferralRatio
	BlockRatio    float64
	DeferralRatio float64
	Attempts      uint64 // Proofpoint attempts in the window
	Blocks        uint64
	Deferrals     uint64

	SourceIP        string // "" when the rule is not by source_ip
	RecipientDomain string // "" when the rule is not by recipient_domain
	Window          string // "15m"
	Threshold       float64
	MinAttempts     uint64

	TopDomains []DomainCounts // the instance's recipient domains, worst first (at most 5)
	TopReply   *Reply         // the most frequent reply of the measured kind, verbatim; nil when none

	ReportURL  string // the daemon's page for the sending IP
	RunbookURL string // the runbook's section for the alert
}

// DomainCounts are one recipient domain's figures in the window.
type DomainCounts struct {
	Domain                      string
	Attempts, Blocks, Deferrals uint64
}

// Funcs are the functions annotation templates may call.
func Funcs() template.FuncMap {
	return template.FuncMap{
		"percent":          Percent,
		"humanize":         Humanize,
		"humanizeDuration": HumanizeDuration,
		"utc":              UTC,
		"lower":            strings.ToLower,
		"upper":            strings.ToUpper,
		"join":             strings.Join,
		"pathEscape":       url.PathEscape,
		"queryEscape":      url.QueryEscape,
	}
}

// Percent writes a ratio as a percentage with one decimal: 0.0731 → "7.3%".
func Percent(v float64) string {
	return strconv.FormatFloat(v*100, 'f', 1, 64) + "%"
}

// Humanize writes a number with an SI prefix, as Prometheus' humanize:
// 1234567 → "1.235M", 12 → "12".
func Humanize(v any) string {
	f := toFloat(v)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return fmt.Sprint(f)
	}
	prefixes := []string{"", "k", "M", "G", "T", "P", "E"}
	i := 0
	for math.Abs(f) >= 1000 && i < len(prefixes)-1 {
		f /= 1000
		i++
	}
	return strconv.FormatFloat(f, 'g', 4, 64) + prefixes[i]
}

// HumanizeDuration writes a duration (or seconds) as "1h 2m 3s".
func HumanizeDuration(v any) string {
	var d time.Duration
	switch x := v.(type) {
	case time.Duration:
		d = x
	default:
		d = time.Duration(toFloat(v) * float64(time.Second))
	}
	if d < time.Second {
		return d.String()
	}
	d = d.Round(time.Second)
	var parts []string
	for _, u := range []struct {
		d time.Duration
		s string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}} {
		if n := d / u.d; n > 0 {
			parts = append(parts, strconv.FormatInt(int64(n), 10)+u.s)
			d -= n * u.d
		}
	}
	return strings.Join(parts, " ")
}

// UTC writes a time in RFC 3339, UTC, to the second.
func UTC(t time.Time) string {
	return t.UTC().Format(time.RFC3339)
}

func toFloat(v any) float64 {
	switch x := v.(type) {
	case float64:
		return x
	case float32:
		return float64(x)
	case int:
		return float64(x)
	case int64:
		return float64(x)
	case uint64:
		return float64(x)
	case uint32:
		return float64(x)
	case int32:
		return float64(x)
	case string:
		f, err := strconv.ParseFloat(x, 64)
		if err != nil {
			return math.NaN()
		}
		return f
	}
	return math.NaN()
}

// ParseDuration reads a duration as configs and flags write it:
// time.ParseDuration's, plus a "d" (24h) unit, never negative.
func ParseDuration(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		if days, err := strconv.Atoi(n); err == nil && days >= 0 {
			return time.Duration(days) * 24 * time.Hour, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q (use e.g. 90s, 5m, 24h, 30d)", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("negative duration %q", s)
	}
	return d, nil
}

// FormatDuration writes a window as label values and configs do: "15m", "1h".
func FormatDuration(d time.Duration) string {
	switch {
	case d > 0 && d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d > 0 && d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	}
	return d.String()
}

// render executes the rule's annotation templates over v and adds
// runbook_url and report_url unless the rule sets them. A template that
// fails to execute leaves its error as the text, as Prometheus does, so a
// page is never lost to a template.
func (r *Rule) render(v Value) map[string]string {
	out := make(map[string]string, len(r.tmpl)+2)
	if t, ok := r.tmpl["runbook_url"]; ok {
		v.RunbookURL = execute(t, v)
	}
	for name, t := range r.tmpl {
		out[name] = execute(t, v)
	}
	if _, ok := out["runbook_url"]; !ok {
		out["runbook_url"] = v.RunbookURL
	}
	if _, ok := out["report_url"]; !ok {
		out["report_url"] = v.ReportURL
	}
	return out
}

func execute(t *template.Template, v Value) string {
	var b strings.Builder
	if err := t.Execute(&b, v); err != nil {
		return "<error expanding template: " + err.Error() + ">"
	}
	return b.String()
}
