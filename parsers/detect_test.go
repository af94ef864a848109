package parsers

import (
	"os"
	"testing"
)

func TestDetectHead(t *testing.T) {
	for mta, file := range map[string]string{"postfix": "../testdata/postfix/sample.log", "exim": "../testdata/exim/sample.log", "pmta": "../testdata/pmta/sample.log"} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if got := DetectHead(b); got != mta {
			t.Errorf("%s: %q", file, got)
		}
	}
	// A cut-off line alone tells nothing.
	if got := DetectHead([]byte("Nov 22 09:16:10 mta1 postfix/smtpd[1500]: connect from")); got != "" {
		t.Errorf("cut-off line: %q", got)
	}
}
