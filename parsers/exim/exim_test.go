package exim

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ppwatch/ppwatch/parsers/mtalog"
	"github.com/ppwatch/ppwatch/parsers/parsertest"
	"github.com/ppwatch/ppwatch/pkg/event"
)

var ref = time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)

func newTest() *Parser { return New(mtalog.Options{Reference: ref, Location: time.UTC}) }

func at(y int, mo time.Month, d, h, mi, s, ms int) time.Time {
	return time.Date(y, mo, d, h, mi, s, ms*int(time.Millisecond), time.UTC)
}

// ppBlock is the reply most rows share.
const ppBlock = "550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=192.0.2.10"

func TestParse(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	tests := []parsertest.Case{
		{
			Name: "delivery: 4.97+ id, I= source, TLS fields, C= confirmation",
			Line: `2026-11-22 09:00:15 1vHnQ2-00000000Lx1-0A3f => j.smith@Acme-Corp.example R=dnslookup T=remote_smtp H=mx0a-00123a01.pphosted.com [148.163.150.12] I=[192.0.2.10] X=TLS1.2:ECDHE-RSA-AES256-GCM-SHA384:256 CV=yes C="250 2.0.0 4cDCnd66Hy-1 Message accepted for delivery"`,
			Want: &event.Delivery{Time: at(2026, 11, 22, 9, 0, 15, 0), MTA: "exim", Instance: "remote_smtp", QueueID: "1vHnQ2-00000000Lx1-0A3f",
				Recipient: "j.smith@Acme-Corp.example", RecipientDomain: "acme-corp.example", RelayHost: "mx0a-00123a01.pphosted.com", RelayIP: "148.163.150.12",
				SourceIP: "192.0.2.10", Status: event.Delivered, SMTPCode: 250, EnhancedCode: "2.0.0", Response: "250 2.0.0 4cDCnd66Hy-1 Message accepted for delivery"},
		},
		{
			Name: "additional address on a reused connection (* after the address), old id",
			Line: `2026-11-03 08:01:16 1tBqpb-0004aB-2F -> noc@acme-corp.example R=dnslookup T=remote_smtp H=mx0b-00123a01.pphosted.com [148.163.158.12]* X=TLS1.2:ECDHE-RSA-AES256-GCM-SHA384:256 CV=yes DN="C=US,O=Proofpoint\, Inc.,CN=*.pphosted.com" C="250 2.0.0 4cB91r0a1x-1 Message accepted for delivery"`,
			Want: &event.Delivery{Time: at(2026, 11, 3, 8, 1, 16, 0), MTA: "exim", Instance: "remote_smtp", QueueID: "1tBqpb-0004aB-2F",
				Recipient: "noc@acme-corp.example", RecipientDomain: "acme-corp.example", RelayHost: "mx0b-00123a01.pphosted.com", RelayIP: "148.163.158.12",
				Status: event.Delivered, SMTPCode: 250, EnhancedCode: "2.0.0", Response: "250 2.0.0 4cB91r0a1x-1 Message accepted for delivery"},
		},
		{
			Name: "cutthrough delivery, zone and milliseconds and pid, ports on H= and I=",
			Line: `2026-11-21 10:05:33.251 +0100 [4190] 1vG4Gz-000000012d1-0B02 >> editor@initech.example R=dnslookup T=remote_smtp H=mxa-00abc101.gslb.pphosted.com [148.163.129.51]:25 I=[192.0.2.25]:50214 X=TLS1.2:ECDHE-RSA-AES256-GCM-SHA384:256 CV=yes C="250 2.0.0 3y09aa0b1c-1 Message accepted for delivery"`,
			Want: &event.Delivery{Time: at(2026, 11, 21, 9, 5, 33, 251), MTA: "exim", Instance: "remote_smtp", QueueID: "1vG4Gz-000000012d1-0B02",
				Recipient: "editor@initech.example", RecipientDomain: "initech.example", RelayHost: "mxa-00abc101.gslb.pphosted.com", RelayIP: "148.163.129.51",
				SourceIP: "192.0.2.25", Status: event.Delivered, SMTPCode: 250, EnhancedCode: "2.0.0", Response: "250 2.0.0 3y09aa0b1c-1 Message accepted for delivery"},
		},
		{
			Name: "IPv6 relay and interface, DS, F= with a quoted local part, P=, Q=, S=, TFO, escapes in C=",
			Line: `2026-11-21 10:00:01.880 -0500 1vG4Ab-000000012Xy-0A7c => info@mailbox.example F=<"john q"@shop.example.de> P=<"john q"@shop.example.de> Q=priority R=dnslookup T=remote_smtp S=9377 H=mx2.mailbox.example DS [2001:db8:ffff::25]:25 I=[2001:db8:10::25]:39001 TFO* X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=dane DN="CN=mx2.mailbox.example" C="250 2.0.0 Ok: queued as 4G1bqM2kTRz9sRD \"quoted\" and \\ backslash" QT=0.967s DT=0.379s`,
			Want: &event.Delivery{Time: at(2026, 11, 21, 15, 0, 1, 880), MTA: "exim", Instance: "remote_smtp", QueueID: "1vG4Ab-000000012Xy-0A7c",
				Sender: `"john q"@shop.example.de`, Recipient: "info@mailbox.example", RecipientDomain: "mailbox.example", RelayHost: "mx2.mailbox.example", RelayIP: "2001:db8:ffff::25",
				SourceIP: "2001:db8:10::25", Status: event.Delivered, SMTPCode: 250, EnhancedCode: "2.0.0", Response: `250 2.0.0 Ok: queued as 4G1bqM2kTRz9sRD "quoted" and \ backslash`},
		},
		{
			Name: "zone-less timestamp read in the configured location",
			Loc:  berlin,
			Line: `2026-11-22 10:00:04 1vHoUA-00000000NF3-0E90 => cfo@globex.example R=dnslookup T=remote_smtp H=mx0b-0012ab01.pphosted.com [67.231.157.21] C="250 2.0.0 ok"`,
			Want: &event.Delivery{Time: at(2026, 11, 22, 9, 0, 4, 0), MTA: "exim", Instance: "remote_smtp", QueueID: "1vHoUA-00000000NF3-0E90",
				Recipient: "cfo@globex.example", RecipientDomain: "globex.example", RelayHost: "mx0b-0012ab01.pphosted.com", RelayIP: "67.231.157.21",
				Status: event.Delivered, SMTPCode: 250, EnhancedCode: "2.0.0", Response: "250 2.0.0 ok"},
		},
		{
			Name: "delivery without smtp_confirmation: no code",
			Line: `2026-11-22 10:00:04 1vHoUA-00000000NF3-0E90 => cfo@globex.example R=dnslookup T=remote_smtp H=mx0b-0012ab01.pphosted.com [67.231.157.21]`,
			Want: &event.Delivery{Time: at(2026, 11, 22, 10, 0, 4, 0), MTA: "exim", Instance: "remote_smtp", QueueID: "1vHoUA-00000000NF3-0E90",
				Recipient: "cfo@globex.example", RecipientDomain: "globex.example", RelayHost: "mx0b-0012ab01.pphosted.com", RelayIP: "67.231.157.21",
				Status: event.Delivered},
		},
		{
			Name: "Proofpoint block at RCPT, TLS fields before the colon",
			Line: `2026-11-22 10:12:41 1vHp8O-00000000NqA-0H77 ** j.smith@acme-corp.example R=dnslookup T=remote_smtp H=mx0a-00123a01.pphosted.com [148.163.150.12] I=[192.0.2.10] X=TLS1.2:ECDHE-RSA-AES256-GCM-SHA384:256 CV=yes: SMTP error from remote mail server after RCPT TO:<j.smith@acme-corp.example>: 550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=192.0.2.10`,
			Want: &event.Delivery{Time: at(2026, 11, 22, 10, 12, 41, 0), MTA: "exim", Instance: "remote_smtp", QueueID: "1vHp8O-00000000NqA-0H77",
				Recipient: "j.smith@acme-corp.example", RecipientDomain: "acme-corp.example", RelayHost: "mx0a-00123a01.pphosted.com", RelayIP: "148.163.150.12",
				SourceIP: "192.0.2.10", Status: event.Bounced, SMTPCode: 550, EnhancedCode: "5.7.0", Response: ppBlock},
		},
		{
			Name: `" : " after CV= (no DN), pipelined RCPT, F= and trailing DT= dropped`,
			Line: `2026-11-18 09:31:41.042 1vF2aK-000000019Qm-0G4c ** vp.sales@acme-corp.example F=<bounce-9912-3@mailer.example.org> R=dnslookup T=remote_smtp H=mx0b-00123a01.pphosted.com [148.163.158.12] X=TLS1.2:ECDHE-RSA-AES256-GCM-SHA384:256 CV=yes : SMTP error from remote mail server after pipelined RCPT TO:<vp.sales@acme-corp.example>: 550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=192.0.2.10 DT=0.903s`,
			Want: &event.Delivery{Time: at(2026, 11, 18, 9, 31, 41, 42), MTA: "exim", Instance: "remote_smtp", QueueID: "1vF2aK-000000019Qm-0G4c",
				Sender: "bounce-9912-3@mailer.example.org", Recipient: "vp.sales@acme-corp.example", RecipientDomain: "acme-corp.example",
				RelayHost: "mx0b-00123a01.pphosted.com", RelayIP: "148.163.158.12", Status: event.Bounced, SMTPCode: 550, EnhancedCode: "5.7.0", Response: ppBlock},
		},
		{
			Name: "banner block after initial connection, no enhanced code",
			Line: `2026-11-22 10:12:42 1vHp8O-00000000NqA-0H77 ** t.nguyen@initech.example R=dnslookup T=remote_smtp H=mxa-00abc101.gslb.pphosted.com [148.163.129.51] I=[192.0.2.10]: SMTP error from remote mail server after initial connection: 554 mxa-00abc101.gslb.pphosted.com ESMTP Blocked - see https://ipcheck.proofpoint.com/?ip=192.0.2.10`,
			Want: &event.Delivery{Time: at(2026, 11, 22, 10, 12, 42, 0), MTA: "exim", Instance: "remote_smtp", QueueID: "1vHp8O-00000000NqA-0H77",
				Recipient: "t.nguyen@initech.example", RecipientDomain: "initech.example", RelayHost: "mxa-00abc101.gslb.pphosted.com", RelayIP: "148.163.129.51",
				SourceIP: "192.0.2.10", Status: event.Bounced, SMTPCode: 554,
				Response: "554 mxa-00abc101.gslb.pphosted.com ESMTP Blocked - see https://ipcheck.proofpoint.com/?ip=192.0.2.10"},
		},
		{
			Name: "MAIL FROM with SIZE= before the reply",
			Line: `2026-11-22 10:15:02 1vHoUA-00000000NF3-0E90 ** k.lee@acme-corp.example R=dnslookup T=remote_smtp H=mx0a-00123a01.pphosted.com [148.163.150.12]: SMTP error from remote mail server after MAIL FROM:<news@news.example.com> SIZE=24530: 554 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=192.0.2.10`,
			Want: &event.Delivery{Time: at(2026, 11, 22, 10, 15, 2, 0), MTA: "exim", Instance: "remote_smtp", QueueID: "1vHoUA-00000000NF3-0E90",
				Recipient: "k.lee@acme-corp.example", RecipientDomain: "acme-corp.example", RelayHost: "mx0a-00123a01.pphosted.com", RelayIP: "148.163.150.12",
				Status: event.Bounced, SMTPCode: 554, EnhancedCode: "5.7.0", Response: "554 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=192.0.2.10"},
		},
		{
			Name: "older failure: no H=, host inside the text, remote mailer wording",
			Line: `2026-10-14 16:20:13 1t0Kqd-0006Ea-Rn ** treasury@globex.example R=dnslookup T=remote_smtp: SMTP error from remote mailer after MAIL FROM:<billing@legacy.example.com> SIZE=18204: host mx0b-0012ab01.pphosted.com [67.231.157.21]: 554 5.7.1 Mail from 198.51.100.66 refused by Proofpoint Reputation Services`,
			Want: &event.Delivery{Time: at(2026, 10, 14, 16, 20, 13, 0), MTA: "exim", Instance: "remote_smtp", QueueID: "1t0Kqd-0006Ea-Rn",
				Recipient: "treasury@globex.example", RecipientDomain: "globex.example", RelayHost: "mx0b-0012ab01.pphosted.com", RelayIP: "67.231.157.21",
				Status: event.Bounced, SMTPCode: 554, EnhancedCode: "5.7.1", Response: "554 5.7.1 Mail from 198.51.100.66 refused by Proofpoint Reputation Services"},
		},
		{
			Name: "4xx reply failed after the retry cutoff: Exim's suffix is not reply text",
			Line: `2026-10-14 16:20:13 1t0Kqd-0006Ea-Rn ** invoices@initech.example R=dnslookup T=remote_smtp: SMTP error from remote mail server after initial connection: host mxa-00abc101.gslb.pphosted.com [148.163.129.51]: 421 4.7.0 Deferred - see https://ipcheck.proofpoint.com/?ip=198.51.100.66: retry timeout exceeded`,
			Want: &event.Delivery{Time: at(2026, 10, 14, 16, 20, 13, 0), MTA: "exim", Instance: "remote_smtp", QueueID: "1t0Kqd-0006Ea-Rn",
				Recipient: "invoices@initech.example", RecipientDomain: "initech.example", RelayHost: "mxa-00abc101.gslb.pphosted.com", RelayIP: "148.163.129.51",
				Status: event.Bounced, SMTPCode: 421, EnhancedCode: "4.7.0", Response: "421 4.7.0 Deferred - see https://ipcheck.proofpoint.com/?ip=198.51.100.66"},
		},
		{
			Name: "multi-line reply stays joined with Exim's \\n",
			Line: `2026-11-03 08:14:30 1tBr2P-0004kT-Qa ** gone.user@gmail.com R=dnslookup T=remote_smtp H=gmail-smtp-in.l.google.com [142.250.153.27] X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=yes DN="CN=mx.google.com": SMTP error from remote mail server after RCPT TO:<gone.user@gmail.com>: 550-5.1.1 The email account that you tried to reach does not exist.\n550 5.1.1  https://support.google.com/mail/?p=NoSuchUser 5b1f17b1804b1-4776a90b1e1si1131170f8f.77 - gsmtp`,
			Want: &event.Delivery{Time: at(2026, 11, 3, 8, 14, 30, 0), MTA: "exim", Instance: "remote_smtp", QueueID: "1tBr2P-0004kT-Qa",
				Recipient: "gone.user@gmail.com", RecipientDomain: "gmail.com", RelayHost: "gmail-smtp-in.l.google.com", RelayIP: "142.250.153.27",
				Status: event.Bounced, SMTPCode: 550, EnhancedCode: "5.1.1",
				Response: `550-5.1.1 The email account that you tried to reach does not exist.\n550 5.1.1  https://support.google.com/mail/?p=NoSuchUser 5b1f17b1804b1-4776a90b1e1si1131170f8f.77 - gsmtp`},
		},
		{
			Name: "all_parents list and original address",
			Line: `2026-11-21 10:00:02.104 1vG4Ab-000000012Xy-0A7c ** alias-target@globex.example (sales@shop.example.de) <team@shop.example.de> R=dnslookup T=remote_smtp H=mx0b-0012ab01.pphosted.com [67.231.157.21]: SMTP error from remote mail server after RCPT TO:<alias-target@globex.example>: 550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=192.0.2.10`,
			Want: &event.Delivery{Time: at(2026, 11, 21, 10, 0, 2, 104), MTA: "exim", Instance: "remote_smtp", QueueID: "1vG4Ab-000000012Xy-0A7c",
				Recipient: "alias-target@globex.example", OrigRecipient: "team@shop.example.de", RecipientDomain: "globex.example",
				RelayHost: "mx0b-0012ab01.pphosted.com", RelayIP: "67.231.157.21", Status: event.Bounced, SMTPCode: 550, EnhancedCode: "5.7.0", Response: ppBlock},
		},
		{
			Name: "routing failure without router or transport",
			Line: `2026-11-03 09:40:08 1tBsNP-0005Gp-Ao ** ghost@no-such-domain.example: Unrouteable address`,
			Want: &event.Delivery{Time: at(2026, 11, 3, 9, 40, 8, 0), MTA: "exim", QueueID: "1tBsNP-0005Gp-Ao",
				Recipient: "ghost@no-such-domain.example", RecipientDomain: "no-such-domain.example", Status: event.Bounced, Response: "Unrouteable address"},
		},
		{
			Name: "router failure with original address",
			Line: `2026-11-18 09:31:42.303 1vF2aK-000000019Qm-0G4c ** someone@broken-mx.example <list@mailer.example.org> R=dnslookup: all relevant MX records point to non-existent hosts`,
			Want: &event.Delivery{Time: at(2026, 11, 18, 9, 31, 42, 303), MTA: "exim", QueueID: "1vF2aK-000000019Qm-0G4c",
				Recipient: "someone@broken-mx.example", OrigRecipient: "list@mailer.example.org", RecipientDomain: "broken-mx.example",
				Status: event.Bounced, Response: "all relevant MX records point to non-existent hosts"},
		},
		{
			Name: "no-reply failure with a host: TLS required",
			Line: `2026-11-18 09:31:42.301 1vF2aK-000000019Qm-0G4c ** secure@bank.example R=dnslookup T=remote_smtp_tls H=mx.bank.example [203.0.113.77]: a TLS session is required, but the server did not offer TLS support DT=0.044s`,
			Want: &event.Delivery{Time: at(2026, 11, 18, 9, 31, 42, 301), MTA: "exim", Instance: "remote_smtp_tls", QueueID: "1vF2aK-000000019Qm-0G4c",
				Recipient: "secure@bank.example", RecipientDomain: "bank.example", RelayHost: "mx.bank.example", RelayIP: "203.0.113.77",
				Status: event.Bounced, Response: "a TLS session is required, but the server did not offer TLS support"},
		},
		{
			Name: "deferral -44 with the host after defer (N)",
			Line: `2026-11-22 09:41:06 1vHoUA-00000000NF3-0E90 == cfo@globex.example R=dnslookup T=remote_smtp defer (-44) H=mx0a-0012ab01.pphosted.com [67.231.149.21] I=[192.0.2.10]: SMTP error from remote mail server after RCPT TO:<cfo@globex.example>: 421 4.7.0 Deferred - see https://ipcheck.proofpoint.com/?ip=192.0.2.10`,
			Want: &event.Delivery{Time: at(2026, 11, 22, 9, 41, 6, 0), MTA: "exim", Instance: "remote_smtp", QueueID: "1vHoUA-00000000NF3-0E90",
				Recipient: "cfo@globex.example", RecipientDomain: "globex.example", RelayHost: "mx0a-0012ab01.pphosted.com", RelayIP: "67.231.149.21",
				SourceIP: "192.0.2.10", Status: event.Deferred, SMTPCode: 421, EnhancedCode: "4.7.0", Response: "421 4.7.0 Deferred - see https://ipcheck.proofpoint.com/?ip=192.0.2.10"},
		},
		{
			Name: "deferral with DT= before the reason and IPv6 host with port",
			Line: `2026-11-21 10:00:02.551 1vG4Ab-000000012Xy-0A7c == orders@partner.example R=dnslookup T=remote_smtp defer (-44) H=mx2.partner.example [2001:db8:abcd::2]:25 I=[2001:db8:10::25]:44122 DT=0.221s: SMTP error from remote mail server after RCPT TO:<orders@partner.example>: 451 4.3.0 Temporary lookup failure`,
			Want: &event.Delivery{Time: at(2026, 11, 21, 10, 0, 2, 551), MTA: "exim", Instance: "remote_smtp", QueueID: "1vG4Ab-000000012Xy-0A7c",
				Recipient: "orders@partner.example", RecipientDomain: "partner.example", RelayHost: "mx2.partner.example", RelayIP: "2001:db8:abcd::2",
				SourceIP: "2001:db8:10::25", Status: event.Deferred, SMTPCode: 451, EnhancedCode: "4.3.0", Response: "451 4.3.0 Temporary lookup failure"},
		},
		{
			Name: "older deferral: host in the text after the command",
			Line: `2026-11-20 14:10:01 1vGZJP-00000005Jt2-0E00 == it@acme-corp.example R=dnslookup T=remote_smtp defer (-44): SMTP error from remote mail server after RCPT TO:<it@acme-corp.example>: host mx0a-00123a01.pphosted.com [148.163.150.12]: 421 4.7.0 Deferred - see https://ipcheck.proofpoint.com/?ip=198.51.100.25`,
			Want: &event.Delivery{Time: at(2026, 11, 20, 14, 10, 1, 0), MTA: "exim", Instance: "remote_smtp", QueueID: "1vGZJP-00000005Jt2-0E00",
				Recipient: "it@acme-corp.example", RecipientDomain: "acme-corp.example", RelayHost: "mx0a-00123a01.pphosted.com", RelayIP: "148.163.150.12",
				Status: event.Deferred, SMTPCode: 421, EnhancedCode: "4.7.0", Response: "421 4.7.0 Deferred - see https://ipcheck.proofpoint.com/?ip=198.51.100.25"},
		},
		{
			Name: "older closed connection: host inside the text, no code",
			Line: `2026-11-20 14:10:02 1vGZJP-00000005Jt2-0E00 == it@globex.example R=dnslookup T=remote_smtp defer (-18): Remote host mx0b-0012ab01.pphosted.com [67.231.157.21] closed connection in response to EHLO mta3.example.net`,
			Want: &event.Delivery{Time: at(2026, 11, 20, 14, 10, 2, 0), MTA: "exim", Instance: "remote_smtp", QueueID: "1vGZJP-00000005Jt2-0E00",
				Recipient: "it@globex.example", RecipientDomain: "globex.example", RelayHost: "mx0b-0012ab01.pphosted.com", RelayIP: "67.231.157.21",
				Status: event.Deferred, Response: "Remote host mx0b-0012ab01.pphosted.com [67.231.157.21] closed connection in response to EHLO mta3.example.net"},
		},
		{
			Name: "strerror, then the host, then the message: the strerror is the reason",
			Line: `2026-11-20 14:03:44 1vGZCg-00000005Jn6-0D40 == member4@globex.example R=dnslookup T=remote_smtp defer (110): Connection timed out H=mx0a-0012ab01.pphosted.com [67.231.149.21]: SMTP timeout after end of data (52114 bytes written)`,
			Want: &event.Delivery{Time: at(2026, 11, 20, 14, 3, 44, 0), MTA: "exim", Instance: "remote_smtp", QueueID: "1vGZCg-00000005Jn6-0D40",
				Recipient: "member4@globex.example", RecipientDomain: "globex.example", RelayHost: "mx0a-0012ab01.pphosted.com", RelayIP: "67.231.149.21",
				Status: event.Deferred, Response: "Connection timed out"},
		},
		{
			Name: "strerror and reason contiguous; host named as connected to",
			Line: `2026-11-20 14:10:04 1vGZJP-00000005Jt2-0E00 == it@stark.example R=dnslookup T=remote_smtp defer (110): Connection timed out: SMTP timeout while connected to mx.stark.example [203.0.113.200] after RCPT TO:<it@stark.example>`,
			Want: &event.Delivery{Time: at(2026, 11, 20, 14, 10, 4, 0), MTA: "exim", Instance: "remote_smtp", QueueID: "1vGZJP-00000005Jt2-0E00",
				Recipient: "it@stark.example", RecipientDomain: "stark.example", RelayHost: "mx.stark.example", RelayIP: "203.0.113.200",
				Status: event.Deferred, Response: "Connection timed out: SMTP timeout while connected to mx.stark.example [203.0.113.200] after RCPT TO:<it@stark.example>"},
		},
		{
			Name: "connection refused with no host on the line (nothing remembered)",
			Line: `2026-11-19 08:20:02 1vFQJs-00000002aQ9-0D33 == kim@customer.example R=smarthost T=remote_smtp_smarthost defer (111): Connection refused`,
			Want: &event.Delivery{Time: at(2026, 11, 19, 8, 20, 2, 0), MTA: "exim", Instance: "remote_smtp_smarthost", QueueID: "1vFQJs-00000002aQ9-0D33",
				Recipient: "kim@customer.example", RecipientDomain: "customer.example", Status: event.Deferred, Response: "Connection refused"},
		},
		{
			Name: "transport named without smtp: the error text says it is remote",
			Line: `2026-11-19 08:20:03 1vFQJs-00000002aQ9-0D33 == lee@acme-corp.example R=send_via_mailchannels T=mailchannels defer (110): Connection timed out`,
			Want: &event.Delivery{Time: at(2026, 11, 19, 8, 20, 3, 0), MTA: "exim", Instance: "mailchannels", QueueID: "1vFQJs-00000002aQ9-0D33",
				Recipient: "lee@acme-corp.example", RecipientDomain: "acme-corp.example", Status: event.Deferred, Response: "Connection timed out"},
		},
		{
			Name: "router-level DNS deferral",
			Line: `2026-11-20 14:03:46 1vGZCg-00000005Jn6-0D40 == member7@slowdns.example R=dnslookup defer (-1): host lookup did not complete`,
			Want: &event.Delivery{Time: at(2026, 11, 20, 14, 3, 46, 0), MTA: "exim", QueueID: "1vGZCg-00000005Jn6-0D40",
				Recipient: "member7@slowdns.example", RecipientDomain: "slowdns.example", Status: event.Deferred, Response: "host lookup did not complete"},
		},
		{
			Name: "EHLO closed: the reply Exim quotes in parentheses",
			Line: `2026-11-22 10:47:23 1vHpgt-00000000OLe-0N16 == m.ortiz@acme-corp.example R=dnslookup T=remote_smtp defer (-18) H=mx0b-00123a01.pphosted.com [148.163.158.12]: Remote host closed connection in response to HELO mta1.example.net (EHLO response was: 554 5.7.1 Blocked - see https://ipcheck.proofpoint.com/?ip=192.0.2.10)`,
			Want: &event.Delivery{Time: at(2026, 11, 22, 10, 47, 23, 0), MTA: "exim", Instance: "remote_smtp", QueueID: "1vHpgt-00000000OLe-0N16",
				Recipient: "m.ortiz@acme-corp.example", RecipientDomain: "acme-corp.example", RelayHost: "mx0b-00123a01.pphosted.com", RelayIP: "148.163.158.12",
				Status: event.Deferred, SMTPCode: 554, EnhancedCode: "5.7.1", Response: "554 5.7.1 Blocked - see https://ipcheck.proofpoint.com/?ip=192.0.2.10"},
		},
		{
			Name: "trailing CR tolerated",
			Line: "2026-11-03 09:40:08 1tBsNP-0005Gp-Ao ** ghost@no-such-domain.example: Unrouteable address\r",
			Want: &event.Delivery{Time: at(2026, 11, 3, 9, 40, 8, 0), MTA: "exim", QueueID: "1tBsNP-0005Gp-Ao",
				Recipient: "ghost@no-such-domain.example", RecipientDomain: "no-such-domain.example", Status: event.Bounced, Response: "Unrouteable address"},
		},
		{
			Name: "syslog with Exim's timestamp repeated: Exim's wins (it has the year)",
			Line: `Nov 22 09:15:09 mta4 exim[3121]: 2026-11-22 09:15:03 1vHnbq-00000000oZk-0D1a ** fan2@acme-corp.example R=dnslookup T=remote_smtp H=mx0a-00123a01.pphosted.com [148.163.150.12]: SMTP error from remote mail server after RCPT TO:<fan2@acme-corp.example>: 550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=192.0.2.10`,
			Want: &event.Delivery{Time: at(2026, 11, 22, 9, 15, 3, 0), MTA: "exim", Host: "mta4", Instance: "remote_smtp", QueueID: "1vHnbq-00000000oZk-0D1a",
				Recipient: "fan2@acme-corp.example", RecipientDomain: "acme-corp.example", RelayHost: "mx0a-00123a01.pphosted.com", RelayIP: "148.163.150.12",
				Status: event.Bounced, SMTPCode: 550, EnhancedCode: "5.7.0", Response: ppBlock},
		},
		{
			Name: "syslog without Exim's timestamp, RFC 3339 prefix, exim4 tag",
			Line: `2026-11-22T10:20:02.5+01:00 mta4 exim4[3181]: 1vHngA-00000000ofR-0G40 ** fan7@umbrella.example R=dnslookup T=remote_smtp H=mx0a-00aa1c01.pphosted.com [148.163.138.88]: SMTP error from remote mail server after RCPT TO:<fan7@umbrella.example>: 550 5.1.1 User Unknown`,
			Want: &event.Delivery{Time: at(2026, 11, 22, 9, 20, 2, 500), MTA: "exim", Host: "mta4", Instance: "remote_smtp", QueueID: "1vHngA-00000000ofR-0G40",
				Recipient: "fan7@umbrella.example", RecipientDomain: "umbrella.example", RelayHost: "mx0a-00aa1c01.pphosted.com", RelayIP: "148.163.138.88",
				Status: event.Bounced, SMTPCode: 550, EnhancedCode: "5.1.1", Response: "550 5.1.1 User Unknown"},
		},
		{
			Name: "syslog RFC 3164 without Exim's timestamp: year from the reference",
			Line: `Nov 22 09:16:11 mta4 exim[3141]: 1vHnd0-00000000obC-0E02 == fan3@globex.example R=dnslookup T=remote_smtp defer (-44) H=mx0b-0012ab01.pphosted.com [67.231.157.21]: SMTP error from remote mail server after RCPT TO:<fan3@globex.example>: 421 Deferred - see https://ipcheck.proofpoint.com/?ip=192.0.2.77`,
			Want: &event.Delivery{Time: at(2026, 11, 22, 9, 16, 11, 0), MTA: "exim", Host: "mta4", Instance: "remote_smtp", QueueID: "1vHnd0-00000000obC-0E02",
				Recipient: "fan3@globex.example", RecipientDomain: "globex.example", RelayHost: "mx0b-0012ab01.pphosted.com", RelayIP: "67.231.157.21",
				Status: event.Deferred, SMTPCode: 421, Response: "421 Deferred - see https://ipcheck.proofpoint.com/?ip=192.0.2.77"},
		},

		// Routing failures of a remote domain without a host stay attempts.
		{
			Name: "Unrouteable address from a router",
			Line: `2026-11-24 08:12:09 1vIa0c-00000003Ab1-0C12 ** ops@no-mx.example R=dnslookup: Unrouteable address`,
			Want: &event.Delivery{Time: at(2026, 11, 24, 8, 12, 9, 0), MTA: "exim", QueueID: "1vIa0c-00000003Ab1-0C12",
				Recipient: "ops@no-mx.example", RecipientDomain: "no-mx.example", Status: event.Bounced, Response: "Unrouteable address"},
		},
		{
			Name: "null MX: no SMTP service",
			Line: `2026-11-24 08:12:10 1vIa0c-00000003Ab1-0C12 ** info@parked.example R=dnslookup: an MX or SRV record indicated no SMTP service`,
			Want: &event.Delivery{Time: at(2026, 11, 24, 8, 12, 10, 0), MTA: "exim", QueueID: "1vIa0c-00000003Ab1-0C12",
				Recipient: "info@parked.example", RecipientDomain: "parked.example", Status: event.Bounced, Response: "an MX or SRV record indicated no SMTP service"},
		},
		{
			Name: "manualroute host lookup failed",
			Line: `2026-11-24 08:12:11 1vIa0c-00000003Ab1-0C12 == sales@acme-corp.example R=smarthost defer (-1): lookup of host "relay.acme-corp.example" failed in smarthost router`,
			Want: &event.Delivery{Time: at(2026, 11, 24, 8, 12, 11, 0), MTA: "exim", QueueID: "1vIa0c-00000003Ab1-0C12",
				Recipient: "sales@acme-corp.example", RecipientDomain: "acme-corp.example", Status: event.Deferred,
				Response: `lookup of host "relay.acme-corp.example" failed in smarthost router`},
		},
		{
			Name: "T= without H=: the smtp transport's connection error, whatever the transport's name",
			Line: `2026-11-24 08:12:12 1vIa0c-00000003Ab1-0C12 == pat@globex.example R=to_hub T=hub defer (113): No route to host`,
			Want: &event.Delivery{Time: at(2026, 11, 24, 8, 12, 12, 0), MTA: "exim", Instance: "hub", QueueID: "1vIa0c-00000003Ab1-0C12",
				Recipient: "pat@globex.example", RecipientDomain: "globex.example", Status: event.Deferred, Response: "No route to host"},
		},
		{
			Name: "T= without H=: a host named in the text (Failed to connect to NAME [IP])",
			Line: `2026-11-24 08:12:13 1vIa0c-00000003Ab1-0C12 == pat@initech.example R=to_hub T=hub defer (-1): Failed to connect to mxa-00abc101.gslb.pphosted.com [148.163.129.51]: Connection timed out`,
			Want: &event.Delivery{Time: at(2026, 11, 24, 8, 12, 13, 0), MTA: "exim", Instance: "hub", QueueID: "1vIa0c-00000003Ab1-0C12",
				Recipient: "pat@initech.example", RecipientDomain: "initech.example", RelayHost: "mxa-00abc101.gslb.pphosted.com", RelayIP: "148.163.129.51",
				Status: event.Deferred, Response: "Failed to connect to mxa-00abc101.gslb.pphosted.com [148.163.129.51]: Connection timed out"},
		},

		// The reply wherever Exim's lead-in puts it.
		{
			Name: "PRDR error after DATA",
			Line: `2026-11-24 09:30:41 1vIbCx-00000003BcD-0E55 ** baduser@acme-corp.example R=dnslookup T=remote_smtp H=mx0a-00123a01.pphosted.com [148.163.150.12] X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=yes: PRDR error after DATA: 550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=192.0.2.10`,
			Want: &event.Delivery{Time: at(2026, 11, 24, 9, 30, 41, 0), MTA: "exim", Instance: "remote_smtp", QueueID: "1vIbCx-00000003BcD-0E55",
				Recipient: "baduser@acme-corp.example", RecipientDomain: "acme-corp.example", RelayHost: "mx0a-00123a01.pphosted.com", RelayIP: "148.163.150.12",
				Status: event.Bounced, SMTPCode: 550, EnhancedCode: "5.7.0", Response: ppBlock},
		},
		{
			Name: "pipelined MAIL FROM with a null sender and SIZE=",
			Line: `2026-11-24 09:30:42 1vIbCx-00000003BcD-0E55 ** postmaster@globex.example R=dnslookup T=remote_smtp H=mx0b-0012ab01.pphosted.com [67.231.157.21]: SMTP error from remote mail server after pipelined MAIL FROM:<> SIZE=3128: 550 5.7.1 Bounce rejected`,
			Want: &event.Delivery{Time: at(2026, 11, 24, 9, 30, 42, 0), MTA: "exim", Instance: "remote_smtp", QueueID: "1vIbCx-00000003BcD-0E55",
				Recipient: "postmaster@globex.example", RecipientDomain: "globex.example", RelayHost: "mx0b-0012ab01.pphosted.com", RelayIP: "67.231.157.21",
				Status: event.Bounced, SMTPCode: 550, EnhancedCode: "5.7.1", Response: "550 5.7.1 Bounce rejected"},
		},
		{
			Name: "digits after \": \" inside the command's address are not the reply",
			Line: `2026-11-24 09:30:43 1vIbCx-00000003BcD-0E55 == ap@globex.example R=dnslookup T=remote_smtp defer (-44) H=mx0b-0012ab01.pphosted.com [67.231.157.21]: SMTP error from remote mail server after RCPT TO:<"ap: 250 ok"@globex.example>: 451 4.7.1 Try again later`,
			Want: &event.Delivery{Time: at(2026, 11, 24, 9, 30, 43, 0), MTA: "exim", Instance: "remote_smtp", QueueID: "1vIbCx-00000003BcD-0E55",
				Recipient: "ap@globex.example", RecipientDomain: "globex.example", RelayHost: "mx0b-0012ab01.pphosted.com", RelayIP: "67.231.157.21",
				Status: event.Deferred, SMTPCode: 451, EnhancedCode: "4.7.1", Response: "451 4.7.1 Try again later"},
		},
		{
			Name: "old shape after end of data: host NAME [IP]: reply",
			Line: `2026-11-24 09:30:44 1vIbCx-00000003BcD-0E55 ** dest@initech.example R=dnslookup T=remote_smtp: SMTP error from remote mail server after end of data: host mxb-00abc101.gslb.pphosted.com [148.163.137.51]: 550 5.7.1 Unfortunately, messages from [198.51.100.5] weren't sent.`,
			Want: &event.Delivery{Time: at(2026, 11, 24, 9, 30, 44, 0), MTA: "exim", Instance: "remote_smtp", QueueID: "1vIbCx-00000003BcD-0E55",
				Recipient: "dest@initech.example", RecipientDomain: "initech.example", RelayHost: "mxb-00abc101.gslb.pphosted.com", RelayIP: "148.163.137.51",
				Status: event.Bounced, SMTPCode: 550, EnhancedCode: "5.7.1", Response: "550 5.7.1 Unfortunately, messages from [198.51.100.5] weren't sent."},
		},
		{
			Name: "EHLO response with a parenthesis of its own",
			Line: `2026-11-24 09:30:45 1vIbCx-00000003BcD-0E55 == m.ortiz@acme-corp.example R=dnslookup T=remote_smtp defer (-18) H=mx0b-00123a01.pphosted.com [148.163.158.12]: Remote host closed connection in response to HELO mta1.example.net (EHLO response was: 554 5.7.1 Blocked (see https://ipcheck.proofpoint.com/?ip=192.0.2.10))`,
			Want: &event.Delivery{Time: at(2026, 11, 24, 9, 30, 45, 0), MTA: "exim", Instance: "remote_smtp", QueueID: "1vIbCx-00000003BcD-0E55",
				Recipient: "m.ortiz@acme-corp.example", RecipientDomain: "acme-corp.example", RelayHost: "mx0b-00123a01.pphosted.com", RelayIP: "148.163.158.12",
				Status: event.Deferred, SMTPCode: 554, EnhancedCode: "5.7.1", Response: "554 5.7.1 Blocked (see https://ipcheck.proofpoint.com/?ip=192.0.2.10)"},
		},
		{
			Name: "no reply: a byte count in parentheses is not a code",
			Line: `2026-11-24 09:30:46 1vIbCx-00000003BcD-0E55 == it@globex.example R=dnslookup T=remote_smtp defer (-1) H=mx0a-0012ab01.pphosted.com [67.231.149.21]: SMTP timeout after end of data (250 bytes written)`,
			Want: &event.Delivery{Time: at(2026, 11, 24, 9, 30, 46, 0), MTA: "exim", Instance: "remote_smtp", QueueID: "1vIbCx-00000003BcD-0E55",
				Recipient: "it@globex.example", RecipientDomain: "globex.example", RelayHost: "mx0a-0012ab01.pphosted.com", RelayIP: "67.231.149.21",
				Status: event.Deferred, Response: "SMTP timeout after end of data (250 bytes written)"},
		},

		// The strerror before H= is the reason.
		{
			Name: "defer (110): strerror, H=, then the message",
			Line: `2026-11-24 10:02:17 1vIbid-00000003Bx0-0A21 == cfo@acme-corp.example R=dnslookup T=remote_smtp defer (110): Connection timed out H=mx0b-00123a01.pphosted.com [148.163.158.12]: SMTP timeout after initial connection`,
			Want: &event.Delivery{Time: at(2026, 11, 24, 10, 2, 17, 0), MTA: "exim", Instance: "remote_smtp", QueueID: "1vIbid-00000003Bx0-0A21",
				Recipient: "cfo@acme-corp.example", RecipientDomain: "acme-corp.example", RelayHost: "mx0b-00123a01.pphosted.com", RelayIP: "148.163.158.12",
				Status: event.Deferred, Response: "Connection timed out"},
		},
		{
			Name: "defer (111): strerror and H= with a port, nothing after",
			Line: `2026-11-24 10:02:18 1vIbid-00000003Bx0-0A21 == cto@globex.example R=dnslookup T=remote_smtp defer (111): Connection refused H=mx0a-0012ab01.pphosted.com [67.231.149.21]:25 DT=0.002s`,
			Want: &event.Delivery{Time: at(2026, 11, 24, 10, 2, 18, 0), MTA: "exim", Instance: "remote_smtp", QueueID: "1vIbid-00000003Bx0-0A21",
				Recipient: "cto@globex.example", RecipientDomain: "globex.example", RelayHost: "mx0a-0012ab01.pphosted.com", RelayIP: "67.231.149.21",
				Status: event.Deferred, Response: "Connection refused"},
		},

		// Not attempts.
		{Name: "arrival", Line: `2026-11-22 09:00:14 1vHnQ2-00000000Lx1-0A3f <= news@news.example.com U=newsletter P=local S=24512 id=x@news.example.com`},
		{Name: "completed", Line: `2026-11-22 09:00:16 1vHnQ2-00000000Lx1-0A3f Completed`},
		{Name: "queue run", Line: `2026-11-22 09:15:01 Start queue run: pid=1130`},
		{Name: "per-host line before the == line", Line: `2026-11-22 09:52:31 1vHogC-00000000NR0-0F12 H=mx1-us1.ppe-hosted.com [67.231.154.162] Connection timed out`},
		{Name: "per-host SMTP error when more hosts follow", Line: `2026-11-22 09:41:03 1vHoUA-00000000NF3-0E90 H=mx0a-00123a01.pphosted.com [148.163.150.12]: SMTP error from remote mail server after MAIL FROM:<news@news.example.com> SIZE=24530: 421 Deferred - see https://ipcheck.proofpoint.com/?ip=192.0.2.10`},
		{Name: "old per-host closed connection line", Line: `2026-11-20 14:10:02 1vGZJP-00000005Jt2-0E00 Remote host mx0b-0012ab01.pphosted.com [67.231.157.21] closed connection in response to EHLO mta3.example.net`},
		{Name: "retry time not reached for any host (-54)", Line: `2026-11-22 09:45:01 1vHoUA-00000000NF3-0E90 == k.lee@acme-corp.example R=dnslookup T=remote_smtp defer (-54): retry time not reached for any host for 'acme-corp.example'`},
		{Name: "retry time not reached for any host (-53)", Line: `2026-11-03 11:40:01 1tBtey-0005yQ-Lm == returns@acme-corp.example R=dnslookup T=remote_smtp defer (-53): retry time not reached for any host`},
		{Name: "routing retry (-52)", Line: `2026-11-22 09:45:01 1vHoUA-00000000NF3-0E90 == cfo@globex.example routing defer (-52): retry time not reached`},
		{Name: "hosts failing for a long time", Line: `2026-11-20 14:00:02 1vGZ2m-00000005JdQ-0B77 == team@stark.example R=dnslookup T=remote_smtp defer (-53): all hosts for 'stark.example' have been failing for a long time (and retry time not reached)`},
		{Name: "failed after the cutoff without a try", Line: `2026-10-14 16:20:14 1t0Kqd-0006Ea-Rn ** pay@umbrella.example: retry timeout exceeded`},
		// Nothing was tried.
		{Name: "first-pass routing only (-odqs, queue_smtp_domains, control=queue)", Line: `2026-11-24 07:00:02 1vIZ3k-00000003A01-0B10 == xxx@ten-2.example R=lookuphost T=remote_smtp defer (-1): first-pass only routing due to -odqs, queue_smtp_domains or control=queue`},
		{Name: "SMTP delivery explicitly queued (older wording)", Line: `2026-11-24 07:00:03 1vIZ3k-00000003A01-0B10 == yyy@acme-corp.example R=dnslookup T=remote_smtp defer (0): SMTP delivery explicitly queued`},
		{Name: "domain in queue_domains", Line: `2026-11-24 07:00:04 1vIZ3k-00000003A01-0B10 == zzz@globex.example routing defer (-56): domain is in queue_domains`},
		{Name: "failed: all hosts failing for a long time, last tried after arrival", Line: `2026-11-24 07:00:05 1vIZ3k-00000003A01-0B10 ** team@stark.example R=dnslookup T=remote_smtp: all hosts have been failing for a long time and were last tried after this message arrived`},
		{Name: "failed: all hosts for the domain failing (and retry time not reached)", Line: `2026-11-24 07:00:06 1vIZ3k-00000003A01-0B10 ** arno@natisbad.example R=dnslookup T=remote_smtp: all hosts for 'natisbad.example' have been failing for a long time (and retry time not reached)`},
		// Router decisions.
		{Name: "redirect: No Such User Here", Line: `2026-11-24 07:10:01 1vIZcq-00000003A7f-0D44 ** nobody@mta2.example.net R=virtual_aliases: No Such User Here`},
		{Name: "redirect :fail: with unrouteable in its own words", Line: `2026-11-24 07:10:02 1vIZcq-00000003A7f-0D44 ** userx@badbad.example R=fail_remote_domains: unrouteable mail domain "badbad.example" (:fail:)`},
		{Name: "redirect :defer:", Line: `2026-11-24 07:10:03 1vIZcq-00000003A7f-0D44 == userx@mta2.example.net R=first defer (-1): force defer on first delivery`},
		{Name: "redirect :fail: just discard, with F=<>", Line: `2026-11-24 07:10:04 1vIZcq-00000003A7f-0D44 ** postmaster@mta2.example.net F=<> R=bounce: just discard`},
		{Name: "filter error", Line: `2026-11-24 07:10:05 1vIZcq-00000003A7f-0D44 == lena@mta2.example.net R=userforward defer (-17): <lena@mta2.example.net> - error in filter file: missing or malformed local part (expected word or "<") in "if"`},
		{Name: "router text without a router field", Line: `2026-11-24 07:10:06 1vIZcq-00000003A7f-0D44 ** xxx@unknown.example: unknown.example is not local, and can't route by DNS`},
		{Name: "lmtp over a socket: strerror then its own text", Line: `2026-11-24 07:10:07 1vIZcq-00000003A7f-0D44 == henry@virtual.example R=dovecot_lmtp_router T=dovecot_lmtp defer (111): Connection refused: Failed to connect to socket /var/run/dovecot/lmtp for dovecot_lmtp transport: Connection refused`},
		{Name: "smtp transport's configuration error: nothing sent", Line: `2026-11-24 07:10:08 1vIZcq-00000003A7f-0D44 == j.smith@acme-corp.example R=dnslookup T=remote_smtp defer (-1): failed to expand "interface" option for remote_smtp transport: unknown variable name "sending_ip"`},
		// Lines without a message id.
		{Name: "ACL logwrite with an arrow", Line: `2026-11-22 09:00:00 [127.0.0.1] -> ''`},
		{Name: "ACL logwrite with a flag after an IPv6 address", Line: `2026-11-22 09:00:00 [2001:db8::25] ** greylisted`},
		{Name: "connection line", Line: `2026-11-22 09:00:01 H=(app1.example.net) [192.0.2.40] == rate 120/1h`},
		{Name: "syslog ACL logwrite", Line: `Nov 22 09:00:02 mta4 exim[3101]: [192.0.2.40] => ''`},
		{Name: "failed after a long failure period without a try", Line: `2026-10-14 16:20:14 1t0Kqd-0006Ea-Rn ** accounts@stark.example R=dnslookup T=remote_smtp: retry time not reached for any host after a long failure period`},
		{Name: "local delivery", Line: `2026-11-03 07:10:44 1tBq3C-0003Xj-7K => root <root@mta2.example.net> R=local_user T=mail_spool`},
		{Name: "local delivery with a domain", Line: `2026-11-19 08:01:13 1vFQ1m-00000002aC1-0B10 => bob@virtual.example <support@helpdesk.example> R=dovecot_virtual T=dovecot_delivery`},
		{Name: "pipe with spaces and parent", Line: `2026-11-19 08:01:12 1vFQ1m-00000002aC1-0B10 => |/usr/local/bin/ticket-import --queue support (support@helpdesk.example) <support@helpdesk.example> R=system_aliases T=address_pipe`},
		{Name: "/dev/null", Line: `2026-11-03 14:02:19 1tBwQ9-0007Ab-Xy => /dev/null <www-data@mta2.example.net> R=system_aliases T=**bypassed**`},
		{Name: ":blackhole:", Line: `2026-11-19 08:01:13 1vFQ1m-00000002aC1-0B10 => :blackhole: <noreply@helpdesk.example> R=blackhole_router`},
		{Name: "autoreply", Line: `2026-11-19 08:01:13 1vFQ1m-00000002aC1-0B10 => >customer@gmail.com <bob@virtual.example> R=vacation T=vacation_reply`},
		{Name: "local transport with a host list (name only)", Line: `2026-11-19 08:01:13 1vFQ1m-00000002aC1-0B10 => carol@virtual.example R=lmtp_router T=dovecot_lmtp H=localhost`},
		{Name: "local deferral", Line: `2026-11-19 08:05:41 1vFQ62-00000002aF0-0C01 == frank@mta2.example.net R=local_user T=local_delivery defer (-22): mailbox is full (MTA-imposed quota exceeded while writing to /var/mail/frank)`},
		{Name: "local failure", Line: `2026-11-19 08:05:41 1vFQ62-00000002aF0-0C01 ** grace@mta2.example.net R=local_user T=local_delivery: mailbox is full (MTA-imposed quota exceeded while writing to /var/mail/grace)`},
		{Name: "LMTP over a socket", Line: `2026-11-19 08:05:42 1vFQ62-00000002aF0-0C01 ** henry@virtual.example R=dovecot_lmtp_router T=dovecot_lmtp: LMTP error after RCPT TO:<henry@virtual.example>: 550 5.1.1 <henry@virtual.example> User doesn't exist: henry@virtual.example`},
		{Name: "-N suppressed delivery", Line: `2026-11-19 08:20:05 1vFQJs-00000002aQ9-0D33 *> oscar@gmail.com R=dnslookup T=remote_smtp H=gmail-smtp-in.l.google.com [142.250.27.26]`},
		{Name: "truncated before H=: cannot tell, local", Line: `2026-11-23 03:10:12 1vHz0a-00000001Qa0-0A01 => dir@initech.example R=dnslookup T=remote`},
		{Name: "syslog line of another program", Line: `Nov 14 09:14:58 mta4 systemd[1]: Started exim4.service - LSB: exim Mail Transport Agent.`},
		{Name: "syslog exim rejection", Line: `Nov 22 09:17:20 mta4 exim[3160]: 2026-11-22 09:17:20 H=(friend) [203.0.113.250] F=<spam@bulk.example> rejected RCPT <nobody@tickets.example.com>: relay not permitted`},
		{Name: "postfix line", Line: `Nov 22 09:15:02 mta1 postfix/smtp[1410]: 4C6D21A0B3F: to=<j.smith@acme-corp.example>, relay=none, delay=1, status=deferred (x)`},
		{Name: "empty", Line: ``},

		// Damaged.
		{Name: "lost first character", Line: `026-11-23 03:10:01 1vHz0a-00000001Qa0-0A01 => cio@acme-corp.example R=dnslookup T=remote_smtp H=mx0a-00123a01.pphosted.com [148.163.150.12]`,
			WantErr: "field time: no timestamp before the message id"},
		{Name: "lost first character of a syslog line", Line: `ov 23 03:10:14 mta4 exim[4001]: 1vHz0a-00000001Qa0-0A01 ** evp@initech.example R=dnslookup: Unrouteable address`,
			WantErr: "field time: no timestamp before the message id"},
		{Name: "month 13", Line: `2026-13-23 03:10:02 1vHz0a-00000001Qa0-0A01 => cto@acme-corp.example R=dnslookup T=remote_smtp H=mx0a-00123a01.pphosted.com [148.163.150.12]`,
			WantErr: `field time: bad timestamp "2026-13-23 03:10:02"`},
		{Name: "Feb 29 of a common year", Line: `2026-02-29 03:10:02 1vHz0a-00000001Qa0-0A01 => cto@acme-corp.example R=dnslookup T=remote_smtp H=mx0a-00123a01.pphosted.com [148.163.150.12]`,
			WantErr: `field time: bad timestamp "2026-02-29 03:10:02"`},
		{Name: "two timestamps glued", Line: `2026-11-23 03:10:122026-11-23 03:10:13 1vHz0a-00000001Qa0-0A01 ** svp@initech.example R=dnslookup: Unrouteable address`,
			WantErr: `field time: no space after timestamp "2026-11-23 03:10:12"`},
		{Name: "truncated in the host address", Line: `2026-11-23 03:10:03 1vHz0a-00000001Qa0-0A01 ** cfo@acme-corp.example R=dnslookup T=remote_smtp H=mx0a-00123a01.pphosted.com [148.163.15`,
			WantErr: `field relay: bad host address in "[148.163.15"`},
		{Name: "invalid host address", Line: `2026-11-23 03:10:04 1vHz0a-00000001Qa0-0A01 == coo@acme-corp.example R=dnslookup T=remote_smtp defer (-44) H=mx0a-00123a01.pphosted.com [148.163.350.12]: SMTP error`,
			WantErr: `field relay: bad host address in "[148.163.350.12]: SMTP error"`},
		{Name: "short message id", Line: `2026-11-23 03:10:05 1vHz0a-0000001Qa0-0A01 => cmo@acme-corp.example R=dnslookup T=remote_smtp H=mx0a-00123a01.pphosted.com [148.163.150.12]`,
			WantErr: `field queue_id: invalid message id "1vHz0a-0000001Qa0-0A01"`},
		{Name: "unterminated C=", Line: `2026-11-23 03:10:06 1vHz0a-00000001Qa0-0A01 => cso@acme-corp.example R=dnslookup T=remote_smtp H=mx0a-00123a01.pphosted.com [148.163.150.12] C="250 2.0.0 4cDL00aa1e-1 Message acc`,
			WantErr: "field confirmation: unterminated quoted value"},
		{Name: "truncated error number", Line: `2026-11-23 03:10:07 1vHz0a-00000001Qa0-0A01 == ceo@globex.example R=dnslookup T=remote_smtp defer (-4`,
			WantErr: `field errno: unterminated error number in " (-4"`},
		{Name: "bad error number", Line: `2026-11-23 03:10:08 1vHz0a-00000001Qa0-0A01 == cpo@globex.example R=dnslookup T=remote_smtp defer (x44) H=mx [192.0.2.1]: x`,
			WantErr: `field errno: bad error number in " (x44) H=mx [192.0.2.1]: x"`},
		{Name: "nothing after the flag", Line: `2026-11-23 03:10:09 1vHz0a-00000001Qa0-0A01 ==`,
			WantErr: "field recipient: missing after the flag"},
		{Name: "remote delivery to an address without domain", Line: `2026-11-23 03:10:10 1vHz0a-00000001Qa0-0A01 => postmaster R=dnslookup T=remote_smtp H=mx0a-0012ab01.pphosted.com [67.231.149.21]`,
			WantErr: `field recipient: address "postmaster" has no domain`},
		{Name: "bad interface address", Line: `2026-11-23 03:10:11 1vHz0a-00000001Qa0-0A01 => vp@initech.example R=dnslookup T=remote_smtp H=mxa-00abc101.gslb.pphosted.com [148.163.129.51] I=[192.0.2.900]`,
			WantErr: `field source_ip: bad interface address in "I=[192.0.2.900]"`},
		{Name: "unterminated quoted local part", Line: `2026-11-23 03:10:16 1vHz0a-00000001Qa0-0A01 ** "unterminated@stark.example R=dnslookup: Unrouteable address`,
			WantErr: "field recipient: unterminated quoted local part"},
		{Name: "unterminated F=", Line: `2026-11-23 03:10:16 1vHz0a-00000001Qa0-0A01 => a@stark.example F=<x@y R=dnslookup T=remote_smtp H=mx.stark.example [203.0.113.200]`,
			WantErr: `field sender: unterminated address in "F=<x@y"`},
	}
	parsertest.Run(t, newParser, tests)
}

// step is one line of a sequence and what it should yield: nil event for
// "not an attempt".
type step struct {
	line string
	want *event.Delivery
}

func runSteps(t *testing.T, p *Parser, steps []step) {
	t.Helper()
	for i, s := range steps {
		got, ok, err := parsertest.Parse(p, s.line)
		if err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		if s.want == nil {
			if ok {
				t.Fatalf("line %d: want no attempt, got %+v", i+1, got)
			}
			continue
		}
		if !ok {
			t.Fatalf("line %d: want an attempt", i+1)
		}
		if d := cmp.Diff(*s.want, got); d != "" {
			t.Errorf("line %d mismatch (-want +got):\n%s", i+1, d)
		}
	}
}

func TestSenderCorrelator(t *testing.T) {
	p := newTest()
	runSteps(t, p, []step{
		{line: `2026-11-22 09:02:40 1vHnSm-00000000Lz7-0B11 <= app@billing.example.org H=app1.example.net [192.0.2.40] P=esmtps S=8310`},
		{line: `2026-11-22 09:02:41 1vHnSm-00000000Lz7-0B11 ** ap@globex.example R=dnslookup T=remote_smtp H=mx0a-0012ab01.pphosted.com [67.231.149.21]: SMTP error from remote mail server after RCPT TO:<ap@globex.example>: ` + ppBlock,
			want: &event.Delivery{Time: at(2026, 11, 22, 9, 2, 41, 0), MTA: "exim", Instance: "remote_smtp", QueueID: "1vHnSm-00000000Lz7-0B11",
				Sender: "app@billing.example.org", Recipient: "ap@globex.example", RecipientDomain: "globex.example",
				RelayHost: "mx0a-0012ab01.pphosted.com", RelayIP: "67.231.149.21", Status: event.Bounced, SMTPCode: 550, EnhancedCode: "5.7.0", Response: ppBlock}},
		// F= on the line wins over the remembered sender.
		{line: `2026-11-22 09:02:42 1vHnSm-00000000Lz7-0B11 => b@globex.example F=<other@billing.example.org> R=dnslookup T=remote_smtp H=mx0a-0012ab01.pphosted.com [67.231.149.21]`,
			want: &event.Delivery{Time: at(2026, 11, 22, 9, 2, 42, 0), MTA: "exim", Instance: "remote_smtp", QueueID: "1vHnSm-00000000Lz7-0B11",
				Sender: "other@billing.example.org", Recipient: "b@globex.example", RecipientDomain: "globex.example",
				RelayHost: "mx0a-0012ab01.pphosted.com", RelayIP: "67.231.149.21", Status: event.Delivered}},
		{line: `2026-11-22 09:02:43 1vHnSm-00000000Lz7-0B11 Completed`},
		// After Completed the message is forgotten.
		{line: `2026-11-22 09:02:44 1vHnSm-00000000Lz7-0B11 => c@globex.example R=dnslookup T=remote_smtp H=mx0a-0012ab01.pphosted.com [67.231.149.21]`,
			want: &event.Delivery{Time: at(2026, 11, 22, 9, 2, 44, 0), MTA: "exim", Instance: "remote_smtp", QueueID: "1vHnSm-00000000Lz7-0B11",
				Recipient: "c@globex.example", RecipientDomain: "globex.example",
				RelayHost: "mx0a-0012ab01.pphosted.com", RelayIP: "67.231.149.21", Status: event.Delivered}},
		// A bounce message has the null sender.
		{line: `2026-11-22 10:12:43 1vHpAV-00000000Nr1-0I02 <= <> R=1vHp8O-00000000NqA-0H77 U=Debian-exim P=local S=26110`},
		{line: `2026-11-22 10:12:44 1vHpAV-00000000Nr1-0I02 => x@billing.example.org R=dnslookup T=remote_smtp H=mx.billing.example.org [198.51.100.20]`,
			want: &event.Delivery{Time: at(2026, 11, 22, 10, 12, 44, 0), MTA: "exim", Instance: "remote_smtp", QueueID: "1vHpAV-00000000Nr1-0I02",
				Recipient: "x@billing.example.org", RecipientDomain: "billing.example.org",
				RelayHost: "mx.billing.example.org", RelayIP: "198.51.100.20", Status: event.Delivered}},
	})
	if n := p.senders.Len(); n != 1 {
		t.Errorf("correlator holds %d entries, want 1 (the bounce message)", n)
	}
}

func TestSenderCorrelatorCap(t *testing.T) {
	p := New(mtalog.Options{Reference: ref, Location: time.UTC, MaxSenders: 2})
	ids := []string{"1vHnSm-00000000Lz7-0B11", "1vHnSm-00000000Lz7-0B12", "1vHnSm-00000000Lz7-0B13"}
	for i, id := range ids {
		parsertest.Parse(p, fmt.Sprintf("2026-11-22 09:02:40 %s <= s%d@example.org P=local", id, i))
	}
	if n := p.senders.Len(); n != 2 {
		t.Fatalf("holds %d, want 2", n)
	}
	if _, _, ok := p.senders.Get(ids[0]); ok {
		t.Error("oldest entry survived")
	}
	for i, id := range ids[1:] {
		if s, _, ok := p.senders.Get(id); !ok || s != fmt.Sprintf("s%d@example.org", i+1) {
			t.Errorf("%s: got %q %v", id, s, ok)
		}
	}
	// The arena (2*112 bytes here) evicts by size too: a long sender
	// overwrites older text, which then reads as unknown, not as garbage.
	long := strings.Repeat("x", 190) + "@example.org"
	parsertest.Parse(p, "2026-11-22 09:02:41 "+ids[0]+" <= "+long+" P=local")
	if s, _, ok := p.senders.Get(ids[0]); !ok || s != long {
		t.Errorf("long sender: got %q %v", s, ok)
	}
	if s, _, ok := p.senders.Get(ids[2]); ok {
		t.Errorf("overwritten sender still readable: %q", s)
	}
	// A sender longer than the whole arena is not kept.
	one := New(mtalog.Options{Reference: ref, MaxSenders: 1})
	parsertest.Parse(one, "2026-11-22 09:02:41 "+ids[0]+" <= "+long+" P=local")
	if s, _, ok := one.senders.Get(ids[0]); ok {
		t.Errorf("sender longer than the arena kept: %q", s)
	}
	parsertest.Parse(one, "2026-11-22 09:02:41 "+ids[1]+" <= a@b.example P=local")
	parsertest.Parse(one, "2026-11-22 09:02:41 "+ids[2]+" <= c@d.example P=local")
	if s, _, ok := one.senders.Get(ids[2]); !ok || s != "c@d.example" || one.senders.Len() != 1 {
		t.Errorf("cap 1: got %q %v, %d entries", s, ok, one.senders.Len())
	}
	// Disabled correlator.
	q := New(mtalog.Options{Reference: ref, MaxSenders: -1})
	parsertest.Parse(q, "2026-11-22 09:02:40 "+ids[0]+" <= a@b.example P=local")
	ev, ok, err := parsertest.Parse(q, "2026-11-22 09:02:41 "+ids[0]+" => c@d.example R=r T=remote_smtp H=mx.d.example [192.0.2.1]")
	if err != nil || !ok || ev.Sender != "" {
		t.Errorf("disabled correlator: %+v %v %v", ev, ok, err)
	}
}

func TestHostOfConnectionFailure(t *testing.T) {
	want := func(rcpt, host, ip, resp string) *event.Delivery {
		return &event.Delivery{Time: at(2026, 11, 3, 11, 3, 22, 0), MTA: "exim", Instance: "remote_smtp", QueueID: "1tBtey-0005yQ-Lm",
			Sender: "newsletter@shop.example.com", Recipient: rcpt, RecipientDomain: event.DomainOf(rcpt),
			RelayHost: host, RelayIP: ip, Status: event.Deferred, Response: resp}
	}
	runSteps(t, newTest(), []step{
		{line: `2026-11-03 11:02:51 1tBtey-0005yQ-Lm <= newsletter@shop.example.com U=www-data P=local S=41188`},
		{line: `2026-11-03 11:02:52 1tBtey-0005yQ-Lm mx0a-00123a01.pphosted.com [148.163.150.12] Connection timed out`},
		{line: `2026-11-03 11:03:22 1tBtey-0005yQ-Lm H=mx0b-00123a01.pphosted.com [148.163.158.12]:25 Connection timed out`},
		// The last host that failed this way is the relay of the == line.
		{line: `2026-11-03 11:03:22 1tBtey-0005yQ-Lm == a@acme-corp.example R=dnslookup T=remote_smtp defer (110): Connection timed out`,
			want: want("a@acme-corp.example", "mx0b-00123a01.pphosted.com", "148.163.158.12", "Connection timed out")},
		{line: `2026-11-03 11:03:22 1tBtey-0005yQ-Lm == b@acme-corp.example R=dnslookup T=remote_smtp defer (110): Connection timed out`,
			want: want("b@acme-corp.example", "mx0b-00123a01.pphosted.com", "148.163.158.12", "Connection timed out")},
		// A different error does not borrow the remembered host.
		{line: `2026-11-03 11:03:22 1tBtey-0005yQ-Lm == c@other.example R=dnslookup T=remote_smtp defer (111): Connection refused`,
			want: want("c@other.example", "", "", "Connection refused")},
		// Nor does another message.
		{line: `2026-11-03 11:03:22 1tBtez-0005yQ-Lm == d@acme-corp.example R=dnslookup T=remote_smtp defer (110): Connection timed out`,
			want: &event.Delivery{Time: at(2026, 11, 3, 11, 3, 22, 0), MTA: "exim", Instance: "remote_smtp", QueueID: "1tBtez-0005yQ-Lm",
				Recipient: "d@acme-corp.example", RecipientDomain: "acme-corp.example", Status: event.Deferred, Response: "Connection timed out"}},
		{line: `2026-11-03 11:03:23 1tBtey-0005yQ-Lm Completed`},
		{line: `2026-11-03 11:03:22 1tBtey-0005yQ-Lm == e@acme-corp.example R=dnslookup T=remote_smtp defer (110): Connection timed out`,
			want: &event.Delivery{Time: at(2026, 11, 3, 11, 3, 22, 0), MTA: "exim", Instance: "remote_smtp", QueueID: "1tBtey-0005yQ-Lm",
				Recipient: "e@acme-corp.example", RecipientDomain: "acme-corp.example", Status: event.Deferred, Response: "Connection timed out"}},
	})
}

func TestHostOfFailedConnect(t *testing.T) {
	want := func(rcpt, host, ip, resp string) *event.Delivery {
		return &event.Delivery{Time: at(2026, 11, 24, 11, 0, 40, 0), MTA: "exim", Instance: "remote_smtp", QueueID: "1vIcEe-00000003CdE-0F66",
			Recipient: rcpt, RecipientDomain: event.DomainOf(rcpt), RelayHost: host, RelayIP: ip, Status: event.Deferred, Response: resp}
	}
	runSteps(t, newTest(), []step{
		{line: `2026-11-24 11:00:10 1vIcEe-00000003CdE-0F66 Failed to connect to mx0a-00123a01.pphosted.com [148.163.150.12]: Connection timed out`},
		{line: `2026-11-24 11:00:40 1vIcEe-00000003CdE-0F66 == a@acme-corp.example R=dnslookup T=remote_smtp defer (110): Connection timed out`,
			want: want("a@acme-corp.example", "mx0a-00123a01.pphosted.com", "148.163.150.12", "Connection timed out")},
		// The per-host line with Exim's message and the strerror after it.
		{line: `2026-11-24 11:00:40 1vIcEe-00000003CdE-0F66 H=mx0b-00123a01.pphosted.com [148.163.158.12]: SMTP timeout after initial connection: Connection timed out`},
		{line: `2026-11-24 11:00:40 1vIcEe-00000003CdE-0F66 == b@acme-corp.example R=dnslookup T=remote_smtp defer (110): Connection timed out: SMTP timeout after initial connection`,
			want: want("b@acme-corp.example", "mx0b-00123a01.pphosted.com", "148.163.158.12", "Connection timed out: SMTP timeout after initial connection")},
		// H= with a port.
		{line: `2026-11-24 11:00:40 1vIcEe-00000003CdE-0F66 H=mx0a-0012ab01.pphosted.com [67.231.149.21]:25 Connection refused`},
		{line: `2026-11-24 11:00:40 1vIcEe-00000003CdE-0F66 == c@globex.example R=dnslookup T=remote_smtp defer (111): Connection refused`,
			want: want("c@globex.example", "mx0a-0012ab01.pphosted.com", "67.231.149.21", "Connection refused")},
		// A text that merely ends like the key does not match.
		{line: `2026-11-24 11:00:40 1vIcEe-00000003CdE-0F66 H=mx0b-0012ab01.pphosted.com [67.231.157.21] not a Connection refused`},
		{line: `2026-11-24 11:00:40 1vIcEe-00000003CdE-0F66 == d@globex.example R=dnslookup T=remote_smtp defer (111): Connection refused`,
			want: want("d@globex.example", "", "", "Connection refused")},
	})
}

func TestSyslogSplitLines(t *testing.T) {
	full := `2026-11-22 09:18:03 1vHnep-00000000odD-0F33 ** fan6@gmail.com R=dnslookup T=remote_smtp H=gmail-smtp-in.l.google.com [142.250.27.26]: SMTP error from remote mail server after end of data: 550-5.7.26 first line\n550 5.7.26 last line`
	cut1, cut2 := 60, 150
	pre := "Nov 22 09:18:03 mta4 exim4[3171]: "
	want := &event.Delivery{Time: at(2026, 11, 22, 9, 18, 3, 0), MTA: "exim", Host: "mta4", Instance: "remote_smtp", QueueID: "1vHnep-00000000odD-0F33",
		Recipient: "fan6@gmail.com", RecipientDomain: "gmail.com", RelayHost: "gmail-smtp-in.l.google.com", RelayIP: "142.250.27.26",
		Status: event.Bounced, SMTPCode: 550, EnhancedCode: "5.7.26", Response: `550-5.7.26 first line\n550 5.7.26 last line`}
	runSteps(t, newTest(), []step{
		{line: pre + "[1/3] " + full[:cut1]},
		// another exim process in between
		{line: `Nov 22 09:18:03 mta4 exim4[3172]: 2026-11-22 09:18:03 1vHneq-00000000odE-0F34 <= e@tickets.example.com P=local`},
		{line: pre + "[2/3] " + full[cut1:cut2]},
		{line: pre + "[3/3] " + full[cut2:], want: want},
		// a stray continuation is skipped
		{line: pre + "[3/3] " + full[cut2:]},
	})
	// Part 1 of another line from the same pid replaces an unfinished one.
	runSteps(t, newTest(), []step{
		{line: pre + "[1/2] " + full[:cut1]},
		{line: pre + "[1/2] " + full[:cut1]},
		{line: pre + "[2/2] " + full[cut1:], want: want},
	})
}

func TestSniff(t *testing.T) {
	yes := []string{
		`2026-11-22 09:00:14 1vHnQ2-00000000Lx1-0A3f <= news@news.example.com U=newsletter P=local S=24512`,
		`2026-11-03 07:10:44 1tBq3C-0003Xj-7K Completed`,
		`2026-11-21 10:00:00.913 +0100 [4102] 1vG4Ab-000000012Xy-0A7c <= a@b.example P=esmtpsa`,
		`2026-11-22 09:15:01 Start queue run: pid=1130`,
		`Nov 22 09:15:02 mta4 exim[3120]: 2026-11-22 09:15:02 1vHnbq-00000000oZk-0D1a <= e@t.example P=local`,
		`Nov 22 09:16:10 mta4 exim4[3140]: 1vHnd0-00000000obC-0E02 <= e@t.example P=local`,
		`2026-11-22T10:20:01.204311+01:00 mta4 exim[3180]: 1vHngA-00000000ofR-0G40 <= e@t.example P=local`,
		// Main-log lines without a message id.
		`2026-11-22 09:15:01 [1130] Start queue run: pid=1130 -qq`,
		`2026-11-22 09:15:01 Start 'alternate' queue run: pid=1131`,
		`2026-11-22 09:15:02 End 'alternate' queue run: pid=1131`,
		`2026-11-22 09:00:00 exim 4.97 daemon started: pid=1101, -q30m, listening for SMTP on [0.0.0.0]:25 [::]:25`,
		`2026-11-22 09:00:02.114 +0100 SMTP connection from [109.70.26.4] (TCP/IP connection count = 1)`,
		`2026-11-22 09:00:03 SMTP command timeout on connection from [180.173.2.183]:64332 I=[78.32.30.218]:25`,
		`2026-11-22 09:00:04 SMTP call from (tester) [203.0.113.7] dropped: too many syntax or protocol errors (last command was "From: Sam@random.com")`,
		`2026-11-22 09:00:05 SMTP protocol synchronization error (next input sent too soon: pipelining was not advertised): rejected "BDAT 1" H=(tester) [203.0.113.7] next input="BDAT 87 last\r\n"`,
		`2026-11-22 09:00:06 H=(ZTZUWWCRQY) [218.108.42.254] F=<pansiesyd75@setupper.example> rejected RCPT <inline@trout.example>: rejected because 218.108.42.254 is in a black list at zen.spamhaus.org `,
		`2026-11-22 09:00:07 H=mail.somehost.example [84.154.134.45] F=<a@somehost.example> rejected RCPT <b@exampley.example>: Unrouteable address`,
		`2026-11-22 09:00:08 H=[198.51.100.9] F=<x@bad.example>: rejected by DCC`,
		`2026-11-22 09:00:09 no host name found for IP address 218.108.42.254`,
		`2026-11-22 09:00:10 TLS error on connection from mout.gmx.example [212.227.15.15] (gnutls_handshake): A TLS fatal alert has been received.`,
		`2026-11-22 09:00:11 unexpected disconnection while reading SMTP command from (ZTZUWWCRQY) [218.108.42.254] (error: Connection reset by peer)`,
		`2026-11-22 09:00:12 [127.0.0.1] -> ''`,
		`2026-11-22 09:00:13 [2001:db8::25] -> 'greylisted'`,
		`2026-11-22 09:00:14 VRFY failed for boyce@cup.example H=(x) [192.168.10.238]`,
		`2026-11-22 09:00:15 cwd=/var/spool/exim4 3 args: /usr/sbin/exim4 -bd -q30m`,
		`Feb 14 18:12:33 192.168.55.51 exim[46483]: [1\2] 2025-02-14 18:12:33 Warning: purging the environment.`,
	}
	no := []string{
		``,
		`Nov 22 09:15:02 mta1 postfix/smtp[1410]: 4C6D21A0B3F: to=<j@acme-corp.example>, relay=none, status=deferred (x)`,
		`d,2026-11-22 09:00:00+0000,2026-11-22 08:59:59+0000,news@example.com,j@acme-corp.example,,relayed,2.0.0 (success),smtp;250 ok`,
		`Nov 14 09:14:58 mta4 systemd[1]: Started exim4.service - LSB: exim Mail Transport Agent.`,
		`2026-11-22 09:00:14 something else entirely`,
		`type,timeLogged,timeQueued,orig,rcpt`,
		`t,2026-11-22 00:55:28+0000,2026-11-22 00:40:02+0000,bounce@news.example.com,user@example.org,,delayed,4.0.0 (undefined status),smtp;421 4.7.0 Too many connections,mx0b-00069f02.pphosted.com (205.220.177.32),,smtp,,smtp,198.51.100.20,205.220.177.32,"PIPELINING,8BITMIME,SIZE,STARTTLS",48211,vmta-a,job42,,example.org/vmta-a,pool-a`,
		`2026-10-04T22:48:26.414987+00:00 postfix-incoming-0 mail_in/master[116]: daemon started -- version 3.11.7, configuration /etc/postfix`,
		`Nov  8 19:19:37 mx1 postfix/smtp[2835]: 5AFFC20799: to=<s@example.com>, relay=172.16.22.11[172.16.22.11]:25, delay=0.18, dsn=2.1.5, status=deliverable (250 2.1.5 Ok)`,
		`2026-11-22 09:00:14 [something] else`,
		`2026-11-22 09:00:14 H=nothing here`,
		`2026-11-22 09:00:14 exim is not a daemon started here`,
		`2026-11-22 09:00:14 Start 'x' of something`,
	}
	for _, l := range yes {
		if !Sniff(l) {
			t.Errorf("Sniff(%q) = false", l)
		}
	}
	for _, l := range no {
		if Sniff(l) {
			t.Errorf("Sniff(%q) = true", l)
		}
	}
}

// noise holds lines that are not attempts; rejecting them must not allocate.
var noise = []string{
	`2026-11-22 09:00:16 1vHnQ2-00000000Lx1-0A3f Completed`,
	`2026-11-22 09:15:01 Start queue run: pid=1130`,
	`2026-11-22 09:21:37 H=(app1.example.net) [192.0.2.40] Warning: "dovecot_plain" authenticator failed for app1.example.net (192.0.2.40) [192.0.2.40]: 535 Incorrect authentication data (set_id=app)`,
	`2026-11-22 09:45:01 1vHoUA-00000000NF3-0E90 == k.lee@acme-corp.example R=dnslookup T=remote_smtp defer (-54): retry time not reached for any host for 'acme-corp.example'`,
	`2026-11-22 09:45:01 1vHoUA-00000000NF3-0E90 == cfo@globex.example routing defer (-52): retry time not reached`,
	`2026-11-22 09:52:31 1vHogC-00000000NR0-0F12 H=mx1-us1.ppe-hosted.com [67.231.154.162] Connection timed out`,
	`2026-11-20 14:10:02 1vGZJP-00000005Jt2-0E00 Remote host mx0b-0012ab01.pphosted.com [67.231.157.21] closed connection in response to EHLO mta3.example.net`,
	`2026-11-22 10:12:44 1vHpAV-00000000Nr1-0I02 => newsletter <news@news.example.com> R=local_user T=mail_spool`,
	`2026-11-19 08:01:13 1vFQ1m-00000002aC1-0B10 => bob@virtual.example <support@helpdesk.example> R=dovecot_virtual T=dovecot_delivery`,
	`2026-11-19 08:01:12 1vFQ1m-00000002aC1-0B10 => |/usr/local/bin/ticket-import --queue support (support@helpdesk.example) <support@helpdesk.example> R=system_aliases T=address_pipe`,
	`2026-11-19 08:05:41 1vFQ62-00000002aF0-0C01 ** grace@mta2.example.net R=local_user T=local_delivery: mailbox is full (MTA-imposed quota exceeded while writing to /var/mail/grace)`,
	`Nov 14 09:14:58 mta4 systemd[1]: Started exim4.service - LSB: exim Mail Transport Agent.`,
	`Nov 22 09:15:04 mta4 dovecot[902]: imap-login: Login: user=<ops>, method=PLAIN, rip=198.51.100.3, lip=192.0.2.77, mpid=3130, TLS`,
	`Nov 22 09:17:20 mta4 exim[3160]: 2026-11-22 09:17:20 H=(friend) [203.0.113.250] F=<spam@bulk.example> rejected RCPT <nobody@tickets.example.com>: relay not permitted`,
	`Nov 22 09:16:12 mta4 exim[3141]: 1vHnd0-00000000obC-0E02 H=mx1-us1.ppe-hosted.com [67.231.154.162] Connection timed out`,
	`Nov 22 09:15:04 mta4 exim[3121]: 2026-11-22 09:15:04 1vHnbq-00000000oZk-0D1a Completed`,
	`2026-11-22 09:00:12 [127.0.0.1] -> ''`,
	`2026-11-22 09:00:06 H=(ZTZUWWCRQY) [218.108.42.254] F=<pansiesyd75@setupper.example> rejected RCPT <inline@trout.example>: rejected because 218.108.42.254 is in a black list at zen.spamhaus.org`,
	`2026-11-24 07:00:02 1vIZ3k-00000003A01-0B10 == xxx@ten-2.example R=lookuphost T=remote_smtp defer (-1): first-pass only routing due to -odqs, queue_smtp_domains or control=queue`,
	`2026-11-24 07:10:01 1vIZcq-00000003A7f-0D44 ** nobody@mta2.example.net R=virtual_aliases: No Such User Here`,
	`2026-11-24 11:00:10 1vIcEe-00000003CdE-0F66 Failed to connect to mx0a-00123a01.pphosted.com [148.163.150.12]: Connection timed out`,
}

func TestNoiseDoesNotAllocate(t *testing.T) {
	var ev event.Delivery
	p := newTest()
	for _, l := range noise {
		if _, ok, err := parsertest.Parse(p, l); ok || err != nil {
			t.Fatalf("%q: ok=%v err=%v", l, ok, err)
		}
		if n := testing.AllocsPerRun(100, func() { p.Parse(l, &ev) }); n != 0 {
			t.Errorf("%.60q: %v allocs per run", l, n)
		}
	}
	// Arrivals of new messages are not attempts either: the sender goes into
	// the arena, so only map growth allocates (amortised to zero).
	arrivals := make([]string, 1000)
	for i := range arrivals {
		arrivals[i] = fmt.Sprintf("2026-11-22 09:00:14 1vHn%02d-00000000Lx1-0A3f <= news%d@news.example.com U=newsletter P=local S=24512", i%100, i)
	}
	i := 0
	if n := testing.AllocsPerRun(len(arrivals)-1, func() { p.Parse(arrivals[i%len(arrivals)], &ev); i++ }); n != 0 {
		t.Errorf("arrival: %v allocs per run", n)
	}
	for _, l := range noise {
		if Sniff(l) && testing.AllocsPerRun(100, func() { Sniff(l) }) != 0 {
			t.Errorf("Sniff(%.60q) allocates", l)
		}
	}
}

// TestLongLinesLinear parses adversarial lines of 64 KiB and 1 MiB: a
// quadratic scan shows as a 256-fold slowdown instead of 16-fold.
func TestLongLinesLinear(t *testing.T) {
	const head = "2026-11-22 09:00:15 1vHnQ2-00000000Lx1-0A3f "
	shapes := map[string]func(n int) string{
		"hosts without ]": func(n int) string { return head + "** a@b R=r T=smtp: " + strings.Repeat("host a [", n/8) },
		"per-host noise":  func(n int) string { return head + strings.Repeat("host a [", n/8) },
		"flags":           func(n int) string { return strings.Repeat("1vHnQ2-00000000Lx1-0A3f == ", n/27) },
		"quotes":          func(n int) string { return head + "=> a@b H=h [192.0.2.1] " + strings.Repeat(`C=""`, n/5) },
		"stops":           func(n int) string { return head + "== a@b R=r T=smtp defer (1): " + strings.Repeat(": H= DT=", n/8) },
		"markers": func(n int) string {
			return head + "== a@b R=r T=smtp defer (-18): " + strings.Repeat("connected to x [", n/16)
		},
		"no spaces": func(n int) string { return head + "=> " + strings.Repeat("a", n) },
		"angles":    func(n int) string { return head + "=> a@b " + strings.Repeat("F=<a>", n/5) },
		"defers":    func(n int) string { return head + "== a@b R=r T=smtp " + strings.Repeat("defer (1): x ", n/13) },
		"smtp errors": func(n int) string {
			return head + "** a@b R=r T=smtp: " + strings.Repeat("SMTP error from remote mail server after ", n/41)
		},
		"ehlo":    func(n int) string { return head + "== a@b R=r T=smtp: " + strings.Repeat("(EHLO response was: ", n/20) },
		"parents": func(n int) string { return head + "=> a@b " + strings.Repeat("(", n) },
		"syslog":  func(n int) string { return "Nov 22 09:18:03 h exim[1]: " + strings.Repeat("host a [1.2.3.4] ", n/17) },
	}
	for name, mk := range shapes {
		t.Run(name, func(t *testing.T) {
			small, big := mk(64<<10), mk(1<<20)
			p := newTest()
			best := func(s string) time.Duration {
				d := time.Duration(1 << 62)
				for i := 0; i < 3; i++ {
					start := time.Now()
					parsertest.Parse(p, s)
					d = min(d, time.Since(start))
				}
				return d
			}
			ds, db := best(small), best(big)
			if db > 100*time.Millisecond && db > 64*max(ds, 50*time.Microsecond) {
				t.Errorf("1 MiB took %v, 64 KiB took %v", db, ds)
			}
		})
	}
}

func BenchmarkParse(b *testing.B) {
	lines := parsertest.File(b, "../../testdata/exim/sample.log")
	var n int
	for _, l := range lines {
		n += len(l) + 1
	}
	b.SetBytes(int64(n / len(lines)))
	b.ReportAllocs()
	p := newTest()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		parsertest.Parse(p, lines[i%len(lines)])
	}
}

func BenchmarkParseNoise(b *testing.B) {
	b.ReportAllocs()
	p := newTest()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		parsertest.Parse(p, noise[i%len(noise)])
	}
}

// Timestamps read through the minute cache equal those of a fresh parser:
// in and out of order, with milliseconds, zones, leap seconds and bad ones.
func TestStampMinuteCache(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	p := New(mtalog.Options{Location: berlin})
	// Fractions that shrink and grow within one minute, then zones.
	for _, ts := range []string{"2026-11-22 09:00:05.123", "2026-11-22 09:00:06.1", "2026-11-22 09:00:07.12",
		"2026-11-22 09:00:07.12", "2026-11-22 09:00:08.1 +0100", "2026-11-22 09:00:09 +0100", "2026-11-22 09:00:09.999999 +0100"} {
		got, _, gerr := p.stamp(ts + " x")
		want, _, werr := New(mtalog.Options{Location: berlin}).stamp(ts + " x")
		if !got.Equal(want) || gerr != nil || werr != nil {
			t.Fatalf("%s: %v %v, a fresh parser says %v %v", ts, got, gerr, want, werr)
		}
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 20000; i++ {
		ts := fmt.Sprintf("2026-%02d-%02d %02d:%02d:%02d", 1+rng.IntN(2), 1+rng.IntN(31), rng.IntN(2), rng.IntN(3), rng.IntN(62))
		switch rng.IntN(4) {
		case 0:
			ts += fmt.Sprintf(".%0*d", 1+rng.IntN(6), rng.IntN(10)) // fractions of changing length
		case 1:
			ts += []string{" +0000", " -0500", " +0130"}[rng.IntN(3)]
		case 2:
			ts += fmt.Sprintf(".%03d +0200", rng.IntN(1000))
		}
		if rng.IntN(3) == 0 { // the same text again
			p.stamp(ts + " x")
		}
		got, _, gerr := p.stamp(ts + " x")
		want, _, werr := New(mtalog.Options{Location: berlin}).stamp(ts + " x")
		if !got.Equal(want) || (gerr == nil) != (werr == nil) {
			t.Fatalf("%s: %v %v, a fresh parser says %v %v", ts, got, gerr, want, werr)
		}
	}
}

// The "<=" line's id= is the Message-ID of the message's attempts; a
// subject (T=) that holds " id=" does not fool it, nor a quoted sender.
func TestMessageID(t *testing.T) {
	p := newTest()
	for _, tt := range []struct{ arrival, want string }{
		{`2026-11-03 08:01:15 1tBqpb-0004aB-2F <= alerts@ops.example.com H=monitor.example.net [198.51.100.7] P=esmtp S=3120 id=alert-5521@ops.example.com T="Disk full id=fake@x"`, "alert-5521@ops.example.com"},
		{`2026-11-03 08:01:16 1tBqpb-0004aB-2G <= "john id=q"@ops.example.com H=monitor.example.net [198.51.100.7] P=esmtp S=3120 id=q-1@ops.example.com`, "q-1@ops.example.com"},
		{`2026-11-03 08:01:17 1tBqpb-0004aB-2H <= app@ops.example.com U=app P=local S=3120 T="no id here"`, ""},
	} {
		parsertest.Parse(p, tt.arrival)
		id := strings.Fields(tt.arrival)[2]
		ev, ok, err := parsertest.Parse(p, "2026-11-03 08:01:20 "+id+" == x@globex.example R=dnslookup T=remote_smtp defer (-44) H=mx0a-0012ab01.pphosted.com [67.231.149.21]: SMTP error from remote mail server after RCPT TO:<x@globex.example>: 421 try later")
		if !ok || err != nil {
			t.Fatalf("%s: not parsed: %v", id, err)
		}
		if ev.MessageID != tt.want {
			t.Errorf("%s: message id %q, want %q", id, ev.MessageID, tt.want)
		}
	}
}
