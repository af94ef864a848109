package postfix

import (
	"strings"
	"testing"
	"time"

	"github.com/ppwatch/ppwatch/parsers/parsertest"
	"github.com/ppwatch/ppwatch/pkg/event"
)

func FuzzParse(f *testing.F) {
	parsertest.Seed(f, event.Postfix)
	f.Add(strings.Repeat("Nov 22 09:15:02 h postfix/smtp[1]: AAAAAA: to=<", 2000))
	f.Fuzz(func(t *testing.T, line string) {
		p := New(Options{Reference: time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC), Location: time.UTC})
		ev, ok, err := p.Parse(line)
		if err != nil && ok {
			t.Fatal("ok with an error")
		}
		if !ok {
			return
		}
		parsertest.CheckEvent(t, event.Postfix, ev)
	})
}
