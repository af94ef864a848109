// Package privtest runs a test as a process that file modes apply to.
// Tests often run as root (CI machines, containers), and root reads any
// file, so a test of "permission denied" would test nothing there.
package privtest

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

const envChild = "PPWATCH_UNPRIVILEGED"

// Unprivileged runs the calling test again in a child process without the
// capabilities that let root read and search any file (through util-linux's
// setpriv), and fails the test when the child fails. It reports whether the
// caller is to go on: true in the child, or when not root to begin with;
// false in the parent, whose work the child has done.
func Unprivileged(t *testing.T) bool {
	t.Helper()
	if os.Geteuid() != 0 || os.Getenv(envChild) == "1" {
		return true
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("running as root without setpriv (Debian package util-linux): file modes cannot be tested")
	}
	cmd := exec.Command(setpriv, "--bounding-set", "-dac_override,-dac_read_search", os.Args[0], "-test.run", "^"+t.Name()+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), envChild+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("the test run without root's file access failed: %v\n%s", err, out)
	}
	return false
}
