package pipeline

import (
	"net/netip"
	"testing"
)

// internal agrees with parsing every address and testing every prefix,
// with and without a prefix shorter than 8 bits.
func TestInternalRelays(t *testing.T) {
	ips := []string{"127.0.0.1", "127.255.1.2", "128.0.0.1", "12.0.0.1", "1.2.3.4", "10.1.2.3", "10.2.0.1", "::1",
		"::ffff:127.0.0.1", "::ffff:10.1.0.9", "2001:db8::1", "192.0.2.7", "192.0.2.8", "15.1.1.1", "", "not-an-ip"}
	for _, entries := range [][]string{
		{"127.0.0.0/8", "::1"},
		{"10.1.0.0/16", "192.0.2.7", "::1", "mx.internal.example"},
		{"0.0.0.0/4", "2001:db8::/32"},
		{"1.0.0.0/8", "12.0.0.0/8"},
	} {
		r := newRelays(entries)
		for _, ip := range ips {
			want := false
			if a, err := netip.ParseAddr(ip); err == nil {
				for _, p := range r.prefixes {
					want = want || p.Contains(a.Unmap())
				}
			}
			if got := r.internal("", ip); got != want {
				t.Errorf("%v: internal(%q) = %v, want %v", entries, ip, got, want)
			}
		}
	}
	r := newRelays([]string{"*.lan", "mx.internal.example"})
	if !r.internal("Filter.LAN", "203.0.113.5") || !r.internal("mx.internal.example", "") || r.internal("mx.example", "127.0.0.1") {
		t.Error("host name globs")
	}
}
