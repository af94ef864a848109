// Package loggen writes realistic, deterministic MTA logs for benchmarks and
// load tests: an outbound relay's message flow with about 10% of deliveries
// going to Proofpoint and a mix of its replies. Postfix's log has smtpd,
// cleanup, qmgr, smtp and removed lines per message; Exim's main log an
// arrival, the attempt (after the failing host's own line when a connection
// timed out) and Completed; PowerMTA's accounting file a header and one
// record per attempt. The same seed gives the same bytes.
package loggen

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"time"
)

// Options shape the generated log.
type Options struct {
	MTA     string    // "postfix" (or ""), "exim" or "pmta"
	Lines   int       // stop after this many lines
	Seed    uint64    // same seed, same bytes
	Start   time.Time // timestamp of the first line
	Domains int       // distinct recipient domains (0: 5,000)
	Rate    float64   // messages per second of log time (0: 50)
	// ProofpointShare is the share of deliveries to Proofpoint (0: 0.10).
	ProofpointShare float64
	// ProofpointDomains is how many distinct recipient domains are behind
	// Proofpoint (0: 400), at most Domains.
	ProofpointDomains int
	// DistinctDomains sends every Proofpoint delivery to a recipient domain
	// of its own (corp0.example, corp1.example, …), as a spam run or a
	// list-cleaning job does; ProofpointDomains is then ignored.
	DistinctDomains bool
	// AttemptDelay is the time from a message's arrival to its attempt
	// (0: 50 to 950 ms at random). The delays add up: at a million messages
	// the random ones make the log span six days.
	AttemptDelay time.Duration
	// SourceIPs are the sending IPs Proofpoint names in its replies, one
	// picked per message (nil: four documentation addresses).
	SourceIPs []string
}

// reply is one outcome of an attempt, as Postfix words it: text is a
// format of the queue ID, the remote host, its IP and the sending IP.
type reply struct {
	weight int
	status string
	dsn    string
	text   string
}

var ppReplies = []reply{
	{50, "sent", "2.0.0", "250 2.0.0 %[1]s Message accepted for delivery"},
	{18, "bounced", "5.7.0", "host %[2]s[%[3]s] said: 550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=%[4]s (in reply to MAIL FROM command)"},
	{10, "deferred", "4.0.0", "host %[2]s[%[3]s] said: 421 Deferred - see https://ipcheck.proofpoint.com/?ip=%[4]s (in reply to MAIL FROM command)"},
	{5, "deferred", "4.0.0", "host %[2]s[%[3]s] refused to talk to me: 554 %[2]s ESMTP Blocked - see https://ipcheck.proofpoint.com/?ip=%[4]s"},
	{5, "bounced", "5.1.1", "host %[2]s[%[3]s] said: 550 5.1.1 User Unknown (in reply to end of DATA command)"},
	{4, "deferred", "4.7.1", "host %[2]s[%[3]s] said: 451 4.7.1 Too many connections from your IP, try again later (in reply to RCPT TO command)"},
	{4, "deferred", "4.4.1", "connect to %[2]s[%[3]s]:25: Connection timed out"},
	{4, "bounced", "5.7.0", "host %[2]s[%[3]s] said: 550 5.7.0 Local Policy Violation - DMARC Reject (in reply to end of DATA command)"},
}

var otherReplies = []reply{
	{90, "sent", "2.0.0", "250 2.0.0 OK  %[1]s - gsmtp"},
	{4, "deferred", "4.7.28", "host %[2]s[%[3]s] said: 421-4.7.28 Unusual rate of unsolicited mail 421 4.7.28 try again later (in reply to end of DATA command)"},
	{3, "bounced", "5.1.1", "host %[2]s[%[3]s] said: 550 5.1.1 The email account that you tried to reach does not exist (in reply to RCPT TO command)"},
	{3, "deferred", "4.4.2", "lost connection with %[2]s[%[3]s] while receiving the initial server greeting"},
}

var sourceIPs = []string{"192.0.2.25", "192.0.2.26", "198.51.100.7", "203.0.113.9"}

// Write writes the log to w and returns the bytes written.
func Write(w io.Writer, o Options) (int64, error) {
	if o.Domains <= 0 {
		o.Domains = 5000
	}
	if o.Rate <= 0 {
		o.Rate = 50
	}
	if o.ProofpointShare <= 0 {
		o.ProofpointShare = 0.10
	}
	if o.ProofpointDomains <= 0 {
		o.ProofpointDomains = 400
	}
	if len(o.SourceIPs) == 0 {
		o.SourceIPs = sourceIPs
	}
	if o.Start.IsZero() {
		o.Start = time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	}
	rng := rand.New(rand.NewPCG(o.Seed, 0x9e3779b97f4a7c15))
	bw := bufio.NewWriterSize(w, 1<<20)
	cw := &countWriter{w: bw}
	t := o.Start
	lines := 0
	prefix := func() { fmt.Fprintf(cw, "%s mta1 ", t.Format(time.Stamp)) }
	switch o.MTA {
	case "", "postfix":
	case "exim":
		prefix = func() { cw.Write(t.AppendFormat(nil, "2006-01-02 15:04:05 ")) }
	case "pmta":
		prefix = func() {}
		fmt.Fprintln(cw, pmtaHeader)
		lines++
	default:
		return 0, fmt.Errorf("loggen: unknown MTA %q", o.MTA)
	}
	emit := func(format string, args ...any) {
		if lines >= o.Lines {
			return
		}
		prefix()
		fmt.Fprintf(cw, format, args...)
		cw.Write([]byte{'\n'})
		lines++
	}
	qn := uint64(0x4C6D21A0B3F)
	next := 0 // the next DistinctDomains domain
	pid := 1000
	for lines < o.Lines {
		qn += uint64(1 + rng.IntN(977))
		qid := fmt.Sprintf("%X", qn)
		pid = 1000 + rng.IntN(30000)
		t = t.Add(time.Duration(rng.ExpFloat64() / o.Rate * float64(time.Second)))
		clientN, clientIP := 1+rng.IntN(8), 100+rng.IntN(50)
		client := fmt.Sprintf("app%d.example.net[192.0.2.%d]", clientN, clientIP)
		msgID := rng.Uint32()
		sender := fmt.Sprintf("%s@example.net", []string{"billing", "news", "alerts", "orders", "noreply"}[rng.IntN(5)])
		size := 1000 + rng.IntN(90000)
		if o.MTA == "" || o.MTA == "postfix" {
			emit("postfix/smtpd[%d]: connect from %s", pid, client)
			emit("postfix/smtpd[%d]: %s: client=%s", pid, qid, client)
			emit("postfix/cleanup[%d]: %s: message-id=<%d.%s@mta1.example.net>", pid+1, qid, msgID, qid)
			emit("postfix/qmgr[999]: %s: from=<%s>, size=%d, nrcpt=1 (queue active)", qid, sender, size)
			emit("postfix/smtpd[%d]: disconnect from %s ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5", pid, client)
		}
		arrival := t

		pp := rng.Float64() < o.ProofpointShare
		d := rng.IntN(o.Domains)
		var domain, host, ip string
		table := otherReplies
		if pp {
			// The domain follows from d, with no draw of its own: a draw
			// here shifted every later number, and the shipped Postfix
			// sample (make sample) could no longer be made again.
			pd := d % o.ProofpointDomains
			if o.DistinctDomains {
				pd, next = next, next+1
			}
			domain = fmt.Sprintf("corp%d.example", pd)
			host = fmt.Sprintf("mx0%c-00%06x01.pphosted.com", 'a'+rune(rng.IntN(2)), pd%4096)
			ip = fmt.Sprintf("148.163.%d.%d", 128+d%32, 1+d%250)
			table = ppReplies
		} else {
			domain = fmt.Sprintf("dom%d.example", d)
			host = "gmail-smtp-in.l.google.com"
			ip = fmt.Sprintf("142.250.%d.%d", d%200, 1+d%250)
		}
		total := 0
		for _, r := range table {
			total += r.weight
		}
		pick := rng.IntN(total)
		i := 0
		for ; pick >= table[i].weight; i++ {
			pick -= table[i].weight
		}
		r := table[i]
		relay := fmt.Sprintf("%s[%s]:25", host, ip)
		if r.dsn == "4.4.1" {
			relay = "none"
		}
		if o.AttemptDelay > 0 {
			t = t.Add(o.AttemptDelay)
		} else {
			t = t.Add(time.Duration(50+rng.IntN(900)) * time.Millisecond)
		}
		text := fmt.Sprintf(r.text, qid, host, ip, o.SourceIPs[rng.IntN(len(o.SourceIPs))])
		rcpt := fmt.Sprintf("user%d@%s", rng.IntN(100000), domain)
		delay := 0.2 + rng.Float64()
		m := message{qid: qid, arrival: arrival, sender: sender, size: size, client: client, clientIP: clientIP, msgID: msgID,
			rcpt: rcpt, host: host, ip: ip, status: r.status, dsn: r.dsn, text: text, sourceIP: o.SourceIPs[int(qn)%len(o.SourceIPs)]}
		switch o.MTA {
		case "exim":
			m.exim(emit)
		case "pmta":
			m.pmta(emit)
		default:
			emit("postfix/smtp[%d]: %s: to=<%s>, relay=%s, delay=%.2f, delays=0.01/0/0.3/0.4, dsn=%s, status=%s (%s)",
				pid+2, qid, rcpt, relay, delay, r.dsn, r.status, text)
			emit("postfix/qmgr[999]: %s: removed", qid)
		}
	}
	if err := bw.Flush(); err != nil {
		return cw.n, err
	}
	return cw.n, cw.err
}

type countWriter struct {
	w   io.Writer
	n   int64
	err error
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	if err != nil && c.err == nil {
		c.err = err
	}
	return n, err
}
