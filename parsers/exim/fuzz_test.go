package exim

import (
	"strings"
	"testing"

	"github.com/ppwatch/ppwatch/parsers/mtalog"
	"github.com/ppwatch/ppwatch/parsers/parsertest"
	"github.com/ppwatch/ppwatch/pkg/event"
)

func newParser(o mtalog.Options) mtalog.Parser { return New(o) }

func FuzzParse(f *testing.F) {
	parsertest.Fuzz(f, event.Exim, newParser, []string{
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
	}, func(t *testing.T, ev event.Delivery) {
		if ev.QueueID == "" {
			t.Errorf("no queue id")
		}
	})
}
