package dnscheck

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ppwatch/ppwatch/pkg/dnscheck/dnstest"
)

// everything is a subject of every kind, for the failure rows.
var everything = Subjects{
	IPs:              []netip.Addr{ip("192.0.2.1")},
	Domains:          []Domain{{Name: "example.com", DKIMSelectors: []string{"good"}}},
	RecipientDomains: []string{"pp.example"},
}

// A resolver that fails makes every check UNKNOWN with the failure, never
// FAIL; one that truncates is asked again over TCP; a failing server is
// passed over for the next.
func TestResolverFailures(t *testing.T) {
	good := zones(t)
	never := dnstest.Start(t, dnstest.NeverAnswers())
	servfail := dnstest.Start(t, dnstest.ServFail())
	trunc := dnstest.Start(t, dnstest.Truncating(dnstest.Zones(t, dnstest.TestZones)))
	unknownLines := func(reason string) []string {
		return []string{
			"UNKNOWN ptr 192.0.2.1: lookup 1.2.0.192.in-addr.arpa. PTR: " + reason,
			"UNKNOWN fcrdns 192.0.2.1: no PTR name to resolve: lookup 1.2.0.192.in-addr.arpa. PTR: " + reason,
			"UNKNOWN dnsbl 192.0.2.1 on bl.spamcop.net: lookup 1.2.0.192.bl.spamcop.net. A: " + reason,
			"UNKNOWN dnsbl 192.0.2.1 on zen.spamhaus.org: lookup 1.2.0.192.zen.spamhaus.org. A: " + reason,
			"UNKNOWN spf 192.0.2.1 for example.com: lookup example.com. TXT: " + reason,
			"UNKNOWN dmarc example.com: lookup _dmarc.example.com. TXT: " + reason,
			"UNKNOWN dkim good._domainkey.example.com: lookup good._domainkey.example.com. TXT: " + reason,
			"UNKNOWN mx pp.example: lookup pp.example. MX: " + reason,
		}
	}
	passLines := []string{
		"PASS ptr 192.0.2.1: PTR mail.example.com",
		"PASS fcrdns 192.0.2.1: mail.example.com resolves to 192.0.2.1",
		"PASS ptr_domain 192.0.2.1: mail.example.com is within example.com",
		"PASS ptr_generic 192.0.2.1: mail.example.com does not look generic",
		"PASS dnsbl 192.0.2.1 on bl.spamcop.net: not listed (NXDOMAIN)",
		"PASS dnsbl 192.0.2.1 on zen.spamhaus.org: not listed (NXDOMAIN)",
		`PASS spf 192.0.2.1 for example.com: permitted by "v=spf1 include:_spf.example.com ~all" (pass)`,
		`PASS dmarc example.com: policy reject, DKIM alignment strict, SPF alignment relaxed ("v=DMARC1; p=reject; adkim=s; rua=mailto:dmarc@example.com" at _dmarc.example.com)`,
		"PASS dkim good._domainkey.example.com: rsa key of 2048 bits",
		"PASS mx pp.example: Proofpoint: MX mx0a-001b2d01.pphosted.com, mx0b-001b2d01.pphosted.com",
	}
	for _, tc := range []struct {
		name    string
		servers []string
		want    []string
	}{
		{"timeout", []string{never.Addr}, unknownLines("timed out")},
		{"SERVFAIL", []string{servfail.Addr}, unknownLines("SERVFAIL")},
		{"truncated, then TCP", []string{trunc.Addr}, passLines},
		{"a server that times out, then a good one", []string{never.Addr, good.Addr}, passLines},
		{"SERVFAIL, then a good one", []string{servfail.Addr, good.Addr}, passLines},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newChecker(t, newClock(), tc.servers...)
			got := c.Check(context.Background(), everything)
			if d := cmp.Diff(tc.want, lines(got)); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
	// Every name the truncating server answered was asked over UDP first,
	// and again over TCP.
	for _, q := range [][2]string{{"1.2.0.192.in-addr.arpa.", "PTR"}, {"example.com.", "TXT"}, {"pp.example.", "MX"}} {
		if u, tcp := trunc.Queries(q[0], q[1], "udp"), trunc.Queries(q[0], q[1], "tcp"); u != 1 || tcp != 1 {
			t.Errorf("%s %s: %d UDP and %d TCP queries, want 1 and 1", q[0], q[1], u, tcp)
		}
	}
	// A timeout is asked again (Attempts rounds) when it is the only
	// server, and once when a good one follows.
	if n := never.Queries("pp.example.", "MX", "udp"); n != DefaultAttempts+1 {
		t.Errorf("the silent server got %d MX queries, want %d", n, DefaultAttempts+1)
	}
}

// A lookup that fails midway (an include, the PTR name's address, one
// zone) makes that check UNKNOWN, never FAIL; the others go on.
func TestLookupFailsMidway(t *testing.T) {
	srv := dnstest.Start(t, dnstest.ServFailFor(dnstest.Zones(t, dnstest.TestZones),
		"_spf.example.com", "mail.example.com", "1.2.0.192.bl.spamcop.net"))
	c := newChecker(t, newClock(), srv.Addr)
	got := c.Check(context.Background(), Subjects{IPs: []netip.Addr{ip("192.0.2.1")}, Domains: []Domain{{Name: "example.com"}}})
	want := []string{
		"PASS ptr 192.0.2.1: PTR mail.example.com",
		"UNKNOWN fcrdns 192.0.2.1: lookup mail.example.com. A: SERVFAIL",
		"PASS ptr_domain 192.0.2.1: mail.example.com is within example.com",
		"PASS ptr_generic 192.0.2.1: mail.example.com does not look generic",
		"UNKNOWN dnsbl 192.0.2.1 on bl.spamcop.net: lookup 1.2.0.192.bl.spamcop.net. A: SERVFAIL",
		"PASS dnsbl 192.0.2.1 on zen.spamhaus.org: not listed (NXDOMAIN)",
		`UNKNOWN spf 192.0.2.1 for example.com: evaluating "v=spf1 include:_spf.example.com ~all" failed (temperror: lookup _spf.example.com: SERVFAIL)`,
		`PASS dmarc example.com: policy reject, DKIM alignment strict, SPF alignment relaxed ("v=DMARC1; p=reject; adkim=s; rua=mailto:dmarc@example.com" at _dmarc.example.com)`,
	}
	if d := cmp.Diff(want, lines(got)); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

// Answers are kept for their TTL and negative answers for the SOA's
// negative TTL, counted at the server; a result from the cache carries the
// TTL left.
func TestCacheHonoursTTL(t *testing.T) {
	srv := zones(t)
	clk := newClock()
	c := newChecker(t, clk, srv.Addr)
	ctx := context.Background()
	ptrName, aName, nxName := "1.2.0.192.in-addr.arpa.", "mail.example.com.", "3.2.0.192.in-addr.arpa."
	counts := func() [3]int {
		return [3]int{srv.Queries(ptrName, "PTR", ""), srv.Queries(aName, "A", ""), srv.Queries(nxName, "PTR", "")}
	}
	check := func(step string, want [3]int, wantTTL [2]uint32) {
		t.Helper()
		r := c.CheckPTR(ctx, ip("192.0.2.1"), nil)
		nx := c.CheckPTR(ctx, ip("192.0.2.3"), nil)
		if got := counts(); got != want {
			t.Errorf("%s: queries (PTR, A, NXDOMAIN PTR) = %v, want %v", step, got, want)
		}
		if got := [2]uint32{r[0].TTL, nx[0].TTL}; got != wantTTL {
			t.Errorf("%s: TTLs of the PTR and of the NXDOMAIN = %v, want %v", step, got, wantTTL)
		}
	}
	check("first", [3]int{1, 1, 1}, [2]uint32{3600, 60})
	check("again at once: all from the cache", [3]int{1, 1, 1}, [2]uint32{3600, 60})
	clk.Advance(59 * time.Second)
	check("59s on: the negative answer still holds", [3]int{1, 1, 1}, [2]uint32{3541, 1})
	clk.Advance(time.Second)
	check("60s on: the negative answer is asked again", [3]int{1, 1, 2}, [2]uint32{3540, 60})
	clk.Advance(240 * time.Second)
	check("300s on: the A record (TTL 300) too", [3]int{1, 2, 3}, [2]uint32{3300, 60})
	clk.Advance(3300 * time.Second)
	check("3600s on: the PTR (TTL 3600) and the A again", [3]int{2, 3, 4}, [2]uint32{3600, 60})

	// Failures are not kept: the next check asks again.
	sf := dnstest.Start(t, dnstest.ServFail())
	c = newChecker(t, clk, sf.Addr)
	c.CheckMX(ctx, "pp.example")
	c.CheckMX(ctx, "pp.example")
	if n := sf.Queries("pp.example.", "MX", ""); n != 2*DefaultAttempts {
		t.Errorf("SERVFAIL server: %d queries, want %d: a failure was cached", n, 2*DefaultAttempts)
	}
}

// DNSBL queries are paced at DNSBLRate on the Checker's clock, and only
// those that reach the network: answers from the cache go at once. Other
// lookups are not paced.
func TestDNSBLRateLimit(t *testing.T) {
	srv := zones(t)
	clk := newClock()
	c, err := New(Options{Servers: []string{srv.Addr}, DNSBL: ZonesNamed([]string{"zen.spamhaus.org"}), DNSBLRate: 10, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	c.res.sleep = clk.Sleep
	ctx := context.Background()
	var sent []time.Duration
	for _, a := range []string{"192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4", "192.0.2.5", "192.0.2.1", "192.0.2.4"} {
		r := c.CheckDNSBL(ctx, ip(a))
		if len(r) != 1 {
			t.Fatalf("%s: %v", a, r)
		}
		sent = append(sent, clk.Now().Sub(t0))
	}
	ms := time.Millisecond
	if d := cmp.Diff([]time.Duration{0, 100 * ms, 100 * ms, 100 * ms, 100 * ms}, clk.sleeps); d != "" {
		t.Errorf("waits (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]time.Duration{0, 100 * ms, 200 * ms, 300 * ms, 400 * ms, 400 * ms, 400 * ms}, sent); d != "" {
		t.Errorf("clock after each query (-want +got):\n%s", d)
	}
	if n := srv.Total(); n != 5 {
		t.Errorf("%d queries reached the server, want 5", n)
	}
	c.CheckPTR(ctx, ip("192.0.2.1"), nil)
	if len(clk.sleeps) != 5 {
		t.Errorf("PTR lookups waited for the DNSBL limiter: %v", clk.sleeps)
	}
}

// Without servers the Checker reads resolv.conf (here: none, so that no
// test asks a real resolver), and says so.
func TestNewWithoutServers(t *testing.T) {
	_, err := New(Options{})
	if err == nil || err.Error() != "no DNS servers given and open testdata/no-resolv.conf: no such file or directory" {
		t.Errorf("err = %v", err)
	}
	for _, s := range []string{"127.0.0.1", "localhost:53", "127.0.0.1:0", "[::1]:99999"} {
		if _, err := New(Options{Servers: []string{s}}); err == nil {
			t.Errorf("server %q accepted", s)
		}
	}
	if err := CheckServer("[::1]:53"); err != nil {
		t.Errorf("[::1]:53: %v", err)
	}
	if err := CheckServer("localhost:53"); err == nil || err.Error() != `"localhost:53": "localhost" is not an IP address` {
		t.Errorf("localhost:53: %v", err)
	}
}

func TestGenericName(t *testing.T) {
	for _, tc := range []struct {
		name, ip, want string
	}{
		{"mail.example.com", "192.0.2.1", ""},
		{"ip-192-0-2-1.example.net", "192.0.2.1", "the address's digits"},
		{"1-2-0-192.rev.isp.example", "192.0.2.1", "the address's digits"},
		{"ec2-192-0-2-1.compute-1.amazonaws.com", "192.0.2.1", "the address's digits"},
		{"c0000201.isp.example", "192.0.2.1", "the address's digits"},
		{"host192000002001.isp.example", "192.0.2.1", "the address's digits"},
		{"static.192.0.2.1.isp.example", "192.0.2.1", "the address's digits"},
		{"ip-192-0-2-9.example.net", "192.0.2.1", `"ip"`},
		{"pool-7.isp.example", "192.0.2.1", `"pool"`},
		{"x.dynamic.isp.co.uk", "192.0.2.1", `"dynamic"`},
		{"dsl12.isp.example", "192.0.2.1", `"dsl"`},
		{"mail.dsl-provider.example", "192.0.2.1", ""},
		{"pool.example", "192.0.2.1", ""},
		{"mx1.pooled-mail.example", "192.0.2.1", ""},
		{"mail.customer.co.uk", "192.0.2.1", ""},
		{"mail6.example.com", "2001:db8::25", ""},
		{"dynamic-host.isp.example", "2001:db8::25", `"dynamic"`},
	} {
		if got := genericName(tc.name, ip(tc.ip)); got != tc.want {
			t.Errorf("genericName(%q, %s) = %q, want %q", tc.name, tc.ip, got, tc.want)
		}
	}
}

func TestLineAndSort(t *testing.T) {
	rs := []Result{
		res(CheckMX, "b.example", Pass, "x", "", 0),
		dkimRes("a.example", "s2", Fail, "y", "", 0),
		dkimRes("a.example", "s1", Fail, "multi\nline", "", 0),
		spfRes("192.0.2.10", "a.example", Pass, "z", "", 0),
		spfRes("192.0.2.9", "a.example", Pass, "z", "", 0),
		blRes("192.0.2.10", "b.zone", Unknown, "u", "", 0),
		res(CheckPTR, "192.0.2.10", Pass, "p", "", 0),
		res(CheckPTR, "192.0.2.9", Warn, "p", "", 0),
		res(CheckDMARC, "a.example", Pass, "d", "", 0),
	}
	Sort(rs)
	want := []string{
		"WARN ptr 192.0.2.9: p",
		"PASS ptr 192.0.2.10: p",
		"UNKNOWN dnsbl 192.0.2.10 on b.zone: u",
		"PASS spf 192.0.2.9 for a.example: z",
		"PASS spf 192.0.2.10 for a.example: z",
		"PASS dmarc a.example: d",
		"FAIL dkim s1._domainkey.a.example: multi line",
		"FAIL dkim s2._domainkey.a.example: y",
		"PASS mx b.example: x",
	}
	if d := cmp.Diff(want, lines(rs)); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	if !Failed(rs) || Failed(rs[:6]) {
		t.Errorf("Failed")
	}
	if got := strings.Join(DefaultZoneNames(), " "); got != "zen.spamhaus.org bl.spamcop.net b.barracudacentral.org" {
		t.Errorf("DefaultZoneNames = %s", got)
	}
}
