package alert

import (
	"os/exec"
	"strings"
	"testing"
)

// The package stays pure: no storage, no metrics, no logging, nothing else
// of ppwatch. The daemon's wiring feeds it.
func TestImports(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-test=false", "-f", "{{.ImportPath}}", ".").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.Contains(dep, ".") && dep != "github.com/ppwatch/ppwatch/pkg/alert" && !strings.HasPrefix(dep, "vendor/") {
			t.Errorf("pkg/alert imports %s", dep)
		}
	}
}
