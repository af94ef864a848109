package app

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"github.com/ppwatch/ppwatch/docs"
	"github.com/ppwatch/ppwatch/pkg/alert"
	"github.com/ppwatch/ppwatch/pkg/alerting"
	"github.com/ppwatch/ppwatch/pkg/config"
	"github.com/ppwatch/ppwatch/pkg/event"
	"github.com/ppwatch/ppwatch/pkg/internal/testkit"
	"github.com/ppwatch/ppwatch/pkg/notify"
	"github.com/ppwatch/ppwatch/pkg/store"
	"github.com/ppwatch/ppwatch/pkg/web"
)

// clock is the App's injectable clock; the tests move it.
type clock = testkit.Clock

// alertmanager stands in for Alertmanager: it records every POST.
type alertmanager struct {
	*httptest.Server
	posts chan []notify.Alert
}

func newAlertmanager(t *testing.T) *alertmanager {
	am := &alertmanager{posts: make(chan []notify.Alert, 100)}
	am.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.URL.Path != "/api/v2/alerts" || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s %s %s", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
		}
		var alerts []notify.Alert
		if err := json.Unmarshal(body, &alerts); err != nil {
			t.Errorf("body %s: %v", body, err)
		}
		am.posts <- alerts
	}))
	t.Cleanup(am.Close)
	return am
}

// next returns the next POST, failing after a deadline.
func (am *alertmanager) next(t *testing.T) []notify.Alert {
	t.Helper()
	select {
	case p := <-am.posts:
		return p
	case <-time.After(10 * time.Second):
		t.Fatal("no POST to Alertmanager")
		return nil
	}
}

// none fails if something was POSTed.
func (am *alertmanager) none(t *testing.T) {
	t.Helper()
	select {
	case p := <-am.posts:
		t.Fatalf("unexpected POST: %+v", p)
	default:
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// evaluations waits until the App has evaluated n more times.
func evaluations(t *testing.T, a *App, n float64) {
	t.Helper()
	start := float64(a.alerts.Evaluations())
	eventually(t, "evaluations", func() bool { return float64(a.alerts.Evaluations()) >= start+n })
}

func get(t *testing.T, a *App, path string) string {
	t.Helper()
	code, body := testkit.Get(t, "http://"+a.Addr()+path)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d: %s", path, code, body)
	}
	return body
}

func hasLine(text, line string) bool { return slices.Contains(strings.Split(text, "\n"), line) }

const blockLine = `%s mta1 postfix/smtp[1410]: 4C6D21A0B%02d: to=<j.smith@acme-corp.example>, relay=mx0a-00123a01.pphosted.com[148.163.150.12]:25, delay=1.2, delays=0.05/0.01/0.61/0.53, dsn=5.7.1, status=bounced (host mx0a-00123a01.pphosted.com[148.163.150.12] said: 554 5.7.1 Blocked - see https://ipcheck.proofpoint.com/?ip=192.0.2.25 (in reply to MAIL FROM command))`
const sentLine = `%s mta1 postfix/smtp[1411]: 4C6D21A0C%02d: to=<%s>, relay=mx0a-00123a01.pphosted.com[148.163.150.12]:25, delay=0.4, delays=0.05/0.01/0.2/0.14, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 4b1x9rj0ep-1)`

const reply = "554 5.7.1 Blocked - see https://ipcheck.proofpoint.com/?ip=192.0.2.25"

// writeLog writes two blocks and two deliveries to Proofpoint at 10:05.
func writeLog(t *testing.T, path string) {
	lines := []string{
		fmt.Sprintf(blockLine, "2026-11-22T10:05:01+00:00", 1),
		fmt.Sprintf(sentLine, "2026-11-22T10:05:02+00:00", 2, "a@acme-corp.example"),
		fmt.Sprintf(blockLine, "2026-11-22T10:05:03+00:00", 3),
		fmt.Sprintf(sentLine, "2026-11-22T10:05:04+00:00", 4, "b@wayne.example"),
	}
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

const testConfig = `listen: 127.0.0.1:0
state_file: %[1]s/ppwatch.db
flush_interval: 20ms
inputs: [{path: %[1]s/mail.log, mta: postfix}]
source_ips: [{mta: postfix, ip: 192.0.2.25}]
external_url: http://mta1.example.net:9797
alerting:
  eval_interval: 20ms
  resend_interval: 1m
  alertmanagers: [{url: %[2]s}]
alerts:
  - name: ProofpointBlockRatioHigh
    measure: block_ratio
    window: 15m
    threshold: %[3]s
    min_attempts: 4
    for: %[4]s
    severity: page
    labels: {team: mail}
    annotations:
      summary: "{{.SourceIP}}: {{percent .Ratio}} blocked ({{.Blocks}} of {{.Attempts}} in {{.Window}})"
      description: "{{range .TopDomains}}{{.Domain}} {{.Blocks}}/{{.Attempts}} {{end}}| {{with .TopReply}}{{.Count}}× {{.Response}}{{end}}"
`

func testApp(t *testing.T, dir, amURL, threshold, forDur string, clk *clock) *App {
	t.Helper()
	cfg, err := config.Parse([]byte(fmt.Sprintf(testConfig, dir, amURL, threshold, forDur)), "test.yml")
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(Options{Config: cfg, Logger: zerolog.New(zerolog.NewTestWriter(t)), Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

var t1 = time.Date(2026, 11, 22, 10, 11, 0, 0, time.UTC) // when the test alert fires

// alertLabels are the test alert's own labels, as the pages show them; what
// is sent adds the external labels (instance, from external_url).
var alertLabels = map[string]string{"alertname": "ProofpointBlockRatioHigh", "severity": "page", "source_ip": "192.0.2.25", "team": "mail"}

func firingAlert(startsAt, endsAt time.Time) notify.Alert {
	return notify.Alert{
		Labels: map[string]string{"alertname": "ProofpointBlockRatioHigh", "instance": "mta1.example.net:9797", "severity": "page",
			"source_ip": "192.0.2.25", "team": "mail"},
		Annotations: map[string]string{
			"summary":     "192.0.2.25: 50.0% blocked (2 of 4 in 15m)",
			"description": "acme-corp.example 2/3 wayne.example 0/1 | 2× " + reply,
			"runbook_url": "http://mta1.example.net:9797/runbook#proofpointblockratiohigh",
			"report_url":  "http://mta1.example.net:9797/ip/192.0.2.25",
		},
		StartsAt:     startsAt,
		EndsAt:       endsAt,
		GeneratorURL: "http://mta1.example.net:9797/ip/192.0.2.25",
	}
}

const firingLine = `ppwatch_alert_firing{alertname="ProofpointBlockRatioHigh",recipient_domain="",severity="page",source_ip="192.0.2.25"} 1`
const pendingLine = `ppwatch_alert_pending{alertname="ProofpointBlockRatioHigh",recipient_domain="",severity="page",source_ip="192.0.2.25"} 1`

// The whole path: log lines → store → pending → firing → Alertmanager,
// resent, kept across a restart without a second page, resolved once.
func TestAlertsEndToEnd(t *testing.T) {
	dir := t.TempDir()
	writeLog(t, filepath.Join(dir, "mail.log"))
	am := newAlertmanager(t)
	clk := testkit.NewClock(time.Date(2026, 11, 22, 10, 10, 0, 0, time.UTC))
	a := testApp(t, dir, am.URL, "0.4", "1m", clk)
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			a.Stop()
		}
	}()

	eventually(t, "pending", func() bool { return hasLine(get(t, a, "/metrics"), pendingLine) })
	am.none(t)

	// After exactly "for" it fires and is sent.
	clk.Set(t1)
	if d := cmp.Diff([]notify.Alert{firingAlert(t1, t1.Add(4*time.Minute))}, am.next(t)); d != "" {
		t.Fatalf("firing (-want +got):\n%s", d)
	}
	m := get(t, a, "/metrics")
	if !hasLine(m, firingLine) || strings.Contains(m, "ppwatch_alert_pending{") {
		t.Errorf("metrics after firing:\n%s", grep(m, "ppwatch_alert_"))
	}

	// Not again before the resend interval, then again with a later EndsAt.
	clk.Set(t1.Add(59 * time.Second))
	evaluations(t, a, 3)
	am.none(t)
	clk.Set(t1.Add(time.Minute))
	if d := cmp.Diff([]notify.Alert{firingAlert(t1, t1.Add(5*time.Minute))}, am.next(t)); d != "" {
		t.Fatalf("resend (-want +got):\n%s", d)
	}

	// The per-IP page and its JSON.
	var rep web.IPReport
	if err := json.Unmarshal([]byte(get(t, a, "/api/v1/ip/192.0.2.25")), &rep); err != nil {
		t.Fatal(err)
	}
	first, last := time.Date(2026, 11, 22, 10, 5, 1, 0, time.UTC), time.Date(2026, 11, 22, 10, 5, 3, 0, time.UTC)
	wantRep := web.IPReport{SourceIP: "192.0.2.25", GeneratedAt: t1.Add(time.Minute), LastBlock: &last,
		Windows: []web.IPWindow{
			{Window: "5m", Attempts: 0}, // 10:08..10:12 by event time
			{Window: "1h", Attempts: 4, Blocks: 2, BlockRatio: 0.5},
			{Window: "24h", Attempts: 4, Blocks: 2, BlockRatio: 0.5},
		},
		Alerts: []web.AlertView{{AlertName: "ProofpointBlockRatioHigh", Severity: "page", State: "firing",
			Labels: alertLabels, Annotations: firingAlert(t1, t1).Annotations, Value: 0.5, Attempts: 4, Blocks: 2,
			ActiveAt: time.Date(2026, 11, 22, 10, 10, 0, 0, time.UTC), FiredAt: t1, Report: "http://mta1.example.net:9797/ip/192.0.2.25"}},
		DomainsWindow: "24h",
		TopDomains:    []web.DomainCounts{{Domain: "acme-corp.example", Attempts: 3, Blocks: 2}, {Domain: "wayne.example", Attempts: 1}},
		Replies: []web.ReplyView{{SourceIP: "192.0.2.25", RecipientDomain: "acme-corp.example", Response: reply, SMTPCode: 554, EnhancedCode: "5.7.1",
			Class: "reputation", Count: 2, FirstSeen: first, LastSeen: last}},
		RepliesTotal:  1,
		DomainsStored: 2, DomainsStoredLimit: 5000, DomainsTotalLimit: 20000,
		EpisodesTotal: 2,
		History: event.IPHistory{SourceIP: "192.0.2.25", FirstSeen: time.Date(2026, 11, 22, 10, 5, 0, 0, time.UTC),
			Days: []event.DayVolume{{Day: "2026-11-22", Attempts: 4}}, Jumps: []event.VolumeJump{}},
	}
	for _, domain := range []string{"", "acme-corp.example"} {
		r := wantRep.Replies[0]
		r.RecipientDomain = domain
		attempts := uint64(4) // the IP's, in the minute of its blocks
		if domain != "" {
			attempts = 3
		}
		wantRep.Episodes = append(wantRep.Episodes, web.EpisodeView{SourceIP: "192.0.2.25", RecipientDomain: domain, Kind: "block",
			Start: first, End: last, Open: true, Attempts: attempts, Blocks: 2,
			Domains: []event.EpisodeDomain{{Domain: "acme-corp.example", Failures: 2}}, Reply: r})
	}
	if d := cmp.Diff(wantRep, rep); d != "" {
		t.Errorf("ip report (-want +got):\n%s", d)
	}
	page := get(t, a, "/ip/192.0.2.25")
	for _, want := range []string{`<h1>192.0.2.25: Blocked by Proofpoint since 10:10 UTC (reputation: Proofpoint Dynamic Reputation)</h1>`,
		`<pre>554 5.7.1 Blocked - see <a href="https://ipcheck.proofpoint.com/?ip=192.0.2.25" rel="noreferrer noopener">https://ipcheck.proofpoint.com/?ip=192.0.2.25</a></pre>`, `<td class="firing">firing</td>`,
		"192.0.2.25: 50.0% blocked (2 of 4 in 15m)"} {
		if !strings.Contains(page, want) {
			t.Errorf("ip page lacks %q:\n%s", want, page)
		}
	}
	if list := get(t, a, "/alerts"); !strings.Contains(list, `<a href="/ip/192.0.2.25">192.0.2.25</a>`) {
		t.Errorf("alerts page:\n%s", list)
	}
	if !strings.Contains(get(t, a, "/"), `href="/alerts"`) {
		t.Error("status page does not link the alerts")
	}

	// A restart keeps the firing alert: exposed at once, not sent again
	// before its resend time, never resolved, same StartsAt.
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	stopped = true
	clk.Set(t1.Add(time.Minute + 10*time.Second))
	a = testApp(t, dir, am.URL, "0.4", "1m", clk)
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	stopped = false
	if m := get(t, a, "/metrics"); !hasLine(m, firingLine) {
		t.Errorf("firing not exposed right after the restart:\n%s", grep(m, "ppwatch_alert_"))
	}
	evaluations(t, a, 3)
	am.none(t)
	clk.Set(t1.Add(2 * time.Minute))
	if d := cmp.Diff([]notify.Alert{firingAlert(t1, t1.Add(6*time.Minute))}, am.next(t)); d != "" {
		t.Fatalf("resend after restart (-want +got):\n%s", d)
	}

	// The window passes the blocks by (10:05 is outside 15m at 10:20):
	// resolved, sent once with EndsAt = the resolve time, saying so.
	resolved := time.Date(2026, 11, 22, 10, 20, 0, 0, time.UTC)
	clk.Set(resolved)
	want := firingAlert(t1, resolved)
	want.Annotations["summary"] = "Resolved: ProofpointBlockRatioHigh for 192.0.2.25 (fired 2026-11-22T10:11:00Z, resolved 2026-11-22T10:20:00Z)"
	want.Annotations["description"] = "ProofpointBlockRatioHigh for 192.0.2.25 resolved at 2026-11-22T10:20:00Z: its condition no longer holds (it had fired for 9m).\n" +
		"When it last fired: 192.0.2.25: 50.0% blocked (2 of 4 in 15m)"
	if d := cmp.Diff([]notify.Alert{want}, am.next(t)); d != "" {
		t.Fatalf("resolved (-want +got):\n%s", d)
	}
	clk.Set(resolved.Add(2 * time.Minute))
	evaluations(t, a, 3)
	am.none(t)
	if m := get(t, a, "/metrics"); strings.Contains(m, "ppwatch_alert_firing{") || strings.Contains(m, "ppwatch_alert_pending{") {
		t.Errorf("alert series left:\n%s", grep(m, "ppwatch_alert_"))
	}
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	stopped = true
	st, err := store.Open(filepath.Join(dir, "ppwatch.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if saved, err := st.LoadAlerts(); err != nil || len(saved) != 0 {
		t.Errorf("saved state after the resolve: %+v, %v", saved, err)
	}
}

// A pending alert keeps the time its condition began across a restart, so
// its "for" is not started again.
func TestPendingSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	writeLog(t, filepath.Join(dir, "mail.log"))
	am := newAlertmanager(t)
	clk := testkit.NewClock(time.Date(2026, 11, 22, 10, 10, 0, 0, time.UTC))
	a := testApp(t, dir, am.URL, "0.4", "2m", clk)
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "pending", func() bool { return hasLine(get(t, a, "/metrics"), pendingLine) })
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	clk.Set(time.Date(2026, 11, 22, 10, 12, 0, 0, time.UTC))
	a = testApp(t, dir, am.URL, "0.4", "2m", clk)
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	defer a.Stop()
	got := am.next(t)
	if len(got) != 1 || !got[0].StartsAt.Equal(clk.Now()) {
		t.Errorf("fired: %+v", got)
	}
	if as := a.alerts.Snapshot(); len(as) != 1 || !as[0].ActiveAt.Equal(time.Date(2026, 11, 22, 10, 10, 0, 0, time.UTC)) {
		t.Errorf("state %+v", as)
	}
}

// A new threshold takes effect through Reload, without a restart.
func TestReloadThreshold(t *testing.T) {
	dir := t.TempDir()
	writeLog(t, filepath.Join(dir, "mail.log"))
	am := newAlertmanager(t)
	clk := testkit.NewClock(time.Date(2026, 11, 22, 10, 10, 0, 0, time.UTC))
	a := testApp(t, dir, am.URL, "0.5", "0s", clk) // 2 of 4 is not above 0.5
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	defer a.Stop()
	eventually(t, "the attempts read", func() bool {
		return hasLine(get(t, a, "/metrics"), `ppwatch_proofpoint_window_attempts{source_ip="192.0.2.25",window="1h"} 4`)
	})
	evaluations(t, a, 3)
	am.none(t)

	bad, err := config.Parse([]byte(fmt.Sprintf(testConfig, dir, "http://127.0.0.1:1", "0.4", "0s")), "test.yml")
	if err != nil {
		t.Fatal(err)
	}
	bad.Alerting.Alertmanagers[0].BearerTokenFile = filepath.Join(dir, "no-such-token")
	if err := a.Reload(bad); err == nil {
		t.Fatal("a target with a missing token file was taken")
	}
	if testutil.ToFloat64(a.self.ReloadSuccess) != 0 {
		t.Error("refused reload not recorded")
	}

	cfg, err := config.Parse([]byte(fmt.Sprintf(testConfig, dir, am.URL, "0.4", "0s")), "test.yml")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	now := clk.Now()
	if d := cmp.Diff([]notify.Alert{firingAlert(now, now.Add(4*time.Minute))}, am.next(t)); d != "" {
		t.Fatalf("after reload (-want +got):\n%s", d)
	}
	if !hasLine(get(t, a, "/metrics"), firingLine) {
		t.Error("not firing")
	}
}

// alerting.external_labels go on every alert sent, a rule's own label
// wins over one of them, and alerting.runbook_url is where runbook_url
// points; the state and the pages keep the alert's own labels.
func TestExternalLabelsAndRunbookURL(t *testing.T) {
	dir := t.TempDir()
	writeLog(t, filepath.Join(dir, "mail.log"))
	am := newAlertmanager(t)
	clk := testkit.NewClock(t1)
	cfg, err := config.Parse([]byte(fmt.Sprintf(testConfig, dir, am.URL, "0.4", "0s")), "test.yml")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Alerting.ExternalLabels = map[string]string{"instance": "mta1", "region": "eu", "team": "not-mail"}
	cfg.Alerting.RunbookURL = "https://wiki.example.net/ppwatch/runbook"
	a, err := New(Options{Config: cfg, Logger: zerolog.New(zerolog.NewTestWriter(t)), Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	defer a.Stop()
	want := firingAlert(t1, t1.Add(4*time.Minute))
	want.Labels["instance"], want.Labels["region"] = "mta1", "eu"
	want.Annotations["runbook_url"] = "https://wiki.example.net/ppwatch/runbook#proofpointblockratiohigh"
	if d := cmp.Diff([]notify.Alert{want}, am.next(t)); d != "" {
		t.Fatalf("(-want +got):\n%s", d)
	}
	if as := a.alerts.Snapshot(); len(as) != 1 || !cmp.Equal(as[0].Labels, alertLabels) {
		t.Errorf("state %+v", as)
	}
}

// The daemon serves its runbook at /runbook, where the alerts' runbook_url
// lands on the alert's section, and ppwatch_web_info tells dashboards its
// URL: external_url, else this host's name and the port it listens on.
func TestRunbookAndWebInfo(t *testing.T) {
	dir := t.TempDir()
	writeLog(t, filepath.Join(dir, "mail.log"))
	am := newAlertmanager(t)
	clk := testkit.NewClock(t1)
	a := testApp(t, dir, am.URL, "0.4", "0s", clk)
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	sent := am.next(t)
	a.Stop()
	link := sent[0].Annotations["runbook_url"]
	path, anchor, _ := strings.Cut(strings.TrimPrefix(link, "http://mta1.example.net:9797"), "#")
	if path != "/runbook" || anchor != "proofpointblockratiohigh" {
		t.Fatalf("runbook_url %q", link)
	}

	// A fresh state, so that the alert is sent again at once.
	dir = t.TempDir()
	writeLog(t, filepath.Join(dir, "mail.log"))
	cfg, err := config.Parse([]byte(fmt.Sprintf(testConfig, dir, am.URL, "0.4", "0s")), "test.yml")
	if err != nil {
		t.Fatal(err)
	}
	cfg.ExternalURL = ""
	a, err = New(Options{Config: cfg, Logger: zerolog.New(zerolog.NewTestWriter(t)), Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	defer a.Stop()
	resp, err := http.Get("http://" + a.Addr() + path)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" || string(body) != string(docs.RunbookHTML()) {
		t.Errorf("GET /runbook: %s %q, %d bytes", resp.Status, resp.Header.Get("Content-Type"), len(body))
	}
	if !strings.Contains(string(body), `<h2 id="`+anchor+`">`) {
		t.Errorf("the runbook has no section #%s", anchor)
	}
	if !strings.Contains(get(t, a, "/"), `href="/runbook"`) {
		t.Error("status page does not link the runbook")
	}
	host, _ := os.Hostname()
	_, port, _ := strings.Cut(a.Addr(), ":")
	want := `ppwatch_web_info{external_url="http://` + host + ":" + port + `"} 1`
	if m := get(t, a, "/metrics"); !hasLine(m, want) {
		t.Errorf("no %s in\n%s", want, grep(m, "ppwatch_web_info"))
	}
	if got := am.next(t)[0].Labels["instance"]; got != host+":"+port {
		t.Errorf("instance %q, want %s:%s", got, host, port)
	}
}

// The shipped rules' annotations give the on-call person the IP, ratio,
// counts, window, top domains, the verbatim reply and both links.
func TestDefaultAnnotations(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "ppwatch.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 11, 22, 10, 15, 30, 0, time.UTC)
	b := store.NewBatch()
	add := func(n int, at time.Time, domain, outcome, status string) {
		for range n {
			b.Add(at, store.Series{MTA: "postfix", SourceIP: "192.0.2.25", RecipientDomain: domain, Status: status, Class: "reputation",
				Proofpoint: true, Outcome: outcome})
		}
	}
	add(30, now.Add(-10*time.Minute), "acme.example", "", "delivered")
	add(3, now.Add(-10*time.Minute), "acme.example", "block", "bounced")
	add(6, now.Add(-5*time.Minute), "wayne.example", "block", "bounced")
	add(1, now.Add(-5*time.Minute), "wayne.example", "deferral", "deferred")
	add(50, now.Add(-20*time.Minute), "acme.example", "block", "bounced") // outside 15m
	add(5, now.Add(-time.Minute), "other.example", "", "delivered")
	b.AddReply(now.Add(-5*time.Minute), store.Reply{SourceIP: "192.0.2.25", RecipientDomain: "wayne.example", Response: reply, SMTPCode: 554,
		EnhancedCode: "5.7.1", Class: "reputation"})
	b.AddReply(now.Add(-4*time.Minute), store.Reply{SourceIP: "192.0.2.25", RecipientDomain: "wayne.example", Response: reply, SMTPCode: 554,
		EnhancedCode: "5.7.1", Class: "reputation"})
	if err := st.Apply(b); err != nil {
		t.Fatal(err)
	}
	var rules []*alert.Rule
	for _, r := range config.DefaultAlerts() {
		ar, err := alerting.Rule(r)
		if err != nil {
			t.Fatal(err)
		}
		ar.For = 0
		rules = append(rules, ar)
	}
	e := &alert.Evaluator{Rules: rules[:1], ExternalURL: "http://mta1.example.net:9797", RunbookURL: "http://mta1.example.net:9797/runbook"}
	res, err := e.Eval(now, alerting.StoreSource{Store: st}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := res.Alerts.Sorted()
	if len(got) != 1 {
		t.Fatalf("%d alerts", len(got))
	}
	want := map[string]string{
		"summary": "Proofpoint blocks 20.0% of mail from 192.0.2.25 (9 of 45 attempts in 15m)",
		"description": "9 of 45 delivery attempts from 192.0.2.25 to Proofpoint-protected receivers were blocked in the last 15m (20.0%; the threshold is 5.0%).\n" +
			"Top recipient domains (blocks/attempts): wayne.example 6/7, acme.example 3/33, other.example 0/5.\n" +
			"Most frequent reply (class reputation, 2 times, first seen 2026-11-22T10:10:30Z, last seen 2026-11-22T10:11:30Z):\n" +
			reply + "\n" +
			"Report: http://mta1.example.net:9797/ip/192.0.2.25\n" +
			"Runbook: http://mta1.example.net:9797/runbook#proofpointblockratiohigh",
		"runbook_url": "http://mta1.example.net:9797/runbook#proofpointblockratiohigh",
		"report_url":  "http://mta1.example.net:9797/ip/192.0.2.25",
	}
	if d := cmp.Diff(want, got[0].Annotations); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}

	// The domain rule is one alert per (IP, domain), over 1h; wayne.example's
	// 7 attempts are fewer than its min_attempts 10.
	e.Rules = rules[2:]
	summaries := func() []string {
		res, err := e.Eval(now, alerting.StoreSource{Store: st}, nil)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, a := range res.Alerts.Sorted() {
			out = append(out, a.Labels["source_ip"]+" "+a.Labels["recipient_domain"]+": "+a.Annotations["summary"])
		}
		return out
	}
	if d := cmp.Diff([]string{
		"192.0.2.25 acme.example: Proofpoint at acme.example blocks 63.9% of mail from 192.0.2.25 (53 of 83 attempts in 1h)",
	}, summaries()); d != "" {
		t.Error(d)
	}
	e.Rules[0].MinAttempts = 5
	if d := cmp.Diff([]string{
		"192.0.2.25 acme.example: Proofpoint at acme.example blocks 63.9% of mail from 192.0.2.25 (53 of 83 attempts in 1h)",
		"192.0.2.25 wayne.example: Proofpoint at wayne.example blocks 85.7% of mail from 192.0.2.25 (6 of 7 attempts in 1h)",
	}, summaries()); d != "" {
		t.Error(d)
	}

	// A rule of the user's without annotations gets a summary and a
	// description of its measure and grouping.
	cfg, err := config.Parse([]byte("alerts:\n  - {name: DomainDeferrals, measure: deferrals, by: recipient_domain, window: 15m, threshold: 0}\n"), "user.yml")
	if err != nil {
		t.Fatal(err)
	}
	ar, err := alerting.Rule(cfg.Alerts[0])
	if err != nil {
		t.Fatal(err)
	}
	e.Rules = []*alert.Rule{ar}
	res, err = e.Eval(now, alerting.StoreSource{Store: st}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got = res.Alerts.Sorted()
	if len(got) != 1 {
		t.Fatalf("%d alerts", len(got))
	}
	want = map[string]string{
		"summary": "Proofpoint deferred 14.3% of mail to wayne.example (1 of 7 attempts in 15m)",
		"description": "1 of 7 delivery attempts to wayne.example were deferred in the last 15m (14.3%; the alert is above 0 deferrals).\n" +
			"Top recipient domains (deferrals/attempts): wayne.example 1/7.\n" +
			"Report: http://mta1.example.net:9797/alerts\n" +
			"Runbook: http://mta1.example.net:9797/runbook#the-first-five-minutes-all-proofpoint-alerts",
		"runbook_url": "http://mta1.example.net:9797/runbook#the-first-five-minutes-all-proofpoint-alerts",
		"report_url":  "http://mta1.example.net:9797/alerts",
	}
	if d := cmp.Diff(want, got[0].Annotations); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func grep(text, prefix string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// The IP page lists the most frequent replies only, and says how many there are.
func TestIPPageRepliesBounded(t *testing.T) {
	dir := t.TempDir()
	clk := testkit.NewClock(t1)
	a := testApp(t, dir, "http://127.0.0.1:1", "0.05", "0s", clk)
	defer a.Stop()
	b := store.NewBatch()
	for i := range web.MaxPageReplies + 7 {
		r := store.Reply{SourceIP: "192.0.2.25", RecipientDomain: fmt.Sprintf("d%04d.example", i), Response: "550 5.7.1 Blocked",
			SMTPCode: 550, EnhancedCode: "5.7.1", Class: "reputation"}
		for range 1 + i%3 {
			b.AddReply(t1, r)
		}
	}
	b.AddReply(t1, store.Reply{SourceIP: "198.51.100.7", RecipientDomain: "x.example", Response: "421 Deferred", SMTPCode: 421})
	if err := a.store.Apply(b); err != nil {
		t.Fatal(err)
	}
	rep, err := a.IPReport("192.0.2.25", "192.0.2.25")
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Replies) != web.MaxPageReplies || rep.RepliesTotal != web.MaxPageReplies+7 {
		t.Fatalf("%d replies listed, total %d", len(rep.Replies), rep.RepliesTotal)
	}
	// 169 replies were seen 3 times: all are listed, first.
	if rep.Replies[0].Count != 3 || rep.Replies[168].Count != 3 || rep.Replies[169].Count != 2 || rep.Replies[web.MaxPageReplies-1].Count != 1 {
		t.Errorf("not the most frequent first: %d %d %d %d", rep.Replies[0].Count, rep.Replies[168].Count, rep.Replies[169].Count, rep.Replies[web.MaxPageReplies-1].Count)
	}
}
