package dnscheck

import (
	"context"
	"fmt"
	"strings"

	"github.com/emersion/go-msgauth/dmarc"
	"golang.org/x/net/publicsuffix"
)

// CheckDMARC reads domain's DMARC record at _dmarc.<domain>, or, when
// there is none, at its organizational domain's (RFC 7489 6.6.3, with the
// public suffix list), and parses it with go-msgauth's dmarc. p=reject and
// p=quarantine are PASS, p=none (monitoring only) is WARN; no record, more
// than one, or one that does not parse is FAIL.
func (c *Checker) CheckDMARC(ctx context.Context, domain string) Result {
	domain = normalDomain(domain)
	r := c.result(CheckDMARC, domain)
	at := "_dmarc." + domain
	records, a, err := c.dmarcRecords(ctx, at)
	if err != nil {
		return unknown(r, err)
	}
	if org, perr := publicsuffix.EffectiveTLDPlusOne(domain); len(records) == 0 && perr == nil && org != domain {
		orgAt := "_dmarc." + org
		records, a, err = c.dmarcRecords(ctx, orgAt)
		if err != nil {
			return unknown(r, err)
		}
		if len(records) > 0 {
			at = orgAt + " (the organizational domain's)"
		}
	}
	r.TTL = a.ttl
	switch len(records) {
	case 0:
		r.Status, r.Reason = Fail, fmt.Sprintf("no DMARC record at _dmarc.%s", domain)
		return r
	case 1:
	default:
		r.Record = strings.Join(records, " | ")
		r.Status, r.Reason = Fail, fmt.Sprintf("%d DMARC records at %s: receivers ignore them all", len(records), at)
		return r
	}
	r.Record = records[0]
	rec, err := dmarc.Parse(records[0])
	if err != nil {
		r.Status, r.Reason = Fail, fmt.Sprintf("malformed %q at %s: %s", records[0], at, strings.TrimPrefix(err.Error(), "dmarc: "))
		return r
	}
	desc := fmt.Sprintf("policy %s, DKIM alignment %s, SPF alignment %s", rec.Policy, alignment(rec.DKIMAlignment), alignment(rec.SPFAlignment))
	if rec.Percent != nil && *rec.Percent < 100 {
		desc += fmt.Sprintf(", applied to %d%%", *rec.Percent)
	}
	desc += fmt.Sprintf(" (%q at %s)", records[0], at)
	switch rec.Policy {
	case dmarc.PolicyReject, dmarc.PolicyQuarantine:
		r.Status, r.Reason = Pass, desc
	default:
		r.Status, r.Reason = Warn, desc+": p=none only monitors"
	}
	return r
}

// dmarcRecords are the TXT records at name that claim to be DMARC
// (RFC 7489 6.6.3: the others are ignored). A record that starts with
// v=DMARC1 but goes on wrong ("v=DMARC1 p=reject") counts, so that it is
// reported as malformed rather than missing.
func (c *Checker) dmarcRecords(ctx context.Context, name string) ([]string, answer, error) {
	txts, a, err := c.res.txt(ctx, name)
	if err != nil {
		return nil, a, err
	}
	var out []string
	for _, t := range txts {
		if strings.HasPrefix(strings.TrimSpace(t), "v=DMARC1") {
			out = append(out, t)
		}
	}
	return out, a, nil
}

func alignment(m dmarc.AlignmentMode) string {
	if m == dmarc.AlignmentStrict {
		return "strict"
	}
	return "relaxed"
}
