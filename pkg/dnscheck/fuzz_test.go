package dnscheck

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/ppwatch/ppwatch/pkg/dnscheck/dnstest"
)

// ParseDKIMKey is the one record parser of this package: it never panics,
// and a key it accepts has a type and a size.
func FuzzParseDKIMKey(f *testing.F) {
	for _, l := range strings.Split(dnstest.TestZones, "\n") {
		if _, rec, ok := strings.Cut(l, "IN TXT  \"v=DKIM1"); ok {
			f.Add("v=DKIM1" + strings.TrimSuffix(rec, `"`))
		}
	}
	f.Add("p=")
	f.Add("k=ed25519; p=AAAA")
	f.Add("v=DKIM1;;; p = MFww DQYJ ;")
	f.Fuzz(func(t *testing.T, record string) {
		k, err := ParseDKIMKey(record)
		if err != nil {
			return
		}
		if (k.Type != "rsa" || k.Bits < 1) && (k.Type != "ed25519" || k.Bits != 256) {
			t.Errorf("%q: accepted as %+v", record, k)
		}
	})
}

// genericName never panics on any name, and its reason is one of its own.
func FuzzGenericName(f *testing.F) {
	f.Add("ip-192-0-2-1.dynamic.example.net")
	f.Add("...")
	f.Add("a.co.uk")
	f.Fuzz(func(t *testing.T, name string) {
		why := genericName(name, netip.MustParseAddr("192.0.2.1"))
		if why != "" && why != "the address's digits" && !strings.HasPrefix(why, `"`) {
			t.Errorf("%q: reason %q", name, why)
		}
	})
}
