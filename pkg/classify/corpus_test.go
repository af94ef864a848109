package classify

import (
	"bufio"
	"os"
	"strings"
	"testing"

	"github.com/ppwatch/ppwatch/pkg/event"
)

const corpusFile = "../../testdata/replies/corpus.tsv"

// TestCorpus runs every reply of the corpus through the classifier, as a
// failed attempt with no relay host, and checks its class and Proofpoint
// flag: the classifier's golden file. A mismatch names the row.
func TestCorpus(t *testing.T) {
	f, err := os.Open(corpusFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c := mustNew(t, Options{})
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	n, rows := 0, 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		rows++
		cols := strings.Split(line, "\t")
		if len(cols) != 4 {
			t.Errorf("%s:%d: %d columns, want 4 (class, proofpoint, reply, source)", corpusFile, n, len(cols))
			continue
		}
		class, pp, reply := event.Class(cols[0]), cols[1], cols[2]
		if !event.ValidClass(class) || pp != "true" && pp != "false" || reply == "" || cols[3] == "" {
			t.Errorf("%s:%d: bad row %q", corpusFile, n, line)
			continue
		}
		ev := failed(reply)
		if ev.SMTPCode >= 400 && ev.SMTPCode < 500 || ev.SMTPCode == 0 {
			ev.Status = event.Deferred
		}
		c.Classify(&ev)
		if ev.Class != class || ev.Proofpoint != (pp == "true") {
			t.Errorf("%s:%d: got class %s (rule %s) proofpoint %v, want %s %s\n  %s", corpusFile, n, ev.Class, ev.Rule, ev.Proofpoint, class, pp, reply)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if rows < 150 {
		t.Errorf("%s: %d rows; the corpus is meant to cover the big receivers", corpusFile, rows)
	}
}
