package classify

import "github.com/ppwatch/ppwatch/pkg/event"

// Code constraints of a rule.
const (
	anyCode = iota
	noReply // SMTP code 0: nothing was said, the connection failed
	code4xx
)

// Rule decides a class from the reply text. Words are lower case; the rule
// matches when the judged text contains any of them (and, if All is set,
// every word of All as well) and the code constraints hold.
type Rule struct {
	ID      string
	Class   event.Class
	Codes   int
	Any     []string
	All     []string
	Example string // a real-format reply this rule decides; tested
}

// markers are reply texts only Proofpoint writes, or that name its lists
// and services. Any of them makes an attempt a Proofpoint one, whatever
// rule decides its class: organisations run Proofpoint under their own MX
// names, and then only the text tells. Every marker holds "pp" or
// "roofpoint" (see mayHaveMarker).
var markers = []string{
	"proofpoint.com",                // ipcheck., support.…/dnsbl-lookup.cgi, rbl-lookup.cgi, prs. (its DNSBL zones)
	"proofpoint dynamic reputation", // Postfix rbl_reason of PDR
	"proofpoint reputation service",
	"listed by proofpoint",
	"blocked using proofpoint", // "blocked using Proofpoint RBL", "… Proofpoint; see …"
	"proofpoint rbl",
	"pphosted.com",
	"ppe-hosted.com",
	"ppops.net",
}

// genericPrefixes introduce a reason without being one: Postfix's access
// and restriction replies ("<a@b>: Recipient address rejected: Greylisted,
// see …") put the verdict after them, and the address before them may hold
// any word ("<spam@example.com>"). That address is not judged, the reason
// decides, and only the fallbacks at the end of the table act on the bare
// prefix.
var genericPrefixes = []string{"recipient address rejected:", "sender address rejected:", "client host rejected:"}

// builtin is tried in order after the user's rules; the first match wins.
// The order is by specificity of the evidence, most specific first:
//
//  1. Proofpoint's own wording, then greylisting (a "come back later"
//     deferral, rate_limit whatever else the text says);
//  2. blocklist, IP and reputation evidence: a named DNSBL, a lookup URL, an
//     IP said to be blocked, banned or listed. Such a text often also says
//     "spam", "policy", "rate limited" or "access denied"; the blocklist is
//     the cause and decides;
//  3. sender authentication and DNS hygiene (DMARC, SPF, DKIM, PTR, the
//     sender's domain): before rate limits and policy, since "rate limited
//     because it is unauthenticated" and "Local Policy Violation - DMARC
//     Reject" are fixed by authenticating;
//  4. the receivers' own rate-limit wordings, then recipient problems
//     (full, disabled, unknown), content, relaying and policy: each a
//     reason as the receiver states it, a longer phrase before a shorter one
//     it contains ("mailbox size limit" before "size limit" and "limit
//     exceeded");
//  5. generic phrases last: a bare "Recipient address rejected",
//     "Sender address rejected", "Client host rejected", "limit exceeded".
//
// Rules judge the lowered reply with the codes of continuation lines
// removed and the address before a generic prefix dropped (judged); the
// no-reply rules at the end only see attempts without an SMTP code.
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
	// Receivers that query PDR's DNS zones themselves name it in their own RBL reply.
	{ID: "pp-rbl", Class: event.ClassReputation, Any: []string{"prs.proofpoint.com", "blocked using proofpoint", "proofpoint rbl"},
		Example: "554 5.7.1 Service unavailable; Client host [192.0.2.10] blocked using safe.dnsbl.prs.proofpoint.com"},

	// Greylisting: a deferral that the next retry passes. Before the
	// blocklists: some greylist through a pseudo-DNSBL ("blocked using
	// grey.rbl … Greylisting in action").
	{ID: "greylist", Class: event.ClassRateLimit,
		Any: []string{"greylist", "graylist", "grey-list", "gray-list", "grey list", "postgrey", "greylisting in action",
			"internal resource temporarily unavailable", "internal resources are temporarily unavailable"}, // Mimecast's greylisting
		Example: "450 4.2.0 <bob@example.com>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/example.com.html"},

	// Public blocklists and reputation wording of other gateways.
	{ID: "dnsbl", Class: event.ClassReputation,
		Any: []string{"spamhaus", "spamcop", "barracudacentral", "barracuda reputation", "sorbs.net", "cloudmark", "senderscore.org",
			"uceprotect", "invaluement", "spamrl.com", "mailspike", "junkemailfilter", "blocked using", "dnsbl", " rbl", "(rbl", "-rbl",
			"[rbl", "rbl:", "rbl+", "blacklist", "black list", "blocklist", "block list", "listed at ", "listed on ", "listed in ",
			"on our block", "found on one or more", "(bl)"},
		Example: "554 5.7.1 Service unavailable; Client host [192.0.2.10] blocked using zen.spamhaus.org"},
	{ID: "reputation", Class: event.ClassReputation,
		Any: []string{"reputation", "senderscore", "sender score", "ip blocked", "ip address blocked", "ip has been blocked",
			"ip is blocked", "blocked ip", "ip address is blocked", "ip address has been blocked", "poor sending history",
			"banned sending ip", "banned sender", "traffic not accepted from this ip", "blocked for spam", "for spamming",
			"spam incident", "spam ip", "block for spam", "identified as spammer", "ip source bloquee", "client host blocked", "host blocked for",
			"sending mta's poor", "permanently deferred", "not accepted from ip", "not be accepted from",
			"not authorized to send email directly", "dynamic ip", "dynamic/residential", "residential ip",
			"your access to submit messages", "bl000", "ipbl0", "cxbl", "cdrbl", "[bl2"},
		Example: "550 5.7.1 Mail from 192.0.2.10 rejected due to poor reputation"},

	// Proofpoint's bare wording, after the lists: SpamCop says "Blocked - see" too.
	{ID: "pp-blocked-see", Class: event.ClassReputation, Any: []string{"blocked - see", "deferred - see"},
		Example: "554 mx0a-00123a01.pphosted.com ESMTP Blocked - see https://www.proofpoint.com/us/products/email-protection"},

	// Sender authentication and DNS hygiene.
	{ID: "dmarc", Class: event.ClassAuth, Any: []string{"dmarc"},
		Example: "550 5.7.0 Local Policy Violation - DMARC Reject"},
	{ID: "spf", Class: event.ClassAuth, Any: []string{"spf", "sender policy framework"},
		Example: "550 5.7.23 The message was rejected because of Sender Policy Framework violation (SPF fail)"},
	{ID: "dkim", Class: event.ClassAuth, Any: []string{"dkim", "domainkeys"},
		Example: "550 5.7.20 Message rejected: no valid DKIM signature"},
	{ID: "ptr", Class: event.ClassAuth,
		Any: []string{"reverse dns", "reverse-dns", "reverse lookup", "ptr record", "rdns", "fcrdns", "no ptr", "ptr lookup",
			"valid ptr", "missing ptr", "pointer (ptr)", "cannot find your hostname", "cannot find your reverse hostname",
			"cannot resolve your address", "hostname lookup", "client host rejected: cannot find", "dns check failure"},
		Example: "550 5.7.25 The IP address sending this message does not have a PTR record setup"},
	{ID: "unauthenticated", Class: event.ClassAuth,
		Any: []string{"unauthenticated", "not authenticated", "authentication failed", "sender authentication", "failed authentication",
			"authentication checks", "authentication level"},
		Example: "550 5.7.1 Unauthenticated email is not accepted from this domain"},
	// The sender's domain has no usable DNS: it cannot be answered.
	{ID: "sender-domain", Class: event.ClassAuth, All: []string{"sender address rejected"},
		Any: []string{"domain not found", "nullmx", "null mx", "does not accept mail", "unknown mail domain", "unknown domain",
			"domain does not exist", "unresolvable", "no mx", "unroutable", "unrouteable"},
		Example: "450 4.1.8 <news@example.net>: Sender address rejected: Domain not found"},
	{ID: "sender-verify", Class: event.ClassAuth,
		Any: []string{"sender domain not found", "sender domain does not exist", "sender address does not exist", "unverified sender",
			"sender verify failed", "unresolvable rfc.5321", "sender domain must resolve"},
		Example: "550-Verification failed for <news@example.net> 550-Unrouteable address 550 Sender verify failed"},

	// The receivers' own limits: per recipient, per sender, per IP.
	{ID: "too-many", Class: event.ClassRateLimit,
		Any: []string{"too many connections", "too many concurrent", "too many messages", "too many recipients", "too many sessions",
			"too many mails", "too much mail", "too many simultaneous", "too many smtp sessions", "too many recent messages",
			"trop de connexions", "maximum number of connections", "max message per connection", "concurrent connections"},
		Example: "451 4.5.3 Too many recipients"},
	{ID: "rate-limit", Class: event.ClassRateLimit,
		Any: []string{"rate limit", "rate-limit", "ratelimit", "rate exceeded", "throttl", "burst rate", "sending rate",
			"message rate", "connection rate", "exceeded the rate", "unusual rate", "temporarily deferred due to",
			"excessive volume", "unexpected volume", "receiving mail too quickly", "receiving mail at a rate",
			"hourly message limit", "message receive limit", "per hour message", "messages they can receive per hour",
			"frequency limited", "frequency of receiving", "submission quota", "sending quota", "sending limit",
			"relay limit", "message threshold", "permitted limits", "queue quota", "server busy", "rl00000", "[tss0", "[ts0",
			"slow down"},
		Example: "452 4.7.1 burst rate limit exceeded"},

	// Recipient problems.
	{ID: "mailbox-full", Class: event.ClassRecipient,
		Any: []string{"mailbox full", "mailbox is full", "over quota", "overquota", "quota exceeded", "exceeded storage",
			"mailbox size limit", "mailbox has exceeded", "user is over", "inbox is full", "out of storage", "boite du destinataire pleine",
			"insufficient storage", "mailbox exceeds", "exceeded its storage"},
		Example: "452 4.2.2 The email account that you tried to reach is over quota"},
	{ID: "mailbox-disabled", Class: event.ClassRecipient,
		Any: []string{"account disabled", "mailbox disabled", "account has been disabled", "mailbox inactive", "account is inactive",
			"inactive user", "no longer active", "account closed", "mailbox has been disabled", "user account is expired",
			"account is disabled", "is disabled", "deactivated", "mailbox is disabled", "is no longer valid", "is inactive", "inactive email address",
			"expired account", "mailbox unallocated", "no longer on server", "no longer accepts mail", "recipient account is blocked",
			"destinataire archivee"},
		Example: "550 5.2.1 The email account that you tried to reach is disabled. account disabled"},
	// Microsoft's Directory Based Edge Blocking (and Barracuda's copy of
	// it) say "Access denied" under 5.4.1 for an address that does not
	// exist; under 5.7.1 the same words are a Postfix access map's reject.
	{ID: "dbeb-unknown", Class: event.ClassRecipient, All: []string{"5.4.1"}, Any: []string{"recipient address rejected: access denied"},
		Example: "550 5.4.1 Recipient address rejected: Access denied. For more information see https://aka.ms/EXOSmtpErrors [BN3PEPF0000B06D.namprd21.prod.outlook.com]"},
	{ID: "null-mx", Class: event.ClassRecipient,
		Any: []string{"nullmx", "null mx", "does not accept mail", "unknown mail domain", "host/domain does not accept",
			"mx or srv record indicated no smtp service"},
		Example: "556 5.1.10 <bob@example.com>: Recipient address rejected: Domain example.com does not accept mail (nullMX)"},

	// Content. Virus before spam: a virus report says "malicious".
	{ID: "virus", Class: event.ClassContent, Any: []string{"virus", "malware", "infected", "trojan", "malicious"},
		Example: "554 5.7.1 Message rejected: virus found in message"},
	{ID: "size", Class: event.ClassContent,
		Any: []string{"too big", "too large", "size exceeds", "message size", "exceeds size", "exceeds the maximum size",
			"exceeds maximum", "size limit", "email size exceeded", "taille limite"},
		Example: "552 5.3.4 message file too big"},
	{ID: "spam", Class: event.ClassContent,
		Any: []string{"spam", "junk", "bulk mail", "message content", "content rejected", "content policy", "content filter",
			"content denied", "content examination", "its content presents", "message filtered", "banned content", "spam url", "suspicious", "phish", "unsolicited", "attachment",
			"not accepted for content", "mail rejete"},
		Example: "550 5.7.1 Message rejected as spam by Content Filtering"},

	// Exim's routing failures of a remote domain, logged without a host or
	// a reply: the domain's mail could not be routed (no usable MX, all
	// hosts failing), which is a connection problem, not an unknown user.
	// Before user-unknown, whose "unrouteable address" is a remote reply's.
	{ID: "routing-failed", Class: event.ClassConnection, Codes: noReply,
		Any: []string{"unrouteable address", "unroutable address", "mx records point to non-existent hosts", "all hosts for ",
			"all relevant mx records", "lookup of host ", "all host address lookups failed"},
		Example: "Unrouteable address"},
	{ID: "user-unknown", Class: event.ClassRecipient,
		Any: []string{"user unknown", "unknown user", "no such user", "unknown recipient", "recipient unknown", "invalid recipient",
			"invalid-recipient", "recipient not found", "no such recipient", "does not exist", "doesn't exist", "user not found",
			"mailbox not found", "marked as invalid", "not a valid recipient", "not a valid email address", "invalid mailbox",
			"address unknown", "bad destination mailbox", "no mailbox", "unrouteable address", "unroutable address",
			"not our customer", "no such mailbox", "unknown mailbox", "addressee unknown", "mailbox unavailable", "invalid address",
			"undeliverable address", "unknown or illegal alias", "user doesn't have a", "destinataire invalide"},
		Example: "550 5.1.1 User Unknown"},

	// Policy.
	{ID: "relaying-denied", Class: event.ClassPolicy,
		Any: []string{"relaying denied", "relay access denied", "relay not permitted", "relaying not allowed", "not permitted to relay",
			"unable to relay", "relay denied", "we do not relay", "relaying not permitted", "relaying disallowed", "open relay",
			"as a relay", "mail relay denied", "no-domain"},
		Example: "550 5.7.1 Relaying denied"},
	{ID: "access-denied", Class: event.ClassPolicy, Any: []string{"access denied"},
		Example: "550 5.7.1 <bob@example.com>: Recipient address rejected: Access denied"},
	{ID: "policy", Class: event.ClassPolicy,
		Any: []string{"policy", "policies", "administrative prohibition", "not allowed", "not permitted", "access denied", "prohibited",
			"rejected by recipient", "sender denied", "sender blocked", "blocked by", "denied by", "blocked by customer",
			"refused by", "envelope blocked", "authentication required", "block-send", "block-rcpt", "delivery not authorized",
			"envelope rejected", "not authorized"},
		Example: "550 5.7.1 Message rejected due to local policy"},

	// Generic prefixes whose reason said nothing more specific.
	// Proofpoint Essentials throttles with this bare wording.
	{ID: "pp-sender-rejected", Class: event.ClassRateLimit, Codes: code4xx, Any: []string{"sender address rejected"},
		Example: "450 4.7.1 Sender address rejected"},
	{ID: "sender-rejected", Class: event.ClassPolicy, Any: []string{"sender address rejected", "sender rejected", "invalid sender", "emetteur invalide"},
		Example: "550 5.1.0 <news@example.net>: Sender address rejected: not owned by user"},
	// After the sender's: "address rejected" is in both prefixes.
	{ID: "recipient-rejected", Class: event.ClassRecipient, Any: []string{"recipient address rejected", "recipient rejected", "address rejected"},
		Example: "554 5.7.1 <bob@example.com>: Recipient address rejected: Not in recipient list"},
	{ID: "client-rejected", Class: event.ClassPolicy, Any: []string{"client host rejected", "service refuse", "service refused"},
		Example: "554 5.7.1 Client host rejected LPN000_630"},
	{ID: "limit-exceeded", Class: event.ClassRateLimit, Any: []string{"limit exceeded", "limit reached", "exceeded the limit", "exceeded their limit"},
		Example: "452 4.3.1 Daily message limit exceeded"},

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
	// Not "handshake" alone: Postfix's "lost connection with H[ip] while
	// performing the EHLO handshake" is no TLS failure.
	{ID: "tls", Class: event.ClassConnection, Codes: noReply, Any: []string{"tls", "ssl", "certificate", "handshake failure"},
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
