// Package postfix parses Postfix delivery attempts.
//
// An attempt is a line of the smtp, lmtp or error service (retry is error's
// other name) carrying "<queue id>: to=<rcpt>, … relay=…, … status=…
// (text)". Everything else is not an attempt, with these traps:
//
//   - local, virtual, pipe and discard deliveries are local, and lmtp to a
//     unix socket (relay=host[/path] or host[private/…]) is an internal hop:
//     none of them is an outbound attempt. Loopback relays (content filters)
//     are filtered later by the configurable internal relay list, so a test
//     system may still deliver over loopback.
//   - "<qid>: host H[ip] said: …" without to= precedes the real attempt line
//     and is not an attempt of its own.
//   - a 5xx at the banner is logged status=deferred dsn=4.x.x because Postfix
//     retries: the reply is kept verbatim with its own 5xx code, the status
//     stays the MTA's verdict.
//   - with relay=none (no connection, or postfix/error repeating an earlier
//     reason) the relay host and IP are read from the text when it names one
//     ("host H[ip] said:", "refused to talk to me:", "connect to",
//     "lost connection with", "conversation with", "SASL authentication
//     failed; server H[ip] said:"), after a "delivery temporarily
//     suspended: " prefix too.
//   - the reason may nest parentheses ("(host … said: 550 … (see …) (in
//     reply to RCPT TO command))") and be followed by blanks; orig_to= is
//     quoted like to= and may hold ", "; Solaris syslogd puts "[ID n
//     mail.info] " after the tag.
//
// The word after "status=" decides (every word Postfix writes; log_adhoc.c
// builds the per-recipient lines, the callers name the word):
//
//	word                          written by               result
//	sent                          sent.c                   attempt, delivered
//	deferred                      defer.c                  attempt, deferred
//	bounced                       bounce.c                 attempt, bounced
//	SOFTBOUNCE                    bounce.c, soft_bounce    attempt, deferred
//	deliverable                   sent.c, probe            ignored
//	undeliverable                 bounce.c/defer.c, probe  ignored
//	undeliverable-but-not-cached  verify.c, probe          ignored
//	expired                       qmgr, per message        ignored
//	anything else                                          malformed
//
// SOFTBOUNCE is what bounce.c writes instead of bounced when soft_bounce =
// yes: the message stays queued, and the logged dsn's first digit is
// rewritten to 4 ("dsn=4.7.1" for a "501 5.7.1" reply). The reply is kept
// verbatim with its own code. The three probe words come from address
// verification (reject_unverified_*, sendmail -bv): a probe delivers no
// mail, so it is no attempt whatever the remote said. "<qid>: from=<s>,
// status=expired, returned to sender" (qmgr) and "<qid>: status=deferred
// (bounce failed)" (bounce client) are per message, have no to= and are
// ignored; expired on a to= line (which Postfix does not write) is ignored
// too. Words are matched exactly: Postfix writes them in one case only, and
// a word ends at a space, a comma or the end of the line, so a hyphenated
// word is read whole.
//
// The envelope sender is not on the attempt line: the qmgr "from=" line
// gives it, and a bounded correlator (MaxSenders queue IDs, oldest first out;
// "removed" frees an entry) fills Sender of later attempts of that message.
package postfix

import (
	"strings"

	"github.com/ppwatch/ppwatch/parsers/mtalog"
	"github.com/ppwatch/ppwatch/pkg/event"
)

// Parser reads Postfix log lines. It keeps the correlator, so use one Parser
// per log stream, on one goroutine.
type Parser struct {
	clock   mtalog.Clock
	senders *mtalog.Senders
}

// New returns a Parser.
func New(opts mtalog.Options) *Parser {
	return &Parser{clock: opts.Clock(), senders: opts.Senders()}
}

// Sniff reports whether line looks like a Postfix log line: a syslog
// prefix of any shape the parser reads (optional <PRI>; RFC 3164 with
// either day padding, optional fraction; RFC 3339 and journalctl
// short-iso; BusyBox's facility.level before the tag) whose tag is
// "<syslog_name>/<service>" with a Postfix service or command name as the
// last part ("postfix/master", "postfix-out/smtp",
// "postfix/submission/smtpd"), or the bare "postfix" and "postfix-script"
// tags. It only looks at the prefix's shape (the timestamp's values are
// Parse's business) and does not allocate: detection calls it on up to
// 2,000 lines.
func Sniff(line string) bool {
	tag, ok := mtalog.SyslogTag(line)
	if !ok {
		return false
	}
	slash := strings.LastIndexByte(tag, '/')
	if slash < 0 {
		return tag == "postfix" || tag == "postfix-script"
	}
	return slash > 0 && isService(tag[slash+1:])
}

// isService reports whether name is a Postfix daemon (master.cf's command
// names) or a Postfix command that logs.
func isService(name string) bool {
	switch name {
	case "anvil", "bounce", "cleanup", "discard", "dnsblog", "error", "flush",
		"lmtp", "local", "master", "nqmgr", "oqmgr", "pickup", "pipe",
		"postlogd", "postscreen", "proxymap", "qmgr", "qmqpd", "retry",
		"scache", "showq", "smtp", "smtpd", "spawn", "tlsmgr", "tlsproxy",
		"trivial-rewrite", "verify", "virtual",
		// commands
		"mailq", "newaliases", "postalias", "postcat", "postconf", "postdrop",
		"postfix", "postfix-script", "postfix-tls-script", "postkick",
		"postlock", "postlog", "postmap", "postmulti", "postmulti-script",
		"postqueue", "postsuper", "post-install", "sendmail":
		return true
	}
	return false
}

// Parse reads one line; see mtalog.Parser.
func (p *Parser) Parse(line string, ev *event.Delivery) (bool, error) {
	line = strings.TrimSuffix(line, "\r")
	// Most lines are noise: decide from the first '=' alone. An attempt's
	// first key is "to=", a qmgr sender line's "from=", and "removed" has
	// none. From there on an attempt line is read in one forward pass:
	// prefix, queue id (up to the "to=" found here), recipient, the fields
	// up to status=, the word and its text.
	eq := strings.IndexByte(line, '=')
	isTo := false
	switch {
	case eq >= 4 && line[eq-4:eq] == ": to":
		isTo = true
	case eq >= 6 && line[eq-6:eq] == ": from" && p.senders != nil:
	case eq >= 12 && line[eq-12:eq] == ": message-id" && p.senders != nil:
	case eq < 0 && p.senders != nil && strings.HasSuffix(line, ": removed"):
	default:
		return false, nil
	}
	sl, ok, err := p.clock.ParseSyslog(line)
	if err != nil || !ok {
		// A damaged attempt (a lost first character) is malformed, other
		// damaged lines are noise.
		if isTo && strings.Contains(line[eq:], " status=") {
			if err == nil {
				err = mtalog.Errorf("prefix", "no syslog timestamp, host and tag")
			}
			return false, err
		}
		return false, nil
	}
	slash := strings.LastIndexByte(sl.Tag, '/')
	if slash <= 0 {
		return false, nil
	}
	service := sl.Tag[slash+1:]
	switch service {
	case "smtp", "lmtp", "error", "retry":
	case "qmgr":
		p.qmgr(solarisID(sl.Msg))
		return false, nil
	case "cleanup":
		if p.senders != nil {
			p.cleanup(solarisID(sl.Msg))
		}
		return false, nil
	default:
		return false, nil
	}
	if !isTo {
		return false, nil
	}
	// sl.Msg is the tail of line: "<qid>: to=<rcpt>, ..."
	msg := len(line) - len(solarisID(sl.Msg))
	if eq-4 < msg {
		return false, mtalog.Errorf("queue_id", "missing")
	}
	qid, rest := line[msg:eq-4], line[eq+1:]
	if len(rest) == 0 || rest[0] != '<' {
		return false, mtalog.Errorf("to", "no <address>")
	}
	rest = rest[1:]
	if !validQueueID(qid) {
		return false, mtalog.Errorf("queue_id", "invalid queue id %q", clip(qid))
	}
	*ev = event.Delivery{}
	ev.Time = sl.Time.UTC()
	ev.MTA = event.Postfix
	ev.Host = sl.Host
	ev.Instance = sl.Tag[:slash]
	ev.QueueID = qid

	// to=<rcpt>: a quoted local part may hold ", " and ">", so the address
	// ends at the first ">, ".
	end := index(rest, ">, ")
	if end < 0 {
		return false, mtalog.Errorf("to", "unterminated recipient")
	}
	ev.Recipient = rest[:end]
	ev.RecipientDomain = event.DomainOf(ev.Recipient)
	if ev.RecipientDomain == "" {
		return false, mtalog.Errorf("to", "recipient %q has no domain", clip(ev.Recipient))
	}
	rest = rest[end+3:]

	var relay, dsn string
	haveRelay := false
	for {
		if strings.HasPrefix(rest, "status=") {
			rest = rest[len("status="):]
			break
		}
		if strings.HasPrefix(rest, "orig_to=<") {
			// quoted like to=, so it may hold ", " too
			e := index(rest, ">, ")
			if e < 0 {
				return false, mtalog.Errorf("orig_to", "unterminated address")
			}
			ev.OrigRecipient = rest[len("orig_to=<"):e]
			rest = rest[e+3:]
			continue
		}
		comma := index(rest, ", ")
		if comma < 0 {
			return false, mtalog.Errorf("status", "missing")
		}
		kv := rest[:comma]
		rest = rest[comma+2:]
		switch {
		case strings.HasPrefix(kv, "relay="):
			relay, haveRelay = kv[len("relay="):], true
		case strings.HasPrefix(kv, "dsn="):
			dsn = kv[len("dsn="):]
		}
	}
	if !haveRelay {
		return false, mtalog.Errorf("relay", "missing")
	}

	n := 0
	for n < len(rest) && rest[n] != ' ' && rest[n] != ',' {
		n++
	}
	// trailing blanks occur in pasted and relayed lines
	word, text := rest[:n], strings.Trim(rest[n:], " \t")
	switch word {
	case "sent":
		ev.Status = event.Delivered
	case "deferred", "SOFTBOUNCE":
		ev.Status = event.Deferred
	case "bounced":
		ev.Status = event.Bounced
	case "deliverable", "undeliverable", "undeliverable-but-not-cached", "expired":
		return false, nil
	default:
		return false, mtalog.Errorf("status", "unknown value %q", clip(word))
	}
	if len(text) >= 2 && text[0] == '(' && text[len(text)-1] == ')' {
		text = text[1 : len(text)-1]
	}

	if relay != "none" {
		host, ip, ok := mtalog.HostIP(relay)
		if !ok {
			return false, mtalog.Errorf("relay", "no [address] in %q", clip(relay))
		}
		if strings.IndexByte(ip, '/') >= 0 {
			// A unix-domain socket: lmtp to a local mail store.
			return false, nil
		}
		if _, ok := mtalog.ParseIP(ip); !ok {
			return false, mtalog.Errorf("relay", "bad address %q", clip(ip))
		}
		ev.RelayHost, ev.RelayIP = host, ip
	}

	reply, peer := splitText(text)
	if ev.RelayHost == "" && peer != "" {
		if host, ip, ok := mtalog.HostIP(peer); ok {
			if _, ok := mtalog.ParseIP(ip); ok {
				ev.RelayHost, ev.RelayIP = host, ip
			}
		}
	}
	ev.Response = reply
	ev.SMTPCode, ev.EnhancedCode = mtalog.SplitReply(reply)
	if ev.EnhancedCode == "" && validDSN(dsn) {
		ev.EnhancedCode = dsn
	}
	if p.senders != nil {
		ev.Sender, ev.MessageID, _ = p.senders.Get(qid)
	}
	return true, nil
}

// solarisID drops the "[ID 897546 mail.info] " that Solaris syslogd puts
// after the tag.
func solarisID(msg string) string {
	if strings.HasPrefix(msg, "[ID ") {
		if e := strings.Index(msg, "] "); e > 0 {
			return msg[e+2:]
		}
	}
	return msg
}

// splitText returns the remote reply inside Postfix's status text, and the
// "host[ip]" it names. Without a reply (timeouts, refused connections, DNS)
// the whole text is the response and the code stays 0.
func splitText(text string) (reply, peer string) {
	text = strings.TrimPrefix(text, "delivery temporarily suspended: ")
	if len(text) > 0 && text[0] >= '2' && text[0] <= '5' {
		return text, "" // the reply itself, as for status=sent
	}
	rest, ok := strings.CutPrefix(text, "host ")
	if !ok {
		// smtp's "SASL authentication failed; server H[ip] said: 535 ..."
		rest, ok = strings.CutPrefix(text, "SASL authentication failed; server ")
	}
	// "H[ip]" is one word, and the marker follows it.
	if sp := strings.IndexByte(rest, ' '); ok && sp > 0 {
		for _, marker := range [...]string{" said: ", " refused to talk to me: "} {
			if !strings.HasPrefix(rest[sp:], marker) {
				continue
			}
			peer = rest[:sp]
			reply = rest[sp+len(marker):]
			// Postfix's own note, not part of the reply.
			if j := strings.LastIndex(reply, " (in reply to "); j >= 0 && strings.HasSuffix(reply, ")") {
				reply = reply[:j]
			}
			return strings.TrimSpace(reply), peer
		}
	}
	for _, prefix := range []string{"connect to ", "lost connection with ", "conversation with "} {
		if strings.HasPrefix(text, prefix) {
			rest := text[len(prefix):]
			if e := strings.IndexByte(rest, ']'); e > 0 {
				peer = rest[:e+1]
			}
			break
		}
	}
	return text, peer
}

func (p *Parser) qmgr(msg string) {
	qid, rest, ok := strings.Cut(msg, ": ")
	if !ok || !validQueueID(qid) {
		return
	}
	if rest == "removed" {
		p.senders.Remove(qid)
		return
	}
	if !strings.HasPrefix(rest, "from=<") {
		return
	}
	rest = rest[len("from=<"):]
	end := index(rest, ">, ")
	if end < 0 {
		return
	}
	if strings.Contains(rest[end:], "status=expired") {
		return
	}
	_, mid, _ := p.senders.Get(qid)
	p.senders.Put(qid, rest[:end], mid)
}

// cleanup reads "<qid>: message-id=<id>": the Message-ID of the message,
// before qmgr names its sender.
func (p *Parser) cleanup(msg string) {
	qid, rest, ok := strings.Cut(msg, ": message-id=")
	if !ok || !validQueueID(qid) {
		return
	}
	mid := strings.TrimSuffix(strings.TrimPrefix(rest, "<"), ">")
	if mid == "" || strings.ContainsAny(mid, " <>") {
		return
	}
	p.senders.SetMessageID(qid, mid)
}

// index is strings.Index for the separators of an attempt line (">, "
// ends an address, ", " a field): a byte search for the first byte and a
// compare beat a substring search on these short fields, and the fields
// loop runs for every attempt.
func index(s, sep string) int {
	for i := 0; ; i++ {
		j := strings.IndexByte(s[i:], sep[0])
		if j < 0 {
			return -1
		}
		i += j
		if strings.HasPrefix(s[i:], sep) {
			return i
		}
	}
}

// validQueueID accepts short hex IDs and long IDs (enable_long_queue_ids).
func validQueueID(s string) bool {
	if len(s) < 5 || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}

func validDSN(s string) bool {
	return s != "" && mtalog.LeadingEnhanced(s) == s
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
