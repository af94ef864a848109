//go:build e2e

package e2e

import (
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ppwatch/ppwatch/pkg/alert"
	"github.com/ppwatch/ppwatch/pkg/dnscheck/dnstest"
	"github.com/ppwatch/ppwatch/pkg/internal/smtpfake"
)

var (
	unit         = flag.String("unit", "/lib/systemd/system/ppwatch.service", "the installed unit: the daemon runs as its ExecStartPre and ExecStart lines say")
	prometheus   = flag.String("prometheus", "prometheus", "Prometheus binary")
	alertmanager = flag.String("alertmanager", "prometheus-alertmanager", "Alertmanager binary")
	chromium     = flag.String("chromium", "/usr/bin/chromium", "Chromium binary")
)

// defaultWait bounds each wait of the play: long enough for a loaded
// 2-core machine, short enough that the whole test stays in minutes.
const defaultWait = 90 * time.Second

// The two sending IPs: blocked sends from 127.0.0.2, clean from 127.0.0.3.
const (
	blockedIP = "127.0.0.2"
	cleanIP   = "127.0.0.3"
)

// The sender domain of each sending IP: the MTAs bind by sender.
var senderDomain = map[string]string{blockedIP: "a.example", cleanIP: "b.example"}

// The receivers. pp answers as Proofpoint's hosted MX, edge is another
// Proofpoint host that plays the connection-level failures, other is a
// provider that is not Proofpoint and accepts everything.
const (
	ppHost    = "mx0a-00100001.pphosted.com"
	edgeHost  = "mx0b-00100001.pphosted.com"
	otherHost = "mx.other.example"
)

// behaviour is one of the receivers' rules with what ppwatch must count
// each of its answers as.
type behaviour struct {
	rule   smtpfake.Rule
	status string            // ppwatch's status of the attempt
	class  string            // and its class
	per    map[string]string // a status that differs by MTA ("exim": "bounced")
}

var blockReply = "550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip={ip}"

// ppRules: the blocked IP is blocked at pp1 at RCPT and at pp2 after DATA;
// pp3 defers and refuses by local part, for both IPs.
var ppRules = []behaviour{
	{rule: smtpfake.Rule{Client: blockedIP, Rcpt: "*@pp1.example", At: smtpfake.Rcpt, Reply: blockReply}, status: "bounced", class: "reputation"},
	{rule: smtpfake.Rule{Client: blockedIP, Rcpt: "*@pp2.example", At: smtpfake.Data, Reply: blockReply}, status: "bounced", class: "reputation"},
	{rule: smtpfake.Rule{Rcpt: "defer-*@*", At: smtpfake.Rcpt, Times: 2,
		Reply: "421 4.7.0 Deferred - see https://ipcheck.proofpoint.com/?ip={ip}"}, status: "deferred", class: "reputation"},
	{rule: smtpfake.Rule{Rcpt: "busy-*@*", At: smtpfake.Rcpt, Times: 1,
		Reply: "421 4.7.0 Too many concurrent SMTP connections; please try again later."}, status: "deferred", class: "rate_limit"},
	{rule: smtpfake.Rule{Rcpt: "nouser-*@*", At: smtpfake.Data, Reply: "550 5.1.1 User Unknown"}, status: "bounced", class: "recipient"},
}

// edgeRules: the blocked IP's first two connections get a 554 greeting,
// the clean IP's first is closed after EHLO; then both are accepted. Each
// IP sends edge one message per MTA, so the message is the one deferred.
var edgeRules = []behaviour{
	{rule: smtpfake.Rule{Client: blockedIP, At: smtpfake.Banner, Times: 2,
		Reply: "554 " + edgeHost + " ESMTP Blocked - see https://ipcheck.proofpoint.com/?ip={ip}"},
		// Postfix takes a 5xx greeting for a host failure and tries again;
		// Exim bounces the message.
		status: "deferred", class: "reputation", per: map[string]string{"exim": "bounced"}},
	{rule: smtpfake.Rule{Client: cleanIP, At: smtpfake.EHLO, Times: 1, Reply: ""}, status: "deferred", class: "connection"},
}

func rulesOf(bs []behaviour) []smtpfake.Rule {
	var rs []smtpfake.Rule
	for _, b := range bs {
		rs = append(rs, b.rule)
	}
	return rs
}

// message is one message the play sends.
type message struct {
	from, messageID string
	to              []string
}

// mix is what each MTA sends: hundreds of messages from both IPs to five
// recipient domains, Proofpoint's and another provider's.
func mix(mta string) []message {
	var ms []message
	n := 0
	add := func(ip string, count int, rcpts ...string) {
		for i := range count {
			n++
			m := message{from: fmt.Sprintf("news%d@%s", n%3, senderDomain[ip]), messageID: fmt.Sprintf("%s.%d.%s@e2e.example", mta, n, ip)}
			for _, r := range rcpts {
				m.to = append(m.to, fmt.Sprintf(r, i))
			}
			ms = append(ms, m)
		}
	}
	for _, ip := range []string{blockedIP, cleanIP} {
		add(ip, 30, "user%d@pp1.example")
		add(ip, 5, "a%d@pp2.example", "b%d@pp2.example") // two recipients, one transaction
		add(ip, 20, "user%d@pp3.example")
		add(ip, 4, "defer-%d@pp3.example")
		add(ip, 3, "busy-%d@pp3.example")
		add(ip, 3, "nouser-%d@pp3.example")
		add(ip, 1, "edge%d@ppedge.example")
		add(ip, 20, "user%d@other.example")
	}
	return ms
}

// attemptKey is a series of ppwatch_attempts_total.
type attemptKey struct{ mta, sourceIP, status, class, proofpoint string }

// receivers are the fake receivers of the stage.
type receivers struct {
	pp, edge, other *smtpfake.Server
}

// expected adds what ppwatch must have counted for what the receivers
// answered mta: every answer is one attempt of the recipient it answered,
// every accepted recipient one delivery.
func expected(t *testing.T, mta string, tally map[string]smtpfake.Tally, into map[attemptKey]float64) {
	t.Helper()
	for name, rules := range map[string][]behaviour{"pp": ppRules, "edge": edgeRules, "other": nil} {
		pp := strconv.FormatBool(name != "other")
		for ans, n := range tally[name].Answers {
			bh, ok := behaviourOf(rules, ans)
			if !ok {
				t.Fatalf("receiver %s answered %+v, which no rule gives", name, ans)
			}
			status := bh.status
			if s, ok := bh.per[mta]; ok {
				status = s
			}
			into[attemptKey{mta, ans.Client, status, bh.class, pp}] += float64(n)
		}
		for _, d := range tally[name].Delivered {
			into[attemptKey{mta, d.Client, "delivered", "none", pp}]++
		}
	}
}

func behaviourOf(rules []behaviour, ans smtpfake.Answer) (behaviour, bool) {
	for _, b := range rules {
		if b.rule.At == ans.Stage && strings.ReplaceAll(b.rule.Reply, "{ip}", ans.Client) == ans.Reply {
			return b, true
		}
	}
	return behaviour{}, false
}

func (r receivers) tallies() map[string]smtpfake.Tally {
	return map[string]smtpfake.Tally{"pp": r.pp.Tally(), "edge": r.edge.Tally(), "other": r.other.Tally()}
}

// reset starts the receivers afresh for the next MTA: its tallies are its
// own, and the edge's first connections fail again.
func (r receivers) reset() {
	r.pp.Reset()
	r.edge.Reset()
	r.other.Reset()
}

// counted is ppwatch_attempts_total as the daemon exports it.
func counted(d *ppwatch) map[attemptKey]float64 {
	got := map[attemptKey]float64{}
	for _, s := range d.metrics("ppwatch_attempts_total") {
		l := s.labels
		got[attemptKey{l["mta"], l["source_ip"], l["status"], l["class"], l["proofpoint"]}] += s.value
	}
	return got
}

func diffCounts(want, got map[attemptKey]float64) string {
	keys := maps.Clone(want)
	maps.Copy(keys, got)
	var out []string
	for k := range keys {
		if want[k] != got[k] {
			out = append(out, fmt.Sprintf("%+v: ppwatch %v, receivers %v", k, got[k], want[k]))
		}
	}
	slices.Sort(out)
	return strings.Join(out, "; ")
}

// The system test: real Postfix and Exim deliver a known mix to fake
// Proofpoint receivers on loopback; the daemon, installed from the
// package and started as its unit starts it, follows their logs through
// two rotations, a kill -9 and two reloads; Prometheus scrapes it with the
// shipped rules, Alertmanager pages, Chromium opens the status page.
func TestSystem(t *testing.T) {
	dir := t.TempDir()
	if os.Getenv("PPWATCH_E2E_KEEP") != "" {
		// The stage's configs, logs, state file and screenshots, to look at
		// after the run.
		var err error
		if dir, err = os.MkdirTemp("", "ppwatch-e2e-"); err != nil {
			t.Fatal(err)
		}
		t.Logf("PPWATCH_E2E_KEEP: the stage is kept in %s", dir)
	}
	// Registered first, so run last: whatever happened, nothing of the
	// stage may be left running.
	t.Cleanup(func() {
		if pids := procsOf(dir); len(pids) > 0 {
			t.Errorf("processes of the stage still running after the test: %v", pids)
		}
	})
	// The MTAs' unprivileged processes must reach their spool and log.
	for _, d := range []string{filepath.Dir(dir), dir} {
		os.Chmod(d, 0o755)
	}
	for _, d := range []string{"postfix", "exim", "state", "obs", "browser"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	t.Cleanup(func() {
		if t.Failed() {
			printTails(t)
		}
	})

	// The stage: receivers, DNS, the MTAs.
	var r receivers
	var err error
	if r.pp, err = smtpfake.Start("127.0.0.10:0", ppHost, rulesOf(ppRules)); err != nil {
		t.Fatal(err)
	}
	if r.edge, err = smtpfake.Start("127.0.0.11:0", edgeHost, rulesOf(edgeRules)); err != nil {
		t.Fatal(err)
	}
	if r.other, err = smtpfake.Start("127.0.0.12:0", otherHost, nil); err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]*smtpfake.Server{"pp": r.pp, "edge": r.edge, "other": r.other} {
		t.Cleanup(func() { s.Close() })
		logTails = append(logTails, tailer{"receiver " + name + " (" + s.Addr() + "), this MTA's tally", func(int) string {
			return fmt.Sprintf("%+v", s.Tally())
		}})
	}
	routes := []route{
		{Domain: "pp1.example", Host: ppHost, Addr: r.pp.Addr()},
		{Domain: "pp2.example", Host: ppHost, Addr: r.pp.Addr()},
		{Domain: "pp3.example", Host: ppHost, Addr: r.pp.Addr()},
		{Domain: "ppedge.example", Host: edgeHost, Addr: r.edge.Addr()},
		{Domain: "other.example", Host: otherHost, Addr: r.other.Addr()},
	}
	senders := map[string]string{}
	for ip, d := range senderDomain {
		senders[d] = ip
	}
	dns := dnstest.Start(t, dnstest.Zones(t, zones))

	pf := startPostfix(t, mtaConfig{Dir: filepath.Join(dir, "postfix"), Routes: routes, Senders: senders})
	logTails = append(logTails, tailer{"postfix log", pf.Tail})
	eximLog := filepath.Join(dir, "exim", "log", "exim_mainlog")

	// The daemon, as its unit starts it.
	hook := startWebhook(t)
	am := startAlertmanager(t, filepath.Join(dir, "obs"), hook.srv.URL)
	cfgPath := filepath.Join(dir, "ppwatch.yml")
	writeFile(t, cfgPath, daemonConfig(dir, pf, eximLog, dns.Addr, "http://"+am))
	d := startPpwatch(t, dir, cfgPath)
	prom := startPrometheus(t, filepath.Join(dir, "obs"), d.addr, am)

	// Act 1, Postfix: half the mix; the log rotated by Postfix; the rest,
	// with the daemon killed and started again, and reloaded, while it
	// reads.
	ms := mix("postfix")
	half := len(ms) / 2
	for _, m := range ms[:half] {
		pf.Send(t, m.from, m.to, m.messageID)
	}
	waitLogged(t, pf.LogPath(), 50)
	pf.Rotate(t)
	for i, m := range ms[half:] {
		pf.Send(t, m.from, m.to, m.messageID)
		switch i {
		case 20:
			d.kill9()
		case 60:
			d.reload()
		}
	}
	waitQueue(t, pf, 4*time.Minute)
	want := map[attemptKey]float64{}
	phases := []map[string]smtpfake.Tally{r.tallies()}
	expected(t, "postfix", phases[0], want)
	waitCounts(t, d, want)

	// Act 2, Exim, after a line added to the config and a reload, with its
	// log rotated.
	exim := startExim(t, mtaConfig{Dir: filepath.Join(dir, "exim"), Routes: routes, Senders: senders}, *eximBin)
	logTails = append(logTails, tailer{"exim log", exim.Tail},
		tailer{"exim panic log", func(n int) string { return tailFile(filepath.Join(filepath.Dir(exim.LogPath()), "exim_paniclog"), n) }})
	if exim.LogPath() != eximLog {
		t.Fatalf("exim logs to %s, the daemon follows %s", exim.LogPath(), eximLog)
	}
	// The line: the daemon's URL as Prometheus reaches it, so that its
	// alerts link there and carry Prometheus's instance label.
	reloaded := float64(time.Now().Unix())
	b, _ := os.ReadFile(cfgPath)
	writeFile(t, cfgPath, string(b)+"external_url: http://"+d.addr+"\n")
	d.reload()
	eventually(t, defaultWait, "the second reload", func() string {
		ok := d.metrics("ppwatch_config_last_reload_successful")
		at := d.metrics("ppwatch_config_last_reload_success_timestamp_seconds")
		if len(ok) != 1 || ok[0].value != 1 || len(at) != 1 || at[0].value < reloaded {
			return fmt.Sprint(ok, at)
		}
		return ""
	})
	// Half the mix, the log renamed away as exicyclog does while Exim
	// writes, the rest.
	r.reset()
	ms = mix("exim")
	for _, m := range ms[:half] {
		exim.Send(t, m.from, m.to, m.messageID)
	}
	waitLogged(t, exim.LogPath(), 50)
	exim.Rotate(t)
	for _, m := range ms[half:] {
		exim.Send(t, m.from, m.to, m.messageID)
	}
	waitQueue(t, exim, 4*time.Minute)
	phases = append(phases, r.tallies())
	expected(t, "exim", phases[1], want)
	waitCounts(t, d, want)

	checkOutcomes(t, d, phases)
	checkPrometheus(t, prom, want, phases)
	checkAlerts(t, d, am, hook)
	checkBrowser(t, d, filepath.Join(dir, "browser"), want, phases)
	checkReport(t, d)
	checkHygiene(t, d, cfgPath, dns.Addr)
}

// daemonConfig follows both MTAs' logs, names their sending IPs, asks the
// test's DNS server only, and pages through the Alertmanager at am.
func daemonConfig(dir string, pf mta, eximLog, dnsAddr, am string) string {
	return fmt.Sprintf(`inputs:
  - path: %s
    mta: postfix
  - path: %s
    mta: exim
state_file: %s
flush_interval: 200ms
timezone: UTC
internal_relays: []
source_ips:
  - {mta: postfix, instance: %s, ip: %s}
  - {mta: postfix, instance: %s, ip: %s}
dns:
  servers: ["%s"]
hygiene:
  domains:
    - name: a.example
    - name: b.example
  dnsbl: [zen.spamhaus.org]
alerting:
  eval_interval: 1s
  resend_interval: 2s
  alertmanagers:
    - url: %s
alerts:
  - name: ProofpointBlockRatioHigh
    measure: block_ratio
    window: 15m
    threshold: 0.05
    min_attempts: 20
    for: %s
    severity: page
`, pf.LogPath(), eximLog, filepath.Join(dir, "state", "ppwatch.db"),
		pf.Instance(blockedIP), blockedIP, pf.Instance(cleanIP), cleanIP, dnsAddr, am, alertFor)
}

// waitLogged waits until the log has n delivery attempts (Postfix's
// status=, Exim's R= on its attempt lines).
func waitLogged(t *testing.T, path string, n int) {
	t.Helper()
	eventually(t, defaultWait, fmt.Sprintf("%d attempts in %s", n, path), func() string {
		b, _ := os.ReadFile(path)
		if c := strings.Count(string(b), "status=") + strings.Count(string(b), " R="); c < n {
			return fmt.Sprintf("%d", c)
		}
		return ""
	})
}

// waitCounts waits until the daemon's attempts equal what the receivers
// answered, exactly, and no other series exists.
func waitCounts(t *testing.T, d *ppwatch, want map[attemptKey]float64) {
	t.Helper()
	eventually(t, defaultWait, "ppwatch's counts equal the receivers' tallies", func() string {
		return diffCounts(want, counted(d))
	})
}

// checkOutcomes: every message Proofpoint deferred was delivered in the
// end, and the daemon says so per IP: the recipients the receivers
// accepted after answering them 4xx, and the blocked IP's edge message,
// which Postfix retried after the 554 greeting. The clean IP's edge
// message, whose connection was dropped after EHLO, got no reply: it is
// not followed (event.Delays).
func checkOutcomes(t *testing.T, d *ppwatch, phases []map[string]smtpfake.Tally) {
	t.Helper()
	want := map[string]float64{}
	for _, p := range phases {
		for _, dl := range p["pp"].Delivered {
			if dl.Attempts > 0 {
				want[dl.Client]++
			}
		}
		for ans := range p["edge"].Answers {
			if ans.Stage == smtpfake.Banner && p["edge"].DeliveredFrom(ans.Client) > 0 {
				want[ans.Client]++
			}
		}
	}
	eventually(t, defaultWait, "message outcomes", func() string {
		got := map[string]float64{}
		for _, s := range d.metrics("ppwatch_proofpoint_message_outcomes_total") {
			if s.labels["outcome"] == "delivered" {
				got[s.labels["source_ip"]] += s.value
			}
		}
		if !maps.Equal(got, want) {
			return fmt.Sprintf("delivered after deferral: ppwatch %v, receivers %v", got, want)
		}
		for _, s := range d.metrics("ppwatch_proofpoint_messages_deferred") {
			if s.value != 0 {
				return fmt.Sprintf("still deferred: %v", s)
			}
		}
		return ""
	})
}

// ratio is the block ratio of ip in what the receivers answered: a
// block is a 5xx not about the recipient, whatever the MTA made of it
// (Postfix logs a 554 greeting as deferred), out of all the Proofpoint
// attempts.
func ratio(want map[attemptKey]float64, phases []map[string]smtpfake.Tally, ip string) (blocks, attempts float64) {
	for k, v := range want {
		if k.sourceIP == ip && k.proofpoint == "true" {
			attempts += v
		}
	}
	for _, p := range phases {
		for name, rules := range map[string][]behaviour{"pp": ppRules, "edge": edgeRules} {
			for ans, n := range p[name].Answers {
				if bh, _ := behaviourOf(rules, ans); ans.Client == ip && ans.Code >= 500 && bh.class != "recipient" {
					blocks += float64(n)
				}
			}
		}
	}
	return blocks, attempts
}

// checkPrometheus: Prometheus scraped the daemon through its basic auth,
// its totals give the receivers' block ratio per IP exactly, and the
// shipped recording rule sees the blocked IP above the page threshold and
// the clean one at 0.
func checkPrometheus(t *testing.T, prom string, want map[attemptKey]float64, phases []map[string]smtpfake.Tally) {
	t.Helper()
	for _, ip := range []string{blockedIP, cleanIP} {
		blocks, attempts := ratio(want, phases, ip)
		for q, w := range map[string]float64{
			fmt.Sprintf(`sum(ppwatch_proofpoint_attempts_total{source_ip=%q})`, ip):                                                                         attempts,
			fmt.Sprintf(`sum(ppwatch_proofpoint_blocks_total{source_ip=%q}) or vector(0)`, ip):                                                              blocks,
			fmt.Sprintf(`(sum(ppwatch_proofpoint_blocks_total{source_ip=%q}) or vector(0)) / sum(ppwatch_proofpoint_attempts_total{source_ip=%q})`, ip, ip): blocks / attempts,
		} {
			eventually(t, defaultWait, q, func() string {
				r := promQuery(t, prom, q)
				if len(r) != 1 {
					return fmt.Sprintf("%v, want %v", r, w)
				}
				if v, _ := strconv.ParseFloat(r[0].Value[1].(string), 64); math.Abs(v-w) > 1e-9 {
					return fmt.Sprintf("%v, want %v", v, w)
				}
				return ""
			})
		}
	}
	rule := `instance_source_ip:ppwatch_proofpoint_block_ratio:rate15m`
	eventually(t, defaultWait, rule, func() string {
		r := promQuery(t, prom, rule)
		got := map[string]string{}
		for _, s := range r {
			got[s.Metric["source_ip"]] = s.Value[1].(string)
		}
		v, _ := strconv.ParseFloat(got[blockedIP], 64)
		if v <= 0.05 || got[cleanIP] != "0" {
			return fmt.Sprint(got)
		}
		return ""
	})
}

// checkAlerts: the shipped Prometheus alert and the daemon's own both
// reached Alertmanager for the blocked IP, the daemon's under the
// external_url the second reload set (its link, and Prometheus's instance
// label), the pager's webhook got them with their summary, and nothing
// alerted about the clean IP.
func checkAlerts(t *testing.T, d *ppwatch, am string, hook *webhook) {
	t.Helper()
	eventually(t, defaultWait, "ProofpointBlockRatioHigh from Prometheus and from the daemon", func() string {
		promInstance, daemonInstance := "", ""
		as := amAlerts(t, am)
		for _, a := range as {
			if a.Labels["alertname"] != "ProofpointBlockRatioHigh" || a.Labels["source_ip"] != blockedIP || a.Status.State != "active" {
				continue
			}
			switch {
			case fromPrometheus(a.GeneratorURL):
				promInstance = a.Labels["instance"]
			case a.GeneratorURL == "http://"+d.addr+"/ip/"+blockedIP:
				daemonInstance = a.Labels["instance"]
			}
		}
		if promInstance == "" || daemonInstance != promInstance {
			return fmt.Sprintf("instance: prometheus %q, daemon %q: %s", promInstance, daemonInstance, describe(as))
		}
		return ""
	})
	eventually(t, defaultWait, "the pager's notification of both, with the summary", func() string {
		for _, n := range hook.notifications() {
			if n.Receiver != "pager" || n.Status != "firing" || n.GroupLabels["source_ip"] != blockedIP {
				continue
			}
			var fromProm, fromDaemon bool
			for _, a := range n.Alerts {
				if a.Labels["alertname"] != "ProofpointBlockRatioHigh" || a.Annotations["summary"] == "" {
					continue
				}
				if fromPrometheus(a.GeneratorURL) {
					fromProm = true
				} else {
					fromDaemon = true
				}
			}
			if fromProm && fromDaemon {
				return ""
			}
		}
		return fmt.Sprintf("%d notifications", len(hook.notifications()))
	})
	for _, a := range amAlerts(t, am) {
		if a.Labels["source_ip"] == cleanIP {
			t.Errorf("an alert for the clean IP: %v", a.Labels)
		}
	}
	for _, n := range hook.notifications() {
		for _, a := range n.Alerts {
			if a.Labels["source_ip"] == cleanIP {
				t.Errorf("a notification for the clean IP: %v", a.Labels)
			}
		}
	}
}

// checkBrowser: the status page lists the blocked IP first, as blocked
// with its block ratio (the day's window holds the whole play), and the
// clean IP as clean; the blocked IP's page shows the reply verbatim.
func checkBrowser(t *testing.T, d *ppwatch, dir string, want map[attemptKey]float64, phases []map[string]smtpfake.Tally) {
	t.Helper()
	b := startBrowser(t, dir)
	text, tables, shot := b.page("http://"+d.addr+"/", "status")
	trs := tables["Sending IPs, worst first"]
	fail := func(format string, args ...any) {
		t.Errorf(format+"\nscreenshot: %s\nDOM text:\n%s", append(args, shot, text)...)
	}
	// A row of the IPs' table: the state, the IP, its figures.
	rows := map[string]int{}
	for i, r := range trs {
		if f := strings.Split(r, "\t"); len(f) > 2 {
			if _, seen := rows[f[1]]; !seen {
				rows[f[1]] = i
			}
		}
	}
	row := func(ip string) string {
		if i, ok := rows[ip]; ok {
			return trs[i]
		}
		return ""
	}
	if bi, ok := rows[blockedIP]; !ok || rows[cleanIP] <= bi {
		fail("status page: want the row of %s before that of %s", blockedIP, cleanIP)
	}
	blocks, attempts := ratio(want, phases, blockedIP)
	reply := strings.ReplaceAll(blockReply, "{ip}", blockedIP)
	if r := row(blockedIP); !strings.HasPrefix(r, "BLOCKED") || !strings.Contains(r, alert.Percent(blocks/attempts)) || !strings.Contains(r, reply) {
		fail("status page: the row of %s is %q, want BLOCKED, %s and %q", blockedIP, r, alert.Percent(blocks/attempts), reply)
	}
	if r := row(cleanIP); !strings.HasPrefix(r, "CLEAN") {
		fail("status page: the row of %s is %q, want CLEAN", cleanIP, r)
	}
	text, _, shot = b.page("http://"+d.addr+"/ip/"+blockedIP, "ip")
	if !strings.Contains(text, reply) {
		fail("IP page: no reply %q", reply)
	}
}

// checkReport: ppwatch report for the blocked IP from the running daemon
// carries the first and last blocks, the reply and the Message-IDs.
func checkReport(t *testing.T, d *ppwatch) {
	t.Helper()
	out, err := exec.Command(d.argv[0], "report", "--url", "http://"+webUser+":"+webPassword+"@"+d.addr, "--ip", blockedIP, "--format", "json").Output()
	if err != nil {
		t.Fatalf("ppwatch report: %v\n%s", err, out)
	}
	var p struct {
		FirstSeen     *time.Time `json:"first_seen"`
		LastEvent     *time.Time `json:"last_event"`
		FirstFailure  *time.Time `json:"first_failure"`
		LatestFailure *time.Time `json:"latest_failure"`
		Replies       []struct {
			Response  string    `json:"response"`
			Count     int       `json:"count"`
			FirstSeen time.Time `json:"first_seen"`
			LastSeen  time.Time `json:"last_seen"`
		} `json:"replies"`
		Samples []struct {
			MessageID string `json:"message_id"`
			Response  string `json:"response"`
		} `json:"samples"`
	}
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatalf("ppwatch report: %v\n%s", err, out)
	}
	// The play ran within the last few minutes: every time is in it, in order.
	since := time.Now().Add(-15 * time.Minute)
	inPlay := func(ts ...*time.Time) bool {
		for i, x := range ts {
			if x == nil || x.Before(since) || x.After(time.Now()) || i > 0 && x.Before(*ts[i-1]) {
				return false
			}
		}
		return true
	}
	if !inPlay(p.FirstSeen, p.FirstFailure, p.LatestFailure) || !inPlay(p.FirstSeen, p.LastEvent) {
		t.Errorf("report: first seen %v, first failure %v, latest %v, last event %v", p.FirstSeen, p.FirstFailure, p.LatestFailure, p.LastEvent)
	}
	reply := strings.ReplaceAll(blockReply, "{ip}", blockedIP)
	found := false
	for _, r := range p.Replies {
		if r.Response == reply {
			found = r.Count > 0 && inPlay(&r.FirstSeen, &r.LastSeen)
		}
	}
	if !found {
		t.Errorf("report: no reply %q with its count and times in %+v", reply, p.Replies)
	}
	// Every sample carries the Message-ID of a message the blocked IP
	// sent, those that arrived before the kill -9 too (the correlator is
	// in the state file).
	ids := 0
	for _, s := range p.Samples {
		if strings.HasSuffix(s.MessageID, "."+blockedIP+"@e2e.example") {
			ids++
		} else {
			t.Errorf("report: a sample's Message-ID is %q, want one the blocked IP sent: %+v", s.MessageID, s)
		}
	}
	if ids == 0 {
		t.Errorf("report: no Message-ID in the samples: %+v", p.Samples)
	}
}

// checkHygiene: ppwatch check against the test's DNS server reports the
// sending setup: PTR and SPF pass for both IPs, the blocked IP is on the
// DNSBL, the recipient domains' MX is Proofpoint's.
func checkHygiene(t *testing.T, d *ppwatch, cfg, dnsAddr string) {
	t.Helper()
	out, _ := exec.Command(d.argv[0], "check", "--config", cfg, "--dns.server", dnsAddr,
		"--ip", blockedIP, "--ip", cleanIP, "--domain", "a.example", "--domain", "b.example",
		"--recipient-domain", "pp1.example").CombinedOutput()
	for _, want := range []string{
		"PASS fcrdns " + blockedIP, "PASS fcrdns " + cleanIP,
		"PASS spf " + blockedIP + " for a.example", "PASS spf " + cleanIP + " for b.example",
		"FAIL dnsbl " + blockedIP + " on zen.spamhaus.org: listed",
		"PASS dnsbl " + cleanIP + " on zen.spamhaus.org",
		"pp1.example",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("ppwatch check: no %q in\n%s", want, out)
		}
	}
}

// zones are the sending setup's DNS as the test's server answers it.
const zones = `$TTL 600
.                              120 IN SOA ns.test. hostmaster.test. 1 3600 600 86400 60
2.0.0.127.in-addr.arpa.        IN PTR out-a.a.example.
3.0.0.127.in-addr.arpa.        IN PTR out-b.b.example.
out-a.a.example.               IN A   127.0.0.2
out-b.b.example.               IN A   127.0.0.3
a.example.                     IN TXT "v=spf1 ip4:127.0.0.2 ip4:127.0.0.3 -all"
b.example.                     IN TXT "v=spf1 ip4:127.0.0.2 ip4:127.0.0.3 -all"
_dmarc.a.example.              IN TXT "v=DMARC1; p=reject"
_dmarc.b.example.              IN TXT "v=DMARC1; p=reject"
2.0.0.127.zen.spamhaus.org.    IN A   127.0.0.2
pp1.example.                   IN MX  10 mx0a-00100001.pphosted.com.
pp2.example.                   IN MX  10 mx0a-00100001.pphosted.com.
pp3.example.                   IN MX  10 mx0a-00100001.pphosted.com.
ppedge.example.                IN MX  10 mx0b-00100001.pphosted.com.
mx0a-00100001.pphosted.com.    IN A   127.0.0.10
mx0b-00100001.pphosted.com.    IN A   127.0.0.11
`
