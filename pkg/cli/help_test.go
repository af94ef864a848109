package cli

import (
	"bytes"
	"strings"
	"testing"
)

// Help goes to stdout with exit 0; a bad flag is one line on stderr, exit 2.
func TestHelpAndBadFlags(t *testing.T) {
	for _, args := range [][]string{{"scan", "--help"}, {"report", "--help"}, {"parse", "-h"}, {"check-config", "--help"}, {"state", "check", "--help"}, {"state", "repair", "-help"}, {"tail", "--help"}} {
		var out, errb bytes.Buffer
		code := Main(args, Env{Stdout: &out, Stderr: &errb})
		if code != ExitOK || !strings.HasPrefix(out.String(), "Usage of ppwatch "+strings.Join(args[:len(args)-1], " ")) || errb.Len() != 0 {
			t.Errorf("%v: exit %d, stdout %.60q, stderr %q; want 0, the help on stdout, nothing on stderr", args, code, out.String(), errb.String())
		}
	}
	for _, args := range [][]string{{"scan", "--bogus", "x.log"}, {"parse", "--mta"}, {"state", "check", "--nope"}, {"tail", "--follow", "x.log"}} {
		var out, errb bytes.Buffer
		code := Main(args, Env{Stdout: &out, Stderr: &errb})
		lines := strings.Split(strings.TrimSpace(errb.String()), "\n")
		if code != ExitUsage || out.Len() != 0 || len(lines) != 1 || !strings.Contains(lines[0], "--help)") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 2 and one line naming --help", args, code, out.String(), errb.String())
		}
	}
}
