package exim

import (
	"strings"
	"testing"
	"time"

	"github.com/ppwatch/ppwatch/parsers/parsertest"
	"github.com/ppwatch/ppwatch/pkg/event"
)

func FuzzParse(f *testing.F) {
	parsertest.Seed(f, event.Exim)
	for _, s := range []string{
		"",
		"2026-11-22 09:00:15 1vHnQ2-00000000Lx1-0A3f => ",
		"2026-11-22 09:00:15 1vHnQ2-00000000Lx1-0A3f ** a@b: ",
		"2026-11-22 09:00:15 1vHnQ2-00000000Lx1-0A3f == a@b R=r T=smtp defer (",
		"2026-11-22 09:00:15 1vHnQ2-00000000Lx1-0A3f == a@b R=r T=smtp defer (1): x H=h [::1]:",
		"2026-11-22 09:00:15 1vHnQ2-00000000Lx1-0A3f => a@b H=h DS [192.0.2.1]:99999999999* C=\"\\",
		"2026-11-22 09:00:15.1234567891 +9999 [] 1vHnQ2-00000000Lx1-0A3f => a@B",
		"Nov 22 09:18:03 h exim[1]: [1/9] 2026-11-22 09:18:03 1vHnep-00000000odD-0F33 ** x@y: ",
		"Nov 22 09:18:03 h exim[1]: [2/9] more",
		"Nov 22 09:18:03 h exim[1]: [99999/1] x",
		strings.Repeat("2026-11-22 09:00:15 1vHnQ2-00000000Lx1-0A3f == ", 500),
		"2026-11-22 09:00:15 1vHnQ2-00000000Lx1-0A3f ** a@b R=r T=smtp: SMTP error from remote mail server after " + strings.Repeat("host h [1.2.3.4] ", 2000),
		"2026-11-22 09:00:15 1vHnQ2-00000000Lx1-0A3f => a@b " + strings.Repeat(`C="\"`, 3000),
	} {
		f.Add(s)
	}
	p := New(Options{Reference: time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC), Location: time.UTC, MaxSenders: 2})
	f.Fuzz(func(t *testing.T, line string) {
		// One parser for all inputs, so state (senders, split lines, the
		// host memo) is fuzzed too.
		start := time.Now()
		ev, ok, err := p.Parse(line)
		if d := time.Since(start); d > 500*time.Millisecond && len(line) < 1<<20 {
			t.Errorf("Parse took %v on %d bytes", d, len(line))
		}
		if err != nil && ok {
			t.Fatal("ok with an error")
		}
		if !ok {
			return
		}
		parsertest.CheckEvent(t, event.Exim, ev)
		if ev.QueueID == "" {
			t.Errorf("no queue id")
		}
	})
}
