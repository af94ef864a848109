package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/ppwatch/ppwatch/pkg/version"
)

// manPage writes ppwatch(1) in roff, made from the usage text itself, so
// that the man page the package installs says what "ppwatch help" says.
func manPage(w io.Writer) {
	v, _, _ := version.Info()
	esc := func(s string) string {
		s = strings.ReplaceAll(s, `\`, `\\`)
		s = strings.ReplaceAll(s, "-", `\-`)
		if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
			s = `\&` + s
		}
		return s
	}
	lines := strings.Split(strings.TrimRight(usage, "\n"), "\n")
	fmt.Fprintf(w, ".TH PPWATCH 1 \"\" \"ppwatch %s\" \"User Commands\"\n", esc(v))
	fmt.Fprintf(w, ".SH NAME\nppwatch \\- %s\n", esc(strings.TrimPrefix(strings.TrimSuffix(lines[0], "."), "ppwatch ")))
	fmt.Fprintln(w, ".SH SYNOPSIS")
	section := "SYNOPSIS"
	for _, l := range lines[1:] {
		switch t := strings.TrimSpace(l); {
		case t == "" || t == "Usage:":
		case strings.HasPrefix(t, "Exit codes:"):
			if section != "EXIT STATUS" {
				fmt.Fprintln(w, ".SH EXIT STATUS")
				section = "EXIT STATUS"
			}
			fmt.Fprintln(w, esc(t))
		case strings.HasPrefix(l, "  ppwatch "):
			fmt.Fprintf(w, ".TP\n.B %s\n", esc(t))
		default:
			fmt.Fprintln(w, esc(t))
		}
	}
	fmt.Fprintln(w, ".SH FILES\n.TP\n.I /etc/ppwatch/ppwatch.yml\nthe daemon's configuration (its reference: /usr/share/doc/ppwatch/)\n.TP\n.I /etc/default/ppwatch\nARGS added to \"ppwatch run\" by the systemd unit\n.TP\n.I /var/lib/ppwatch/ppwatch.db\nthe state file")
	fmt.Fprintln(w, ".SH SEE ALSO\n/usr/share/doc/ppwatch/README.md, /usr/share/doc/ppwatch/runbook.md")
}
