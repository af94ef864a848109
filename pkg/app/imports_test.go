package app

import (
	"os/exec"
	"strings"
	"testing"
)

// Imports flow one way: parsers know nothing of storage or metrics, the
// store and the tailer know nothing of ppwatch, and only the daemon's
// wiring sees everything. This test keeps it so.
func TestImportDirection(t *testing.T) {
	const mod = "github.com/ppwatch/ppwatch/"
	allowed := map[string][]string{
		"parsers/...":  {"pkg/event", "parsers"},
		"pkg/event":    {},
		"pkg/classify": {"pkg/event"},
		"pkg/config":   {"pkg/event", "pkg/alert", "parsers"},
		"pkg/alert":    {},
		"pkg/notify":   {"pkg/version"},
		"pkg/store":    {},
		"pkg/tailer":   {},
		"pkg/agg":      {},
		"pkg/metrics":  {"pkg/agg"},
		"pkg/pipeline": {"pkg/event", "parsers", "pkg/classify", "pkg/config", "pkg/alert"},
	}
	banned := map[string][]string{
		"parsers/...":  {"go.etcd.io/bbolt", "github.com/prometheus/", "github.com/rs/zerolog", "github.com/nxadm/tail"},
		"pkg/metrics":  {"go.etcd.io/bbolt"},
		"pkg/pipeline": {"go.etcd.io/bbolt", "github.com/prometheus/"},
		"pkg/alert":    {"go.etcd.io/bbolt", "github.com/prometheus/", "github.com/rs/zerolog"},
	}
	for pkg, ok := range allowed {
		out, err := exec.Command("go", "list", "-deps", "-test=false", "-f", "{{.ImportPath}}", "../../"+pkg).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", pkg, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, b := range banned[pkg] {
				if strings.HasPrefix(dep, b) {
					t.Errorf("%s imports %s", pkg, dep)
				}
			}
			rel, mine := strings.CutPrefix(dep, mod)
			if !mine || strings.HasPrefix(pkg, strings.TrimSuffix(rel, "...")) || strings.HasPrefix(rel, strings.TrimSuffix(pkg, "...")) {
				continue
			}
			good := false
			for _, a := range ok {
				if rel == a || strings.HasPrefix(rel, a+"/") {
					good = true
				}
			}
			if !good {
				t.Errorf("%s imports %s", pkg, rel)
			}
		}
	}
}
