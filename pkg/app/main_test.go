package app

import (
	"os"
	"testing"

	"github.com/rs/zerolog"

	"github.com/ppwatch/ppwatch/pkg/config"
)

// No test may ask a real resolver: a config without dns.servers finds no
// resolv.conf (the sender checks and the MX lookups are off), and the
// environment says the same to any daemon a test starts.
func TestMain(m *testing.M) {
	resolvConf = "testdata/no-resolv.conf"
	os.Setenv("PPWATCH_RESOLV_CONF", "/nonexistent/resolv.conf")
	os.Exit(m.Run())
}

// startApp starts a daemon of the config text, stopped when the test ends
// (or by the test, once: Stop is safe twice).
func startApp(t *testing.T, yml string) *App {
	t.Helper()
	cfg, err := config.Parse([]byte(yml), "test.yml")
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(Options{Config: cfg, Logger: zerolog.New(zerolog.NewTestWriter(t))})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(); err != nil {
		a.Stop()
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Stop() })
	return a
}
