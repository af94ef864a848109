package cli

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ppwatch/ppwatch/pkg/report"
)

func run(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(args, Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb})
	return code, out.String(), errb.String()
}

const blockLine = `Nov 22 09:15:02 mta1 postfix/smtp[1410]: 4C6D21A0B3F: to=<j.smith@acme-corp.example>, relay=mx0a-00123a01.pphosted.com[148.163.150.12]:25, delay=1.2, delays=0.05/0.01/0.61/0.53, dsn=5.7.0, status=bounced (host mx0a-00123a01.pphosted.com[148.163.150.12] said: 550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=192.0.2.25 (in reply to MAIL FROM command))`

const deferLine = `Nov 22 09:17:32 mta1 postfix/smtp[1433]: 8E3D41C0A2B: to=<ap@initech.example>, relay=mx0a-00456b02.pphosted.com[67.231.148.20]:25, delay=2.1, delays=0.01/0/1.5/0.59, dsn=4.0.0, status=deferred (host mx0a-00456b02.pphosted.com[67.231.148.20] said: 421 Deferred - see https://ipcheck.proofpoint.com/?ip=192.0.2.25 (in reply to MAIL FROM command))`

const sentLine = `Nov 22 09:16:11 mta1 postfix/smtp[1412]: 7A1B2C3D4E5: to=<buyer@initech.example>, relay=mx0b-00456b02.pphosted.com[67.231.156.44]:25, delay=0.88, delays=0.02/0/0.4/0.46, dsn=2.0.0, status=sent (250 2.0.0 4ah8x1r2m9-1 Message accepted for delivery)`

func TestParseStdin(t *testing.T) {
	in := strings.Join([]string{
		`Nov 22 09:15:01 mta1 postfix/qmgr[1102]: 4C6D21A0B3F: from=<billing@example.net>, size=4312, nrcpt=2 (queue active)`,
		blockLine, "garbage", sentLine, "",
	}, "\n")
	code, out, errs := run(t, in, "parse", "--mta", "postfix")
	if code != 0 || errs != "" {
		t.Fatalf("code %d, stderr %q", code, errs)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d events:\n%s", len(lines), out)
	}
	want := `{"time":"2026-11-22T09:15:02Z","mta":"postfix","host":"mta1","instance":"postfix","queue_id":"4C6D21A0B3F","sender":"billing@example.net","recipient":"j.smith@acme-corp.example","recipient_domain":"acme-corp.example","relay_host":"mx0a-00123a01.pphosted.com","relay_ip":"148.163.150.12","source_ip":"192.0.2.25","status":"bounced","smtp_code":550,"enhanced_code":"5.7.0","response":"550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=192.0.2.25","proofpoint":true,"class":"reputation","rule":"pp-ipcheck"}`
	// The year depends on today's date (stdin's reference is now): compare the rest.
	got := lines[0][len(`{"time":"2026`):]
	if d := cmp.Diff(want[len(`{"time":"2026`):], got); d != "" {
		t.Errorf("(-want +got)\n%s", d)
	}
}

func TestParseFilesAutoDetectGzipAndMalformed(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "mail.log")
	os.WriteFile(plain, []byte(blockLine+"\n"+"ov 22 09:15:02 mta1 postfix/smtp[1]: AAAAAA: to=<a@b.example>, relay=none, status=deferred (x)\n"+sentLine+"\n"), 0o644)
	gz := filepath.Join(dir, "mail.log.1.gz")
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte(deferLine + "\n"))
	zw.Close()
	os.WriteFile(gz, buf.Bytes(), 0o644)

	code, out, errs := run(t, "", "parse", gz, plain)
	if code != 0 {
		t.Fatalf("code %d: %s", code, errs)
	}
	var statuses []string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var ev struct{ Status string }
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatal(err)
		}
		statuses = append(statuses, ev.Status)
	}
	if d := cmp.Diff([]string{"deferred", "bounced", "delivered"}, statuses); d != "" {
		t.Errorf("events in input order (-want +got)\n%s", d)
	}
	wantErr := "ppwatch: " + plain + ":2: malformed: field prefix: no syslog timestamp, host and tag\n"
	if errs != wantErr {
		t.Errorf("stderr %q, want %q", errs, wantErr)
	}
}

func TestScanJSON(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "maillog")
	os.WriteFile(f, []byte(strings.Join([]string{blockLine, blockLine, deferLine, sentLine, "noise"}, "\n")+"\n"), 0o644)
	code, out, errs := run(t, "", "scan", f, "--json")
	if code != 0 {
		t.Fatalf("code %d: %s", code, errs)
	}
	var r report.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r.Lines != (report.Lines{Read: 5, Parsed: 4, Ignored: 1}) {
		t.Errorf("lines %+v", r.Lines)
	}
	tot := r.Totals
	if tot.Attempts != 4 || tot.ProofpointAttempts != 4 || tot.Blocks != 2 || tot.Deferrals != 1 || tot.Delivered != 1 || tot.BlockRatio != 0.5 || tot.DeferralRatio != 0.25 {
		t.Errorf("totals %+v", tot)
	}
	// Postfix does not log the source IP: the delivered attempt's is unknown
	// (no config), the others' come from the Proofpoint replies.
	if len(r.SourceIPs) != 2 || r.SourceIPs[0].SourceIP != "192.0.2.25" || r.SourceIPs[0].Blocks != 2 || r.SourceIPs[0].Attempts != 3 ||
		r.SourceIPs[1].SourceIP != "" || r.SourceIPs[1].Delivered != 1 {
		t.Errorf("source ips %+v", r.SourceIPs)
	}
	if len(r.ProofpointDomains) != 2 || r.ProofpointDomains[0].RecipientDomain != "acme-corp.example" || r.ProofpointDomains[0].BlockRatio != 1 {
		t.Errorf("domains %+v", r.ProofpointDomains)
	}
	if len(r.ProofpointReplies) != 2 || r.ProofpointReplies[0].Count != 2 ||
		r.ProofpointReplies[0].Response != "550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=192.0.2.25" ||
		!strings.HasSuffix(r.ProofpointReplies[0].FirstSeen.Format("2006-01-02T15:04:05Z07:00"), "-11-22T09:15:02Z") {
		t.Errorf("replies %+v", r.ProofpointReplies)
	}
}

func TestScanText(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "maillog")
	os.WriteFile(f, []byte(blockLine+"\n"+sentLine+"\n"), 0o644)
	code, out, _ := run(t, "", "scan", f)
	if code != 0 {
		t.Fatal(code)
	}
	for _, want := range []string{
		"2 lines read: 2 attempts, 0 ignored, 0 malformed",
		"proofpoint attempts 2: blocks 1 (50.0%), deferrals 0 (0.0%)",
		"192.0.2.25  1         0          0         1        1           1       100.0%",
		"(unknown)   1         1          0         0        1           0       0.0%",
		"note: 1 attempts have no known source IP",
		"1× from 192.0.2.25, class reputation (rule pp-ipcheck)",
		"    550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=192.0.2.25\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

func TestScanSince(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "maillog")
	os.WriteFile(f, []byte(blockLine+"\n"), 0o644)
	// The line is from Nov 22 of this or last year, and --since 0s starts now.
	code, out, _ := run(t, "", "scan", "--json", "--since", "0s", f)
	if code != 0 {
		t.Fatal(code)
	}
	var r report.Report
	json.Unmarshal([]byte(out), &r)
	if r.Totals.Attempts != 0 || r.Lines.BeforeSince != 1 || r.Since == nil {
		t.Errorf("since: totals %+v lines %+v", r.Totals, r.Lines)
	}
}

func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	badCfg := filepath.Join(dir, "bad.yml")
	os.WriteFile(badCfg, []byte("timezone: UTC\nbogus: 1\n"), 0o644)
	unknown := filepath.Join(dir, "unknown.log")
	os.WriteFile(unknown, []byte("hello\nworld\n"), 0o644)
	tests := []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"version"}, 0, ""},
		{[]string{}, 2, "Usage:"},
		{[]string{"frob"}, 2, `ppwatch: unknown command "frob"`},
		{[]string{"parse", "--mta", "sendmail"}, 2, `ppwatch: --mta: unknown MTA "sendmail" (use auto, postfix, exim, pmta)`},
		{[]string{"parse", "--nope"}, 2, "flag provided but not defined: -nope"},
		{[]string{"scan"}, 2, "scan: give one or more log files"},
		{[]string{"scan", "--since", "yesterday", unknown}, 2, `--since: invalid duration "yesterday" (use e.g. 90s, 5m, 24h, 30d)`},
		{[]string{"parse", "--config", badCfg}, 2, badCfg + `:2: unknown key "bogus" in the top level`},
		{[]string{"parse", "--config", filepath.Join(dir, "missing.yml")}, 2, "missing.yml: no such file or directory"},
		{[]string{"parse", filepath.Join(dir, "missing.log")}, 1, "missing.log: no such file or directory"},
		{[]string{"scan", unknown}, 1, unknown + ": cannot tell which MTA wrote it"},
	}
	for _, tt := range tests {
		code, _, errs := run(t, "", tt.args...)
		if code != tt.code || !strings.Contains(errs, tt.stderr) {
			t.Errorf("%v: code %d stderr %q; want %d and %q", tt.args, code, errs, tt.code, tt.stderr)
		}
	}
}

func TestVersion(t *testing.T) {
	_, out, _ := run(t, "", "version")
	if !strings.HasPrefix(out, "ppwatch, version devel (branch: unknown, revision: ") || !strings.Contains(out, "\n  go version:       go1.") {
		t.Errorf("version %q", out)
	}
}

func TestTooLongLine(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "maillog")
	long := strings.Repeat("x", 1<<20+10)
	os.WriteFile(f, []byte(blockLine+"\n"+long+"\n"+sentLine+"\n"), 0o644)
	code, out, errs := run(t, "", "scan", "--mta", "postfix", "--json", f)
	if code != 0 {
		t.Fatal(code, errs)
	}
	var r report.Report
	json.Unmarshal([]byte(out), &r)
	if r.Lines != (report.Lines{Read: 3, Parsed: 2, Malformed: 1}) {
		t.Errorf("lines %+v", r.Lines)
	}
	if !strings.Contains(errs, f+":2: malformed: line longer than 1048576 bytes skipped") {
		t.Errorf("stderr %q", errs)
	}
}

// check-config says everything at once: the file's problems in line
// order, then what the host lacks (here the state file's directory).
func TestCheckConfigEverythingAtOnce(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yml")
	os.WriteFile(cfg, []byte("listen: \"999.0.0.1:80\"\nstate_file: "+dir+"/nodir/s.db\nretention: 1x\nrules: [{id: a, match: x, class: blocked}]\n"), 0o644)
	code, out, errs := run(t, "", "check-config", cfg)
	want := "ppwatch: " + cfg + `:1: listen: "999.0.0.1:80": "999.0.0.1" is not an IP address
` + cfg + `:3: retention: invalid duration "1x" (use e.g. 90s, 5m, 24h, 30d)
` + cfg + `:4: rules[0].class: unknown class "blocked" (use one of reputation, rate_limit, content, policy, auth, recipient, connection, other)
` + cfg + `:2: state_file: ` + dir + `/nodir/s.db: no such directory: ` + dir + `/nodir (create it, or leave state_file and --state out for /var/lib/ppwatch/ppwatch.db)
`
	if code != 2 || out != "" || errs != want {
		t.Errorf("exit %d, stdout %q, stderr\n%s\nwant\n%s", code, out, errs, want)
	}
}
