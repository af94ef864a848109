package pmta

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/ppwatch/ppwatch/parsers/mtalog"
	"github.com/ppwatch/ppwatch/parsers/parsertest"
	"github.com/ppwatch/ppwatch/pkg/event"
)

var ref = time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)

func newTest() *Parser { return New(mtalog.Options{Reference: ref, Location: time.UTC}) }

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
	tests := []parsertest.Case{
		{Name: "default order without header", Line: blockLine, Want: ptr(blockEvent())},
		{Name: "default order with header", Before: []string{DefaultHeader}, Line: blockLine, Want: ptr(blockEvent())},
		{Name: "CRLF", Line: blockLine + "\r", Want: ptr(blockEvent())},
		{Name: "BOM before the header", Before: []string{"\ufeff" + DefaultHeader}, Line: blockLine, Want: ptr(blockEvent())},
		{
			Name: "delivered, envId preferred over jobId, orcpt",
			Line: rec(map[string]string{"type": "d", "envId": "txn-8f3a2c01", "orcpt": "RFC822;Facilities@ACME.example", "dsnStatus": "2.0.0 (success)", "dsnDiag": "smtp;250 2.0.0 4a0555x7k1q-1 Message accepted for delivery"}),
			Want: ptr(with(func(e *event.Delivery) {
				e.Status, e.QueueID, e.OrigRecipient = event.Delivered, "txn-8f3a2c01", "Facilities@ACME.example"
				e.SMTPCode, e.EnhancedCode, e.Response = 250, "2.0.0", "250 2.0.0 4a0555x7k1q-1 Message accepted for delivery"
			})),
		},
		{
			Name: "no jobId nor envId",
			Line: rec(map[string]string{"jobId": ""}),
			Want: ptr(with(func(e *event.Delivery) { e.QueueID = "" })),
		},
		{
			Name: "transient, no enhanced code in the reply: dsnStatus",
			Line: rec(map[string]string{"type": "t", "dsnStatus": "4.0.0 (undefined status)", "dsnDiag": "smtp;421 Deferred - see https://ipcheck.proofpoint.com/?ip=203.0.113.11"}),
			Want: ptr(with(func(e *event.Delivery) {
				e.Status, e.SMTPCode, e.EnhancedCode, e.Response = event.Deferred, 421, "4.0.0", "421 Deferred - see https://ipcheck.proofpoint.com/?ip=203.0.113.11"
			})),
		},
		{
			Name: "dsnStatus glued to its text",
			Line: rec(map[string]string{"dsnStatus": "5.0.0(undefined status)", "dsnDiag": "smtp;554 Blocked - see https://ipcheck.proofpoint.com/?ip=203.0.113.11"}),
			Want: ptr(with(func(e *event.Delivery) {
				e.SMTPCode, e.EnhancedCode, e.Response = 554, "5.0.0", "554 Blocked - see https://ipcheck.proofpoint.com/?ip=203.0.113.11"
			})),
		},
		{
			Name: "multi-line reply joined",
			Line: rec(map[string]string{"dsnStatus": `"5.7.1 (delivery not authorized, message refused)"`, "dsnDiag": `"smtp;550-5.7.1 [203.0.113.11] Our system has detected that this message is 550-5.7.1 likely unsolicited mail. 550 5.7.1 https://support.google.com/mail/?p=UnsolicitedMessageError - gsmtp"`}),
			Want: ptr(with(func(e *event.Delivery) {
				e.SMTPCode, e.EnhancedCode = 550, "5.7.1"
				e.Response = "550-5.7.1 [203.0.113.11] Our system has detected that this message is 550-5.7.1 likely unsolicited mail. 550 5.7.1 https://support.google.com/mail/?p=UnsolicitedMessageError - gsmtp"
			})),
		},
		{
			Name: "no SMTP reply: connection timed out",
			Line: rec(map[string]string{"type": "t", "dsnStatus": "4.4.1 (no answer from host)", "dsnDiag": "smtp;Connection timed out"}),
			Want: ptr(with(func(e *event.Delivery) {
				e.Status, e.SMTPCode, e.EnhancedCode, e.Response = event.Deferred, 0, "4.4.1", "Connection timed out"
			})),
		},
		{
			Name: "no SMTP reply: bare reason",
			Line: rec(map[string]string{"type": "t", "dsnStatus": "4.4.1 (no answer from host)", "dsnDiag": "No answer from host"}),
			Want: ptr(with(func(e *event.Delivery) {
				e.Status, e.SMTPCode, e.EnhancedCode, e.Response = event.Deferred, 0, "4.4.1", "No answer from host"
			})),
		},
		{
			Name: "non-smtp diagnostic type is kept whole, no code",
			Line: rec(map[string]string{"dsnStatus": "5.2.2 (mailbox full)", "dsnDiag": "x-local;550 mailbox full"}),
			Want: ptr(with(func(e *event.Delivery) {
				e.SMTPCode, e.EnhancedCode, e.Response = 0, "5.2.2", "x-local;550 mailbox full"
			})),
		},
		{
			Name: "bare reply without diagnostic type, upper-case SMTP; with a space",
			Line: rec(map[string]string{"dsnDiag": "SMTP; 550 5.7.1 Relaying denied "}),
			Want: ptr(with(func(e *event.Delivery) {
				e.SMTPCode, e.EnhancedCode, e.Response = 550, "5.7.1", "550 5.7.1 Relaying denied"
			})),
		},
		{
			Name: "bare reply",
			Line: rec(map[string]string{"dsnDiag": "550 5.1.1 User Unknown"}),
			Want: ptr(with(func(e *event.Delivery) {
				e.SMTPCode, e.EnhancedCode, e.Response = 550, "5.1.1", "550 5.1.1 User Unknown"
			})),
		},
		{
			Name: "empty diagnostic",
			Line: rec(map[string]string{"dsnDiag": ""}),
			Want: ptr(with(func(e *event.Delivery) { e.SMTPCode, e.Response = 0, "" })),
		},
		{
			Name: "quoted diagnostic with commas and doubled quotes",
			Line: rec(map[string]string{"dsnDiag": `"smtp;550 5.7.1 Message rejected, ""policy violation"", see https://ipcheck.proofpoint.com/?ip=203.0.113.11"`}),
			Want: ptr(with(func(e *event.Delivery) {
				e.SMTPCode, e.EnhancedCode = 550, "5.7.1"
				e.Response = `550 5.7.1 Message rejected, "policy violation", see https://ipcheck.proofpoint.com/?ip=203.0.113.11`
			})),
		},
		{
			Name: "every field quoted",
			Line: `"b","2026-11-22 09:04:01+0000","","bounces+nl1122@bounce.example.com","facilities@acme.example","","failed","5.7.0","smtp;550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=203.0.113.11","mx0a-00123a01.pphosted.com (148.163.156.1)","","","","","203.0.113.11","","","","vmta-11","nl-20261122","","",""`,
			Want: ptr(blockEvent()),
		},
		{
			Name: "IPv6 source and relay",
			Line: rec(map[string]string{"dlvSourceIp": "2001:db8:25::11", "dsnMta": "mx0a-00123a01.pphosted.com (2620:100:9001:583::1)", "dlvDestinationIp": "2620:100:9001:583::1"}),
			Want: ptr(with(func(e *event.Delivery) { e.SourceIP, e.RelayIP = "2001:db8:25::11", "2620:100:9001:583::1" })),
		},
		{
			Name: "bracketed IPv6 source",
			Line: rec(map[string]string{"dlvSourceIp": "[2001:db8:25::11]"}),
			Want: ptr(with(func(e *event.Delivery) { e.SourceIP = "2001:db8:25::11" })),
		},
		{
			Name: "relay IP from dlvDestinationIp when dsnMta has none",
			Line: rec(map[string]string{"dsnMta": "mx0a-00123a01.pphosted.com", "dlvDestinationIp": "148.163.156.2"}),
			Want: ptr(with(func(e *event.Delivery) { e.RelayIP = "148.163.156.2" })),
		},
		{
			Name: "relay IP from dlvDestinationIp when dsnMta is empty",
			Line: rec(map[string]string{"dsnMta": "", "dlvDestinationIp": "148.163.156.2"}),
			Want: ptr(with(func(e *event.Delivery) { e.RelayHost, e.RelayIP = "", "148.163.156.2" })),
		},
		{
			Name: "dsnMta with dns; prefix and a non-IP in parentheses",
			Line: rec(map[string]string{"dsnMta": "dns;mx0a-00123a01.pphosted.com (unknown)", "dlvDestinationIp": ""}),
			Want: ptr(with(func(e *event.Delivery) { e.RelayIP = "" })),
		},
		{
			Name: "dsnMta host[ip]",
			Line: rec(map[string]string{"dsnMta": "mx0a-00123a01.pphosted.com[148.163.156.1]", "dlvDestinationIp": ""}),
			Want: ptr(blockEvent()),
		},
		{
			Name: "dsnMta bare IP",
			Line: rec(map[string]string{"dsnMta": "[148.163.156.1]", "dlvDestinationIp": ""}),
			Want: ptr(with(func(e *event.Delivery) { e.RelayHost = "148.163.156.1" })),
		},
		{
			Name: "recipient in angle brackets, upper-case domain",
			Line: rec(map[string]string{"rcpt": "<Facilities@ACME.Example>", "orig": "<>"}),
			Want: ptr(with(func(e *event.Delivery) {
				e.Recipient, e.RecipientDomain, e.Sender = "Facilities@ACME.Example", "acme.example", ""
			})),
		},
		{
			Name: "non-ASCII domain is lower-cased too",
			Line: rec(map[string]string{"rcpt": "info@MÜNCHEN.example"}),
			Want: ptr(with(func(e *event.Delivery) { e.Recipient, e.RecipientDomain = "info@MÜNCHEN.example", "münchen.example" })),
		},
		{
			Name: "UNIX time",
			Line: rec(map[string]string{"timeLogged": "1795338241"}),
			Want: ptr(blockEvent()),
		},
		{
			Name: "UNIX time with fraction",
			Line: rec(map[string]string{"timeLogged": "1795338241.5"}),
			Want: ptr(with(func(e *event.Delivery) { e.Time = e.Time.Add(500 * time.Millisecond) })),
		},
		{
			Name: "zone -05:00",
			Line: rec(map[string]string{"timeLogged": "2026-11-22 04:04:01-05:00"}),
			Want: ptr(blockEvent()),
		},
		{
			Name: "zone after a space",
			Line: rec(map[string]string{"timeLogged": "2026-11-22 10:04:01 +0100"}),
			Want: ptr(blockEvent()),
		},
		{
			Name: "ISO T separator",
			Line: rec(map[string]string{"timeLogged": "2026-11-22T09:04:01Z"}),
			Want: ptr(blockEvent()),
		},
		{
			Name:   "reordered columns with header_ columns",
			Before: []string{reordered},
			Line:   `b,2026-11-22 09:04:01+0000,bounces+nl1122@bounce.example.com,facilities@acme.example,vmta-11,nl-20261122,,203.0.113.11,mx0a-00123a01.pphosted.com (148.163.156.1),5.7.0,smtp;550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=203.0.113.11,<nl1122.1@news.example.com>,"nov, week 4"`,
			// header_Message-Id's value, without its angle brackets.
			Want: ptr(with(func(e *event.Delivery) { e.MessageID = "nl1122.1@news.example.com" })),
		},
		{
			Name:   "type column not first",
			Before: []string{typeInMiddle},
			Line:   `2026-11-22 09:04:01+0000,facilities@acme.example,b,smtp;550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=203.0.113.11,203.0.113.11`,
			Want: &event.Delivery{
				Time: time.Date(2026, 11, 22, 9, 4, 1, 0, time.UTC), MTA: event.PMTA,
				Recipient: "facilities@acme.example", RecipientDomain: "acme.example", SourceIP: "203.0.113.11",
				Status: event.Bounced, SMTPCode: 550, EnhancedCode: "5.7.0",
				Response: "550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=203.0.113.11",
			},
		},
		{
			Name:   "a second header re-maps",
			Before: []string{typeInMiddle, DefaultHeader},
			Line:   blockLine,
			Want:   ptr(blockEvent()),
		},
		{
			Name:   "#type header",
			Before: []string{"#" + reordered},
			Line:   `b,2026-11-22 09:04:01+0000,bounces+nl1122@bounce.example.com,facilities@acme.example,vmta-11,nl-20261122,,203.0.113.11,mx0a-00123a01.pphosted.com (148.163.156.1),5.7.0,smtp;550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=203.0.113.11,,`,
			Want:   ptr(blockEvent()),
		},
		{
			Name: "quoted type",
			Line: `"b"` + blockLine[1:],
			Want: ptr(blockEvent()),
		},

		// not attempts
		{Name: "header", Line: DefaultHeader},
		{Name: "tq", Line: `tq,2026-11-22 09:01:06+0000,,,,,,4.0.0 (undefined status),smtp;421 Deferred - see https://ipcheck.proofpoint.com/?ip=203.0.113.11,,,,,,203.0.113.11,,,,vmta-11,,,acme.example/vmta-11,news`},
		{Name: "r", Line: rec(map[string]string{"type": "r"})},
		{Name: "f", Line: rec(map[string]string{"type": "f"})},
		{Name: "rb", Line: rec(map[string]string{"type": "rb"})},
		{Name: "rs", Line: rec(map[string]string{"type": "rs"})},
		{Name: "unknown record type word", Line: rec(map[string]string{"type": "x"})},
		{Name: "long type name is not ours either", Line: rec(map[string]string{"type": "delivery"})},
		{Name: "noise with a wrong column count", Line: "r,2026-11-22 09:00:00+0000,a@b.example"},
		{Name: "garbage type with another column count", Line: "2026-11-22 09:00:00 pmta[1]: started"},
		{Name: "empty line", Line: ""},
		{Name: "CR only", Line: "\r"},

		// malformed
		{Name: "column missing", Line: strings.TrimSuffix(blockLine, ",news"), WantErr: "field record: 22 columns, the default field order has 23 (no header line seen)"},
		{Name: "column too many after a header", Before: []string{DefaultHeader}, Line: blockLine + ",x", WantErr: "field record: 24 columns, the header has 23"},
		{Name: "type lost", Line: blockLine[1:], WantErr: "field type: empty record type"},
		{Name: "garbage type", Line: "?" + blockLine[1:], WantErr: `field type: unknown record type "?"`},
		{Name: "unterminated quote", Line: rec(map[string]string{"dsnDiag": `"smtp;550 5.7.1 cut`, "dlvEsmtpAvailable": "PIPELINING"}), WantErr: "field dsnDiag: unterminated quoted field"},
		{Name: "text after closing quote", Line: rec(map[string]string{"dsnDiag": `"smtp;550 5.7.1"x`}), WantErr: "field dsnDiag: text after the closing quote"},
		{Name: "unterminated quote in a header_ column", Before: []string{reordered}, Line: `b,2026-11-22 09:04:01+0000,a@b.example,c@d.example,v,j,,,,,,"<x@y>`, WantErr: "field header_Message-Id: unterminated quoted field"},
		{Name: "bad time", Line: rec(map[string]string{"timeLogged": "2026-11-22 24:04:01+0000"}), WantErr: `field timeLogged: bad timestamp "2026-11-22 24:04:01+0000"`},
		{Name: "bad zone", Line: rec(map[string]string{"timeLogged": "2026-11-22 09:04:01 CEST"}), WantErr: `field timeLogged: bad timestamp "2026-11-22 09:04:01 CEST"`},
		{Name: "short UNIX time", Line: rec(map[string]string{"timeLogged": "17953"}), WantErr: `field timeLogged: bad timestamp "17953"`},
		{Name: "year before 1970", Line: rec(map[string]string{"timeLogged": "0001-01-01 00:00:00+0000"}), WantErr: `field timeLogged: bad timestamp "0001-01-01 00:00:00+0000"`},
		{Name: "empty time", Line: rec(map[string]string{"timeLogged": ""}), WantErr: "field timeLogged: empty"},
		{Name: "recipient without domain", Line: rec(map[string]string{"rcpt": "postmaster"}), WantErr: `field rcpt: no domain in "postmaster"`},
		{Name: "recipient ending in @", Line: rec(map[string]string{"rcpt": "user@"}), WantErr: `field rcpt: no domain in "user@"`},
		{Name: "no recipient", Line: rec(map[string]string{"rcpt": ""}), WantErr: "field rcpt: empty"},
		{Name: "header without rcpt column", Before: []string{"type,timeLogged,dsnDiag"}, Line: "b,2026-11-22 09:04:01+0000,smtp;550 x", WantErr: "field rcpt: no rcpt column in the header"},
		{Name: "bad source IP", Line: rec(map[string]string{"dlvSourceIp": "203.0.113.300"}), WantErr: `field dlvSourceIp: bad IP address "203.0.113.300"`},
	}
	parsertest.Run(t, newParser, tests)
}

func ptr[T any](v T) *T { return &v }

func TestZonelessUsesLocation(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip(err)
	}
	p := New(mtalog.Options{Reference: ref, Location: ny})
	ev, ok, err := parsertest.Parse(p, rec(map[string]string{"timeLogged": "2026-11-22 04:04:01"}))
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

	p := newTest()
	if err := p.SetHeader(custom + "\r"); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := parsertest.Parse(p, customRec); !ok || err != nil {
		t.Fatalf("record after SetHeader: ok=%v err=%v", ok, err)
	}

	// A file without header: back to the default order, no error.
	if err := p.SetHeader(blockLine); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := parsertest.Parse(p, blockLine); !ok || err != nil {
		t.Fatalf("default order after SetHeader(record): ok=%v err=%v", ok, err)
	}

	// Garbage: default order, and an error saying so.
	p.SetHeader(custom)
	err := p.SetHeader("hello")
	if err == nil || err.Error() != `field header: not a header line ("hello"); using the default field order` {
		t.Fatalf("err = %v", err)
	}
	if _, ok, err := parsertest.Parse(p, blockLine); !ok || err != nil {
		t.Fatalf("default order after SetHeader(garbage): ok=%v err=%v", ok, err)
	}
}

// The line aliases the caller's read buffer: nothing may keep a substring
// of it from one call to the next.
func TestReusedBuffer(t *testing.T) {
	p := newTest()
	buf := []byte(rec(map[string]string{"timeLogged": "2026-11-22 09:04:01+0000"}))
	line := unsafe.String(&buf[0], len(buf))
	ev1, ok, err := parsertest.Parse(p, line)
	if !ok || err != nil {
		t.Fatal(ok, err)
	}
	copy(buf, rec(map[string]string{"timeLogged": "2026-11-22 09:05:01+0000"}))
	ev2, ok, err := parsertest.Parse(p, line)
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
	var ev event.Delivery
	p := newTest()
	parsertest.Parse(p, DefaultHeader) // the first header is copied once
	for _, l := range noise {
		if _, ok, err := parsertest.Parse(p, l); ok || err != nil {
			t.Fatalf("%.40q: ok=%v err=%v", l, ok, err)
		}
		if n := testing.AllocsPerRun(100, func() { p.Parse(l, &ev) }); n != 0 {
			t.Errorf("Parse(%.40q): %v allocs, want 0", l, n)
		}
	}
	// with the type column elsewhere
	q := newTest()
	parsertest.Parse(q, "timeLogged,rcpt,type,dsnDiag")
	for _, l := range []string{"2026-11-22 09:04:01+0000,a@b.example,tq,x", "2026-11-22 09:04:01+0000,a@b.example,r,\"x,y\""} {
		if n := testing.AllocsPerRun(100, func() { q.Parse(l, &ev) }); n != 0 {
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
	p := newTest()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		parsertest.Parse(p, lines[i%len(lines)])
	}
}

func BenchmarkParseNoise(b *testing.B) {
	p := newTest()
	parsertest.Parse(p, DefaultHeader)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		parsertest.Parse(p, noise[i%5])
	}
}

// Records of one minute get their instant from the seconds alone; every
// other change of the text is parsed in full. Each result equals a fresh
// parse of the same text.
func TestTimesWithinAMinute(t *testing.T) {
	p := newTest()
	for _, ts := range []string{
		"2026-11-22 09:00:02+0000", "2026-11-22 09:00:59+0000", "2026-11-22 09:00:00+0000", "2026-11-22 09:01:00+0000",
		"2026-11-22 09:01:07+0100", "2026-11-22 09:01:08+0100", "2026-11-22 09:01:08.250+0100", "2026-11-22 09:01:09.250+0100",
		"2026-11-22 09:01:60+0100", "2026-11-22 09:01:61+0100", "2026-11-22 09:01:5x+0100", "2026-11-22 09:01:09 +0000",
		"2026-11-22 09:01:10 +0000", "2026-11-22T09:01:11+0000",
	} {
		got, gerr := p.parseTime(ts)
		want, werr := newTest().parseTime(ts)
		if !got.Equal(want) || (gerr == nil) != (werr == nil) {
			t.Errorf("%s: %v %v, a fresh parse gives %v %v", ts, got, gerr, want, werr)
		}
	}
}

// split counts the fields past the last column read as the field-by-field
// scan does (quotes there included), and reads the same spans: checked on
// records with extra, missing and quoted trailing columns.
func TestSplitAgreesWithFieldScan(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	parts := []string{"", "x", `"a,b"`, `"a""b"`, `"unterminated`, `a"b`, `"x"y`, ",", ",,", `""`,
		" x", "x ", " ", "\u00a0x\u2003", `" a "`, `""""`, "\tx\t", "é"}
	for i := 0; i < 20000; i++ {
		fields := strings.Split(blockLine, ",")
		switch rng.IntN(3) {
		case 0: // more or fewer columns
			fields = fields[:max(1, len(fields)-rng.IntN(4))]
		case 1:
			for j := rng.IntN(4); j > 0; j-- {
				fields = append(fields, parts[rng.IntN(len(parts))])
			}
		}
		// Any column may turn odd, the ones read too.
		if rng.IntN(2) == 0 {
			fields[rng.IntN(len(fields))] = parts[rng.IntN(len(parts))]
		}
		line := strings.Join(fields, ",")
		p := newTest()
		err := p.split(line)
		want := countFields(line)
		if (err == nil) != (want == p.cols.n) {
			t.Fatalf("%q: split says %v, the field scan counts %d of %d", line, err, want, p.cols.n)
		}
		if err != nil {
			continue
		}
		for k := range p.cols.idx {
			if got, want := p.get(line, k), getByScan(line, int(p.cols.idx[k])); got != want {
				t.Fatalf("%q: column %s is %q, the field scan reads %q", line, colNames[k], got, want)
			}
		}
	}
	// Linear however many fields follow and wherever the quotes are.
	for _, long := range []string{blockLine + strings.Repeat(`,x,"y"`, 50000), blockLine + strings.Repeat(",x", 200000) + `,"y"`} {
		start := time.Now()
		if err := newTest().split(long); err == nil || time.Since(start) > 2*time.Second {
			t.Errorf("long line: %v in %v", err, time.Since(start))
		}
	}
}

// getByScan reads field i as the field-by-field scan does.
func getByScan(line string, want int) string {
	if want < 0 {
		return ""
	}
	for col, i := 0, 0; i <= len(line); col++ {
		start, end, next, esc, _ := scanField(line, i)
		if col == want {
			v := line[start:end]
			if esc {
				v = strings.ReplaceAll(v, `""`, `"`)
			}
			return strings.TrimSpace(v)
		}
		i = next
	}
	return ""
}
