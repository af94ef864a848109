package store

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// BenchmarkCheck times the check Open runs on every start, and bbolt's
// tx.Check beside it, on a state file of about PPWATCH_CHECK_MB megabytes
// (default 100) built through Apply: a day of minutes for 4 source IPs and
// 100,000 recipient domains, all kept on the series (the worst case for
// size). Building the file takes a minute or two; run it with
// -run '^$' -bench Check -benchtime 5x.
func BenchmarkCheck(b *testing.B) {
	mb := 100
	if v, err := strconv.Atoi(os.Getenv("PPWATCH_CHECK_MB")); err == nil && v > 0 {
		mb = v
	}
	path := filepath.Join(b.TempDir(), "ppwatch.db")
	s, err := Open(path, Options{})
	if err != nil {
		b.Fatal(err)
	}
	tr := newTraffic(4, 100_000, 10_000)
	tr.allDomains = true
	m0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).Unix() / 60
	for m := int64(0); ; m++ {
		if err := s.Apply(tr.minuteBatch(m0+m, 2000)); err != nil {
			b.Fatal(err)
		}
		if m%64 == 0 {
			if size, _ := s.Size(); size >= int64(mb)<<20 {
				break
			}
		}
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("state file: %.1f MiB", float64(fi.Size())/(1<<20))

	b.Run("store", func(b *testing.B) {
		for b.Loop() {
			r, err := Check(path, Options{})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(r.Records[string(bucketsName)]), "cells")
		}
	})
	b.Run("open", func(b *testing.B) {
		for b.Loop() {
			s, err := Open(path, Options{})
			if err != nil {
				b.Fatal(err)
			}
			s.Close()
		}
	})
	b.Run("bbolt_tx_check", func(b *testing.B) {
		db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		for b.Loop() {
			db.View(func(tx *bolt.Tx) error {
				for err := range tx.Check() {
					b.Fatal(err)
				}
				return nil
			})
		}
	})
}
