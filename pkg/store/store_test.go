package store

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// newTestStore opens a store in a new file under t.TempDir(). Cleanup runs
// bbolt's consistency check and closes it.
func newTestStore(t *testing.T) *Store {
	t.Helper()
	return openTestStore(t, filepath.Join(t.TempDir(), "ppwatch.db"), Options{Timeout: time.Second})
}

func openTestStore(t *testing.T, path string, opts Options) *Store {
	t.Helper()
	s, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		checkStore(t, s)
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// checkStore runs tx.Check on an open store; a closed one is skipped.
func checkStore(t *testing.T, s *Store) {
	t.Helper()
	err := s.db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			t.Errorf("tx.Check: %v", err)
		}
		return nil
	})
	if err != nil && !errors.Is(err, berrors.ErrDatabaseNotOpen) {
		t.Errorf("check: %v", err)
	}
}

// reopen closes s and opens its file again, as a restart would.
func reopen(t *testing.T, s *Store) *Store {
	t.Helper()
	checkStore(t, s)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return openTestStore(t, s.path, s.opts)
}

func mustApply(t *testing.T, s *Store, b *Batch) {
	t.Helper()
	if err := s.Apply(b); err != nil {
		t.Fatalf("Apply: %v", err)
	}
}

// state is everything a store holds, read through the public API.
type state struct {
	Cells     map[BucketKey]uint64
	Totals    map[Series]uint64
	Positions map[string][]byte
	Replies   []Reply
	Overflow  []Overflow
}

func readState(t *testing.T, s *Store) state {
	t.Helper()
	st := state{Cells: make(map[BucketKey]uint64)}
	var err error
	err = s.Buckets(time.Unix(-1<<40, 0), time.Unix(1<<40, 0), func(m int64, series Series, n uint64) {
		st.Cells[BucketKey{Minute: m, Series: series}] = n
	})
	if err != nil {
		t.Fatalf("Buckets: %v", err)
	}
	if st.Totals, err = s.Totals(); err != nil {
		t.Fatalf("Totals: %v", err)
	}
	if st.Positions, err = s.Positions(); err != nil {
		t.Fatalf("Positions: %v", err)
	}
	if st.Replies, err = s.Replies(""); err != nil {
		t.Fatalf("Replies: %v", err)
	}
	if st.Overflow, err = s.ReplyOverflow(""); err != nil {
		t.Fatalf("ReplyOverflow: %v", err)
	}
	return st
}

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

var (
	ppDeferred = Series{MTA: "postfix", SourceIP: "192.0.2.1", RecipientDomain: "example.com", Status: "deferred", Class: "proofpoint_block", Proofpoint: true}
	delivered1 = Series{MTA: "postfix", SourceIP: "192.0.2.1", Status: "delivered", Class: "ok"}
	delivered2 = Series{MTA: "exim", SourceIP: "192.0.2.2", Status: "delivered", Class: "ok"}
	bounced2   = Series{MTA: "exim", SourceIP: "192.0.2.2", Status: "bounced", Class: "user_unknown"}
)

// attempt i of the synthetic input: one every 7 s, series in a fixed cycle.
func attempt(i int) (time.Time, Series) {
	all := []Series{ppDeferred, delivered1, delivered1, delivered2, bounced2}
	return t0.Add(time.Duration(i) * 7 * time.Second), all[i%len(all)]
}

func TestApplyCountsExact(t *testing.T) {
	s := newTestStore(t)

	const batches, perBatch = 5, 200
	wantCells := make(map[BucketKey]uint64)
	wantTotals := make(map[Series]uint64)
	for b := range batches {
		batch := NewBatch()
		for i := b * perBatch; i < (b+1)*perBatch; i++ {
			at, series := attempt(i)
			batch.Add(at, series)
			wantCells[BucketKey{Minute: at.Unix() / 60, Series: series}]++
			wantTotals[series]++
		}
		batch.Positions["/var/log/maillog"] = fmt.Appendf(nil, "offset=%d", (b+1)*perBatch)
		if batch.Len() != perBatch {
			t.Fatalf("Len = %d, want %d", batch.Len(), perBatch)
		}
		mustApply(t, s, batch)
	}
	want := state{
		Cells:     wantCells,
		Totals:    wantTotals,
		Positions: map[string][]byte{"/var/log/maillog": []byte("offset=1000")},
	}
	if diff := cmp.Diff(want, readState(t, s)); diff != "" {
		t.Fatalf("state (-want +got):\n%s", diff)
	}
	// 1000 attempts, 7 s apart: minute 0 holds attempts 0..8, and so on.
	if got := wantCells[BucketKey{Minute: t0.Unix() / 60, Series: delivered1}]; got != 4 {
		t.Fatalf("minute 0 delivered1 = %d, want 4 (attempts 1,2,6,7)", got)
	}

	s = reopen(t, s)
	if diff := cmp.Diff(want, readState(t, s)); diff != "" {
		t.Fatalf("after reopen (-want +got):\n%s", diff)
	}

	// Totals keep counting across the restart.
	batch := NewBatch()
	batch.Add(t0, delivered2)
	mustApply(t, s, batch)
	totals, err := s.Totals()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := totals[delivered2], wantTotals[delivered2]+1; got != want {
		t.Fatalf("total after restart = %d, want %d", got, want)
	}
}

func TestBucketsRangeAndOrder(t *testing.T) {
	s := newTestStore(t)
	m0 := t0.Unix() / 60
	batch := NewBatch()
	// 6000 cells: more than one read chunk, added in reverse time order.
	for i := 5999; i >= 0; i-- {
		at := t0.Add(time.Duration(i/2) * time.Minute)
		series := delivered1
		if i%2 == 1 {
			series = bounced2
		}
		batch.Add(at, series)
	}
	mustApply(t, s, batch)

	type row struct {
		Minute int64
		IP     string
	}
	scan := func(from, to time.Time) []row {
		var rows []row
		err := s.Buckets(from, to, func(m int64, series Series, n uint64) {
			if n != 1 {
				t.Errorf("minute %d: n = %d, want 1", m, n)
			}
			rows = append(rows, row{m, series.SourceIP})
		})
		if err != nil {
			t.Fatalf("Buckets: %v", err)
		}
		return rows
	}

	all := scan(t0, t0.Add(3000*time.Minute))
	if len(all) != 6000 {
		t.Fatalf("got %d cells, want 6000", len(all))
	}
	if !slices.IsSortedFunc(all, func(a, b row) int { return int(a.Minute - b.Minute) }) {
		t.Fatal("cells not in time order")
	}

	// Within a minute, cells come in series key order: MTA first, so exim
	// (192.0.2.2) before postfix (192.0.2.1).
	tests := []struct {
		name     string
		from, to time.Time
		want     []row
	}{
		{"aligned", t0.Add(2 * time.Minute), t0.Add(4 * time.Minute),
			[]row{{m0 + 2, "192.0.2.2"}, {m0 + 2, "192.0.2.1"}, {m0 + 3, "192.0.2.2"}, {m0 + 3, "192.0.2.1"}}},
		{"overlapping minutes", t0.Add(2*time.Minute + 30*time.Second), t0.Add(3*time.Minute + time.Second),
			[]row{{m0 + 2, "192.0.2.2"}, {m0 + 2, "192.0.2.1"}, {m0 + 3, "192.0.2.2"}, {m0 + 3, "192.0.2.1"}}},
		{"empty range", t0.Add(time.Minute), t0.Add(time.Minute), nil},
		{"before data", t0.Add(-time.Hour), t0, nil},
		{"last minute", t0.Add(2999 * time.Minute), t0.Add(5000 * time.Minute),
			[]row{{m0 + 2999, "192.0.2.2"}, {m0 + 2999, "192.0.2.1"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, scan(tt.from, tt.to)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestCountsAndPositionsMoveTogether(t *testing.T) {
	s := newTestStore(t)
	first := NewBatch()
	first.Add(t0, delivered1)
	first.AddReply(t0, Reply{SourceIP: "192.0.2.1", RecipientDomain: "example.com", Response: "r1"})
	first.Positions["a"] = []byte("10")
	mustApply(t, s, first)
	before := readState(t, s)

	// Positions are written last in the transaction, so a bad position key
	// fails after the counts and replies were already put; all of it must
	// be rolled back.
	bad := NewBatch()
	bad.Add(t0, delivered1)
	bad.Add(t0.Add(time.Hour), bounced2)
	bad.AddReply(t0, Reply{SourceIP: "192.0.2.1", RecipientDomain: "example.com", Response: "r1"})
	bad.AddReply(t0, Reply{SourceIP: "192.0.2.1", RecipientDomain: "example.com", Response: "r2"})
	bad.Positions["a"] = []byte("20")
	bad.Positions[""] = []byte("x")
	if err := s.Apply(bad); !errors.Is(err, berrors.ErrKeyRequired) {
		t.Fatalf("Apply = %v, want ErrKeyRequired", err)
	}
	if diff := cmp.Diff(before, readState(t, s)); diff != "" {
		t.Fatalf("failed Apply changed the store (-before +after):\n%s", diff)
	}

	// The store is still usable and the fixed batch applies exactly once.
	delete(bad.Positions, "")
	mustApply(t, s, bad)
	after := readState(t, s)
	if got := after.Cells[BucketKey{Minute: t0.Unix() / 60, Series: delivered1}]; got != 2 {
		t.Errorf("cell = %d, want 2", got)
	}
	if got := string(after.Positions["a"]); got != "20" {
		t.Errorf("position = %q, want 20", got)
	}

	// Apply on a closed store fails and a restart shows the last commit.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	late := NewBatch()
	late.Add(t0, delivered1)
	late.Positions["a"] = []byte("30")
	if err := s.Apply(late); !errors.Is(err, berrors.ErrDatabaseNotOpen) {
		t.Fatalf("Apply on closed store = %v, want ErrDatabaseNotOpen", err)
	}
	s = openTestStore(t, s.path, s.opts)
	if diff := cmp.Diff(after, readState(t, s)); diff != "" {
		t.Fatalf("after reopen (-want +got):\n%s", diff)
	}
}

func TestPositionsDelete(t *testing.T) {
	s := newTestStore(t)
	b := NewBatch()
	b.Positions["a"] = []byte{1, 2}
	b.Positions["b"] = []byte{3}
	mustApply(t, s, b)
	b = NewBatch()
	b.Positions["a"] = nil
	b.Positions["c"] = []byte{}
	mustApply(t, s, b)
	got, err := s.Positions()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{"b": {3}, "c": {}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
}

func TestOpenLocked(t *testing.T) {
	s := newTestStore(t)
	// A second bbolt handle in the same process has its own open file
	// description, so flock conflicts just as with a second process.
	const timeout = 200 * time.Millisecond
	start := time.Now()
	s2, err := Open(s.path, Options{Timeout: timeout})
	elapsed := time.Since(start)
	if err == nil {
		s2.Close()
		t.Fatal("second Open succeeded, want ErrLocked")
	}
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open = %v, want ErrLocked", err)
	}
	if !strings.Contains(err.Error(), s.path) {
		t.Errorf("error %q does not name the file", err)
	}
	if elapsed > timeout+time.Second {
		t.Errorf("second Open took %s, want at most %s", elapsed, timeout+time.Second)
	}

	// Once the first closes, the file opens.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	openTestStore(t, s.path, Options{Timeout: timeout})
}

func TestFreshAndCreated(t *testing.T) {
	before := time.Now().Add(-time.Second)
	s := newTestStore(t)
	if !s.Fresh() {
		t.Error("new store: Fresh() = false")
	}
	created := s.Created()
	if created.Before(before) || created.After(time.Now()) || created.Location() != time.UTC {
		t.Errorf("Created() = %v, want a UTC time around now", created)
	}
	s = reopen(t, s)
	if s.Fresh() {
		t.Error("reopened store: Fresh() = true")
	}
	if !s.Created().Equal(created) {
		t.Errorf("Created() after reopen = %v, want %v", s.Created(), created)
	}
}

func TestOpenRefusesForeignFiles(t *testing.T) {
	writeBolt := func(t *testing.T, path string, fn func(tx *bolt.Tx) error) {
		t.Helper()
		db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Update(fn); err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
	setMeta := func(key, value []byte) func(t *testing.T, path string) {
		return func(t *testing.T, path string) {
			s, err := Open(path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			s.Close()
			writeBolt(t, path, func(tx *bolt.Tx) error { return tx.Bucket(metaName).Put(key, value) })
		}
	}

	tests := []struct {
		name    string
		setup   func(t *testing.T, path string)
		wantErr error
		wantMsg string
	}{
		{"small text file", func(t *testing.T, path string) {
			os.WriteFile(path, []byte("hello\n"), 0o600)
		}, ErrNotStore, "invalid database"},
		{"large text file", func(t *testing.T, path string) {
			os.WriteFile(path, bytes.Repeat([]byte("x"), 64<<10), 0o600)
		}, ErrNotStore, "invalid database"},
		{"other bbolt file", func(t *testing.T, path string) {
			writeBolt(t, path, func(tx *bolt.Tx) error {
				_, err := tx.CreateBucket([]byte("other"))
				return err
			})
		}, ErrNotStore, `found bucket "other"`},
		{"wrong format", setMeta(keyFormat, []byte("something")), ErrNotStore, `format "something"`},
		{"newer schema", setMeta(keySchema, encodeUint64(2)), ErrSchema, "file has version 2, this ppwatch reads version 1"},
		{"unreadable schema", setMeta(keySchema, []byte("x")), ErrNotStore, "unreadable schema version"},
		{"missing bucket", func(t *testing.T, path string) {
			setMeta(keyFormat, []byte(formatName))(t, path)
			writeBolt(t, path, func(tx *bolt.Tx) error { return tx.DeleteBucket(repliesName) })
		}, ErrNotStore, "bucket replies missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ppwatch.db")
			tt.setup(t, path)
			before, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			s, err := Open(path, Options{})
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Open = %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) || !strings.Contains(err.Error(), path) {
				t.Errorf("Open = %q, want it to name the file and contain %q", err, tt.wantMsg)
			}
			after, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(before, after) {
				t.Error("refused file was modified")
			}
		})
	}
}

func TestOpenInitialisesEmptyFiles(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, path string)
	}{
		{"zero-byte file", func(t *testing.T, path string) {
			if err := os.WriteFile(path, nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		// What a crash between bbolt's initialisation and our first commit leaves.
		{"bbolt file without buckets", func(t *testing.T, path string) {
			db, err := bolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			db.Close()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ppwatch.db")
			tt.setup(t, path)
			s := openTestStore(t, path, Options{})
			if !s.Fresh() {
				t.Error("Fresh() = false")
			}
			b := NewBatch()
			b.Add(t0, delivered1)
			mustApply(t, s, b)
		})
	}
}

func TestPrune(t *testing.T) {
	s := openTestStore(t, filepath.Join(t.TempDir(), "ppwatch.db"), Options{Retention: 24 * time.Hour, MaxRepliesPerKey: 1})
	now := time.Date(2026, 3, 2, 12, 0, 30, 0, time.UTC)
	cutoff := now.Add(-24 * time.Hour) // 2026-03-01 12:00:30; its minute is kept
	cutMinute := cutoff.Unix() / 60

	b := NewBatch()
	for i := 1; i <= 100; i++ { // 200 old cells
		b.Add(cutoff.Add(-time.Duration(i)*time.Minute), delivered1)
		b.Add(cutoff.Add(-time.Duration(i)*time.Minute), bounced2)
	}
	for i := range 50 { // 50 kept cells, the first in the cutoff's own minute
		b.Add(cutoff.Add(time.Duration(i)*time.Minute), delivered2)
	}
	old, recent := cutoff.Add(-time.Second), cutoff
	b.AddReply(old, Reply{SourceIP: "192.0.2.1", RecipientDomain: "a.example", Response: "old"})
	b.AddReply(old, Reply{SourceIP: "192.0.2.1", RecipientDomain: "b.example", Response: "old"})
	b.AddReply(old, Reply{SourceIP: "192.0.2.1", RecipientDomain: "b.example", Response: "old overflow"})
	b.AddReply(recent, Reply{SourceIP: "192.0.2.1", RecipientDomain: "c.example", Response: "recent"})
	b.AddReply(recent, Reply{SourceIP: "192.0.2.1", RecipientDomain: "c.example", Response: "recent overflow"})
	mustApply(t, s, b)
	before := readState(t, s)

	var got []int
	for range 10 {
		n, err := s.Prune(now, 30)
		if err != nil {
			t.Fatalf("Prune: %v", err)
		}
		got = append(got, n)
		if n == 0 {
			break
		}
	}
	// 200 cells in chunks of 30, then the last 20 cells with the 2 old
	// replies and the old overflow counter.
	if diff := cmp.Diff([]int{30, 30, 30, 30, 30, 30, 23, 0}, got); diff != "" {
		t.Errorf("deleted per call (-want +got):\n%s", diff)
	}

	want := state{
		Cells:     make(map[BucketKey]uint64),
		Totals:    before.Totals,
		Positions: before.Positions,
		Replies: []Reply{{SourceIP: "192.0.2.1", RecipientDomain: "c.example", Response: "recent",
			Count: 1, FirstSeen: recent, LastSeen: recent}},
		Overflow: []Overflow{{SourceIP: "192.0.2.1", RecipientDomain: "c.example", Count: 1, LastSeen: recent}},
	}
	for k, n := range before.Cells {
		if k.Minute >= cutMinute {
			want.Cells[k] = n
		}
	}
	if len(want.Cells) != 50 {
		t.Fatalf("test setup: %d kept cells, want 50", len(want.Cells))
	}
	if diff := cmp.Diff(want, readState(t, s)); diff != "" {
		t.Errorf("after prune (-want +got):\n%s", diff)
	}
}

func TestReplyBound(t *testing.T) {
	s := openTestStore(t, filepath.Join(t.TempDir(), "ppwatch.db"), Options{MaxRepliesPerKey: 3})
	est := time.FixedZone("EST", -5*3600)
	at := func(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second).In(est) }
	utc := func(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }
	reply := func(ip, domain, text string) Reply {
		return Reply{SourceIP: ip, RecipientDomain: domain, Response: text,
			SMTPCode: 421, EnhancedCode: "4.7.0", Class: "proofpoint_block", Count: 99}
	}

	b := NewBatch()
	b.AddReply(at(2), reply("192.0.2.1", "d1.example", "r1"))
	b.AddReply(at(1), reply("192.0.2.1", "d1.example", "r1"))
	b.AddReply(at(3), reply("192.0.2.1", "d1.example", "r2"))
	mustApply(t, s, b)

	b = NewBatch()
	// Three new replies for a pair that has room for one more: the
	// earliest is kept, whatever the map order.
	b.AddReply(at(12), reply("192.0.2.1", "d1.example", "r5"))
	b.AddReply(at(10), reply("192.0.2.1", "d1.example", "r3"))
	b.AddReply(at(11), reply("192.0.2.1", "d1.example", "r4"))
	// A stored reply keeps counting once the pair is full.
	r1 := reply("192.0.2.1", "d1.example", "r1")
	r1.SMTPCode, r1.EnhancedCode = 550, "5.7.1"
	b.AddReply(at(20), r1)
	b.AddReply(at(5), reply("192.0.2.1", "d2.example", "r1"))
	b.AddReply(at(6), reply("192.0.2.2", "d1.example", "r1"))
	mustApply(t, s, b)

	b = NewBatch()
	b.AddReply(at(30), reply("192.0.2.1", "d1.example", "r6"))
	mustApply(t, s, b)

	want := []Reply{
		{SourceIP: "192.0.2.1", RecipientDomain: "d1.example", Response: "r1", SMTPCode: 550, EnhancedCode: "5.7.1",
			Class: "proofpoint_block", Count: 3, FirstSeen: utc(1), LastSeen: utc(20)},
		{SourceIP: "192.0.2.1", RecipientDomain: "d1.example", Response: "r2", SMTPCode: 421, EnhancedCode: "4.7.0",
			Class: "proofpoint_block", Count: 1, FirstSeen: utc(3), LastSeen: utc(3)},
		{SourceIP: "192.0.2.1", RecipientDomain: "d1.example", Response: "r3", SMTPCode: 421, EnhancedCode: "4.7.0",
			Class: "proofpoint_block", Count: 1, FirstSeen: utc(10), LastSeen: utc(10)},
		{SourceIP: "192.0.2.1", RecipientDomain: "d2.example", Response: "r1", SMTPCode: 421, EnhancedCode: "4.7.0",
			Class: "proofpoint_block", Count: 1, FirstSeen: utc(5), LastSeen: utc(5)},
	}
	got, err := s.Replies("192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Replies(192.0.2.1) (-want +got):\n%s", diff)
	}
	for _, r := range got {
		if r.FirstSeen.Location() != time.UTC || r.LastSeen.Location() != time.UTC {
			t.Errorf("reply %q: times not in UTC", r.Response)
		}
	}

	// One pair's replies, in key order, without collecting the IP's.
	var pair []string
	if err := s.EachPairReply("192.0.2.1", "d1.example", func(r Reply) { pair = append(pair, r.RecipientDomain+" "+r.Response) }); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"d1.example r1", "d1.example r2", "d1.example r3"}, pair); diff != "" {
		t.Errorf("EachPairReply(192.0.2.1, d1.example) (-want +got):\n%s", diff)
	}

	all, err := s.Replies("")
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 5 || all[4].SourceIP != "192.0.2.2" {
		t.Errorf("Replies(\"\") = %d replies, last %+v; want 5 with 192.0.2.2 last", len(all), all[len(all)-1])
	}

	overflow, err := s.ReplyOverflow("")
	if err != nil {
		t.Fatal(err)
	}
	wantOverflow := []Overflow{{SourceIP: "192.0.2.1", RecipientDomain: "d1.example", Count: 3, LastSeen: utc(30)}}
	if diff := cmp.Diff(wantOverflow, overflow); diff != "" {
		t.Errorf("ReplyOverflow (-want +got):\n%s", diff)
	}
}

// TestValuesCopiedOutOfTransactions keeps results after their View returned
// and reads them while later commits rewrite the same keys and grow (and so
// remap) the file. Values that aliased bbolt's mmap would change or fault.
func TestValuesCopiedOutOfTransactions(t *testing.T) {
	s := newTestStore(t)
	b := NewBatch()
	b.Add(t0, ppDeferred)
	b.AddReply(t0, Reply{SourceIP: "192.0.2.1", RecipientDomain: "example.com", Response: "421 deferred", EnhancedCode: "4.7.0", Class: "proofpoint_block"})
	b.Positions["maillog"] = []byte("position-1")
	mustApply(t, s, b)

	want := readState(t, s)
	kept := readState(t, s)

	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			if string(kept.Positions["maillog"]) != "position-1" || kept.Replies[0].Response != "421 deferred" {
				t.Error("value read out of a transaction changed")
				return
			}
			_, _ = s.Positions()
		}
	}()

	startSize, err := s.Size()
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		b := NewBatch()
		for j := range 500 {
			b.Add(t0.Add(time.Duration(i*500+j)*time.Minute), ppDeferred)
		}
		b.AddReply(t0, Reply{SourceIP: "192.0.2.1", RecipientDomain: "example.com", Response: "421 deferred", EnhancedCode: "9.9.9"})
		b.Positions["maillog"] = fmt.Appendf(nil, "position-%d-xxxxxxxx", i+2)
		mustApply(t, s, b)
	}
	close(done)
	wg.Wait()

	endSize, err := s.Size()
	if err != nil {
		t.Fatal(err)
	}
	if endSize <= startSize {
		t.Errorf("file did not grow (%d -> %d bytes); the test needs a remap", startSize, endSize)
	}
	if diff := cmp.Diff(want, kept); diff != "" {
		t.Errorf("kept values changed (-want +got):\n%s", diff)
	}
}
