package classify

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/ppwatch/ppwatch/pkg/event"
)

func mustNew(t *testing.T, opts Options) *Classifier {
	t.Helper()
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func failed(reply string) event.Delivery {
	ev := event.Delivery{Status: event.Bounced, Response: reply, RecipientDomain: "example.com"}
	ev.SMTPCode, ev.EnhancedCode = splitForTest(reply)
	return ev
}

// Every built-in rule decides its own example, and ids are unique: the
// table's order cannot silently shadow a rule.
func TestRuleExamples(t *testing.T) {
	c := mustNew(t, Options{})
	seen := map[string]bool{}
	for _, r := range builtin {
		if seen[r.ID] {
			t.Errorf("duplicate rule id %q", r.ID)
		}
		seen[r.ID] = true
		if r.Example == "" {
			t.Errorf("rule %s has no example", r.ID)
			continue
		}
		ev := failed(r.Example)
		c.Classify(&ev)
		if ev.Rule != r.ID || ev.Class != r.Class {
			t.Errorf("example of %s: got rule %s class %s, want class %s\n  %s", r.ID, ev.Rule, ev.Class, r.Class, r.Example)
		}
	}
}

func TestClassify(t *testing.T) {
	c := mustNew(t, Options{
		Hosts:   []string{"pps1.campus.example.edu", "*.pps.example.net"},
		Domains: []string{"apple.example", "*.corp.example"},
		Rules: []UserRule{
			{ID: "acme-greylist", Match: `greylist(ed|ing)`, Class: event.ClassRateLimit},
			{ID: "onprem-pp", Match: `^554 5\.7\.1 \[CS01\]`, Class: event.ClassReputation, Proofpoint: true},
		},
	})
	tests := []struct {
		name       string
		ev         event.Delivery
		proofpoint bool
		class      event.Class
		rule       string
	}{
		{"delivered to pphosted", event.Delivery{Status: event.Delivered, RelayHost: "MX0A-00123A01.pphosted.com.", SMTPCode: 250, Response: "250 2.0.0 ok"}, true, event.ClassNone, "delivered"},
		{"delivered elsewhere", event.Delivery{Status: event.Delivered, RelayHost: "mx.example.com", SMTPCode: 250}, false, event.ClassNone, "delivered"},
		{"5xx banner block logged deferred", event.Delivery{Status: event.Deferred, RelayHost: "mx0b-00789c03.pphosted.com", SMTPCode: 554, EnhancedCode: "4.0.0",
			Response: "554 mx0b-00789c03.pphosted.com ESMTP Blocked - see https://ipcheck.proofpoint.com/?ip=192.0.2.25"}, true, event.ClassReputation, "pp-ipcheck"},
		{"PDR wording under an own MX name", event.Delivery{Status: event.Bounced, RelayHost: "mx.uni.example", SMTPCode: 550,
			Response: "550 5.7.1 Service unavailable; client [192.0.2.25] blocked using Proofpoint Dynamic Reputation"}, true, event.ClassReputation, "pp-dynamic-reputation"},
		{"host named only in the text (postfix/error)", event.Delivery{Status: event.Deferred,
			Response: "connect to mx0a-00aaaa01.pphosted.com[148.163.140.9]:25: Connection timed out"}, true, event.ClassConnection, "timeout"},
		{"essentials", event.Delivery{Status: event.Deferred, RelayHost: "mx1-us1.ppe-hosted.com", SMTPCode: 450, EnhancedCode: "4.7.1",
			Response: "450 4.7.1 Sender address rejected"}, true, event.ClassRateLimit, "pp-sender-rejected"},
		{"configured host", event.Delivery{Status: event.Deferred, RelayHost: "pps1.campus.example.edu", Response: "Cannot start TLS: handshake failure"}, true, event.ClassConnection, "tls"},
		{"connection dropped after EHLO (real Postfix 3.7)", event.Delivery{Status: event.Deferred, RelayHost: "mx0a-00100001.pphosted.com",
			Response: "lost connection with mx0a-00100001.pphosted.com[127.0.0.11] while performing the EHLO handshake"}, true, event.ClassConnection, "lost-connection"},
		{"configured host glob", event.Delivery{Status: event.Deferred, RelayHost: "a.pps.example.net", SMTPCode: 451, Response: "451 try later"}, true, event.ClassOther, "other"},
		{"configured domain", event.Delivery{Status: event.Bounced, RecipientDomain: "apple.example", RelayHost: "mx01.mail.icloud.com", SMTPCode: 550, EnhancedCode: "5.1.1",
			Response: "550 5.1.1 <x@apple.example>: user does not exist"}, true, event.ClassRecipient, "user-unknown"},
		{"configured domain glob", event.Delivery{Status: event.Bounced, RecipientDomain: "eu.corp.example", SMTPCode: 550, Response: "550 no"}, true, event.ClassOther, "other"},
		{"user rule before built-in", event.Delivery{Status: event.Deferred, SMTPCode: 451, EnhancedCode: "4.7.1", Response: "451 4.7.1 Greylisted, please try again (policy)"}, false, event.ClassRateLimit, "acme-greylist"},
		{"user rule marks proofpoint", event.Delivery{Status: event.Bounced, RelayHost: "mx01.mail.icloud.com", SMTPCode: 554, EnhancedCode: "5.7.1",
			Response: "554 5.7.1 [CS01] Message rejected due to local policy"}, true, event.ClassReputation, "onprem-pp"},
		{"spamhaus is reputation, not spam", event.Delivery{Status: event.Bounced, SMTPCode: 554, Response: "554 5.7.1 blocked using zen.spamhaus.org"}, false, event.ClassReputation, "dnsbl"},
		{"DMARC policy violation is auth", event.Delivery{Status: event.Bounced, SMTPCode: 550, Response: "550 5.7.0 Local Policy Violation - DMARC Reject"}, false, event.ClassAuth, "dmarc"},
		{"by enhanced code", event.Delivery{Status: event.Bounced, SMTPCode: 550, EnhancedCode: "5.1.1", Response: "550 5.1.1 <bob@x.example>"}, false, event.ClassRecipient, "dsn-x.1.x"},
		{"by enhanced code, auth", event.Delivery{Status: event.Bounced, SMTPCode: 550, EnhancedCode: "5.7.26", Response: "550 5.7.26 see our help page"}, false, event.ClassAuth, "dsn-x.7.2x"},
		{"by code 421", event.Delivery{Status: event.Deferred, SMTPCode: 421, Response: "421 closing channel"}, false, event.ClassRateLimit, "code-421"},
		{"no reply, unknown text", event.Delivery{Status: event.Deferred, Response: "mail for x.example loops back to myself"}, false, event.ClassOther, "no-reply"},
		{"a timeout reply with a code is not a connection failure", event.Delivery{Status: event.Deferred, SMTPCode: 451, Response: "451 4.4.2 timeout exceeded"}, false, event.ClassOther, "other"},
		{"dns nxdomain", event.Delivery{Status: event.Bounced, Response: "Host or domain name not found. Name service error for name=x.example type=A: Host not found"}, false, event.ClassRecipient, "dns-nxdomain"},
		{"dns tempfail", event.Delivery{Status: event.Deferred, Response: "Host or domain name not found. Name service error for name=x.example type=MX: Host not found, try again"}, false, event.ClassConnection, "dns-tempfail"},
		// The reason after a generic prefix decides, not the prefix.
		{"a full mailbox after Recipient address rejected", failed("554 5.2.2 <bob@x.example>: Recipient address rejected: Quota exceeded (mailbox for user is full)"), false, event.ClassRecipient, "mailbox-full"},
		{"blocklist after Recipient address rejected", failed("554 5.7.1 <bob@x.example>: Recipient address rejected: https://www.spamhaus.org/query/ip/192.0.2.25"), false, event.ClassReputation, "dnsbl"},
		{"the address before the prefix is not judged", failed("550 5.1.1 <spam@x.example>: Recipient address rejected: User unknown in local recipient table"), false, event.ClassRecipient, "user-unknown"},
		{"a bare prefix is the fallback", failed("554 5.7.1 <bob@x.example>: Recipient address rejected: Not in recipient list"), false, event.ClassRecipient, "recipient-rejected"},
		// Blocklist and IP evidence before "spam"; a longer phrase before the shorter one it holds.
		{"IP blocked for spam is reputation", failed("550 mwinf5c14 ME Adresse IP source bloquee pour incident de spam. Client host blocked for spamming issues. OFR006_102"), false, event.ClassReputation, "reputation"},
		{"banned sending IP is reputation, not access denied", failed("550 5.7.606 Access denied, banned sending IP [192.0.2.25]."), false, event.ClassReputation, "reputation"},
		{"mailbox size limit is a full mailbox", failed("552 5.2.2 <bob@x.example>: Recipient address rejected: Mailbox size limit exceeded"), false, event.ClassRecipient, "mailbox-full"},
		{"submission quota is a rate limit, not a full mailbox", failed("550 5.2.2 Submission quota exceeded"), false, event.ClassRateLimit, "rate-limit"},
		{"rate limited for authentication is auth", failed("421-4.7.26 This mail has been rate limited because it is unauthenticated. Gmail requires all senders to authenticate with either SPF or DKIM."), false, event.ClassAuth, "spf"},
		{"a wrapped phrase still matches", failed("550-5.7.1 [192.0.2.25] The IP you're using to send mail is not authorized to 550-5.7.1 send email directly to our servers."), false, event.ClassReputation, "reputation"},
		{"null MX sender domain", failed("550 5.7.27 <n@x.example>: Sender address rejected: Domain x.example does not accept mail (nullMX)"), false, event.ClassAuth, "sender-domain"},
		{"PDR zone names Proofpoint", failed("554 5.7.1 Service unavailable; Client host [192.0.2.25] blocked using safe.dnsbl.prs.proofpoint.com"), true, event.ClassReputation, "pp-rbl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := tt.ev
			c.Classify(&ev)
			if ev.Proofpoint != tt.proofpoint || ev.Class != tt.class || ev.Rule != tt.rule {
				t.Errorf("got proofpoint=%v class=%s rule=%s, want %v %s %s", ev.Proofpoint, ev.Class, ev.Rule, tt.proofpoint, tt.class, tt.rule)
			}
		})
	}
}

func TestBlockAndDeferral(t *testing.T) {
	for _, tt := range []struct {
		ev              event.Delivery
		block, deferral bool
	}{
		{event.Delivery{Proofpoint: true, SMTPCode: 554, Class: event.ClassReputation}, true, false},
		{event.Delivery{Proofpoint: true, SMTPCode: 550, Class: event.ClassRecipient}, false, false},
		{event.Delivery{Proofpoint: true, SMTPCode: 421, Class: event.ClassReputation}, false, true},
		{event.Delivery{Proofpoint: true, SMTPCode: 421, Class: event.ClassRecipient}, false, true},
		{event.Delivery{Proofpoint: true, SMTPCode: 0, Class: event.ClassConnection}, false, false},
		{event.Delivery{Proofpoint: false, SMTPCode: 554, Class: event.ClassReputation}, false, false},
	} {
		if tt.ev.IsBlock() != tt.block || tt.ev.IsDeferral() != tt.deferral {
			t.Errorf("%+v: block=%v deferral=%v", tt.ev, tt.ev.IsBlock(), tt.ev.IsDeferral())
		}
	}
}

func TestSourceIP(t *testing.T) {
	for _, tt := range []struct{ reply, relay, want string }{
		{"550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=192.0.2.25", "", "192.0.2.25"},
		{"550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=192.0.2.25:bob@example.com", "", "192.0.2.25"},
		{"554 Blocked (see https://ipcheck.proofpoint.com/?ip=192.0.2.25)", "", "192.0.2.25"},
		{`550 5.7.1 see "https://ipcheck.proofpoint.com/?ip=192.0.2.25"`, "", "192.0.2.25"},
		{"550 5.7.1 see https://support.proofpoint.com/dnsbl-lookup.cgi?ip=198.51.100.7.", "", "198.51.100.7"},
		{"550-5.7.1 see https://support.proofpoint.com/dnsbl-lookup.cgi?192.0.2.25: 550 5.7.1 x@y", "", "192.0.2.25"},
		{"550 5.7.1 Mail from 198.51.100.7 refused by Proofpoint Reputation Services", "", "198.51.100.7"},
		{"550 5.7.1 Service unavailable; client [203.0.113.9] blocked using Proofpoint Dynamic Reputation", "", "203.0.113.9"},
		{"554 mx.example [148.163.150.12] ESMTP Blocked", "148.163.150.12", ""},
		{"550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=2001:db8:10::25", "", "2001:db8:10::25"},
		{"550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=2001:db8:10::25:abc@example.com", "", "2001:db8:10::25"},
		{"550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=not-an-ip", "", ""},
		{"550 5.7.1 [CS01] Message rejected", "", ""},
		// Wordings that name the connecting client.
		{"554 5.7.1 Service unavailable; Client host [192.0.2.25] blocked using safe.dnsbl.prs.proofpoint.com", "", "192.0.2.25"},
		{"550 5.7.1 Your IP 192.0.2.25 is listed by Proofpoint", "", "192.0.2.25"},
		{"550 5.7.1 Mail from IP 192.0.2.25 was rejected due to listing in Spamhaus SBL.", "", "192.0.2.25"},
		{"421 4.7.0 [TSS04] Messages from 192.0.2.25 temporarily deferred due to user complaints", "", "192.0.2.25"},
		{"550 5.7.1 Unfortunately, messages from [192.0.2.25] weren't sent.", "", "192.0.2.25"},
		{"550 5.7.606 Access denied, banned sending IP [192.0.2.25]. To request removal", "", "192.0.2.25"},
		{"451 4.7.650 The mail server [192.0.2.25] has been temporarily rate limited due to IP reputation.", "", "192.0.2.25"},
		{"553 5.7.1 [BL21] Connections will not be accepted from 192.0.2.25, because the ip is in Spamhaus's list", "", "192.0.2.25"},
		{"550 5.2.1 Mailbox unavailable. Your IP address 192.0.2.25 is blacklisted using SPAMHAUS-XBL.", "", "192.0.2.25"},
		{"421-4.7.0 [192.0.2.25      15] Our system has detected that this message is suspicious", "", "192.0.2.25"},
		{"550 5.7.1 Service unavailable; client [2001:db8::25] blocked using Proofpoint Dynamic Reputation", "", "2001:db8::25"},
		// A host quoted in the reply is not the client: the receiver's own,
		// or the server behind a gateway that passes its reply on.
		{"550 5.1.1 <bob@customer.example>: Recipient address rejected: undeliverable address: host mail.customer.example[203.0.113.77] said: 550 5.1.1 <bob@customer.example>: User unknown", "", ""},
		{"421 4.1.1 <bob@customer.example>: Recipient address rejected: unverified address: lost connection with mail.customer.example[203.0.113.77] while sending RCPT TO", "", ""},
		{"550 5.7.1 Message rejected by mail.customer.example [203.0.113.77]: local policy", "", ""},
		{"421 4.4.2 mx0a-00123a01.pphosted.com [148.163.150.12] closing connection", "", ""},
		{"550 5.7.1 <bob@customer.example>: host mail.customer.example[203.0.113.77] said: 554 5.7.1 Service unavailable; Client host [148.163.150.12] blocked using zen.spamhaus.org", "", ""},
		{"550 5.7.1 <bob@customer.example>: host mail.customer.example[203.0.113.77] said: 550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=148.163.150.12", "", ""},
	} {
		if got := SourceIP(tt.reply, tt.relay); got != tt.want {
			t.Errorf("SourceIP(%q) = %q, want %q", tt.reply, got, tt.want)
		}
	}
}

func TestNewRejectsBadRules(t *testing.T) {
	if _, err := New(Options{Rules: []UserRule{{ID: "x", Match: "(", Class: event.ClassOther}}}); err == nil || err.Error() != "rule 1 (x): match: error parsing regexp: missing closing ): `(?i)(`" {
		t.Errorf("err = %v", err)
	}
	if _, err := New(Options{Rules: []UserRule{{ID: "y", Match: "a", Class: "bogus"}}}); err == nil || err.Error() != `rule 1 (y): unknown class "bogus"` {
		t.Errorf("err = %v", err)
	}
}

func TestJudged(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"550 5.1.1 user unknown", "550 5.1.1 user unknown"},
		{"550 5.1.1 <spam@x.example>: recipient address rejected: user unknown", "550 5.1.1 recipient address rejected: user unknown"},
		{"550 5.4.1 [bob@x.example]: recipient address rejected: access denied", "550 5.4.1 recipient address rejected: access denied"},
		{"450 4.2.0 <unknown[192.0.2.25]>: client host rejected: greylisted", "450 4.2.0 client host rejected: greylisted"},
		{"550 5.7.1 a reason with spaces>: recipient address rejected: x", "550 5.7.1 a reason with spaces>: recipient address rejected: x"},
		{"550-5.7.1 not authorized to 550-5.7.1 send email 550 5.7.1  https://x", "550-5.7.1 not authorized to send email  https://x"},
		{`550-5.7.1 message rejected.\n550 5.7.1 local policy violation`, "550-5.7.1 message rejected. local policy violation"},
	} {
		if got := judged(tt.in); got != tt.want {
			t.Errorf("judged(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// splitForTest reads "550 5.7.0 …" the way the parsers do, without
// importing them.
func splitForTest(s string) (int, string) {
	if len(s) < 3 || s[0] < '2' || s[0] > '5' {
		return 0, ""
	}
	code := int(s[0]-'0')*100 + int(s[1]-'0')*10 + int(s[2]-'0')
	if len(s) > 4 {
		rest := s[4:]
		end := 0
		for end < len(rest) && rest[end] != ' ' {
			end++
		}
		e := rest[:end]
		if len(e) >= 5 && e[1] == '.' {
			return code, e
		}
	}
	return code, ""
}

// Connection failures to many addresses of one host share one cache entry,
// and the verdict is the one each text gets alone; with user rules (which
// may read addresses) each text is its own entry.
func TestCacheLeavesAddressesOut(t *testing.T) {
	c := mustNew(t, Options{})
	for i := 1; i <= 50; i++ {
		ev := event.Delivery{Status: event.Deferred,
			Response: fmt.Sprintf("lost connection with mx0b-00123a01.pphosted.com[148.163.158.%d] while receiving the initial server greeting", i)}
		c.Classify(&ev)
		if ev.Class != event.ClassConnection || ev.Rule != "lost-connection" || !ev.Proofpoint {
			t.Fatalf("%d: class %s rule %s proofpoint %v", i, ev.Class, ev.Rule, ev.Proofpoint)
		}
	}
	if len(c.cache) != 1 {
		t.Errorf("%d cache entries, want 1", len(c.cache))
	}
	u := mustNew(t, Options{Rules: []UserRule{{ID: "one-mx", Match: `\[148\.163\.158\.7\]`, Class: event.ClassPolicy}}})
	for i := 6; i <= 8; i++ {
		ev := event.Delivery{Status: event.Deferred, Response: fmt.Sprintf("connect to mx.example[148.163.158.%d]:25: Connection refused", i)}
		u.Classify(&ev)
		if want := map[bool]string{true: "one-mx", false: "refused"}[i == 7]; ev.Rule != want {
			t.Errorf("%d: rule %s, want %s", i, ev.Rule, want)
		}
	}
}

func TestHasSuffixFold(t *testing.T) {
	for _, tt := range []struct {
		s, suffix string
		want      bool
	}{
		{"mx0a-00123a01.pphosted.com", ".pphosted.com", true},
		{"MX0A-00123A01.PPHOSTED.COM", ".pphosted.com", true},
		{"mx.PpHosted.Com", ".pphosted.com", true},
		{"pphosted.com", ".pphosted.com", false},
		{"gmail-smtp-in.l.google.com", ".pphosted.com", false},
		{"mx0a.pphosted\x0ecom", ".pphosted.com", false}, // a control byte is no dot
		{"mx0a-pphosted.com", ".pphosted.com", false},
		{"", ".pphosted.com", false},
	} {
		if got := hasSuffixFold(tt.s, tt.suffix); got != tt.want {
			t.Errorf("hasSuffixFold(%q, %q) = %v", tt.s, tt.suffix, got)
		}
	}
}

func TestMayHaveMarker(t *testing.T) {
	for _, tt := range []struct {
		s    string
		want bool
	}{
		{"250 2.0.0 OK 1795338016 - gsmtp", false},
		{"mx0a.pphosted.com", true}, {"MX0A.PPHOSTED.COM", true}, {"x.pPhosted", true}, {"x.Pphosted", true},
		{"blocked using Proofpoint", true}, {"PROOFPOINT", true}, {"proofpoin", false}, {"p", false}, {"", false},
		{"up, up and away", false}, {"upp", true},
	} {
		if got := mayHaveMarker(tt.s); got != tt.want {
			t.Errorf("mayHaveMarker(%q) = %v", tt.s, got)
		}
	}
}

// The last host's answer is reused only for the same name.
func TestProofpointHostMemo(t *testing.T) {
	c := mustNew(t, Options{})
	for i, tt := range []struct {
		host string
		want bool
	}{
		{"mx0a-00123a01.pphosted.com", true}, {"mx0a-00123a01.pphosted.com", true}, {"gmail-smtp-in.l.google.com", false},
		{"gmail-smtp-in.l.google.com", false}, {"MX0A-00123A01.PPHOSTED.COM.", true}, {"", false}, {"mx1-us1.ppe-hosted.com", true},
		{strings.Repeat("a", 80) + ".pphosted.com", true}, {strings.Repeat("a", 80) + ".example", false}, {"mx.example", false},
	} {
		if got := c.isProofpointHost(tt.host); got != tt.want {
			t.Errorf("%d: isProofpointHost(%q) = %v", i, tt.host, got)
		}
	}
}

// The byte-pair set rules out only words that are not in the text: on
// every corpus reply and rule example, for every word of the table, it
// agrees with strings.Contains.
func TestTextPairsRuleOutOnlyAbsentWords(t *testing.T) {
	b, err := os.ReadFile("../../testdata/replies/corpus.tsv")
	if err != nil {
		t.Fatal(err)
	}
	var replies []string
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Split(line, "\t"); len(f) >= 3 && !strings.HasPrefix(line, "#") {
			replies = append(replies, toLower(f[2]))
		}
	}
	var words []string
	for _, r := range builtin {
		replies = append(replies, toLower(r.Example))
		words = append(words, r.Any...)
		words = append(words, r.All...)
	}
	if len(replies) < 300 || len(words) < 200 {
		t.Fatalf("%d replies, %d words", len(replies), len(words))
	}
	for _, s := range replies {
		tx := newText(s)
		for _, w := range words {
			if got, want := tx.contains(w), strings.Contains(s, w); got != want {
				t.Errorf("contains(%q, %q) = %v", s, w, got)
			}
		}
	}
}

// A relay address in Proofpoint's networks makes the attempt a Proofpoint
// one whatever the relay's name (a customer's own MX name in front of
// Proofpoint on Demand, or none: a connection that failed before a name was
// logged); the configured networks add to the built-in ones; the memo of
// the last address never answers for another.
func TestProofpointNetworks(t *testing.T) {
	c := mustNew(t, Options{Networks: []string{"192.0.2.128/25", "2001:db8:7::/48"}})
	for i, tt := range []struct {
		host, ip string
		want     bool
	}{
		{"mx.campus.example.edu", "148.163.150.12", true}, // 148.163.128.0/19
		{"mx.campus.example.edu", "148.163.150.12", true}, // the memo
		{"mx.campus.example.edu", "148.163.160.1", false}, // just past it
		{"", "67.231.149.25", true},                       // 67.231.144.0/20
		{"", "67.231.160.0", false},                       // past it
		{"", "205.220.165.32", true},                      // 205.220.160.0/19
		{"", "185.132.182.7", true},                       // 185.132.180.0/22
		{"", "209.66.100.127", true},                      // the last of 209.66.100.64/26
		{"", "209.66.100.128", false},                     // past it
		{"", "::ffff:148.163.150.12", true},               // IPv4-mapped
		{"mx.example", "192.0.2.200", true},               // configured
		{"mx.example", "192.0.2.100", false},              // beside it
		{"mx.example", "2001:db8:7:1::25", true},          // configured IPv6
		{"mx.example", "2001:db8:8::25", false},           // beside it
		{"gmail-smtp-in.l.google.com", "142.250.13.14", false},
		{"mx.example", "not-an-ip", false},
		{"mx.example", "", false},
	} {
		ev := &event.Delivery{RelayHost: tt.host, RelayIP: tt.ip, Status: event.Deferred, SMTPCode: 421, Response: "421 try again later"}
		c.Classify(ev)
		if ev.Proofpoint != tt.want {
			t.Errorf("%d: relay %s[%s]: proofpoint %v, want %v", i, tt.host, tt.ip, ev.Proofpoint, tt.want)
		}
	}
	if _, err := New(Options{Networks: []string{"192.0.2.0/24", "192.0.2.300/24"}}); err == nil || err.Error() != `network 2: "192.0.2.300/24" is not a CIDR prefix` {
		t.Errorf("bad network: %v", err)
	}
	for _, p := range DefaultNetworks {
		if p != p.Masked() {
			t.Errorf("built-in network %s has host bits set", p)
		}
	}
}
