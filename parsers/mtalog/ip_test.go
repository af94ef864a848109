package mtalog

import (
	"net/netip"
	"testing"
)

// ParseIP agrees with netip.ParseAddr on every shape, valid or not.
func TestParseIPAgreesWithNetip(t *testing.T) {
	for _, s := range []string{
		"192.0.2.1", "0.0.0.0", "255.255.255.255", "256.1.1.1", "1.2.3", "1.2.3.4.5", "01.2.3.4", "1.2.3.04", "1..2.3",
		".1.2.3", "1.2.3.", "", "1.2.3.4 ", "1.2.3.a", "::1", "2001:db8::25", "::ffff:192.0.2.1", "fe80::1%eth0", "x",
		"1.2.3.4:25", "999.1.1.1", "10.0.0.0", "1.2.3.2555",
	} {
		want, err := netip.ParseAddr(s)
		got, ok := ParseIP(s)
		if ok != (err == nil) || got != want {
			t.Errorf("ParseIP(%q) = %v %v, netip says %v %v", s, got, ok, want, err)
		}
	}
}

func FuzzParseIP(f *testing.F) {
	f.Add("192.0.2.1")
	f.Add("2001:db8::1")
	f.Fuzz(func(t *testing.T, s string) {
		want, err := netip.ParseAddr(s)
		got, ok := ParseIP(s)
		if ok != (err == nil) || got != want {
			t.Errorf("ParseIP(%q) = %v %v, netip says %v %v", s, got, ok, want, err)
		}
	})
}

func BenchmarkParseIP(b *testing.B) {
	for i := 0; i < b.N; i++ {
		ParseIP("148.163.150.12")
	}
}

func BenchmarkNetipParseAddr(b *testing.B) {
	for i := 0; i < b.N; i++ {
		netip.ParseAddr("148.163.150.12")
	}
}
