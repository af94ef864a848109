package smtpfake

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// idleTimeout ends a connection whose client went quiet, so that a stuck
// client cannot hang a test.
const idleTimeout = 60 * time.Second

// Stage is where in the SMTP dialogue a rule answers.
type Stage string

const (
	Banner Stage = "banner" // instead of the 220 greeting (per connection)
	EHLO   Stage = "ehlo"   // in reply to EHLO/HELO (per connection)
	Rcpt   Stage = "rcpt"   // in reply to RCPT TO (per recipient)
	Data   Stage = "data"   // in reply to the end of DATA (one reply for all the transaction's accepted recipients)
)

// Rule answers Reply at At when it matches. Rules are tried in order; the
// first match answers.
type Rule struct {
	// Client is the client IP the rule is for; "" matches any.
	Client string
	// Rcpt is a path.Match glob on the lowercased recipient address
	// ("block*@*"); "" matches any. It is ignored at Banner and EHLO.
	Rcpt string
	At   Stage
	// Reply is the full reply, e.g. "550 5.7.0 Blocked - see
	// https://ipcheck.proofpoint.com/?ip={ip}"; {ip} becomes the client
	// IP. Lines of a multi-line reply are separated by "\n" (the code on
	// the lines after the first may be given or left out). "" closes the
	// connection without a reply. A 2xx reply accepts, any other refuses;
	// a 421 is followed by closing the connection.
	Reply string
	// Times: 0 matches always; N > 0 only the first N times the rule
	// matches for a (client, recipient) pair (at Banner and EHLO: for a
	// client), after which later rules apply.
	Times int
}

func (r Rule) check() error {
	switch r.At {
	case Banner, EHLO, Rcpt, Data:
	default:
		return fmt.Errorf("unknown stage %q", r.At)
	}
	if _, err := path.Match(r.Rcpt, ""); err != nil {
		return fmt.Errorf("recipient glob %q: %w", r.Rcpt, err)
	}
	if r.Reply != "" {
		if _, err := replyCode(r.Reply); err != nil {
			return err
		}
	}
	if r.Times < 0 {
		return fmt.Errorf("negative Times %d", r.Times)
	}
	return nil
}

// replyCode is the code a reply begins with: three digits, the first 2 to
// 5, then a space, a dash or the end of the line.
func replyCode(text string) (int, error) {
	first, _, _ := strings.Cut(text, "\n")
	if len(first) < 3 || first[0] < '2' || first[0] > '5' || (len(first) > 3 && first[3] != ' ' && first[3] != '-') {
		return 0, fmt.Errorf("reply %q does not begin with an SMTP code", text)
	}
	code, err := strconv.Atoi(first[:3])
	if err != nil {
		return 0, fmt.Errorf("reply %q does not begin with an SMTP code", text)
	}
	return code, nil
}

// Server is a running fake receiver.
type Server struct {
	ln       net.Listener
	hostname string
	rules    []Rule
	wg       sync.WaitGroup // the accept loop and the connection handlers

	mu      sync.Mutex
	closed  bool
	conns   map[net.Conn]struct{}
	uses    map[useKey]int     // how often each rule matched, for Times
	refused map[attemptKey]int // non-2xx answers not yet claimed by a delivery, for Attempts
	tally   Tally
	seq     int
}

// useKey counts a rule's matches for one (client, recipient) pair; the
// recipient is "" at Banner and EHLO.
type useKey struct {
	rule         int
	client, rcpt string
}

// attemptKey counts the refusals of one message to one recipient. A
// refusal at RCPT comes before the message is seen, so its messageID is ""
// and it counts towards the next delivery to that recipient from that
// client, whatever that message is.
type attemptKey struct {
	client, messageID, rcpt string
}

// Start listens on addr ("127.0.0.10:0") and serves until Close. Hostname
// is what the server greets as: in "220 <hostname> ESMTP" and the EHLO
// reply.
func Start(addr, hostname string, rules []Rule) (*Server, error) {
	for i, r := range rules {
		if err := r.check(); err != nil {
			return nil, fmt.Errorf("smtpfake: rule %d: %w", i, err)
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("smtpfake: %w", err)
	}
	s := &Server{
		ln:       ln,
		hostname: hostname,
		rules:    slices.Clone(rules),
		conns:    map[net.Conn]struct{}{},
	}
	s.Reset()
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// Addr is the listening address, with the real port.
func (s *Server) Addr() string {
	return s.ln.Addr().String()
}

// Close stops listening, closes the open connections and waits for their
// handlers to end.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	err := s.ln.Close()
	s.wg.Wait()
	return err
}

// Tally is a copy of what the server answered so far.
func (s *Server) Tally() Tally {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Tally{
		Answers:   maps.Clone(s.tally.Answers),
		Delivered: slices.Clone(s.tally.Delivered),
	}
}

// Reset forgets what the server answered and how often each rule matched,
// so that one server can serve several tests as if just started.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tally = Tally{Answers: map[Answer]int{}}
	s.uses = map[useKey]int{}
	s.refused = map[attemptKey]int{}
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		conn, err := s.ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			// Such as too many open files: the next connection may fare better.
			time.Sleep(10 * time.Millisecond)
			continue
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			conn.Close()
			return
		}
		s.conns[conn] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.handle(conn)
	}
}

func (s *Server) handle(conn net.Conn) {
	defer s.wg.Done()
	defer func() {
		conn.Close()
		s.mu.Lock()
		delete(s.conns, conn)
		s.mu.Unlock()
	}()
	client, _, _ := net.SplitHostPort(conn.RemoteAddr().String())
	newSession(s, conn, client).run()
}

// match finds the rule that answers at stage and uses it up for the
// recipients it matched: rcpts are the recipient at Rcpt, the accepted ones
// at Data, none at Banner and EHLO.
func (s *Server) match(stage Stage, client string, rcpts []string) (Rule, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, r := range s.rules {
		if r.At != stage || (r.Client != "" && r.Client != client) {
			continue
		}
		keys := []string{""}
		if stage == Rcpt || stage == Data {
			keys = nil
			for _, rcpt := range rcpts {
				if ok, _ := path.Match(r.Rcpt, rcpt); r.Rcpt == "" || ok {
					keys = append(keys, rcpt)
				}
			}
		}
		if r.Times > 0 {
			keys = slices.DeleteFunc(keys, func(rcpt string) bool {
				return s.uses[useKey{i, client, rcpt}] >= r.Times
			})
		}
		if len(keys) == 0 {
			continue
		}
		for _, rcpt := range keys {
			s.uses[useKey{i, client, rcpt}]++
		}
		return r, true
	}
	return Rule{}, false
}

// record tallies a rule's answer if it refused: once for each recipient it
// was for, once when there is none (Banner and EHLO).
func (s *Server) record(client string, stage Stage, rep reply, messageID string, rcpts []string) {
	if rep.accepts() {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tally.Answers[Answer{Client: client, Stage: stage, Code: rep.code, Reply: rep.text()}] += max(len(rcpts), 1)
	for _, rcpt := range rcpts {
		s.refused[attemptKey{client, messageID, rcpt}]++
	}
}

// deliver tallies an accepted message, and with it the refusals its
// recipients had before.
func (s *Server) deliver(client, from, messageID string, size int, rcpts []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rcpt := range rcpts {
		d := Delivery{Client: client, From: from, Rcpt: rcpt, MessageID: messageID, Size: size}
		for _, id := range []string{messageID, ""} {
			k := attemptKey{client, id, rcpt}
			d.Attempts += s.refused[k]
			delete(s.refused, k)
		}
		s.tally.Delivered = append(s.tally.Delivered, d)
	}
}

// queueID looks like Proofpoint's ("3abc123-1"), so the MTA logs a
// familiar "250 2.0.0 ... Message accepted for delivery".
func (s *Server) queueID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	return fmt.Sprintf("%07x-%d", rand.N(1<<28), s.seq)
}
