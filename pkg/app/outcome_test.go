package app

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ppwatch/ppwatch/pkg/evidence"
	"github.com/ppwatch/ppwatch/pkg/store"
)

// The daemon follows each message Proofpoint deferred to its outcome, as
// the evidence packet of the same log does: in the Exim sample, 192.0.2.10
// has 6 such messages, 3 delivered after retry and 3 bounced (the packet's
// golden figures), and none left deferred.
func TestMessageOutcomesFromTheLog(t *testing.T) {
	dir := t.TempDir()
	b, err := os.ReadFile("../../testdata/exim/sample.log")
	if err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(dir, "mainlog")
	os.WriteFile(log, b, 0o644)
	a := startApp(t, fmt.Sprintf("listen: 127.0.0.1:0\nstate_file: %s/ppwatch.db\nflush_interval: 20ms\ntimezone: UTC\ninputs: [{path: %s, mta: exim}]\n", dir, log))
	want := map[string]float64{
		`ppwatch_proofpoint_message_outcomes_total{outcome="delivered",source_ip="192.0.2.10"}`: 3,
		`ppwatch_proofpoint_message_outcomes_total{outcome="bounced",source_ip="192.0.2.10"}`:   3,
		`ppwatch_proofpoint_message_outcomes_total{outcome="expired",source_ip="192.0.2.10"}`:   0,
		`ppwatch_proofpoint_messages_deferred{source_ip="192.0.2.10"}`:                          0,
	}
	eventually(t, "the whole log read", func() bool {
		v, _ := sample(t, a, `ppwatch_input_offset_bytes{input="`+log+`"}`)
		return int64(v) == int64(len(b))
	})
	for series, n := range want {
		if v, ok := sample(t, a, series); !ok || v != n {
			t.Errorf("%s = %v (%v), want %v", series, v, ok, n)
		}
	}
	// The daemon's evidence packet says the same.
	p, err := a.Evidence("192.0.2.10", "", time.Time{}, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	// Its samples are the log's, Message-ID and envelope sender joined:
	// the first and latest five of its 20 failures, as ppwatch report over
	// the file gives them.
	if len(p.Samples) != 10 || p.Samples[0].MessageID != "20261122094102.3@news.example.com" || p.Samples[0].Recipient != "k.lee@acme-corp.example" ||
		p.Samples[9].QueueID != "1vHpgt-00000000OLe-0N16" || len(p.Senders) != 1 || p.Senders[0] != (evidence.NameCount{Name: "news@news.example.com", Count: 20}) ||
		len(p.SendingDomains) != 1 || p.SendingDomains[0].Name != "news.example.com" {
		t.Errorf("samples %+v\nsenders %+v %+v", p.Samples, p.Senders, p.SendingDomains)
	}
	// And the IP's episodes: the 12 blocks from 10:12:41 to 11:30:03 and
	// the 8 deferrals from 09:41:04 to 11:00:04 that the log holds, open
	// (its last line is the latest event time), newest first.
	var eps []string
	for _, e := range p.Episodes {
		eps = append(eps, fmt.Sprintf("%s %s %s %v %d/%d", e.Kind, e.Start.Format(time.TimeOnly), e.End.Format(time.TimeOnly), e.Open, e.Blocks, e.Deferrals))
	}
	if got := strings.Join(eps, "; "); got != "block 10:12:41 11:30:03 true 12/3; deferral 09:41:04 11:00:04 true 9/8" || p.FirstSeen == nil || !p.FirstSeen.Equal(time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)) {
		t.Errorf("episodes %q, first seen %v", got, p.FirstSeen)
	}
	if m := p.Messages; m.Deferred != 6 || m.DeliveredAfterRetry != 3 || m.Bounced != 3 || m.StillDeferred != 0 || m.MeanDelay != (1138+888+762)*time.Second/3 {
		t.Errorf("the packet's messages: %+v", m)
	}
	// The delays from each first deferral to delivery: 18m58s, 14m48s
	// (the packet's median) and 12m42s.
	if v, _ := sample(t, a, `ppwatch_proofpoint_message_delay_seconds_total{source_ip="192.0.2.10"}`); v != 1138+888+762 {
		t.Errorf("delay summed %v s", v)
	}
}

// The same in each MTA's log, with ppwatch report's figures of that log:
// a Postfix message to four recipients (two delivered after retry, one
// bounced, one still deferred; the delivery lines name no sending IP), the
// Exim sample, the PowerMTA sample.
func TestMessageOutcomesInEachMTA(t *testing.T) {
	for _, tt := range []struct {
		log, mta, ip                      string
		delivered, bounced, expired, open float64
		delay                             float64
	}{
		{"../../testdata/postfix/retries.log", "postfix", "192.0.2.25", 2, 1, 0, 1, 603 + 1806},
		{"../../testdata/exim/sample.log", "exim", "192.0.2.10", 3, 3, 0, 0, 1138 + 888 + 762},
		{"../../testdata/pmta/sample.log", "pmta", "203.0.113.10", 4, 0, 0, 1, 4 * 2382.25},
	} {
		t.Run(tt.mta, func(t *testing.T) {
			dir := t.TempDir()
			b, err := os.ReadFile(tt.log)
			if err != nil {
				t.Fatal(err)
			}
			log := filepath.Join(dir, "log")
			os.WriteFile(log, b, 0o644)
			a := startApp(t, fmt.Sprintf("listen: 127.0.0.1:0\nstate_file: %s/ppwatch.db\nflush_interval: 20ms\ntimezone: UTC\ninputs: [{path: %s, mta: %s}]\n", dir, log, tt.mta))
			eventually(t, "the whole log read", func() bool {
				v, _ := sample(t, a, `ppwatch_input_offset_bytes{input="`+log+`"}`)
				return int64(v) == int64(len(b))
			})
			for series, n := range map[string]float64{
				`ppwatch_proofpoint_message_outcomes_total{outcome="delivered",source_ip="` + tt.ip + `"}`: tt.delivered,
				`ppwatch_proofpoint_message_outcomes_total{outcome="bounced",source_ip="` + tt.ip + `"}`:   tt.bounced,
				`ppwatch_proofpoint_message_outcomes_total{outcome="expired",source_ip="` + tt.ip + `"}`:   tt.expired,
				`ppwatch_proofpoint_messages_deferred{source_ip="` + tt.ip + `"}`:                          tt.open,
				`ppwatch_proofpoint_message_delay_seconds_total{source_ip="` + tt.ip + `"}`:                tt.delay,
			} {
				if v, ok := sample(t, a, series); !ok || v != n {
					t.Errorf("%s = %v (%v), want %v", series, v, ok, n)
				}
			}
		})
	}
}

// A queued message's arrival (Postfix names its Message-ID only there)
// and, later, its Proofpoint deferral.
const (
	queuedArrival = `Nov 22 09:00:01 mx1 postfix/cleanup[101]: 4B2C1A0F3: message-id=<inv-4711@shop.example>
Nov 22 09:00:01 mx1 postfix/qmgr[102]: 4B2C1A0F3: from=<billing@shop.example>, size=2048, nrcpt=1 (queue active)
`
	queuedDeferral = `Nov 22 09:05:01 mx1 postfix/smtp[103]: 4B2C1A0F3: to=<ap@acme.example>, relay=mx0a-00123a01.pphosted.com[148.163.150.12]:25, delay=300, delays=0/0/0.2/0, dsn=4.7.0, status=deferred (host mx0a-00123a01.pphosted.com[148.163.150.12] said: 421 4.7.0 Deferred - see https://ipcheck.proofpoint.com/?ip=192.0.2.10 (in reply to RCPT TO command))
`
)

// checkQueuedSample waits for the deferral and checks that its sample
// carries the arrival's Message-ID and sender.
func checkQueuedSample(t *testing.T, a *App) {
	t.Helper()
	eventually(t, "the deferral counted", func() bool {
		v, _ := sample(t, a, `ppwatch_proofpoint_deferrals_total{class="reputation",recipient_domain="acme.example",source_ip="192.0.2.10"}`)
		return v == 1
	})
	p, err := a.Evidence("192.0.2.10", "", time.Time{}, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Samples) != 1 || p.Samples[0].MessageID != "inv-4711@shop.example" || p.Samples[0].Sender != "billing@shop.example" {
		t.Errorf("samples %+v", p.Samples)
	}
}

// A message that arrived before the log was rotated and is tried after it
// keeps its Message-ID and sender: the input's files share one
// correlator, and Postfix names the Message-ID only at arrival. Here the
// rotation happens while the daemon is stopped, so that it reads the
// arrival from the file by its rotated name, a file of its own.
func TestMessageIDAcrossRotation(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "mail.log")
	first := "Nov 22 08:59:00 mx1 postfix/qmgr[102]: 1A2B3C4D5: removed\n"
	os.WriteFile(log, []byte(first), 0o644)
	yml := fmt.Sprintf("listen: 127.0.0.1:0\nstate_file: %s/ppwatch.db\nflush_interval: 20ms\ntimezone: UTC\ninputs: [{path: %s, mta: postfix}]\n", dir, log)
	a := startApp(t, yml)
	eventually(t, "the first line read", func() bool {
		v, _ := sample(t, a, `ppwatch_input_offset_bytes{input="`+log+`"}`)
		return int(v) == len(first)
	})
	a.Stop()
	f, _ := os.OpenFile(log, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(queuedArrival)
	f.Close()
	if err := os.Rename(log, log+".1"); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(log, []byte(queuedDeferral), 0o644)
	a = startApp(t, yml)
	checkQueuedSample(t, a)
}

// A message that arrived before a restart and is tried after it keeps its
// Message-ID and sender: the correlator is in the state file, committed
// with the read positions; one done before the restart is not kept.
func TestMessageIDAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "mail.log")
	arrivals := queuedArrival + `Nov 22 09:00:02 mx1 postfix/cleanup[101]: 5C3D2B1E4: message-id=<done@shop.example>
Nov 22 09:00:02 mx1 postfix/qmgr[102]: 5C3D2B1E4: from=<billing@shop.example>, size=2048, nrcpt=1 (queue active)
Nov 22 09:00:03 mx1 postfix/qmgr[102]: 5C3D2B1E4: removed
`
	os.WriteFile(log, []byte(arrivals), 0o644)
	state := filepath.Join(dir, "ppwatch.db")
	yml := fmt.Sprintf("listen: 127.0.0.1:0\nstate_file: %s\nflush_interval: 20ms\ntimezone: UTC\ninputs: [{path: %s, mta: postfix}]\n", state, log)
	a := startApp(t, yml)
	eventually(t, "the arrivals read", func() bool {
		v, _ := sample(t, a, `ppwatch_input_offset_bytes{input="`+log+`"}`)
		return int(v) == len(arrivals)
	})
	a.Stop()
	st, err := store.Open(state, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	figs, err := st.Figures()
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for k, v := range figs {
		if strings.HasPrefix(k, "senders:") {
			kept = append(kept, strings.ReplaceAll(k+"="+string(v), "\x00", "|"))
		}
	}
	if want := "senders:" + log + "|4B2C1A0F3=billing@shop.example|inv-4711@shop.example"; len(kept) != 1 || kept[0] != want {
		t.Errorf("kept %q, want %q", kept, want)
	}
	f, _ := os.OpenFile(log, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(queuedDeferral)
	f.Close()
	a = startApp(t, yml)
	checkQueuedSample(t, a)
}
