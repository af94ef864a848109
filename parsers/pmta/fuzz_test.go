package pmta

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ppwatch/ppwatch/parsers/parsertest"
	"github.com/ppwatch/ppwatch/pkg/event"
)

// FuzzParse feeds the lines of its input, split on newlines, to one parser:
// a header line then changes how the following lines are read.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("../../testdata/pmta/*.log")
	for _, name := range files {
		lines := parsertest.File(f, name)
		for _, l := range lines {
			f.Add(l)
		}
		if len(lines) > 0 {
			f.Add(strings.Join(lines[:min(len(lines), 4)], "\n"))
		}
	}
	f.Add(blockLine)
	f.Add("timeLogged,rcpt,type,dsnDiag\n2026-11-22 09:04:01+0000,a@b.example,b,smtp;550 x")
	f.Add(`b,1795338241.123456789123,,,a@B.EXAMPLE,,,,"smtp;550-5.7.1 x ""y"", z",,,,,,::1,,,,,,,,`)
	f.Add(strings.Repeat(`"`, 5000))
	f.Add("b," + strings.Repeat(",", 100000))
	f.Add(DefaultHeader + "\n" + strings.Repeat(`d,"`+strings.Repeat(`""`, 1000), 20))
	f.Fuzz(func(t *testing.T, data string) {
		p := New(Options{Reference: time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC), Location: time.UTC})
		for _, line := range strings.Split(data, "\n") {
			start := time.Now()
			ev, ok, err := p.Parse(line)
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("Parse took %v on a %d-byte line", d, len(line))
			}
			Sniff(line)
			if err != nil && ok {
				t.Fatal("ok with an error")
			}
			if !ok {
				continue
			}
			parsertest.CheckEvent(t, event.PMTA, ev)
		}
	})
}
