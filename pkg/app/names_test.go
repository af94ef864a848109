package app_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.yaml.in/yaml/v3"

	"github.com/ppwatch/ppwatch/pkg/app"
	"github.com/ppwatch/ppwatch/pkg/config"
	"github.com/ppwatch/ppwatch/pkg/dnscheck/dnstest"
)

// The shipped Prometheus rules and Grafana dashboard name metrics by hand.
// These tests keep them to what the daemon really exports, to the daemon's
// default alerts and to the runbook, so none of them can drift apart.

const (
	rulesFile     = "../../configs/prometheus/ppwatch.rules.yml"
	dashboardFile = "../../configs/grafana/ppwatch-dashboard.json"
	runbookFile   = "../../docs/runbook.md"
	runbookURL    = "https://github.com/ppwatch/ppwatch/blob/main/docs/runbook.md#"
)

var promtool = flag.String("promtool", "", "promtool binary: check that the dashboard's queries parse (make check-rules)")

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Record      string            `yaml:"record"`
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func readRules(t *testing.T) ruleFile {
	t.Helper()
	b, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var rf ruleFile
	if err := yaml.Unmarshal(b, &rf); err != nil {
		t.Fatalf("%s: %v", rulesFile, err)
	}
	return rf
}

func readDashboard(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d map[string]any
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	return d
}

var (
	// String literals go first: label values are not metric names.
	quoted = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|` + "`[^`]*`")
	ident  = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
)

// names returns the ppwatch metric names and the recording-rule names
// (level:metric:operation) an expression uses. Built-ins like up and ALERTS
// are neither.
func names(expr string) (metrics, recorded []string) {
	for _, id := range ident.FindAllString(quoted.ReplaceAllString(expr, `""`), -1) {
		switch {
		case strings.Contains(id, ":"):
			recorded = append(recorded, id)
		case strings.HasPrefix(id, "ppwatch_"):
			metrics = append(metrics, id)
		}
	}
	return metrics, recorded
}

func TestNamesOfExpressions(t *testing.T) {
	m, r := names(`sum by (job, instance) (rate(ppwatch_log_lines_total{result="malformed", input=~"ppwatch_x.*"}[15m]))
		/ instance_source_ip:ppwatch_proofpoint_attempts:increase15m and up{job="ppwatch"} or ALERTS`)
	if !slices.Equal(m, []string{"ppwatch_log_lines_total"}) {
		t.Errorf("metrics %q", m)
	}
	if !slices.Equal(r, []string{"instance_source_ip:ppwatch_proofpoint_attempts:increase15m"}) {
		t.Errorf("recorded %q", r)
	}
}

// used maps every ppwatch metric name of the rule file and the dashboard to
// where it is used.
func used(t *testing.T) map[string][]string {
	t.Helper()
	where := map[string][]string{}
	add := func(src, expr string) {
		ms, _ := names(expr)
		for _, m := range ms {
			if !slices.Contains(where[m], src) {
				where[m] = append(where[m], src)
			}
		}
	}

	rf := readRules(t)
	defined := map[string]bool{}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				defined[r.Record] = true
			}
		}
	}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			name := r.Record + r.Alert
			add("ppwatch.rules.yml "+name, r.Expr)
			_, recs := names(r.Expr)
			for _, rec := range recs {
				if !defined[rec] {
					t.Errorf("ppwatch.rules.yml %s uses %s, which no rule records", name, rec)
				}
			}
		}
	}

	var walk func(v any, path string)
	walk = func(v any, path string) {
		switch v := v.(type) {
		case map[string]any:
			title, _ := v["title"].(string)
			if title != "" {
				path = title
			}
			for k, x := range v {
				if s, ok := x.(string); ok && (k == "expr" || k == "definition") {
					add("dashboard "+path, s)
					if _, recs := names(s); len(recs) > 0 {
						t.Errorf("dashboard %q uses recording rules %q: it must work without the rule file", path, recs)
					}
					continue
				}
				walk(x, path)
			}
		case []any:
			for _, x := range v {
				walk(x, path)
			}
		}
	}
	walk(readDashboard(t), "")
	return where
}

// TestRulesAndDashboardUseExportedMetrics starts the real daemon on the
// sample logs, with alert rules that fire and stay pending and an
// Alertmanager to send to, so that metrics that exist only in those states
// are there too, and checks every name the rule file and the dashboard use
// against its /metrics.
func TestRulesAndDashboardUseExportedMetrics(t *testing.T) {
	want := used(t)
	// A broken extraction would pass by finding nothing.
	for _, m := range []string{"ppwatch_proofpoint_blocks_total", "ppwatch_proofpoint_attempts_total",
		"ppwatch_input_last_line_timestamp_seconds", "ppwatch_store_commit_duration_seconds_bucket", "ppwatch_alert_firing"} {
		if want[m] == nil {
			t.Fatalf("%s is not among the names found in the rules and the dashboard: %v", m, slices.Sorted(maps.Keys(want)))
		}
	}

	am := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
	}))
	t.Cleanup(am.Close)

	dir := t.TempDir()
	lines := 0
	for src, dst := range map[string]string{
		"../../testdata/postfix/sample.log": "mail.log",
		"../../testdata/exim/sample.log":    "exim-mainlog",
		"../../testdata/pmta/sample.log":    "acct-2026-11-22.csv",
	} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		lines += bytes.Count(b, []byte("\n"))
		if err := os.WriteFile(filepath.Join(dir, dst), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The sender checks ask the test zones: their first round, at start,
	// brings their metrics.
	dns := dnstest.Start(t, dnstest.Zones(t, dnstest.TestZones))
	// testdata/demo.yml's mapping; alerts that fire at once (for 0) and
	// that stay pending (for 1h) on any block.
	cfg, err := config.Parse([]byte(fmt.Sprintf(`listen: 127.0.0.1:0
state_file: %s
timezone: UTC
inputs:
  - {path: %s, mta: postfix}
  - {path: %s, mta: exim}
  - {path: %s, mta: pmta}
source_ips:
  - {mta: postfix, ip: 192.0.2.20}
dns: {servers: [%s], timeout: 100ms}
hygiene: {dnsbl: [zen.spamhaus.org]}
alerting:
  eval_interval: 50ms
  resend_interval: 100ms
  alertmanagers:
    - url: %s
alerts:
  - {name: AnyBlockFiring, measure: blocks, by: source_ip, window: 24h, threshold: 0, min_attempts: 1, for: 0s, severity: page}
  - {name: AnyBlockPending, measure: blocks, by: source_ip, window: 24h, threshold: 0, min_attempts: 1, for: 1h, severity: warning}
`, filepath.Join(dir, "ppwatch.db"), filepath.Join(dir, "mail.log"), filepath.Join(dir, "exim-mainlog"),
		filepath.Join(dir, "acct-*.csv"), dns.Addr, am.URL)), "names-test.yml")
	if err != nil {
		t.Fatal(err)
	}

	// The samples end on 2026-11-22 at 11:30 UTC; the daemon's clock starts
	// just after, so every window by event time holds them.
	start, base := time.Now(), time.Date(2026, 11, 22, 11, 31, 0, 0, time.UTC)
	a, err := app.New(app.Options{Config: cfg, Logger: zerolog.New(zerolog.NewTestWriter(t)),
		Now: func() time.Time { return base.Add(time.Since(start)) }})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(); err != nil {
		a.Stop()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := a.Stop(); err != nil {
			t.Error(err)
		}
	})

	// Every line counted first; then the names, which some states (an
	// alert evaluated, a notification sent) bring a little later.
	var got map[string]float64
	deadline := time.Now().Add(30 * time.Second)
	for {
		got = scrape(t, "http://"+a.Addr()+"/metrics")
		if got["ppwatch_log_lines_total"] == float64(lines) && len(missing(want, got)) == 0 {
			break
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := got["ppwatch_log_lines_total"]; n != float64(lines) {
		t.Errorf("ppwatch_log_lines_total is %v, want %d (the lines of the samples)", n, lines)
	}
	for _, m := range missing(want, got) {
		t.Errorf("%s is used by %s but the daemon does not export it", m, strings.Join(want[m], "; "))
	}
}

func missing(want map[string][]string, got map[string]float64) []string {
	var out []string
	for m := range want {
		if _, ok := got[m]; !ok {
			out = append(out, m)
		}
	}
	sort.Strings(out)
	return out
}

// scrape returns the sum of every sample name's values in an exposition,
// histograms' _bucket, _sum and _count as their own names.
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		name := l[:strings.IndexAny(l, "{ ")]
		v, err := strconv.ParseFloat(l[strings.LastIndexByte(l, ' ')+1:], 64)
		if err != nil {
			t.Fatalf("sample %q: %v", l, err)
		}
		out[name] += v
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRulesMatchDefaultAlerts: the Prometheus alerts equal the daemon's
// default ones in name, severity, for, window, threshold and minimum
// attempts, per host and fleet-wide.
func TestRulesMatchDefaultAlerts(t *testing.T) {
	alerts := map[string]int{}
	rf := readRules(t)
	type rule = struct {
		expr, forDur string
		labels       map[string]string
	}
	byName := map[string]rule{}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				alerts[r.Alert]++
				byName[r.Alert] = rule{r.Expr, r.For, r.Labels}
			}
		}
	}
	for _, d := range config.DefaultAlerts() {
		for _, name := range []string{d.Name, strings.Replace(d.Name, "Proofpoint", "ProofpointFleet", 1)} {
			r, ok := byName[name]
			if !ok {
				t.Errorf("%s: no such alert in %s", name, rulesFile)
				continue
			}
			if r.labels["severity"] != d.Severity {
				t.Errorf("%s: severity %q, the daemon's is %q", name, r.labels["severity"], d.Severity)
			}
			if f, err := time.ParseDuration(r.forDur); err != nil || f != time.Duration(d.For) {
				t.Errorf("%s: for %q, the daemon's is %s", name, r.forDur, time.Duration(d.For))
			}
			w := d.Window.String()
			for _, s := range []string{fmt.Sprintf(":rate%s > %g\n", w, d.Threshold), fmt.Sprintf(":increase%s >= %d\n", w, d.MinAttempts)} {
				if !strings.Contains(r.expr, s) {
					t.Errorf("%s: expression lacks %q:\n%s", name, s, r.expr)
				}
			}
			measure := strings.TrimSuffix(d.Measure, "_ratio")
			if !strings.Contains(r.expr, "_"+measure+"_ratio") {
				t.Errorf("%s: expression is not about the %s ratio:\n%s", name, measure, r.expr)
			}
		}
	}
	for name, n := range alerts {
		if n > 1 {
			t.Errorf("%s: %d alerting rules of that name", name, n)
		}
	}
}

// TestRunbookCoversEveryAlert: every alert links to its own runbook section,
// and the section exists (GitHub's anchor of "## Name" is "#name").
func TestRunbookCoversEveryAlert(t *testing.T) {
	b, err := os.ReadFile(runbookFile)
	if err != nil {
		t.Fatal(err)
	}
	headings := map[string]bool{}
	for _, l := range strings.Split(string(b), "\n") {
		if h, ok := strings.CutPrefix(l, "## "); ok {
			headings[h] = true
		}
	}
	var names []string
	for _, g := range readRules(t).Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			names = append(names, r.Alert)
			if got, want := r.Annotations["runbook_url"], runbookURL+strings.ToLower(r.Alert); got != want {
				t.Errorf("%s: runbook_url %q, want %q", r.Alert, got, want)
			}
			for _, a := range []string{"summary", "description"} {
				if r.Annotations[a] == "" {
					t.Errorf("%s: no %s", r.Alert, a)
				}
			}
		}
	}
	for _, d := range config.DefaultAlerts() {
		names = append(names, d.Name)
	}
	for _, n := range names {
		if !headings[n] {
			t.Errorf("%s has no section \"## %s\" in %s", n, n, runbookFile)
		}
	}
}

// TestDashboardShape checks what Grafana and the users rely on: the title
// and uid, a current schema, the data source as a variable used by every
// panel, the instance and sending-IP variables, and the thresholds drawn.
func TestDashboardShape(t *testing.T) {
	d := readDashboard(t)
	if d["title"] != "ppwatch — Proofpoint deliverability" {
		t.Errorf("title %q", d["title"])
	}
	if d["uid"] != "ppwatch-proofpoint" {
		t.Errorf("uid %q", d["uid"])
	}
	if v, _ := d["schemaVersion"].(float64); v < 39 {
		t.Errorf("schemaVersion %v, want 39 or later", d["schemaVersion"])
	}
	if tags, _ := d["tags"].([]any); !slices.Contains(tags, any("ppwatch")) {
		t.Errorf("tags %v lack ppwatch", tags)
	}

	vars := map[string]map[string]any{}
	for _, v := range d["templating"].(map[string]any)["list"].([]any) {
		v := v.(map[string]any)
		vars[v["name"].(string)] = v
	}
	if ds := vars["datasource"]; ds == nil || ds["type"] != "datasource" || ds["query"] != "prometheus" {
		t.Errorf("datasource variable: %v", ds)
	}
	for _, name := range []string{"instance", "source_ip"} {
		v := vars[name]
		if v == nil || v["type"] != "query" || v["multi"] != true || v["includeAll"] != true ||
			!strings.HasPrefix(fmt.Sprint(v["definition"]), "label_values(") {
			t.Errorf("%s variable: %v", name, v)
		}
	}

	ids := map[float64]bool{}
	types := map[string]bool{}
	thresholds := map[float64]bool{}
	for _, p := range d["panels"].([]any) {
		p := p.(map[string]any)
		id, _ := p["id"].(float64)
		if ids[id] {
			t.Errorf("panel id %v twice", id)
		}
		ids[id] = true
		types[p["type"].(string)] = true
		if p["type"] == "row" {
			continue
		}
		title := p["title"]
		if ds, _ := p["datasource"].(map[string]any); ds["uid"] != "${datasource}" {
			t.Errorf("panel %q: datasource %v, want the ${datasource} variable", title, p["datasource"])
		}
		targets, _ := p["targets"].([]any)
		if len(targets) == 0 {
			t.Errorf("panel %q has no query", title)
		}
		for _, tg := range targets {
			if ds, _ := tg.(map[string]any)["datasource"].(map[string]any); ds["uid"] != "${datasource}" {
				t.Errorf("panel %q: a query's datasource is %v", title, ds)
			}
		}
		if _, ok := p["gridPos"].(map[string]any); !ok {
			t.Errorf("panel %q has no gridPos", title)
		}
		defaults, _ := p["fieldConfig"].(map[string]any)["defaults"].(map[string]any)
		custom, _ := defaults["custom"].(map[string]any)
		style, _ := custom["thresholdsStyle"].(map[string]any)
		if mode, _ := style["mode"].(string); strings.Contains(mode, "line") {
			th, _ := defaults["thresholds"].(map[string]any)
			steps, _ := th["steps"].([]any)
			for _, s := range steps {
				if v, ok := s.(map[string]any)["value"].(float64); ok {
					thresholds[v] = true
				}
			}
		}
	}
	for _, typ := range []string{"timeseries", "stat", "table", "bargauge", "state-timeline"} {
		if !types[typ] {
			t.Errorf("no %s panel", typ)
		}
	}
	for _, v := range []float64{0.05, 0.2} {
		if !thresholds[v] {
			t.Errorf("no panel draws the threshold %v as a line", v)
		}
	}
}

// TestDashboardLinksUseExternalURL: the links to the daemon's pages are
// built from ppwatch_web_info's external_url, which the queries join in,
// never from the instance label with a guessed scheme.
func TestDashboardLinksUseExternalURL(t *testing.T) {
	var urls []string
	var walk func(v any, inPanel bool)
	walk = func(v any, inPanel bool) {
		switch v := v.(type) {
		case map[string]any:
			if u, ok := v["url"].(string); ok && inPanel {
				urls = append(urls, u)
			}
			for k, x := range v {
				walk(x, inPanel || k == "panels")
			}
		case []any:
			for _, x := range v {
				walk(x, inPanel)
			}
		}
	}
	walk(readDashboard(t), false)
	if len(urls) != 3 {
		t.Errorf("%d links in the panels: %q", len(urls), urls)
	}
	for _, u := range urls {
		if !strings.HasPrefix(u, "${__field.labels.external_url}/ip/") && !strings.HasPrefix(u, "${__data.fields.external_url}/ip/") {
			t.Errorf("link %q is not built from external_url", u)
		}
	}
}

// grafanaVar is a dashboard variable in a query: $name or ${name}.
var grafanaVar = regexp.MustCompile(`\$\{?(\w+)\}?`)

// TestDashboardQueriesParse hands every query of the dashboard to promtool
// as a recording rule, Grafana's variables replaced by values, so a query
// that does not parse fails here and not in front of a user.
func TestDashboardQueriesParse(t *testing.T) {
	if *promtool == "" {
		t.Skip("needs -promtool: make check-rules runs it")
	}
	values := map[string]string{"__rate_interval": "1m", "__interval": "1m", "__range": "1h", "instance": ".*", "source_ip": ".*"}
	var rules []map[string]string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if s, ok := x.(string); ok && k == "expr" {
					expr := grafanaVar.ReplaceAllStringFunc(s, func(m string) string {
						name := grafanaVar.FindStringSubmatch(m)[1]
						val, ok := values[name]
						if !ok {
							t.Errorf("query %q: unknown variable %s", s, m)
						}
						return val
					})
					rules = append(rules, map[string]string{"record": fmt.Sprintf("dashboard:query:%d", len(rules)), "expr": expr})
					continue
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(readDashboard(t))
	b, err := yaml.Marshal(map[string]any{"groups": []any{map[string]any{"name": "dashboard", "rules": rules}}})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "dashboard.rules.yml")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(*promtool, "check", "rules", path).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules on the dashboard's %d queries: %v\n%s", len(rules), err, out)
	}
	t.Logf("%d queries parse", len(rules))
}
