package app

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/crypto/bcrypt"

	"github.com/ppwatch/ppwatch/pkg/config"
	"github.com/ppwatch/ppwatch/pkg/internal/testkit"
)

var update = flag.Bool("update", false, "rewrite the API goldens in testdata/status")

// chromium is the headless browser of TestStatusPagesInChromium (make
// check-browser); the test skips without it.
var chromium = flag.String("chromium", "", "path of a Chromium binary for the browser test")

const pmtaHeader = "type,timeLogged,timeQueued,orig,rcpt,orcpt,dsnAction,dsnStatus,dsnDiag,dsnMta,bounceCat,srcType,srcMta,dlvType,dlvSourceIp,dlvDestinationIp,dlvEsmtpAvailable,dlvSize,vmta,jobId,envId,queue,vmtaPool"

// pmtaLine is a PowerMTA accounting record to a Proofpoint-protected MX,
// as testdata/pmta/sample.log has them.
func pmtaLine(at time.Time, ip, rcpt, diag string) string {
	typ, action, status := "d", "relayed", "2.0.0 (success)"
	switch {
	case strings.HasPrefix(diag, "5"):
		typ, action, status = "b", "failed", "5.7.0 (other or undefined security status)"
	case strings.HasPrefix(diag, "4"):
		typ, action, status = "t", "delayed", "4.7.0 (other or undefined security status)"
	}
	domain := rcpt[strings.LastIndex(rcpt, "@")+1:]
	return fmt.Sprintf("%s,%s,%s,bounces@bounce.example.com,%s,,%s,%s,%s,mx0a-00123a01.pphosted.com (148.163.156.1),policy-related,smtp,app01.example.com (192.0.2.20),smtp,%s,148.163.156.1,\"PIPELINING,8BITMIME,SIZE,STARTTLS,ENHANCEDSTATUSCODES,DSN\",48213,vmta,job,,%s,news",
		typ, at.Format("2006-01-02 15:04:05-0700"), at.Add(-time.Minute).Format("2006-01-02 15:04:05-0700"), csvField(rcpt), action, status, csvField("smtp;"+diag), ip, csvField(domain+"/vmta"))
}

func csvField(s string) string {
	if strings.ContainsAny(s, `",`) {
		return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
	}
	return s
}

// demoNow is the time of the demo data: 03:00 UTC, a block under way.
var demoNow = time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)

const (
	accepted = "250 2.0.0 4a0111x7k1q-1 Message accepted for delivery"
	blocked  = "550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=203.0.113.11"
	deferred = "421 4.7.0 Deferred - see https://ipcheck.proofpoint.com/?ip=203.0.113.11"
	slowed   = "421 Deferred - see https://ipcheck.proofpoint.com/?ip=203.0.113.12"
)

// demoLog is a week of three IPs: 203.0.113.10 delivers, 203.0.113.11 is
// deferred from 01:00 and blocked from 02:14, 203.0.113.12 is deferred
// from 02:30.
func demoLog() []string {
	lines := []string{pmtaHeader}
	for h := 7 * 24; h > 0; h-- {
		at := demoNow.Add(-time.Duration(h) * time.Hour)
		lines = append(lines, pmtaLine(at, "203.0.113.10", "j.smith@acme.example", accepted), pmtaLine(at.Add(time.Minute), "203.0.113.10", "sales@globex.example", accepted))
		if at.Before(demoNow.Add(-2 * time.Hour)) {
			lines = append(lines, pmtaLine(at.Add(2*time.Minute), "203.0.113.11", "ceo@acme.example", accepted))
		}
	}
	for at := demoNow.Add(-2 * time.Hour); at.Before(demoNow); at = at.Add(time.Minute) {
		rcpt := []string{"ceo@acme.example", "sales@globex.example", "it@initech.example"}[at.Minute()%3]
		switch {
		case at.Before(time.Date(2026, 11, 22, 2, 14, 0, 0, time.UTC)):
			lines = append(lines, pmtaLine(at, "203.0.113.11", rcpt, deferred))
		default:
			lines = append(lines, pmtaLine(at, "203.0.113.11", rcpt, blocked))
		}
		lines = append(lines, pmtaLine(at.Add(30*time.Second), "203.0.113.11", "ceo@acme.example", accepted))
		if !at.Before(demoNow.Add(-30 * time.Minute)) {
			lines = append(lines, pmtaLine(at, "203.0.113.12", "ap@acme.example", slowed), pmtaLine(at.Add(20*time.Second), "203.0.113.12", "ap@acme.example", accepted))
		}
	}
	return lines
}

const statusConfig = `listen: 127.0.0.1:0
state_file: %[1]s/ppwatch.db
flush_interval: 20ms
inputs: [{path: '%[1]s/acct-*.csv', mta: pmta}]
external_url: http://mta1.example.net:9797
alerting: {eval_interval: 20ms, resend_interval: 1m}
`

// statusApp runs the daemon over lines, with the default alert rules, and
// moves its clock to at (the alerts pending and firing as they would have
// become by then when evaluated along the way).
func statusApp(t *testing.T, lines []string, clocks ...time.Time) *App {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "acct-2026-11-22.csv"), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse([]byte(fmt.Sprintf(statusConfig, dir)), "status.yml")
	if err != nil {
		t.Fatal(err)
	}
	clk := testkit.NewClock(clocks[0])
	a, err := New(Options{Config: cfg, Logger: zerolog.New(zerolog.NewTestWriter(t)), Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Stop() })
	want := uint64(len(lines) - 1)
	eventually(t, "every line counted", func() bool {
		var n uint64
		for _, at := range a.Snapshot(clk.Now()).Attempts {
			n += at.N
		}
		return n == want
	})
	for _, c := range clocks {
		clk.Set(c)
		evaluations(t, a, 3)
	}
	return a
}

// demoApp is the demo: the block began at 02:14, the alerts saw it at
// 02:20 and fired at 02:31; it is 03:00.
func demoApp(t *testing.T) *App {
	return statusApp(t, demoLog(), time.Date(2026, 11, 22, 2, 20, 0, 0, time.UTC), time.Date(2026, 11, 22, 2, 31, 0, 0, time.UTC), demoNow)
}

// The API's answers over the demo, byte for byte (go test ./pkg/app -run
// APIGoldens -update rewrites them; README quotes them).
func TestAPIGoldens(t *testing.T) {
	a := demoApp(t)
	for _, c := range []struct {
		path, golden string
		code         int
	}{
		{"/api/v1/summary?pretty", "summary.json", 200},
		{"/api/v1/ips?pretty", "ips.json", 200},
		{"/api/v1/ips/203.0.113.11?pretty", "ip.json", 200},
		{"/api/v1/ips/203.0.113.11/replies?pretty", "replies.json", 200},
		{"/api/v1/ips/203.0.113.11/timeline?since=2026-11-22T00:00:00Z&step=30m&pretty", "timeline.json", 200},
		{"/api/v1/inputs?pretty", "inputs.json", 200},
		{"/api/v1/?pretty", "index.json", 200},
		{"/api/v1/ips/198.51.100.1", "unknown-ip.json", 404},
		{"/api/v1/ips/203.0.113.999", "bad-ip.json", 400},
		{"/api/v1/ips/203.0.113.11/timeline?step=90s", "bad-step.json", 400},
		{"/api/v1/nothing", "no-endpoint.json", 404},
	} {
		code, body := testkit.Get(t, "http://"+a.Addr()+c.path)
		body = strings.ReplaceAll(body, a.dir(), "{dir}")
		if code != c.code {
			t.Errorf("%s: %d, want %d\n%s", c.path, code, c.code, body)
		}
		path := filepath.Join("testdata", "status", c.golden)
		if *update {
			if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if body != string(want) {
			t.Errorf("%s differs from %s:\n%s", c.path, path, body)
		}
	}
}

// dir is the directory of the App's state file (the tests' temporary one).
func (a *App) dir() string { return filepath.Dir(a.cfg.StateFile) }

// run is chromium's output for the browser test.
func run(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(*chromium, args...).Output()
	if err != nil {
		t.Fatalf("%s %s: %v", *chromium, strings.Join(args, " "), err)
	}
	return string(out)
}

// has fails unless body holds each fragment exactly.
func has(t *testing.T, what, body string, fragments ...string) {
	t.Helper()
	for _, f := range fragments {
		if !strings.Contains(body, f) {
			t.Errorf("%s lacks %s", what, f)
		}
	}
}

// The status page: a row per IP, worst first, coloured and saying its
// state, the thresholds marked, the top reply shortened with the whole on
// hover; the firing alert and the input above it.
func TestStatusPage(t *testing.T) {
	a := demoApp(t)
	code, body := testkit.Get(t, "http://"+a.Addr()+"/")
	if code != 200 {
		t.Fatalf("/: %d", code)
	}
	has(t, "/", body,
		`<meta http-equiv="refresh" content="30"><title>ppwatch: 1 blocked, 1 deferred</title>`,
		`<p>1 blocked, 1 deferred, 1 clean. Data as of 2026-11-22T03:00:00Z; ppwatch devel.`,
		`<tr><td>ProofpointBlockRatioHigh</td><td>page</td><td class="firing">firing</td><td><a href="/ip/203.0.113.11">203.0.113.11</a></td><td>2026-11-22T02:20:00Z</td><td>Proofpoint blocks 50.0% of mail from 203.0.113.11 (14 of 28 attempts in 15m)</td></tr>`,
		`<td class="n">1</td><td class="n">803</td><td class="n">–</td><td>2026-11-22T02:20:00Z</td>`,
		`<tr class="blocked"><td><strong>BLOCKED</strong><br><small>ProofpointBlockRatioHigh firing</small></td><td><a href="/ip/203.0.113.11">203.0.113.11</a></td><td class="n">50.0% / 0.0%</td><td class="n"><span class="over">50.0% over 5.0%</span> / 0.0%</td>`,
		`<td>02:59 UTC</td><td><span title="550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=203.0.113.11">550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=203.0.113.11</span> <small>(46×)</small></td>`,
		`<tr class="deferred"><td><strong>DEFERRED</strong><br><small>ProofpointDeferralRatioHigh pending</small></td><td><a href="/ip/203.0.113.12">203.0.113.12</a></td>`,
		`<td class="n">0.0% / <span class="over">50.0% over 20.0%</span></td>`,
		`<tr class="clean"><td><strong>CLEAN</strong></td><td><a href="/ip/203.0.113.10">203.0.113.10</a></td>`,
		`<a href="/metrics">metrics</a><a href="/alerts">alerts</a><a href="/runbook">runbook</a><a href="/api/v1/">API</a>`)
	if i, j, k := strings.Index(body, "BLOCKED"), strings.Index(body, "DEFERRED"), strings.Index(body, "CLEAN"); !(i < j && j < k) {
		t.Errorf("rows not worst first: %d %d %d", i, j, k)
	}
	_, off := testkit.Get(t, "http://"+a.Addr()+"/?refresh=0")
	if strings.Contains(off, "http-equiv") || !strings.Contains(off, `Not reloading (<a href="/">reload every 30 s</a>)`) {
		t.Error("?refresh=0 still reloads")
	}
	if _, idx := testkit.Get(t, "http://"+a.Addr()+"/ip/?refresh=0"); idx != off {
		t.Error("/ip/ is not the status page")
	}
}

// The IP page: the banner with the state, since, class and next step;
// replies grouped by text with the lookup URL a link; the hourly bars.
func TestIPPage(t *testing.T) {
	a := demoApp(t)
	_, body := testkit.Get(t, "http://"+a.Addr()+"/ip/203.0.113.11")
	has(t, "/ip/203.0.113.11", body,
		`<div class="banner blocked"><h1>203.0.113.11: Blocked by Proofpoint since 02:20 UTC (reputation: Proofpoint Dynamic Reputation)</h1>`,
		`<p>Why: ProofpointBlockRatioHigh firing. Latest block 02:59 UTC.</p>`,
		`<p>Next step: Fix the sender side first (PTR, SPF, DKIM, DMARC, blocklists: ppwatch check), slow down to the affected domains and pause bulk mail from the IP; if it does not lift, open a case with Proofpoint with the report. (<a href="/runbook#fix-the-sender-side-first">runbook</a>)</p>`,
		`<a href="/ip/203.0.113.11/report">Evidence report for Proofpoint</a>`,
		`<tr class="blocked"><td class="n">46</td><td>block</td><td>reputation</td><td><pre>550 5.7.0 Blocked - see <a href="https://ipcheck.proofpoint.com/?ip=203.0.113.11" rel="noreferrer noopener">https://ipcheck.proofpoint.com/?ip=203.0.113.11</a></pre></td><td>3: initech.example (16), acme.example (15), globex.example (15)</td><td>2026-11-22T02:14:00Z</td><td>2026-11-22T02:59:00Z</td></tr>`,
		`<tr class="deferred"><td class="n">74</td><td>deferral</td>`,
		`<h2>Proofpoint attempts per 1h, 2026-11-15T03:00:00Z to 2026-11-22T04:00:00Z</h2>`,
		`<g><title>2026-11-22 01:00 UTC: 120 attempts, 0 blocks, 60 deferrals</title><rect x="870" y="10" width="5" height="70" fill="#9ab"/><rect x="870" y="80" width="5" height="70" fill="#e90"/></g>`,
		`<g><title>2026-11-22 02:00 UTC: 120 attempts, 46 blocks, 14 deferrals</title><rect x="875" y="10" width="5" height="70" fill="#9ab"/><rect x="875" y="80" width="5" height="16" fill="#e90"/><rect x="875" y="96" width="5" height="54" fill="#c00"/></g>`,
		`<line x1="865" y1="10" x2="865" y2="150" stroke="#ddd"/><text x="865" y="170" font-size="11">Sun 22 Nov</text>`,
		`<td class="n over">50.0% (alert &gt; 5.0%)</td>`)
	if n := strings.Count(body, "<g><title>"); n != 169 {
		t.Errorf("%d bars, want 169 (7 days and the hour of now)", n)
	}
	_, clean := testkit.Get(t, "http://"+a.Addr()+"/ip/203.0.113.10")
	has(t, "/ip/203.0.113.10", clean, `<div class="banner clean"><h1>203.0.113.10: No Proofpoint failures in 24h</h1>`, `<p>No Proofpoint reply kept.</p>`)
	_, slow := testkit.Get(t, "http://"+a.Addr()+"/ip/203.0.113.12")
	has(t, "/ip/203.0.113.12", slow, `<div class="banner deferred"><h1>203.0.113.12: Deferred by Proofpoint since 03:00 UTC (reputation: Proofpoint Dynamic Reputation)</h1>`)
}

// An IP never seen is a 404 that says so and lists the known ones; a
// malformed one is a 400. Neither looks like all-clear.
func TestIPPageErrors(t *testing.T) {
	a := demoApp(t)
	code, body := testkit.Get(t, "http://"+a.Addr()+"/ip/198.51.100.1")
	if code != 404 {
		t.Errorf("never seen: %d", code)
	}
	has(t, "404 page", body, `<h1>404 Not Found</h1>
<p>ppwatch has never seen a delivery attempt from 198.51.100.1: is it a sending IP of this host?</p>
<h2>Sending IPs ppwatch knows</h2>
<ul><li><a href="/ip/203.0.113.11">203.0.113.11</a> (blocked)</li>
<li><a href="/ip/203.0.113.12">203.0.113.12</a> (deferred)</li>
<li><a href="/ip/203.0.113.10">203.0.113.10</a> (clean)</li>
</ul>`)
	code, body = testkit.Get(t, "http://"+a.Addr()+"/ip/203.0.113.999")
	if code != 400 {
		t.Errorf("malformed: %d", code)
	}
	has(t, "400 page", body, `<h1>400 Bad Request</h1>
<p>&#34;203.0.113.999&#34; is not an IP address</p>`)
}

// Replies and domains come from the network: nothing of them reaches a
// page or a response unescaped.
func TestPagesEscapeRepliesAndDomains(t *testing.T) {
	evil := `550 5.7.1 <script>alert("r")</script> Blocked - see https://ipcheck.proofpoint.com/?ip=203.0.113.11"onmouseover="alert(1)`
	lines := []string{pmtaHeader}
	for i := range 25 {
		lines = append(lines, pmtaLine(demoNow.Add(-time.Duration(i+1)*time.Minute), "203.0.113.11", `x@o'neil"<script>.example`, evil))
	}
	a := statusApp(t, lines, demoNow)
	for _, p := range []string{"/", "/ip/203.0.113.11", "/ip/203.0.113.11/report", "/alerts", "/api/v1/summary", "/api/v1/ips/203.0.113.11", "/api/v1/ips/203.0.113.11/replies",
		"/api/v1/ips/203.0.113.11/report", "/api/v1/ip/203.0.113.11"} {
		code, body := testkit.Get(t, "http://"+a.Addr()+p)
		if code != http.StatusOK {
			t.Errorf("%s: %d, want 200 (an error page would carry no reply to escape)", p, code)
		}
		raws := []string{"<script>", `"onmouseover`, `o'neil"`}
		if strings.HasPrefix(p, "/api/") {
			raws = raws[:1] // JSON's own escapes (\") are the quotes' safety
		}
		for _, raw := range raws {
			if strings.Contains(body, raw) {
				t.Errorf("%s carries %s unescaped", p, raw)
			}
		}
	}
	_, page := testkit.Get(t, "http://"+a.Addr()+"/ip/203.0.113.11")
	has(t, "escaped page", page,
		`<pre>550 5.7.1 &lt;script&gt;alert(&#34;r&#34;)&lt;/script&gt; Blocked - see <a href="https://ipcheck.proofpoint.com/?ip=203.0.113.11" rel="noreferrer noopener">https://ipcheck.proofpoint.com/?ip=203.0.113.11</a>&#34;onmouseover=&#34;alert(1)</pre>`,
		`<td>1: o&#39;neil&#34;&lt;script&gt;.example (25)</td>`)
	_, js := testkit.Get(t, "http://"+a.Addr()+"/api/v1/ips/203.0.113.11/replies")
	has(t, "escaped JSON", js, `"response":"550 5.7.1 \u003cscript\u003ealert(\"r\")\u003c/script\u003e Blocked`, `"recipient_domain":"o'neil\"\u003cscript\u003e.example"`)
}

// Basic auth of the web config covers every page and API path, as it
// covers /metrics.
func TestBasicAuthCoversPagesAndAPI(t *testing.T) {
	dir := t.TempDir()
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	webCfg := filepath.Join(dir, "web.yml")
	if err := os.WriteFile(webCfg, []byte("basic_auth_users:\n  oncall: "+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "acct-2026-11-22.csv"), []byte(strings.Join(demoLog()[:50], "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse([]byte(fmt.Sprintf(statusConfig, dir)), "status.yml")
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(Options{Config: cfg, WebConfigFile: webCfg, Logger: zerolog.New(zerolog.NewTestWriter(t)), Now: func() time.Time { return demoNow }})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	defer a.Stop()
	for _, p := range []string{"/", "/?refresh=0", "/ip/", "/ip/203.0.113.10", "/ip/198.51.100.1", "/alerts", "/runbook", "/metrics",
		"/api/v1/", "/api/v1/summary", "/api/v1/ips", "/api/v1/ips/203.0.113.10", "/api/v1/ips/203.0.113.10/replies",
		"/api/v1/ips/203.0.113.10/timeline", "/api/v1/inputs", "/api/v1/ip/203.0.113.10", "/api/v1/nothing"} {
		req, _ := http.NewRequest("GET", "http://"+a.Addr()+p, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s without credentials: %d", p, resp.StatusCode)
		}
		req.SetBasicAuth("oncall", "s3cret")
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if want := map[bool]int{true: 404, false: 200}[p == "/ip/198.51.100.1" || p == "/api/v1/nothing"]; resp.StatusCode != want {
			t.Errorf("%s with credentials: %d, want %d", p, resp.StatusCode, want)
		}
	}
}

// The status page and an IP page in a real browser (make check-browser):
// the text a person sees, and that a screenshot renders.
func TestStatusPagesInChromium(t *testing.T) {
	if *chromium == "" {
		t.Skip("browser test skipped: no -chromium flag (make check-browser runs it with Debian's chromium)")
	}
	a := demoApp(t)
	out := t.TempDir()
	for _, c := range []struct {
		path string
		text []string
	}{
		{"/?refresh=0", []string{"1 blocked, 1 deferred, 1 clean.", "BLOCKED", "ProofpointBlockRatioHigh firing", "50.0% over 5.0%", "DEFERRED", "CLEAN"}},
		{"/ip/203.0.113.11", []string{"203.0.113.11: Blocked by Proofpoint since 02:20 UTC (reputation: Proofpoint Dynamic Reputation)",
			"Next step: Fix the sender side first", "2026-11-22 02:00 UTC: 120 attempts, 46 blocks, 14 deferrals", "3: initech.example (16), acme.example (15), globex.example (15)"}},
	} {
		url := "http://" + a.Addr() + c.path
		dom := run(t, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", url)
		has(t, "DOM of "+c.path, dom, c.text...)
		png := filepath.Join(out, "shot.png")
		run(t, "--headless", "--no-sandbox", "--disable-gpu", "--screenshot="+png, "--window-size=1280,900", url)
		b, err := os.ReadFile(png)
		if err != nil || len(b) < 1000 || string(b[1:4]) != "PNG" {
			t.Errorf("%s: no screenshot (%d bytes, %v)", c.path, len(b), err)
		}
		if dir := os.Getenv("PPWATCH_SCREENSHOTS"); dir != "" {
			os.WriteFile(filepath.Join(dir, strings.NewReplacer("/", "_", "?", "_").Replace(c.path)+".png"), b, 0o644)
			os.WriteFile(filepath.Join(dir, strings.NewReplacer("/", "_", "?", "_").Replace(c.path)+".html"), []byte(dom), 0o644)
		}
	}
}
