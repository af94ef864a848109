package postfix

import (
	"strings"
	"testing"

	"github.com/ppwatch/ppwatch/parsers/mtalog"
	"github.com/ppwatch/ppwatch/parsers/parsertest"
	"github.com/ppwatch/ppwatch/pkg/event"
)

func newParser(o mtalog.Options) mtalog.Parser { return New(o) }

func FuzzParse(f *testing.F) {
	parsertest.Fuzz(f, event.Postfix, newParser, []string{
		strings.Repeat("Nov 22 09:15:02 h postfix/smtp[1]: AAAAAA: to=<", 2000),
		"Nov 22 09:15:01 h postfix/qmgr[1]: AAAAAA: from=<a@b.example>, size=1, nrcpt=1 (queue active)\nNov 22 09:15:02 h postfix/smtp[1]: AAAAAA: to=<c@d.example>, relay=none, delay=1, status=deferred (x)",
	}, nil)
}

// Sniff sees the head of any file --mta auto is pointed at: it must not
// panic on whatever it is given.
func FuzzSniff(f *testing.F) {
	for _, s := range []string{
		"Nov  2 14:23:33 mta1 postfix/master[1234]: daemon started",
		"Nov 02 14:23:33.5 mta1 mail.info postfix/submission/smtpd[1]: x",
		"<22>2026-11-22T14:23:33+00:00 mta1 postfix-out/smtp[1]: x",
		"2026-11-22 10:00:00 1e4Ssq-00024N-Sp => bob@example.com",
		"Nov 22 09:16:10 mta1 postfix/smtpd[1500]: connect from",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) { Sniff(line) })
}
