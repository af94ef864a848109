package hygiene

import (
	"cmp"
	"net/netip"
	"slices"
	"strings"

	"github.com/ppwatch/ppwatch/pkg/dnscheck"
)

// subjects are what one round checks.
type subjects struct {
	ips     []netip.Addr
	domains []dnscheck.Domain
	zones   []dnscheck.Zone
}

// covers tells whether r is a result of these subjects: one that a round
// of theirs gives. Results of subjects no longer checked (an IP out of the
// top, a selector removed from the config) stay in the store for their
// history, but are no metric any more.
func (s subjects) covers(r dnscheck.Result) bool {
	ip := func(a string) bool {
		return slices.ContainsFunc(s.ips, func(x netip.Addr) bool { return x.String() == a })
	}
	i := slices.IndexFunc(s.domains, func(d dnscheck.Domain) bool { return d.Name == r.Subject })
	switch r.Check {
	case dnscheck.CheckPTR, dnscheck.CheckFCrDNS, dnscheck.CheckPTRDomain, dnscheck.CheckPTRGeneric:
		return ip(r.Subject)
	case dnscheck.CheckDNSBL:
		return ip(r.Subject) && slices.ContainsFunc(s.zones, func(z dnscheck.Zone) bool { return z.Name == r.Zone })
	case dnscheck.CheckSPF:
		return i >= 0 && (ip(r.IP) || r.IP == "" && len(s.ips) == 0)
	case dnscheck.CheckDMARC:
		return i >= 0
	case dnscheck.CheckDKIM:
		return i >= 0 && slices.Contains(s.domains[i].DKIMSelectors, r.Selector)
	}
	return false
}

// unseen are the ranges no receiver sees mail come from, beside those
// netip tells (private, loopback, link-local, multicast): checking them
// says nothing of the address the mail leaves by.
var unseen = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"), // shared address space (carrier NAT)
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("192.0.2.0/24"),  // documentation (RFC 5737)
	netip.MustParsePrefix("198.18.0.0/15"), // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("2001:db8::/32"), // documentation (RFC 3849)
}

// receiverSees tells whether a is an address a receiver can see mail
// come from.
func receiverSees(a netip.Addr) bool {
	if !a.IsGlobalUnicast() || a.IsPrivate() {
		return false
	}
	return !slices.ContainsFunc(unseen, func(p netip.Prefix) bool { return p.Contains(a) })
}

// topIPs returns the n source IPs with the most attempts that receivers
// can see, besides those in have; ties in address order, so that the
// choice is stable.
func topIPs(attempts map[string]uint64, n int, have []netip.Addr) []netip.Addr {
	type ipCount struct {
		ip netip.Addr
		n  uint64
	}
	var all []ipCount
	for s, c := range attempts {
		a, err := netip.ParseAddr(s)
		if err != nil {
			continue
		}
		if a = a.Unmap(); receiverSees(a) && !slices.Contains(have, a) {
			all = append(all, ipCount{a, c})
		}
	}
	slices.SortFunc(all, func(x, y ipCount) int { return cmp.Or(cmp.Compare(y.n, x.n), x.ip.Compare(y.ip)) })
	var out []netip.Addr
	for _, x := range all[:min(n, len(all))] {
		out = append(out, x.ip)
	}
	return out
}

// topDomains returns the n sending domains with the most failures,
// besides those in have; ties by name, so that the choice is stable.
func topDomains(failures map[string]uint64, n int, have []dnscheck.Domain) []dnscheck.Domain {
	type domainCount struct {
		name string
		n    uint64
	}
	var all []domainCount
	for d, c := range failures {
		d = strings.ToLower(strings.TrimSuffix(d, "."))
		if d == "" || slices.ContainsFunc(have, func(h dnscheck.Domain) bool { return h.Name == d }) {
			continue
		}
		all = append(all, domainCount{d, c})
	}
	slices.SortFunc(all, func(a, b domainCount) int { return cmp.Or(cmp.Compare(b.n, a.n), cmp.Compare(a.name, b.name)) })
	var out []dnscheck.Domain
	for _, d := range all[:min(len(all), n)] {
		out = append(out, dnscheck.Domain{Name: d.name})
	}
	return out
}
