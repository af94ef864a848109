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
