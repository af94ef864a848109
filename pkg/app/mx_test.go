package app

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"

	"github.com/ppwatch/ppwatch/pkg/config"
	"github.com/ppwatch/ppwatch/pkg/dnscheck/dnstest"
	"github.com/ppwatch/ppwatch/pkg/internal/testkit"
)

// A deferral that names no Proofpoint relay (the connection timed out)
// to a domain whose MX is Proofpoint's: the first attempt, seen before the
// lookup answered, is counted as it was classified then; those after the
// verdict are Proofpoint attempts. Nothing already counted is rewritten,
// and a restart reads the verdict from the state file.
func TestDomainsLearnedFromMX(t *testing.T) {
	srv := dnstest.Start(t, dnstest.Zones(t, dnstest.TestZones))
	dir := t.TempDir()
	log := filepath.Join(dir, "mail.log")
	os.WriteFile(log, nil, 0o644)
	cfg, err := config.Parse(fmt.Appendf(nil, `listen: 127.0.0.1:0
state_file: %s/ppwatch.db
flush_interval: 20ms
timezone: UTC
inputs: [{path: %s, mta: postfix}]
source_ips: [{mta: postfix, ip: 192.0.2.25}]
dns: {servers: ["%s"], timeout: 500ms}
`, dir, log, srv.Addr), "mx.yml")
	if err != nil {
		t.Fatal(err)
	}
	start := func() *App {
		a, err := New(Options{Config: cfg, Logger: zerolog.New(zerolog.NewTestWriter(t))})
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Start(); err != nil {
			a.Stop()
			t.Fatal(err)
		}
		return a
	}
	deferral := func(n int) string {
		return fmt.Sprintf("Nov 22 09:17:%02d mta1 postfix/smtp[1433]: 8E3D41C0A%02d: to=<ap@pp.example>, relay=none, delay=30, delays=0/0/30/0, dsn=4.4.1, status=deferred (connect to mx.pp.example[198.51.100.20]:25: Connection timed out)\n", n, n)
	}
	const pp = `ppwatch_proofpoint_attempts_total{class="connection",recipient_domain="pp.example",source_ip="192.0.2.25",status="deferred"}`
	all := func(a *App) float64 {
		v, _ := sample(t, a, `ppwatch_attempts_total{class="connection",mta="postfix",proofpoint="false",source_ip="192.0.2.25",status="deferred"}`)
		w, _ := sample(t, a, `ppwatch_attempts_total{class="connection",mta="postfix",proofpoint="true",source_ip="192.0.2.25",status="deferred"}`)
		return v + w
	}

	a := start()
	testkit.AppendFile(t, log, deferral(1))
	eventually(t, "the first attempt counted", func() bool { return all(a) == 1 })
	eventually(t, "the verdict", func() bool { v, _ := sample(t, a, `ppwatch_mx_domains{proofpoint="true"}`); return v == 1 })
	if v, ok := sample(t, a, pp); ok {
		t.Errorf("the attempt before the verdict became a Proofpoint attempt: %v", v)
	}
	testkit.AppendFile(t, log, deferral(2))
	eventually(t, "the second attempt counted", func() bool { return all(a) == 2 })
	if v, _ := sample(t, a, pp); v != 1 {
		t.Errorf("Proofpoint attempts to pp.example: %v, want 1 (the one after the verdict)", v)
	}
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	asked := srv.Queries("pp.example.", "MX", "")

	a = start()
	defer a.Stop()
	testkit.AppendFile(t, log, deferral(3))
	eventually(t, "the third attempt counted", func() bool { return all(a) == 3 })
	if v, _ := sample(t, a, pp); v != 2 {
		t.Errorf("after a restart: Proofpoint attempts to pp.example: %v, want 2", v)
	}
	if n := srv.Queries("pp.example.", "MX", ""); n != asked || asked != 1 {
		t.Errorf("pp.example asked %d times, then %d after the restart; want 1 and no more", asked, n)
	}
}
