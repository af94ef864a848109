package pmta

import (
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/google/go-cmp/cmp"

	"github.com/ppwatch/ppwatch/parsers/parsertest"
	"github.com/ppwatch/ppwatch/pkg/event"
)

var ref = time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)

func newParser() *Parser { return New(Options{Reference: ref, Location: time.UTC}) }

// blockLine is a bounce in PowerMTA's default field order.
const blockLine = `b,2026-11-22 09:04:01+0000,2026-11-22 08:59:40+0000,bounces+nl1122@bounce.example.com,facilities@acme.example,,failed,5.7.0 (other or undefined security status),smtp;550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=203.0.113.11,mx0a-00123a01.pphosted.com (148.163.156.1),policy-related,smtp,app01.example.com (192.0.2.20),smtp,203.0.113.11,148.163.156.1,"PIPELINING,8BITMIME,SIZE,STARTTLS,ENHANCEDSTATUSCODES,DSN",48213,vmta-11,nl-20261122,,acme.example/vmta-11,news`

func blockEvent() event.Delivery {
	return event.Delivery{
		Time:            time.Date(2026, 11, 22, 9, 4, 1, 0, time.UTC),
		MTA:             event.PMTA,
		Instance:        "vmta-11",
		QueueID:         "nl-20261122",
		Sender:          "bounces+nl1122@bounce.example.com",
		Recipient:       "facilities@acme.example",
		RecipientDomain: "acme.example",
		RelayHost:       "mx0a-00123a01.pphosted.com",
		RelayIP:         "148.163.156.1",
		SourceIP:        "203.0.113.11",
		Status:          event.Bounced,
		SMTPCode:        550,
		EnhancedCode:    "5.7.0",
		Response:        "550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=203.0.113.11",
	}
}

// rec builds a default-order line from blockLine with some columns replaced.
func rec(repl map[string]string) string {
	cols := splitCSV(blockLine)
	names := strings.Split(DefaultHeader, ",")
	for i, n := range names {
		if v, ok := repl[n]; ok {
			cols[i] = v
		}
	}
	return strings.Join(cols, ",")
}

// splitCSV splits a test line into raw (still quoted) fields.
func splitCSV(s string) []string {
	var out []string
	for i := 0; i <= len(s); {
		start, end, next, _, _ := scanField(s, i)
		if start > i { // quoted: keep the quotes
			start--
			end++
		}
		out = append(out, s[start:end])
		i = next
	}
	return out
}

func with(f func(*event.Delivery)) event.Delivery {
	ev := blockEvent()
	f(&ev)
	return ev
}

func TestParse(t *testing.T) {
	const reordered = "type,timeLogged,orig,rcpt,vmta,jobId,envId,dlvSourceIp,dsnMta,dsnStatus,dsnDiag,header_Message-Id,header_X-Campaign-Id"
	const typeInMiddle = "timeLogged,rcpt,type,dsnDiag,dlvSourceIp"
	tests := []struct {
		name    string
		headers []string // lines fed to Parse first (each must be skipped)
		line    string
		want    *event.Delivery
		err     string // exact error text; "" with want nil means skip
	}{
		{name: "default order without header", line: blockLine, want: ptr(blockEvent())},
		{name: "default order with header", headers: []string{DefaultHeader}, line: blockLine, want: ptr(blockEvent())},
		{name: "CRLF", line: blockLine + "\r", want: ptr(blockEvent())},
		{name: "BOM before the header", headers: []string{"\ufeff" + DefaultHeader}, line: blockLine, want: ptr(blockEvent())},
		{
			name: "delivered, envId preferred over jobId, orcpt",
			line: rec(map[string]string{"type": "d", "envId": "txn-8f3a2c01", "orcpt": "RFC822;Facilities@ACME.example", "dsnStatus": "2.0.0 (success)", "dsnDiag": "smtp;250 2.0.0 4a0555x7k1q-1 Message accepted for delivery"}),
			want: ptr(with(func(e *event.Delivery) {
				e.Status, e.QueueID, e.OrigRecipient = event.Delivered, "txn-8f3a2c01", "Facilities@ACME.example"
				e.SMTPCode, e.EnhancedCode, e.Response = 250, "2.0.0", "250 2.0.0 4a0555x7k1q-1 Message accepted for delivery"
			})),
		},
		{
			name: "no jobId nor envId",
			line: rec(map[string]string{"jobId": ""}),
			want: ptr(with(func(e *event.Delivery) { e.QueueID = "" })),
		},
		{
			name: "transient, no enhanced code in the reply: dsnStatus",
			line: rec(map[string]string{"type": "t", "dsnStatus": "4.0.0 (undefined status)", "dsnDiag": "smtp;421 Deferred - see https://ipcheck.proofpoint.com/?ip=203.0.113.11"}),
			want: ptr(with(func(e *event.Delivery) {
				e.Status, e.SMTPCode, e.EnhancedCode, e.Response = event.Deferred, 421, "4.0.0", "421 Deferred - see https://ipcheck.proofpoint.com/?ip=203.0.113.11"
			})),
		},
		{
			name: "dsnStatus glued to its text",
			line: rec(map[string]string{"dsnStatus": "5.0.0(undefined status)", "dsnDiag": "smtp;554 Blocked - see https://ipcheck.proofpoint.com/?ip=203.0.113.11"}),
			want: ptr(with(func(e *event.Delivery) {
				e.SMTPCode, e.EnhancedCode, e.Response = 554, "5.0.0", "554 Blocked - see https://ipcheck.proofpoint.com/?ip=203.0.113.11"
			})),
		},
		{
			name: "multi-line reply joined",
			line: rec(map[string]string{"dsnStatus": `"5.7.1 (delivery not authorized, message refused)"`, "dsnDiag": `"smtp;550-5.7.1 [203.0.113.11] Our system has detected that this message is 550-5.7.1 likely unsolicited mail. 550 5.7.1 https://support.google.com/mail/?p=UnsolicitedMessageError - gsmtp"`}),
			want: ptr(with(func(e *event.Delivery) {
				e.SMTPCode, e.EnhancedCode = 550, "5.7.1"
				e.Response = "550-5.7.1 [203.0.113.11] Our system has detected that this message is 550-5.7.1 likely unsolicited mail. 550 5.7.1 https://support.google.com/mail/?p=UnsolicitedMessageError - gsmtp"
			})),
		},
		{
			name: "no SMTP reply: connection timed out",
			line: rec(map[string]string{"type": "t", "dsnStatus": "4.4.1 (no answer from host)", "dsnDiag": "smtp;Connection timed out"}),
			want: ptr(with(func(e *event.Delivery) {
				e.Status, e.SMTPCode, e.EnhancedCode, e.Response = event.Deferred, 0, "4.4.1", "Connection timed out"
			})),
		},
		{
			name: "no SMTP reply: bare reason",
			line: rec(map[string]string{"type": "t", "dsnStatus": "4.4.1 (no answer from host)", "dsnDiag": "No answer from host"}),
			want: ptr(with(func(e *event.Delivery) {
				e.Status, e.SMTPCode, e.EnhancedCode, e.Response = event.Deferred, 0, "4.4.1", "No answer from host"
			})),
		},
		{
			name: "non-smtp diagnostic type is kept whole, no code",
			line: rec(map[string]string{"dsnStatus": "5.2.2 (mailbox full)", "dsnDiag": "x-local;550 mailbox full"}),
			want: ptr(with(func(e *event.Delivery) {
				e.SMTPCode, e.EnhancedCode, e.Response = 0, "5.2.2", "x-local;550 mailbox full"
			})),
		},
		{
			name: "bare reply without diagnostic type, upper-case SMTP; with a space",
			line: rec(map[string]string{"dsnDiag": "SMTP; 550 5.7.1 Relaying denied "}),
			want: ptr(with(func(e *event.Delivery) {
				e.SMTPCode, e.EnhancedCode, e.Response = 550, "5.7.1", "550 5.7.1 Relaying denied"
			})),
		},
		{
			name: "bare reply",
			line: rec(map[string]string{"dsnDiag": "550 5.1.1 User Unknown"}),
			want: ptr(with(func(e *event.Delivery) {
				e.SMTPCode, e.EnhancedCode, e.Response = 550, "5.1.1", "550 5.1.1 User Unknown"
			})),
		},
		{
			name: "empty diagnostic",
			line: rec(map[string]string{"dsnDiag": ""}),
			want: ptr(with(func(e *event.Delivery) { e.SMTPCode, e.Response = 0, "" })),
		},
		{
			name: "quoted diagnostic with commas and doubled quotes",
			line: rec(map[string]string{"dsnDiag": `"smtp;550 5.7.1 Message rejected, ""policy violation"", see https://ipcheck.proofpoint.com/?ip=203.0.113.11"`}),
			want: ptr(with(func(e *event.Delivery) {
				e.SMTPCode, e.EnhancedCode = 550, "5.7.1"
				e.Response = `550 5.7.1 Message rejected, "policy violation", see https://ipcheck.proofpoint.com/?ip=203.0.113.11`
			})),
		},
		{
			name: "every field quoted",
			line: `"b","2026-11-22 09:04:01+0000","","bounces+nl1122@bounce.example.com","facilities@acme.example","","failed","5.7.0","smtp;550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=203.0.113.11","mx0a-00123a01.pphosted.com (148.163.156.1)","","","","","203.0.113.11","","","","vmta-11","nl-20261122","","",""`,
			want: ptr(blockEvent()),
		},
		{
			name: "IPv6 source and relay",
			line: rec(map[string]string{"dlvSourceIp": "2001:db8:25::11", "dsnMta": "mx0a-00123a01.pphosted.com (2620:100:9001:583::1)", "dlvDestinationIp": "2620:100:9001:583::1"}),
			want: ptr(with(func(e *event.Delivery) { e.SourceIP, e.RelayIP = "2001:db8:25::11", "2620:100:9001:583::1" })),
		},
		{
			name: "bracketed IPv6 source",
			line: rec(map[string]string{"dlvSourceIp": "[2001:db8:25::11]"}),
			want: ptr(with(func(e *event.Delivery) { e.SourceIP = "2001:db8:25::11" })),
		},
		{
			name: "relay IP from dlvDestinationIp when dsnMta has none",
			line: rec(map[string]string{"dsnMta": "mx0a-00123a01.pphosted.com", "dlvDestinationIp": "148.163.156.2"}),
			want: ptr(with(func(e *event.Delivery) { e.RelayIP = "148.163.156.2" })),
		},
		{
			name: "relay IP from dlvDestinationIp when dsnMta is empty",
			line: rec(map[string]string{"dsnMta": "", "dlvDestinationIp": "148.163.156.2"}),
			want: ptr(with(func(e *event.Delivery) { e.RelayHost, e.RelayIP = "", "148.163.156.2" })),
		},
		{
			name: "dsnMta with dns; prefix and a non-IP in parentheses",
			line: rec(map[string]string{"dsnMta": "dns;mx0a-00123a01.pphosted.com (unknown)", "dlvDestinationIp": ""}),
			want: ptr(with(func(e *event.Delivery) { e.RelayIP = "" })),
		},
		{
			name: "dsnMta host[ip]",
			line: rec(map[string]string{"dsnMta": "mx0a-00123a01.pphosted.com[148.163.156.1]", "dlvDestinationIp": ""}),
			want: ptr(blockEvent()),
		},
		{
			name: "dsnMta bare IP",
			line: rec(map[string]string{"dsnMta": "[148.163.156.1]", "dlvDestinationIp": ""}),
			want: ptr(with(func(e *event.Delivery) { e.RelayHost = "148.163.156.1" })),
		},
		{
			name: "recipient in angle brackets, upper-case domain",
			line: rec(map[string]string{"rcpt": "<Facilities@ACME.Example>", "orig": "<>"}),
			want: ptr(with(func(e *event.Delivery) {
				e.Recipient, e.RecipientDomain, e.Sender = "Facilities@ACME.Example", "acme.example", ""
			})),
		},
		{
			name: "non-ASCII domain is lower-cased too",
			line: rec(map[string]string{"rcpt": "info@MÜNCHEN.example"}),
			want: ptr(with(func(e *event.Delivery) { e.Recipient, e.RecipientDomain = "info@MÜNCHEN.example", "münchen.example" })),
		},
		{
			name: "UNIX time",
			line: rec(map[string]string{"timeLogged": "1795338241"}),
			want: ptr(blockEvent()),
		},
		{
			name: "UNIX time with fraction",
			line: rec(map[string]string{"timeLogged": "1795338241.5"}),
			want: ptr(with(func(e *event.Delivery) { e.Time = e.Time.Add(500 * time.Millisecond) })),
		},
		{
			name: "zone -05:00",
			line: rec(map[string]string{"timeLogged": "2026-11-22 04:04:01-05:00"}),
			want: ptr(blockEvent()),
		},
		{
			name: "zone after a space",
			line: rec(map[string]string{"timeLogged": "2026-11-22 10:04:01 +0100"}),
			want: ptr(blockEvent()),
		},
		{
			name: "ISO T separator",
			line: rec(map[string]string{"timeLogged": "2026-11-22T09:04:01Z"}),
			want: ptr(blockEvent()),
		},
		{
			name:    "reordered columns with header_ columns",
			headers: []string{reordered},
			line:    `b,2026-11-22 09:04:01+0000,bounces+nl1122@bounce.example.com,facilities@acme.example,vmta-11,nl-20261122,,203.0.113.11,mx0a-00123a01.pphosted.com (148.163.156.1),5.7.0,smtp;550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=203.0.113.11,<nl1122.1@news.example.com>,"nov, week 4"`,
			want:    ptr(blockEvent()),
		},
		{
			name:    "type column not first",
			headers: []string{typeInMiddle},
			line:    `2026-11-22 09:04:01+0000,facilities@acme.example,b,smtp;550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=203.0.113.11,203.0.113.11`,
			want: &event.Delivery{
				Time: time.Date(2026, 11, 22, 9, 4, 1, 0, time.UTC), MTA: event.PMTA,
				Recipient: "facilities@acme.example", RecipientDomain: "acme.example", SourceIP: "203.0.113.11",
				Status: event.Bounced, SMTPCode: 550, EnhancedCode: "5.7.0",
				Response: "550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=203.0.113.11",
			},
		},
		{
			name:    "a second header re-maps",
			headers: []string{typeInMiddle, DefaultHeader},
			line:    blockLine,
			want:    ptr(blockEvent()),
		},
		{
			name:    "#type header",
			headers: []string{"#" + reordered},
			line:    `b,2026-11-22 09:04:01+0000,bounces+nl1122@bounce.example.com,facilities@acme.example,vmta-11,nl-20261122,,203.0.113.11,mx0a-00123a01.pphosted.com (148.163.156.1),5.7.0,smtp;550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=203.0.113.11,,`,
			want:    ptr(blockEvent()),
		},
		{
			name: "quoted type",
			line: `"b"` + blockLine[1:],
			want: ptr(blockEvent()),
		},

		// not attempts
		{name: "header", line: DefaultHeader},
		{name: "tq", line: `tq,2026-11-22 09:01:06+0000,,,,,,4.0.0 (undefined status),smtp;421 Deferred - see https://ipcheck.proofpoint.com/?ip=203.0.113.11,,,,,,203.0.113.11,,,,vmta-11,,,acme.example/vmta-11,news`},
		{name: "r", line: rec(map[string]string{"type": "r"})},
		{name: "f", line: rec(map[string]string{"type": "f"})},
		{name: "rb", line: rec(map[string]string{"type": "rb"})},
		{name: "rs", line: rec(map[string]string{"type": "rs"})},
		{name: "unknown record type word", line: rec(map[string]string{"type": "x"})},
		{name: "long type name is not ours either", line: rec(map[string]string{"type": "delivery"})},
		{name: "noise with a wrong column count", line: "r,2026-11-22 09:00:00+0000,a@b.example"},
		{name: "garbage type with another column count", line: "2026-11-22 09:00:00 pmta[1]: started"},
		{name: "empty line", line: ""},
		{name: "CR only", line: "\r"},

		// malformed
		{name: "column missing", line: strings.TrimSuffix(blockLine, ",news"), err: "field record: 22 columns, the default field order has 23 (no header line seen)"},
		{name: "column too many after a header", headers: []string{DefaultHeader}, line: blockLine + ",x", err: "field record: 24 columns, the header has 23"},
		{name: "type lost", line: blockLine[1:], err: "field type: empty record type"},
		{name: "garbage type", line: "?" + blockLine[1:], err: `field type: unknown record type "?"`},
		{name: "unterminated quote", line: rec(map[string]string{"dsnDiag": `"smtp;550 5.7.1 cut`, "dlvEsmtpAvailable": "PIPELINING"}), err: "field dsnDiag: unterminated quoted field"},
		{name: "text after closing quote", line: rec(map[string]string{"dsnDiag": `"smtp;550 5.7.1"x`}), err: "field dsnDiag: text after the closing quote"},
		{name: "unterminated quote in a header_ column", headers: []string{reordered}, line: `b,2026-11-22 09:04:01+0000,a@b.example,c@d.example,v,j,,,,,,"<x@y>`, err: "field header_Message-Id: unterminated quoted field"},
		{name: "bad time", line: rec(map[string]string{"timeLogged": "2026-11-22 24:04:01+0000"}), err: `field timeLogged: bad timestamp "2026-11-22 24:04:01+0000"`},
		{name: "bad zone", line: rec(map[string]string{"timeLogged": "2026-11-22 09:04:01 CEST"}), err: `field timeLogged: bad timestamp "2026-11-22 09:04:01 CEST"`},
		{name: "short UNIX time", line: rec(map[string]string{"timeLogged": "17953"}), err: `field timeLogged: bad timestamp "17953"`},
		{name: "year before 1970", line: rec(map[string]string{"timeLogged": "0001-01-01 00:00:00+0000"}), err: `field timeLogged: bad timestamp "0001-01-01 00:00:00+0000"`},
		{name: "empty time", line: rec(map[string]string{"timeLogged": ""}), err: "field timeLogged: empty"},
		{name: "recipient without domain", line: rec(map[string]string{"rcpt": "postmaster"}), err: `field rcpt: no domain in "postmaster"`},
		{name: "recipient ending in @", line: rec(map[string]string{"rcpt": "user@"}), err: `field rcpt: no domain in "user@"`},
		{name: "no recipient", line: rec(map[string]string{"rcpt": ""}), err: "field rcpt: empty"},
		{name: "header without rcpt column", headers: []string{"type,timeLogged,dsnDiag"}, line: "b,2026-11-22 09:04:01+0000,smtp;550 x", err: "field rcpt: no rcpt column in the header"},
		{name: "bad source IP", line: rec(map[string]string{"dlvSourceIp": "203.0.113.300"}), err: `field dlvSourceIp: bad IP address "203.0.113.300"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newParser()
			for _, h := range tt.headers {
				if ev, ok, err := p.Parse(h); ok || err != nil {
					t.Fatalf("header %q: ok=%v err=%v ev=%+v", h, ok, err, ev)
				}
			}
			ev, ok, err := p.Parse(tt.line)
			switch {
			case tt.err != "":
				if err == nil || err.Error() != tt.err || ok {
					t.Fatalf("got ok=%v err=%v, want error %q", ok, err, tt.err)
				}
			case tt.want == nil:
				if ok || err != nil {
					t.Fatalf("got ok=%v err=%v ev=%+v, want skip", ok, err, ev)
				}
			default:
				if !ok || err != nil {
					t.Fatalf("got ok=%v err=%v, want an event", ok, err)
				}
				if d := cmp.Diff(*tt.want, ev); d != "" {
					t.Errorf("event mismatch (-want +got):\n%s", d)
				}
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestZonelessUsesLocation(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip(err)
	}
	p := New(Options{Reference: ref, Location: ny})
	ev, ok, err := p.Parse(rec(map[string]string{"timeLogged": "2026-11-22 04:04:01"}))
	if !ok || err != nil {
		t.Fatal(ok, err)
	}
	if want := time.Date(2026, 11, 22, 9, 4, 1, 0, time.UTC); !ev.Time.Equal(want) || ev.Time.Location() != time.UTC {
		t.Errorf("time %v, want %v", ev.Time, want)
	}
}

func TestSetHeader(t *testing.T) {
	const custom = "type,timeLogged,rcpt,dsnDiag"
	const customRec = "b,2026-11-22 09:04:01+0000,a@acme.example,smtp;550 5.7.0 Blocked"

	p := newParser()
	if err := p.SetHeader(custom + "\r"); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := p.Parse(customRec); !ok || err != nil {
		t.Fatalf("record after SetHeader: ok=%v err=%v", ok, err)
	}

	// A file without header: back to the default order, no error.
	if err := p.SetHeader(blockLine); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := p.Parse(blockLine); !ok || err != nil {
		t.Fatalf("default order after SetHeader(record): ok=%v err=%v", ok, err)
	}

	// Garbage: default order, and an error saying so.
	p.SetHeader(custom)
	err := p.SetHeader("hello")
	if err == nil || err.Error() != `field header: not a header line ("hello"); using the default field order` {
		t.Fatalf("err = %v", err)
	}
	if _, ok, err := p.Parse(blockLine); !ok || err != nil {
		t.Fatalf("default order after SetHeader(garbage): ok=%v err=%v", ok, err)
	}
}

// The line aliases the caller's read buffer: nothing may keep a substring
// of it from one call to the next.
func TestReusedBuffer(t *testing.T) {
	p := newParser()
	buf := []byte(rec(map[string]string{"timeLogged": "2026-11-22 09:04:01+0000"}))
	line := unsafe.String(&buf[0], len(buf))
	ev1, ok, err := p.Parse(line)
	if !ok || err != nil {
		t.Fatal(ok, err)
	}
	copy(buf, rec(map[string]string{"timeLogged": "2026-11-22 09:05:01+0000"}))
	ev2, ok, err := p.Parse(line)
	if !ok || err != nil {
		t.Fatal(ok, err)
	}
	if d := ev2.Time.Sub(ev1.Time); d != time.Minute {
		t.Errorf("second time %v after the first, want 1m (stale cache?)", d)
	}
}

func TestSniff(t *testing.T) {
	yes := []string{
		DefaultHeader,
		DefaultHeader + "\r",
		"#type,timeLogged,rcpt",
		"timeLogged,type,rcpt,dsnDiag",
		blockLine,
		rec(map[string]string{"type": "tq"}),
		rec(map[string]string{"timeLogged": "1795338241"}),
		rec(map[string]string{"timeLogged": "2026-11-22T09:04:01+00:00"}),
	}
	no := []string{
		"",
		"type,name,size",
		"d,hello,world",
		"x,2026-11-22 09:04:01+0000,a@b.example",
		"Nov 22 09:04:01 mx1 postfix/smtp[1234]: 4cDCnd66Hyz1XPWFF: to=<a@b.example>, relay=x[1.2.3.4]:25, status=sent (250 ok)",
		"2026-11-22 09:04:01 1e4Ssq-00024N-Sp => a@b.example R=dnslookup T=remote_smtp H=mx.b.example [192.0.2.1]",
	}
	for _, l := range yes {
		if !Sniff(l) {
			t.Errorf("Sniff(%.60q) = false", l)
		}
	}
	for _, l := range no {
		if Sniff(l) {
			t.Errorf("Sniff(%.60q) = true", l)
		}
	}
}

// noise are lines that are not attempts; rejecting them must not allocate.
var noise = []string{
	`tq,2026-11-22 09:01:06+0000,,,,,,4.0.0 (undefined status),smtp;421 Deferred - see https://ipcheck.proofpoint.com/?ip=203.0.113.11,,,,,,203.0.113.11,,,,vmta-11,,,acme.example/vmta-11,news`,
	`r,2026-11-26 08:00:00+0000,2026-11-26 08:00:00+0000,news@brand.example.com,list-member-1@acme.example,,,,,,,smtp,app01.example.com (192.0.2.20),,,,,51200,brand-1,promo-88,,,`,
	`f,2026-11-26 09:12:44+0000,,news@brand.example.com,list-member-5@yahoo.com,,,,,,,,,,,,,,,promo-88,,,`,
	`rb,2026-11-26 08:07:12+0000,,news@brand.example.com,m@initech.example,,failed,"5.1.1 (bad destination mailbox address)",smtp;550 5.1.1 User unknown,mailhub.initech.example,bad-mailbox,,,,,,,,,promo-88,,,`,
	`rs,2026-11-26 08:07:30+0000,,news@brand.example.com,m@initech.example,,delayed,4.4.7,smtp;421 4.4.2 Connection dropped,,,,,,,,,,,promo-88,,,`,
	`"tq","2026-11-22 09:01:06+0000"`,
	`x,2026-11-26 09:13:00+0000,,news@brand.example.com,list-member-6@acme.example,,,,,,,,,,,,,,brand-1,,,,`,
	DefaultHeader,
	DefaultHeader + "\r",
	"",
	"PowerMTA v5.5r1 started",
	"2026-11-29 03:00:12 pmta[1822]: reloading configuration",
}

func TestNoiseDoesNotAllocate(t *testing.T) {
	p := newParser()
	p.Parse(DefaultHeader) // the first header is copied once
	for _, l := range noise {
		if _, ok, err := p.Parse(l); ok || err != nil {
			t.Fatalf("%.40q: ok=%v err=%v", l, ok, err)
		}
		if n := testing.AllocsPerRun(100, func() { p.Parse(l) }); n != 0 {
			t.Errorf("Parse(%.40q): %v allocs, want 0", l, n)
		}
	}
	// with the type column elsewhere
	q := newParser()
	q.Parse("timeLogged,rcpt,type,dsnDiag")
	for _, l := range []string{"2026-11-22 09:04:01+0000,a@b.example,tq,x", "2026-11-22 09:04:01+0000,a@b.example,r,\"x,y\""} {
		if n := testing.AllocsPerRun(100, func() { q.Parse(l) }); n != 0 {
			t.Errorf("Parse(%.40q) with type in column 3: %v allocs, want 0", l, n)
		}
	}
}

func TestSniffDoesNotAllocate(t *testing.T) {
	for _, l := range append(noise, blockLine) {
		if n := testing.AllocsPerRun(100, func() { Sniff(l) }); n != 0 {
			t.Errorf("Sniff(%.40q): %v allocs, want 0", l, n)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	lines := parsertest.File(b, "../../testdata/pmta/sample.log")
	p := newParser()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p.Parse(lines[i%len(lines)])
	}
}

func BenchmarkParseNoise(b *testing.B) {
	p := newParser()
	p.Parse(DefaultHeader)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p.Parse(noise[i%5])
	}
}
