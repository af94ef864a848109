package app

import (
	"os/exec"
	"strings"
	"testing"
)

// Imports flow one way: parsers know nothing of storage or metrics, the
// tailer knows nothing of ppwatch and the store only its vocabulary
// (pkg/event's Series), the line path knows nothing
// of the configuration, and only the daemon's wiring (pkg/app) and the
// commands see everything. Every package of the module must be listed
// here, so a new one gets its place on purpose.
func TestImportDirection(t *testing.T) {
	const mod = "github.com/ppwatch/ppwatch/"
	allowed := map[string][]string{
		"parsers":          {"parsers/...", "pkg/event"},
		"parsers/...":      {"parsers/mtalog", "pkg/event"},
		"pkg/event":        {},
		"docs":             {},
		"pkg/classify":     {"pkg/event"},
		"pkg/pipeline":     {"pkg/event", "parsers", "parsers/...", "pkg/classify"},
		"pkg/config":       {"pkg/event", "pkg/alert", "parsers", "pkg/classify", "pkg/dnscheck", "pkg/pipeline"},
		"pkg/alert":        {"pkg/event"},
		"pkg/notify":       {"pkg/version"},
		"pkg/store":        {"pkg/event"},
		"pkg/tailer":       {},
		"pkg/livetail":     {},
		"pkg/evidence":     {"pkg/alert", "pkg/dnscheck", "pkg/event", "pkg/report"},
		"pkg/outcome":      {"pkg/event"},
		"pkg/mxlearn":      {"pkg/dnscheck", "pkg/store"},
		"pkg/dnscheck":     {"pkg/classify"},
		"pkg/dnscheck/...": {},
		"pkg/journal":      {},
		"pkg/agg":          {"pkg/event"},
		"pkg/metrics":      {"pkg/agg", "pkg/event"},
		"pkg/report":       {"pkg/event"},
		"pkg/loggen":       {},
		"pkg/version":      {},
		"pkg/internal/...": {},
		// The system test drives the installed binary from outside; its
		// package proper is only its doc.
		"pkg/e2e":      {},
		"pkg/cli":      {"parsers", "pkg/app", "pkg/config", "pkg/dnscheck", "pkg/event", "pkg/evidence", "pkg/ingest", "pkg/livetail", "pkg/pipeline", "pkg/report", "pkg/store", "pkg/version"},
		"pkg/ingest":   {"parsers", "parsers/mtalog", "pkg/agg", "pkg/classify", "pkg/config", "pkg/event", "pkg/journal", "pkg/metrics", "pkg/outcome", "pkg/pipeline", "pkg/store", "pkg/tailer"},
		"pkg/web":      {"pkg/alert", "pkg/event", "pkg/evidence"},
		"pkg/alerting": {"docs", "pkg/agg", "pkg/alert", "pkg/config", "pkg/event", "pkg/notify", "pkg/store"},
		"pkg/hygiene":  {"pkg/config", "pkg/dnscheck", "pkg/store"},
		"pkg/app":      {"*"},
		"cmd/ppwatch":  {"pkg/app", "pkg/cli", "pkg/config"},
		"cmd/ppbench":  {"pkg/cli", "pkg/loggen"},
		"cmd/ppdemo":   {"parsers/mtalog", "pkg/cli", "pkg/config", "pkg/loggen"},
	}
	banned := map[string][]string{
		"parsers":      {"go.etcd.io/bbolt", "github.com/prometheus/", "github.com/rs/zerolog", "github.com/nxadm/tail"},
		"parsers/...":  {"go.etcd.io/bbolt", "github.com/prometheus/", "github.com/rs/zerolog", "github.com/nxadm/tail"},
		"pkg/metrics":  {"go.etcd.io/bbolt"},
		"pkg/web":      {"go.etcd.io/bbolt"},
		"pkg/pipeline": {"go.etcd.io/bbolt", "github.com/prometheus/", "text/template"},
		"pkg/alert":    {"go.etcd.io/bbolt", "github.com/prometheus/", "github.com/rs/zerolog"},
		// The daemon counts exactly once with its own reader; nxadm/tail
		// serves only the live view (see pkg/tailer/doc.go).
		"pkg/tailer":   {"github.com/nxadm/tail"},
		"pkg/ingest":   {"github.com/nxadm/tail"},
		"pkg/app":      {"github.com/nxadm/tail"},
		"pkg/dnscheck": {"go.etcd.io/bbolt", "github.com/prometheus/"},
		// The checks run on their own goroutine and read no logs.
		"pkg/hygiene": {"github.com/nxadm/tail"},
	}
	match := func(pattern, pkg string) bool {
		if base, ok := strings.CutSuffix(pattern, "/..."); ok {
			return strings.HasPrefix(pkg, base+"/")
		}
		return pattern == pkg
	}
	rule := func(pkg string) (string, bool) {
		for p := range allowed {
			if match(p, pkg) {
				return p, true
			}
		}
		return "", false
	}
	// Direct imports against each package's entry (so the table is
	// checked link by link), everything it pulls in against its bans.
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}}|{{join .Imports \" \"}}|{{join .Deps \" \"}}", "../../...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "|")
		pkg, ok := strings.CutPrefix(f[0], mod)
		if !ok || strings.HasPrefix(pkg, "bin/") { // bin/tools holds unpacked Debian packages
			continue
		}
		r, ok := rule(pkg)
		if !ok {
			t.Errorf("%s is not in the import table: give it its place", pkg)
			continue
		}
		for _, dep := range strings.Fields(f[2]) {
			for _, b := range banned[r] {
				if strings.HasPrefix(dep, b) {
					t.Errorf("%s imports %s", pkg, dep)
				}
			}
		}
		for _, imp := range strings.Fields(f[1]) {
			rel, mine := strings.CutPrefix(imp, mod)
			if !mine {
				continue
			}
			good := false
			for _, a := range allowed[r] {
				good = good || a == "*" || match(a, rel)
			}
			if !good {
				t.Errorf("%s imports %s", pkg, rel)
			}
		}
	}
}
