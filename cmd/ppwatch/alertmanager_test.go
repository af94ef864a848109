package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/template"
	"time"

	"go.yaml.in/yaml/v3"
)

var alertmanager = flag.String("alertmanager", "", "Alertmanager binary: page through a real one (make check-rules)")

// recorder is a receiver on 127.0.0.1 that keeps every JSON body POSTed
// to it, decoded into a fresh T.
type recorder[T any] struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []T
	raw []map[string]any
}

func newRecorder[T any](t *testing.T) *recorder[T] {
	rc := &recorder[T]{}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var v T
		var raw map[string]any
		if err := json.Unmarshal(body, &v); err != nil {
			t.Errorf("receiver: %v: %s", err, body)
		}
		json.Unmarshal(body, &raw)
		rc.mu.Lock()
		rc.got, rc.raw = append(rc.got, v), append(rc.raw, raw)
		rc.mu.Unlock()
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

// wait returns the first body that match accepts, failing after 30 s with
// what did arrive.
func (rc *recorder[T]) wait(t *testing.T, what string, match func(T) bool) (T, map[string]any) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		rc.mu.Lock()
		for i, v := range rc.got {
			if match(v) {
				rc.mu.Unlock()
				return v, rc.raw[i]
			}
		}
		got := fmt.Sprintf("%+v", rc.got)
		rc.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; got %s", what, got)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// amAlert is an alert of Alertmanager's webhook payload (version 4).
type amAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// amNotification is Alertmanager's webhook payload, and the daemon's.
type amNotification struct {
	Version           string            `json:"version"`
	Status            string            `json:"status"`
	Alerts            []amAlert         `json:"alerts"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
}

// pdEvent is what Alertmanager's PagerDuty integration sends (Events API v2).
type pdEvent struct {
	EventAction string `json:"event_action"`
	Payload     struct {
		Summary       string            `json:"summary"`
		CustomDetails map[string]string `json:"custom_details"`
	} `json:"payload"`
	Links []struct {
		Href string `json:"href"`
		Text string `json:"text"`
	} `json:"links"`
}

// shippedAlertmanager is configs/alertmanager/alertmanager.yml as shipped,
// its routes and receivers and its templates (ppwatch.tmpl), with seconds
// for its minutes, the pager's PagerDuty integration posting to pd and, beside
// it, a webhook to hook that shows the groups as Alertmanager sees them.
func shippedAlertmanager(t *testing.T, pd, hook string) []byte {
	t.Helper()
	b, err := os.ReadFile("../../configs/alertmanager/alertmanager.yml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	var tmpls []any
	for _, f := range cfg["templates"].([]any) {
		abs, err := filepath.Abs(filepath.Join("../../configs/alertmanager", f.(string)))
		if err != nil {
			t.Fatal(err)
		}
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
	found := false
	for _, r := range cfg["receivers"].([]any) {
		r := r.(map[string]any)
		if r["name"] == "pager" {
			r["pagerduty_configs"].([]any)[0].(map[string]any)["url"] = pd
			r["webhook_configs"] = []any{map[string]any{"url": hook, "send_resolved": true}}
			found = true
		}
	}
	if !found {
		t.Fatal("no pager receiver in the shipped alertmanager.yml")
	}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// prometheusCopy is the alert Prometheus sends for alertname on instance:
// the labels and annotations of configs/prometheus/ppwatch.rules.yml,
// rendered as Prometheus renders them ($labels, $value).
func prometheusCopy(t *testing.T, alertname string, labels map[string]string, value float64) map[string]any {
	t.Helper()
	b, err := os.ReadFile("../../configs/prometheus/ppwatch.rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	var rf struct {
		Groups []struct {
			Rules []struct {
				Alert       string            `yaml:"alert"`
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(b, &rf); err != nil {
		t.Fatal(err)
	}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r.Alert != alertname {
				continue
			}
			l := map[string]string{"alertname": alertname}
			maps.Copy(l, labels)
			maps.Copy(l, r.Labels)
			ann := map[string]string{}
			funcs := template.FuncMap{"humanizePercentage": func(v float64) string { return strconv.FormatFloat(v*100, 'g', 4, 64) + "%" }}
			for n, text := range r.Annotations {
				tm, err := template.New(n).Funcs(funcs).Parse("{{$labels := .Labels}}{{$value := .Value}}" + text)
				if err != nil {
					t.Fatalf("%s %s: %v", alertname, n, err)
				}
				var sb strings.Builder
				if err := tm.Execute(&sb, map[string]any{"Labels": l, "Value": value}); err != nil {
					t.Fatalf("%s %s: %v", alertname, n, err)
				}
				ann[n] = sb.String()
			}
			return map[string]any{"labels": l, "annotations": ann}
		}
	}
	t.Fatalf("no alert %s in ppwatch.rules.yml", alertname)
	return nil
}

// postAlert pushes alerts to Alertmanager's API as Prometheus does.
func postAlert(t *testing.T, amAddr string, a map[string]any, starts, ends time.Time) {
	t.Helper()
	a = maps.Clone(a)
	a["startsAt"], a["endsAt"] = starts, ends
	body, _ := json.Marshal([]any{a})
	resp, err := http.Post("http://"+amAddr+"/api/v2/alerts", "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /api/v2/alerts: %s", resp.Status)
	}
}

func keys(m map[string]any) []string { return slices.Sorted(maps.Keys(m)) }

// The whole path of a page through a real Alertmanager running the shipped
// routes and templates: Proofpoint blocks in the log, the daemon's alert
// fires and is pushed to Alertmanager, Prometheus's copy of the same alert
// joins its group, and the pager gets the group's summary, exact, though
// the two have no summary in common; a reload without the rule resolves
// the daemon's alert, the copy resolves too, and the pager is told it
// resolved, not the ratio it fired with. The daemon's own webhook payload
// is Alertmanager's, to its keys and the alert's fingerprint.
func TestPageThroughRealAlertmanager(t *testing.T) {
	if *alertmanager == "" {
		t.Skip("needs -alertmanager: make check-rules runs it")
	}
	pd := newRecorder[pdEvent](t)
	hook := newRecorder[amNotification](t)
	direct := newRecorder[amNotification](t) // the daemon's webhook target

	dir := t.TempDir()
	amCfg := filepath.Join(dir, "alertmanager.yml")
	os.WriteFile(amCfg, shippedAlertmanager(t, pd.srv.URL, hook.srv.URL), 0o644)
	amAddr := freeAddr(t)
	startServer(t, *alertmanager, amAddr, "--config.file="+amCfg, "--storage.path="+filepath.Join(dir, "am"),
		"--web.listen-address="+amAddr, "--cluster.listen-address=")

	e := newEnv(t, "")
	base := fmt.Sprintf(`flush_interval: 100ms
external_url: http://mta1.example.net:9797
inputs:
  - path: %s
    mta: postfix
alerting:
  eval_interval: 200ms
  resend_interval: 1s
  alertmanagers:
    - url: http://%s
  webhooks:
    - url: %s
`, e.log, amAddr, direct.srv.URL)
	os.WriteFile(e.cfg, []byte(base+`alerts:
  - {name: ProofpointBlockRatioHigh, measure: block_ratio, window: 15m, threshold: 0.05, min_attempts: 20, for: 0s, severity: page}
`), 0o644)
	var g gen
	appendFile(t, e.log, g.lines(60)) // every third a Proofpoint block, the rest elsewhere
	d := e.start(t)
	d.waitAttempts(60)

	// The daemon's alert reaches Alertmanager with ppwatch's labels, the
	// host among them, and annotations.
	daemonLabels := map[string]string{"alertname": "ProofpointBlockRatioHigh", "instance": "mta1.example.net:9797", "severity": "page", "source_ip": "192.0.2.25"}
	n, _ := hook.wait(t, "the daemon's alert", func(n amNotification) bool { return n.Status == "firing" })
	a := n.Alerts[0]
	if !maps.Equal(a.Labels, daemonLabels) {
		t.Errorf("labels %v, want %v", a.Labels, daemonLabels)
	}
	const daemonSummary = "Proofpoint blocked 100.0% of mail from 192.0.2.25 to Proofpoint-protected receivers (20 of 20 attempts in 15m)"
	if s := a.Annotations["summary"]; s != daemonSummary {
		t.Errorf("summary %q", s)
	}
	if a.GeneratorURL != "http://mta1.example.net:9797/ip/192.0.2.25" || a.Annotations["report_url"] != a.GeneratorURL ||
		a.Annotations["runbook_url"] != "http://mta1.example.net:9797/runbook#proofpointblockratiohigh" {
		t.Errorf("generatorURL %q, report_url %q, runbook_url %q", a.GeneratorURL, a.Annotations["report_url"], a.Annotations["runbook_url"])
	}

	// The daemon's webhook payload is Alertmanager's: the same keys, and the
	// alert has the fingerprint Alertmanager gives it.
	dn, draw := direct.wait(t, "the daemon's webhook", func(n amNotification) bool { return n.Status == "firing" })
	_, amRaw := hook.wait(t, "the daemon's alert", func(n amNotification) bool { return n.Status == "firing" })
	if !slices.Equal(keys(draw), keys(amRaw)) {
		t.Errorf("webhook payload keys %v, Alertmanager's %v", keys(draw), keys(amRaw))
	}
	if dk, ak := keys(draw["alerts"].([]any)[0].(map[string]any)), keys(amRaw["alerts"].([]any)[0].(map[string]any)); !slices.Equal(dk, ak) {
		t.Errorf("webhook alert keys %v, Alertmanager's %v", dk, ak)
	}
	if dn.Version != "4" || dn.Alerts[0].Fingerprint != a.Fingerprint || !maps.Equal(dn.Alerts[0].Labels, daemonLabels) {
		t.Errorf("daemon's webhook: version %q, fingerprint %q (Alertmanager's %q), labels %v", dn.Version, dn.Alerts[0].Fingerprint, a.Fingerprint, dn.Alerts[0].Labels)
	}

	// Prometheus's copy joins the group: the same alert from the rule file,
	// with the job label Prometheus adds.
	copyAlert := prometheusCopy(t, "ProofpointBlockRatioHigh", map[string]string{"instance": "mta1.example.net:9797", "job": "ppwatch", "source_ip": "192.0.2.25"}, 1)
	copyStart := time.Now().UTC().Truncate(time.Second)
	postAlert(t, amAddr, copyAlert, copyStart, copyStart.Add(time.Hour))
	const copySummary = "Proofpoint is blocking mail from 192.0.2.25 on mta1.example.net:9797"
	const copyRunbook = "https://github.com/ppwatch/ppwatch/blob/main/docs/runbook.md#proofpointblockratiohigh"
	both, _ := hook.wait(t, "the group with both alerts", func(n amNotification) bool { return len(n.Alerts) == 2 && n.Status == "firing" })
	// What the templates cannot rely on: the two have no summary in
	// common. What they can: the host.
	if s, ok := both.CommonAnnotations["summary"]; ok {
		t.Errorf("common summary %q", s)
	}
	if both.CommonLabels["instance"] != "mta1.example.net:9797" {
		t.Errorf("common labels %v", both.CommonLabels)
	}
	page, _ := pd.wait(t, "the page of both", func(e pdEvent) bool { return strings.HasSuffix(e.Payload.Summary, " (2 alerts)") })
	if page.EventAction != "trigger" || page.Payload.Summary != copySummary+" (2 alerts)" {
		t.Errorf("page: %s %q", page.EventAction, page.Payload.Summary)
	}
	if len(page.Links) != 1 || page.Links[0].Href != copyRunbook || page.Links[0].Text != "Runbook" {
		t.Errorf("links %+v", page.Links)
	}
	daemonStart := a.StartsAt.UTC().Format(time.RFC3339)
	wantDetails := copySummary + "\n" + copyAlert["annotations"].(map[string]string)["description"] + "\n" +
		"Report: http://mta1.example.net:9797/ip/192.0.2.25\nRunbook: " + copyRunbook + "\n\n" +
		daemonSummary + "\n" + a.Annotations["description"] + "\n" +
		"Report: http://mta1.example.net:9797/ip/192.0.2.25\nRunbook: http://mta1.example.net:9797/runbook#proofpointblockratiohigh\n\n"
	if got := page.Payload.CustomDetails["alerts"]; got != wantDetails {
		t.Errorf("details\n got %q\nwant %q", got, wantDetails)
	}

	// Without the rule the daemon's alert is resolved, and says so; the
	// copy fires on, so the page is the copy's.
	os.WriteFile(e.cfg, []byte(base+"alerts: []\n"), 0o644)
	d.cmd.Process.Signal(syscall.SIGHUP)
	half, _ := hook.wait(t, "the daemon's alert resolved", func(n amNotification) bool {
		return len(n.Alerts) == 2 && len(slices.DeleteFunc(slices.Clone(n.Alerts), func(a amAlert) bool { return a.Status != "resolved" })) == 1
	})
	var resolved amAlert
	for _, x := range half.Alerts {
		if x.Status == "resolved" {
			resolved = x
		}
	}
	resolvedSummary := regexp.MustCompile(`^Resolved: ProofpointBlockRatioHigh for 192\.0\.2\.25 \(fired \S+Z, resolved \S+Z\)$`)
	if !maps.Equal(resolved.Labels, daemonLabels) || !resolvedSummary.MatchString(resolved.Annotations["summary"]) {
		t.Errorf("resolved: %v %q", resolved.Labels, resolved.Annotations["summary"])
	}
	alone, _ := pd.wait(t, "the page of the copy alone", func(e pdEvent) bool { return e.EventAction == "trigger" && e.Payload.Summary == copySummary })
	wantDetails = copySummary + "\n" + copyAlert["annotations"].(map[string]string)["description"] + "\n" +
		"Report: http://mta1.example.net:9797/ip/192.0.2.25\nRunbook: " + copyRunbook + "\n\n" +
		"Resolved: ProofpointBlockRatioHigh for 192.0.2.25 on mta1.example.net:9797\n" +
		"Fired at " + daemonStart + ", resolved at " + resolved.EndsAt.UTC().Format(time.RFC3339) + ".\n" +
		"Report: http://mta1.example.net:9797/ip/192.0.2.25\nRunbook: http://mta1.example.net:9797/runbook#proofpointblockratiohigh\n\n"
	if got := alone.Payload.CustomDetails["alerts"]; got != wantDetails {
		t.Errorf("details with the daemon's alert resolved\n got %q\nwant %q", got, wantDetails)
	}

	// The copy resolves too: the pager is told the group resolved.
	copyEnd := time.Now().UTC().Truncate(time.Second)
	postAlert(t, amAddr, copyAlert, copyStart, copyEnd)
	done, _ := pd.wait(t, "the resolution", func(e pdEvent) bool { return e.EventAction == "resolve" })
	if want := "Resolved: ProofpointBlockRatioHigh for 192.0.2.25 on mta1.example.net:9797"; done.Payload.Summary != want {
		t.Errorf("resolved summary %q, want %q", done.Payload.Summary, want)
	}
	// Alertmanager drops a resolved alert from its group once it has told
	// of it: the daemon's went with the page before.
	wantDetails = "Resolved: ProofpointBlockRatioHigh for 192.0.2.25 on mta1.example.net:9797\n" +
		"Fired at " + copyStart.Format(time.RFC3339) + ", resolved at " + copyEnd.Format(time.RFC3339) + ".\n" +
		"Report: http://mta1.example.net:9797/ip/192.0.2.25\nRunbook: " + copyRunbook + "\n\n"
	if got := done.Payload.CustomDetails["alerts"]; got != wantDetails {
		t.Errorf("resolved details\n got %q\nwant %q", got, wantDetails)
	}
	d.stop()
}

// startServer runs a Prometheus or Alertmanager binary until the test ends,
// shows its log if the test failed, and waits until it is ready on addr.
func startServer(t *testing.T, bin, addr string, args ...string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	logFile := filepath.Join(t.TempDir(), filepath.Base(bin)+".log")
	out, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(logFile)
			t.Logf("%s log:\n%s", bin, b)
		}
	})
	waitUntil(t, bin+" ready", func() bool {
		resp, err := http.Get("http://" + addr + "/-/ready")
		if err != nil {
			return false
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// freeAddr is a loopback address with a port nobody listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// waitUntil polls cond for up to 30 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
