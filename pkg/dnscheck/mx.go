package dnscheck

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/miekg/dns"
)

// CheckMX reads a recipient domain's MX records and says whether they are
// Proofpoint's (the classifier's host patterns: *.pphosted.com,
// *.ppe-hosted.com, and the configured proofpoint.hosts). The result is
// PASS whenever the records could be read, Proofpoint or not: the finding
// is its Proofpoint field, and its TTL says how long it holds.
func (c *Checker) CheckMX(ctx context.Context, domain string) Result {
	domain = normalDomain(domain)
	r := c.result(CheckMX, domain)
	a, err := c.res.lookup(ctx, domain, dns.TypeMX, false)
	if err != nil {
		return unknown(r, err)
	}
	r.TTL, r.Status = a.ttl, Pass
	if a.empty() {
		if a.nxdomain {
			r.Status, r.Reason = Fail, "no such domain (NXDOMAIN)"
			return r
		}
		r.Reason = "no MX record (mail goes to the domain's own address): not Proofpoint"
		return r
	}
	mxs := make([]*dns.MX, len(a.rrs))
	for i, rr := range a.rrs {
		mxs[i] = rr.(*dns.MX)
	}
	slices.SortStableFunc(mxs, func(x, y *dns.MX) int {
		return cmp.Or(cmp.Compare(x.Preference, y.Preference), cmp.Compare(normalDomain(x.Mx), normalDomain(y.Mx)))
	})
	var hosts, pp []string
	for _, mx := range mxs {
		h := normalDomain(mx.Mx)
		hosts = append(hosts, fmt.Sprintf("%d %s", mx.Preference, h))
		if h != "" && c.cls.IsProofpointHost(h) {
			pp = append(pp, h)
		}
	}
	r.Record = strings.Join(hosts, ", ")
	switch {
	case len(mxs) == 1 && normalDomain(mxs[0].Mx) == "":
		r.Reason = "null MX (RFC 7505): the domain accepts no mail"
	case len(pp) > 0:
		r.Proofpoint = true
		r.Reason = "Proofpoint: MX " + strings.Join(pp, ", ")
	default:
		r.Reason = "not Proofpoint: MX " + strings.Join(hostsOnly(mxs), ", ")
	}
	return r
}

func hostsOnly(mxs []*dns.MX) []string {
	out := make([]string, len(mxs))
	for i, mx := range mxs {
		out[i] = normalDomain(mx.Mx)
	}
	return out
}
