package evidence

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ppwatch/ppwatch/pkg/config"
	"github.com/ppwatch/ppwatch/pkg/dnscheck"
	"github.com/ppwatch/ppwatch/pkg/event"
	"github.com/ppwatch/ppwatch/pkg/pipeline"
)

var update = flag.Bool("update", false, "rewrite the golden packets")

// The samples' hosts: Postfix, Exim and PowerMTA logs of the same day.
var samples = map[string]string{
	"../../testdata/postfix/sample.log": event.Postfix,
	"../../testdata/exim/sample.log":    event.Exim,
	"../../testdata/pmta/sample.log":    event.PMTA,
}

// read runs the shipped samples through the pipeline, as ppwatch report
// reads log files, into a Builder for o.
func read(t *testing.T, o Options) *Builder {
	t.Helper()
	cfg, err := config.Load("../../testdata/demo.yml")
	if err != nil {
		t.Fatal(err)
	}
	cls, err := cfg.NewClassifier()
	if err != nil {
		t.Fatal(err)
	}
	b := NewBuilder(o)
	ref := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC) // the samples end at 11:30
	for _, path := range []string{"../../testdata/postfix/sample.log", "../../testdata/exim/sample.log", "../../testdata/pmta/sample.log"} {
		po := cfg.PipelineOptions(samples[path], cls)
		po.Reference = func() time.Time { return ref }
		p, err := pipeline.New(samples[path], po)
		if err != nil {
			t.Fatal(err)
		}
		log, err := pipeline.Open(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		var ev event.Delivery
		err = log.Lines(func(_ int, line string, _ bool) error {
			if res, _ := p.Line(line, &ev); res == pipeline.Parsed {
				b.Add(&ev)
			}
			return nil
		})
		log.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	return b
}

var now = time.Date(2026, 11, 22, 12, 5, 0, 0, time.UTC)

// What the daemon's sender checks would hand the packet: a PTR that
// resolves back, SPF that does not authorise the IP.
var checks = []Check{
	{Check: dnscheck.CheckPTR, Subject: "192.0.2.10", Status: dnscheck.Pass, Reason: "PTR out.news.example.com", Record: "out.news.example.com", Checked: now.Add(-10 * time.Minute)},
	{Check: dnscheck.CheckSPF, Subject: "news.example.com", IP: "192.0.2.10", Status: dnscheck.Fail,
		Reason: `not permitted by "v=spf1 ip4:198.51.100.0/24 ~all" (softfail)`, Record: "v=spf1 ip4:198.51.100.0/24 ~all", Checked: now.Add(-10 * time.Minute)},
}

// The packets of the shipped samples, in every format, are the golden
// files: exact figures, replies, Message-IDs and the message to send.
func TestGoldenPackets(t *testing.T) {
	for _, tt := range []struct {
		name    string
		o       Options
		hygiene []Check
	}{
		{"192.0.2.10", Options{IP: "192.0.2.10"}, nil},
		{"192.0.2.10-checked-masked", Options{IP: "192.0.2.10", MaskRecipients: true}, checks},
		{"192.0.2.10-acme-update", Options{IP: "192.0.2.10", Domain: "acme-corp.example", UpdateSince: time.Date(2026, 11, 22, 11, 0, 0, 0, time.UTC)}, checks},
		{"203.0.113.11", Options{IP: "203.0.113.11", Samples: 4}, nil},
	} {
		p := read(t, tt.o).Packet(now, "3 log files", tt.hygiene)
		for ext, write := range map[string]func(*bytes.Buffer) error{
			"txt":  func(b *bytes.Buffer) error { return WriteText(b, p) },
			"md":   func(b *bytes.Buffer) error { return WriteMarkdown(b, p) },
			"json": func(b *bytes.Buffer) error { return WriteJSON(b, p) },
			"eml":  func(b *bytes.Buffer) error { return WriteEML(b, p, "postmaster@news.example.com") },
		} {
			var got bytes.Buffer
			if err := write(&got); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", tt.name+"."+ext)
			if *update {
				if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(string(want), got.String()); d != "" {
				t.Errorf("%s (-want +got):\n%s", golden, d)
			}
		}
	}
}

// Each message Proofpoint deferred is followed to its outcome: delivered
// after retry (with the delay from its first deferral), bounced, or still
// deferred at the last line; a message never deferred is not followed;
// past the bound, messages are counted as dropped.
func TestMessageOutcomes(t *testing.T) {
	defer func(n int) { maxMessages = n }(maxMessages)
	maxMessages = 4
	t0 := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	at := func(min int, qid, rcpt string, st event.Status, code int) *event.Delivery {
		return &event.Delivery{Time: t0.Add(time.Duration(min) * time.Minute), SourceIP: "192.0.2.10", QueueID: qid, Recipient: rcpt,
			RecipientDomain: event.DomainOf(rcpt), Status: st, SMTPCode: code, Proofpoint: true, Class: event.ClassReputation,
			Response: "reply"}
	}
	b := NewBuilder(Options{IP: "192.0.2.10"})
	for _, ev := range []*event.Delivery{
		at(0, "Q1", "a@acme.example", event.Deferred, 421),
		at(0, "Q1", "b@acme.example", event.Deferred, 421), // one message per recipient
		at(1, "Q2", "c@acme.example", event.Delivered, 250),
		at(10, "Q1", "a@acme.example", event.Deferred, 421),
		at(30, "Q1", "a@acme.example", event.Delivered, 250),
		at(40, "Q1", "b@acme.example", event.Bounced, 554),
		at(41, "Q3", "d@acme.example", event.Deferred, 451),
		at(41, "Q5", "f@acme.example", event.Deferred, 421),
		at(42, "Q4", "e@acme.example", event.Deferred, 421),  // past the bound
		at(50, "Q1", "a@acme.example", event.Delivered, 250), // a duplicate after the outcome changes nothing
		func() *event.Delivery { // Exim gives up: a bounce with the last deferral's reply
			ev := at(60, "Q5", "f@acme.example", event.Bounced, 421)
			ev.Response = "421 4.7.0 Deferred - see https://ipcheck.proofpoint.com/?ip=192.0.2.10: retry timeout exceeded"
			return ev
		}(),
	} {
		b.Add(ev)
	}
	got := b.Packet(now, "test", nil).Messages
	want := Messages{Deferred: 4, DeliveredAfterRetry: 1, MedianDelay: 30 * time.Minute, MeanDelay: 30 * time.Minute, Bounced: 1, Expired: 1, StillDeferred: 1, MaxAttempts: 3, Dropped: 1}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

// Samples are the first half and the latest half of the failures, in
// time order; the rest are only counted.
func TestSamplesFirstAndLatest(t *testing.T) {
	b := NewBuilder(Options{IP: "192.0.2.10", Samples: 4})
	t0 := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	for i := range 9 {
		b.Add(&event.Delivery{Time: t0.Add(time.Duration(i) * time.Minute), SourceIP: "192.0.2.10", QueueID: string(rune('A' + i)),
			Recipient: "x@acme.example", RecipientDomain: "acme.example", Status: event.Bounced, SMTPCode: 554, Proofpoint: true, Class: event.ClassReputation})
	}
	var ids string
	for _, s := range b.Packet(now, "test", nil).Samples {
		ids += s.QueueID
	}
	if ids != "ABHI" {
		t.Errorf("samples %s, want ABHI", ids)
	}
}
