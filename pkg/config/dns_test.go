package config

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ppwatch/ppwatch/pkg/dnscheck"
)

func TestDNSDefaults(t *testing.T) {
	c, err := Parse([]byte("# nothing\n"), "empty.yml")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(DNS{Timeout: Duration(2 * time.Second)}, c.DNS); d != "" {
		t.Errorf("dns (-want +got):\n%s", d)
	}
	want := Hygiene{DNSBL: []string{"zen.spamhaus.org", "bl.spamcop.net", "b.barracudacentral.org"},
		Interval: Duration(15 * time.Minute), DNSBLInterval: Duration(time.Hour), TopIPs: 10, TopDomains: 5}
	if d := cmp.Diff(want, c.Hygiene); d != "" {
		t.Errorf("hygiene (-want +got):\n%s", d)
	}
	// dnsbl: [] turns the DNSBL checks off.
	c, err = Parse([]byte("hygiene:\n  dnsbl: []\n"), "x.yml")
	if err != nil || len(c.Hygiene.DNSBL) != 0 || len(c.DNSCheckOptions(nil).DNSBL) != 0 {
		t.Errorf("dnsbl: [] gave %v, %v", c.Hygiene.DNSBL, err)
	}
}

// The checks' subjects: hygiene.ips, then source_ips' IPs, each once;
// the domains with their selectors. The options carry the zones with
// their codes.
func TestHygieneSubjects(t *testing.T) {
	c, err := Parse([]byte(`
source_ips:
  - {instance: postfix-out, ip: 192.0.2.10}
  - {instance: "*", ip: 192.0.2.25}
dns:
  servers: ["127.0.0.1:5353", "[::1]:53"]
  timeout: 500ms
hygiene:
  ips: [192.0.2.25, 2001:db8::25]
  domains:
    - name: example.com
      dkim_selectors: [s1, s2]
    - name: example.org
  dnsbl: [zen.spamhaus.org, dnsbl.example.net]
`), "x.yml")
	if err != nil {
		t.Fatal(err)
	}
	want := dnscheck.Subjects{
		IPs:     []netip.Addr{netip.MustParseAddr("192.0.2.25"), netip.MustParseAddr("2001:db8::25"), netip.MustParseAddr("192.0.2.10")},
		Domains: []dnscheck.Domain{{Name: "example.com", DKIMSelectors: []string{"s1", "s2"}}, {Name: "example.org"}},
	}
	if d := cmp.Diff(want, c.HygieneSubjects(), cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); d != "" {
		t.Errorf("subjects (-want +got):\n%s", d)
	}
	o := c.DNSCheckOptions(nil)
	if d := cmp.Diff([]string{"127.0.0.1:5353", "[::1]:53"}, o.Servers); d != "" || o.Timeout != 500*time.Millisecond {
		t.Errorf("servers %v timeout %v", o.Servers, o.Timeout)
	}
	if len(o.DNSBL) != 2 || o.DNSBL[0].Codes["127.0.0.2"] == "" || o.DNSBL[1].Name != "dnsbl.example.net" || o.DNSBL[1].Codes != nil {
		t.Errorf("zones %+v", o.DNSBL)
	}
}
