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
// netip then judges.
func parseIPv4(s string) (netip.Addr, bool) {
	var q [4]byte
	part, val, digits := 0, 0, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			if digits == 1 && val == 0 {
				return netip.Addr{}, false // a leading zero
			}
			val = val*10 + int(c-'0')
			digits++
			if val > 255 {
				return netip.Addr{}, false
			}
		case c == '.' && digits > 0 && part < 3:
			q[part] = byte(val)
			part, val, digits = part+1, 0, 0
		default:
			return netip.Addr{}, false
		}
	}
	if part != 3 || digits == 0 {
		return netip.Addr{}, false
	}
	q[3] = byte(val)
	return netip.AddrFrom4(q), true
}
