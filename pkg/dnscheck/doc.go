// Package dnscheck checks a sender's DNS the way Proofpoint (and most
// receivers) score it before anything else: reverse DNS, SPF, DMARC, DKIM
// keys and public blocklists; and whether a recipient domain's MX is
// Proofpoint's. It owns github.com/miekg/dns; nothing else in ppwatch
// speaks DNS.
//
// # The map
//
//	Options ──New──▶ Checker ─┬─ CheckPTR(ip, sendingDomains)  ptr, fcrdns, ptr_domain, ptr_generic
//	                          ├─ CheckDNSBL(ip)                dnsbl, one per Zone (rate-limited)
//	                          ├─ CheckDomain(Domain, ips)      spf per IP, dmarc, dkim per selector
//	                          │    = CheckSPF + CheckDMARC + CheckDKIM
//	                          ├─ CheckMX(recipientDomain)      mx (Result.Proofpoint, Result.TTL)
//	                          └─ Check(Subjects)               all of the above, at once, sorted
//	                                   │
//	                                   ▼
//	                          []Result ── Line() "FAIL spf 198.51.100.7 for example.com: …"
//	                                   ── JSON   {"check","subject","ip","zone","selector","status",
//	                                              "reason","record","proofpoint","checked","ttl_seconds"}
//
// Every check returns Results and never an error: a lookup that fails (a
// timeout, SERVFAIL, REFUSED) is a Result with Status Unknown and the
// failure as its Reason. A failing resolver never makes a FAIL. The same
// holds for a DNSBL's answers that are no verdict: Spamhaus' 127.255.255.x
// (a query through a public resolver, over its quota, a wrong zone name)
// and answers outside 127.0.0.0/8 are Unknown, never "listed".
//
// A Result's Check and Target together name it uniquely among the results
// of one Check call (Target adds the IP of an spf result, the zone of a
// dnsbl result, the selector of a dkim result to the subject): that pair
// is the key for a gauge (ppwatch_dns_check_ok{check,subject}) or a
// history. Check names, Status values and the JSON field names are a
// public contract.
//
// # Resolving
//
// The Checker asks the recursive resolvers of Options.Servers (by default
// those of /etc/resolv.conf), each in turn, Options.Attempts rounds,
// Options.Timeout per exchange; a truncated UDP answer is asked again over
// TCP; at most Options.Concurrency exchanges are in flight. Answers are
// cached for their TTL, negative ones (NXDOMAIN, NODATA) for the SOA's
// negative TTL (RFC 2308); failures are not cached. Results read from the
// cache carry the TTL left. DNSBL queries, and only those that reach the
// network, are paced to Options.DNSBLRate per second. A Checker is safe for
// concurrent use; keep one for the cache to work.
//
// SPF is evaluated by blitiri.com.ar/go/spf over this resolver (the
// 10-lookup and 2-void-lookup limits, include, redirect, macros), as
// for mail from postmaster@<domain>; DMARC records are parsed by
// go-msgauth's dmarc; DKIM key records by ParseDKIMKey (crypto/x509).
// Generic-looking PTR names are told by the address's digits (IPv4) and
// words of pooled access ("dynamic", "pool", "dsl", …) left of the
// registered domain.
package dnscheck
