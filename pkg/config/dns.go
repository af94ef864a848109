package config

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/ppwatch/ppwatch/pkg/classify"
	"github.com/ppwatch/ppwatch/pkg/dnscheck"
)

// DNS is how ppwatch asks DNS: the resolvers of ppwatch check and of the
// daemon's sender checks.
type DNS struct {
	// Servers are recursive resolvers, "IP:port"; none: /etc/resolv.conf's.
	Servers []string `yaml:"servers"`
	// Timeout bounds one query to one server.
	Timeout Duration `yaml:"timeout"`
}

// Hygiene names what the sender checks (ppwatch check without arguments,
// the daemon's periodic checks) look at: the sending IPs (these and those
// of source_ips), the sending domains, the DNSBLs, and how often.
type Hygiene struct {
	IPs     []string        `yaml:"ips"`
	Domains []SendingDomain `yaml:"domains"`
	// DNSBL zones; without the key, dnscheck's default set; [] for none.
	DNSBL         []string `yaml:"dnsbl"`
	Interval      Duration `yaml:"interval"`       // reverse DNS, SPF, DMARC, DKIM
	DNSBLInterval Duration `yaml:"dnsbl_interval"` // the DNSBLs: their free use is limited
	// TopIPs is how many of the source IPs seen in the logs the daemon
	// checks beside the configured ones: those with the most attempts.
	TopIPs int `yaml:"top_ips"`
	// TopDomains is how many of the envelope-sender domains of the
	// Proofpoint failures seen in the logs the daemon checks (SPF for the
	// checked IPs, and DMARC) beside the configured ones.
	TopDomains int `yaml:"top_domains"`
}

// SendingDomain is a domain mail is sent as and its DKIM selectors.
type SendingDomain struct {
	Name          string   `yaml:"name"`
	DKIMSelectors []string `yaml:"dkim_selectors"`
}

// Defaults of the sender checks.
const (
	DefaultHygieneInterval = 15 * time.Minute
	DefaultDNSBLInterval   = time.Hour
	DefaultHygieneTopIPs   = 10
	// MaxHygieneTopIPs bounds the series of the checks' metrics: each IP
	// has a few per check and DNSBL zone, and a sending domain's SPF one
	// per IP.
	MaxHygieneTopIPs = 100
	// The same for sending domains: each has an SPF series per IP.
	DefaultHygieneTopDomains = 5
	MaxHygieneTopDomains     = 20
)

func defaultDNS() DNS { return DNS{Timeout: Duration(dnscheck.DefaultTimeout)} }

func defaultHygiene() Hygiene {
	return Hygiene{DNSBL: dnscheck.DefaultZoneNames(), Interval: Duration(DefaultHygieneInterval), DNSBLInterval: Duration(DefaultDNSBLInterval),
		TopIPs: DefaultHygieneTopIPs, TopDomains: DefaultHygieneTopDomains}
}

func (c *Config) validateDNS(bad func(field, format string, args ...any)) {
	for i, s := range c.DNS.Servers {
		if err := dnscheck.CheckServer(s); err != nil {
			bad(fmt.Sprintf("dns.servers[%d]", i), "%v", err)
		}
	}
	if t := c.DNS.Timeout; t < Duration(10*time.Millisecond) || t > Duration(time.Minute) {
		bad("dns.timeout", "%s is outside 10ms..1m", t)
	}
	for i, s := range c.Hygiene.IPs {
		if _, err := netip.ParseAddr(s); err != nil {
			bad(fmt.Sprintf("hygiene.ips[%d]", i), "%q is not an IP address", s)
		}
	}
	seen := map[string]bool{}
	for i, d := range c.Hygiene.Domains {
		f := fmt.Sprintf("hygiene.domains[%d]", i)
		switch {
		case d.Name == "":
			bad(f+".name", "no name (the domain mail is sent as, e.g. \"example.com\")")
		case !hostName.MatchString(d.Name):
			bad(f+".name", "%q is not a domain", d.Name)
		case seen[d.Name]:
			bad(f+".name", "%q is listed twice", d.Name)
		}
		seen[d.Name] = true
		for j, s := range d.DKIMSelectors {
			if !hostName.MatchString(s) {
				bad(fmt.Sprintf("%s.dkim_selectors[%d]", f, j), "%q is not a DKIM selector (letters, digits, '-', '.')", s)
			}
		}
	}
	for i, z := range c.Hygiene.DNSBL {
		f := fmt.Sprintf("hygiene.dnsbl[%d]", i)
		switch {
		case !hostName.MatchString(z):
			bad(f, "%q is not a DNSBL zone name", z)
		case slices.Contains(c.Hygiene.DNSBL[:i], z):
			bad(f, "%q is listed twice", z)
		}
	}
	if d := c.Hygiene.Interval; d < Duration(time.Minute) || d > Duration(24*time.Hour) {
		bad("hygiene.interval", "%s is outside 1m..24h", d)
	}
	// DNSBLs limit free use: more often than every 10 minutes spends the
	// quota and tells nothing new.
	if d := c.Hygiene.DNSBLInterval; d < Duration(10*time.Minute) || d > Duration(7*24*time.Hour) {
		bad("hygiene.dnsbl_interval", "%s is outside 10m..7d", d)
	}
	if n := c.Hygiene.TopDomains; n < 0 || n > MaxHygieneTopDomains {
		bad("hygiene.top_domains", "%d is outside 0..%d", n, MaxHygieneTopDomains)
	}
	if n := c.Hygiene.TopIPs; n < 0 || n > MaxHygieneTopIPs {
		bad("hygiene.top_ips", "%d is outside 0..%d", n, MaxHygieneTopIPs)
	}
}

// DNSCheckOptions are the options of the sender checks' dnscheck.Checker;
// cls tells Proofpoint's MX hosts (the configured proofpoint.hosts too).
func (c *Config) DNSCheckOptions(cls *classify.Classifier) dnscheck.Options {
	return dnscheck.Options{
		Servers:    c.DNS.Servers,
		Timeout:    time.Duration(c.DNS.Timeout),
		DNSBL:      dnscheck.ZonesNamed(c.Hygiene.DNSBL),
		Classifier: cls,
	}
}

// HygieneSubjects are what the config names for the sender checks: the
// IPs of hygiene.ips and source_ips (each once, in that order) and
// hygiene.domains.
func (c *Config) HygieneSubjects() dnscheck.Subjects {
	var s dnscheck.Subjects
	add := func(ip string) {
		a, err := netip.ParseAddr(ip)
		if err == nil && !slices.Contains(s.IPs, a.Unmap()) {
			s.IPs = append(s.IPs, a.Unmap())
		}
	}
	for _, ip := range c.Hygiene.IPs {
		add(ip)
	}
	for _, si := range c.SourceIPs {
		add(si.IP)
	}
	for _, d := range c.Hygiene.Domains {
		s.Domains = append(s.Domains, dnscheck.Domain{Name: d.Name, DKIMSelectors: d.DKIMSelectors})
	}
	return s
}
