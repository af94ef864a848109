package app

import (
	"os"
	"testing"
)

// The daemon asks DNS (MX lookups, the sender checks) through the system's
// resolvers when the config names none: the tests' daemons get none, so
// no test can ask a real resolver. Tests of DNS name their own server on
// 127.0.0.1.
func TestMain(m *testing.M) {
	os.Setenv("PPWATCH_RESOLV_CONF", "/nonexistent/resolv.conf")
	os.Exit(m.Run())
}
