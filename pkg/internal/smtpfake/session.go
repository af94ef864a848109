package smtpfake

import (
	"bufio"
	"bytes"
	"net"
	"net/mail"
	"strings"
	"time"
)

// session is one client connection.
type session struct {
	s      *Server
	conn   net.Conn
	r      *bufio.Reader
	w      *bufio.Writer
	client string

	greeted bool // a HELO or EHLO was accepted
	shunned bool // the greeting refused the client: nothing but QUIT is served
	mail    bool // MAIL FROM began a transaction
	from    string
	rcpts   []string // accepted recipients, lowercased
}

func newSession(s *Server, conn net.Conn, client string) *session {
	return &session{s: s, conn: conn, r: bufio.NewReader(conn), w: bufio.NewWriter(conn), client: client}
}

// run serves the connection until the client quits, goes quiet or a reply
// closes it. Commands are read one line at a time and answered in order,
// which is all a PIPELINING client needs.
func (ss *session) run() {
	if !ss.greet() {
		return
	}
	for {
		line, err := ss.readLine()
		if err != nil || !ss.command(line) {
			return
		}
	}
}

func (ss *session) greet() bool {
	rep := ss.format("220 " + ss.s.hostname + " ESMTP smtpfake")
	if r, ok := ss.s.match(Banner, ss.client, nil); ok {
		rep = ss.format(r.Reply)
		ss.s.record(ss.client, Banner, rep, "", nil)
		// A real server that refuses in its greeting still talks, but only
		// to say goodbye.
		ss.shunned = rep.code != 220
	}
	return ss.send(rep)
}

// command answers one command line and reports whether the connection
// stays open.
func (ss *session) command(line string) bool {
	verb, arg, _ := strings.Cut(line, " ")
	verb = strings.ToUpper(verb)
	if ss.shunned && verb != "QUIT" {
		return ss.say("503 5.5.1 Bad sequence of commands")
	}
	switch verb {
	case "EHLO", "HELO":
		return ss.hello(verb, strings.TrimSpace(arg))
	case "MAIL":
		return ss.mailFrom(arg)
	case "RCPT":
		return ss.rcptTo(arg)
	case "DATA":
		return ss.data()
	case "RSET":
		ss.reset()
		return ss.say("250 2.0.0 Ok")
	case "NOOP":
		return ss.say("250 2.0.0 Ok")
	case "QUIT":
		ss.say("221 2.0.0 Bye")
		return false
	default:
		return ss.say("502 5.5.2 Error: command not recognized")
	}
}

func (ss *session) hello(verb, name string) bool {
	if name == "" {
		return ss.say("501 5.5.4 Syntax: " + verb + " hostname")
	}
	rep := ss.format("250 " + ss.s.hostname)
	if verb == "EHLO" {
		rep = ss.format("250 " + ss.s.hostname + "\nPIPELINING\nSIZE 52428800\n8BITMIME\nENHANCEDSTATUSCODES")
	}
	if r, ok := ss.s.match(EHLO, ss.client, nil); ok {
		rep = ss.format(r.Reply)
		ss.s.record(ss.client, EHLO, rep, "", nil)
	}
	if rep.accepts() {
		ss.greeted = true
		ss.reset()
	}
	return ss.send(rep)
}

func (ss *session) mailFrom(arg string) bool {
	if !ss.greeted {
		return ss.say("503 5.5.1 Error: send HELO/EHLO first")
	}
	if ss.mail {
		return ss.say("503 5.5.1 Error: nested MAIL command")
	}
	from, ok := address(arg, "FROM:")
	if !ok {
		return ss.say("501 5.5.4 Syntax: MAIL FROM:<address>")
	}
	ss.mail = true
	ss.from = from
	return ss.say("250 2.1.0 Ok")
}

func (ss *session) rcptTo(arg string) bool {
	if !ss.mail {
		return ss.say("503 5.5.1 Error: need MAIL command")
	}
	rcpt, ok := address(arg, "TO:")
	if !ok || rcpt == "" {
		return ss.say("501 5.5.4 Syntax: RCPT TO:<address>")
	}
	rcpt = strings.ToLower(rcpt)
	rep := ss.format("250 2.1.5 Ok")
	if r, ok := ss.s.match(Rcpt, ss.client, []string{rcpt}); ok {
		rep = ss.format(r.Reply)
		ss.s.record(ss.client, Rcpt, rep, "", []string{rcpt})
	}
	if rep.accepts() {
		ss.rcpts = append(ss.rcpts, rcpt)
	}
	return ss.send(rep)
}

func (ss *session) data() bool {
	if !ss.mail {
		return ss.say("503 5.5.1 Error: need RCPT command")
	}
	if len(ss.rcpts) == 0 {
		return ss.say("554 5.5.1 Error: no valid recipients")
	}
	if !ss.say("354 End data with <CR><LF>.<CR><LF>") {
		return false
	}
	msg, err := ss.readMessage()
	if err != nil {
		return false
	}
	from, rcpts := ss.from, ss.rcpts
	ss.reset()
	id := messageID(msg)
	rep := ss.format("250 2.0.0 " + ss.s.queueID() + " Message accepted for delivery")
	if r, ok := ss.s.match(Data, ss.client, rcpts); ok {
		rep = ss.format(r.Reply)
		ss.s.record(ss.client, Data, rep, id, rcpts)
	}
	if rep.accepts() {
		ss.s.deliver(ss.client, from, id, len(msg), rcpts)
	}
	return ss.send(rep)
}

func (ss *session) reset() {
	ss.mail = false
	ss.from = ""
	ss.rcpts = nil
}

// readMessage reads the message after DATA up to the lone ".", undoing
// the dot-stuffing of lines that begin with a dot.
func (ss *session) readMessage() ([]byte, error) {
	var msg bytes.Buffer
	for {
		line, err := ss.readLine()
		if err != nil {
			return nil, err
		}
		if line == "." {
			return msg.Bytes(), nil
		}
		msg.WriteString(strings.TrimPrefix(line, "."))
		msg.WriteString("\r\n")
	}
}

func (ss *session) readLine() (string, error) {
	ss.conn.SetDeadline(time.Now().Add(idleTimeout))
	line, err := ss.r.ReadString('\n')
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r"), nil
}

// say sends one of the server's own replies.
func (ss *session) say(text string) bool {
	return ss.send(ss.format(text))
}

// send writes rep and reports whether the connection stays open.
func (ss *session) send(rep reply) bool {
	if rep.code == 0 {
		return false
	}
	for _, line := range rep.lines {
		ss.w.WriteString(line)
		ss.w.WriteString("\r\n")
	}
	if err := ss.w.Flush(); err != nil {
		return false
	}
	// Real servers hang up after a 421, and MTAs log it that way.
	return rep.code != 421
}

// reply is a reply as written, without the line ends. The zero reply
// closes the connection without a word.
type reply struct {
	code  int
	lines []string
}

func (r reply) accepts() bool {
	return r.code >= 200 && r.code < 300
}

func (r reply) text() string {
	return strings.Join(r.lines, " ")
}

// format makes a reply of text checked by Rule.check or written here:
// {ip} becomes the client's IP and each line gets the code, with a dash on
// all but the last.
func (ss *session) format(text string) reply {
	if text == "" {
		return reply{}
	}
	code, _ := replyCode(text)
	digits := text[:3]
	lines := strings.Split(strings.ReplaceAll(text, "{ip}", ss.client), "\n")
	rep := reply{code: code}
	for i, line := range lines {
		line = strings.TrimSuffix(line, "\r")
		if rest, ok := strings.CutPrefix(line, digits); ok && (rest == "" || rest[0] == ' ' || rest[0] == '-') {
			line = rest[min(1, len(rest)):]
		}
		sep := "-"
		if i == len(lines)-1 {
			sep = " "
		}
		rep.lines = append(rep.lines, digits+sep+line)
	}
	return rep
}

// address is the address in a MAIL FROM or RCPT TO argument: between the
// angle brackets after prefix; any ESMTP parameters after it are ignored.
func address(arg, prefix string) (string, bool) {
	if len(arg) < len(prefix) || !strings.EqualFold(arg[:len(prefix)], prefix) {
		return "", false
	}
	rest, ok := strings.CutPrefix(strings.TrimSpace(arg[len(prefix):]), "<")
	if !ok {
		return "", false
	}
	addr, _, ok := strings.Cut(rest, ">")
	return addr, ok
}

// messageID is the message's Message-ID header, "" when it has none or
// its header cannot be read.
func messageID(msg []byte) string {
	m, err := mail.ReadMessage(bytes.NewReader(msg))
	if err != nil {
		return ""
	}
	return m.Header.Get("Message-Id")
}
