package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/ppwatch/ppwatch/pkg/app"
	"github.com/ppwatch/ppwatch/pkg/config"
	"github.com/ppwatch/ppwatch/pkg/dnscheck/dnstest"
	"github.com/ppwatch/ppwatch/pkg/evidence"
	"github.com/ppwatch/ppwatch/pkg/internal/testkit"
	"github.com/rs/zerolog"
)

// ppwatch report reads the logs as scan does, joins senders and
// Message-IDs, and writes the packet (its layout has golden tests in
// pkg/evidence); usage errors are exit 2 with one line.
func TestReportCommand(t *testing.T) {
	files := []string{"../../testdata/postfix/sample.log", "../../testdata/exim/sample.log", "../../testdata/pmta/sample.log"}
	code, out, errs := run(t, "", append([]string{"report", "--config", "../../testdata/demo.yml", "--ip", "192.0.2.10", "--format", "json"}, files...)...)
	if code != 0 || errs != "" {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	var p evidence.Packet
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatal(err)
	}
	if p.Totals.Attempts != 38 || p.Totals.ProofpointAttempts != 29 || p.Totals.Blocks != 12 || p.Totals.Deferrals != 8 ||
		p.Case.Kind != evidence.KindReputation || p.Messages.Deferred != 6 || p.Messages.DeliveredAfterRetry != 3 || p.Source != "3 log files" {
		t.Errorf("packet: totals %+v, case %s, messages %+v", p.Totals, p.Case.Kind, p.Messages)
	}
	if len(p.Samples) == 0 || p.Samples[0].MessageID != "20261122094102.3@news.example.com" || p.Samples[0].Sender != "news@news.example.com" {
		t.Errorf("first sample %+v", p.Samples[0])
	}
	code, out, _ = run(t, "", "report", "--ip", "203.0.113.11", "--format", "eml", "--from", "ops@example.com", "../../testdata/pmta/sample.log")
	if code != 0 || !strings.HasPrefix(out, "From: ops@example.com\r\nTo: postmaster@proofpoint.com\r\nSubject: Sending IP 203.0.113.11: a block on the sending IP's reputation (550 5.7.0)\r\n") {
		t.Errorf("eml: exit %d\n%.300s", code, out)
	}

	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"report", "x.log"}, "ppwatch: report: give --ip, the sending IP the case is about\n"},
		{[]string{"report", "--ip", "192.0.2.300", "x.log"}, "ppwatch: --ip: \"192.0.2.300\" is not an IP address\n"},
		{[]string{"report", "--ip", "192.0.2.10"}, "ppwatch: report: give the log files to read (\"-\" for standard input), --url of a running daemon or --state of a stopped one\n"},
		{[]string{"report", "--ip", "192.0.2.10", "--format", "pdf", "x.log"}, "ppwatch: --format: unknown format \"pdf\" (use text, markdown, json or eml)\n"},
		{[]string{"report", "--ip", "192.0.2.10", "--since", "yesterday", "x.log"}, "ppwatch: --since: \"yesterday\" is neither a duration (24h, 7d), a date (2026-11-22) nor an RFC 3339 time\n"},
	} {
		if code, out, errs := run(t, "", tt.args...); code != 2 || out != "" || errs != tt.want {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 2 and %q", tt.args, code, out, errs, tt.want)
		}
	}
}

// --check makes the sender checks now, against the resolvers given, and
// the packet states them: a failing SPF comes first as what to fix.
func TestReportCheck(t *testing.T) {
	srv := dnstest.Start(t, dnstest.Zones(t, dnstest.TestZones))
	log := filepath.Join(t.TempDir(), "acct.csv")
	os.WriteFile(log, []byte("type,timeLogged,timeQueued,orig,rcpt,orcpt,dsnAction,dsnStatus,dsnDiag,dsnMta,bounceCat,srcType,srcMta,dlvType,dlvSourceIp,dlvDestinationIp,dlvEsmtpAvailable,dlvSize,vmta,jobId,envId,queue,vmtaPool\n"+
		"b,2026-11-22 09:04:01+0000,2026-11-22 08:59:40+0000,news@example.com,a@pp.example,,failed,5.7.0 (other or undefined security status),smtp;550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=198.51.100.7,mx0a-001b2d01.pphosted.com (148.163.156.1),policy-related,smtp,app01.example.com (192.0.2.20),smtp,198.51.100.7,148.163.156.1,,4821,vmta-1,job-1,,pp.example/vmta-1,news\n"), 0o644)
	code, out, errs := run(t, "", "report", "--ip", "198.51.100.7", "--check", "--dns.server", srv.Addr, log)
	if code != 0 || errs != "" {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	for _, want := range []string{
		"Before sending, fix first (then check again with ppwatch check):\n  FAIL spf 198.51.100.7 for example.com: not permitted by \"v=spf1 include:_spf.example.com ~all\" (softfail)\n",
		"PTR:               out.example.com (pass, checked ",
		"  PASS mx pp.example: Proofpoint: MX mx0a-001b2d01.pphosted.com, mx0b-001b2d01.pphosted.com (checked ",
		"  FAIL spf 198.51.100.7 for example.com: not permitted by",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
	if code, _, errs := run(t, "", "report", "--ip", "198.51.100.7", "--check", "--dns.server", "resolver.example:53", log); code != 2 || !strings.HasPrefix(errs, "ppwatch: --dns.server: ") {
		t.Errorf("bad --dns.server: exit %d %q", code, errs)
	}
}

// Two daemons of a fleet, each with part of one IP's mail: the packet
// from both (--url twice) has the counts and replies of reading both
// hosts' logs at once, and a daemon that fails is named in the error.
func TestReportFleetMerge(t *testing.T) {
	start := func(log, mta string) string {
		a := startDaemon(t, filepath.Join(t.TempDir(), "ppwatch.db"), "inputs: [{path: "+log+", mta: "+mta+"}]\nsource_ips: [{mta: postfix, ip: 192.0.2.10}]\n")
		return "http://" + a.Addr()
	}
	// What the logs say, read at once, with the same source IP mapping.
	cfgFile := filepath.Join(t.TempDir(), "c.yml")
	os.WriteFile(cfgFile, []byte("timezone: UTC\nsource_ips: [{mta: postfix, ip: 192.0.2.10}]\n"), 0o644)
	_, out, _ := run(t, "", "report", "--config", cfgFile, "--ip", "192.0.2.10", "--format", "json", "../../testdata/postfix/sample.log", "../../testdata/exim/sample.log")
	var want evidence.Packet
	if err := json.Unmarshal([]byte(out), &want); err != nil {
		t.Fatal(err)
	}
	a, b := start("../../testdata/postfix/sample.log", "postfix"), start("../../testdata/exim/sample.log", "exim")
	var got evidence.Packet
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, out, errs := run(t, "", "report", "--ip", "192.0.2.10", "--format", "json", "--url", a, "--url", b+"/")
		got = evidence.Packet{}
		json.Unmarshal([]byte(out), &got)
		if got.Totals.Attempts == want.Totals.Attempts || time.Now().After(deadline) {
			if errs != "" {
				t.Fatalf("stderr %q", errs)
			}
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if want.Totals.Attempts == 0 || want.Totals.Blocks == 0 || len(want.Replies) < 3 {
		t.Fatalf("the logs give %+v", want.Totals)
	}
	if got.Totals.Attempts != want.Totals.Attempts || got.Totals.ProofpointAttempts != want.Totals.ProofpointAttempts ||
		got.Totals.Blocks != want.Totals.Blocks || got.Totals.Deferrals != want.Totals.Deferrals || got.Case.Kind != want.Case.Kind {
		t.Errorf("merged totals %+v case %s; the logs read at once: %+v case %s", got.Totals, got.Case.Kind, want.Totals, want.Case.Kind)
	}
	count := func(p evidence.Packet) map[string]int {
		m := map[string]int{}
		for _, r := range p.Replies {
			m[r.Response] += r.Count
		}
		return m
	}
	if d := cmp.Diff(count(want), count(got)); d != "" {
		t.Errorf("replies (-logs +daemons):\n%s", d)
	}
	if len(got.Days) != 1 || got.Days[0].Blocks != want.Totals.Blocks || !strings.HasPrefix(got.Source, "the state file of ") {
		t.Errorf("days %+v, source %q", got.Days, got.Source)
	}
	if code, _, errs := run(t, "", "report", "--ip", "192.0.2.10", "--url", a+"/nothing-here"); code != 1 || !strings.Contains(errs, "/nothing-here/api/v1/ips/192.0.2.10/report: 404 Not Found") {
		t.Errorf("a failing daemon: exit %d, %q", code, errs)
	}
}

// --state reads a stopped daemon's state file; one a running daemon holds
// is refused at once, with the way out.
func TestReportFromStateFile(t *testing.T) {
	dir := t.TempDir()
	statePath := filepath.Join(dir, "ppwatch.db")
	a := startDaemon(t, statePath, "inputs: [{path: ../../testdata/exim/sample.log, mta: exim}]\n")
	_, out, _ := run(t, "", "report", "--ip", "192.0.2.10", "--format", "json", "../../testdata/exim/sample.log")
	var want evidence.Packet
	json.Unmarshal([]byte(out), &want)
	url := "http://" + a.Addr()
	testkit.WaitFor(t, func() string {
		_, out, _ := run(t, "", "report", "--ip", "192.0.2.10", "--format", "json", "--url", url)
		var p evidence.Packet
		json.Unmarshal([]byte(out), &p)
		return cmp.Diff(want.Totals.Attempts, p.Totals.Attempts)
	})
	if code, _, errs := run(t, "", "report", "--ip", "192.0.2.10", "--state", statePath); code != 1 ||
		!strings.HasSuffix(errs, "(a running daemon holds it: give --url of that daemon instead)\n") {
		t.Errorf("a held state file: exit %d, %q", code, errs)
	}
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	code, out, errs := run(t, "", "report", "--ip", "192.0.2.10", "--format", "json", "--state", statePath)
	var got evidence.Packet
	if err := json.Unmarshal([]byte(out), &got); code != 0 || err != nil {
		t.Fatalf("exit %d, %v, %s", code, err, errs)
	}
	if got.Totals.Attempts != want.Totals.Attempts || got.Totals.Blocks != want.Totals.Blocks || got.Messages.DeliveredAfterRetry != want.Messages.DeliveredAfterRetry ||
		len(got.Episodes) != 2 || got.Source != "the state file "+statePath {
		t.Errorf("from the state file: totals %+v, messages %+v, %d episodes, source %q; the log: %+v", got.Totals, got.Messages, len(got.Episodes), got.Source, want.Totals)
	}
	if code, _, errs := run(t, "", "report", "--ip", "192.0.2.10", "--state", filepath.Join(dir, "nope.db")); code != 1 || !strings.Contains(errs, "nope.db: no such file or directory") {
		t.Errorf("a missing state file: exit %d %q", code, errs)
	}
}

// startDaemon starts a daemon on 127.0.0.1 with its state file at
// statePath and the config text extra (its inputs), stopped when the
// test ends; it asks DNS only of a loopback port that refuses.
func startDaemon(t *testing.T, statePath, extra string) *app.App {
	t.Helper()
	cfg, err := config.Parse([]byte("listen: 127.0.0.1:0\nstate_file: "+statePath+"\nflush_interval: 20ms\ntimezone: UTC\ndns: {servers: [\"127.0.0.1:1\"]}\n"+extra), "daemon.yml")
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(app.Options{Config: cfg, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(); err != nil {
		a.Stop()
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Stop() })
	return a
}
