package smtpfake

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/smtp"
	"net/textproto"
	"reflect"
	"strings"
	"testing"
	"time"
)

const (
	hostname = "mx0a.pphosted.com"
	block    = "550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip={ip}"
	blocked  = "550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=127.0.0.1"
	deferral = "421 4.7.0 [TSS04] Messages from {ip} temporarily deferred due to unexpected volume or user complaints - see https://ipcheck.proofpoint.com/?ip={ip}"
	deferred = "421 4.7.0 [TSS04] Messages from 127.0.0.1 temporarily deferred due to unexpected volume or user complaints - see https://ipcheck.proofpoint.com/?ip=127.0.0.1"
	ehloOK   = "250-mx0a.pphosted.com\r\n250-PIPELINING\r\n250-SIZE 52428800\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n"
)

// message has an untidy header name and value on purpose: the Message-ID
// is to be found case-insensitively and trimmed.
const message = "From: sender@example.org\r\nmessage-id:   <1@example.org>  \r\nSubject: test\r\n\r\nHello.\r\n"

func start(t *testing.T, rules []Rule) *Server {
	t.Helper()
	s, err := Start("127.0.0.1:0", hostname, rules)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// dial connects from local, an address of 127.0.0.0/8, so that rules by
// client can be told apart.
func dial(t *testing.T, addr, local string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	// A server that fails to answer fails the test instead of hanging it.
	c.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { c.Close() })
	return c
}

// send delivers msg with net/smtp and returns the first error on the way.
func send(t *testing.T, addr, local string, rcpts ...string) error {
	t.Helper()
	c, err := smtp.NewClient(dial(t, addr, local), hostname)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Hello("mta.example.org"); err != nil {
		return err
	}
	if err := c.Mail("sender@example.org"); err != nil {
		return err
	}
	for _, rcpt := range rcpts {
		if err := c.Rcpt(rcpt); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := io.WriteString(w, message); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

// wantErr checks the reply net/smtp returned as an error. Its Error()
// quotes the text, so code and text are put together again here.
func wantErr(t *testing.T, err error, want string) {
	t.Helper()
	var reply *textproto.Error
	if !errors.As(err, &reply) || fmt.Sprintf("%03d %s", reply.Code, reply.Msg) != want {
		t.Errorf("error %v, want the reply %q", err, want)
	}
}

// raw is a client that writes exactly what it is told, for what net/smtp
// does not do: pipelining, a refused greeting, a server that hangs up.
type raw struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dialRaw(t *testing.T, addr string) raw {
	c := dial(t, addr, "127.0.0.1")
	return raw{t: t, c: c, r: bufio.NewReader(c)}
}

func (r raw) send(text string) {
	r.t.Helper()
	if _, err := io.WriteString(r.c, text); err != nil {
		r.t.Fatal(err)
	}
}

// reply reads one reply, all its lines, as written.
func (r raw) reply() string {
	r.t.Helper()
	var all strings.Builder
	for {
		line, err := r.r.ReadString('\n')
		if err != nil {
			r.t.Fatalf("reading a reply after %q: %v", all.String(), err)
		}
		all.WriteString(line)
		if len(line) < 4 || line[3] != '-' {
			return all.String()
		}
	}
}

func (r raw) expect(want string) {
	r.t.Helper()
	if got := r.reply(); got != want {
		r.t.Errorf("reply %q, want %q", got, want)
	}
}

func (r raw) expectClosed() {
	r.t.Helper()
	if line, err := r.r.ReadString('\n'); !errors.Is(err, io.EOF) {
		r.t.Errorf("read %q, %v; want the connection closed", line, err)
	}
}

// hello reads the greeting and greets back.
func (r raw) hello() {
	r.t.Helper()
	r.expect("220 mx0a.pphosted.com ESMTP smtpfake\r\n")
	r.send("EHLO mta.example.org\r\n")
	r.expect(ehloOK)
}

func delivered(rcpt string, attempts int) Delivery {
	return Delivery{Client: "127.0.0.1", From: "sender@example.org", Rcpt: rcpt, MessageID: "<1@example.org>", Size: len(message), Attempts: attempts}
}

func TestDialogues(t *testing.T) {
	tests := []struct {
		name  string
		rules []Rule
		run   func(t *testing.T, addr string)
		want  Tally
	}{{
		name: "accepted",
		run: func(t *testing.T, addr string) {
			if err := send(t, addr, "127.0.0.1", "Rcpt@Example.com"); err != nil {
				t.Error(err)
			}
		},
		want: Tally{Answers: map[Answer]int{}, Delivered: []Delivery{delivered("rcpt@example.com", 0)}},
	}, {
		name:  "blocked at RCPT",
		rules: []Rule{{Rcpt: "block*@*", At: Rcpt, Reply: block}},
		run: func(t *testing.T, addr string) {
			wantErr(t, send(t, addr, "127.0.0.1", "Block.me@example.com"), blocked)
		},
		want: Tally{Answers: map[Answer]int{{"127.0.0.1", Rcpt, 550, blocked}: 1}},
	}, {
		name:  "refused at DATA counts each recipient",
		rules: []Rule{{At: Data, Reply: "554 5.7.9 Message not accepted for policy reasons"}},
		run: func(t *testing.T, addr string) {
			wantErr(t, send(t, addr, "127.0.0.1", "a@example.com", "b@example.com"), "554 5.7.9 Message not accepted for policy reasons")
		},
		want: Tally{Answers: map[Answer]int{{"127.0.0.1", Data, 554, "554 5.7.9 Message not accepted for policy reasons"}: 2}},
	}, {
		name:  "DATA rule with a glob refuses when any recipient matches",
		rules: []Rule{{Rcpt: "vip@*", At: Data, Reply: "550 5.7.1 No"}},
		run: func(t *testing.T, addr string) {
			wantErr(t, send(t, addr, "127.0.0.1", "a@example.com", "vip@example.com"), "550 5.7.1 No")
			if err := send(t, addr, "127.0.0.1", "a@example.com"); err != nil {
				t.Error(err)
			}
		},
		want: Tally{
			Answers:   map[Answer]int{{"127.0.0.1", Data, 550, "550 5.7.1 No"}: 2},
			Delivered: []Delivery{delivered("a@example.com", 1)},
		},
	}, {
		name:  "421 closes the connection",
		rules: []Rule{{At: Rcpt, Reply: deferral}},
		run: func(t *testing.T, addr string) {
			r := dialRaw(t, addr)
			r.hello()
			r.send("MAIL FROM:<sender@example.org>\r\n")
			r.expect("250 2.1.0 Ok\r\n")
			r.send("RCPT TO:<a@example.com>\r\n")
			r.expect(deferred + "\r\n")
			r.expectClosed()
		},
		want: Tally{Answers: map[Answer]int{{"127.0.0.1", Rcpt, 421, deferred}: 1}},
	}, {
		name:  "deferred twice, then accepted",
		rules: []Rule{{Rcpt: "defer*@*", At: Rcpt, Reply: deferral, Times: 2}},
		run: func(t *testing.T, addr string) {
			wantErr(t, send(t, addr, "127.0.0.1", "defer@example.com"), deferred)
			wantErr(t, send(t, addr, "127.0.0.1", "defer@example.com"), deferred)
			if err := send(t, addr, "127.0.0.1", "defer@example.com"); err != nil {
				t.Error(err)
			}
		},
		want: Tally{
			Answers:   map[Answer]int{{"127.0.0.1", Rcpt, 421, deferred}: 2},
			Delivered: []Delivery{delivered("defer@example.com", 2)},
		},
	}, {
		name:  "refused greeting, then only QUIT",
		rules: []Rule{{At: Banner, Reply: "554 mx0a.pphosted.com ESMTP Blocked - see https://ipcheck.proofpoint.com/?ip={ip}"}},
		run: func(t *testing.T, addr string) {
			r := dialRaw(t, addr)
			r.expect("554 mx0a.pphosted.com ESMTP Blocked - see https://ipcheck.proofpoint.com/?ip=127.0.0.1\r\n")
			r.send("EHLO mta.example.org\r\n")
			r.expect("503 5.5.1 Bad sequence of commands\r\n")
			r.send("MAIL FROM:<sender@example.org>\r\n")
			r.expect("503 5.5.1 Bad sequence of commands\r\n")
			r.send("QUIT\r\n")
			r.expect("221 2.0.0 Bye\r\n")
			r.expectClosed()
		},
		want: Tally{Answers: map[Answer]int{{"127.0.0.1", Banner, 554, "554 mx0a.pphosted.com ESMTP Blocked - see https://ipcheck.proofpoint.com/?ip=127.0.0.1"}: 1}},
	}, {
		name:  "EHLO answered by hanging up",
		rules: []Rule{{At: EHLO, Reply: ""}},
		run: func(t *testing.T, addr string) {
			r := dialRaw(t, addr)
			r.expect("220 mx0a.pphosted.com ESMTP smtpfake\r\n")
			r.send("EHLO mta.example.org\r\n")
			r.expectClosed()
		},
		want: Tally{Answers: map[Answer]int{{"127.0.0.1", EHLO, 0, ""}: 1}},
	}, {
		name: "multi-line reply, with or without the code on later lines",
		rules: []Rule{
			{Rcpt: "a@*", At: Rcpt, Reply: "550 5.7.1 first\n550 5.7.1 second"},
			{Rcpt: "b@*", At: Rcpt, Reply: "550 5.7.1 first\n5.7.1 second"},
		},
		run: func(t *testing.T, addr string) {
			r := dialRaw(t, addr)
			r.hello()
			r.send("MAIL FROM:<sender@example.org>\r\n")
			r.expect("250 2.1.0 Ok\r\n")
			r.send("RCPT TO:<a@example.com>\r\n")
			r.expect("550-5.7.1 first\r\n550 5.7.1 second\r\n")
			r.send("RCPT TO:<b@example.com>\r\n")
			r.expect("550-5.7.1 first\r\n550 5.7.1 second\r\n")
		},
		want: Tally{Answers: map[Answer]int{{"127.0.0.1", Rcpt, 550, "550-5.7.1 first 550 5.7.1 second"}: 2}},
	}, {
		name:  "rules by client",
		rules: []Rule{{Client: "127.0.0.2", At: Rcpt, Reply: block}},
		run: func(t *testing.T, addr string) {
			if err := send(t, addr, "127.0.0.1", "a@example.com"); err != nil {
				t.Error(err)
			}
			wantErr(t, send(t, addr, "127.0.0.2", "a@example.com"), "550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=127.0.0.2")
		},
		want: Tally{
			Answers:   map[Answer]int{{"127.0.0.2", Rcpt, 550, "550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=127.0.0.2"}: 1},
			Delivered: []Delivery{delivered("a@example.com", 0)},
		},
	}, {
		name:  "pipelined commands answered in order",
		rules: []Rule{{Rcpt: "block*@*", At: Rcpt, Reply: block}},
		run: func(t *testing.T, addr string) {
			r := dialRaw(t, addr)
			r.hello()
			r.send("MAIL FROM:<sender@example.org> SIZE=100 BODY=8BITMIME\r\nRCPT TO:<ok@example.com>\r\nRCPT TO:<block@example.com>\r\nDATA\r\n")
			r.expect("250 2.1.0 Ok\r\n")
			r.expect("250 2.1.5 Ok\r\n")
			r.expect(blocked + "\r\n")
			r.expect("354 End data with <CR><LF>.<CR><LF>\r\n")
			r.send(message + ".\r\nQUIT\r\n")
			if got := r.reply(); !strings.HasPrefix(got, "250 2.0.0 ") || !strings.HasSuffix(got, " Message accepted for delivery\r\n") {
				t.Errorf("end of DATA answered %q", got)
			}
			r.expect("221 2.0.0 Bye\r\n")
			r.expectClosed()
		},
		want: Tally{
			Answers:   map[Answer]int{{"127.0.0.1", Rcpt, 550, blocked}: 1},
			Delivered: []Delivery{delivered("ok@example.com", 0)},
		},
	}, {
		name:  "no valid recipients",
		rules: []Rule{{At: Rcpt, Reply: block}},
		run: func(t *testing.T, addr string) {
			r := dialRaw(t, addr)
			r.hello()
			r.send("MAIL FROM:<sender@example.org>\r\nRCPT TO:<a@example.com>\r\nDATA\r\nRSET\r\n")
			r.expect("250 2.1.0 Ok\r\n")
			r.expect(blocked + "\r\n")
			r.expect("554 5.5.1 Error: no valid recipients\r\n")
			r.expect("250 2.0.0 Ok\r\n")
		},
		want: Tally{Answers: map[Answer]int{{"127.0.0.1", Rcpt, 550, blocked}: 1}},
	}, {
		name: "dot-unstuffing",
		run: func(t *testing.T, addr string) {
			r := dialRaw(t, addr)
			r.hello()
			r.send("MAIL FROM:<sender@example.org>\r\nRCPT TO:<a@example.com>\r\nDATA\r\n")
			r.expect("250 2.1.0 Ok\r\n")
			r.expect("250 2.1.5 Ok\r\n")
			r.expect("354 End data with <CR><LF>.<CR><LF>\r\n")
			// A stuffed lone dot must not end the message.
			r.send("Message-ID: <dots@example.org>\r\n\r\n..\r\n...two\r\n.\r\n")
			if got := r.reply(); !strings.HasPrefix(got, "250 2.0.0 ") {
				t.Errorf("end of DATA answered %q", got)
			}
		},
		want: Tally{
			Answers: map[Answer]int{},
			Delivered: []Delivery{{
				Client: "127.0.0.1", From: "sender@example.org", Rcpt: "a@example.com", MessageID: "<dots@example.org>",
				Size: len("Message-ID: <dots@example.org>\r\n\r\n.\r\n..two\r\n"),
			}},
		},
	}, {
		name: "commands out of place",
		run: func(t *testing.T, addr string) {
			r := dialRaw(t, addr)
			r.expect("220 mx0a.pphosted.com ESMTP smtpfake\r\n")
			r.send("MAIL FROM:<sender@example.org>\r\nHELO mta.example.org\r\nRCPT TO:<a@example.com>\r\nDATA\r\nNOOP\r\nVRFY a\r\n")
			r.expect("503 5.5.1 Error: send HELO/EHLO first\r\n")
			r.expect("250 mx0a.pphosted.com\r\n")
			r.expect("503 5.5.1 Error: need MAIL command\r\n")
			r.expect("503 5.5.1 Error: need RCPT command\r\n")
			r.expect("250 2.0.0 Ok\r\n")
			r.expect("502 5.5.2 Error: command not recognized\r\n")
		},
		want: Tally{Answers: map[Answer]int{}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := start(t, tt.rules)
			tt.run(t, s.Addr())
			// Close first, so that every handler has ended and the tally
			// is final.
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if got := s.Tally(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("tally\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestCloseWithAnOpenConnection(t *testing.T) {
	s, err := Start("127.0.0.1:0", hostname, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := dialRaw(t, s.Addr())
	r.expect("220 mx0a.pphosted.com ESMTP smtpfake\r\n")
	done := make(chan error)
	go func() { done <- s.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Error(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close waits for the client")
	}
	r.expectClosed()
}

func TestReset(t *testing.T) {
	s := start(t, []Rule{{At: Rcpt, Reply: block, Times: 1}})
	wantErr(t, send(t, s.Addr(), "127.0.0.1", "a@example.com"), blocked)
	s.Reset()
	if got := s.Tally(); len(got.Answers) != 0 || len(got.Delivered) != 0 {
		t.Errorf("tally after Reset: %+v", got)
	}
	// The rule's one time is given back.
	wantErr(t, send(t, s.Addr(), "127.0.0.1", "a@example.com"), blocked)
}

func TestStartRefusesBadRules(t *testing.T) {
	for _, r := range []Rule{
		{At: "helo", Reply: block},
		{At: Rcpt, Rcpt: "[", Reply: block},
		{At: Rcpt, Reply: "Blocked"},
		{At: Rcpt, Reply: "650 No"},
		{At: Rcpt, Reply: "5500 No"},
		{At: Rcpt, Reply: block, Times: -1},
	} {
		if s, err := Start("127.0.0.1:0", hostname, []Rule{r}); err == nil {
			s.Close()
			t.Errorf("Start accepted %+v", r)
		}
	}
}

func TestTallyCounts(t *testing.T) {
	tally := Tally{
		Answers: map[Answer]int{
			{"127.0.0.1", Rcpt, 550, "550 a"}: 2,
			{"127.0.0.1", Data, 550, "550 b"}: 3,
			{"127.0.0.1", Rcpt, 421, "421 c"}: 1,
			{"127.0.0.2", Rcpt, 550, "550 a"}: 7,
		},
		Delivered: []Delivery{{Client: "127.0.0.1"}, {Client: "127.0.0.2"}, {Client: "127.0.0.1"}},
	}
	for _, c := range []struct {
		client string
		code   int
		want   int
	}{{"127.0.0.1", 550, 5}, {"127.0.0.1", 421, 1}, {"127.0.0.2", 550, 7}, {"127.0.0.3", 550, 0}, {"", 550, 12}} {
		if got := tally.Count(c.client, c.code); got != c.want {
			t.Errorf("Count(%q, %d) = %d, want %d", c.client, c.code, got, c.want)
		}
	}
	if got := tally.DeliveredFrom("127.0.0.1"); got != 2 {
		t.Errorf("DeliveredFrom = %d, want 2", got)
	}
}
