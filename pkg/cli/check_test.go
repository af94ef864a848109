package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ppwatch/ppwatch/pkg/dnscheck/dnstest"
)

// writeConfig writes a config file for the test.
func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ppwatch.yml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// ppwatch check against the test zones: every row names its resolver
// (--dns.server or dns.servers), so nothing leaves 127.0.0.1.
func TestCheckCommand(t *testing.T) {
	srv := dnstest.Start(t, dnstest.Zones(t, dnstest.TestZones))
	never := dnstest.Start(t, dnstest.NeverAnswers())
	selectors := writeConfig(t, `
hygiene:
  domains:
    - name: example.com
      dkim_selectors: [good, ed]
`)
	failing := writeConfig(t, `
source_ips:
  - ip: 192.0.2.3
dns:
  servers: ["`+srv.Addr+`"]
  timeout: 200ms
hygiene:
  ips: [192.0.2.4, 198.51.100.7]
  domains:
    - name: example.com
      dkim_selectors: [weak, bad]
    - name: none.example
  dnsbl: [zen.spamhaus.org]
`)
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stdout []string
		stderr string
	}{
		{name: "a passing setup", code: 0,
			args: []string{"--ip", "192.0.2.1", "--domain", "example.com", "--recipient-domain", "pp.example", "--recipient-domain", "plain.example", "--dns.server", srv.Addr, "--config", selectors},
			stdout: []string{
				"PASS ptr 192.0.2.1: PTR mail.example.com",
				"PASS fcrdns 192.0.2.1: mail.example.com resolves to 192.0.2.1",
				"PASS ptr_domain 192.0.2.1: mail.example.com is within example.com",
				"PASS ptr_generic 192.0.2.1: mail.example.com does not look generic",
				"PASS dnsbl 192.0.2.1 on b.barracudacentral.org: not listed (NXDOMAIN)",
				"PASS dnsbl 192.0.2.1 on bl.spamcop.net: not listed (NXDOMAIN)",
				"PASS dnsbl 192.0.2.1 on zen.spamhaus.org: not listed (NXDOMAIN)",
				`PASS spf 192.0.2.1 for example.com: permitted by "v=spf1 include:_spf.example.com ~all" (pass)`,
				`PASS dmarc example.com: policy reject, DKIM alignment strict, SPF alignment relaxed ("v=DMARC1; p=reject; adkim=s; rua=mailto:dmarc@example.com" at _dmarc.example.com)`,
				"PASS dkim ed._domainkey.example.com: ed25519 key of 256 bits",
				"PASS dkim good._domainkey.example.com: rsa key of 2048 bits",
				"PASS mx plain.example: not Proofpoint: MX mail.plain.example",
				"PASS mx pp.example: Proofpoint: MX mx0a-001b2d01.pphosted.com, mx0b-001b2d01.pphosted.com",
			}},
		{name: "a failing setup, from the config", code: 1,
			args: []string{"--config", failing},
			stdout: []string{
				"FAIL ptr 192.0.2.3: no PTR record (NXDOMAIN)",
				"FAIL fcrdns 192.0.2.3: no PTR name to resolve",
				"PASS dnsbl 192.0.2.3 on zen.spamhaus.org: not listed (NXDOMAIN)",
				"PASS ptr 192.0.2.4: PTR ip-192-0-2-4.dynamic.isp.example.net",
				"PASS fcrdns 192.0.2.4: ip-192-0-2-4.dynamic.isp.example.net resolves to 192.0.2.4",
				"WARN ptr_domain 192.0.2.4: ip-192-0-2-4.dynamic.isp.example.net is not within a sending domain (example.com, none.example)",
				"WARN ptr_generic 192.0.2.4: ip-192-0-2-4.dynamic.isp.example.net looks generic (the address's digits): receivers take such names for dynamic or unmanaged hosts",
				"FAIL dnsbl 192.0.2.4 on zen.spamhaus.org: listed (127.0.0.2: Spamhaus SBL: a spam source or spam operation)",
				"PASS ptr 198.51.100.7: PTR out.example.com",
				"PASS fcrdns 198.51.100.7: out.example.com resolves to 198.51.100.7",
				"PASS ptr_domain 198.51.100.7: out.example.com is within example.com",
				"PASS ptr_generic 198.51.100.7: out.example.com does not look generic",
				"PASS dnsbl 198.51.100.7 on zen.spamhaus.org: not listed (NXDOMAIN)",
				`PASS spf 192.0.2.3 for example.com: permitted by "v=spf1 include:_spf.example.com ~all" (pass)`,
				`PASS spf 192.0.2.4 for example.com: permitted by "v=spf1 include:_spf.example.com ~all" (pass)`,
				`FAIL spf 198.51.100.7 for example.com: not permitted by "v=spf1 include:_spf.example.com ~all" (softfail)`,
				`PASS dmarc example.com: policy reject, DKIM alignment strict, SPF alignment relaxed ("v=DMARC1; p=reject; adkim=s; rua=mailto:dmarc@example.com" at _dmarc.example.com)`,
				"FAIL dkim bad._domainkey.example.com: malformed key: p= is not base64",
				"FAIL dkim weak._domainkey.example.com: rsa key of 512 bits: under 1024 bits, receivers ignore its signatures",
				"FAIL spf 192.0.2.3 for none.example: no SPF record",
				"FAIL spf 192.0.2.4 for none.example: no SPF record",
				"FAIL spf 198.51.100.7 for none.example: no SPF record",
				`WARN dmarc none.example: policy none, DKIM alignment relaxed, SPF alignment relaxed ("v=DMARC1; p=none" at _dmarc.none.example): p=none only monitors`,
			},
			stderr: "ppwatch: check: 9 of 23 checks failed\n"},
		{name: "a resolver that never answers: UNKNOWN, exit 0", code: 0,
			args:   []string{"--recipient-domain", "pp.example", "--dns.server", never.Addr, "--dns.timeout", "50ms"},
			stdout: []string{"UNKNOWN mx pp.example: lookup pp.example. MX: timed out"}},
		{name: "--dns.server overrides dns.servers", code: 0,
			args:   []string{"--config", failing, "--recipient-domain", "pp.example", "--dns.server", never.Addr, "--dns.timeout", "50ms"},
			stdout: []string{"UNKNOWN mx pp.example: lookup pp.example. MX: timed out"}},
		{name: "a bad IP", code: 2, args: []string{"--ip", "192.0.2.300", "--dns.server", srv.Addr},
			stderr: "ppwatch: --ip: \"192.0.2.300\" is not an IP address\n"},
		{name: "a bad resolver", code: 2, args: []string{"--ip", "192.0.2.1", "--dns.server", "resolver.example"},
			stderr: "ppwatch: --dns.server: \"resolver.example\" is not IP:port (e.g. \"127.0.0.53:53\", \"[::1]:53\")\n"},
		{name: "a bad domain", code: 2, args: []string{"--domain", "me@example.com", "--dns.server", srv.Addr},
			stderr: "ppwatch: --domain: \"me@example.com\" is not a domain\n"},
		{name: "a bad timeout", code: 2, args: []string{"--ip", "192.0.2.1", "--dns.server", srv.Addr, "--dns.timeout", "soon"},
			stderr: "ppwatch: --dns.timeout: \"soon\" is not a positive duration (e.g. 500ms, 2s)\n"},
		{name: "nothing to check", code: 2, args: []string{"--dns.server", srv.Addr},
			stderr: "ppwatch: check: nothing to check: give --ip, --domain or --recipient-domain, or a --config with hygiene.ips, source_ips or hygiene.domains\n"},
		{name: "an argument", code: 2, args: []string{"192.0.2.1"},
			stderr: "ppwatch: check: unexpected argument \"192.0.2.1\" (name what to check with --ip, --domain or --recipient-domain)\n"},
		{name: "a bad flag", code: 2, args: []string{"--ips", "192.0.2.1"},
			stderr: "ppwatch: check: flag provided but not defined: -ips (see ppwatch check --help)\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := run(t, "", append([]string{"check"}, tc.args...)...)
			if code != tc.code {
				t.Errorf("exit %d, want %d", code, tc.code)
			}
			got := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			if out == "" {
				got = nil
			}
			if d := cmp.Diff(tc.stdout, got); d != "" {
				t.Errorf("stdout (-want +got):\n%s", d)
			}
			if errs != tc.stderr {
				t.Errorf("stderr %q, want %q", errs, tc.stderr)
			}
		})
	}
}

// --json is an array of results with the documented field names; the
// same results as the lines.
func TestCheckJSON(t *testing.T) {
	srv := dnstest.Start(t, dnstest.Zones(t, dnstest.TestZones))
	code, out, errs := run(t, "", "check", "--json", "--ip", "192.0.2.4", "--domain", "example.com", "--recipient-domain", "pp.example", "--dns.server", srv.Addr)
	if code != 1 || errs != "ppwatch: check: 1 of 10 checks failed\n" {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	var got []map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	for _, r := range got {
		if _, ok := r["checked"].(string); !ok {
			t.Errorf("no checked time: %v", r)
		}
		delete(r, "checked")
	}
	want := []map[string]any{
		{"check": "ptr", "subject": "192.0.2.4", "status": "pass", "reason": "PTR ip-192-0-2-4.dynamic.isp.example.net", "record": "ip-192-0-2-4.dynamic.isp.example.net", "ttl_seconds": 3600.0},
		{"check": "fcrdns", "subject": "192.0.2.4", "status": "pass", "reason": "ip-192-0-2-4.dynamic.isp.example.net resolves to 192.0.2.4", "record": "192.0.2.4", "ttl_seconds": 300.0},
		{"check": "ptr_domain", "subject": "192.0.2.4", "status": "warn", "reason": "ip-192-0-2-4.dynamic.isp.example.net is not within a sending domain (example.com)", "record": "ip-192-0-2-4.dynamic.isp.example.net", "ttl_seconds": 3600.0},
		{"check": "ptr_generic", "subject": "192.0.2.4", "status": "warn", "reason": "ip-192-0-2-4.dynamic.isp.example.net looks generic (the address's digits): receivers take such names for dynamic or unmanaged hosts", "record": "ip-192-0-2-4.dynamic.isp.example.net", "ttl_seconds": 3600.0},
		{"check": "dnsbl", "subject": "192.0.2.4", "zone": "b.barracudacentral.org", "status": "pass", "reason": "not listed (NXDOMAIN)", "ttl_seconds": 60.0},
		{"check": "dnsbl", "subject": "192.0.2.4", "zone": "bl.spamcop.net", "status": "pass", "reason": "not listed (NXDOMAIN)", "ttl_seconds": 60.0},
		{"check": "dnsbl", "subject": "192.0.2.4", "zone": "zen.spamhaus.org", "status": "fail", "reason": "listed (127.0.0.2: Spamhaus SBL: a spam source or spam operation)", "record": "127.0.0.2", "ttl_seconds": 900.0},
		{"check": "spf", "subject": "example.com", "ip": "192.0.2.4", "status": "pass", "reason": `permitted by "v=spf1 include:_spf.example.com ~all" (pass)`, "record": "v=spf1 include:_spf.example.com ~all", "ttl_seconds": 600.0},
		{"check": "dmarc", "subject": "example.com", "status": "pass", "reason": `policy reject, DKIM alignment strict, SPF alignment relaxed ("v=DMARC1; p=reject; adkim=s; rua=mailto:dmarc@example.com" at _dmarc.example.com)`, "record": "v=DMARC1; p=reject; adkim=s; rua=mailto:dmarc@example.com", "ttl_seconds": 600.0},
		{"check": "mx", "subject": "pp.example", "status": "pass", "reason": "Proofpoint: MX mx0a-001b2d01.pphosted.com, mx0b-001b2d01.pphosted.com", "record": "10 mx0a-001b2d01.pphosted.com, 20 mx0b-001b2d01.pphosted.com", "proofpoint": true, "ttl_seconds": 1800.0},
	}
	// A TTL read from the cache is what is left of it: on a slow machine a
	// second may have passed since it was stored.
	for i, r := range got {
		if i < len(want) && r["ttl_seconds"] != want[i]["ttl_seconds"] {
			if g, w := r["ttl_seconds"].(float64), want[i]["ttl_seconds"].(float64); g == w-1 {
				r["ttl_seconds"] = w
			}
		}
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	// A domain without --ip: its SPF record is looked at, not evaluated.
	code, out, _ = run(t, "", "check", "--json", "--domain", "example.com", "--dns.server", srv.Addr)
	var spf []map[string]any
	if err := json.Unmarshal([]byte(out), &spf); code != 0 || err != nil || len(spf) != 2 || spf[0]["ip"] != nil || spf[0]["reason"] != `published "v=spf1 include:_spf.example.com ~all" (no sending IP given to evaluate)` {
		t.Errorf("exit %d, %v: %s", code, err, out)
	}
}
