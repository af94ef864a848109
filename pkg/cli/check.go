package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/ppwatch/ppwatch/pkg/config"
	"github.com/ppwatch/ppwatch/pkg/dnscheck"
)

// repeated is a flag given any number of times.
type repeated []string

func (r *repeated) String() string     { return strings.Join(*r, ",") }
func (r *repeated) Set(s string) error { *r = append(*r, s); return nil }

// runCheck is ppwatch check: the sender's DNS, one line per check, exit 1
// when a check fails.
func runCheck(args []string, env Env) error {
	fs := newFlagSet("check", env)
	var ips, domains, recipients, servers repeated
	fs.Var(&ips, "ip", "a sending `IP` to check: PTR, FCrDNS, DNSBLs, and the SPF of each --domain for it (repeatable)")
	fs.Var(&domains, "domain", "a sending `domain` to check: SPF, DMARC, and DKIM for the selectors the config gives it (repeatable)")
	fs.Var(&recipients, "recipient-domain", "a recipient `domain`: are its MX hosts Proofpoint's? (repeatable)")
	fs.Var(&servers, "dns.server", "a resolver to ask, `IP:port` (repeatable; default: the config's dns.servers, else /etc/resolv.conf)")
	timeout := fs.String("dns.timeout", "", "per-query `duration` (default: the config's dns.timeout, 2s)")
	asJSON := fs.Bool("json", false, "write the results as a JSON array (fields in README)")
	configFile := fs.String("config", "", "YAML configuration `file`: dns, hygiene, source_ips, proofpoint.hosts")
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("check: unexpected argument %q (name what to check with --ip, --domain or --recipient-domain)", rest[0])
	}
	cfg := config.Default()
	if *configFile != "" {
		if cfg, err = config.Load(*configFile); err != nil {
			return usagef("%v", err)
		}
	}
	subjects, err := checkSubjects(cfg, ips, domains, recipients)
	if err != nil {
		return err
	}
	checker, err := newChecker(cfg, servers, *timeout)
	if err != nil {
		return err
	}

	results := checker.Check(context.Background(), subjects)
	if *asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(results); err != nil {
			return err
		}
	} else {
		for _, r := range results {
			fmt.Fprintln(env.Stdout, r.Line())
		}
	}
	if dnscheck.Failed(results) {
		n := 0
		for _, r := range results {
			if r.Status == dnscheck.Fail {
				n++
			}
		}
		return fmt.Errorf("check: %d of %d checks failed", n, len(results))
	}
	return nil
}

// checkSubjects are the flags' subjects, or without any, the config's. A
// domain named by --domain gets the DKIM selectors the config gives it.
// newChecker is the Checker of the config's dns keys, with the
// --dns.server and --dns.timeout flags over them.
func newChecker(cfg *config.Config, servers []string, timeout string) (*dnscheck.Checker, error) {
	cls, err := cfg.NewClassifier()
	if err != nil {
		return nil, usagef("%v", err)
	}
	opts := cfg.DNSCheckOptions(cls)
	for _, s := range servers {
		if err := dnscheck.CheckServer(s); err != nil {
			return nil, usagef("--dns.server: %v", err)
		}
	}
	if len(servers) > 0 {
		opts.Servers = servers
	}
	if timeout != "" {
		d, err := config.ParseDuration(timeout)
		if err != nil || d == 0 {
			return nil, usagef("--dns.timeout: %q is not a positive duration (e.g. 500ms, 2s)", timeout)
		}
		opts.Timeout = d
	}
	checker, err := dnscheck.New(opts)
	if err != nil {
		return nil, usagef("check: %v (give --dns.server IP:port)", err)
	}
	return checker, nil
}

func checkSubjects(cfg *config.Config, ips, domains, recipients []string) (dnscheck.Subjects, error) {
	if len(ips)+len(domains)+len(recipients) == 0 {
		s := cfg.HygieneSubjects()
		if len(s.IPs)+len(s.Domains) == 0 {
			return s, usagef("check: nothing to check: give --ip, --domain or --recipient-domain, or a --config with hygiene.ips, source_ips or hygiene.domains")
		}
		return s, nil
	}
	var s dnscheck.Subjects
	for _, v := range ips {
		a, err := netip.ParseAddr(v)
		if err != nil {
			return s, usagef("--ip: %q is not an IP address", v)
		}
		if !slices.Contains(s.IPs, a.Unmap()) {
			s.IPs = append(s.IPs, a.Unmap())
		}
	}
	for _, d := range domains {
		if err := checkDomainFlag("--domain", d); err != nil {
			return s, err
		}
		dom := dnscheck.Domain{Name: d}
		for _, hd := range cfg.Hygiene.Domains {
			if strings.EqualFold(hd.Name, d) {
				dom.DKIMSelectors = hd.DKIMSelectors
			}
		}
		s.Domains = append(s.Domains, dom)
	}
	for _, d := range recipients {
		if err := checkDomainFlag("--recipient-domain", d); err != nil {
			return s, err
		}
		s.RecipientDomains = append(s.RecipientDomains, d)
	}
	return s, nil
}

func checkDomainFlag(flag, d string) error {
	if d == "" || strings.ContainsAny(d, " \t/@[]:*") {
		return usagef("%s: %q is not a domain", flag, d)
	}
	return nil
}
