package store

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// traffic generates synthetic attempts. Following the caller's contract,
// only Proofpoint-hosted domains carry RecipientDomain; the rest pass "".
type traffic struct {
	rng        *rand.Rand
	ips        []string
	domains    []string
	ppDomains  int  // domains[:ppDomains] are hosted by Proofpoint
	allDomains bool // worst case: keep the domain on every series
}

func newTraffic(ips, domains, ppDomains int) *traffic {
	tr := &traffic{rng: rand.New(rand.NewPCG(1, 2)), ppDomains: ppDomains}
	for i := range ips {
		tr.ips = append(tr.ips, fmt.Sprintf("192.0.2.%d", 10+i))
	}
	for i := range domains {
		tr.domains = append(tr.domains, fmt.Sprintf("d%06d.example.com", i))
	}
	return tr
}

var ppResponses = []string{
	"421 4.7.0 [TSS04] Messages from %s temporarily deferred due to unexpected volume or user complaints",
	"550 5.7.1 [CS01] Message rejected due to local policy",
	"554 5.7.1 Service unavailable; Client host [%s] blocked using Proofpoint Dynamic Reputation",
}

// add appends one attempt at t to b.
func (tr *traffic) add(b *Batch, t time.Time) {
	ip := tr.ips[tr.rng.IntN(len(tr.ips))]
	d := tr.rng.IntN(len(tr.domains))
	s := Series{MTA: "postfix", SourceIP: ip, Status: "delivered", Class: "ok", Proofpoint: d < tr.ppDomains}
	switch p := tr.rng.IntN(100); {
	case p < 5:
		s.Status, s.Class = "bounced", "user_unknown"
	case p < 15:
		s.Status, s.Class = "deferred", "rate_limited"
	}
	if s.Proofpoint || tr.allDomains {
		s.RecipientDomain = tr.domains[d]
	}
	if s.Proofpoint && s.Status != "delivered" {
		s.Class = "proofpoint_block"
		text := fmt.Sprintf(ppResponses[tr.rng.IntN(len(ppResponses))], ip)
		b.AddReply(t, Reply{SourceIP: ip, RecipientDomain: tr.domains[d], Response: text, SMTPCode: 421, EnhancedCode: "4.7.0", Class: s.Class})
	}
	b.Add(t, s)
}

// minuteBatch returns n attempts spread over minute m, with input positions.
func (tr *traffic) minuteBatch(m int64, n int) *Batch {
	b := NewBatch()
	start := time.Unix(m*60, 0)
	for i := range n {
		tr.add(b, start.Add(time.Duration(i)*time.Minute/time.Duration(n)))
	}
	for i := range 3 {
		b.Positions[fmt.Sprintf("/var/log/mail-%d.log", i)] = fmt.Appendf(nil, "dev=2049 ino=%d offset=%d", 1000+i, m*int64(n))
	}
	return b
}

// BenchmarkApply commits a batch of 1,000 attempts across 50 domains (10 of
// them Proofpoint-hosted) and 4 source IPs, one new minute per commit. Each
// commit fsyncs twice, so ns/op is dominated by the disk.
func BenchmarkApply(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "ppwatch.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	tr := newTraffic(4, 50, 10)
	m0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).Unix() / 60
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		batch := tr.minuteBatch(m0+int64(i), 1000)
		b.StartTimer()
		if err := s.Apply(batch); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFileSize reports the file size after 1,000,000 attempts over
// 100,000 recipient domains and 4 source IPs, spread evenly over 24 hours and
// committed once per minute of event time (1,440 commits). Run it with
// -benchtime=1x; it takes tens of seconds.
//
// "pp_domains" follows the caller's contract: 10% of domains are Proofpoint
// hosted and only those keep RecipientDomain. "all_domains" keeps the domain
// on every series, to show why the contract matters.
func BenchmarkFileSize(b *testing.B) {
	for _, tc := range []struct {
		name       string
		allDomains bool
	}{{"pp_domains", false}, {"all_domains", true}} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				s, err := Open(filepath.Join(b.TempDir(), "ppwatch.db"), Options{})
				if err != nil {
					b.Fatal(err)
				}
				tr := newTraffic(4, 100_000, 10_000)
				tr.allDomains = tc.allDomains
				m0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).Unix() / 60
				const minutes, total = 24 * 60, 1_000_000
				for m := range minutes {
					n := total/minutes + btoi(m < total%minutes)
					if err := s.Apply(tr.minuteBatch(m0+int64(m), n)); err != nil {
						b.Fatal(err)
					}
				}
				size, err := s.Size()
				if err != nil {
					b.Fatal(err)
				}
				cells := 0
				if err := s.Buckets(time.Unix(m0*60, 0), time.Unix((m0+minutes)*60, 0), func(int64, Series, uint64) { cells++ }); err != nil {
					b.Fatal(err)
				}
				totals, err := s.Totals()
				if err != nil {
					b.Fatal(err)
				}
				replies, err := s.Replies("")
				if err != nil {
					b.Fatal(err)
				}
				var used int64
				if err := s.db.View(func(tx *bolt.Tx) error { used = tx.Size(); return nil }); err != nil {
					b.Fatal(err)
				}
				s.db.View(func(tx *bolt.Tx) error {
					for _, name := range dataBuckets {
						st := tx.Bucket(name).Stats()
						b.Logf("%s: keys=%d leafAlloc=%d leafInuse=%d branchAlloc=%d", name, st.KeyN, st.LeafAlloc, st.LeafInuse, st.BranchAlloc)
					}
					return nil
				})
				b.ReportMetric(float64(size)/(1<<20), "file_MiB")
				b.ReportMetric(float64(used)/(1<<20), "used_MiB")
				b.ReportMetric(float64(s.FreeBytes())/(1<<20), "free_MiB")
				b.ReportMetric(float64(cells), "cells")
				b.ReportMetric(float64(len(totals)), "series")
				b.ReportMetric(float64(len(replies)), "replies")
				s.Close()
			}
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
