package parsers

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ppwatch/ppwatch/parsers/postfix"
)

func TestDetectHead(t *testing.T) {
	for mta, file := range map[string]string{"postfix": "../testdata/postfix/sample.log", "exim": "../testdata/exim/sample.log", "pmta": "../testdata/pmta/sample.log"} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if got := DetectHead(b); got != mta {
			t.Errorf("%s: %q", file, got)
		}
	}
	// Every test log of an MTA is detected as that MTA's.
	for _, m := range Table {
		files, _ := filepath.Glob(filepath.Join("../testdata", m.Name, "*.log"))
		for _, file := range files {
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if got := DetectHead(b); got != m.Name {
				t.Errorf("%s: %q", file, got)
			}
		}
	}
	// A cut-off line alone tells nothing.
	if got := DetectHead([]byte("Nov 22 09:16:10 mta1 postfix/smtpd[1500]: connect from")); got != "" {
		t.Errorf("cut-off line: %q", got)
	}
}

// A Postfix log that starts with a restart and hours of smtpd, anvil and
// scache noise is Postfix's, in every syslog prefix the parser reads; the
// other MTAs' samples stay theirs.
func TestDetectPostfixStartup(t *testing.T) {
	head := []string{
		"postfix/postfix-script[91090]: stopping the Postfix mail system",
		"postfix/master[85376]: terminating on signal 15",
		"postfix/postfix-script[91724]: starting the Postfix mail system",
		"postfix/master[91726]: daemon started -- version 3.7.11, configuration /etc/postfix",
	}
	noise := []string{
		"postfix/smtpd[1500]: connect from app1.example.net[192.0.2.40]",
		"postfix/smtpd[1500]: disconnect from app1.example.net[192.0.2.40] ehlo=1 quit=1 commands=2",
		"postfix/anvil[8707]: statistics: max connection rate 1/60s for (smtp:192.0.2.40) at Nov  2 14:20:35",
		"postfix/anvil[8707]: statistics: max cache size 1 at Nov  2 14:20:12",
		"postfix/scache[15490]: statistics: start interval Nov  2 14:19:16",
		"postfix/submission/smtpd[395]: disconnect from unknown[10.1.7.188] ehlo=2 starttls=1 mail=1 rcpt=0/1 data=0/1 quit=1 commands=5/7",
	}
	deliveries := []string{
		"postfix/qmgr[1102]: 4C6D21A0B3F: from=<billing@example.net>, size=4312, nrcpt=1 (queue active)",
		"postfix/smtp[1410]: 4C6D21A0B3F: to=<j.smith@acme-corp.example>, relay=mx0a-00123a01.pphosted.com[148.163.150.12]:25, delay=1.2, delays=0.05/0.01/0.61/0.53, dsn=5.7.0, status=bounced (host mx0a-00123a01.pphosted.com[148.163.150.12] said: 550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=192.0.2.25 (in reply to MAIL FROM command))",
		"postfix/qmgr[1102]: 4C6D21A0B3F: removed",
	}
	for _, prefix := range []string{
		"Nov  2 14:23:33 mta1 ",
		"Nov 02 14:23:33 mta1 ",
		"Nov 12 14:23:33 mta1 ",
		"2026-11-02T14:23:33.123456+00:00 mta1 ",
		"2026-11-02T14:23:33+00:00 mta1 ",
		"2023-09-08T17:20:30+0200 mta1 ",
		"Nov  2 14:23:33 mta1 mail.info ",
		"<22>Nov  2 14:23:33 mta1 ",
	} {
		var b strings.Builder
		for _, l := range head {
			b.WriteString(prefix + l + "\n")
		}
		for i := len(head); i < 300; i++ {
			b.WriteString(prefix + noise[i%len(noise)] + "\n")
		}
		startup := b.String()
		for i := 0; i < 50; i++ {
			b.WriteString(prefix + deliveries[i%len(deliveries)] + "\n")
		}
		if got := DetectHead([]byte(b.String())); got != "postfix" {
			t.Errorf("%q: detected %q", prefix, got)
		}
		// the startup block alone (no attempt yet) is enough
		if got := DetectHead([]byte(startup)); got != "postfix" {
			t.Errorf("%q, startup only: detected %q", prefix, got)
		}
		if got := DetectHead([]byte(prefix + head[3] + "\n")); got != "postfix" {
			t.Errorf("%q, master line only: detected %q", prefix, got)
		}
	}
	others, _ := filepath.Glob("../testdata/exim/*.log")
	pmta, _ := filepath.Glob("../testdata/pmta/*.log")
	if len(others) == 0 || len(pmta) == 0 {
		t.Fatal("no Exim or PowerMTA test logs")
	}
	for _, file := range append(others, pmta...) {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(b), "\n") {
			// a shared syslog file holds the odd Postfix line too
			if postfix.Sniff(l) && !strings.Contains(l, " postfix/") {
				t.Errorf("%s: line taken for Postfix: %q", file, l)
			}
		}
	}
}
