package store_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/ppwatch/ppwatch/pkg/store"
)

func Example() {
	dir, err := os.MkdirTemp("", "ppwatch-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	s, err := store.Open(filepath.Join(dir, "ppwatch.db"), store.Options{Timeout: time.Second})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	// The writer counts what it read and where it got to, and commits both
	// at once.
	at := time.Date(2026, 3, 1, 10, 0, 5, 0, time.UTC)
	pp := store.Series{MTA: "postfix", SourceIP: "192.0.2.10", RecipientDomain: "example.com",
		Status: "deferred", Class: "proofpoint_block", Proofpoint: true}
	ok := store.Series{MTA: "postfix", SourceIP: "192.0.2.10", Status: "delivered", Class: "ok"}

	b := store.NewBatch()
	b.Add(at, pp)
	b.Add(at.Add(70*time.Second), pp)
	b.Add(at.Add(80*time.Second), ok)
	for _, t := range []time.Time{at, at.Add(70 * time.Second)} {
		b.AddReply(t, store.Reply{SourceIP: "192.0.2.10", RecipientDomain: "example.com",
			Response: "421 4.7.0 [TSS04] Messages from 192.0.2.10 temporarily deferred",
			SMTPCode: 421, EnhancedCode: "4.7.0", Class: "proofpoint_block"})
	}
	b.Positions["/var/log/maillog"] = []byte("offset=4096")
	if err := s.Apply(b); err != nil {
		log.Fatal(err) // a real writer keeps b and retries
	}

	// Readers get plain values.
	err = s.Buckets(at.Add(-time.Hour), at.Add(time.Hour), func(minute int64, series store.Series, n uint64) {
		fmt.Printf("%s %s %q %d\n", time.Unix(minute*60, 0).UTC().Format("15:04"), series.Status, series.RecipientDomain, n)
	})
	if err != nil {
		log.Fatal(err)
	}
	totals, err := s.Totals()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("total proofpoint deferrals:", totals[pp])
	replies, err := s.Replies("192.0.2.10")
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range replies {
		fmt.Println(r.Count, r.SMTPCode, r.EnhancedCode, r.FirstSeen.Format(time.RFC3339), r.LastSeen.Format(time.RFC3339))
	}
	pos, err := s.Positions()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s\n", pos["/var/log/maillog"])
	// Output:
	// 10:00 deferred "example.com" 1
	// 10:01 delivered "" 1
	// 10:01 deferred "example.com" 1
	// total proofpoint deferrals: 2
	// 2 421 4.7.0 2026-03-01T10:00:05Z 2026-03-01T10:01:15Z
	// offset=4096
}
