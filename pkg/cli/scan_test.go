package cli

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ppwatch/ppwatch/pkg/event"
	"github.com/ppwatch/ppwatch/pkg/loggen"
	"github.com/ppwatch/ppwatch/pkg/report"
)

// A file that cannot be read or recognised does not cost the report of the
// others: each bad file is named on stderr and in the report, and the exit
// code is 1 at the end.
func TestScanReportsTheGoodFilesAndNamesTheBad(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "maillog")
	os.WriteFile(good, []byte(blockLine+"\n"+sentLine+"\n"), 0o644)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	for i := 0; i < 200; i++ {
		fmt.Fprintf(zw, "%s %d\n", sentLine, i) // distinct lines compress less: the cut falls among them
	}
	zw.Close()
	truncated := filepath.Join(dir, "maillog.2.gz")
	os.WriteFile(truncated, gz.Bytes()[:gz.Len()/2], 0o644) // cut off in the middle, as an unfinished copy is
	sub := filepath.Join(dir, "archive")
	os.Mkdir(sub, 0o755)
	unknown := filepath.Join(dir, "notes.txt")
	os.WriteFile(unknown, []byte("hello\nworld\n"), 0o644)

	code, out, errs := run(t, "", "scan", "--json", good, truncated, sub, unknown)
	if code != 1 {
		t.Fatalf("exit %d, want 1; stderr %q", code, errs)
	}
	wantErrs := []string{
		"ppwatch: " + truncated + ": line ",
		"gzip data ends early: the file is truncated",
		"ppwatch: " + sub + ": is a directory, not a log file\n",
		"ppwatch: " + unknown + ": cannot tell which MTA wrote it",
		fmt.Sprintf("ppwatch: 3 of 4 files not read to the end: %s, %s, %s\n", truncated, sub, unknown),
	}
	for _, w := range wantErrs {
		if !strings.Contains(errs, w) {
			t.Errorf("stderr lacks %q:\n%s", w, errs)
		}
	}
	var r report.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(r.Files) != 4 || r.Files[0].Error != "" || r.Files[0].Parsed != 2 || r.Files[1].Error == "" || r.Files[2].Error == "" || r.Files[3].Error == "" {
		t.Fatalf("files %+v", r.Files)
	}
	// The truncated file counts what it gave up to the cut, no more.
	if got := r.Files[1].Parsed; got == 0 || got >= 200 || r.Totals.Delivered != 1+got {
		t.Errorf("truncated file parsed %d, delivered total %d", got, r.Totals.Delivered)
	}
	if r.Files[2].MTA != "unknown" || r.Files[3].MTA != "unknown" {
		t.Errorf("mta of unreadable files: %q %q", r.Files[2].MTA, r.Files[3].MTA)
	}
}

// Files are read in parallel, one per worker, and the report (text and
// JSON) and stderr are byte for byte those of a one-worker run: a month of
// rotated logs, compressed ones included, with malformed lines and the
// reply cap reached.
func TestScanParallelEqualsSerial(t *testing.T) {
	dir := t.TempDir()
	var files []string
	for i := 0; i < 8; i++ {
		var b bytes.Buffer
		loggen.Write(&b, loggen.Options{Lines: 6000, Seed: uint64(i + 1), Start: time.Date(2026, 11, 1+i, 0, 0, 0, 0, time.UTC),
			ProofpointShare: 0.5, ProofpointDomains: 3000})
		fmt.Fprintf(&b, "ov 22 09:15:02 mta1 postfix/smtp[1]: 4C6D21A0B3F: to=<a@b.example>, relay=none, delay=1, status=deferred (x)\n")
		name := filepath.Join(dir, fmt.Sprintf("mail.log.%d", i))
		data := b.Bytes()
		if i >= 2 {
			var gz bytes.Buffer
			zw := gzip.NewWriter(&gz)
			zw.Write(data)
			zw.Close()
			name, data = name+".gz", gz.Bytes()
		}
		if err := os.WriteFile(name, data, 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, name)
	}
	for _, format := range [][]string{nil, {"--json"}} {
		serial := append(append([]string{"scan", "--jobs", "1"}, format...), files...)
		parallel := append(append([]string{"scan", "--jobs", "4"}, format...), files...)
		c1, out1, err1 := run(t, "", serial...)
		c2, out2, err2 := run(t, "", parallel...)
		if c1 != 0 || c2 != 0 {
			t.Fatalf("exit %d and %d: %s %s", c1, c2, err1, err2)
		}
		if d := cmp.Diff(out1, out2); d != "" {
			t.Errorf("%v: report differs (-serial +parallel):\n%s", format, d)
		}
		if d := cmp.Diff(err1, err2); d != "" || strings.Count(err1, "malformed") != 8 {
			t.Errorf("%v: stderr differs or lacks the 8 malformed lines (-serial +parallel):\n%s\n%s", format, d, err1)
		}
	}
	_, out, _ := run(t, "", append([]string{"scan", "--json"}, files...)...)
	var r report.Report
	json.Unmarshal([]byte(out), &r)
	if r.Lines.Read != 8*6001 || r.Lines.Malformed != 8 || len(r.Files) != 8 || r.RepliesDropped != 0 {
		t.Errorf("lines %+v, %d files, %d replies dropped", r.Lines, len(r.Files), r.RepliesDropped)
	}
}

// Merging per-file builders keeps the first MaxReplies distinct replies in
// the order a single pass meets them, and counts the rest as dropped.
func TestMergeKeepsSinglePassReplyCap(t *testing.T) {
	if testing.Short() {
		t.Skip("builds 10,000+ replies")
	}
	mk := func(b *report.Builder, from, to int) {
		for i := from; i < to; i++ {
			ev := deliveryFor(i)
			b.Add(&ev)
		}
	}
	one := report.NewBuilder()
	mk(one, 0, report.MaxReplies+50)
	mk(one, 0, 10) // repeats of kept replies
	mk(one, report.MaxReplies+50, report.MaxReplies+60)

	merged := report.NewBuilder()
	a, b, c := report.NewPartBuilder(), report.NewPartBuilder(), report.NewPartBuilder()
	mk(a, 0, report.MaxReplies+50)
	mk(b, 0, 10)
	mk(c, report.MaxReplies+50, report.MaxReplies+60)
	merged.Merge(a)
	merged.Merge(b)
	merged.Merge(c)
	r1, r2 := one.Report(), merged.Report()
	j1, _ := json.Marshal(r1)
	j2, _ := json.Marshal(r2)
	if d := cmp.Diff(string(j1), string(j2)); d != "" {
		t.Errorf("(-single pass +merged)\n%s", d)
	}
	if r1.RepliesDropped != 60 || len(r1.ProofpointReplies) != report.MaxReplies || r1.ProofpointReplies[0].Count != 2 {
		t.Errorf("dropped %d, kept %d, top count %d; want 60, %d, 2", r1.RepliesDropped, len(r1.ProofpointReplies), r1.ProofpointReplies[0].Count, report.MaxReplies)
	}
}

// deliveryFor is a Proofpoint block whose reply names recipient i, so that
// every i is a distinct reply.
func deliveryFor(i int) event.Delivery {
	return event.Delivery{Time: time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second), MTA: "postfix",
		SourceIP: "192.0.2.25", Recipient: fmt.Sprintf("u%d@corp.example", i), RecipientDomain: "corp.example", Status: event.Bounced,
		SMTPCode: 550, EnhancedCode: "5.1.1", Response: fmt.Sprintf("550 5.1.1 <u%d@corp.example>: User Unknown", i), Proofpoint: true,
		Class: event.ClassRecipient, Rule: "user-unknown"}
}
