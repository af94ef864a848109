package dnscheck

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Status is a check's outcome.
type Status string

// The outcomes. UNKNOWN is a check that could not be made (a resolver that
// failed or timed out, a DNSBL that refused to answer): never a FAIL.
const (
	Pass    Status = "pass"
	Warn    Status = "warn"
	Fail    Status = "fail"
	Unknown Status = "unknown"
)

// Check names a check; the names are a public contract (the JSON of
// ppwatch check, the check label of the daemon's metrics).
type Check string

// The checks, in the order a subject's lines are shown.
const (
	CheckPTR        Check = "ptr"         // the IP has a PTR record
	CheckFCrDNS     Check = "fcrdns"      // a PTR name resolves back to the IP
	CheckPTRDomain  Check = "ptr_domain"  // the PTR name is within a sending domain (WARN, not FAIL)
	CheckPTRGeneric Check = "ptr_generic" // the PTR name does not look like an ISP's generic name (WARN)
	CheckDNSBL      Check = "dnsbl"       // the IP is not listed on a DNSBL zone
	CheckSPF        Check = "spf"         // the domain's SPF authorises the IP
	CheckDMARC      Check = "dmarc"       // the domain publishes a DMARC record
	CheckDKIM       Check = "dkim"        // a selector's DKIM key is published, parseable and strong enough
	CheckMX         Check = "mx"          // whether a recipient domain's MX is Proofpoint's
)

var checkOrder = []Check{CheckPTR, CheckFCrDNS, CheckPTRDomain, CheckPTRGeneric, CheckDNSBL, CheckSPF, CheckDMARC, CheckDKIM, CheckMX}

// Result is one check of one subject. Its JSON is the public contract of
// ppwatch check --json: field names do not change.
type Result struct {
	Check Check `json:"check"`
	// Subject is what the check is about: the sending IP (ptr, fcrdns,
	// ptr_domain, ptr_generic, dnsbl), the sending domain (spf, dmarc,
	// dkim) or the recipient domain (mx).
	Subject string `json:"subject"`
	// IP is the sending IP an spf result evaluated (empty when none was
	// given: then only the record is looked at).
	IP string `json:"ip,omitempty"`
	// Zone is a dnsbl result's DNSBL zone.
	Zone string `json:"zone,omitempty"`
	// Selector is a dkim result's selector.
	Selector string `json:"selector,omitempty"`
	Status   Status `json:"status"`
	// Reason says why, in a phrase that includes the record where that
	// helps ("not permitted by \"v=spf1 … ~all\" (softfail)").
	Reason string `json:"reason"`
	// Record is the DNS data the verdict rests on, as published: the PTR
	// name, the addresses it resolves to, the SPF, DMARC or DKIM TXT
	// record, the DNSBL's answers, the MX hosts. Empty when there was
	// none.
	Record string `json:"record,omitempty"`
	// Proofpoint is an mx result's finding: an MX host is Proofpoint's.
	Proofpoint bool `json:"proofpoint,omitempty"`
	// Checked is when the check was made.
	Checked time.Time `json:"checked"`
	// TTL is how long, in seconds, the record (or its absence) may be
	// taken as still true: the least TTL of the records the verdict rests
	// on, what is left of it when it came from the cache. 0 when unknown.
	TTL uint32 `json:"ttl_seconds,omitempty"`
}

// Target names what the result is about, unique per check: the subject,
// with the IP of an spf result ("198.51.100.7 for example.com"), the zone
// of a dnsbl result ("192.0.2.7 on zen.spamhaus.org") and the selector of a
// dkim result ("s1._domainkey.example.com").
func (r Result) Target() string {
	switch {
	case r.Check == CheckSPF && r.IP != "":
		return r.IP + " for " + r.Subject
	case r.Check == CheckDNSBL:
		return r.Subject + " on " + r.Zone
	case r.Check == CheckDKIM:
		return r.Selector + "._domainkey." + r.Subject
	}
	return r.Subject
}

// Line is the result as ppwatch check prints it, one line:
// "FAIL spf 198.51.100.7 for example.com: not permitted by \"v=spf1 …\" (softfail)".
func (r Result) Line() string {
	return fmt.Sprintf("%s %s %s: %s", strings.ToUpper(string(r.Status)), r.Check, r.Target(), oneLine(r.Reason))
}

// oneLine keeps a reason on its line whatever a record held.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// Failed reports whether any result is a FAIL.
func Failed(results []Result) bool {
	return slices.ContainsFunc(results, func(r Result) bool { return r.Status == Fail })
}

// Sort puts results in the order ppwatch check shows them: the sending
// IPs, then the sending domains, then the recipient domains; each
// subject's checks in the order of the Check constants; then by IP, zone
// or selector.
func Sort(results []Result) {
	group := func(c Check) int {
		switch c {
		case CheckSPF, CheckDMARC, CheckDKIM:
			return 1
		case CheckMX:
			return 2
		}
		return 0
	}
	slices.SortStableFunc(results, func(a, b Result) int {
		return cmp.Or(
			cmp.Compare(group(a.Check), group(b.Check)),
			compareSubjects(a.Subject, b.Subject),
			cmp.Compare(slices.Index(checkOrder, a.Check), slices.Index(checkOrder, b.Check)),
			compareSubjects(a.IP, b.IP),
			cmp.Compare(a.Zone, b.Zone),
			cmp.Compare(a.Selector, b.Selector),
		)
	})
}

// compareSubjects orders IPs numerically (192.0.2.9 before 192.0.2.10),
// anything else by its text.
func compareSubjects(a, b string) int {
	ia, erra := netip.ParseAddr(a)
	ib, errb := netip.ParseAddr(b)
	if erra == nil && errb == nil {
		return ia.Compare(ib)
	}
	return cmp.Compare(a, b)
}
