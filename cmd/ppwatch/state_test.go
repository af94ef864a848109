package main

import (
	"os"
	"strings"
	"testing"
)

// A state file that cannot be used exits 2, which the unit does not
// restart: a restart cannot mend it, and the message says the way out.
func TestDamagedStateExits2(t *testing.T) {
	e := newEnv(t, "")
	appendFile(t, e.log, (&gen{}).lines(5))
	d := e.start(t)
	d.waitAttempts(5)
	d.stop()
	fi, err := os.Stat(e.state)
	if err != nil {
		t.Fatal(err)
	}

	if err := os.Truncate(e.state, fi.Size()/2); err != nil {
		t.Fatal(err)
	}
	code, out := runExit(t, "run", "--config", e.cfg, "--state", e.state, "--listen", "127.0.0.1:0")
	if code != 2 || !strings.Contains(out, "state file "+e.state+": damaged: cut short") || !strings.Contains(out, "ppwatch state repair") {
		t.Errorf("cut state file: exit %d: %s", code, out)
	}

	if err := os.WriteFile(e.state, make([]byte, fi.Size()), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out = runExit(t, "run", "--config", e.cfg, "--state", e.state, "--listen", "127.0.0.1:0")
	if code != 2 || !strings.Contains(out, "not a ppwatch state file: invalid database") {
		t.Errorf("zeroed state file: exit %d: %s", code, out)
	}
}
