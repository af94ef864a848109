package dnscheck

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/miekg/dns"
	"golang.org/x/net/publicsuffix"
)

// CheckPTR checks ip's reverse DNS: ptr (a PTR record), fcrdns (a PTR name
// whose A, or for an IPv6 address AAAA, records include ip), and for the
// first such name (else the first PTR name) ptr_generic (the name does
// not look like an ISP's name for any of its addresses) and, when
// sendingDomains are given, ptr_domain (the name is within one of them).
// Without a PTR name there is nothing to judge: ptr_domain and ptr_generic
// are left out.
func (c *Checker) CheckPTR(ctx context.Context, ip netip.Addr, sendingDomains []string) []Result {
	ip = ip.Unmap()
	subject := ip.String()
	ptr := c.result(CheckPTR, subject)
	fc := c.result(CheckFCrDNS, subject)
	names, a, err := c.res.ptr(ctx, ip)
	switch {
	case err != nil:
		return []Result{unknown(ptr, err), unknown(fc, fmt.Errorf("no PTR name to resolve: %w", err))}
	case a.empty():
		ptr.Status, ptr.Reason, ptr.TTL = Fail, fmt.Sprintf("no PTR record (%s)", a.negative()), a.ttl
		fc.Status, fc.Reason, fc.TTL = Fail, "no PTR name to resolve", a.ttl
		return []Result{ptr, fc}
	}
	for i := range names {
		names[i] = normalDomain(names[i])
	}
	slices.Sort(names) // resolvers rotate them
	ptr.Status, ptr.Record, ptr.TTL = Pass, strings.Join(names, " "), a.ttl
	ptr.Reason = "PTR " + strings.Join(names, ", ")
	if len(names) > 1 {
		// Receivers that take the first name only may take a wrong one.
		ptr.Status = Warn
		ptr.Reason = fmt.Sprintf("%d PTR records (%s): one is best", len(names), strings.Join(names, ", "))
	}

	fc, name := c.fcrdns(ctx, fc, ip, names)
	out := []Result{ptr, fc}

	if len(sendingDomains) > 0 {
		pd := c.result(CheckPTRDomain, subject)
		pd.Record, pd.TTL = name, ptr.TTL
		if d, ok := within(name, sendingDomains); ok {
			pd.Status, pd.Reason = Pass, fmt.Sprintf("%s is within %s", name, d)
		} else {
			pd.Status = Warn
			pd.Reason = fmt.Sprintf("%s is not within a sending domain (%s)", name, strings.Join(sortedDomains(sendingDomains), ", "))
		}
		out = append(out, pd)
	}

	pg := c.result(CheckPTRGeneric, subject)
	pg.Record, pg.TTL = name, ptr.TTL
	if why := genericName(name, ip); why != "" {
		pg.Status, pg.Reason = Warn, fmt.Sprintf("%s looks generic (%s): receivers take such names for dynamic or unmanaged hosts", name, why)
	} else {
		pg.Status, pg.Reason = Pass, fmt.Sprintf("%s does not look generic", name)
	}
	return append(out, pg)
}

// fcrdns looks for a PTR name whose addresses include ip, and returns the
// result with that name (else the first). A lookup that failed while no
// name matched makes the result UNKNOWN, not FAIL: that name might have.
func (c *Checker) fcrdns(ctx context.Context, r Result, ip netip.Addr, names []string) (Result, string) {
	qtype := dns.TypeA
	if ip.Is6() {
		qtype = dns.TypeAAAA
	}
	var (
		why    []string
		failed = r
		lookup error
	)
	for _, n := range names {
		addrs, a, err := c.res.addrs(ctx, n, qtype)
		switch {
		case err != nil:
			lookup = err
			continue
		case slices.Contains(addrs, ip):
			r.Status, r.Reason, r.Record, r.TTL = Pass, fmt.Sprintf("%s resolves to %s", n, ip), joinAddrs(addrs), a.ttl
			return r, n
		}
		if len(why) == 0 {
			failed.Record, failed.TTL = joinAddrs(addrs), a.ttl
		}
		if a.empty() {
			why = append(why, fmt.Sprintf("%s has no %s record (%s)", n, dns.TypeToString[qtype], a.negative()))
		} else {
			why = append(why, fmt.Sprintf("%s resolves to %s, not %s", n, joinAddrs(addrs), ip))
		}
	}
	if lookup != nil {
		return unknown(r, lookup), names[0]
	}
	failed.Status, failed.Reason = Fail, strings.Join(why, "; ")
	return failed, names[0]
}

func joinAddrs(addrs []netip.Addr) string {
	s := make([]string, len(addrs))
	for i, a := range addrs {
		s[i] = a.String()
	}
	return strings.Join(s, " ")
}

// within reports the sending domain name is, or is under.
func within(name string, domains []string) (string, bool) {
	for _, d := range sortedDomains(domains) {
		if name == d || strings.HasSuffix(name, "."+d) {
			return d, true
		}
	}
	return "", false
}

func sortedDomains(domains []string) []string {
	out := make([]string, len(domains))
	for i, d := range domains {
		out[i] = normalDomain(d)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// genericWords are the labels of ISPs' names for pools of addresses.
var genericWords = []string{"dynamic", "dyn", "dynip", "pool", "dhcp", "dialup", "dial", "dsl", "adsl", "xdsl", "vdsl",
	"cable", "ppp", "pppoe", "broadband", "customer", "cust", "client", "clients", "residential", "unassigned", "cpe", "ip"}

// genericName says why name looks like a name given to an address rather
// than to a mail server: it spells out the address's digits (ip-1-2-3-4,
// 4-3-2-1.rev, c0000201) or has a word of pooled access (dynamic, pool,
// dsl, …). "" when it does not.
func genericName(name string, ip netip.Addr) string {
	labels := strings.FieldsFunc(strings.ToLower(name), func(r rune) bool { return r == '.' || r == '-' || r == '_' })
	if ip.Is4() {
		b := ip.As4()
		octets := make([]string, 4)
		for i, o := range b {
			octets[i] = strconv.Itoa(int(o))
		}
		rev := []string{octets[3], octets[2], octets[1], octets[0]}
		hex := fmt.Sprintf("%02x%02x%02x%02x", b[0], b[1], b[2], b[3])
		for i := 0; i+4 <= len(labels); i++ {
			if w := labels[i : i+4]; slices.Equal(w, octets) || slices.Equal(w, rev) {
				return "the address's digits"
			}
		}
		// One label holding the address: "ip192-0-2-1" splits above, but
		// "c0000201" and "192000002001" do not.
		padded := fmt.Sprintf("%03d%03d%03d%03d", b[0], b[1], b[2], b[3])
		for _, l := range labels {
			if strings.Contains(l, hex) || strings.Contains(l, padded) {
				return "the address's digits"
			}
		}
	}
	// Only the labels left of the registered domain: "pool.example" or
	// "mail.dsl-provider.example" are the operator's choice of domain.
	host := strings.ToLower(strings.TrimSuffix(name, "."))
	if reg, err := publicsuffix.EffectiveTLDPlusOne(host); err == nil {
		host = strings.TrimSuffix(strings.TrimSuffix(host, reg), ".")
	}
	labels = strings.FieldsFunc(host, func(r rune) bool { return r == '.' || r == '-' || r == '_' })
	for _, l := range labels {
		for _, w := range genericWords {
			if l == w || strings.HasPrefix(l, w) && allDigits(l[len(w):]) {
				return fmt.Sprintf("%q", w)
			}
		}
	}
	return ""
}

func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
