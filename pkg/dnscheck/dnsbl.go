package dnscheck

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/miekg/dns"
)

// Zone is a DNSBL: an address is listed when <reversed address>.<Name>
// has an A record in 127.0.0.0/8.
type Zone struct {
	Name string
	// IPv6 zones are asked about IPv6 addresses too (in nibble form);
	// other zones only about IPv4 addresses.
	IPv6 bool
	// Codes are the answers whose meaning the list publishes.
	Codes map[string]string
	// Errors are answers that are no verdict about the address but about
	// the query (Spamhaus' 127.255.255.x): they give UNKNOWN.
	Errors map[string]string
}

// spamhausErrors are the answers Spamhaus gives instead of a verdict
// (its "DNSBL return codes" note of 2019 and the public mirror terms):
// they must never be read as a listing.
var spamhausErrors = map[string]string{
	"127.255.255.252": "typing error in the DNSBL name",
	"127.255.255.254": "query through a public or open resolver: Spamhaus answers no such queries; use your own resolver or Spamhaus DQS",
	"127.255.255.255": "too many queries from this resolver: over Spamhaus' free use limit",
}

// DefaultZones are the DNSBLs checked by default, with the return codes
// their operators publish.
var DefaultZones = []Zone{
	{Name: "zen.spamhaus.org", IPv6: true, Errors: spamhausErrors, Codes: map[string]string{
		"127.0.0.2":  "Spamhaus SBL: a spam source or spam operation",
		"127.0.0.3":  "Spamhaus CSS: snowshoe spam, automated listing",
		"127.0.0.4":  "Spamhaus XBL: an exploited or infected host",
		"127.0.0.9":  "Spamhaus DROP: a hijacked or criminal network",
		"127.0.0.10": "Spamhaus PBL (by the ISP): a range not meant to send mail directly",
		"127.0.0.11": "Spamhaus PBL (by Spamhaus): a range not meant to send mail directly",
		"127.0.0.30": "Spamhaus BCL: a botnet controller",
	}},
	{Name: "bl.spamcop.net", Codes: map[string]string{
		"127.0.0.2": "SpamCop: reported by spam recipients",
	}},
	{Name: "b.barracudacentral.org", Codes: map[string]string{
		"127.0.0.2": "Barracuda BRBL: poor sending reputation",
	}},
}

// ZonesNamed returns the zones of names: a default zone's entry (with its
// return codes), else a zone that knows no codes. Spamhaus' error answers
// are known for any zone under spamhaus.org or spamhaus.net (its DQS
// zones).
func ZonesNamed(names []string) []Zone {
	var out []Zone
	for _, n := range names {
		n = normalDomain(n)
		i := slices.IndexFunc(DefaultZones, func(z Zone) bool { return z.Name == n })
		switch {
		case i >= 0:
			out = append(out, DefaultZones[i])
		case strings.HasSuffix(n, ".spamhaus.org") || strings.HasSuffix(n, ".spamhaus.net"):
			out = append(out, Zone{Name: n, IPv6: true, Errors: spamhausErrors})
		default:
			out = append(out, Zone{Name: n})
		}
	}
	return out
}

// DefaultZoneNames are the names of DefaultZones.
func DefaultZoneNames() []string {
	var out []string
	for _, z := range DefaultZones {
		out = append(out, z.Name)
	}
	return out
}

// CheckDNSBL asks every configured zone about ip, one dnsbl result per
// zone (an IPv4-only zone is not asked about an IPv6 address). Queries are
// paced by Options.DNSBLRate.
func (c *Checker) CheckDNSBL(ctx context.Context, ip netip.Addr) []Result {
	ip = ip.Unmap()
	var out []Result
	for _, z := range c.bl {
		if ip.Is6() && !z.IPv6 {
			continue
		}
		out = append(out, c.checkZone(ctx, ip, z))
	}
	return out
}

func (c *Checker) checkZone(ctx context.Context, ip netip.Addr, z Zone) Result {
	r := c.result(CheckDNSBL, ip.String())
	r.Zone = normalDomain(z.Name)
	a, err := c.res.lookup(ctx, dnsblName(ip, r.Zone), dns.TypeA, true)
	if err != nil {
		return unknown(r, err)
	}
	r.TTL = a.ttl
	if a.empty() {
		r.Status, r.Reason = Pass, fmt.Sprintf("not listed (%s)", a.negative())
		return r
	}
	var codes, listed, errs, odd []string
	for _, rr := range a.rrs {
		code := rr.(*dns.A).A.String()
		codes = append(codes, code)
		addr, _ := netip.ParseAddr(code)
		switch {
		case z.Errors[code] != "":
			errs = append(errs, fmt.Sprintf("%s: %s", code, z.Errors[code]))
		case !netip.MustParsePrefix("127.0.0.0/8").Contains(addr):
			odd = append(odd, code)
		case z.Codes[code] != "":
			listed = append(listed, fmt.Sprintf("%s: %s", code, z.Codes[code]))
		default:
			listed = append(listed, code+": no published meaning")
		}
	}
	r.Record = strings.Join(codes, " ")
	switch {
	case len(listed) > 0:
		r.Status, r.Reason = Fail, "listed ("+strings.Join(listed, "; ")+")"
	case len(errs) > 0:
		r.Status, r.Reason = Unknown, "no verdict ("+strings.Join(errs, "; ")+")"
	default:
		// A resolver that rewrites NXDOMAIN into an address of its own
		// (an ISP's search page) would list every IP.
		r.Status, r.Reason = Unknown, fmt.Sprintf("no verdict (%s is no DNSBL answer: a resolver rewriting NXDOMAIN?)", strings.Join(odd, " "))
	}
	return r
}

// dnsblName is the name a DNSBL is asked: the IPv4 octets reversed
// (7.100.51.198.zone), an IPv6 address's nibbles reversed.
func dnsblName(ip netip.Addr, zone string) string {
	arpa, _ := dns.ReverseAddr(ip.String()) // "7.100.51.198.in-addr.arpa."
	arpa = strings.TrimSuffix(strings.TrimSuffix(arpa, "in-addr.arpa."), "ip6.arpa.")
	return arpa + zone + "."
}
