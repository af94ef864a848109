package pmta

import (
	"strings"
	"testing"

	"github.com/ppwatch/ppwatch/parsers/mtalog"
	"github.com/ppwatch/ppwatch/parsers/parsertest"
	"github.com/ppwatch/ppwatch/pkg/event"
)

func newParser(o mtalog.Options) mtalog.Parser { return New(o) }

// FuzzParse: a header line among an input's lines changes how the following
// lines are read.
func FuzzParse(f *testing.F) {
	parsertest.Fuzz(f, event.PMTA, newParser, []string{
		blockLine,
		"timeLogged,rcpt,type,dsnDiag\n2026-11-22 09:04:01+0000,a@b.example,b,smtp;550 x",
		`b,1795338241.123456789123,,,a@B.EXAMPLE,,,,"smtp;550-5.7.1 x ""y"", z",,,,,,::1,,,,,,,,`,
		strings.Repeat(`"`, 5000),
		"b," + strings.Repeat(",", 100000),
		DefaultHeader + "\n" + strings.Repeat(`d,"`+strings.Repeat(`""`, 1000), 20),
	}, nil)
}
