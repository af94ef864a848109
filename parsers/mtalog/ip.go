package mtalog

import "net/netip"

// ParseIP parses an IP address as netip.ParseAddr does, without its cost
// for the dotted quads that nearly every log line holds: each attempt's
// relay and source addresses are checked, so this is on the hot path.
func ParseIP(s string) (netip.Addr, bool) {
	if a, ok := parseIPv4(s); ok {
		return a, true
	}
	a, err := netip.ParseAddr(s) // IPv6, or not an address
	return a, err == nil
}

// parseIPv4 reads a dotted quad; ok is false for anything else, which
// netip then judges (so "01.2.3.4", refused here for its leading zero, is
// refused there too).
func parseIPv4(s string) (netip.Addr, bool) {
	var q [4]byte
	i := 0
	for part := 0; part < 4; part++ {
		if part > 0 {
			if i >= len(s) || s[i] != '.' {
				return netip.Addr{}, false
			}
			i++
		}
		// One to three digits, unrolled: every attempt's addresses pass here.
		if i >= len(s) || s[i]-'0' > 9 {
			return netip.Addr{}, false
		}
		v := uint(s[i] - '0')
		i++
		if v != 0 && i < len(s) && s[i]-'0' <= 9 {
			v = v*10 + uint(s[i]-'0')
			i++
			if i < len(s) && s[i]-'0' <= 9 {
				v = v*10 + uint(s[i]-'0')
				i++
				if v > 255 {
					return netip.Addr{}, false
				}
			}
		}
		q[part] = byte(v)
	}
	if i != len(s) {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4(q), true
}
