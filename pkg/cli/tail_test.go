package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ppwatch/ppwatch/pkg/event"
	"github.com/ppwatch/ppwatch/pkg/internal/testkit"
)

// tailRun is ppwatch tail running in-process.
type tailRun struct {
	out, errs testkit.SyncBuffer
	code      chan int
}

func startTail(t *testing.T, args ...string) *tailRun {
	t.Helper()
	r := &tailRun{code: make(chan int, 1)}
	go func() { r.code <- Main(append([]string{"tail"}, args...), Env{Stdout: &r.out, Stderr: &r.errs}) }()
	t.Cleanup(func() {
		select {
		case <-r.code:
		default:
			t.Error("ppwatch tail still running at the end of the test")
		}
	})
	return r
}

// waitFor waits until stdout and stderr are exactly these: the tail
// library polls every 250 ms, so the deadline is generous.
func (r *tailRun) waitFor(t *testing.T, out, errs string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		dOut, dErr := cmp.Diff(out, r.out.String()), cmp.Diff(errs, r.errs.String())
		if dOut == "" && dErr == "" {
			return
		}
		select {
		case code := <-r.code:
			t.Fatalf("ppwatch tail ended with %d; stdout (-want +got)\n%s\nstderr (-want +got)\n%s", code, dOut, dErr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 10 s: stdout (-want +got)\n%s\nstderr (-want +got)\n%s", dOut, dErr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// interrupt sends SIGINT, as Ctrl-C does, and returns the exit code. The
// command's handler is in place once it has written anything.
func (r *tailRun) interrupt(t *testing.T) int {
	t.Helper()
	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-r.code:
		r.code <- code // for the cleanup's check
		return code
	case <-time.After(10 * time.Second):
		t.Fatal("ppwatch tail did not stop on SIGINT")
		return 0
	}
}

// sample returns lines from..to (1-based, inclusive) of testdata/<name>.log
// with their newlines, and the events of the same lines in its golden file.
func sample(t *testing.T, name string, from, to int) (text string, events []string) {
	t.Helper()
	read := func(path string) []string {
		b, err := os.ReadFile(filepath.Join("..", "..", "testdata", path))
		if err != nil {
			t.Fatal(err)
		}
		return strings.SplitAfter(string(b), "\n")
	}
	lines, golden := read(name+".log"), read(name+".golden.jsonl")
	for i := from - 1; i < to; i++ {
		text += lines[i]
		if strings.HasPrefix(golden[i], `{"time"`) {
			events = append(events, golden[i])
		}
	}
	return text, events
}

// By default: the Proofpoint blocks and deferrals written after the start,
// one readable line each, named by file when there are several; a file
// that is not there yet is waited for and its MTA told from its lines; a
// rename rotation and a copytruncate lose nothing written after them;
// SIGINT ends it with exit 0.
func TestTailBlocksAndDeferralsThroughRotations(t *testing.T) {
	dir := t.TempDir()
	mail, exim := filepath.Join(dir, "mail.log"), filepath.Join(dir, "mainlog")
	head, _ := sample(t, "postfix/rfc3339", 1, 2) // a PDR block, written before the start
	testkit.AppendFile(t, mail, head)
	r := startTail(t, "--config", "../../testdata/golden-config.yml", mail, exim)
	errs := "ppwatch: " + exim + ": does not exist yet; waiting for it\n"
	r.waitFor(t, "", errs)

	const (
		deferral = "2026-11-22T10:31:07Z 192.0.2.25 cyberdyne.example deferral rate_limit 421 4.7.1 Too many connections from your IP, try again later\n"
		block    = "2026-11-22T10:02:12Z 192.0.2.26 wayne.example block reputation 554 5.7.1 Service unavailable; Client host [192.0.2.26] blocked using Proofpoint Dynamic Reputation; see https://support.proofpoint.com/dnsbl-lookup.cgi?ip=192.0.2.26\n"
	)
	// Two deliveries, a deferral and a non-Proofpoint block: the deferral.
	rest, _ := sample(t, "postfix/rfc3339", 3, 7)
	testkit.AppendFile(t, mail, rest)
	out := mail + ": " + deferral
	r.waitFor(t, out, errs)

	// A host's deferral (no attempt), two deferred attempts, a delivery to
	// Gmail, another deferral.
	eximLines, _ := sample(t, "exim/sample", 24, 28)
	testkit.AppendFile(t, exim, eximLines)
	out += exim + ": 2026-11-22T09:41:04Z 192.0.2.10 acme-corp.example deferral reputation 421 Deferred - see https://ipcheck.proofpoint.com/?ip=192.0.2.10\n" +
		exim + ": 2026-11-22T09:41:04Z 192.0.2.10 acme-corp.example deferral reputation 421 Deferred - see https://ipcheck.proofpoint.com/?ip=192.0.2.10\n" +
		exim + ": 2026-11-22T09:41:06Z 192.0.2.10 globex.example deferral reputation 421 4.7.0 Deferred - see https://ipcheck.proofpoint.com/?ip=192.0.2.10\n"
	r.waitFor(t, out, errs)

	if err := os.Rename(mail, mail+".1"); err != nil {
		t.Fatal(err)
	}
	testkit.AppendFile(t, mail, head)
	out += mail + ": " + block
	r.waitFor(t, out, errs)

	// The library sees a truncation by the size alone: what follows it is
	// shorter than what was there (nxadm/tail#62).
	testkit.CopyTruncate(t, mail)
	line5, _ := sample(t, "postfix/rfc3339", 5, 5)
	testkit.AppendFile(t, mail, line5)
	out += mail + ": " + deferral
	r.waitFor(t, out, errs)

	if code := r.interrupt(t); code != ExitOK {
		t.Errorf("exit %d after SIGINT, want 0", code)
	}
	if got := r.out.String() + r.errs.String(); got != out+errs {
		t.Errorf("more output after the last wait (-want +got)\n%s", cmp.Diff(out+errs, got))
	}
}

// --all prints every attempt, not only Proofpoint blocks and deferrals.
func TestTailAll(t *testing.T) {
	mail := filepath.Join(t.TempDir(), "mail.log")
	r := startTail(t, "--all", "--config", "../../testdata/golden-config.yml", mail)
	errs := "ppwatch: " + mail + ": does not exist yet; waiting for it\n"
	r.waitFor(t, "", errs)
	all, _ := sample(t, "postfix/rfc3339", 1, 7)
	testkit.AppendFile(t, mail, all)
	r.waitFor(t, "2026-11-22T10:02:12Z 192.0.2.26 wayne.example block reputation 554 5.7.1 Service unavailable; Client host [192.0.2.26] blocked using Proofpoint Dynamic Reputation; see https://support.proofpoint.com/dnsbl-lookup.cgi?ip=192.0.2.26\n"+
		"2026-11-22T10:30:00Z 192.0.2.25 oscorp.example delivered none 250 2.0.0 4b1x9rj0ep-1 Message accepted for delivery\n"+
		"2026-11-22T10:31:07Z 192.0.2.25 cyberdyne.example deferral rate_limit 421 4.7.1 Too many connections from your IP, try again later\n"+
		"2026-11-22T15:31:08Z 192.0.2.25 example.com delivered none 250 2.0.0 Ok: queued as 4cDCq2A7Bkz9ZZZ\n"+
		"2026-11-22T10:31:09Z 192.0.2.25 example.com bounced reputation 554 5.7.1 Service unavailable; Client host [192.0.2.26] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/192.0.2.26\n", errs)
	if code := r.interrupt(t); code != ExitOK {
		t.Errorf("exit %d after SIGINT, want 0", code)
	}
}

// --json prints the events exactly as ppwatch parse does (the golden
// files). A PowerMTA file followed from its end is read with its own
// header, whose column order is not the default one; after a rotation the
// new file's header comes in the stream.
func TestTailJSONWithTheFilesHeader(t *testing.T) {
	dir := t.TempDir()
	acct, absent := filepath.Join(dir, "acct.csv"), filepath.Join(dir, "absent.csv")
	head, _ := sample(t, "pmta/reordered", 1, 2)
	testkit.AppendFile(t, acct, head)
	r := startTail(t, "--json", "--all", "--config", "../../testdata/golden-config.yml", acct, absent)
	errs := "ppwatch: " + absent + ": does not exist yet; waiting for it\n"
	r.waitFor(t, "", errs)

	records, events := sample(t, "pmta/reordered", 3, 6)
	testkit.AppendFile(t, acct, records)
	out := strings.Join(events, "")
	r.waitFor(t, out, errs)

	if err := os.Rename(acct, acct+".1"); err != nil {
		t.Fatal(err)
	}
	whole, events := sample(t, "pmta/reordered", 1, 6)
	testkit.AppendFile(t, acct, whole)
	out += strings.Join(events, "")
	r.waitFor(t, out, errs)

	testkit.CopyTruncate(t, acct)
	short, events := sample(t, "pmta/reordered", 1, 3)
	testkit.AppendFile(t, acct, short)
	out += strings.Join(events, "")
	r.waitFor(t, out, errs)

	// The same bytes as ppwatch parse of the same lines.
	code, parsed, perrs := run(t, "", "parse", "--config", "../../testdata/golden-config.yml", acct)
	if code != ExitOK || perrs != "" || !strings.HasSuffix(out, parsed) || parsed == "" {
		t.Errorf("ppwatch parse: exit %d, stderr %q, stdout\n%s\nnot the end of the tail's\n%s", code, perrs, parsed, out)
	}
	if code := r.interrupt(t); code != ExitOK {
		t.Errorf("exit %d after SIGINT, want 0", code)
	}
}

// A line longer than the cap is skipped and reported, like scan and parse
// do, and the lines after it are read as usual.
func TestTailSkipsOverlongLines(t *testing.T) {
	mail := filepath.Join(t.TempDir(), "mail.log")
	r := startTail(t, mail)
	errs := "ppwatch: " + mail + ": does not exist yet; waiting for it\n"
	r.waitFor(t, "", errs)
	block, _ := sample(t, "postfix/rfc3339", 2, 2)
	testkit.AppendFile(t, mail, strings.Repeat("x", 1<<20+1)+"\n"+block)
	errs += "ppwatch: " + mail + ": malformed: line longer than 1048576 bytes skipped\n"
	r.waitFor(t, "2026-11-22T10:02:12Z 192.0.2.26 wayne.example block reputation 554 5.7.1 Service unavailable; Client host [192.0.2.26] blocked using Proofpoint Dynamic Reputation; see https://support.proofpoint.com/dnsbl-lookup.cgi?ip=192.0.2.26\n", errs)
	if code := r.interrupt(t); code != ExitOK {
		t.Errorf("exit %d after SIGINT, want 0", code)
	}
}

func TestTailUsage(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"tail"}, ExitUsage, "ppwatch: tail: give one or more log files to follow\n"},
		{[]string{"tail", "-"}, ExitUsage, "ppwatch: tail: follows files, not standard input (ppwatch parse reads a pipe)\n"},
		{[]string{"tail", "--mta", "sendmail", "x.log"}, ExitUsage, "ppwatch: --mta: unknown MTA \"sendmail\" (use auto, postfix, exim, pmta)\n"},
		{[]string{"tail", dir}, ExitRuntime, "ppwatch: " + dir + ": is a directory, not a log file\n"},
	} {
		code, out, errs := run(t, "", c.args...)
		if code != c.code || out != "" || errs != c.err {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want %d and %q", c.args, code, out, errs, c.code, c.err)
		}
	}
}

// Colour only on request (a terminal), red blocks and yellow deferrals;
// control characters of a reply never reach the terminal.
func TestReadableLine(t *testing.T) {
	ev := event.Delivery{
		Time: time.Date(2026, 11, 22, 10, 2, 12, 5e8, time.FixedZone("", 3600)), SourceIP: "192.0.2.26", RecipientDomain: "wayne.example",
		Status: event.Bounced, SMTPCode: 554, Proofpoint: true, Class: event.ClassReputation,
		Response: "554 5.7.1 Blocked\x1b[2J - see https://ipcheck.proofpoint.com/?ip=192.0.2.26",
	}
	const text = "2026-11-22T09:02:12Z 192.0.2.26 wayne.example block reputation 554 5.7.1 Blocked?[2J - see https://ipcheck.proofpoint.com/?ip=192.0.2.26"
	if got := readableLine("", &ev, false); got != text+"\n" {
		t.Errorf("got %q", got)
	}
	if got := readableLine("f: ", &ev, true); got != "\x1b[31mf: "+text+"\x1b[0m\n" {
		t.Errorf("coloured block: got %q", got)
	}
	ev.SMTPCode, ev.Status = 421, event.Deferred
	if got := readableLine("", &ev, true); !strings.HasPrefix(got, "\x1b[33m") {
		t.Errorf("coloured deferral: got %q", got)
	}
	ev.Proofpoint, ev.SourceIP, ev.RecipientDomain = false, "", ""
	if got := readableLine("", &ev, true); got != "2026-11-22T09:02:12Z - - deferred reputation 554 5.7.1 Blocked?[2J - see https://ipcheck.proofpoint.com/?ip=192.0.2.26\n" {
		t.Errorf("not Proofpoint: got %q", got)
	}

	f, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if colourful(f) || colourful(&bytes.Buffer{}) {
		t.Error("a regular file or a buffer is no terminal")
	}
}

func TestColourOnATerminal(t *testing.T) {
	// A pseudo-terminal's master side is a terminal like any other.
	tty, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal to check against: %v", err)
	}
	defer tty.Close()
	t.Setenv("NO_COLOR", "")
	t.Setenv("TERM", "xterm")
	if !colourful(tty) {
		t.Error("a terminal is not coloured")
	}
	t.Setenv("NO_COLOR", "1")
	if colourful(tty) {
		t.Error("NO_COLOR is ignored")
	}
	t.Setenv("NO_COLOR", "")
	t.Setenv("TERM", "dumb")
	if colourful(tty) {
		t.Error("TERM=dumb is ignored")
	}
}
