package postfix

import (
	"strings"
	"testing"
	"time"

	"github.com/ppwatch/ppwatch/parsers/mtalog"
	"github.com/ppwatch/ppwatch/parsers/parsertest"
	"github.com/ppwatch/ppwatch/pkg/event"
)

var ref = time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)

func newTest() *Parser { return New(mtalog.Options{Reference: ref, Location: time.UTC}) }

func TestParse(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	tests := []parsertest.Case{
		{
			Name: "block at MAIL FROM, reply without Postfix's note",
			Line: `Nov 22 09:15:02 mta1 postfix/smtp[1410]: 4C6D21A0B3F: to=<j.smith@Acme-Corp.example>, relay=mx0a-00123a01.pphosted.com[148.163.150.12]:25, delay=1.2, delays=0.05/0.01/0.61/0.53, dsn=5.7.0, status=bounced (host mx0a-00123a01.pphosted.com[148.163.150.12] said: 550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=192.0.2.25 (in reply to MAIL FROM command))`,
			Want: &event.Delivery{Time: time.Date(2026, 11, 22, 9, 15, 2, 0, time.UTC), MTA: "postfix", Host: "mta1", Instance: "postfix", QueueID: "4C6D21A0B3F",
				Recipient: "j.smith@Acme-Corp.example", RecipientDomain: "acme-corp.example", RelayHost: "mx0a-00123a01.pphosted.com", RelayIP: "148.163.150.12",
				Status: event.Bounced, SMTPCode: 550, EnhancedCode: "5.7.0", Response: "550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=192.0.2.25"},
		},
		{
			Name: "banner block logged as deferred keeps its 5xx code; zone-less time in Berlin",
			Loc:  berlin,
			Line: `Nov 22 09:18:01 mta1 postfix/smtp[1440]: 9A7C2E11F04: to=<cfo@globex.example>, relay=none, delay=0.4, delays=0.01/0/0.39/0, dsn=4.0.0, status=deferred (host mx0b-00789c03.pphosted.com[148.163.159.7] refused to talk to me: 554 mx0b-00789c03.pphosted.com ESMTP Blocked - see https://ipcheck.proofpoint.com/?ip=192.0.2.25)`,
			Want: &event.Delivery{Time: time.Date(2026, 11, 22, 8, 18, 1, 0, time.UTC), MTA: "postfix", Host: "mta1", Instance: "postfix", QueueID: "9A7C2E11F04",
				Recipient: "cfo@globex.example", RecipientDomain: "globex.example", RelayHost: "mx0b-00789c03.pphosted.com", RelayIP: "148.163.159.7",
				Status: event.Deferred, SMTPCode: 554, EnhancedCode: "4.0.0", Response: "554 mx0b-00789c03.pphosted.com ESMTP Blocked - see https://ipcheck.proofpoint.com/?ip=192.0.2.25"},
		},
		{
			Name: "IPv6 relay, quoted recipient with comma and >, orig_to",
			Line: `2026-11-22T15:00:01.25+01:00 mta6 postfix-out/smtp[610]: 4cDCnd66Hyz1XPWFF: to=<"a, b>c"@pied-piper.example>, orig_to=<jd@pied-piper.example>, relay=mx0a-00ab1201.pphosted.com[2620:11a:c000:7::10]:25, conn_use=3, delay=0.4, delays=0.1/0/0.1/0.2, dsn=2.0.0, status=sent (250 2.0.0 3abc Message accepted for delivery)`,
			Want: &event.Delivery{Time: time.Date(2026, 11, 22, 14, 0, 1, 250000000, time.UTC), MTA: "postfix", Host: "mta6", Instance: "postfix-out", QueueID: "4cDCnd66Hyz1XPWFF",
				Recipient: `"a, b>c"@pied-piper.example`, OrigRecipient: "jd@pied-piper.example", RecipientDomain: "pied-piper.example",
				RelayHost: "mx0a-00ab1201.pphosted.com", RelayIP: "2620:11a:c000:7::10",
				Status: event.Delivered, SMTPCode: 250, EnhancedCode: "2.0.0", Response: "250 2.0.0 3abc Message accepted for delivery"},
		},
		{
			Name: "connection timeout: no code, relay named in the text, dsn as enhanced code",
			Line: `Nov 22 09:21:00 mta1 postfix/smtp[1456]: D3B4C5D6E7F: to=<it@stark.example>, relay=none, delay=30, delays=0.01/0/30/0, dsn=4.4.1, status=deferred (connect to mx0a-00aaaa01.pphosted.com[148.163.140.9]:25: Connection timed out)`,
			Want: &event.Delivery{Time: time.Date(2026, 11, 22, 9, 21, 0, 0, time.UTC), MTA: "postfix", Host: "mta1", Instance: "postfix", QueueID: "D3B4C5D6E7F",
				Recipient: "it@stark.example", RecipientDomain: "stark.example", RelayHost: "mx0a-00aaaa01.pphosted.com", RelayIP: "148.163.140.9",
				Status: event.Deferred, EnhancedCode: "4.4.1", Response: "connect to mx0a-00aaaa01.pphosted.com[148.163.140.9]:25: Connection timed out"},
		},
		{
			Name: "postfix/error repeats the earlier reason",
			Line: `Nov 22 13:10:03 mta1 postfix/error[1505]: 3D4E5F6A7B: to=<z@initech.example>, relay=none, delay=900, delays=900/0/0/0, dsn=4.7.0, status=deferred (delivery temporarily suspended: host mx0a-00456b02.pphosted.com[67.231.148.20] said: 421 4.7.0 Deferred - see https://ipcheck.proofpoint.com/?ip=192.0.2.25 (in reply to MAIL FROM command))`,
			Want: &event.Delivery{Time: time.Date(2026, 11, 22, 13, 10, 3, 0, time.UTC), MTA: "postfix", Host: "mta1", Instance: "postfix", QueueID: "3D4E5F6A7B",
				Recipient: "z@initech.example", RecipientDomain: "initech.example", RelayHost: "mx0a-00456b02.pphosted.com", RelayIP: "67.231.148.20",
				Status: event.Deferred, SMTPCode: 421, EnhancedCode: "4.7.0", Response: "421 4.7.0 Deferred - see https://ipcheck.proofpoint.com/?ip=192.0.2.25"},
		},
		{
			Name: "BusyBox facility.level and multi-line reply joined",
			Line: `Nov  2 07:00:02 router mail.info postfix/smtp[305]: 1F2E3D4C5B: to=<noc@tyrell.example>, relay=mx0a-00d00d01.pphosted.com[148.163.130.4]:25, delay=0.9, delays=0.1/0/0.4/0.4, dsn=5.7.1, status=bounced (host mx0a-00d00d01.pphosted.com[148.163.130.4] said: 550-5.7.1 first line 550 5.7.1 second line (in reply to RCPT TO command))`,
			Want: &event.Delivery{Time: time.Date(2026, 11, 2, 7, 0, 2, 0, time.UTC), MTA: "postfix", Host: "router", Instance: "postfix", QueueID: "1F2E3D4C5B",
				Recipient: "noc@tyrell.example", RecipientDomain: "tyrell.example", RelayHost: "mx0a-00d00d01.pphosted.com", RelayIP: "148.163.130.4",
				Status: event.Bounced, SMTPCode: 550, EnhancedCode: "5.7.1", Response: "550-5.7.1 first line 550 5.7.1 second line"},
		},
		{
			Name: "status=deferred without dsn and without reply text",
			Line: `Nov 22 09:21:00 mta1 postfix/smtp[1456]: D3B4C5D6E7F: to=<it@stark.example>, relay=none, delay=30, status=deferred`,
			Want: &event.Delivery{Time: time.Date(2026, 11, 22, 9, 21, 0, 0, time.UTC), MTA: "postfix", Host: "mta1", Instance: "postfix", QueueID: "D3B4C5D6E7F",
				Recipient: "it@stark.example", RecipientDomain: "stark.example", Status: event.Deferred},
		},
		{
			Name: "SOFTBOUNCE (soft_bounce = yes) is a deferral; the reply keeps its 5xx, dsn rewritten to 4.x.x",
			Line: `Oct 14 07:34:03 custhost1 postfix/smtp[10837]: 4B6D11E01729: to=<viviane@techs.example>, relay=mail.techs.example[186.232.248.4]:25, delay=39993, delays=35133/4859/0.58/0.71, dsn=4.7.1, status=SOFTBOUNCE (host mail.techs.example[186.232.248.4] said: 501 5.7.1 <kmcgrath@upperuwchlan.example>... Sender refused by the DNSBL b.barracudacentral.org (in reply to RCPT TO command))`,
			Want: &event.Delivery{Time: time.Date(2026, 10, 14, 7, 34, 3, 0, time.UTC), MTA: "postfix", Host: "custhost1", Instance: "postfix", QueueID: "4B6D11E01729",
				Recipient: "viviane@techs.example", RecipientDomain: "techs.example", RelayHost: "mail.techs.example", RelayIP: "186.232.248.4",
				Status: event.Deferred, SMTPCode: 501, EnhancedCode: "5.7.1", Response: "501 5.7.1 <kmcgrath@upperuwchlan.example>... Sender refused by the DNSBL b.barracudacentral.org"},
		},
		{
			Name: "SOFTBOUNCE of a reply without enhanced code: dsn as Postfix logged it",
			Line: `Mar 18 20:49:43 server1 postfix/smtp[10076]: 4BAF83CC22D: to=<ebenezer.b@ideefixe.example>, relay=smtp-gate.ebiuniverse.example[212.154.28.211]:25, delay=10869, delays=10832/36/0.78/0.12, dsn=4.0.0, status=SOFTBOUNCE (host smtp-gate.ebiuniverse.example[212.154.28.211] said: 553 sorry, this recipient is not in my validrcptto list (#5.7.1) (in reply to RCPT TO command))`,
			Want: &event.Delivery{Time: time.Date(2026, 3, 18, 20, 49, 43, 0, time.UTC), MTA: "postfix", Host: "server1", Instance: "postfix", QueueID: "4BAF83CC22D",
				Recipient: "ebenezer.b@ideefixe.example", RecipientDomain: "ideefixe.example", RelayHost: "smtp-gate.ebiuniverse.example", RelayIP: "212.154.28.211",
				Status: event.Deferred, SMTPCode: 553, EnhancedCode: "4.0.0", Response: "553 sorry, this recipient is not in my validrcptto list (#5.7.1)"},
		},
		{Name: "verification probe, deliverable: no attempt",
			Line: `Nov  8 19:19:37 iZuf6h1kfgutxc3el68z2lZ postfix/smtp[2835]: 5AFFC20799: to=<suzuki@alicloud-mail.example>, relay=172.16.22.11[172.16.22.11]:25, delay=0.18, delays=0/0.02/0.11/0.05, dsn=2.1.5, status=deliverable (250 2.1.5 Ok)`},
		{Name: "sendmail -bv probe, deliverable: no attempt",
			Line: `Dec  7 01:07:53 Unicorn-NAS postfix/smtp[5901]: ADF85A2E07A: to=<basskozz@myemail.example>, relay=smtp.gmail.com[209.85.133.109]:587, delay=2.4, delays=0.03/0.24/1/1.1, dsn=2.1.5, status=deliverable (250 2.1.5 OK d21sm16248940and.46)`},
		{Name: "probe refused at the banner, undeliverable: no attempt",
			Line: `Nov 22 09:30:00 mta1 postfix/smtp[1600]: B54D220BFC: to=<u@example.com>, relay=sample.com[10.0.0.1], delay=0, dsn=5.0.0, status=undeliverable (host sample.com[10.0.0.1] refused to talk to me: 554 5.7.1 example.com Connection not authorized)`},
		{Name: "probe, Postfix 2.2 shape without dsn: no attempt",
			Line: `Apr 22 10:58:45 localhost postfix/smtp[8050]: C83371C2C6: to=<elminster@gmail.example>, relay=smtp.gmail.com[72.14.205.109], delay=1, status=undeliverable (delivery via smtp.gmail.com[72.14.205.109]: Cannot start TLS: handshake failure)`},
		{Name: "probe with a 4xx, undeliverable: no attempt",
			Line: `Nov 22 09:30:01 mta1 postfix/smtp[1601]: 7C8D9E0F1A: to=<j.smith@acme-corp.example>, relay=mx0a-00123a01.pphosted.com[148.163.150.12]:25, delay=0.6, delays=0/0/0.3/0.3, dsn=4.7.0, status=undeliverable (host mx0a-00123a01.pphosted.com[148.163.150.12] said: 421 4.7.0 Deferred - see https://ipcheck.proofpoint.com/?ip=192.0.2.25 (in reply to RCPT TO command))`},
		{Name: "probe without negative cache, hyphenated word: no attempt",
			Line: `Nov 22 09:30:02 mta1 postfix/smtp[1602]: 8D9E0F1A2B: to=<nobody@acme-corp.example>, relay=mx0a-00123a01.pphosted.com[148.163.150.12]:25, delay=0.5, delays=0/0/0.3/0.2, dsn=5.1.1, status=undeliverable-but-not-cached (host mx0a-00123a01.pphosted.com[148.163.150.12] said: 550 5.1.1 User Unknown (in reply to RCPT TO command))`},
		{Name: "qmgr expiry is per message, not an attempt",
			Line: `Dec 28 13:39:28 mx postfix/qmgr[22753]: C93CEB08A046: from=<ina@somedomain.example>, status=expired, returned to sender`},
		{Name: "qmgr expiry of a null sender",
			Line: `Dec 28 13:39:28 mx postfix/qmgr[22753]: 9C169364A: from=<>, status=expired, returned to sender`},
		{Name: "expired on a to= line (not written by Postfix) is no attempt either",
			Line: `Dec 28 13:39:28 mx postfix/error[22754]: C93CEB08A046: to=<order@arobor.example>, relay=none, delay=307136, delays=307106/0.02/30/0, dsn=4.4.1, status=expired, returned to sender`},
		{Name: "bounce failed is per message, not an attempt",
			Line: `Nov 22 09:30:03 mta1 postfix/smtp[1603]: 9E0F1A2B3C: status=deferred (bounce failed)`},
		{Name: "unknown hyphenated word is named whole", WantErr: `field status: unknown value "undeliverable-maybe"`,
			Line: `Nov 22 09:15:02 mta1 postfix/smtp[1410]: 4C6D21A0B3F: to=<a@acme.example>, relay=none, delay=1, dsn=4.4.1, status=undeliverable-maybe (x)`},
		{Name: "status words are matched in Postfix's case", WantErr: `field status: unknown value "Sent"`,
			Line: `Nov 22 09:15:02 mta1 postfix/smtp[1410]: 4C6D21A0B3F: to=<a@acme.example>, relay=none, delay=1, dsn=2.0.0, status=Sent (250 ok)`},
		{
			Name: "postfix/error repeating a SASL failure: the server's reply and name",
			Line: `Nov 10 08:21:47 Nagios-ubuntu postfix/error[14999]: 159F04670A: to=<root@email1>, orig_to=<root@email1@gmail.com>, relay=none, delay=0.36, delays=0.12/0.15/0/0.09, dsn=4.7.1, status=deferred (delivery temporarily suspended: SASL authentication failed; server smtp.gmail.com[74.125.113.109] said: 535-5.7.1 Username and Password not accepted. Learn more at                   ?535 5.7.1 http://mail.google.com/support/bin/answer.py?answer=14257 y8sm185328vch.5)`,
			Want: &event.Delivery{Time: time.Date(2026, 11, 10, 8, 21, 47, 0, time.UTC), MTA: "postfix", Host: "Nagios-ubuntu", Instance: "postfix", QueueID: "159F04670A",
				Recipient: "root@email1", OrigRecipient: "root@email1@gmail.com", RecipientDomain: "email1", RelayHost: "smtp.gmail.com", RelayIP: "74.125.113.109",
				Status: event.Deferred, SMTPCode: 535, EnhancedCode: "5.7.1", Response: "535-5.7.1 Username and Password not accepted. Learn more at                   ?535 5.7.1 http://mail.google.com/support/bin/answer.py?answer=14257 y8sm185328vch.5"},
		},
		{
			Name:   "Solaris syslogd's [ID n facility.level] after the tag",
			Line:   `Nov 22 09:40:00 mailhost postfix/smtp[1435]: [ID 197553 mail.info] 4D847A5B: to=<john@acme-corp.example>, relay=mx0a-00123a01.pphosted.com[148.163.150.12]:25, delay=13, delays=13/0/0/0, dsn=5.7.0, status=bounced (host mx0a-00123a01.pphosted.com[148.163.150.12] said: 550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=192.0.2.25 (in reply to MAIL FROM command))`,
			Before: []string{`Nov 22 09:39:47 mailhost postfix/qmgr[1102]: [ID 197553 mail.info] 4D847A5B: from=<billing@example.net>, size=4312, nrcpt=1 (queue active)`},
			Want: &event.Delivery{Time: time.Date(2026, 11, 22, 9, 40, 0, 0, time.UTC), MTA: "postfix", Host: "mailhost", Instance: "postfix", QueueID: "4D847A5B",
				Sender: "billing@example.net", Recipient: "john@acme-corp.example", RecipientDomain: "acme-corp.example", RelayHost: "mx0a-00123a01.pphosted.com", RelayIP: "148.163.150.12",
				Status: event.Bounced, SMTPCode: 550, EnhancedCode: "5.7.0", Response: "550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=192.0.2.25"},
		},
		{
			Name: "trailing blank after the reason; nested parentheses in the reply",
			Line: "Nov 22 09:41:00 mta1 postfix/smtp[1610]: 0F1A2B3C4D: to=<ceo@acme-corp.example>, relay=mx0a-00123a01.pphosted.com[148.163.150.12]:25, delay=1, delays=0.1/0/0.4/0.5, dsn=5.7.1, status=bounced (host mx0a-00123a01.pphosted.com[148.163.150.12] said: 550 5.7.1 Message rejected (see https://support.proofpoint.example/?id=1) (in reply to end of DATA command)) ",
			Want: &event.Delivery{Time: time.Date(2026, 11, 22, 9, 41, 0, 0, time.UTC), MTA: "postfix", Host: "mta1", Instance: "postfix", QueueID: "0F1A2B3C4D",
				Recipient: "ceo@acme-corp.example", RecipientDomain: "acme-corp.example", RelayHost: "mx0a-00123a01.pphosted.com", RelayIP: "148.163.150.12",
				Status: event.Bounced, SMTPCode: 550, EnhancedCode: "5.7.1", Response: "550 5.7.1 Message rejected (see https://support.proofpoint.example/?id=1)"},
		},
		{
			Name: "orig_to quoted with a comma; conn_use without its comma",
			Line: `Nov 22 09:42:00 mta1 postfix/smtp[1611]: 1A2B3C4D5E: to=<jd@acme-corp.example>, orig_to=<"doe, john"@acme-corp.example>, relay=mx0a-00123a01.pphosted.com[148.163.150.12]:25, conn_use=2 delay=0.21, delays=0/0/0/0.21, dsn=2.0.0, status=sent (250 2.0.0 ok)`,
			Want: &event.Delivery{Time: time.Date(2026, 11, 22, 9, 42, 0, 0, time.UTC), MTA: "postfix", Host: "mta1", Instance: "postfix", QueueID: "1A2B3C4D5E",
				Recipient: "jd@acme-corp.example", OrigRecipient: `"doe, john"@acme-corp.example`, RecipientDomain: "acme-corp.example", RelayHost: "mx0a-00123a01.pphosted.com", RelayIP: "148.163.150.12",
				Status: event.Delivered, SMTPCode: 250, EnhancedCode: "2.0.0", Response: "250 2.0.0 ok"},
		},
		{
			Name: "relay=none, DNS failure: the text with = and no peer",
			Line: `Nov 22 09:43:00 mta1 postfix/smtp[1612]: 2B3C4D5E6F: to=<a@acme.invalid>, relay=none, delay=0.1, delays=0/0/0.1/0, dsn=4.4.3, status=deferred (Host or domain name not found. Name service error for name=acme.invalid type=MX: Host not found, try again)`,
			Want: &event.Delivery{Time: time.Date(2026, 11, 22, 9, 43, 0, 0, time.UTC), MTA: "postfix", Host: "mta1", Instance: "postfix", QueueID: "2B3C4D5E6F",
				Recipient: "a@acme.invalid", RecipientDomain: "acme.invalid",
				Status: event.Deferred, EnhancedCode: "4.4.3", Response: "Host or domain name not found. Name service error for name=acme.invalid type=MX: Host not found, try again"},
		},
		{
			Name: "delivery temporarily suspended: lost connection names the peer",
			Line: `Nov 22 09:44:00 mta1 postfix/error[1613]: 3C4D5E6F7A: to=<b@acme-corp.example>, relay=none, delay=600, delays=600/0/0/0, dsn=4.4.2, status=deferred (delivery temporarily suspended: lost connection with mx0a-00123a01.pphosted.com[148.163.150.12] while receiving the initial server greeting)`,
			Want: &event.Delivery{Time: time.Date(2026, 11, 22, 9, 44, 0, 0, time.UTC), MTA: "postfix", Host: "mta1", Instance: "postfix", QueueID: "3C4D5E6F7A",
				Recipient: "b@acme-corp.example", RecipientDomain: "acme-corp.example", RelayHost: "mx0a-00123a01.pphosted.com", RelayIP: "148.163.150.12",
				Status: event.Deferred, EnhancedCode: "4.4.2", Response: "lost connection with mx0a-00123a01.pphosted.com[148.163.150.12] while receiving the initial server greeting"},
		},
		{
			Name: "a said: later in the text does not make the first word a peer",
			Line: `Nov 22 09:45:00 mta1 postfix/smtp[1614]: 4D5E6F7A8B: to=<c@acme-corp.example>, relay=mx0a-00123a01.pphosted.com[148.163.150.12]:25, delay=1, delays=0/0/0.5/0.5, dsn=4.7.0, status=deferred (host mx0a-00123a01.pphosted.com[148.163.150.12] refused to talk to me: 421 4.7.0 the admin said: go away)`,
			Want: &event.Delivery{Time: time.Date(2026, 11, 22, 9, 45, 0, 0, time.UTC), MTA: "postfix", Host: "mta1", Instance: "postfix", QueueID: "4D5E6F7A8B",
				Recipient: "c@acme-corp.example", RecipientDomain: "acme-corp.example", RelayHost: "mx0a-00123a01.pphosted.com", RelayIP: "148.163.150.12",
				Status: event.Deferred, SMTPCode: 421, EnhancedCode: "4.7.0", Response: "421 4.7.0 the admin said: go away"},
		},
		{Name: "host said without to= is not an attempt",
			Line: `Nov 22 09:17:31 mta1 postfix/smtp[1433]: 8E3D41C0A2B: host mx0b-00456b02.pphosted.com[67.231.156.44] said: 421 Deferred - see https://ipcheck.proofpoint.com/?ip=192.0.2.25 (in reply to MAIL FROM command)`},
		{Name: "lmtp to a unix socket is internal",
			Line: `Nov 22 09:18:06 mta1 postfix/lmtp[1442]: 3D4E5F6A7B8: to=<alice@example.net>, relay=mail.example.net[private/dovecot-lmtp], delay=0.05, delays=0.01/0/0.01/0.03, dsn=2.0.0, status=sent (250 2.0.0 Saved)`},
		{Name: "local delivery is not outbound",
			Line: `Nov 22 09:18:06 mta1 postfix/local[1443]: 4E5F6A7B8C9: to=<root@mta1.example.net>, orig_to=<root>, relay=local, delay=0.01, delays=0/0/0/0, dsn=2.0.0, status=sent (delivered to mailbox)`},
		{Name: "smtpd is not a delivery", Line: `Nov 22 09:16:10 mta1 postfix/smtpd[1500]: connect from app1.example.net[192.0.2.40]`},
		{Name: "lost first character", WantErr: "field prefix: no syslog timestamp, host and tag",
			Line: `ov 22 09:15:02 mta1 postfix/smtp[1410]: 4C6D21A0B3F: to=<a@acme.example>, relay=none, delay=1, dsn=4.4.1, status=deferred (connect to x[192.0.2.1]:25: Connection timed out)`},
		{Name: "unknown status", WantErr: `field status: unknown value "frobbed"`,
			Line: `Nov 22 09:15:02 mta1 postfix/smtp[1410]: 4C6D21A0B3F: to=<a@acme.example>, relay=none, delay=1, dsn=4.4.1, status=frobbed (x)`},
		{Name: "no queue id", WantErr: `field queue_id: missing`,
			Line: `Nov 22 09:15:02 mta1 postfix/smtp[1410]: to=<a@acme.example>, relay=none, delay=1, dsn=4.4.1, status=deferred (x)`},
		{Name: "to= without <address>", WantErr: `field to: no <address>`,
			Line: `Nov 22 09:15:02 mta1 postfix/smtp[1410]: 4C6D21A0B3F: to=a@acme.example, relay=none, delay=1, dsn=4.4.1, status=deferred (x)`},
		{Name: "cut before status=", WantErr: `field status: missing`,
			Line: `Nov 22 09:15:02 mta1 postfix/smtp[1410]: 4C6D21A0B3F: to=<a@acme.example>, relay=mx0a-00123a01.pphosted.com[148.163.150.12]:25, delay=1.2, delays=0.05/0.01/0.61/0.53, dsn=5.7.0, sta`},
		{Name: "bad queue id", WantErr: `field queue_id: invalid queue id "4C6D-21A0"`,
			Line: `Nov 22 09:15:02 mta1 postfix/smtp[1410]: 4C6D-21A0: to=<a@acme.example>, relay=none, delay=1, dsn=4.4.1, status=deferred (x)`},
		{Name: "impossible date", WantErr: `field time: no day 31 in November`,
			Line: `Nov 31 09:15:02 mta1 postfix/smtp[1410]: 4C6D21A0B3F: to=<a@acme.example>, relay=none, delay=1, dsn=4.4.1, status=deferred (x)`},
		{Name: "relay that is not host[address]", WantErr: `field relay: no [address] in "mx.example.com"`,
			Line: `Nov 22 09:15:02 mta1 postfix/smtp[1410]: 4C6D21A0B3F: to=<a@acme.example>, relay=mx.example.com, delay=1, dsn=2.0.0, status=sent (250 ok)`},
	}
	parsertest.Run(t, newParser, tests)
}

// The qmgr from= line names the sender of later attempts; "removed" and the
// cap forget it.
func TestSenderCorrelator(t *testing.T) {
	p := New(mtalog.Options{Reference: ref, Location: time.UTC, MaxSenders: 2})
	from := func(qid, sender string) {
		parsertest.Parse(p, "Nov 22 09:00:00 h postfix/qmgr[1]: "+qid+": from=<"+sender+">, size=1, nrcpt=1 (queue active)")
	}
	sender := func(qid string) string {
		ev, ok, err := parsertest.Parse(p, "Nov 22 09:00:01 h postfix/smtp[2]: "+qid+": to=<a@b.example>, relay=none, delay=1, dsn=4.4.1, status=deferred (connect to x[192.0.2.1]:25: Connection timed out)")
		if !ok || err != nil {
			t.Fatalf("not parsed: %v", err)
		}
		return ev.Sender
	}
	from("AAAAA1", "one@example.net")
	from("AAAAA2", "")
	if got := sender("AAAAA1"); got != "one@example.net" {
		t.Errorf("sender = %q", got)
	}
	from("AAAAA3", "three@example.net") // evicts AAAAA1, the oldest
	if got := sender("AAAAA1"); got != "" {
		t.Errorf("evicted sender = %q", got)
	}
	if got := sender("AAAAA3"); got != "three@example.net" {
		t.Errorf("sender = %q", got)
	}
	parsertest.Parse(p, "Nov 22 09:00:02 h postfix/qmgr[1]: AAAAA3: removed")
	if got := sender("AAAAA3"); got != "" {
		t.Errorf("removed sender = %q", got)
	}
	if n := p.senders.Len(); n > 2 {
		t.Errorf("correlator holds %d entries, cap 2", n)
	}
}

// The year of a year-less line is the latest that does not put it after
// the reference: a file spanning New Year, read in January, reads right.
func TestYearChoice(t *testing.T) {
	jan := time.Date(2027, 1, 1, 0, 30, 0, 0, time.UTC)
	p := New(mtalog.Options{Reference: jan, Location: time.UTC})
	for line, want := range map[string]int{
		"Dec 31 23:59:58": 2026,
		"Jan  1 00:00:03": 2027,
		"Jan  1 00:31:00": 2026, // after the reference: last year
	} {
		ev, ok, err := parsertest.Parse(p, line+" h postfix/smtp[1]: AAAAAA: to=<a@b.example>, relay=none, delay=1, status=deferred (x)")
		if !ok || err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		if ev.Time.Year() != want {
			t.Errorf("%s: year %d, want %d", line, ev.Time.Year(), want)
		}
	}
}

var noise = []string{
	`Nov 22 09:16:10 mta1 postfix/smtpd[1500]: connect from app1.example.net[192.0.2.40]`,
	`Nov 22 09:16:10 mta1 postfix/cleanup[1305]: 7A1B2C3D4E5: message-id=<order-88812@shop.example.net>`,
	`Nov 22 09:16:10 mta1 postfix/smtpd[1500]: disconnect from app1.example.net[192.0.2.40] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5`,
	`Nov 22 09:17:31 mta1 postfix/smtp[1433]: 8E3D41C0A2B: host mx0b-00456b02.pphosted.com[67.231.156.44] said: 421 Deferred (in reply to MAIL FROM command)`,
	`Nov 22 09:15:03 mta1 postfix/bounce[1420]: 4C6D21A0B3F: sender non-delivery notification: 5D7E32B1C40`,
	`Nov 22 09:18:06 mta1 postfix/local[1443]: 4E5F6A7B8C9: to=<root@mta1.example.net>, orig_to=<root>, relay=local, delay=0.01, delays=0/0/0/0, dsn=2.0.0, status=sent (delivered to mailbox)`,
	`Nov 22 09:18:06 mta1 postfix/lmtp[1442]: 3D4E5F6A7B8: to=<alice@example.net>, relay=mail.example.net[/var/run/dovecot/lmtp], delay=0.05, delays=0.01/0/0.01/0.03, dsn=2.0.0, status=sent (250 2.0.0 Saved)`,
	`Nov 22 09:16:11 mta1 postfix/qmgr[1102]: 7A1B2C3D4E5: removed`,
	`Nov 22 09:30:02 mta1 postfix/smtp[1602]: 8D9E0F1A2B: to=<nobody@acme-corp.example>, relay=mx0a-00123a01.pphosted.com[148.163.150.12]:25, delay=0.5, delays=0/0/0.3/0.2, dsn=5.1.1, status=undeliverable-but-not-cached (host mx0a-00123a01.pphosted.com[148.163.150.12] said: 550 5.1.1 User Unknown (in reply to RCPT TO command))`,
	`Dec 28 13:39:28 mx postfix/qmgr[22753]: C93CEB08A046: from=<ina@somedomain.example>, status=expired, returned to sender`,
	`Dec 28 13:39:30 mx postfix/qmgr[22753]: 9E0F1A2B3C: status=deferred (bounce failed)`,
}

// Lines that are not attempts cost no allocation.
func TestNoiseDoesNotAllocate(t *testing.T) {
	var ev event.Delivery
	p := newTest()
	for _, l := range noise {
		if n := testing.AllocsPerRun(100, func() { p.Parse(l, &ev) }); n != 0 {
			t.Errorf("%d allocs for %q", int(n), l)
		}
	}
}

func TestSniff(t *testing.T) {
	for _, tt := range []struct {
		line string
		want bool
	}{
		// services, as the research notes show them
		{`Jan 13 17:45:50 lfernando postfix/master[91726]: daemon started -- version 3.6.4, configuration /etc/postfix`, true},
		{`Jan 13 17:45:50 lfernando postfix/postfix-script[91724]: starting the Postfix mail system`, true},
		{`Dec 17 19:59:42 melionet postfix/master[17625]: reload configuration /etc/postfix`, true},
		{`Sep 18 17:02:21 host1 postfix[1192]: fatal: parameter inet_interfaces: no local interface found for 192.168.1.101`, true},
		{`Jan  1 13:19:20 784267207eb8 postfix-script[86]: starting the Postfix mail system`, true},
		{`May  8 15:56:56 doug-64 postfix/anvil[8707]: statistics: max connection rate 1/60s for (smtp:87.106.149.144) at May  8 15:53:35`, true},
		{`Oct  3 20:01:36 python-gaming postfix/scache[15490]: statistics: start interval Oct  3 19:58:16`, true},
		{`Nov 10 09:06:47 Nagios-ubuntu postfix/tlsmgr[20068]: warning: request to update table btree:/var/run/smtpd_tls_session_cache in non-postfix directory /var/run`, true},
		{`Nov 10 08:21:47 Nagios-ubuntu postfix/bounce[14997]: 35B8146709: sender delivery status notification: 159F04670A`, true},
		{`Nov 10 08:21:46 Nagios-ubuntu postfix/pickup[6691]: 35B8146709: uid=0 from=<root>`, true},
		{`Nov 10 08:21:46 Nagios-ubuntu postfix/cleanup[14994]: 35B8146709: message-id=<20101110142146.35B8146709@domain.local>`, true},
		{`Nov 10 08:21:47 Nagios-ubuntu postfix/qmgr[10103]: 35B8146709: removed`, true},
		{`Nov 10 08:21:47 Nagios-ubuntu postfix/error[14999]: 159F04670A: to=<root@email1>, orig_to=<root@email1@gmail.com>, relay=none, delay=0.36, delays=0.12/0.15/0/0.09, dsn=4.7.1, status=deferred (delivery temporarily suspended: x)`, true},
		{`Mar 21 08:47:22 email-b6c7d4c7f-5t87l postfix/submission/smtpd[395]: disconnect from unknown[10.1.7.188] ehlo=2 starttls=1 mail=1 rcpt=0/1 data=0/1 quit=1 commands=5/7`, true},
		{`Oct 15 16:12:29 srvdmz postfix/postscreen[6598]: CONNECT from [37.139.128.50]:54706 to [192.168.4.2]:25`, true},
		{`Oct 15 16:12:29 srvdmz postfix/dnsblog[6601]: addr 37.139.128.50 listed by domain zen.spamhaus.org as 127.0.0.4`, true},
		{`Nov 10 09:22:35 Nagios-ubuntu postfix/local[21815]: 9823146715: to=<email2@gmail.com>, relay=local, delay=12, delays=11/0.2/0/0.13, dsn=5.1.1, status=bounced (unknown user: "email2")`, true},
		{`Feb  8 21:51:10 mail postfix/pipe[84059]: 440682230: to=<userB@company.office>, orig_to=<userB@company.biz>, relay=dovecot, delay=0.9, delays=0.87/0/0/0.03, dsn=2.0.0, status=sent (delivered via dovecot service)`, true},
		{`Mar  7 18:57:16 glensoserver postfix/lmtp[10984]: 5883D2F802C6: to=<glenn@glenso.se>, relay=127.0.0.1[127.0.0.1]:2003, delay=78180, delays=78180/0.02/0.03/0, dsn=4.4.2, status=deferred (lost connection)`, true},
		{`Nov  2 11:17:16 mail postfix/postdrop[15184]: warning: uid=0: Illegal seek`, true},
		{`Nov  2 11:17:16 mail postfix/sendmail[15183]: fatal: root(0): queue file write error`, true},
		{`Nov  8 19:19:37 iZuf6h1kfgutxc3el68z2lZ postfix/verify[2833]: cache btree:/var/lib/postfix/verify_cache full cleanup: retained=0 dropped=0 entries`, true},
		{`Oct 25 15:59:29 myhostname postfix/proxymap[9339]: error: unsupported dictionary type: mysql`, true},
		{`Jun 15 13:07:33 server postfix/trivial-rewrite[15932]: warning: do not list domain lastname.net in BOTH mydestination and virtual_mailbox_domains`, true},
		{`Nov 22 09:16:10 mta1 postfix/virtual[1]: x`, true},
		{`Nov 22 09:16:10 mta1 postfix/discard[1]: x`, true},
		{`Nov 22 09:16:10 mta1 postfix/showq[1]: x`, true},
		{`Nov 22 09:16:10 mta1 postfix/flush[1]: x`, true},
		{`Nov 22 09:16:10 mta1 postfix/postsuper[1]: 4C6D21A0B3F: removed`, true},
		{`Nov 22 09:16:10 mta1 postfix/postqueue[1]: fatal: Queue report unavailable - mail system is down`, true},
		{`Nov 22 09:16:10 mta1 postfix/tlsproxy[1]: CONNECT from [192.0.2.1]:4711`, true},
		// syslog names
		{`2026-11-22T10:02:13+00:00 mta2 postfix-out/qmgr[2231]: 4cDCnd66Hyz1XPWFF: removed`, true},
		{`Nov 22 09:16:10 mta1 postfix-10.20.30.40/smtp[1]: x`, true},
		{`Nov 22 09:16:10 mta1 server1-1/smtp[1]: x`, true},
		{`2026-10-04T22:48:26.414987+00:00 postfix-incoming-0 mail_in/master[116]: daemon started -- version 3.11.7, configuration /etc/postfix`, true},
		// prefixes
		{`Nov 02 14:23:33 mta1 postfix/master[1234]: daemon started -- version 3.7.11, configuration /etc/postfix`, true},
		{`Nov 2 14:23:33 mta1 postfix/master[1234]: daemon started -- version 3.7.11, configuration /etc/postfix`, true},
		{`Nov  2 14:23:33.123456 mta1 postfix/master[1234]: daemon started -- version 3.7.11, configuration /etc/postfix`, true},
		{`2026-11-22T14:23:33 mta1 postfix/master[1234]: daemon started -- version 3.7.11, configuration /etc/postfix`, true},
		{`2018-01-23T06:25:07.697048+00:00 c57459dcf4a1 postfix/postfix-script[88]: starting the Postfix mail system`, true},
		{`2023-09-08T17:20:30+0200 mta1 postfix/master[1234]: daemon started -- version 3.7.11, configuration /etc/postfix`, true},
		{`2023-09-08T17:20:30+02:00 mta1 postfix/master[1234]: daemon started -- version 3.7.11, configuration /etc/postfix`, true},
		{`2026-11-22T14:23:33Z mta1 postfix/master[1234]: daemon started`, true},
		{`Nov  2 07:00:02 router mail.info postfix/master[305]: daemon started -- version 3.7.11, configuration /etc/postfix`, true},
		{`<22>Nov 22 09:16:10 mta1 postfix/master[1234]: daemon started`, true},
		{`<22>2026-11-22T14:23:33+00:00 mta1 postfix/master[1234]: daemon started`, true},
		{`Nov 22 09:16:10 mta1 postfix/smtp: no pid`, true},
		// not Postfix
		{`2026-11-22 10:00:00 1e4Ssq-00024N-Sp => bob@example.com R=dnslookup T=remote_smtp H=mx.example.com [203.0.113.1]`, false},
		{`Nov 22 09:16:10 mta1 exim[1234]: 2026-11-22 09:16:10 1e4Ssq-00024N-Sp => bob@example.com R=dnslookup T=remote_smtp`, false},
		{`Nov 22 09:16:10 mta1 exim4[1234]: 1e4Ssq-00024N-Sp Completed`, false},
		{`d,2026-11-22 10:00:00+0000,2026-11-22 09:59:58+0000,a@example.net,b@acme.example,,relayed,2.0.0 (success),smtp;250 ok,mx.acme.example (192.0.2.1),,smtp,,smtp,192.0.2.25,192.0.2.1`, false},
		{`type,timeLogged,timeQueued,orig,rcpt,orcpt,dsnAction,dsnStatus,dsnDiag`, false},
		{`Nov 22 09:16:10 mta1 master[88]: daemon started -- version 2.10.1, configuration /etc/postfix`, false}, // too generic a name
		{`Nov 22 09:16:10 mta1 sshd[88]: Accepted publickey for root`, false},
		{`Nov 22 09:16:10 mta1 foo/bar[88]: x`, false},
		{`Nov 22 09:16:10 mta1 /smtp[88]: x`, false},
		{`Nov 22 09:16:10 mta1 postfix/smtpd[1500]: connect from`, true},
		{`ov 22 09:16:10 mta1 postfix/smtpd[1500]: connect from x`, false},
		{`Nov 22 09:16:10 mta1  postfix/smtpd[1500]: connect from x`, false},
		{`Nov 22 09:16:10 mta1 postfix/smtpd[1500] connect from x`, false},
		{`Nov 22 09:16:10 mta1 mail.info mail.info postfix/smtpd[1500]: x`, false},
		{`Nov 22 09:16`, false},
		{``, false},
		{`<22`, false},
	} {
		if got := Sniff(tt.line); got != tt.want {
			t.Errorf("Sniff(%q) = %v, want %v", tt.line, got, tt.want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { Sniff(noise[0]) }); n != 0 {
		t.Errorf("Sniff allocates %v times", n)
	}
}

var benchLines = strings.Split(strings.Join(append(noise,
	`Nov 22 09:15:01 mta1 postfix/qmgr[1102]: 4C6D21A0B3F: from=<billing@example.net>, size=4312, nrcpt=2 (queue active)`,
	`Nov 22 09:15:02 mta1 postfix/smtp[1410]: 4C6D21A0B3F: to=<j.smith@acme-corp.example>, relay=mx0a-00123a01.pphosted.com[148.163.150.12]:25, delay=1.2, delays=0.05/0.01/0.61/0.53, dsn=5.7.0, status=bounced (host mx0a-00123a01.pphosted.com[148.163.150.12] said: 550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=192.0.2.25 (in reply to MAIL FROM command))`,
	`Nov 22 09:15:03 mta1 postfix/smtp[1411]: 4C6D21A0B3F: to=<ops@gmail.example>, relay=gmail-smtp-in.l.google.com[142.250.102.26]:25, delay=1.9, delays=0.05/0.02/0.9/0.93, dsn=2.0.0, status=sent (250 2.0.0 OK  1763802903 a640c23a62f3a-b7a0f2c1c5fsi112233.54 - gsmtp)`,
), "\n"), "\n")

// The benchmarks reuse one event, as the pipeline does.
func BenchmarkParse(b *testing.B) {
	p := newTest()
	var ev event.Delivery
	b.ReportAllocs()
	var n int
	for i := 0; i < b.N; i++ {
		l := benchLines[i%len(benchLines)]
		n += len(l)
		p.Parse(l, &ev)
	}
	b.SetBytes(int64(n / b.N))
}

func BenchmarkParseNoise(b *testing.B) {
	p := newTest()
	var ev event.Delivery
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		p.Parse(noise[i%len(noise)], &ev)
	}
}

func BenchmarkSniff(b *testing.B) {
	for i := 0; i < b.N; i++ {
		Sniff(benchLines[i%len(benchLines)])
	}
}

// The attempt line alone: the hot path.
func BenchmarkParseAttempt(b *testing.B) {
	p := newTest()
	l := benchLines[len(benchLines)-2]
	var ev event.Delivery
	b.SetBytes(int64(len(l)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		p.Parse(l, &ev)
	}
}

// cleanup's message-id= comes before qmgr's from=: the attempt gets both,
// whichever came first, a repeated line changes nothing, and "removed"
// forgets them.
func TestMessageIDCorrelation(t *testing.T) {
	p := New(mtalog.Options{Reference: ref, Location: time.UTC})
	attempt := func(qid string) (string, string) {
		ev, ok, err := parsertest.Parse(p, "Nov 22 09:00:01 h postfix/smtp[2]: "+qid+": to=<a@b.example>, relay=none, delay=1, dsn=4.4.1, status=deferred (connect to x[192.0.2.1]:25: Connection timed out)")
		if !ok || err != nil {
			t.Fatalf("not parsed: %v", err)
		}
		return ev.Sender, ev.MessageID
	}
	for _, l := range []string{
		"Nov 22 09:00:00 h postfix/cleanup[7]: 4C6D21A0B3F: message-id=<inv-11982@shop.example.com>",
		"Nov 22 09:00:00 h postfix/cleanup[7]: 4C6D21A0B3F: message-id=<inv-11982@shop.example.com>",
		"Nov 22 09:00:00 h postfix/qmgr[1]: 4C6D21A0B3F: from=<billing@shop.example.com>, size=4312, nrcpt=2 (queue active)",
		// The other order, and a Message-ID without brackets (Postfix
		// logs what the header says).
		"Nov 22 09:00:00 h postfix/qmgr[1]: 5D7E32B1C40: from=<>, size=2000, nrcpt=1 (queue active)",
		"Nov 22 09:00:00 h postfix-out/cleanup[8]: 5D7E32B1C40: message-id=20261122090000.5D7E32B1C40@mta1.example.net",
		// Not a Message-ID: a space inside, or none.
		"Nov 22 09:00:00 h postfix/cleanup[7]: 6E8F43C2D51: message-id=<a b@c>",
		"Nov 22 09:00:00 h postfix/cleanup[7]: 6E8F43C2D51: message-id=<>",
	} {
		if _, ok, err := parsertest.Parse(p, l); ok || err != nil {
			t.Fatalf("%s: parsed %v, %v", l, ok, err)
		}
	}
	for qid, want := range map[string][2]string{
		"4C6D21A0B3F": {"billing@shop.example.com", "inv-11982@shop.example.com"},
		"5D7E32B1C40": {"", "20261122090000.5D7E32B1C40@mta1.example.net"},
		"6E8F43C2D51": {"", ""},
	} {
		if s, m := attempt(qid); s != want[0] || m != want[1] {
			t.Errorf("%s: sender %q, message-id %q; want %q", qid, s, m, want)
		}
	}
	parsertest.Parse(p, "Nov 22 09:00:02 h postfix/qmgr[1]: 4C6D21A0B3F: removed")
	if s, m := attempt("4C6D21A0B3F"); s != "" || m != "" {
		t.Errorf("after removed: %q %q", s, m)
	}
	// Without a correlator (scan), nothing is kept.
	q := New(mtalog.Options{Reference: ref, Location: time.UTC, MaxSenders: -1})
	parsertest.Parse(q, "Nov 22 09:00:00 h postfix/cleanup[7]: 4C6D21A0B3F: message-id=<inv-11982@shop.example.com>")
	ev, _, _ := parsertest.Parse(q, "Nov 22 09:00:01 h postfix/smtp[2]: 4C6D21A0B3F: to=<a@b.example>, relay=none, delay=1, dsn=4.4.1, status=deferred (x)")
	if ev.MessageID != "" {
		t.Errorf("without a correlator: %q", ev.MessageID)
	}
}
