//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The shipped files, relative to this package.
const (
	shippedRules        = "../../configs/prometheus/ppwatch.rules.yml"
	shippedAlertmanager = "../../configs/alertmanager/alertmanager.yml"
)

// alertFor is the shipped rules' "for", shortened so that the test need
// not hold a block ratio for five minutes; everything else is as shipped.
const alertFor = "5s"

// notification is Alertmanager's webhook payload (version 4), as it
// reached one receiver.
type notification struct {
	Receiver string `json:"receiver"`
	Status   string `json:"status"`
	Alerts   []struct {
		Status       string            `json:"status"`
		Labels       map[string]string `json:"labels"`
		Annotations  map[string]string `json:"annotations"`
		GeneratorURL string            `json:"generatorURL"`
	} `json:"alerts"`
	GroupLabels map[string]string `json:"groupLabels"`
}

// webhook records every notification Alertmanager sends it.
type webhook struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []notification
}

func startWebhook(t *testing.T) *webhook {
	w := &webhook{}
	w.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var n notification
		if err := json.Unmarshal(b, &n); err != nil {
			t.Errorf("webhook: %v: %s", err, b)
		}
		w.mu.Lock()
		w.got = append(w.got, n)
		w.mu.Unlock()
	}))
	t.Cleanup(w.srv.Close)
	logTails = append(logTails, tailer{"webhook notifications", func(int) string {
		w.mu.Lock()
		defer w.mu.Unlock()
		b, _ := json.MarshalIndent(w.got, "", " ")
		return string(b)
	}})
	return w
}

func (w *webhook) notifications() []notification {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]notification(nil), w.got...)
}

// startAlertmanager runs Alertmanager with the shipped routes, inhibitions
// and templates; every receiver's integrations are replaced by a webhook
// to hook, and the group timers by a second.
func startAlertmanager(t *testing.T, dir, hook string) string {
	t.Helper()
	var cfg map[string]any
	readYAML(t, shippedAlertmanager, &cfg)
	var tmpls []any
	for _, f := range cfg["templates"].([]any) {
		abs, _ := filepath.Abs(filepath.Join(filepath.Dir(shippedAlertmanager), f.(string)))
		tmpls = append(tmpls, abs)
	}
	cfg["templates"] = tmpls
	route := cfg["route"].(map[string]any)
	routes := []map[string]any{route}
	for _, r := range route["routes"].([]any) {
		routes = append(routes, r.(map[string]any))
	}
	for _, r := range routes {
		r["group_wait"], r["group_interval"], r["repeat_interval"] = "1s", "1s", "1h"
	}
	for _, r := range cfg["receivers"].([]any) {
		r := r.(map[string]any)
		name := r["name"].(string)
		for k := range r {
			if k != "name" {
				delete(r, k)
			}
		}
		r["webhook_configs"] = []any{map[string]any{"url": hook + "/" + name, "send_resolved": true}}
	}
	path := filepath.Join(dir, "alertmanager.yml")
	writeYAML(t, path, cfg)
	addr := freePort(t, "127.0.0.1")
	p := start(t, dir, "alertmanager", *alertmanager, "--config.file="+path, "--storage.path="+filepath.Join(dir, "am"),
		"--web.listen-address="+addr, "--cluster.listen-address=")
	waitHTTP(t, p, "http://"+addr+"/-/ready")
	return addr
}

// startPrometheus runs Prometheus scraping the daemon every second, with
// basic auth, evaluating the shipped rules (their "for" shortened) and
// sending to Alertmanager at am.
func startPrometheus(t *testing.T, dir, target, am string) string {
	t.Helper()
	var rules map[string]any
	readYAML(t, shippedRules, &rules)
	for _, g := range rules["groups"].([]any) {
		for _, r := range g.(map[string]any)["rules"].([]any) {
			r := r.(map[string]any)
			if _, ok := r["for"]; ok {
				r["for"] = alertFor
			}
		}
	}
	rulesPath := filepath.Join(dir, "ppwatch.rules.yml")
	writeYAML(t, rulesPath, rules)
	pw := filepath.Join(dir, "ppwatch.password")
	writeFile(t, pw, webPassword)
	cfg := filepath.Join(dir, "prometheus.yml")
	writeFile(t, cfg, fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [%s]
alerting:
  alertmanagers:
    - static_configs:
        - targets: ['%s']
scrape_configs:
  - job_name: ppwatch
    basic_auth:
      username: %s
      password_file: %s
    static_configs:
      - targets: ['%s']
`, rulesPath, am, webUser, pw, target))
	addr := freePort(t, "127.0.0.1")
	p := start(t, dir, "prometheus", *prometheus, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "tsdb"),
		"--web.listen-address="+addr)
	waitHTTP(t, p, "http://"+addr+"/-/ready")
	return addr
}

// promSample is one element of a Prometheus instant query's result.
type promSample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

func promQuery(t *testing.T, addr, q string) []promSample {
	t.Helper()
	var r struct {
		Status string `json:"status"`
		Data   struct {
			Result []promSample `json:"result"`
		} `json:"data"`
	}
	getJSON(t, "http://"+addr+"/api/v1/query?query="+url.QueryEscape(q), &r)
	return r.Data.Result
}

func getJSON(t *testing.T, u string, v any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %s", u, resp.Status, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v: %s", u, err, b)
	}
}

// waitHTTP waits until u answers 200, failing at once when p has exited.
func waitHTTP(t *testing.T, p *proc, u string) {
	t.Helper()
	eventually(t, defaultWait, p.name+" ready", func() string {
		if p.exited() {
			t.Fatalf("%s exited:\n%s", p.name, tailFile(p.log, 30))
		}
		resp, err := http.Get(u)
		if err != nil {
			return err.Error()
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return resp.Status
		}
		return ""
	})
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func writeYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// amAlerts is what Alertmanager holds now (its API v2), active or not.
type amAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	GeneratorURL string            `json:"generatorURL"`
	Status       struct {
		State string `json:"state"`
	} `json:"status"`
}

func amAlerts(t *testing.T, addr string) []amAlert {
	t.Helper()
	var as []amAlert
	getJSON(t, "http://"+addr+"/api/v2/alerts", &as)
	return as
}

// fromPrometheus tells Prometheus's copy of an alert from the daemon's:
// Prometheus links to its graph page, the daemon to its IP page.
func fromPrometheus(generatorURL string) bool {
	return strings.Contains(generatorURL, "/graph?g0.expr=")
}

func describe(as []amAlert) string {
	var sb strings.Builder
	for _, a := range as {
		fmt.Fprintf(&sb, "%v %s %s; ", a.Labels, a.Status.State, a.GeneratorURL)
	}
	return sb.String()
}
