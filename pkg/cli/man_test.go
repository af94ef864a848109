package cli

import (
	"bytes"
	"strings"
	"testing"
)

// The man page is the usage text: every command of it is a .TP entry, and
// no line of text can be read by roff as a request.
func TestManPageIsTheHelp(t *testing.T) {
	var out, errb bytes.Buffer
	if code := Main([]string{"man"}, Env{Stdout: &out, Stderr: &errb}); code != ExitOK {
		t.Fatalf("ppwatch man: exit %d: %s", code, errb.String())
	}
	page := out.String()
	if !strings.HasPrefix(page, ".TH PPWATCH 1 ") {
		t.Errorf("no .TH header:\n%.200s", page)
	}
	commands := 0
	for _, l := range strings.Split(usage, "\n") {
		if c, ok := strings.CutPrefix(l, "  ppwatch "); ok {
			commands++
			want := ".B ppwatch " + strings.ReplaceAll(c, "-", `\-`)
			if !strings.Contains(page, "\n"+want+"\n") {
				t.Errorf("the man page lacks %q", want)
			}
		}
	}
	if commands < 7 {
		t.Errorf("%d commands in the usage text, want at least 7", commands)
	}
	for _, l := range strings.Split(page, "\n") {
		if strings.HasPrefix(l, ".") && !strings.HasPrefix(l, ".TH") && !strings.HasPrefix(l, ".SH") &&
			!strings.HasPrefix(l, ".TP") && !strings.HasPrefix(l, ".B ") && !strings.HasPrefix(l, ".I ") {
			t.Errorf("a text line read as a request: %q", l)
		}
	}
}
