package app

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/ppwatch/ppwatch/pkg/alert"
	"github.com/ppwatch/ppwatch/pkg/alerting"
	"github.com/ppwatch/ppwatch/pkg/config"
	"github.com/ppwatch/ppwatch/pkg/ingest"
	"github.com/ppwatch/ppwatch/pkg/store"
)

// One evaluation of the shipped rules over a store with 100,000 Proofpoint
// recipient domains in the last hour, each with a reply, from 4 sending IPs.
func BenchmarkAlertEval100kDomains(b *testing.B) {
	st, err := store.Open(filepath.Join(b.TempDir(), "ppwatch.db"), store.Options{Timeout: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	batch := store.NewBatch()
	for i := range 100000 {
		ip := fmt.Sprintf("192.0.2.%d", i%4)
		at := now.Add(-time.Duration(i%60) * time.Minute)
		s := store.Series{MTA: "postfix", SourceIP: ip, RecipientDomain: fmt.Sprintf("d%d.example", i), Status: "delivered", Class: "none", Proofpoint: true}
		if i%3 == 0 {
			s.Status, s.Class, s.Outcome = "bounced", "reputation", "block"
			batch.AddReply(at, store.Reply{SourceIP: ip, RecipientDomain: s.RecipientDomain, SMTPCode: 550, EnhancedCode: "5.7.1",
				Class: "reputation", Response: "550 5.7.1 Blocked - see https://ipcheck.proofpoint.com/?ip=" + ip})
		}
		batch.Add(at, s)
		if batch.Keys() >= ingest.MaxKeys {
			if err := st.Apply(batch); err != nil {
				b.Fatal(err)
			}
			batch = store.NewBatch()
		}
	}
	if err := st.Apply(batch); err != nil {
		b.Fatal(err)
	}
	var rules []*alert.Rule
	for _, r := range config.DefaultAlerts() {
		ar, err := alerting.Rule(r)
		if err != nil {
			b.Fatal(err)
		}
		rules = append(rules, ar)
	}
	e := &alert.Evaluator{Rules: rules, ExternalURL: "http://mta1.example.net:9797"}
	b.ReportAllocs()
	for b.Loop() {
		res, err := e.Eval(now, alerting.StoreSource{Store: st}, nil)
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Alerts) != 4 { // the block ratio of each IP (a domain has too few attempts for its rule)
			b.Fatalf("%d alerts", len(res.Alerts))
		}
	}
}
