package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// These tests run the real binary against real files and a real state file,
// and read the outcome from /metrics.

var binary string

func TestMain(m *testing.M) {
	// The daemons started here inherit it: with no resolver to ask, no
	// test can send a DNS query off this host (see pkg/app's TestMain).
	os.Setenv("PPWATCH_RESOLV_CONF", "/nonexistent/resolv.conf")
	dir, err := os.MkdirTemp("", "ppwatch-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "ppwatch")
	build := exec.Command("go", "build", "-race", "-o", binary, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// daemon is one running ppwatch.
type daemon struct {
	t    *testing.T
	cmd  *exec.Cmd
	addr string
	mu   sync.Mutex
	logs strings.Builder
	done chan struct{}
}

func startDaemon(t *testing.T, args ...string) *daemon {
	t.Helper()
	d := &daemon{t: t, done: make(chan struct{})}
	d.cmd = exec.Command(binary, append([]string{"run", "--listen", "127.0.0.1:0"}, args...)...)
	stderr, _ := d.cmd.StderrPipe()
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addrCh := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			d.mu.Lock()
			d.logs.WriteString(line + "\n")
			d.mu.Unlock()
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) == nil && m["message"] == "serving metrics" {
				addrCh <- m["address"].(string)
			}
		}
		d.cmd.Wait()
		close(d.done)
	}()
	select {
	case d.addr = <-addrCh:
	case <-d.done:
		t.Fatalf("daemon exited: %s", d.log())
	case <-time.After(20 * time.Second):
		t.Fatalf("daemon did not start: %s", d.log())
	}
	t.Cleanup(func() {
		d.cmd.Process.Kill()
		<-d.done
		if t.Failed() {
			t.Logf("daemon log:\n%s", d.log())
		}
	})
	return d
}

func (d *daemon) log() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.logs.String()
}

// stop sends SIGTERM and waits for a clean exit.
func (d *daemon) stop() {
	d.t.Helper()
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(20 * time.Second):
		d.t.Fatal("no exit after SIGTERM")
	}
	if code := d.cmd.ProcessState.ExitCode(); code != 0 {
		d.t.Fatalf("exit code %d: %s", code, d.log())
	}
}

// kill9 kills the daemon without any chance to flush.
func (d *daemon) kill9() {
	d.cmd.Process.Signal(syscall.SIGKILL)
	<-d.done
}

func (d *daemon) metrics() string {
	d.t.Helper()
	resp, err := http.Get("http://" + d.addr + "/metrics")
	if err != nil {
		d.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

var sample = regexp.MustCompile(`^([a-z_]+)(?:\{([^}]*)\})? (\S+)$`)

// sum adds the samples of name whose labels contain every filter; -1 when
// there is no sample of that name at all.
func sum(metrics, name string, filters ...string) float64 {
	total, found := 0.0, false
	for _, l := range strings.Split(metrics, "\n") {
		m := sample.FindStringSubmatch(l)
		if m == nil || m[1] != name {
			continue
		}
		ok := true
		for _, f := range filters {
			if !strings.Contains(m[2], f) {
				ok = false
			}
		}
		if ok {
			v, _ := strconv.ParseFloat(m[3], 64)
			total += v
			found = true
		}
	}
	if !found {
		return -1
	}
	return total
}

// waitFor polls /metrics until cond holds or the deadline passes.
func (d *daemon) waitFor(what string, cond func(m string) bool) string {
	d.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		m := d.metrics()
		if cond(m) {
			return m
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("timed out waiting for %s; attempts=%v lines=%v", what, sum(m, "ppwatch_attempts_total"), sum(m, "ppwatch_log_lines_total"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (d *daemon) waitAttempts(n int) string {
	d.t.Helper()
	return d.waitFor(fmt.Sprintf("%d attempts", n), func(m string) bool { return sum(m, "ppwatch_attempts_total") == float64(n) })
}

// gen writes numbered Postfix attempts: every third a Proofpoint block,
// the rest delivered, with noise lines between.
type gen struct {
	n int
}

func (g *gen) lines(k int) string {
	var b strings.Builder
	for i := 0; i < k; i++ {
		g.n++
		ts := time.Now().UTC().Format("2006-01-02T15:04:05.000000-07:00")
		qid := fmt.Sprintf("%010X", g.n)
		fmt.Fprintf(&b, "%s mta1 postfix/qmgr[1]: %s: from=<s%d@example.net>, size=1, nrcpt=1 (queue active)\n", ts, qid, g.n)
		if g.n%3 == 0 {
			fmt.Fprintf(&b, "%s mta1 postfix/smtp[2]: %s: to=<u%d@acme.example>, relay=mx0a-00123a01.pphosted.com[148.163.150.12]:25, delay=1, delays=0/0/0.5/0.5, dsn=5.7.0, status=bounced (host mx0a-00123a01.pphosted.com[148.163.150.12] said: 550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=192.0.2.25 (in reply to MAIL FROM command))\n", ts, qid, g.n)
		} else {
			fmt.Fprintf(&b, "%s mta1 postfix/smtp[2]: %s: to=<u%d@other.example>, relay=mx.other.example[203.0.113.5]:25, delay=1, delays=0/0/0.5/0.5, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as X%d)\n", ts, qid, g.n, g.n)
		}
		fmt.Fprintf(&b, "%s mta1 postfix/qmgr[1]: %s: removed\n", ts, qid)
	}
	return b.String()
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

type env struct {
	dir, log, state, cfg string
}

func newEnv(t *testing.T, extra string) env {
	dir := t.TempDir()
	e := env{dir: dir, log: filepath.Join(dir, "mail.log"), state: filepath.Join(dir, "state", "ppwatch.db"), cfg: filepath.Join(dir, "ppwatch.yml")}
	os.WriteFile(e.cfg, []byte(fmt.Sprintf("flush_interval: 100ms\ninputs:\n  - path: %s\n    mta: postfix\n%s", e.log, extra)), 0o644)
	os.Mkdir(filepath.Dir(e.state), 0o750) // a configured state directory must exist
	return e
}

func (e env) start(t *testing.T) *daemon {
	return startDaemon(t, "--config", e.cfg, "--state", e.state)
}

func TestRotationRenameCreateWhileWriting(t *testing.T) {
	e := newEnv(t, "")
	var g gen
	appendFile(t, e.log, g.lines(100))
	d := e.start(t)
	d.waitAttempts(100)
	appendFile(t, e.log, g.lines(50))
	os.Rename(e.log, e.log+".1")
	appendFile(t, e.log+".1", g.lines(25)) // written to the old file after the rename
	appendFile(t, e.log, g.lines(40))
	m := d.waitAttempts(215)
	if got := sum(m, "ppwatch_attempts_total", `proofpoint="true"`, `status="bounced"`, `class="reputation"`); got != float64(215/3) {
		t.Errorf("blocks %v, want %d", got, 215/3)
	}
	if got := sum(m, "ppwatch_log_lines_total", `result="parsed"`); got != 215 {
		t.Errorf("parsed lines %v", got)
	}
	d.stop()
}

func TestRestartKill9AndRotationWhileStopped(t *testing.T) {
	e := newEnv(t, "")
	var g gen
	appendFile(t, e.log, g.lines(300))
	d := e.start(t)
	d.waitAttempts(300)
	d.stop()

	// Restart mid-file: only the new lines count.
	appendFile(t, e.log, g.lines(100))
	d = e.start(t)
	d.waitAttempts(400)

	// kill -9 while writing, twice.
	for round := 0; round < 2; round++ {
		for i := 0; i < 20; i++ {
			appendFile(t, e.log, g.lines(50))
		}
		d.kill9()
		d = e.start(t)
	}
	d.waitAttempts(400 + 2*1000)
	d.stop()

	// Rotation while stopped: the old file's unread end is read from .1.
	appendFile(t, e.log, g.lines(70))
	os.Rename(e.log, e.log+".1")
	appendFile(t, e.log, g.lines(30))
	d = e.start(t)
	m := d.waitAttempts(2500)
	if got := sum(m, "ppwatch_proofpoint_attempts_total", `recipient_domain="acme.example"`); got != float64(2500/3) {
		t.Errorf("proofpoint attempts %v, want %d", got, 2500/3)
	}
	d.stop()

	// Two daily rotations while stopped (numbered: .1 moves to .2): the
	// saved file's end, the whole day in between, then the current file.
	appendFile(t, e.log, g.lines(40))
	os.Rename(e.log+".1", e.log+".2")
	os.Rename(e.log, e.log+".1")
	appendFile(t, e.log, g.lines(60))
	os.Rename(e.log+".1", e.log+".2")
	os.Rename(e.log, e.log+".1")
	appendFile(t, e.log, g.lines(20))
	day := time.Now().Add(-48 * time.Hour)
	os.Chtimes(e.log+".2", day, day)
	os.Chtimes(e.log+".1", day.Add(24*time.Hour), day.Add(24*time.Hour))
	d = e.start(t)
	m = d.waitAttempts(2620)
	if got := sum(m, "ppwatch_log_lines_total", `result="parsed"`); got != 120 {
		t.Errorf("parsed lines %v in this run, want 120", got)
	}
	d.stop()
}

func TestCopyTruncate(t *testing.T) {
	e := newEnv(t, "")
	var g gen
	appendFile(t, e.log, g.lines(200))
	d := e.start(t)
	d.waitAttempts(200)
	b, _ := os.ReadFile(e.log)
	os.WriteFile(e.log+".1", b, 0o644)
	os.Truncate(e.log, 0)
	appendFile(t, e.log, g.lines(10))
	d.waitAttempts(210)
	d.stop()
}

func TestBadLines(t *testing.T) {
	e := newEnv(t, "")
	var g gen
	appendFile(t, e.log, g.lines(10))
	appendFile(t, e.log, strings.Repeat("x", 1<<20+100)+"\n")
	appendFile(t, e.log, "Nov 22 09:15:02 mta1 postfix/smtp[1]: AAAAAA: to=<a\xff\xfe@acme.example>, relay=none, delay=1, dsn=4.4.1, status=deferred (connect to mx0a-00123a01.pphosted.com[148.163.150.12]:25: Connection timed out)\n")
	appendFile(t, e.log, "ov 22 09:15:02 mta1 postfix/smtp[1]: AAAAAA: to=<a@acme.example>, relay=none, delay=1, status=deferred (x)\n")
	appendFile(t, e.log, g.lines(10))
	d := e.start(t)
	m := d.waitAttempts(21)
	if got := sum(m, "ppwatch_log_lines_total", `result="malformed"`); got != 2 {
		t.Errorf("malformed %v, want 2 (the long line and the damaged one)", got)
	}
	d.stop()
}

func TestMissingInputAppearsLater(t *testing.T) {
	e := newEnv(t, "")
	d := e.start(t)
	var g gen
	appendFile(t, e.log, g.lines(5))
	d.waitAttempts(5)
	d.stop()
}

func TestPMTANewFiles(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "ppwatch.yml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("flush_interval: 100ms\ninputs:\n  - path: %s/acct-*.csv\n    mta: pmta\n", dir)), 0o644)
	header := "type,timeLogged,orig,rcpt,dsnStatus,dsnDiag,dsnMta,dlvSourceIp,vmta\n"
	rec := func(i int) string {
		return fmt.Sprintf("b,%s,s@example.net,u%d@acme.example,5.7.1 (blocked),\"smtp;550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=192.0.2.25\",mx0a-00123a01.pphosted.com (148.163.150.12),192.0.2.25,vmta1\n",
			time.Now().UTC().Format("2006-01-02 15:04:05-0700"), i)
	}
	appendFile(t, filepath.Join(dir, "acct-1.csv"), header+rec(1)+rec(2))
	d := startDaemon(t, "--config", cfg, "--state", filepath.Join(dir, "ppwatch.db"))
	d.waitAttempts(2)
	appendFile(t, filepath.Join(dir, "acct-2.csv"), header+rec(3)+rec(4)+rec(5))
	m := d.waitAttempts(5)
	if got := sum(m, "ppwatch_proofpoint_block_ratio", `source_ip="192.0.2.25"`, `window="5m"`); got != 1 {
		t.Errorf("block ratio %v", got)
	}
	d.stop()
}

func TestReload(t *testing.T) {
	e := newEnv(t, "")
	var g gen
	appendFile(t, e.log, g.lines(30))
	d := e.start(t)
	d.waitAttempts(30)
	// A new rule: later blocks are classified by it; nothing is counted twice.
	os.WriteFile(e.cfg, []byte(fmt.Sprintf("flush_interval: 100ms\ninputs:\n  - path: %s\n    mta: postfix\nrules:\n  - id: acme\n    match: 'blocked - see'\n    class: policy\n", e.log)), 0o644)
	d.cmd.Process.Signal(syscall.SIGHUP)
	d.waitFor("reload", func(m string) bool { return strings.Contains(d.log(), "configuration reloaded") })
	appendFile(t, e.log, g.lines(30))
	m := d.waitAttempts(60)
	if got := sum(m, "ppwatch_attempts_total", `class="policy"`); got != 10 {
		t.Errorf("policy %v, want 10", got)
	}
	// A bad config is refused; the old one keeps running.
	os.WriteFile(e.cfg, []byte("bogus: 1\n"), 0o644)
	d.cmd.Process.Signal(syscall.SIGHUP)
	d.waitFor("refused reload", func(m string) bool { return sum(m, "ppwatch_config_last_reload_successful") == 0 })
	appendFile(t, e.log, g.lines(3))
	d.waitAttempts(63)
	d.stop()
}

func runExit(t *testing.T, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	out, _ := cmd.CombinedOutput()
	return cmd.ProcessState.ExitCode(), string(out)
}

func TestStartupErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yml")
	os.WriteFile(bad, []byte("listen: \":0\"\ninputz: []\n"), 0o644)
	if code, out := runExit(t, "run", "--config", bad); code != 2 || !strings.Contains(out, `bad.yml:2: unknown key \"inputz\"`) {
		t.Errorf("bad config: %d %s", code, out)
	}
	if code, out := runExit(t, "check-config", bad); code != 2 || !strings.Contains(out, `bad.yml:2: unknown key "inputz"`) {
		t.Errorf("check-config: %d %s", code, out)
	}
	e := newEnv(t, "")
	e.start(t)
	if code, out := runExit(t, "run", "--config", e.cfg, "--state", e.state, "--listen", "127.0.0.1:0"); code != 2 || !strings.Contains(out, "in use by another ppwatch") {
		t.Errorf("locked state: %d %s", code, out)
	}
	empty := filepath.Join(dir, "empty.yml")
	os.WriteFile(empty, []byte("inputs: []\n"), 0o644)
	if code, out := runExit(t, "run", "--config", empty, "--state", filepath.Join(dir, "s.db"), "--listen", "127.0.0.1:0"); code != 2 || !strings.Contains(out, "no inputs") {
		t.Errorf("no inputs: %d %s", code, out)
	}
	// A state path under a file can be created by nobody, root included.
	if code, out := runExit(t, "run", "--config", e.cfg, "--state", "/dev/null/sub/x.db", "--listen", "127.0.0.1:0"); code != 2 || !strings.Contains(out, "no such directory: /dev/null/sub") {
		t.Errorf("unwritable state dir: %d %s", code, out)
	}
}

// The rotated file is gone when ppwatch comes back: the loss is counted, and
// the new file is read from its start, never from the stale offset.
func TestRotatedFileGoneWhileStopped(t *testing.T) {
	e := newEnv(t, "")
	var g gen
	appendFile(t, e.log, g.lines(50))
	d := e.start(t)
	d.waitAttempts(50)
	d.stop()
	appendFile(t, e.log, g.lines(20)) // never read: lost with the file
	os.Remove(e.log)
	appendFile(t, e.log, g.lines(30))
	d = e.start(t)
	m := d.waitAttempts(80)
	if got := sum(m, "ppwatch_lost_files_total"); got != 1 {
		t.Errorf("lost files %v", got)
	}
	d.stop()
}

// A stand-in for journalctl (systemd-journald does not run in the test
// sandbox): it prints the entries of a data file after --after-cursor, as
// journalctl --output=json does, then follows like --follow.
const fakeJournalctl = `#!/bin/sh
after=0
for a in "$@"; do
  case "$a" in --after-cursor=*) after="${a#--after-cursor=}";; esac
done
awk -v after="$after" 'NR > after' "$JOURNAL_DATA"
exec sleep 3600
`

func TestJournald(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	os.Mkdir(bin, 0o755)
	os.WriteFile(filepath.Join(bin, "journalctl"), []byte(fakeJournalctl), 0o755)
	data := filepath.Join(dir, "journal.json")
	n := 0
	entries := func(k int) string {
		var b strings.Builder
		for i := 0; i < k; i++ {
			n++
			msg := fmt.Sprintf("%010X: to=<u%d@acme.example>, relay=mx0a-00123a01.pphosted.com[148.163.150.12]:25, delay=1, delays=0/0/0.5/0.5, dsn=5.7.0, status=bounced (host mx0a-00123a01.pphosted.com[148.163.150.12] said: 550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=192.0.2.25 (in reply to MAIL FROM command))", n, n)
			e, _ := json.Marshal(map[string]string{"__CURSOR": strconv.Itoa(n), "__REALTIME_TIMESTAMP": strconv.FormatInt(time.Now().UnixMicro(), 10),
				"_HOSTNAME": "mta1", "SYSLOG_IDENTIFIER": "postfix/smtp", "_PID": "1410", "MESSAGE": msg})
			b.Write(e)
			b.WriteByte('\n')
		}
		return b.String()
	}
	appendFile(t, data, entries(5))
	cfg := filepath.Join(dir, "ppwatch.yml")
	os.WriteFile(cfg, []byte("flush_interval: 100ms\ninputs:\n  - path: \"journald:postfix@-.service\"\n    mta: postfix\n"), 0o644)
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	t.Setenv("JOURNAL_DATA", data)
	state := filepath.Join(dir, "ppwatch.db")
	d := startDaemon(t, "--config", cfg, "--state", state)
	d.waitAttempts(5)
	d.stop()
	appendFile(t, data, entries(3))
	d = startDaemon(t, "--config", cfg, "--state", state)
	m := d.waitAttempts(8) // resumed after the committed cursor: 5 + 3, not 5 + 8
	if got := sum(m, "ppwatch_proofpoint_block_ratio", `source_ip="192.0.2.25"`, `window="5m"`); got != 1 {
		t.Errorf("block ratio %v", got)
	}
	d.stop()
}

// Basic auth through exporter-toolkit's web config file.
func TestWebConfigBasicAuth(t *testing.T) {
	e := newEnv(t, "")
	var g gen
	appendFile(t, e.log, g.lines(3))
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	web := filepath.Join(e.dir, "web.yml")
	os.WriteFile(web, []byte("basic_auth_users:\n  prometheus: "+string(hash)+"\n"), 0o644)
	d := startDaemon(t, "--config", e.cfg, "--state", e.state, "--web.config.file", web)
	resp, err := http.Get("http://" + d.addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("without credentials: %d", resp.StatusCode)
	}
	req, _ := http.NewRequest("GET", "http://"+d.addr+"/metrics", nil)
	req.SetBasicAuth("prometheus", "s3cret")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "ppwatch_build_info") {
		t.Errorf("with credentials: %d", resp.StatusCode)
	}
	bad := filepath.Join(e.dir, "bad-web.yml")
	os.WriteFile(bad, []byte("tls_server_config:\n  cert_file: /nonexistent\n"), 0o644)
	if code, out := runExit(t, "run", "--config", e.cfg, "--state", filepath.Join(e.dir, "other.db"), "--listen", "127.0.0.1:0", "--web.config.file", bad); code == 0 || !strings.Contains(out, "web.config.file") {
		t.Errorf("bad web config: %d %s", code, out)
	}
}

// With a flush interval of a minute, what was read still shows within the
// wait's 30 s: the daemon commits as soon as it has read its files to the end.
func TestCommitWhenCaughtUp(t *testing.T) {
	e := newEnv(t, "")
	os.WriteFile(e.cfg, []byte(fmt.Sprintf("flush_interval: 1m\ninputs:\n  - path: %s\n    mta: postfix\n", e.log)), 0o644)
	g := &gen{}
	appendFile(t, e.log, g.lines(300))
	d := e.start(t)
	d.waitAttempts(300)
	appendFile(t, e.log, g.lines(30))
	m := d.waitAttempts(330)
	if got := sum(m, "ppwatch_attempts_total", `status="bounced"`); got != 110 {
		t.Errorf("bounced %v, want 110", got)
	}
	d.stop()
}

// check-config makes the checks run makes before it serves: whatever it
// refuses, run refuses too, with the same words and exit 2 (which the unit
// does not restart), and what it passes starts.
func TestCheckConfigIsRunsCheck(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "mail.log")
	os.WriteFile(log, nil, 0o644)
	badWeb := filepath.Join(dir, "web.yml")
	os.WriteFile(badWeb, []byte("tls_server_config:\n  cert_file: "+filepath.Join(dir, "nope.pem")+"\n  key_file: "+filepath.Join(dir, "nope.key")+"\n"), 0o644)
	base := "inputs: [{path: " + log + ", mta: postfix}]\nstate_file: " + filepath.Join(dir, "s.db") + "\n"
	for _, c := range []struct {
		name, yml string
		args      []string
		want      string
	}{
		{"listen", base + "listen: \"999.0.0.1:80\"\n", nil, `c.yml:3: listen: "999.0.0.1:80": "999.0.0.1" is not an IP address`},
		{"state dir", "inputs: [{path: " + log + "}]\nlisten: \"127.0.0.1:0\"\nstate_file: " + filepath.Join(dir, "nodir", "s.db") + "\n", nil,
			"c.yml:3: state_file: " + filepath.Join(dir, "nodir", "s.db") + ": no such directory: " + filepath.Join(dir, "nodir")},
		{"web config", base + "listen: \"127.0.0.1:0\"\n", []string{"--web.config.file", badWeb}, "--web.config.file " + badWeb + ": "},
		{"alert target tls", base + "listen: \"127.0.0.1:0\"\nalerting:\n  alertmanagers:\n    - url: https://127.0.0.1:9093\n      tls_config: {ca_file: " + filepath.Join(dir, "ca.pem") + "}\n", nil,
			`notify: target "https://127.0.0.1:9093": `},
		{"two at once", base + "listen: \"127.0.0.1:http\"\n", []string{"--web.config.file", badWeb}, `c.yml:3: listen: "127.0.0.1:http": the port "http" is not a number in 0..65535` + "\n--web.config.file"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := filepath.Join(t.TempDir(), "c.yml")
			os.WriteFile(cfg, []byte(c.yml), 0o644)
			code, out := runExit(t, append([]string{"check-config"}, append(c.args, cfg)...)...)
			if code != 2 || !strings.Contains(out, c.want) {
				t.Errorf("check-config: exit %d, want 2 and %q in:\n%s", code, c.want, out)
			}
			// run stops at the file's errors before it looks at the host.
			code, out = runExit(t, append([]string{"run", "--config", cfg}, c.args...)...)
			var line struct{ Error string }
			json.Unmarshal([]byte(out), &line)
			if first, _, _ := strings.Cut(c.want, "\n"); code != 2 || !strings.Contains(line.Error, first) {
				t.Errorf("run: exit %d, want 2 and %q in:\n%s", code, first, out)
			}
		})
	}
	good := filepath.Join(dir, "good.yml")
	os.WriteFile(good, []byte(base+"listen: \"127.0.0.1:0\"\n"), 0o644)
	if code, out := runExit(t, "check-config", good); code != 0 || out != good+": ok\n" {
		t.Errorf("good config: exit %d %q", code, out)
	}
}
