package evidence

import (
	"github.com/ppwatch/ppwatch/pkg/dnscheck"
	"github.com/ppwatch/ppwatch/pkg/event"
	"github.com/ppwatch/ppwatch/pkg/report"
)

// Kind names what kind of case a packet is. The names are a public
// contract (the JSON's case.kind).
type Kind string

// The kinds, told by the replies that dominate the failures.
const (
	KindNone       Kind = "none"       // no block or deferral in what was read
	KindReputation Kind = "reputation" // a block on the sending IP's reputation (dynamic or listed)
	KindDeferral   Kind = "deferral"   // mostly 4xx: rate limiting, greylisting, a reputation that is still forming
	KindContent    Kind = "content"    // the messages were classified (spam, bulk, a URL)
	KindPolicy     Kind = "policy"     // a policy of the receiving customer or of Proofpoint
	KindAuth       Kind = "auth"       // SPF, DKIM or DMARC failed at the receiver
	KindRecipient  Kind = "recipient"  // the recipients do not exist: a list problem, not Proofpoint's
)

// Case is what kind of case the packet makes and what to ask for.
type Case struct {
	Kind     Kind     `json:"kind"`
	Title    string   `json:"title"`
	Ask      string   `json:"ask"`       // the one question of the message
	FixFirst []string `json:"fix_first"` // what to mend before writing, from the sender checks and the replies
}

// caseOf tells the case from the failures: the class with most of them.
func caseOf(p *Packet) Case {
	byClass := map[event.Class]int{}
	deferrals, blocks := 0, 0
	for _, r := range p.Replies {
		switch {
		case event.IsBlockReply(r.SMTPCode, event.Class(r.Class)):
			blocks += r.Count
			byClass[event.Class(r.Class)] += r.Count
		case r.SMTPCode >= 400 && r.SMTPCode <= 499:
			deferrals += r.Count
		case r.Class == string(event.ClassRecipient):
			byClass[event.ClassRecipient] += r.Count
		}
	}
	var c Case
	dominant, most := event.ClassNone, 0
	for _, k := range event.Classes {
		if byClass[k] > most {
			dominant, most = k, byClass[k]
		}
	}
	switch {
	case blocks == 0 && deferrals == 0 && most == 0:
		c = Case{Kind: KindNone, Title: "no Proofpoint block or deferral in what was read",
			Ask: "Nothing to ask: there is no failure to show."}
	case deferrals > blocks && deferrals > most:
		c = Case{Kind: KindDeferral, Title: "deferrals (4xx) by Proofpoint",
			Ask: "Is this rate limiting or a reputation still forming for this IP, and what volume or pace does Proofpoint accept from it?"}
	case dominant == event.ClassRecipient:
		c = Case{Kind: KindRecipient, Title: "recipients unknown at the receivers",
			Ask: "Nothing to ask Proofpoint: the recipients do not exist. Clean the list; many unknown recipients harm the IP's reputation."}
	case dominant == event.ClassContent:
		c = Case{Kind: KindContent, Title: "messages classified by Proofpoint (content)",
			Ask: "Is this a classification issue? These messages are legitimate; please review the samples' Message-IDs as a false positive."}
	case dominant == event.ClassPolicy:
		c = Case{Kind: KindPolicy, Title: "a policy block",
			Ask: "Which control blocks this IP: a policy of the receiving customer, or of Proofpoint? If the customer's, we will ask them."}
	case dominant == event.ClassAuth:
		c = Case{Kind: KindAuth, Title: "authentication failed at the receivers",
			Ask: "Which authentication check failed (SPF, DKIM or DMARC alignment)? We have fixed what our checks show."}
	default:
		c = Case{Kind: KindReputation, Title: "a block on the sending IP's reputation",
			Ask: "Is this a dynamic reputation block, a classification issue, a policy block, or another control? Please review the IP and lift the block if it is reputation."}
	}
	c.FixFirst = fixFirst(p, c.Kind)
	return c
}

// fixFirst lists the failed sender checks: a delisting request sent while
// SPF fails wastes the one chance.
func fixFirst(p *Packet, kind Kind) []string {
	out := []string{}
	for _, h := range p.Hygiene {
		if h.Status == dnscheck.Fail {
			out = append(out, h.Line())
		}
	}
	if kind == KindRecipient {
		out = append(out, "remove the unknown recipients from the list")
	}
	return out
}

// dominantReply is the reply that makes the case: the most frequent block
// (the most frequent deferral in a deferral case), else the most frequent
// failure.
func dominantReply(p *Packet) *report.Reply {
	var best, any *report.Reply
	for i := range p.Replies {
		r := &p.Replies[i]
		if any == nil || r.Count > any.Count {
			any = r
		}
		deferral := r.SMTPCode >= 400 && r.SMTPCode <= 499
		if deferral != (p.Case.Kind == KindDeferral) {
			continue
		}
		if best == nil || r.Count > best.Count {
			best = r
		}
	}
	if best == nil {
		return any
	}
	return best
}
