package alert

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestFuncs(t *testing.T) {
	cases := []struct{ got, want string }{
		{Percent(0.0731), "7.3%"},
		{Percent(0.05), "5.0%"},
		{Percent(1), "100.0%"},
		{Humanize(12), "12"},
		{Humanize(uint64(1234567)), "1.235M"},
		{Humanize(0.25), "0.25"},
		{HumanizeDuration(90 * time.Minute), "1h 30m"},
		{HumanizeDuration(float64(3725)), "1h 2m 5s"},
		{HumanizeDuration(26 * time.Hour), "1d 2h"},
		{UTC(time.Date(2026, 11, 22, 11, 0, 0, 0, time.FixedZone("CET", 3600))), "2026-11-22T10:00:00Z"},
		{FormatDuration(15 * time.Minute), "15m"},
		{FormatDuration(24 * time.Hour), "24h"},
		{FormatDuration(90 * time.Second), "1m30s"},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

// The annotations render every value an on-call person needs, exactly.
func TestRender(t *testing.T) {
	r := &Rule{Name: "ProofpointBlockRatioHigh", Measure: BlockRatio, BySourceIP: true, Window: 15 * time.Minute,
		Threshold: 0.05, MinAttempts: 20, Severity: "page", Runbook: "proofpointblockratiohigh", Annotations: map[string]string{
			"summary": "{{.SourceIP}}: {{percent .Ratio}} blocked ({{.Blocks}} of {{.Attempts}} in {{.Window}}, threshold {{percent .Threshold}})",
			"description": "{{range $i, $d := .TopDomains}}{{if $i}}, {{end}}{{$d.Domain}} {{$d.Blocks}}/{{$d.Attempts}}{{end}}\n" +
				"{{with .TopReply}}{{.Count}}× {{.SMTPCode}} {{.Class}} {{utc .FirstSeen}}..{{utc .LastSeen}}: {{.Response}}{{end}}\n" +
				"{{.ReportURL}} {{.RunbookURL}} {{.Labels.team}} {{.Deferrals}} {{percent .DeferralRatio}}",
			"broken": "{{.TopReply.Response}}",
		}, Labels: map[string]string{"team": "mail"}}
	if err := r.Compile(); err != nil {
		t.Fatal(err)
	}
	e := &Evaluator{Rules: []*Rule{r}, ExternalURL: "http://mta1.example.net:9797", RunbookURL: "https://wiki.example.net/ppwatch/runbook"}
	counts := map[Key]Counts{
		{SourceIP: "192.0.2.25", RecipientDomain: "acme.example"}:  {Attempts: 30, Blocks: 3, Deferrals: 1},
		{SourceIP: "192.0.2.25", RecipientDomain: "wayne.example"}: {Attempts: 10, Blocks: 4},
		{SourceIP: "192.0.2.25", RecipientDomain: "quiet.example"}: {Attempts: 60},
		{SourceIP: "192.0.2.99", RecipientDomain: "acme.example"}:  {Attempts: 1},
	}
	block := "550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=192.0.2.25"
	replies := []Reply{
		{SourceIP: "192.0.2.25", RecipientDomain: "acme.example", Response: "550 5.7.0 old block", SMTPCode: 550, Class: "reputation",
			Count: 90, FirstSeen: t0.Add(-48 * time.Hour), LastSeen: t0.Add(-47 * time.Hour)}, // outside the window
		{SourceIP: "192.0.2.25", RecipientDomain: "acme.example", Response: block, SMTPCode: 550, Class: "reputation",
			Count: 7, FirstSeen: t0.Add(-10 * time.Minute), LastSeen: t0.Add(-time.Minute)},
		{SourceIP: "192.0.2.25", RecipientDomain: "acme.example", Response: "550 5.1.1 User unknown", SMTPCode: 550, Class: "recipient",
			Count: 50, FirstSeen: t0.Add(-10 * time.Minute), LastSeen: t0.Add(-time.Minute)}, // not a block
		{SourceIP: "192.0.2.25", RecipientDomain: "acme.example", Response: "421 4.7.0 Deferred", SMTPCode: 421, Class: "reputation",
			Count: 40, FirstSeen: t0.Add(-10 * time.Minute), LastSeen: t0.Add(-time.Minute)}, // a deferral
		{SourceIP: "192.0.2.99", RecipientDomain: "acme.example", Response: "554 other IP", SMTPCode: 554, Class: "reputation",
			Count: 100, FirstSeen: t0.Add(-10 * time.Minute), LastSeen: t0.Add(-time.Minute)},
	}
	res, err := e.Eval(t0, source{counts: counts, replies: replies}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := res.Alerts.Sorted()
	if len(got) != 1 {
		t.Fatalf("%d alerts", len(got))
	}
	want := map[string]string{
		"summary": "192.0.2.25: 7.0% blocked (7 of 100 in 15m, threshold 5.0%)",
		"description": "wayne.example 4/10, acme.example 3/30, quiet.example 0/60\n" +
			"7× 550 reputation 2026-11-22T09:50:00Z..2026-11-22T09:59:00Z: " + block + "\n" +
			"http://mta1.example.net:9797/ip/192.0.2.25 https://wiki.example.net/ppwatch/runbook#proofpointblockratiohigh mail 1 1.0%",
		"broken":      block,
		"report_url":  "http://mta1.example.net:9797/ip/192.0.2.25",
		"runbook_url": "https://wiki.example.net/ppwatch/runbook#proofpointblockratiohigh",
	}
	if d := cmp.Diff(want, got[0].Annotations); d != "" {
		t.Error(d)
	}

	// No reply of the kind: a template that needs one says so, the page stays.
	res, _ = e.Eval(t0, source{counts: counts}, nil)
	if g := res.Alerts.Sorted()[0].Annotations["broken"]; g != `<error expanding template: template: ProofpointBlockRatioHigh.broken:1:11: executing "ProofpointBlockRatioHigh.broken" at <.TopReply.Response>: nil pointer evaluating *event.Reply.Response>` {
		t.Errorf("broken = %q", g)
	}
}
