package report

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ppwatch/ppwatch/pkg/event"
)

var t0 = time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)

func ev(min int, ip, domain string, status event.Status, code int, class event.Class, resp string) *event.Delivery {
	return &event.Delivery{Time: t0.Add(time.Duration(min) * time.Minute), SourceIP: ip, RecipientDomain: domain, Status: status,
		SMTPCode: code, Class: class, Proofpoint: domain != "gmail.example", Response: resp, Rule: "r"}
}

func TestBuilder(t *testing.T) {
	b := NewBuilder()
	block := "550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=192.0.2.25"
	for _, e := range []*event.Delivery{
		ev(5, "192.0.2.25", "acme.example", event.Bounced, 550, event.ClassReputation, block),
		ev(1, "192.0.2.25", "acme.example", event.Bounced, 550, event.ClassReputation, block),
		ev(3, "192.0.2.25", "initech.example", event.Bounced, 550, event.ClassReputation, block),
		ev(2, "192.0.2.25", "initech.example", event.Deferred, 421, event.ClassReputation, "421 Deferred"),
		ev(2, "192.0.2.25", "initech.example", event.Bounced, 550, event.ClassRecipient, "550 5.1.1 User Unknown"),
		ev(4, "198.51.100.7", "acme.example", event.Delivered, 250, event.ClassNone, "250 ok"),
		ev(4, "", "gmail.example", event.Delivered, 250, event.ClassNone, "250 ok"),
	} {
		b.Add(e)
	}
	r := b.Report()
	// 192.0.2.25: 5 Proofpoint attempts, 3 blocks (the recipient 5xx is not one), 1 deferral.
	ip := r.SourceIPs[0]
	if ip.SourceIP != "192.0.2.25" || ip.Attempts != 5 || ip.Blocks != 3 || ip.Deferrals != 1 || ip.BlockRatio != 0.6 || ip.DeferralRatio != 0.2 {
		t.Errorf("first IP %+v", ip)
	}
	var order []string
	for _, i := range r.SourceIPs {
		order = append(order, i.SourceIP)
	}
	if d := cmp.Diff([]string{"192.0.2.25", "", "198.51.100.7"}, order); d != "" {
		t.Errorf("IPs worst first, then by attempts and name: %s", d)
	}
	if len(r.ProofpointDomains) != 2 || r.ProofpointDomains[0].RecipientDomain != "acme.example" || r.ProofpointDomains[0].Blocks != 2 {
		t.Errorf("domains %+v", r.ProofpointDomains)
	}
	top := r.ProofpointReplies[0]
	want := Reply{SourceIP: "192.0.2.25", Response: block, SMTPCode: 550, Class: "reputation", Rule: "r", Count: 3,
		FirstSeen: t0.Add(time.Minute), LastSeen: t0.Add(5 * time.Minute),
		RecipientDomains: []DomainCount{{"acme.example", 2}, {"initech.example", 1}}}
	if d := cmp.Diff(want, top, cmp.AllowUnexported(Reply{}), cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".domains" }, cmp.Ignore())); d != "" {
		t.Error(d)
	}
	if *r.FirstEvent != t0.Add(time.Minute) || *r.LastEvent != t0.Add(5*time.Minute) {
		t.Errorf("span %v %v", r.FirstEvent, r.LastEvent)
	}
}

// Distinct replies are capped; the rest are counted, not kept.
func TestReplyCap(t *testing.T) {
	b := NewBuilder()
	for i := 0; i < MaxReplies+7; i++ {
		b.Add(ev(0, "192.0.2.25", "acme.example", event.Bounced, 550, event.ClassRecipient, fmt.Sprintf("550 5.1.1 <u%d@acme.example> unknown", i)))
	}
	r := b.Report()
	if len(r.ProofpointReplies) != MaxReplies || r.RepliesDropped != 7 || r.Totals.Attempts != MaxReplies+7 {
		t.Errorf("%d replies, %d dropped, %d attempts", len(r.ProofpointReplies), r.RepliesDropped, r.Totals.Attempts)
	}
}

func TestClassIndexCoversEveryClass(t *testing.T) {
	if numClasses != len(event.Classes) {
		t.Fatalf("numClasses %d, event.Classes has %d", numClasses, len(event.Classes))
	}
	for i, c := range event.Classes {
		if classIndex(c) != i {
			t.Errorf("classIndex(%s) = %d, want %d", c, classIndex(c), i)
		}
	}
}
