package app

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ppwatch/ppwatch/pkg/dnscheck/dnstest"
)

// The sender checks never hold up reading: with a resolver that never
// answers, every line is counted, a reload is swapped in and Stop returns
// at once, while the checks' first round is still waiting.
func TestIngestNeverWaitsOnDNS(t *testing.T) {
	srv := dnstest.Start(t, dnstest.NeverAnswers())
	dir := t.TempDir()
	log := filepath.Join(dir, "mail.log")
	appendSent(t, log, 1, 200)
	rest := fmt.Sprintf("inputs: [{path: {dir}/mail.log, mta: postfix}]\ndns: {servers: [%s], timeout: 1m}\nhygiene: {ips: [192.0.2.4]}\n", srv.Addr)
	a, cfgPath := startReloadable(t, dir, rest)
	waitParsed(t, a, log, 200)
	if srv.Total() == 0 {
		t.Error("the checks asked nothing")
	}
	if body := get(t, a, "/metrics"); strings.Contains(body, "ppwatch_dns_check_") {
		t.Error("a check has a result, though no answer came")
	}

	// A reload while the round waits: prepared, swapped, reading on.
	if err := os.WriteFile(cfgPath, reloadConfig(dir, "", "", strings.Replace(rest, "[192.0.2.4]}", "[192.0.2.4], dnsbl: []}", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := a.ReloadConfig(); err != nil {
		t.Fatal(err)
	}
	appendSent(t, log, 201, 300)
	waitParsed(t, a, log, 300)
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("reload, 100 lines and stop took %s", d)
	}
}
