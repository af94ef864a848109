package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

var alertmanager = flag.String("alertmanager", "", "Alertmanager binary: page through a real one (make check-rules)")

// amNotification is what Alertmanager's webhook receiver gets.
type amNotification struct {
	Status string `json:"status"`
	Alerts []struct {
		Status       string            `json:"status"`
		Labels       map[string]string `json:"labels"`
		Annotations  map[string]string `json:"annotations"`
		GeneratorURL string            `json:"generatorURL"`
	} `json:"alerts"`
}

// The whole path of a page: Proofpoint blocks in the log, the daemon's alert
// fires and is pushed to a real Alertmanager, which notifies its receiver
// with ppwatch's labels and annotations; a reload without the rule resolves
// it, and Alertmanager passes that on too.
func TestPageThroughRealAlertmanager(t *testing.T) {
	if *alertmanager == "" {
		t.Skip("needs -alertmanager: make check-rules runs it")
	}
	var mu sync.Mutex
	var got []amNotification
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n amNotification
		if err := json.NewDecoder(r.Body).Decode(&n); err != nil {
			t.Errorf("receiver: %v", err)
		}
		mu.Lock()
		got = append(got, n)
		mu.Unlock()
	}))
	defer recv.Close()
	notified := func(status string) *amNotification {
		mu.Lock()
		defer mu.Unlock()
		for i := range got {
			if got[i].Status == status {
				return &got[i]
			}
		}
		return nil
	}

	dir := t.TempDir()
	amCfg := filepath.Join(dir, "alertmanager.yml")
	os.WriteFile(amCfg, []byte(fmt.Sprintf(`route:
  receiver: test
  group_by: [alertname, source_ip]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: test
    webhook_configs:
      - url: %s
        send_resolved: true
`, recv.URL)), 0o644)
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
`, e.log, amAddr)
	os.WriteFile(e.cfg, []byte(base+`alerts:
  - {name: ProofpointBlockRatioHigh, measure: block_ratio, window: 15m, threshold: 0.05, min_attempts: 20, for: 0s, severity: page}
`), 0o644)
	var g gen
	appendFile(t, e.log, g.lines(60)) // every third a Proofpoint block, the rest elsewhere
	d := e.start(t)
	d.waitAttempts(60)

	waitUntil(t, "the firing notification", func() bool { return notified("firing") != nil })
	n := notified("firing")
	if len(n.Alerts) != 1 {
		t.Fatalf("%d alerts: %+v", len(n.Alerts), n)
	}
	a := n.Alerts[0]
	want := map[string]string{"alertname": "ProofpointBlockRatioHigh", "severity": "page", "source_ip": "192.0.2.25"}
	for k, v := range want {
		if a.Labels[k] != v {
			t.Errorf("label %s = %q, want %q (%v)", k, a.Labels[k], v, a.Labels)
		}
	}
	if len(a.Labels) != len(want) {
		t.Errorf("labels %v", a.Labels)
	}
	if s := a.Annotations["summary"]; s != "Proofpoint blocked 100.0% of mail from 192.0.2.25 to Proofpoint-protected receivers (20 of 20 attempts in 15m)" {
		t.Errorf("summary %q", s)
	}
	if a.GeneratorURL != "http://mta1.example.net:9797/ip/192.0.2.25" || a.Annotations["report_url"] != a.GeneratorURL {
		t.Errorf("generatorURL %q, report_url %q", a.GeneratorURL, a.Annotations["report_url"])
	}

	// Without the rule the alert is resolved, and Alertmanager says so.
	os.WriteFile(e.cfg, []byte(base+"alerts: []\n"), 0o644)
	d.cmd.Process.Signal(syscall.SIGHUP)
	waitUntil(t, "the resolved notification", func() bool { return notified("resolved") != nil })
	if r := notified("resolved"); len(r.Alerts) != 1 || r.Alerts[0].Labels["alertname"] != "ProofpointBlockRatioHigh" {
		t.Errorf("resolved: %+v", r)
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
