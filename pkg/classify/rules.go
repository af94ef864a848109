package classify

import "github.com/ppwatch/ppwatch/pkg/event"

// Code constraints of a rule.
const (
	anyCode = iota
	noReply // SMTP code 0: nothing was said, the connection failed
	code4xx
)

// Rule decides a class from the reply text. Words are lower case; the rule
// matches when the lowered reply contains any of them (and, if All is set,
// every word of All as well) and the code constraint holds.
type Rule struct {
	ID      string
	Class   event.Class
	Codes   int
	Any     []string
	All     []string
	Example string // a real-format reply this rule decides; tested
}

// markers are reply texts only Proofpoint writes. Any of them makes an
// attempt a Proofpoint one, whatever rule decides its class.
var markers = []string{
	"ipcheck.proofpoint.com",
	"proofpoint.com/dnsbl-lookup.cgi",
	"proofpoint.com/rbl-lookup.cgi",
	"proofpoint dynamic reputation",
	"proofpoint reputation service",
	"listed by proofpoint",
	"pphosted.com",
	"ppe-hosted.com",
	"ppops.net",
}

// builtin is tried in order after the user's rules; the first match wins.
// Order matters where texts overlap: "spamhaus" is reputation before "spam"
// is content, a DMARC "local policy violation" is auth before policy, and
// "address verification in progress" is about the recipient, not the sender.
var builtin = []Rule{
	{ID: "pp-address-verification", Class: event.ClassRecipient, Any: []string{"address verification in progress"},
		Example: "421 4.1.1 <bob@example.com>: Address verification in progress"},

	// Proofpoint Dynamic Reputation: blocks (5xx) and delays (4xx) alike.
	{ID: "pp-ipcheck", Class: event.ClassReputation, Any: []string{"ipcheck.proofpoint.com"},
		Example: "550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=192.0.2.10"},
	{ID: "pp-dnsbl-lookup", Class: event.ClassReputation, Any: []string{"dnsbl-lookup.cgi", "rbl-lookup.cgi"},
		Example: "554 5.7.1 Service unavailable; Client host [192.0.2.10] blocked using Proofpoint; see https://support.proofpoint.com/dnsbl-lookup.cgi?ip=192.0.2.10"},
	{ID: "pp-dynamic-reputation", Class: event.ClassReputation, Any: []string{"proofpoint dynamic reputation"},
		Example: "550 5.7.1 Service unavailable; client [192.0.2.10] blocked using Proofpoint Dynamic Reputation"},
	{ID: "pp-reputation-services", Class: event.ClassReputation, Any: []string{"proofpoint reputation service"},
		Example: "554 5.7.1 Mail from 192.0.2.10 refused by Proofpoint Reputation Services"},
	{ID: "pp-listed", Class: event.ClassReputation, Any: []string{"listed by proofpoint"},
		Example: "550 5.7.1 Your IP 192.0.2.10 is listed by Proofpoint"},
	{ID: "pp-blocked-see", Class: event.ClassReputation, Any: []string{"blocked - see", "deferred - see"},
		Example: "554 mx0a-00123a01.pphosted.com ESMTP Blocked - see https://www.proofpoint.com/us/products/email-protection"},

	// Public blocklists and reputation wording of other gateways.
	{ID: "dnsbl", Class: event.ClassReputation,
		Any: []string{"spamhaus", "spamcop", "barracudacentral", "sorbs.net", "blocked using", "dnsbl", " rbl", "blacklist", "black list",
			"blocklist", "block list", "listed at ", "listed on ", "listed in "},
		Example: "554 5.7.1 Service unavailable; Client host [192.0.2.10] blocked using zen.spamhaus.org"},
	{ID: "reputation", Class: event.ClassReputation,
		Any: []string{"reputation", "senderscore", "sender score", "ip blocked", "ip address blocked", "ip has been blocked",
			"ip is blocked", "blocked ip", "ip address is blocked", "poor sending history"},
		Example: "550 5.7.1 Mail from 192.0.2.10 rejected due to poor reputation"},

	// Limits and throttling.
	{ID: "too-many", Class: event.ClassRateLimit,
		Any: []string{"too many connections", "too many concurrent", "too many messages", "too many recipients", "too many sessions",
			"too many mails", "too much mail", "too many simultaneous", "too many smtp sessions"},
		Example: "451 4.5.3 Too many recipients"},
	{ID: "rate-limit", Class: event.ClassRateLimit,
		Any: []string{"rate limit", "rate-limit", "ratelimit", "rate exceeded", "throttl", "burst rate", "sending rate",
			"message rate", "connection rate", "limit exceeded", "exceeded the rate", "unusual rate", "temporarily deferred due to"},
		Example: "452 4.7.1 burst rate limit exceeded"},

	// Sender authentication and DNS hygiene (before policy: "Local Policy
	// Violation - DMARC Reject" is a DMARC failure).
	{ID: "dmarc", Class: event.ClassAuth, Any: []string{"dmarc"},
		Example: "550 5.7.0 Local Policy Violation - DMARC Reject"},
	{ID: "spf", Class: event.ClassAuth, Any: []string{"spf", "sender policy framework"},
		Example: "550 5.7.23 The message was rejected because of Sender Policy Framework violation (SPF fail)"},
	{ID: "dkim", Class: event.ClassAuth, Any: []string{"dkim", "domainkeys"},
		Example: "550 5.7.20 Message rejected: no valid DKIM signature"},
	{ID: "ptr", Class: event.ClassAuth,
		Any: []string{"reverse dns", "reverse-dns", "reverse lookup", "ptr record", "rdns", "fcrdns", "no ptr", "cannot find your hostname",
			"cannot resolve your address", "hostname lookup", "client host rejected: cannot find"},
		Example: "550 5.7.25 The IP address sending this message does not have a PTR record setup"},
	{ID: "unauthenticated", Class: event.ClassAuth,
		Any:     []string{"unauthenticated", "not authenticated", "authentication failed", "sender authentication", "failed authentication"},
		Example: "550 5.7.1 Unauthenticated email is not accepted from this domain"},
	{ID: "sender-domain", Class: event.ClassAuth,
		Any: []string{"sender address rejected: domain not found", "sender domain not found", "sender domain does not exist",
			"sender address does not exist", "unverified sender", "sender verify failed"},
		Example: "450 4.1.8 <news@example.net>: Sender address rejected: Domain not found"},

	// Proofpoint Essentials throttles with this bare wording.
	{ID: "pp-sender-rejected", Class: event.ClassRateLimit, Codes: code4xx, Any: []string{"sender address rejected"},
		Example: "450 4.7.1 Sender address rejected"},

	// Content.
	{ID: "virus", Class: event.ClassContent, Any: []string{"virus", "malware", "infected", "trojan", "malicious"},
		Example: "554 5.7.1 Message rejected: virus found in message"},
	{ID: "size", Class: event.ClassContent,
		Any: []string{"too big", "too large", "size exceeds", "message size", "exceeds size", "exceeds the maximum size",
			"exceeds maximum", "size limit"},
		Example: "552 5.3.4 message file too big"},
	{ID: "spam", Class: event.ClassContent,
		Any: []string{"spam", "junk", "bulk mail", "message content", "content rejected", "content policy", "content filter",
			"suspicious", "phish", "unsolicited", "attachment", "not accepted for content"},
		Example: "550 5.7.1 Message rejected as spam by Content Filtering"},

	// Recipient problems.
	{ID: "mailbox-full", Class: event.ClassRecipient,
		Any: []string{"mailbox full", "mailbox is full", "over quota", "overquota", "quota exceeded", "exceeded storage",
			"mailbox size limit", "mailbox has exceeded", "user is over", "inbox is full"},
		Example: "452 4.2.2 The email account that you tried to reach is over quota"},
	{ID: "mailbox-disabled", Class: event.ClassRecipient,
		Any: []string{"account disabled", "mailbox disabled", "account has been disabled", "mailbox inactive", "account is inactive",
			"inactive user", "no longer active", "account closed", "mailbox has been disabled", "user account is expired",
			"account is disabled", "deactivated"},
		Example: "550 5.2.1 The email account that you tried to reach is disabled. account disabled"},
	{ID: "relaying-denied", Class: event.ClassPolicy,
		Any: []string{"relaying denied", "relay access denied", "relay not permitted", "relaying not allowed", "not permitted to relay",
			"unable to relay", "relay denied", "we do not relay", "relaying not permitted"},
		Example: "550 5.7.1 Relaying denied"},
	{ID: "access-denied", Class: event.ClassPolicy, Any: []string{"access denied"},
		Example: "550 5.7.1 <bob@example.com>: Recipient address rejected: Access denied"},
	{ID: "user-unknown", Class: event.ClassRecipient,
		Any: []string{"user unknown", "unknown user", "no such user", "unknown recipient", "recipient unknown", "invalid recipient",
			"recipient not found", "no such recipient", "does not exist", "doesn't exist", "user not found", "mailbox not found",
			"marked as invalid", "not a valid recipient", "invalid mailbox", "address unknown", "bad destination mailbox",
			"no mailbox", "unrouteable address", "unroutable address", "recipient address rejected", "not our customer",
			"no such mailbox", "unknown mailbox", "addressee unknown", "mailbox unavailable", "invalid address"},
		Example: "550 5.1.1 User Unknown"},

	// Policy.
	{ID: "policy", Class: event.ClassPolicy,
		Any: []string{"policy", "administrative prohibition", "not allowed", "not permitted", "access denied", "prohibited",
			"rejected by recipient", "sender denied", "sender blocked", "blocked by", "denied by", "blocked by customer",
			"refused by", "envelope blocked", "authentication required"},
		Example: "550 5.7.1 Message rejected due to local policy"},

	// No SMTP reply.
	{ID: "dns-tempfail", Class: event.ClassConnection, Codes: noReply, All: []string{"try again"},
		Any:     []string{"name service error", "host not found", "dns"},
		Example: "Host or domain name not found. Name service error for name=example.com type=MX: Host not found, try again"},
	{ID: "dns-lookup-failed", Class: event.ClassConnection, Codes: noReply,
		Any:     []string{"host lookup did not complete", "dns lookup failed", "temporary dns failure"},
		Example: "host lookup did not complete"},
	{ID: "dns-nxdomain", Class: event.ClassRecipient, Codes: noReply,
		Any:     []string{"host or domain name not found", "host not found", "domain not found", "no mx", "null mx", "mx records point to non-existent"},
		Example: "Host or domain name not found. Name service error for name=example.invalid type=A: Host not found"},
	{ID: "tls", Class: event.ClassConnection, Codes: noReply, Any: []string{"tls", "ssl", "certificate", "handshake"},
		Example: "Cannot start TLS: handshake failure"},
	{ID: "timeout", Class: event.ClassConnection, Codes: noReply, Any: []string{"timed out", "timeout"},
		Example: "connect to mx0a-00123a01.pphosted.com[148.163.150.12]:25: Connection timed out"},
	{ID: "refused", Class: event.ClassConnection, Codes: noReply, Any: []string{"connection refused", "refused"},
		Example: "connect to mx.example.com[203.0.113.25]:25: Connection refused"},
	{ID: "lost-connection", Class: event.ClassConnection, Codes: noReply,
		Any: []string{"lost connection", "closed connection", "connection reset", "connection closed", "broken pipe", "unexpected eof",
			"no route to host", "network is unreachable", "connection dropped", "connection lost", "no answer from host"},
		Example: "lost connection with mx0b-00123a01.pphosted.com[148.163.158.5] while receiving the initial server greeting"},
}

// byCode decides when no text rule matched: first by the enhanced status
// code's subject and detail, then by the SMTP code.
func byCode(smtp int, enhanced string) (event.Class, string) {
	if smtp == 0 {
		// No reply, and no words of a network failure: a loop, a local
		// configuration problem. Not a connection failure.
		return event.ClassOther, "no-reply"
	}
	if len(enhanced) >= 5 {
		subj := enhanced[2:]
		switch {
		case subj == "7.20" || subj == "7.21" || subj == "7.22" || subj == "7.23" || subj == "7.24" ||
			subj == "7.25" || subj == "7.26" || subj == "7.27":
			return event.ClassAuth, "dsn-x.7.2x"
		case subj == "7.28":
			return event.ClassRateLimit, "dsn-x.7.28"
		case subj == "1.7" || subj == "1.8":
			return event.ClassAuth, "dsn-x.1.8"
		case len(subj) >= 2 && subj[:2] == "1.":
			return event.ClassRecipient, "dsn-x.1.x"
		case subj == "2.0" || subj == "2.1" || subj == "2.2":
			return event.ClassRecipient, "dsn-x.2.x"
		case subj == "2.3" || subj == "3.4":
			return event.ClassContent, "dsn-size"
		case subj == "5.3" || subj == "4.5":
			return event.ClassRateLimit, "dsn-limit"
		case subj == "7.1" || subj == "7.0":
			return event.ClassPolicy, "dsn-x.7.x"
		}
	}
	switch smtp {
	case 421, 452:
		return event.ClassRateLimit, "code-" + itoa(smtp)
	case 552:
		return event.ClassContent, "code-552"
	}
	return event.ClassOther, "other"
}

func itoa(n int) string {
	return string([]byte{byte('0' + n/100), byte('0' + n/10%10), byte('0' + n%10)})
}
