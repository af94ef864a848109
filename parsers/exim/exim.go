// Package exim parses Exim delivery attempts from the main log or from
// syslog (log_file_path = syslog).
//
// A main log line is
//
//	YYYY-MM-DD hh:mm:ss[.mmm] [+hhmm] [[pid]] <msgid> <flag> <address> [fields] [: text]
//
// (.mmm with log_selector +millisec, +hhmm with log_timezone, [pid] with
// +pid). Zone-less timestamps are read in Options.Location. Via syslog the
// same text follows a syslog prefix and the tag exim or exim4, with or
// without Exim's own timestamp (syslog_timestamp); when it is there it wins,
// because it carries the year and the milliseconds. Message ids are
// 1e4Ssq-00024N-Sp (up to 4.96) or 10HmaX-000000005vi-0000 (4.97+).
//
// Flags: "=>" delivery, "->" a further address of the same delivery, ">>"
// cutthrough delivery (all delivered), "==" deferred, "**" failed (bounced).
// "<=" (arrival) and "Completed" feed the envelope-sender correlator; other
// lines are not attempts. Fields are read by key, in any order, and unknown
// keys are skipped, so new log_selector items do not break parsing: R= router,
// T= transport (the event's Instance), H=host [ip][:port][*] (DS after the
// name with +dnssec; the * marks a reused connection), I=[ip][:port] (the
// source IP, with +outgoing_interface +incoming_interface), F=<sender> (+sender_on_delivery, wins
// over the correlator), C="…" the remote confirmation with \" and \\
// escaped, DN="…", X=, CV=, K, QT=, DT=. A failure or deferral carries its
// reason after ": " (for "==" after "defer (errno)", with strerror first
// when errno > 0); a failure may end with " DT=…", which is not reply text.
//
// Response is the remote reply from its SMTP code on, verbatim as Exim logs
// it: multi-line replies stay joined with Exim's literal "\n". The reply is
// the first "NNN " or "NNN-" at the start of the reason or right after a
// ": ", wherever Exim's lead-in puts it: "SMTP error from remote mail server
// after <command>: " (older releases "… remote mailer …" and then "host NAME
// [IP]: ", which also gives the relay), "PRDR error after DATA: ", "(EHLO
// response was: …)", "after pipelined MAIL FROM:<…> SIZE=…: "; digits inside
// <addresses> never count. Without a reply (timeouts, refused or closed
// connections, routing failures) Response is Exim's error text and SMTPCode
// is 0; when the strerror stands before H= ("defer (110): Connection timed
// out H=mx [ip]: SMTP timeout …") it is the reason, as on the lines that
// name no host. EnhancedCode comes from the reply only: Exim logs no DSN
// field.
//
// Outbound attempts: "=>", "->" and ">>" count only with H=host [ip] (a
// local transport logs at most H=name without an address). Pipes, files,
// autoreplies and :blackhole: (addresses starting with |, / or >, or
// without a domain) never count. A "=="/"**" line counts when
//   - it names a remote host: H=host [ip], or a host in Exim's text
//     ("Remote host NAME [IP] closed connection", "host NAME [IP]: 550 …",
//     "SMTP timeout while connected to NAME [IP]", "Failed to connect to
//     NAME [IP]");
//   - its text is a routing failure of a remote domain, with or without R=
//     and T= (what dnslookup and manualroute write, or Exim when no router
//     takes the address): "Unrouteable address", "all relevant MX records
//     point to non-existent hosts", "an MX or SRV record indicated no SMTP
//     service", "host lookup did not complete", "lookup of host "x" failed
//     in r router", "all host address lookups failed …", "lowest numbered MX
//     record points to local host", "remote host address is the local host";
//   - it has T= and its text is one only the smtp transport writes: a
//     connection strerror ("Connection refused", "Connection timed out",
//     "No route to host", "Network is unreachable", …) alone or before ": "
//     and the message, "SMTP error from remote mail…", "SMTP timeout …",
//     "Remote host …", "send() to …", "Malformed SMTP re…", TLS and DANE
//     errors, "PRDR error after …".
//
// Anything else is not an attempt: router decisions (R= without T=: a
// :fail: or :defer: text, "No Such User Here" from a redirect, "just
// discard", forced defers, filter errors) and local transports (appendfile,
// pipe, lmtp to a socket — "Connection refused: Failed to connect to socket
// …" —, dovecot_delivery, a smtp transport's own configuration errors). The
// transport's name is never looked at.
//
// Traps:
//   - Lines that log that nothing was tried are not attempts: "== … defer
//     (-52|-53|-54): retry time not reached…" and every other retry-class
//     deferral (errno ≤ -51: queue_domains, local-only, transport limits),
//     "retry time not reached" in any wording ("all hosts for 'x' have been
//     failing for a long time (and retry time not reached)"), "all hosts
//     have been failing for a long time and were last tried after this
//     message arrived", "defer (-1): first-pass only routing due to -odqs,
//     queue_smtp_domains or control=queue" (older "defer (0): SMTP delivery
//     explicitly queued"), and "** …: retry timeout exceeded" alone. When an
//     attempt's 4xx turns into a failure at the retry cutoff, Exim appends
//     ": retry timeout exceeded" to the reply; that suffix is not reply text
//     and is dropped.
//   - Exim logs each failing host on its own line ("H=mx [ip] Connection
//     timed out", older "mx [ip] Connection timed out", "Failed to connect
//     to mx [ip]: Connection timed out", "H=mx [ip]: SMTP error …" when more
//     hosts follow) before the one "==" line: those lines are not attempts,
//     but the parser remembers the last one per message so that a "== …
//     defer (110): Connection timed out", which names no host, gets the
//     relay of the host that failed that way (a silent Proofpoint MX is then
//     still recognisable by its name).
//   - Lines without a message id (ACL logwrite lines such as "[127.0.0.1]
//     -> x", "H=(helo) [ip] …" connection lines, queue runs) are not
//     attempts and not damaged, even when a flag follows; a token shaped
//     like a message id that is not one is damage.
//   - Exim splits syslog lines longer than 870 bytes into "[1/3] …",
//     "[2/3] …": the parts are joined per exim pid (parts of other processes
//     may come between) and the attempt is returned on the last part; the
//     earlier parts are skipped, as is a part whose start was never seen.
//   - Lines may live in a buffer the caller reuses, so nothing of a line is
//     kept as a substring: the timestamp cache, the host memo and the sender
//     arena copy bytes.
//
// The envelope sender is not on attempt lines unless +sender_on_delivery is
// set: a bounded correlator (see mtalog.DefaultMaxSenders) remembers it from "<="
// until "Completed", so a Parser is stateful; use one per log stream, on one
// goroutine.
package exim

import (
	"strings"
	"time"

	"github.com/ppwatch/ppwatch/parsers/mtalog"
	"github.com/ppwatch/ppwatch/pkg/event"
)

// Parser reads Exim log lines.
type Parser struct {
	clock   mtalog.Clock // syslog prefixes, and Zoneless for the main log's own stamps
	senders *mtalog.Senders
	host    hostMemo
	splits  [4]splitLine
	ts      stampCache
}

// New returns a Parser.
func New(opts mtalog.Options) *Parser {
	return &Parser{clock: opts.Clock(), senders: opts.Senders()}
}

// Sniff reports whether line clearly is an Exim log line: a syslog line
// tagged exim or exim4, or a main-log timestamp (with optional [pid])
// followed by a message id or by a text Exim writes without one (see
// mainLogText).
func Sniff(line string) bool {
	if isStampStart(line) {
		s, ok := skipStamp(line)
		if !ok {
			return false
		}
		s = skipPid(s)
		sp := strings.IndexByte(s, ' ')
		if sp > 0 && isMsgID(s[:sp]) {
			return true
		}
		return mainLogText(s)
	}
	tag, ok := mtalog.SyslogTag(line)
	return ok && (tag == "exim" || tag == "exim4")
}

// mainLogText reports the main-log texts without a message id: queue runs
// ("Start queue run: pid=…", "Start 'name' queue run: …"), daemon starts
// ("exim 4.97 daemon started: …"), SMTP connection events, lines about a
// client host ("H=(helo) [ip] … rejected RCPT …", "no host name found for IP
// address …", "TLS error on connection from …") and ACL logwrite lines that
// start with the client's address ("[127.0.0.1] -> x").
func mainLogText(s string) bool {
	for _, m := range [...]string{
		"Start queue run: ", "End queue run: ", "SMTP connection from ", "SMTP command timeout on connection from ",
		"SMTP data timeout ", "SMTP call from ", "SMTP protocol ", "SMTP syntax error ", "SMTP connection lost ",
		"no host name found for IP address ", "TLS error on connection from ", "unexpected disconnection while reading SMTP command ",
		"no MAIL in SMTP connection from ", "Connection from [", "rejected EHLO ", "rejected HELO ", "VRFY failed for ",
		"EXPN failed for ", "ETRN ", "cwd=", "Warning: ",
	} {
		if strings.HasPrefix(s, m) {
			return true
		}
	}
	head := s[:min(len(s), 80)]
	switch {
	case strings.HasPrefix(s, "Start '") || strings.HasPrefix(s, "End '"):
		return strings.Contains(head, "' queue run: ")
	case strings.HasPrefix(s, "exim "): // "exim 4.97 daemon started: …"
		v := s[5:]
		sp := strings.IndexByte(v[:min(len(v), 24)], ' ')
		return sp > 0 && strings.IndexByte(v[:sp], '.') >= 0 && strings.HasPrefix(v[sp:], " daemon started")
	case strings.HasPrefix(s, "H="): // H=[ip], H=name [ip], H=(helo) [ip], H=name (helo) [ip]
		r := s[2:]
		if !strings.HasPrefix(r, "[") {
			k := strings.Index(r[:min(len(r), 300)], " [")
			if k < 0 {
				return false
			}
			r = r[k+1:]
		}
		_, _, ok := bracketIP(r)
		return ok
	case strings.HasPrefix(s, "["):
		_, rest, ok := bracketIP(s)
		return ok && strings.HasPrefix(rest, " ")
	}
	return false
}

// Parse reads one line; see mtalog.Parser.
func (p *Parser) Parse(line string, ev *event.Delivery) (bool, error) {
	line = strings.TrimSuffix(line, "\r")
	if isStampStart(line) {
		return p.logLine(ev, line, time.Time{}, false, false)
	}
	if i := strings.Index(line, "exim"); i > 0 && i < 200 {
		sl, ok, err := parseSyslog(&p.clock, line)
		if err != nil {
			if findAttempt(line) >= 0 {
				return false, err
			}
			return false, nil
		}
		if ok {
			if sl.Tag != "exim" && sl.Tag != "exim4" {
				return false, nil
			}
			return p.syslogLine(ev, line, sl)
		}
	}
	if findAttempt(line) >= 0 {
		return false, mtalog.Errorf("time", "no timestamp before the message id")
	}
	return false, nil
}

// logLine reads "[timestamp ][[pid] ]<msgid> <flag> …". When fromSyslog is
// set, the timestamp is optional and t is used without it.
func (p *Parser) logLine(ev *event.Delivery, s string, t time.Time, fromSyslog, truncated bool) (bool, error) {
	if isStampStart(s) {
		var err error
		var rest string
		t, rest, err = p.stamp(s)
		if err != nil {
			if findAttempt(s) >= 0 {
				return false, err
			}
			return false, nil
		}
		s = rest
	} else if !fromSyslog {
		return false, nil
	}
	s = skipPid(s)
	sp := strings.IndexByte(s, ' ')
	if sp <= 0 {
		return false, nil
	}
	id, rest := s[:sp], s[sp+1:]
	flag, after := rest, ""
	if i := strings.IndexByte(rest, ' '); i >= 0 {
		flag, after = rest[:i], rest[i+1:]
	}
	status := attemptFlag(flag)
	// An attempt's id, and an arrival's the sender is kept under, are
	// checked whole; for the other lines (Completed, a failing host's line)
	// the id only keys the host memo, and its shape is enough: every line
	// comes here.
	if status != "" || flag == "<=" && p.senders != nil {
		if !isMsgID(id) {
			// ACL logwrite lines ("[127.0.0.1] -> ''") and connection lines
			// ("H=(helo) [ip] …") carry no id: only a damaged id is an error.
			if status != "" && looksLikeID(id) {
				return false, mtalog.Errorf("queue_id", "invalid message id %q", clip(id))
			}
			return false, nil
		}
	} else if !idShape(id) {
		return false, nil
	}
	switch flag {
	case "<=":
		if p.senders != nil && after != "" {
			snd := firstAddress(after)
			mid := fieldValue(after[len(snd):], " id=")
			if snd == "<>" {
				snd = ""
			}
			p.senders.Put(id, snd, mid)
		}
		return false, nil
	case "Completed":
		if p.senders != nil {
			p.senders.Remove(id)
		}
		p.host.forget(id)
		return false, nil
	}
	if status == "" {
		p.host.note(id, rest)
		return false, nil
	}
	return p.attempt(ev, t, id, status, after, truncated)
}

func attemptFlag(f string) event.Status {
	switch f {
	case "=>", "->", ">>":
		return event.Delivered
	case "==":
		return event.Deferred
	case "**":
		return event.Bounced
	}
	return ""
}

// fields collects what an attempt line says after its address.
type fields struct {
	sender    string
	hasSender bool
	router    string
	transport string
	host, ip  string
	hasHost   bool // H= was present
	hostIP    bool // …and carried [ip]
	sourceIP  string
	conf      string
	hasConf   bool
	hasDefer  bool
	errno     int
	strerr    string
	joined    bool   // strerr runs on into the reason ("defer (110): Connection timed out: SMTP timeout …")
	text      string // reason after ": " (with strerror in front when contiguous)
	hasText   bool
}

func (p *Parser) attempt(ev *event.Delivery, t time.Time, id string, status event.Status, s string, truncated bool) (bool, error) {
	if t.Year() < 1970 { // year 1 would even read as the zero time
		return false, mtalog.Errorf("time", "implausible year %d", t.Year())
	}
	if s == "" {
		return false, mtalog.Errorf("recipient", "missing after the flag")
	}
	// Pipes, files and autoreplies (">addr") may hold spaces; they are local.
	if s[0] == '|' || s[0] == '/' || s[0] == '>' {
		return false, nil
	}
	var f fields
	if s[0] == '"' && strings.IndexByte(s[1:], '"') < 0 {
		return false, mtalog.Errorf("recipient", "unterminated quoted local part")
	}
	rcpt := firstAddress(s)
	rest := s[len(rcpt):]
	inText := false
	if strings.HasSuffix(rcpt, ":") {
		rcpt, inText = rcpt[:len(rcpt)-1], true
	}
	var orig string
	if !inText {
		if strings.HasPrefix(rest, " (") { // parents, with +all_parents
			j := strings.IndexByte(rest, ')')
			if j < 0 {
				return false, mtalog.Errorf("recipient", "unterminated parent list")
			}
			rest = rest[j+1:]
		}
		if strings.HasPrefix(rest, " <") {
			j := strings.IndexByte(rest, '>')
			if j < 0 {
				return false, mtalog.Errorf("recipient", "unterminated original address")
			}
			orig, rest = rest[2:j], rest[j+1:]
		}
	}
	if inText {
		f.text, f.hasText = strings.TrimPrefix(rest, " "), true
	} else if err := f.read(rest, truncated); err != nil {
		return false, err
	}

	domain := event.DomainOf(rcpt)
	if domain == "" {
		if f.hostIP {
			return false, mtalog.Errorf("recipient", "address %q has no domain", clip(rcpt))
		}
		return false, nil // local part only: a local delivery
	}

	var text string // Exim's reason text for "=="/"**"
	if status != event.Delivered {
		text = f.text
		if !f.hasText {
			text = f.strerr
		}
		text = strings.TrimSpace(trimDT(text))
		if notTried(status, &f, text) {
			return false, nil
		}
	}
	if !f.hostIP {
		if f.hasHost || status == event.Delivered {
			return false, nil // local transport
		}
		if !outbound(&f, text) {
			return false, nil
		}
	}

	*ev = event.Delivery{}
	ev.Time = t.UTC()
	ev.MTA = event.Exim
	ev.Instance = f.transport
	ev.QueueID = id
	ev.Recipient = rcpt
	ev.OrigRecipient = orig
	ev.RecipientDomain = domain
	ev.RelayHost, ev.RelayIP = f.host, f.ip
	ev.SourceIP = f.sourceIP
	ev.Status = status
	if p.senders != nil {
		// The arrival line gives the Message-ID even where F= (Exim's
		// +sender_on_delivery) gives the sender.
		ev.Sender, ev.MessageID, _ = p.senders.Get(id)
	}
	if f.hasSender {
		ev.Sender = f.sender
	}

	if status == event.Delivered {
		if f.hasConf {
			ev.Response = strings.TrimSpace(f.conf)
			ev.SMTPCode, ev.EnhancedCode = mtalog.SplitReply(ev.Response)
		}
		return true, nil
	}

	reply, host, ip := remoteReply(text)
	switch {
	case reply != "":
		ev.Response = reply
		ev.SMTPCode, ev.EnhancedCode = mtalog.SplitReply(reply)
	case f.strerr != "" && !f.joined:
		// "defer (110): Connection timed out H=mx [ip]: SMTP timeout …":
		// the reason is the strerror, as on the lines that name no host.
		ev.Response = f.strerr
	default:
		ev.Response = text
		host, ip, _ = hostInText(text)
	}
	if ev.RelayIP == "" {
		switch {
		case ip != "":
			ev.RelayHost, ev.RelayIP = host, ip
		case f.transport != "":
			key := f.strerr
			if key == "" {
				key = text
			}
			ev.RelayHost, ev.RelayIP = p.host.recall(id, key)
		}
	}
	return true, nil
}

// read parses the fields after the address(es).
func (f *fields) read(rest string, truncated bool) error {
	for len(rest) > 0 {
		if rest[0] == ' ' {
			rest = rest[1:]
			continue
		}
		if rest[0] == ':' {
			f.setText(rest[1:])
			return nil
		}
		j := strings.IndexByte(rest, ' ')
		if j < 0 {
			j = len(rest)
		}
		tok := rest[:j]
		if k := angleKey(tok); k > 0 { // F=<…>, P=<…>, SRS=<…>: a quoted local part may hold spaces
			end := angleEnd(rest, k+2)
			if end < 0 {
				if truncated {
					return nil
				}
				return mtalog.Errorf("sender", "unterminated address in %q", clip(tok))
			}
			if tok[0] == 'F' && k == 1 {
				f.sender, f.hasSender = rest[3:end], true
			}
			rest = dropGlued(rest[end+1:])
			continue
		}
		if len(tok) >= 3 && (tok[0] == 'C' && tok[1] == '=' && tok[2] == '"' || strings.HasPrefix(tok, `DN="`)) {
			q := strings.IndexByte(tok, '"') + 1
			end := closingQuote(rest, q)
			var val string
			if end < 0 {
				if !truncated {
					name := "confirmation"
					if tok[0] == 'D' {
						name = "peer_dn"
					}
					return mtalog.Errorf(name, "unterminated quoted value")
				}
				val, rest = rest[q:], ""
			} else {
				val, rest = rest[q:end], dropGlued(rest[end+1:])
			}
			if tok[0] == 'C' {
				f.conf, f.hasConf = unescape(val), true
			}
			continue
		}
		rest = rest[j:]
		colon := false
		if len(tok) > 1 && tok[len(tok)-1] == ':' {
			tok, colon = tok[:len(tok)-1], true
		}
		// Keys by their first byte: this loop runs per field of every line.
		key := byte(0)
		if len(tok) >= 2 && tok[1] == '=' {
			key = tok[0]
		}
		switch {
		case key == 'R':
			f.router = tok[2:]
		case key == 'T':
			f.transport = tok[2:]
		case key == 'H':
			f.hasHost, f.host = true, tok[2:]
			if colon {
				break
			}
			if strings.HasPrefix(rest, " DS ") || rest == " DS" {
				rest = rest[3:]
			}
			if !strings.HasPrefix(rest, " [") {
				break // a local transport's host list: name only
			}
			ip, after, ok := bracketIP(rest[1:])
			if !ok {
				if truncated {
					return nil
				}
				return mtalog.Errorf("relay", "bad host address in %q", clip(rest[1:]))
			}
			f.ip, f.hostIP, rest = ip, true, after
		case key == 'I':
			ip, after, ok := bracketIP(tok[2:])
			if !ok || after != "" {
				if truncated && rest == "" {
					return nil
				}
				return mtalog.Errorf("source_ip", "bad interface address in %q", clip(tok))
			}
			f.sourceIP = ip
		case tok == "defer":
			if !strings.HasPrefix(rest, " (") {
				break
			}
			k := strings.IndexByte(rest, ')')
			if k < 0 {
				if truncated {
					return nil
				}
				return mtalog.Errorf("errno", "unterminated error number in %q", clip(rest))
			}
			n, ok := atoi(rest[2:k])
			if !ok {
				return mtalog.Errorf("errno", "bad error number in %q", clip(rest))
			}
			f.hasDefer, f.errno, rest = true, n, rest[k+1:]
			if n > 0 && strings.HasPrefix(rest, ": ") {
				rest = f.readStrerror(rest[2:])
			}
		}
		if colon {
			f.setText(rest)
			return nil
		}
	}
	return nil
}

// angleKey returns the length of the key of a field "K=<…>" with a key of
// one to three letters (F=<, P=<, SRS=<), else 0.
func angleKey(tok string) int {
	for k := 1; k < 4 && k+1 < len(tok); k++ {
		if tok[k] == '=' {
			if tok[k+1] == '<' {
				return k
			}
			return 0
		}
	}
	return 0
}

func (f *fields) setText(s string) {
	f.text, f.hasText = strings.TrimPrefix(s, " "), true
}

// dropGlued skips what is glued to a quoted value up to the next space, so
// that every scan of the field loop consumes what it reads.
func dropGlued(s string) string {
	if s == "" || s[0] == ' ' || s[0] == ':' {
		return s
	}
	if k := strings.IndexByte(s, ' '); k >= 0 {
		return s[k:]
	}
	return ""
}

// readStrerror takes strerror(errno) after "defer (N): ". It ends before
// " H=" or " DT=" (deferral_log puts the host after it) or at ": " when the
// reason follows directly; then text keeps both, as one reads them.
func (f *fields) readStrerror(r string) string {
	end := len(r)
	for i := 0; i+1 < len(r); i++ {
		if r[i] == ':' && r[i+1] == ' ' || r[i] == ' ' && (strings.HasPrefix(r[i:], " H=") || strings.HasPrefix(r[i:], " DT=")) {
			end = i
			break
		}
	}
	f.strerr = r[:end]
	rest := r[end:]
	if strings.HasPrefix(rest, ": ") {
		f.text, f.hasText, f.joined = r, true, true
		return ""
	}
	return rest
}

// notTried reports the "==" and "**" lines that log that nothing was tried:
// retry-class deferrals (errno ≤ -51: retry times, queue_domains, local-only,
// transport limits), "retry time not reached" in any wording, the
// smtp transport's "all hosts have been failing for a long time and were last
// tried after this message arrived", the queueing of -odqs,
// queue_smtp_domains and control=queue ("first-pass only routing due to …",
// older "SMTP delivery explicitly queued"), and "** addr: retry timeout
// exceeded" without router or transport.
func notTried(status event.Status, f *fields, text string) bool {
	if f.hasDefer && f.errno <= -51 {
		return true
	}
	for _, m := range [...]string{"first-pass only routing", "SMTP delivery explicitly queued", "all hosts have been failing for a long time"} {
		if strings.HasPrefix(text, m) {
			return true
		}
	}
	if strings.Contains(text, "retry time not reached") {
		return true
	}
	return status == event.Bounced && f.router == "" && f.transport == "" && text == "retry timeout exceeded"
}

// outbound decides for a "=="/"**" line without H=host [ip] whether it
// still is an outbound attempt (see the package comment): a routing failure
// of a remote domain, or, with T=, an error only the smtp transport writes.
func outbound(f *fields, text string) bool {
	if routingFailure(text) {
		return true
	}
	if f.transport == "" {
		return false // a router's own decision: :fail:, :defer:, a redirect's text, a filter error
	}
	return smtpText(text)
}

// routingFailure reports the texts that the dnslookup and manualroute
// routers (or Exim, when no router takes a remote address) write when a
// remote domain cannot be routed.
func routingFailure(text string) bool {
	for _, m := range [...]string{
		"Unrouteable address", "all relevant MX records point to non-existent hosts",
		"an MX or SRV record indicated no SMTP service", "host lookup did not complete",
		"host lookup for ", `lookup of host "`, "all host address lookups failed",
		"lowest numbered MX record points to local host", "remote host address is the local host",
	} {
		if strings.HasPrefix(text, m) {
			return true
		}
	}
	return false
}

// connErrors are the strerror texts of a failed TCP connection.
var connErrors = [...]string{
	"Connection refused", "Connection timed out", "Connection reset by peer", "No route to host",
	"Network is unreachable", "Network is down", "Host is unreachable", "Host is down",
	"Operation timed out", "Software caused connection abort",
}

// smtpText reports the error texts of Exim's smtp transport: a connection
// strerror alone or in front of the message, the transport's own messages,
// or a text that names the remote host ("Failed to connect to NAME [IP]").
// An lmtp transport's "Connection refused: Failed to connect to socket …"
// is none of them.
func smtpText(text string) bool {
	for _, e := range connErrors {
		if strings.HasPrefix(text, e) {
			if len(text) == len(e) {
				return true
			}
			if strings.HasPrefix(text[len(e):], ": ") {
				text = text[len(e)+2:]
			}
			break
		}
	}
	for _, m := range [...]string{
		"SMTP error from remote mail", "SMTP timeout", "Remote host ", "send() to ", "Malformed SMTP re",
		"TLS session", "a TLS session is required", "TLS error", "DANE ", "PRDR error after ",
	} {
		if strings.HasPrefix(text, m) {
			return true
		}
	}
	_, ip, _ := hostInText(text)
	return ip != ""
}

// remoteReply finds the remote reply in Exim's reason text: the first
// "NNN " or "NNN-" (N a 2-5 digit and two digits) at the start of the text
// or right after ": ", wherever Exim's lead-in puts it ("SMTP error from
// remote mail server after <command>: ", "… host NAME [IP]: ", "PRDR
// error after DATA: ", "(EHLO response was: …)", "after pipelined MAIL
// FROM:<…> SIZE=…: "). Addresses in angle brackets are skipped, so digits
// of a quoted local part are never taken. The reply runs to the end of the
// text, without Exim's ": retry timeout exceeded" and without the ")" that
// closes a parenthesis opened before it. host and ip are the host the
// lead-in names, if any.
func remoteReply(text string) (reply, host, ip string) {
	k := replyStart(text)
	if k < 0 {
		return "", "", ""
	}
	r := strings.TrimSpace(strings.TrimSuffix(text[k:], ": retry timeout exceeded"))
	if strings.HasSuffix(r, ")") && strings.Count(r, ")") > strings.Count(r, "(") {
		r = strings.TrimSpace(r[:len(r)-1])
	}
	host, ip, _ = hostInText(text[:k])
	return r, host, ip
}

// replyStart returns the index of the reply in s (see remoteReply), or -1.
// It jumps from ": " to ": ", stepping over <…> spans, so every byte is
// looked at a bounded number of times.
func replyStart(s string) int {
	if isReplyAt(s, 0) {
		return 0
	}
	lt := strings.IndexByte(s, '<') // the next "<" at or after i, -1 for none
	for i := 0; ; {
		k := strings.Index(s[i:], ": ")
		if k < 0 {
			return -1
		}
		k += i
		inside := false
		for lt >= 0 && lt < k {
			e := angleEnd(s, lt+1)
			if e < 0 {
				lt = -1 // no later "<" is closed either
				break
			}
			lt = nextByte(s, e+1, '<')
			if e > k {
				inside, i = true, e+1
				break
			}
		}
		if inside {
			continue
		}
		if isReplyAt(s, k+2) {
			return k + 2
		}
		i = k + 2
	}
}

// isReplyAt reports "NNN " or "NNN-" (or NNN at the end) at s[i:], the
// first digit 2 to 5.
func isReplyAt(s string, i int) bool {
	return i+3 <= len(s) && s[i] >= '2' && s[i] <= '5' && isDigit(s[i+1]) && isDigit(s[i+2]) &&
		(i+3 == len(s) || s[i+3] == ' ' || s[i+3] == '-')
}

// nextByte is the index of c in s at or after from, or -1.
func nextByte(s string, from int, c byte) int {
	if k := strings.IndexByte(s[from:], c); k >= 0 {
		return from + k
	}
	return -1
}

// angleEnd finds the ">" closing an address opened at s[from-1]: the first
// one followed by a space, a colon or the end of s.
func angleEnd(s string, from int) int {
	for i := from; i < len(s); i++ {
		if s[i] == '>' && (i+1 == len(s) || s[i+1] == ' ' || s[i+1] == ':') {
			return i
		}
	}
	return -1
}

// firstAddress returns the address at the start of s up to a space; a quoted
// local part ("john q"@example.com) may hold spaces.
func firstAddress(s string) string {
	i := 0
	if strings.HasPrefix(s, `"`) {
		if q := strings.IndexByte(s[1:], '"'); q >= 0 {
			i = q + 2
		}
	}
	if sp := strings.IndexByte(s[i:], ' '); sp >= 0 {
		return s[:i+sp]
	}
	return s
}

// closingQuote finds the quote ending a value opened at s[from-1]; Exim
// escapes " and \ inside C= with a backslash.
func closingQuote(s string, from int) int {
	for i := from; i < len(s); {
		q := strings.IndexByte(s[i:], '"')
		if q < 0 {
			return -1
		}
		// Most values hold no backslash: two byte searches, no loop.
		b := strings.IndexByte(s[i:i+q], '\\')
		if b < 0 {
			return i + q
		}
		i += b + 2 // the escaped byte is skipped
	}
	return -1
}

func unescape(s string) string {
	if strings.IndexByte(s, '\\') < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\') {
			i++
		}
		b = append(b, s[i])
	}
	return string(b)
}

// trimDT drops the " DT=1.2s" that failure_log appends after the reason.
func trimDT(s string) string {
	// DT='s value holds no '=', so the last '=' is its, if it is there.
	k := strings.LastIndexByte(s, '=') - 3
	if k < 0 || s[k:k+4] != " DT=" {
		return s
	}
	v := s[k+4:]
	if v == "" {
		return s
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !isDigit(c) && c != '.' && c != 's' && c != 'm' && c != 'h' && c != 'd' && c != 'w' {
			return s
		}
	}
	return s[:k]
}

func atoi(s string) (int, bool) {
	neg := false
	if strings.HasPrefix(s, "-") {
		neg, s = true, s[1:]
	}
	if s == "" || len(s) > 6 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// isMsgID matches 1e4Ssq-00024N-Sp (6-6-2) and 10HmaX-000000005vi-0000
// (6-11-4) of base-62 characters.
func isMsgID(s string) bool {
	if !idShape(s) {
		return false
	}
	mid := 6 // 1e4Ssq-00024N-Sp
	if len(s) == 23 {
		mid = 11 // 10HmaX-000000005vi-0000
	}
	// The dashes are checked, then replaced in a copy, so that one loop
	// without a branch per byte checks the rest: every line's id comes here.
	var b [23]byte
	n := copy(b[:], s)
	b[6], b[7+mid] = '0', '0'
	ok := uint8(1)
	for _, c := range b[:n] {
		ok &= base62[c]
	}
	return ok == 1
}

// idShape reports whether s has a message id's length and dashes.
func idShape(s string) bool {
	switch len(s) {
	case 16:
		return s[6] == '-' && s[13] == '-'
	case 23:
		return s[6] == '-' && s[18] == '-'
	}
	return false
}

// base62 marks the characters of message ids: every line's id is checked,
// and a table beats three range tests per byte.
var base62 = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		if isDigit(byte(c)) || isUpper(byte(c)) || c >= 'a' && c <= 'z' {
			t[c] = 1
		}
	}
	return t
}()

// looksLikeID reports a token that is meant to be a message id: 12 to 30
// base-62 characters and hyphens, starting with a digit or letter and
// holding a hyphen.
func looksLikeID(s string) bool {
	if len(s) < 12 || len(s) > 30 || s[0] == '-' {
		return false
	}
	hyphen := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '-':
			hyphen = true
		case !isDigit(c) && !isUpper(c) && !(c >= 'a' && c <= 'z'):
			return false
		}
	}
	return hyphen
}

// findAttempt returns the index of a message id followed by an attempt flag
// anywhere in s, or -1: it tells a damaged attempt line from noise.
func findAttempt(s string) int {
	for i := 0; i+4 <= len(s); i++ {
		if s[i] != ' ' || s[i+3] != ' ' || attemptFlag(s[i+1:i+3]) == "" {
			continue
		}
		for _, n := range [...]int{16, 23} {
			if i >= n && isMsgID(s[i-n:i]) && (i == n || s[i-n-1] == ' ' || s[i-n-1] == ']') {
				return i - n
			}
		}
	}
	return -1
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40]
	}
	return s
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }
func isUpper(b byte) bool { return b >= 'A' && b <= 'Z' }

// fieldValue is the value of the field named by key (" id=") in an Exim
// line's rest: up to the next space. The first match counts: Exim writes
// id= before T=, the subject, whose text could hold anything.
func fieldValue(rest, key string) string {
	i := strings.Index(rest, key)
	if i < 0 {
		return ""
	}
	v := rest[i+len(key):]
	if end := strings.IndexByte(v, ' '); end >= 0 {
		v = v[:end]
	}
	return v
}
