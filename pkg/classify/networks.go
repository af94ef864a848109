package classify

import "net/netip"

// DefaultNetworks are the address ranges of Proofpoint's hosted service: a
// relay address in one of them is a Proofpoint receiver whatever its name
// (a customer's own MX name in front of Proofpoint on Demand, a relay
// logged by address only). proofpoint.networks in the config adds to them.
//
// Sources, as of 2026-12:
//   - 62.209.50.0/24, 91.209.104.0/24, 208.36.134.0/24, 208.84.64.0/22,
//     208.86.200.0/22, 209.66.100.64/26, 67.231.144.0/20: the networks of
//     Proofpoint's servers as its support information page lists them
//     (proofpoint.my.site.com/support/PPSup_SupportInfo);
//     67.231.144.0/20 also holds pphosted.com and ppe-hosted.com MX hosts.
//   - 148.163.128.0/19, 205.220.160.0/19 (ARIN) and 185.132.180.0/22
//     (RIPE): allocations to Proofpoint, Inc. holding the
//     mx0a/mx0b-<id>.pphosted.com hosts of Proofpoint on Demand, in the US
//     and the EU.
var DefaultNetworks = []netip.Prefix{
	netip.MustParsePrefix("62.209.50.0/24"),
	netip.MustParsePrefix("67.231.144.0/20"),
	netip.MustParsePrefix("91.209.104.0/24"),
	netip.MustParsePrefix("148.163.128.0/19"),
	netip.MustParsePrefix("185.132.180.0/22"),
	netip.MustParsePrefix("205.220.160.0/19"),
	netip.MustParsePrefix("208.36.134.0/24"),
	netip.MustParsePrefix("208.84.64.0/22"),
	netip.MustParsePrefix("208.86.200.0/22"),
	netip.MustParsePrefix("209.66.100.64/26"),
}

// inNetworks reports whether the relay address ip is in a Proofpoint
// network. The last address asked is remembered: consecutive attempts go
// to the same few receivers, and parsing is the cost.
func (c *Classifier) inNetworks(ip string) bool {
	if ip == "" {
		return false
	}
	if c.lastIPN > 0 && ip == string(c.lastIP[:c.lastIPN]) {
		return c.lastIPPP
	}
	pp := false
	if a, err := netip.ParseAddr(ip); err == nil {
		a = a.Unmap()
		for _, p := range c.networks {
			if p.Contains(a) {
				pp = true
				break
			}
		}
	}
	if len(ip) <= len(c.lastIP) {
		c.lastIPN = copy(c.lastIP[:], ip)
		c.lastIPPP = pp
	}
	return pp
}
