package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

var prometheus = flag.String("prometheus", "", "Prometheus binary: scrape the daemon and evaluate the shipped rules (make check-rules)")

// A real Prometheus scrapes the daemon and evaluates the shipped rule file
// over what it exports: every rule evaluates without an error, and the
// fleet-wide block ratio of the sending IP is exactly what the log holds
// (all its Proofpoint attempts are blocks).
func TestShippedRulesOnRealPrometheus(t *testing.T) {
	if *prometheus == "" {
		t.Skip("needs -prometheus: make check-rules runs it")
	}
	rules, err := filepath.Abs("../../configs/prometheus/ppwatch.rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, "")
	var g gen
	appendFile(t, e.log, g.lines(30))
	d := e.start(t)
	d.waitAttempts(30)

	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [%s]
scrape_configs:
  - job_name: ppwatch
    static_configs:
      - targets: ['%s']
`, rules, d.addr)), 0o644)
	addr := freeAddr(t)
	startServer(t, *prometheus, addr, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr)
	api := func(path string, out any) bool {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		return resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(out) == nil
	}
	type sample struct {
		Metric map[string]string `json:"metric"`
		Value  [2]any            `json:"value"`
	}
	query := func(q string) []sample {
		var r struct {
			Data struct {
				Result []sample `json:"result"`
			} `json:"data"`
		}
		if !api("/api/v1/query?query="+url.QueryEscape(q), &r) {
			return nil
		}
		return r.Data.Result
	}

	// Counters move between scrapes: more of the same traffic.
	waitUntil(t, "two scrapes", func() bool {
		r := query(`count_over_time(up{job="ppwatch"}[1m])`)
		return len(r) == 1 && r[0].Value[1] != "1"
	})
	appendFile(t, e.log, g.lines(30))
	d.waitAttempts(60)
	const ratio = `source_ip:ppwatch_proofpoint_block_ratio_fleet:rate15m{source_ip="192.0.2.25"}`
	waitUntil(t, ratio, func() bool { return len(query(ratio)) == 1 })
	if r := query(ratio); r[0].Value[1] != "1" {
		t.Errorf("%s = %v, want 1", ratio, r[0].Value[1])
	}
	if r := query(`up{job="ppwatch"}`); len(r) != 1 || r[0].Value[1] != "1" {
		t.Errorf("up: %v", r)
	}

	// Every rule has been evaluated, and none failed.
	var rs struct {
		Data struct {
			Groups []struct {
				Name  string `json:"name"`
				Rules []struct {
					Name      string `json:"name"`
					Health    string `json:"health"`
					LastError string `json:"lastError"`
				} `json:"rules"`
			} `json:"groups"`
		} `json:"data"`
	}
	waitUntil(t, "every rule evaluated", func() bool {
		if !api("/api/v1/rules", &rs) || len(rs.Data.Groups) == 0 {
			return false
		}
		for _, g := range rs.Data.Groups {
			for _, r := range g.Rules {
				if r.Health == "unknown" {
					return false
				}
			}
		}
		return true
	})
	n := 0
	for _, g := range rs.Data.Groups {
		for _, r := range g.Rules {
			n++
			if r.Health != "ok" {
				t.Errorf("rule %s/%s: %s %s", g.Name, r.Name, r.Health, r.LastError)
			}
		}
	}
	text, err := os.ReadFile(rules)
	if err != nil {
		t.Fatal(err)
	}
	if want := regexp.MustCompile(`(?m)^\s*- (alert|record): `).FindAll(text, -1); n != len(want) {
		t.Errorf("%d rules evaluated, want the file's %d", n, len(want))
	}
	t.Logf("%d rules evaluated without error", n)
	d.stop()
}
