package event

import "testing"

func TestDomainOf(t *testing.T) {
	for _, tt := range []struct{ addr, want string }{
		{"j.smith@acme-corp.example", "acme-corp.example"},
		{"j.smith@Acme-Corp.EXAMPLE", "acme-corp.example"},
		{"a@example.com.", "example.com"},
		{"A@example.com", "example.com"}, // the local part's case is not the domain's
		{`"a@b"@c.example`, "c.example"},
		{"x@Bücher.Example", "bücher.example"},
		{"x@bücher.example", "bücher.example"},
		{"x@ÖL.example", "öl.example"},
		{"a@", ""}, {"a@.", ""}, {"no-at", ""}, {"", ""}, {"@x.example", "x.example"},
	} {
		if got := DomainOf(tt.addr); got != tt.want {
			t.Errorf("DomainOf(%q) = %q, want %q", tt.addr, got, tt.want)
		}
	}
}
