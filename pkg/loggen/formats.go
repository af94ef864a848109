package loggen

import (
	"fmt"
	"strings"
	"time"
)

// message is one generated message and its one attempt, written in each
// MTA's format. text is the attempt's outcome as Postfix words it; the
// other formats take the remote reply out of it.
type message struct {
	qid               string
	arrival           time.Time
	sender            string
	size              int
	client            string
	clientIP          int
	msgID             uint32
	rcpt, host, ip    string
	status, dsn, text string
	sourceIP          string
}

// outcome splits Postfix's status text: the remote reply and the SMTP
// command it answered ("" and kind "timeout" or "lost" when there was none).
func (m *message) outcome() (reply, command, kind string) {
	switch {
	case strings.HasPrefix(m.text, "connect to "):
		return "", "", "timeout"
	case strings.HasPrefix(m.text, "lost connection with "):
		return "", "", "lost"
	case strings.Contains(m.text, " refused to talk to me: "):
		_, r, _ := strings.Cut(m.text, " refused to talk to me: ")
		return r, "initial connection", "reply"
	case strings.Contains(m.text, " said: "):
		_, r, _ := strings.Cut(m.text, " said: ")
		r, cmd, _ := strings.Cut(r, " (in reply to ")
		return r, strings.TrimSuffix(cmd, " command)"), "reply"
	}
	return m.text, "", "reply" // delivered: the 250 reply itself
}

// eximID turns the Postfix-style counter into an Exim 4.97+ message id
// (6-11-4 base-62 characters).
func (m *message) eximID() string {
	const digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	var n uint64
	fmt.Sscanf(m.qid, "%X", &n)
	b := []byte("1vH000-00000000000-0000")
	for i := 17; i > 6 && n > 0; i-- {
		b[i] = digits[n%62]
		n /= 62
	}
	b[19], b[20] = digits[m.clientIP%62], digits[m.msgID%62]
	return string(b)
}

func (m *message) exim(emit func(string, ...any)) {
	id := m.eximID()
	emit("%s <= %s H=app%d.example.net [192.0.2.%d] P=esmtps X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=no S=%d id=%d.%s@mta1.example.net",
		id, m.sender, m.clientIP%8+1, m.clientIP, m.size, m.msgID, m.qid)
	reply, command, kind := m.outcome()
	host := fmt.Sprintf("H=%s [%s]", m.host, m.ip)
	switch {
	case m.status == "sent":
		emit(`%s => %s R=dnslookup T=remote_smtp %s X=TLS1.2:ECDHE-RSA-AES256-GCM-SHA384:256 CV=yes C="%s"`, id, m.rcpt, host, reply)
	case kind == "timeout":
		emit("%s %s Connection timed out", id, host)
		emit("%s == %s R=dnslookup T=remote_smtp defer (110): Connection timed out", id, m.rcpt)
	case kind == "lost":
		emit("%s == %s R=dnslookup T=remote_smtp defer (-18) %s: Remote host %s [%s] closed connection in response to initial connection", id, m.rcpt, host, m.host, m.ip)
	default:
		flag, errno := "**", ""
		if m.status == "deferred" {
			flag, errno = "==", " defer (-45)"
		}
		after := command
		switch command {
		case "MAIL FROM":
			after = fmt.Sprintf("MAIL FROM:<%s> SIZE=%d", m.sender, m.size)
		case "RCPT TO":
			after = fmt.Sprintf("RCPT TO:<%s>", m.rcpt)
		case "end of DATA":
			after = "end of data"
		}
		emit("%s %s %s R=dnslookup T=remote_smtp%s %s: SMTP error from remote mail server after %s: %s", id, flag, m.rcpt, errno, host, after, reply)
	}
	emit("%s Completed", id)
}

// pmtaHeader is PowerMTA's default record-fields order.
const pmtaHeader = "type,timeLogged,timeQueued,orig,rcpt,orcpt,dsnAction,dsnStatus,dsnDiag,dsnMta,bounceCat,srcType,srcMta,dlvType,dlvSourceIp,dlvDestinationIp,dlvEsmtpAvailable,dlvSize,vmta,jobId,envId,queue,vmtaPool"

func (m *message) pmta(emit func(string, ...any)) {
	reply, _, kind := m.outcome()
	typ, action, status, cat := "d", "relayed", "2.0.0 (success)", ""
	switch m.status {
	case "bounced":
		typ, action, status, cat = "b", "failed", m.dsn+" (permanent failure)", "policy-related"
	case "deferred":
		typ, action, status, cat = "t", "delayed", m.dsn+" (transient failure)", "policy-related"
	}
	diag := "smtp;" + reply
	if kind != "reply" {
		diag, cat = "smtp;"+m.text, "no-answer-from-host"
	}
	domain := m.rcpt[strings.IndexByte(m.rcpt, '@')+1:]
	emit(`%s,%s,%s,%s,%s,,%s,%s,%s,%s (%s),%s,smtp,app%d.example.net (192.0.2.%d),smtp,%s,%s,"PIPELINING,8BITMIME,SIZE,STARTTLS,ENHANCEDSTATUSCODES",%d,vmta-1,job-%d,%s,%s/vmta-1,pool-a`,
		typ, m.arrival.Add(time.Second).Format("2006-01-02 15:04:05-0700"), m.arrival.Format("2006-01-02 15:04:05-0700"),
		m.sender, m.rcpt, action, status, csvField(diag), m.host, m.ip, cat, m.clientIP%8+1, m.clientIP,
		m.sourceIP, m.ip, m.size, m.msgID%97, m.qid, domain)
}

// csvField quotes s as PowerMTA does: only when it holds a comma, a quote
// or a line break.
func csvField(s string) string {
	if !strings.ContainsAny(s, ",\"\r\n") {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}
