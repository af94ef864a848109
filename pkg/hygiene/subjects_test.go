package hygiene

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ppwatch/ppwatch/pkg/dnscheck"
)

// The sending domains with the most Proofpoint failures, beside the
// configured ones (which keep their selectors), names as results name
// them; ties by name.
func TestTopDomains(t *testing.T) {
	failures := map[string]uint64{"News.Example.com.": 30, "shop.example": 12, "example.com": 50, "bounce.example": 12, "tiny.example": 1, "": 99}
	have := []dnscheck.Domain{{Name: "example.com", DKIMSelectors: []string{"s1"}}}
	got := topDomains(failures, 3, have)
	want := []dnscheck.Domain{{Name: "news.example.com"}, {Name: "bounce.example"}, {Name: "shop.example"}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	if got := topDomains(failures, 0, nil); len(got) != 0 {
		t.Errorf("n 0: %v", got)
	}
}
