package app

import (
	"os"
	"testing"
)

// No test may ask a real resolver: a config without dns.servers finds no
// resolv.conf, and its sender checks are off.
func TestMain(m *testing.M) {
	resolvConf = "testdata/no-resolv.conf"
	os.Exit(m.Run())
}
