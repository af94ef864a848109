package dnscheck

import (
	"context"
	"net/netip"
	"testing"
)

func ptrCall(addr string, domains ...string) func(context.Context, *Checker) []Result {
	return func(ctx context.Context, c *Checker) []Result { return c.CheckPTR(ctx, ip(addr), domains) }
}

func TestCheckPTR(t *testing.T) {
	runCases(t, []checkCase{
		{name: "matching", call: ptrCall("192.0.2.1", "example.com"),
			want: []Result{
				res(CheckPTR, "192.0.2.1", Pass, "PTR mail.example.com", "mail.example.com", 3600),
				res(CheckFCrDNS, "192.0.2.1", Pass, "mail.example.com resolves to 192.0.2.1", "192.0.2.1", 300),
				res(CheckPTRDomain, "192.0.2.1", Pass, "mail.example.com is within example.com", "mail.example.com", 3600),
				res(CheckPTRGeneric, "192.0.2.1", Pass, "mail.example.com does not look generic", "mail.example.com", 3600),
			},
			lines: []string{
				"PASS ptr 192.0.2.1: PTR mail.example.com",
				"PASS fcrdns 192.0.2.1: mail.example.com resolves to 192.0.2.1",
				"PASS ptr_domain 192.0.2.1: mail.example.com is within example.com",
				"PASS ptr_generic 192.0.2.1: mail.example.com does not look generic",
			}},
		{name: "mismatching", call: ptrCall("192.0.2.2", "example.com"),
			want: []Result{
				res(CheckPTR, "192.0.2.2", Pass, "PTR mismatch.example.com", "mismatch.example.com", 3600),
				res(CheckFCrDNS, "192.0.2.2", Fail, "mismatch.example.com resolves to 192.0.2.99, not 192.0.2.2", "192.0.2.99", 300),
				res(CheckPTRDomain, "192.0.2.2", Pass, "mismatch.example.com is within example.com", "mismatch.example.com", 3600),
				res(CheckPTRGeneric, "192.0.2.2", Pass, "mismatch.example.com does not look generic", "mismatch.example.com", 3600),
			},
			lines: []string{
				"PASS ptr 192.0.2.2: PTR mismatch.example.com",
				"FAIL fcrdns 192.0.2.2: mismatch.example.com resolves to 192.0.2.99, not 192.0.2.2",
				"PASS ptr_domain 192.0.2.2: mismatch.example.com is within example.com",
				"PASS ptr_generic 192.0.2.2: mismatch.example.com does not look generic",
			}},
		{name: "missing PTR", call: ptrCall("192.0.2.3", "example.com"),
			want: []Result{
				res(CheckPTR, "192.0.2.3", Fail, "no PTR record (NXDOMAIN)", "", 60),
				res(CheckFCrDNS, "192.0.2.3", Fail, "no PTR name to resolve", "", 60),
			},
			lines: []string{
				"FAIL ptr 192.0.2.3: no PTR record (NXDOMAIN)",
				"FAIL fcrdns 192.0.2.3: no PTR name to resolve",
			}},
		{name: "generic name outside the sending domains", call: ptrCall("192.0.2.4", "example.com", "Example.ORG."),
			want: []Result{
				res(CheckPTR, "192.0.2.4", Pass, "PTR ip-192-0-2-4.dynamic.isp.example.net", "ip-192-0-2-4.dynamic.isp.example.net", 3600),
				res(CheckFCrDNS, "192.0.2.4", Pass, "ip-192-0-2-4.dynamic.isp.example.net resolves to 192.0.2.4", "192.0.2.4", 300),
				res(CheckPTRDomain, "192.0.2.4", Warn, "ip-192-0-2-4.dynamic.isp.example.net is not within a sending domain (example.com, example.org)", "ip-192-0-2-4.dynamic.isp.example.net", 3600),
				res(CheckPTRGeneric, "192.0.2.4", Warn, "ip-192-0-2-4.dynamic.isp.example.net looks generic (the address's digits): receivers take such names for dynamic or unmanaged hosts", "ip-192-0-2-4.dynamic.isp.example.net", 3600),
			},
			lines: []string{
				"PASS ptr 192.0.2.4: PTR ip-192-0-2-4.dynamic.isp.example.net",
				"PASS fcrdns 192.0.2.4: ip-192-0-2-4.dynamic.isp.example.net resolves to 192.0.2.4",
				"WARN ptr_domain 192.0.2.4: ip-192-0-2-4.dynamic.isp.example.net is not within a sending domain (example.com, example.org)",
				"WARN ptr_generic 192.0.2.4: ip-192-0-2-4.dynamic.isp.example.net looks generic (the address's digits): receivers take such names for dynamic or unmanaged hosts",
			}},
		{name: "PTR name without address, no sending domains", call: ptrCall("192.0.2.5"),
			want: []Result{
				res(CheckPTR, "192.0.2.5", Pass, "PTR gone.example.com", "gone.example.com", 3600),
				res(CheckFCrDNS, "192.0.2.5", Fail, "gone.example.com has no A record (NXDOMAIN)", "", 60),
				res(CheckPTRGeneric, "192.0.2.5", Pass, "gone.example.com does not look generic", "gone.example.com", 3600),
			},
			lines: []string{
				"PASS ptr 192.0.2.5: PTR gone.example.com",
				"FAIL fcrdns 192.0.2.5: gone.example.com has no A record (NXDOMAIN)",
				"PASS ptr_generic 192.0.2.5: gone.example.com does not look generic",
			}},
		{name: "two PTR names, the second resolving back", call: ptrCall("192.0.2.6", "example.com"),
			want: []Result{
				res(CheckPTR, "192.0.2.6", Warn, "2 PTR records (a.example.com, b.example.com): one is best", "a.example.com b.example.com", 3600),
				res(CheckFCrDNS, "192.0.2.6", Pass, "b.example.com resolves to 192.0.2.6", "192.0.2.6", 300),
				res(CheckPTRDomain, "192.0.2.6", Pass, "b.example.com is within example.com", "b.example.com", 3600),
				res(CheckPTRGeneric, "192.0.2.6", Pass, "b.example.com does not look generic", "b.example.com", 3600),
			},
			lines: []string{
				"WARN ptr 192.0.2.6: 2 PTR records (a.example.com, b.example.com): one is best",
				"PASS fcrdns 192.0.2.6: b.example.com resolves to 192.0.2.6",
				"PASS ptr_domain 192.0.2.6: b.example.com is within example.com",
				"PASS ptr_generic 192.0.2.6: b.example.com does not look generic",
			}},
		{name: "IPv6 by AAAA", call: ptrCall("2001:db8::25", "example.com"),
			want: []Result{
				res(CheckPTR, "2001:db8::25", Pass, "PTR mail6.example.com", "mail6.example.com", 3600),
				res(CheckFCrDNS, "2001:db8::25", Pass, "mail6.example.com resolves to 2001:db8::25", "2001:db8::25", 300),
				res(CheckPTRDomain, "2001:db8::25", Pass, "mail6.example.com is within example.com", "mail6.example.com", 3600),
				res(CheckPTRGeneric, "2001:db8::25", Pass, "mail6.example.com does not look generic", "mail6.example.com", 3600),
			},
			lines: []string{
				"PASS ptr 2001:db8::25: PTR mail6.example.com",
				"PASS fcrdns 2001:db8::25: mail6.example.com resolves to 2001:db8::25",
				"PASS ptr_domain 2001:db8::25: mail6.example.com is within example.com",
				"PASS ptr_generic 2001:db8::25: mail6.example.com does not look generic",
			}},
	})
}

func TestCheckDNSBL(t *testing.T) {
	bl := func(addr string) func(context.Context, *Checker) []Result {
		return func(ctx context.Context, c *Checker) []Result { return c.CheckDNSBL(ctx, ip(addr)) }
	}
	runCases(t, []checkCase{
		{name: "not listed", call: bl("192.0.2.1"),
			want: []Result{
				blRes("192.0.2.1", "zen.spamhaus.org", Pass, "not listed (NXDOMAIN)", "", 60),
				blRes("192.0.2.1", "bl.spamcop.net", Pass, "not listed (NXDOMAIN)", "", 60),
			},
			lines: []string{
				"PASS dnsbl 192.0.2.1 on zen.spamhaus.org: not listed (NXDOMAIN)",
				"PASS dnsbl 192.0.2.1 on bl.spamcop.net: not listed (NXDOMAIN)",
			}},
		{name: "listed, with the list's meaning", call: bl("192.0.2.4"),
			want: []Result{
				blRes("192.0.2.4", "zen.spamhaus.org", Fail, "listed (127.0.0.2: Spamhaus SBL: a spam source or spam operation)", "127.0.0.2", 900),
				blRes("192.0.2.4", "bl.spamcop.net", Pass, "not listed (NXDOMAIN)", "", 60),
			},
			lines: []string{
				"FAIL dnsbl 192.0.2.4 on zen.spamhaus.org: listed (127.0.0.2: Spamhaus SBL: a spam source or spam operation)",
				"PASS dnsbl 192.0.2.4 on bl.spamcop.net: not listed (NXDOMAIN)",
			}},
		{name: "Spamhaus' public-resolver answer is unknown, not listed", call: bl("192.0.2.5"),
			want: []Result{
				blRes("192.0.2.5", "zen.spamhaus.org", Unknown, "no verdict (127.255.255.254: query through a public or open resolver: Spamhaus answers no such queries; use your own resolver or Spamhaus DQS)", "127.255.255.254", 900),
				blRes("192.0.2.5", "bl.spamcop.net", Pass, "not listed (NXDOMAIN)", "", 60),
			},
			lines: []string{
				"UNKNOWN dnsbl 192.0.2.5 on zen.spamhaus.org: no verdict (127.255.255.254: query through a public or open resolver: Spamhaus answers no such queries; use your own resolver or Spamhaus DQS)",
				"PASS dnsbl 192.0.2.5 on bl.spamcop.net: not listed (NXDOMAIN)",
			}},
		{name: "IPv6: only the zones that list IPv6", call: bl("2001:db8::25"),
			want: []Result{
				blRes("2001:db8::25", "zen.spamhaus.org", Pass, "not listed (NXDOMAIN)", "", 60),
			},
			lines: []string{
				"PASS dnsbl 2001:db8::25 on zen.spamhaus.org: not listed (NXDOMAIN)",
			}},
	})
}

func spfCall(domain string, addrs ...string) func(context.Context, *Checker) []Result {
	return func(ctx context.Context, c *Checker) []Result {
		var ips []netip.Addr
		for _, a := range addrs {
			ips = append(ips, ip(a))
		}
		return c.CheckSPF(ctx, domain, ips)
	}
}

func TestCheckSPF(t *testing.T) {
	const top = "v=spf1 include:_spf.example.com ~all"
	runCases(t, []checkCase{
		{name: "include: pass and softfail", call: spfCall("example.com", "192.0.2.1", "198.51.100.7", "2001:db8::25"),
			want: []Result{
				spfRes("192.0.2.1", "example.com", Pass, `permitted by "`+top+`" (pass)`, top, 600),
				spfRes("198.51.100.7", "example.com", Fail, `not permitted by "`+top+`" (softfail)`, top, 600),
				spfRes("2001:db8::25", "example.com", Pass, `permitted by "`+top+`" (pass)`, top, 600),
			},
			lines: []string{
				`PASS spf 192.0.2.1 for example.com: permitted by "v=spf1 include:_spf.example.com ~all" (pass)`,
				`FAIL spf 198.51.100.7 for example.com: not permitted by "v=spf1 include:_spf.example.com ~all" (softfail)`,
				`PASS spf 2001:db8::25 for example.com: permitted by "v=spf1 include:_spf.example.com ~all" (pass)`,
			}},
		{name: "redirect", call: spfCall("redirect.example", "192.0.2.1", "198.51.100.7"),
			want: []Result{
				spfRes("192.0.2.1", "redirect.example", Pass, `permitted by "v=spf1 redirect=example.com" (pass)`, "v=spf1 redirect=example.com", 600),
				spfRes("198.51.100.7", "redirect.example", Fail, `not permitted by "v=spf1 redirect=example.com" (softfail)`, "v=spf1 redirect=example.com", 600),
			},
			lines: []string{
				`PASS spf 192.0.2.1 for redirect.example: permitted by "v=spf1 redirect=example.com" (pass)`,
				`FAIL spf 198.51.100.7 for redirect.example: not permitted by "v=spf1 redirect=example.com" (softfail)`,
			}},
		{name: "mx", call: spfCall("mx.example", "192.0.2.1", "192.0.2.2"),
			want: []Result{
				spfRes("192.0.2.1", "mx.example", Pass, `permitted by "v=spf1 mx -all" (pass)`, "v=spf1 mx -all", 600),
				spfRes("192.0.2.2", "mx.example", Fail, `not permitted by "v=spf1 mx -all" (fail)`, "v=spf1 mx -all", 600),
			},
			lines: []string{
				`PASS spf 192.0.2.1 for mx.example: permitted by "v=spf1 mx -all" (pass)`,
				`FAIL spf 192.0.2.2 for mx.example: not permitted by "v=spf1 mx -all" (fail)`,
			}},
		{name: "exists with the %{i} and %{d} macros", call: spfCall("macro.example", "192.0.2.1", "192.0.2.2"),
			want: []Result{
				spfRes("192.0.2.1", "macro.example", Pass, `permitted by "v=spf1 exists:%{i}._ip.%{d} -all" (pass)`, "v=spf1 exists:%{i}._ip.%{d} -all", 600),
				spfRes("192.0.2.2", "macro.example", Fail, `not permitted by "v=spf1 exists:%{i}._ip.%{d} -all" (fail)`, "v=spf1 exists:%{i}._ip.%{d} -all", 600),
			},
			lines: []string{
				`PASS spf 192.0.2.1 for macro.example: permitted by "v=spf1 exists:%{i}._ip.%{d} -all" (pass)`,
				`FAIL spf 192.0.2.2 for macro.example: not permitted by "v=spf1 exists:%{i}._ip.%{d} -all" (fail)`,
			}},
		{name: "include loop", call: spfCall("loop.example", "192.0.2.1"),
			want: []Result{
				spfRes("192.0.2.1", "loop.example", Fail, `"v=spf1 include:loop.example -all" is broken (permerror: lookup limit reached)`, "v=spf1 include:loop.example -all", 600),
			},
			lines: []string{
				`FAIL spf 192.0.2.1 for loop.example: "v=spf1 include:loop.example -all" is broken (permerror: lookup limit reached)`,
			}},
		{name: "11 lookups", call: spfCall("chain.example", "192.0.2.1"),
			want: []Result{
				spfRes("192.0.2.1", "chain.example", Fail, `"v=spf1 include:c1.chain.example -all" is broken (permerror: lookup limit reached)`, "v=spf1 include:c1.chain.example -all", 600),
			},
			lines: []string{
				`FAIL spf 192.0.2.1 for chain.example: "v=spf1 include:c1.chain.example -all" is broken (permerror: lookup limit reached)`,
			}},
		{name: "10 lookups", call: spfCall("ten.chain.example", "192.0.2.1"),
			want: []Result{
				spfRes("192.0.2.1", "ten.chain.example", Pass, `permitted by "v=spf1 include:c2.chain.example -all" (pass)`, "v=spf1 include:c2.chain.example -all", 600),
			},
			lines: []string{
				`PASS spf 192.0.2.1 for ten.chain.example: permitted by "v=spf1 include:c2.chain.example -all" (pass)`,
			}},
		{name: "TXT records but no SPF", call: spfCall("nospf.example", "192.0.2.1"),
			want:  []Result{spfRes("192.0.2.1", "nospf.example", Fail, "no SPF record", "", 600)},
			lines: []string{"FAIL spf 192.0.2.1 for nospf.example: no SPF record"}},
		{name: "no such domain", call: spfCall("nx.example", "192.0.2.1"),
			want:  []Result{spfRes("192.0.2.1", "nx.example", Fail, "no SPF record", "", 60)},
			lines: []string{"FAIL spf 192.0.2.1 for nx.example: no SPF record"}},
		{name: "two SPF records", call: spfCall("two.example", "192.0.2.1"),
			want: []Result{spfRes("192.0.2.1", "two.example", Fail, "more than one SPF record: receivers take that as permerror",
				"v=spf1 -all | v=spf1 ip4:192.0.2.1 -all", 600)},
			lines: []string{"FAIL spf 192.0.2.1 for two.example: more than one SPF record: receivers take that as permerror"}},
		{name: "no IP: the record only", call: spfCall("Example.com."),
			want:  []Result{res(CheckSPF, "example.com", Pass, `published "`+top+`" (no sending IP given to evaluate)`, top, 600)},
			lines: []string{`PASS spf example.com: published "v=spf1 include:_spf.example.com ~all" (no sending IP given to evaluate)`}},
	})
}

func TestCheckDMARC(t *testing.T) {
	dmarc := func(domain string) func(context.Context, *Checker) []Result {
		return func(ctx context.Context, c *Checker) []Result { return []Result{c.CheckDMARC(ctx, domain)} }
	}
	const reject = "v=DMARC1; p=reject; adkim=s; rua=mailto:dmarc@example.com"
	runCases(t, []checkCase{
		{name: "reject", call: dmarc("example.com"),
			want:  []Result{res(CheckDMARC, "example.com", Pass, `policy reject, DKIM alignment strict, SPF alignment relaxed ("`+reject+`" at _dmarc.example.com)`, reject, 600)},
			lines: []string{`PASS dmarc example.com: policy reject, DKIM alignment strict, SPF alignment relaxed ("v=DMARC1; p=reject; adkim=s; rua=mailto:dmarc@example.com" at _dmarc.example.com)`}},
		{name: "quarantine, partly", call: dmarc("quarantine.example"),
			want:  []Result{res(CheckDMARC, "quarantine.example", Pass, `policy quarantine, DKIM alignment relaxed, SPF alignment relaxed, applied to 50% ("v=DMARC1; p=quarantine; pct=50" at _dmarc.quarantine.example)`, "v=DMARC1; p=quarantine; pct=50", 600)},
			lines: []string{`PASS dmarc quarantine.example: policy quarantine, DKIM alignment relaxed, SPF alignment relaxed, applied to 50% ("v=DMARC1; p=quarantine; pct=50" at _dmarc.quarantine.example)`}},
		{name: "none", call: dmarc("none.example"),
			want:  []Result{res(CheckDMARC, "none.example", Warn, `policy none, DKIM alignment relaxed, SPF alignment relaxed ("v=DMARC1; p=none" at _dmarc.none.example): p=none only monitors`, "v=DMARC1; p=none", 600)},
			lines: []string{`WARN dmarc none.example: policy none, DKIM alignment relaxed, SPF alignment relaxed ("v=DMARC1; p=none" at _dmarc.none.example): p=none only monitors`}},
		{name: "missing", call: dmarc("nospf.example"),
			want:  []Result{res(CheckDMARC, "nospf.example", Fail, "no DMARC record at _dmarc.nospf.example", "", 60)},
			lines: []string{"FAIL dmarc nospf.example: no DMARC record at _dmarc.nospf.example"}},
		{name: "malformed", call: dmarc("bad.example"),
			want:  []Result{res(CheckDMARC, "bad.example", Fail, `malformed "v=DMARC1; p=bogus" at _dmarc.bad.example: invalid policy for parameter 'p'`, "v=DMARC1; p=bogus", 600)},
			lines: []string{`FAIL dmarc bad.example: malformed "v=DMARC1; p=bogus" at _dmarc.bad.example: invalid policy for parameter 'p'`}},
		{name: "no semicolon", call: dmarc("nosemi.example"),
			want:  []Result{res(CheckDMARC, "nosemi.example", Fail, `malformed "v=DMARC1 p=reject" at _dmarc.nosemi.example: unsupported DMARC version`, "v=DMARC1 p=reject", 600)},
			lines: []string{`FAIL dmarc nosemi.example: malformed "v=DMARC1 p=reject" at _dmarc.nosemi.example: unsupported DMARC version`}},
		{name: "two records", call: dmarc("two.example"),
			want:  []Result{res(CheckDMARC, "two.example", Fail, "2 DMARC records at _dmarc.two.example: receivers ignore them all", "v=DMARC1; p=none | v=DMARC1; p=reject", 600)},
			lines: []string{"FAIL dmarc two.example: 2 DMARC records at _dmarc.two.example: receivers ignore them all"}},
		{name: "the organizational domain's", call: dmarc("sub.example.com"),
			want:  []Result{res(CheckDMARC, "sub.example.com", Pass, `policy reject, DKIM alignment strict, SPF alignment relaxed ("`+reject+`" at _dmarc.example.com (the organizational domain's))`, reject, 600)},
			lines: []string{`PASS dmarc sub.example.com: policy reject, DKIM alignment strict, SPF alignment relaxed ("v=DMARC1; p=reject; adkim=s; rua=mailto:dmarc@example.com" at _dmarc.example.com (the organizational domain's))`}},
	})
}

func TestCheckDKIM(t *testing.T) {
	dkim := func(sel string) func(context.Context, *Checker) []Result {
		return func(ctx context.Context, c *Checker) []Result { return []Result{c.CheckDKIM(ctx, "example.com", sel)} }
	}
	const (
		good = "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAoMCtLoeYGKcK9T+gUoai8WWUk6HqUGr1Tif3Ccp2GOyL8Vuur7Cmo2YC8CY/66ex7QPhCsP5bRmX+nFTEBwBsHsFJXBnvl5QFInuPu8AsE+bOU8QpfBPbePaC1oHA3uRX9APVVqR8DdfcrO/EUX5fOC7t+GvlhXtOI5cL31cpVUWXRBVBJZUD00NG2MrKt/cIQW8lyqbZpm0LN0aZY5q37pXLF2v8PGXnRKYlkyAJyEVevZYnQTeoBeNslzPOVL0OvxF5n8ojs0YYNj8WmRK3oeYJc91gPXignMdbsStoVL1PuqqriqXyEaoYZIaruPwBtQ2ucivGc2owYlGJ3UIGQIDAQAB"
		weak = "v=DKIM1; k=rsa; p=MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBALNsE1LJ5u5EuQaexnvuqoU/1akgTc7+2fhTctZU06mpwLl8WgwUAx5ml80A368Wsg4obwH08S00Qmw7lPvzJNUCAwEAAQ=="
		ed   = "v=DKIM1; k=ed25519; p=NEHI/DjdsE0rM83+F0ZVQZCB9E2z8T5O4p9JfYtFZ5c="
	)
	runCases(t, []checkCase{
		{name: "rsa 2048", call: dkim("good"),
			want:  []Result{dkimRes("example.com", "good", Pass, "rsa key of 2048 bits", good, 600)},
			lines: []string{"PASS dkim good._domainkey.example.com: rsa key of 2048 bits"}},
		{name: "ed25519", call: dkim("ed"),
			want:  []Result{dkimRes("example.com", "ed", Pass, "ed25519 key of 256 bits", ed, 600)},
			lines: []string{"PASS dkim ed._domainkey.example.com: ed25519 key of 256 bits"}},
		{name: "rsa 512", call: dkim("weak"),
			want:  []Result{dkimRes("example.com", "weak", Fail, "rsa key of 512 bits: under 1024 bits, receivers ignore its signatures", weak, 600)},
			lines: []string{"FAIL dkim weak._domainkey.example.com: rsa key of 512 bits: under 1024 bits, receivers ignore its signatures"}},
		{name: "malformed", call: dkim("bad"),
			want:  []Result{dkimRes("example.com", "bad", Fail, "malformed key: p= is not base64", "v=DKIM1; k=rsa; p=not-base64!", 600)},
			lines: []string{"FAIL dkim bad._domainkey.example.com: malformed key: p= is not base64"}},
		{name: "revoked", call: dkim("revoked"),
			want:  []Result{dkimRes("example.com", "revoked", Fail, "key revoked (empty p=)", "v=DKIM1; p=", 600)},
			lines: []string{"FAIL dkim revoked._domainkey.example.com: key revoked (empty p=)"}},
		{name: "missing", call: dkim("missing"),
			want:  []Result{dkimRes("example.com", "missing", Fail, "no key record (NXDOMAIN)", "", 60)},
			lines: []string{"FAIL dkim missing._domainkey.example.com: no key record (NXDOMAIN)"}},
	})
}

func TestCheckMX(t *testing.T) {
	mx := func(domain string) func(context.Context, *Checker) []Result {
		return func(ctx context.Context, c *Checker) []Result { return []Result{c.CheckMX(ctx, domain)} }
	}
	pp := res(CheckMX, "pp.example", Pass, "Proofpoint: MX mx0a-001b2d01.pphosted.com, mx0b-001b2d01.pphosted.com",
		"10 mx0a-001b2d01.pphosted.com, 20 mx0b-001b2d01.pphosted.com", 1800)
	pp.Proofpoint = true
	runCases(t, []checkCase{
		{name: "pphosted", call: mx("PP.example."),
			want:  []Result{pp},
			lines: []string{"PASS mx pp.example: Proofpoint: MX mx0a-001b2d01.pphosted.com, mx0b-001b2d01.pphosted.com"}},
		{name: "plain host", call: mx("plain.example"),
			want:  []Result{res(CheckMX, "plain.example", Pass, "not Proofpoint: MX mail.plain.example", "10 mail.plain.example", 1800)},
			lines: []string{"PASS mx plain.example: not Proofpoint: MX mail.plain.example"}},
		{name: "no MX", call: mx("nomx.example"),
			want:  []Result{res(CheckMX, "nomx.example", Pass, "no MX record (mail goes to the domain's own address): not Proofpoint", "", 60)},
			lines: []string{"PASS mx nomx.example: no MX record (mail goes to the domain's own address): not Proofpoint"}},
		{name: "no such domain", call: mx("nx.example"),
			want:  []Result{res(CheckMX, "nx.example", Fail, "no such domain (NXDOMAIN)", "", 60)},
			lines: []string{"FAIL mx nx.example: no such domain (NXDOMAIN)"}},
	})
}
