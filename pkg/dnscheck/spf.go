package dnscheck

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"blitiri.com.ar/go/spf"
)

// CheckDomain checks a sending domain: its SPF record for each of ips (or
// for none: then only that a record is published), its DMARC record, and
// the DKIM key of each of its selectors.
func (c *Checker) CheckDomain(ctx context.Context, d Domain, ips []netip.Addr) []Result {
	name := normalDomain(d.Name)
	out := c.CheckSPF(ctx, name, ips)
	out = append(out, c.CheckDMARC(ctx, name))
	for _, sel := range d.DKIMSelectors {
		out = append(out, c.CheckDKIM(ctx, name, sel))
	}
	return out
}

// CheckSPF evaluates domain's SPF record for each IP, as a receiver would
// for mail from postmaster@domain (RFC 7208 with blitiri.com.ar/go/spf:
// include, redirect, a, mx, ptr, exists, ip4, ip6, macros, and the limits
// of 10 lookups and 2 void lookups). pass is PASS; fail, softfail, neutral,
// none and permerror are FAIL; temperror (a lookup that failed) is
// UNKNOWN. Without ips, one result says whether a record is published.
func (c *Checker) CheckSPF(ctx context.Context, domain string, ips []netip.Addr) []Result {
	domain = normalDomain(domain)
	base := c.result(CheckSPF, domain)
	record, a, err := c.spfRecord(ctx, domain)
	base.Record, base.TTL = record, a.ttl
	if len(ips) == 0 {
		switch {
		case err != nil:
			return []Result{spfTrouble(base, err)}
		case record == "":
			base.Status, base.Reason = Fail, "no SPF record"
		default:
			base.Status, base.Reason = Pass, fmt.Sprintf("published %q (no sending IP given to evaluate)", record)
		}
		return []Result{base}
	}
	var out []Result
	for _, ip := range ips {
		r := base
		r.IP = ip.Unmap().String()
		switch {
		case err != nil:
			r = spfTrouble(r, err)
		case record == "":
			r.Status, r.Reason = Fail, "no SPF record"
		default:
			r.Status, r.Reason = c.evalSPF(ctx, ip, domain, record)
		}
		out = append(out, r)
	}
	return out
}

var errManySPF = errors.New("more than one SPF record: receivers take that as permerror")

// spfRecord is domain's SPF record ("" when it publishes none), read
// through the cache the evaluation then reads again.
func (c *Checker) spfRecord(ctx context.Context, domain string) (string, answer, error) {
	txts, a, err := c.res.txt(ctx, domain)
	if err != nil {
		return "", a, err
	}
	var found []string
	for _, t := range txts {
		if l := strings.ToLower(t); l == "v=spf1" || strings.HasPrefix(l, "v=spf1 ") {
			found = append(found, t)
		}
	}
	switch len(found) {
	case 0:
		return "", a, nil
	case 1:
		return found[0], a, nil
	}
	return strings.Join(found, " | "), a, errManySPF
}

func spfTrouble(r Result, err error) Result {
	if errors.Is(err, errManySPF) {
		r.Status, r.Reason = Fail, err.Error()
		return r
	}
	return unknown(r, err)
}

func (c *Checker) evalSPF(ctx context.Context, ip netip.Addr, domain, record string) (Status, string) {
	res, err := spf.CheckHostWithSender(ip.AsSlice(), domain, "postmaster@"+domain,
		spf.WithContext(ctx), spf.WithResolver(spfResolver{c.res}))
	switch res {
	case spf.Pass:
		return Pass, fmt.Sprintf("permitted by %q (pass)", record)
	case spf.Fail, spf.SoftFail, spf.Neutral:
		return Fail, fmt.Sprintf("not permitted by %q (%s)", record, res)
	case spf.None:
		return Fail, "no SPF record"
	case spf.PermError:
		return Fail, fmt.Sprintf("%q is broken (permerror: %v)", record, err)
	}
	return Unknown, fmt.Sprintf("evaluating %q failed (temperror: %v)", record, err)
}
