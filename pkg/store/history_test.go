package store

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"

	"github.com/ppwatch/ppwatch/pkg/event"
)

// addDay counts n attempts of ip at t, in one cell.
func addDay(b *Batch, ip string, t time.Time, n uint64) {
	b.Counts[BucketKey{Minute: MinuteOf(t), Series: Series{MTA: "postfix", SourceIP: ip, Status: "delivered", Class: "none"}}] += n
}

// First seen is the minute of the first attempt and stays; days are
// summed across commits and restarts; a jump is a day of at least 1000
// attempts over three times the median of the (at most seven) days
// before it since the IP was first seen, days without attempts as 0.
func TestIPHistory(t *testing.T) {
	s := newTestStore(t)
	day := func(i int) time.Time { return epDay.Add(time.Duration(i) * 24 * time.Hour) }
	b := NewBatch()
	addDay(b, ipA, day(0).Add(10*time.Hour+5*time.Minute+30*time.Second), 400)
	addDay(b, ipA, day(1).Add(time.Hour), 600)
	addDay(b, ipB, day(1).Add(time.Hour), 10)
	mustApply(t, s, b)
	s = reopen(t, s)
	b = NewBatch()
	addDay(b, ipA, day(1).Add(2*time.Hour), 400) // day 1: 1000 in all
	addDay(b, ipA, day(2), 1100)                 // not over 3 × 700
	addDay(b, ipA, day(4), 3000)                 // 3 × median(400, 1000, 1100, 0) = 2100: a jump
	addDay(b, ipA, day(12), 2500)                // the 7 days before: 3000 and six 0: median 0
	addDay(b, ipB, day(2), 900)                  // under the floor
	addDay(b, ipB, day(0).Add(23*time.Hour), 5)  // earlier: first seen moves back
	mustApply(t, s, b)

	got, err := s.IPHistory(ipA)
	if err != nil {
		t.Fatal(err)
	}
	want := IPHistory{SourceIP: ipA, FirstSeen: day(0).Add(10*time.Hour + 5*time.Minute),
		Days: []event.DayVolume{{Day: "2026-11-22", Attempts: 400}, {Day: "2026-11-23", Attempts: 1000}, {Day: "2026-11-24", Attempts: 1100},
			{Day: "2026-11-26", Attempts: 3000}, {Day: "2026-12-04", Attempts: 2500}},
		Jumps: []event.VolumeJump{{Day: "2026-11-26", Attempts: 3000, Median: 700}, {Day: "2026-12-04", Attempts: 2500, Median: 0}}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("history of %s (-want +got):\n%s", ipA, d)
	}
	got, err = s.IPHistory(ipB)
	if err != nil {
		t.Fatal(err)
	}
	want = IPHistory{SourceIP: ipB, FirstSeen: day(0).Add(23 * time.Hour),
		Days:  []event.DayVolume{{Day: "2026-11-22", Attempts: 5}, {Day: "2026-11-23", Attempts: 10}, {Day: "2026-11-24", Attempts: 900}},
		Jumps: []event.VolumeJump{}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("history of %s (-want +got):\n%s", ipB, d)
	}
	got, err = s.IPHistory("198.51.100.9")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(IPHistory{SourceIP: "198.51.100.9", Days: []event.DayVolume{}, Jumps: []event.VolumeJump{}}, got); d != "" {
		t.Errorf("history of an unknown IP (-want +got):\n%s", d)
	}
}

// Prune deletes the episodes that ended, and the IP days that lie, before
// now - EpisodeRetention, and nothing else of theirs.
func TestPruneEpisodes(t *testing.T) {
	s := openTestStore(t, filepath.Join(t.TempDir(), "ppwatch.db"), Options{Retention: 24 * time.Hour, EpisodeRetention: 10 * 24 * time.Hour})
	b := NewBatch()
	blk("10:00", ipA, "x.example").add(s, b)
	mustApply(t, s, b)
	b.Reset()
	// Eleven days later: the first episode's end is past the cutoff.
	t11 := epDay.Add(11 * 24 * time.Hour)
	later := blk("10:00", ipA, "x.example")
	later.day = 11
	later.add(s, b)
	mustApply(t, s, b)
	if n := len(allEpisodes(t, s, ipA)); n != 4 {
		t.Fatalf("%d episodes before pruning, want 4", n)
	}
	now := epDay.Add(20*24*time.Hour + 10*time.Hour + time.Minute)
	for {
		n, err := s.Prune(now, 0)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	want := []string{
		`192.0.2.1 * block 10:00:00-10:00:00 open a=1 b=1 d=0 [x.example:1] ` + blockA + ` domain="" x1 10:00:00-10:00:00`,
		`192.0.2.1 x.example block 10:00:00-10:00:00 open a=1 b=1 d=0 [x.example:1] ` + blockA + ` domain="x.example" x1 10:00:00-10:00:00`,
	}
	eps, err := s.Episodes(ipA, time.Time{}, now)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range eps {
		if !e.Start.Equal(t11.Add(10 * time.Hour)) {
			t.Errorf("episode of %s kept", e.Start)
		}
		got = append(got, formatEpisode(e))
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("episodes after pruning (-want +got):\n%s", d)
	}
	h, err := s.IPHistory(ipA)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]event.DayVolume{{Day: "2026-12-03", Attempts: 1}}, h.Days); d != "" || !h.FirstSeen.Equal(epDay.Add(10*time.Hour)) {
		t.Errorf("history after pruning: first seen %s, days (-want +got):\n%s", h.FirstSeen, d)
	}
}

// The new buckets' records are checked at open like the others, and a
// record that does not decode is damage that repair drops, saying what
// that means, while it copies the rest.
func TestEpisodeRecordsCheckedAndRepaired(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ppwatch.db")
	s := openTestStore(t, path, damageOpts)
	b := NewBatch()
	for _, a := range []epAttempt{blk("10:00", ipA, "x.example"), dfr("10:05", ipB, "y.example")} {
		a.add(s, b)
	}
	mustApply(t, s, b)
	want := allEpisodes(t, s, ipA, ipB)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err := Check(path, damageOpts)
	if err != nil {
		t.Fatal(err)
	}
	for bucket, n := range map[string]int{"episodes": 4, "ip_first": 2, "ip_days": 2, "event_clock": 1} {
		if rep.Records[bucket] != n {
			t.Errorf("check: %d records in %s, want %d", rep.Records[bucket], bucket, n)
		}
	}

	// Two more commits, so that the one before the last has the bad
	// record too (else repair copies that one, losing nothing).
	bad := episodeKey(0, episodePrefix(nil, ipA, "z.example", true))
	for range 2 {
		db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		err = db.Update(func(tx *bolt.Tx) error { return tx.Bucket(episodesName).Put(bad, []byte("short")) })
		if cerr := db.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Check(path, damageOpts); !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "bucket episodes key ") ||
		!strings.Contains(err.Error(), "value of 5 bytes: corrupt record") {
		t.Fatalf("check of a bad episode: %v", err)
	}
	rep2, s2 := repairTo(t, path)
	if d := cmp.Diff(map[string]int{"episodes": 1}, rep2.Dropped); d != "" {
		t.Errorf("dropped (-want +got):\n%s", d)
	}
	wantLoss := "episodes: some could not be read; they are gone from the IP pages, and a failure that would have extended one opens a new one"
	if d := cmp.Diff([]string{wantLoss}, rep2.Losses); d != "" {
		t.Errorf("losses (-want +got):\n%s", d)
	}
	if d := cmp.Diff(want, allEpisodes(t, s2, ipA, ipB)); d != "" {
		t.Errorf("repaired episodes (-want +got):\n%s", d)
	}
}
