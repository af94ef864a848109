package app

import (
	"os"
	"testing"
)

// No test may ask a real resolver: a config without dns.servers finds no
// resolv.conf (the sender checks and the MX lookups are off), and the
// environment says the same to any daemon a test starts.
func TestMain(m *testing.M) {
	resolvConf = "testdata/no-resolv.conf"
	os.Setenv("PPWATCH_RESOLV_CONF", "/nonexistent/resolv.conf")
	os.Exit(m.Run())
}
