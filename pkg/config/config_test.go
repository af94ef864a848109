package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDefaults(t *testing.T) {
	c, err := Parse([]byte("# nothing\n"), "empty.yml")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(DefaultInternalRelays, c.InternalRelays); d != "" {
		t.Error(d)
	}
	if d := cmp.Diff(Domains{Top: 50, StoredPerIP: 5000, StoredTotal: 20000}, c.Domains); d != "" {
		t.Errorf("domains (-want +got):\n%s", d)
	}
	c, err = Parse([]byte("internal_relays: []\ntimezone: Europe/Berlin\n"), "x.yml")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.InternalRelays) != 0 || c.Location.String() != "Europe/Berlin" {
		t.Errorf("relays %v location %v", c.InternalRelays, c.Location)
	}
}

// Each bad-*.yml has one exact error: file, line, field and what to do.
func TestBadConfigs(t *testing.T) {
	want := map[string]string{
		"bad-unknown-key.yml":  `testdata/bad-unknown-key.yml:2: unknown key "listen_address" in the top level (known keys: alerting, alerts, dns, domains, episodes, external_url, flush_interval, hygiene, inputs, internal_relays, listen, proofpoint, report, retention, rules, source_ips, state_file, timezone, windows)`,
		"bad-nested-key.yml":   `testdata/bad-nested-key.yml:3: unknown key "hostz" in proofpoint (known keys: hosts, learn_from_mx, networks, recipient_domains)`,
		"bad-timezone.yml":     `testdata/bad-timezone.yml:1: timezone: unknown zone "Mars/Olympus" (use Local, UTC or an IANA name like Europe/Berlin)`,
		"bad-episodes.yml":     "testdata/bad-episodes.yml:2: episodes.quiet: 30s is outside 1m..7d\ntestdata/bad-episodes.yml:3: episodes.retention: 12h is shorter than 1d",
		"bad-source-ip.yml":    `testdata/bad-source-ip.yml:3: source_ips[0].ip: "192.0.2.300" is not an IP address`,
		"bad-mta.yml":          `testdata/bad-mta.yml:2: source_ips[0].mta: unknown MTA "sendmail" (use postfix, exim, pmta)`,
		"bad-regex.yml":        "testdata/bad-regex.yml:3: rules[0].match: error parsing regexp: missing closing ): `(`",
		"bad-class.yml":        `testdata/bad-class.yml:4: rules[0].class: unknown class "blocked" (use one of reputation, rate_limit, content, policy, auth, recipient, connection, other)`,
		"bad-duplicate-id.yml": `testdata/bad-duplicate-id.yml:5: rules[1].id: "a" is used by an earlier rule`,
		"bad-cidr.yml":         `testdata/bad-cidr.yml:1: internal_relays[0]: "127.0.0.0/33" is not a CIDR prefix`,
		"bad-type.yml":         `testdata/bad-type.yml:1: rules: expected a list`,
		"bad-syntax.yml":       `testdata/bad-syntax.yml:1: did not find expected ',' or ']'`,
		"bad-bool.yml":         `testdata/bad-bool.yml:4: rules[0].proofpoint: expected true or false, not "yes"`,
		"bad-duration.yml":     `testdata/bad-duration.yml:1: windows: invalid duration "1x" (use e.g. 90s, 5m, 24h, 30d)`,
		"bad-input-mta.yml":    `testdata/bad-input-mta.yml:3: inputs[0].mta: unknown MTA "qmail" (use auto, postfix, exim, pmta)`,
		"bad-window.yml":       `testdata/bad-window.yml:1: windows[0]: 1m30s: windows are whole minutes, at least 1m`,
		"bad-listen.yml":       `testdata/bad-listen.yml:1: listen: "9797" has no port (give host:port, e.g. ":9797")`,
		"bad-twice.yml":        `testdata/bad-twice.yml:2: key "timezone" given twice in the top level`,
		"bad-stored.yml":       `testdata/bad-stored.yml:3: domains.stored_per_ip: 0 is outside 1..1000000`,
		"bad-network.yml":      `testdata/bad-network.yml:3: proofpoint.networks[0]: "192.0.2.0/33" is not a CIDR prefix (e.g. 192.0.2.0/24 or 2001:db8::/32)`,
		"bad-tab.yml":          `testdata/bad-tab.yml:4: found character that cannot start any token`,
		"bad-dns-server.yml":   `testdata/bad-dns-server.yml:4: dns.servers[1]: "resolver.example:53": "resolver.example" is not an IP address`,
		"bad-dns-timeout.yml":  `testdata/bad-dns-timeout.yml:2: dns.timeout: 5ms is outside 10ms..1m`,
		"bad-hygiene-ip.yml":   `testdata/bad-hygiene-ip.yml:2: hygiene.ips[1]: "mail.example.com" is not an IP address`,
		"bad-hygiene-domain.yml": `testdata/bad-hygiene-domain.yml:4: hygiene.domains[0].dkim_selectors[1]: "s 2" is not a DKIM selector (letters, digits, '-', '.')` + "\n" +
			`testdata/bad-hygiene-domain.yml:5: hygiene.domains[1]: no name (the domain mail is sent as, e.g. "example.com")`,
		"bad-hygiene-dnsbl.yml":    `testdata/bad-hygiene-dnsbl.yml:4: hygiene.dnsbl[1]: "zen.spamhaus.org" is listed twice`,
		"bad-hygiene-interval.yml": `testdata/bad-hygiene-interval.yml:3: hygiene.dnsbl_interval: 1m is outside 10m..7d`,
		"bad-hygiene-top-ips.yml":  `testdata/bad-hygiene-top-ips.yml:2: hygiene.top_ips: 1000 is outside 0..100`,
	}
	files, _ := filepath.Glob("testdata/bad-*.yml")
	if len(files) != len(want) {
		t.Errorf("%d bad files, %d expectations", len(files), len(want))
	}
	for _, f := range files {
		_, err := Load(f)
		if err == nil {
			t.Errorf("%s: loaded", f)
			continue
		}
		if got := err.Error(); got != want[filepath.Base(f)] {
			t.Errorf("%s:\n got %s\nwant %s", f, got, want[filepath.Base(f)])
		}
	}
}

func TestMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yml"))
	if !os.IsNotExist(err) {
		t.Errorf("err = %v", err)
	}
}

func TestErrorsAreJoined(t *testing.T) {
	_, err := Parse([]byte("timezone: Nowhere/X\nsource_ips:\n  - ip: x\n"), "c.yml")
	if err == nil || strings.Count(err.Error(), "\n") != 1 {
		t.Errorf("want two errors, got %v", err)
	}
}

func FuzzLoad(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yml")
	files = append(files, "../../configs/ppwatch.yml", "../../testdata/golden-config.yml")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, "fuzz.yml")
		if err == nil && c.Location == nil {
			t.Error("valid config without location")
		}
	})
}

// All of a file's errors come in one run, in line order: the key check,
// the decoder and the value checks do not take turns.
func TestAllErrorsInLineOrder(t *testing.T) {
	_, err := Load("testdata/many-errors.yml")
	want := `testdata/many-errors.yml:3: listen: "999.0.0.1:80": "999.0.0.1" is not an IP address
testdata/many-errors.yml:4: timezone: unknown zone "Mars/Olympus" (use Local, UTC or an IANA name like Europe/Berlin)
testdata/many-errors.yml:5: unknown key "listen_adress" in the top level (known keys: alerting, alerts, dns, domains, episodes, external_url, flush_interval, hygiene, inputs, internal_relays, listen, proofpoint, report, retention, rules, source_ips, state_file, timezone, windows)
testdata/many-errors.yml:6: windows: invalid duration "1x" (use e.g. 90s, 5m, 24h, 30d)
testdata/many-errors.yml:8: source_ips[0].mta: unknown MTA "sendmail" (use postfix, exim, pmta)
testdata/many-errors.yml:9: source_ips[0].ip: "192.0.2.300" is not an IP address
testdata/many-errors.yml:11: key "retention" given twice in the top level
testdata/many-errors.yml:13: rules[0].id: "Bad": use lower-case letters, digits, '-', '_' and '.'
testdata/many-errors.yml:14: rules[0].match: error parsing regexp: missing closing ): ` + "`(`" + `
testdata/many-errors.yml:15: rules[0].class: unknown class "blocked" (use one of reputation, rate_limit, content, policy, auth, recipient, connection, other)
testdata/many-errors.yml:16: rules[0].proofpoint: expected true or false, not "yes"
testdata/many-errors.yml:18: domains.top: -1 is outside 0..10000
testdata/many-errors.yml:19: unknown key "stored_totl" in domains (known keys: always, stored_per_ip, stored_total, top)
testdata/many-errors.yml:22: alerting.alertmanagers[0].url: "ftp://am" is not an http or https URL`
	if err == nil || err.Error() != want {
		t.Errorf("got\n%v\nwant\n%s", err, want)
	}
}

func TestCheckListen(t *testing.T) {
	for addr, want := range map[string]string{
		":9797":                 "",
		"127.0.0.1:9797":        "",
		"[::1]:9797":            "",
		"localhost:0":           "",
		"mta1.example.net:9797": "",
		"":                      `empty (give host:port, e.g. "127.0.0.1:9797" or ":9797")`,
		"9797":                  `"9797" has no port (give host:port, e.g. ":9797")`,
		"999.0.0.1:80":          `"999.0.0.1:80": "999.0.0.1" is not an IP address`,
		"::1:9797":              `"::1:9797" is not host:port (an IPv6 address goes in brackets: "[::1]:9797")`,
		"[::g]:9797":            `"[::g]:9797": "::g" is not an IP address`,
		"127.0.0.1:http":        `"127.0.0.1:http": the port "http" is not a number in 0..65535`,
		"127.0.0.1:65536":       `"127.0.0.1:65536": the port "65536" is not a number in 0..65535`,
		"mta_1.example:9797":    `"mta_1.example:9797": "mta_1.example" is not a host name or an IP address`,
	} {
		got := ""
		if err := CheckListen(addr); err != nil {
			got = err.Error()
		}
		if got != want {
			t.Errorf("CheckListen(%q) = %q, want %q", addr, got, want)
		}
	}
}
