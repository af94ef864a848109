package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// testPosition encodes a position the way pkg/tailer does (version 1, dev,
// inode, fingerprint length and hash, offset, path), so that the files
// built here hold what a daemon's hold; checkTestPosition decodes it with
// the same rules as tailer.Position.UnmarshalBinary, which the store must
// not import (pkg/app's CheckPosition is tested with the real one).
func testPosition(path string, inode uint64, offset int64) []byte {
	b := make([]byte, 59, 59+len(path))
	b[0] = 1
	binary.BigEndian.PutUint64(b[1:], 2049)
	binary.BigEndian.PutUint64(b[9:], inode)
	binary.BigEndian.PutUint16(b[17:], 1024)
	copy(b[19:51], bytes.Repeat([]byte{byte(inode)}, 32))
	binary.BigEndian.PutUint64(b[51:], uint64(offset))
	return append(b, path...)
}

func checkTestPosition(key string, b []byte) error {
	if strings.HasPrefix(key, "journald:") {
		if len(b) == 0 {
			return errors.New("empty journald cursor")
		}
		return nil
	}
	switch {
	case len(b) == 0:
		return errors.New("tailer: empty position")
	case b[0] != 1:
		return fmt.Errorf("tailer: unsupported position version %d", b[0])
	case len(b) < 59:
		return fmt.Errorf("tailer: position too short (%d bytes)", len(b))
	case binary.BigEndian.Uint16(b[17:]) > 1024:
		return fmt.Errorf("tailer: fingerprint length %d out of range", binary.BigEndian.Uint16(b[17:]))
	case int64(binary.BigEndian.Uint64(b[51:])) < 0:
		return fmt.Errorf("tailer: negative offset %d", int64(binary.BigEndian.Uint64(b[51:])))
	}
	return nil
}

var damageOpts = Options{Timeout: 200 * time.Millisecond, Retention: 2 * time.Hour, CheckPosition: checkTestPosition}

// realFile is a state file as a daemon leaves it after some hours: several
// thousand series, their cells, replies past the per-pair bound, input
// positions (files and journald cursors), alert state, and pages freed by
// retention. prev and last are its state before and after its last commit.
type realFile struct {
	path       string
	prev, last state
	end        time.Time // the event time of the last commit
}

var (
	realOnce sync.Once
	realErr  error
	built    realFile
	realDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if realDir != "" {
		os.RemoveAll(realDir)
	}
	os.Exit(code)
}

// realStateFile builds the file once per test binary; tests copy it.
func realStateFile(t *testing.T) realFile {
	t.Helper()
	realOnce.Do(func() {
		if realDir, realErr = os.MkdirTemp("", "ppwatch-store-"); realErr == nil {
			realErr = buildRealFile(filepath.Join(realDir, "ppwatch.db"))
		}
	})
	if realErr != nil {
		t.Fatalf("building the state file: %v", realErr)
	}
	return built
}

func buildRealFile(path string) error {
	s, err := Open(path, Options{Timeout: time.Second, Retention: 2 * time.Hour, MaxRepliesPerKey: 3, CheckPosition: checkTestPosition})
	if err != nil {
		return err
	}
	defer s.Close()
	tr := newTraffic(24, 3000, 400)
	m0 := t0.Unix() / 60
	const minutes = 240
	batch := func(m int64) *Batch {
		b := tr.minuteBatch(m, 300)
		clear(b.Positions)
		for i := range 20 {
			b.Positions[fmt.Sprintf("/var/log/mail-%02d.log", i)] = testPosition(fmt.Sprintf("/var/log/mail-%02d.log", i), uint64(1000+i), (m-m0)*4096+int64(i))
		}
		b.Positions["journald:postfix@-.service"] = fmt.Appendf(nil, "s=7d3c;i=%x;b=51ab;m=%x;t=%x;x=9c", m, m*3, m*60)
		b.Positions["journald:exim4.service"] = fmt.Appendf(nil, "s=7d3c;i=%x;b=51ab;m=%x;t=%x;x=aa", m+1, m*5, m*60)
		return b
	}
	for m := m0; m < m0+minutes; m++ {
		if err := s.Apply(batch(m)); err != nil {
			return err
		}
		if (m-m0)%60 == 59 {
			// Retention frees the oldest pages, as it does every minute.
			for {
				n, err := s.Prune(time.Unix((m+1)*60, 0), 2000)
				if err != nil {
					return err
				}
				if n < 2000 {
					break
				}
			}
		}
	}
	alerts := map[string][]byte{}
	for i := range 12 {
		ip := fmt.Sprintf("192.0.2.%d", 10+i)
		alerts["ProofpointIPBlocked "+ip] = fmt.Appendf(nil, `{"rule":"ProofpointIPBlocked","labels":{"source_ip":%q},"state":"firing","value":0.4,"attempts":100,"blocks":40,"active_at":%q}`,
			ip, t0.Format(time.RFC3339))
	}
	if err := s.SaveAlerts(alerts); err != nil {
		return err
	}
	if built.prev, err = stateOf(s); err != nil {
		return err
	}
	end := m0 + minutes
	if err := s.Apply(batch(end)); err != nil {
		return err
	}
	if built.last, err = stateOf(s); err != nil {
		return err
	}
	built.path, built.end = path, time.Unix(end*60, 0)
	return nil
}

// stateOf is readState without a *testing.T, for the builder.
func stateOf(s *Store) (state, error) {
	st := state{Cells: map[BucketKey]uint64{}}
	err := s.Buckets(time.Unix(-1<<40, 0), time.Unix(1<<40, 0), func(m int64, series Series, n uint64) {
		st.Cells[BucketKey{Minute: m, Series: series}] = n
	})
	if err == nil {
		st.Totals, err = s.Totals()
	}
	if err == nil {
		st.Positions, err = s.Positions()
	}
	if err == nil {
		st.Replies, err = s.Replies("")
	}
	if err == nil {
		st.Overflow, err = s.ReplyOverflow("")
	}
	return st, err
}

// copyFile copies the built file to a new file of the test.
func copyFile(t *testing.T, src string) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "ppwatch.db")
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return dst
}

// layout says what each page of a file is used for, by the walker.
type layout struct {
	pageSize int
	kinds    map[uint64]pageKind
	buckets  map[uint64]string
	free     []uint64
	metaTx   [2]uint64
}

func pageLayout(t *testing.T, path string) layout {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	size, _ := fileSize(f)
	meta, bad, err := readMetas(f, size)
	if err != nil || bad != nil {
		t.Fatalf("meta pages: %v %v", err, bad)
	}
	l := layout{pageSize: meta.pageSize, kinds: map[uint64]pageKind{0: kindMeta, 1: kindMeta}, buckets: map[uint64]string{}}
	var buf [4096]byte
	for slot := range 2 {
		f.ReadAt(buf[:], int64(slot*meta.pageSize))
		m, err := parseMeta(buf[:], slot)
		if err != nil {
			t.Fatal(err)
		}
		l.metaTx[slot] = m.txid
	}
	w := &walker{f: f, meta: meta, pageSize: meta.pageSize, hwm: meta.pgid, maxProblems: 10,
		reached: newBitset(meta.pgid), freed: newBitset(meta.pgid)}
	w.page = func(id uint64, kind pageKind, path string) { l.kinds[id], l.buckets[id] = kind, path }
	w.readFreelist()
	w.walkTree(meta.root, "", 0, nil, nil)
	if len(w.problems) > 0 {
		t.Fatalf("walk: %v", w.problems)
	}
	for id := uint64(2); id < meta.pgid; id++ {
		if w.freed.has(id) {
			l.free = append(l.free, id)
		}
	}
	return l
}

// pagesOf returns the pages of kind in the bucket at path, in order.
func (l layout) pagesOf(kind pageKind, path string) []uint64 {
	var ids []uint64
	for id, k := range l.kinds {
		if k == kind && l.buckets[id] == path {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// corruption is one way of damaging one page.
type corruption struct {
	name string
	page uint64
	how  string // zeros, garbage (the whole page), body (all but its 16-byte header)
	seed uint64
}

func (c corruption) apply(t *testing.T, path string, pageSize int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, pageSize)
	off := int64(c.page) * int64(pageSize)
	if c.how != "zeros" {
		rng := rand.New(rand.NewPCG(c.seed, c.page))
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
	}
	if c.how == "body" {
		b, off = b[pageHeaderSize:], off+pageHeaderSize
	}
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// corruptions picks the pages to damage from the file's layout: both meta
// pages, the freelist, free pages, and for every bucket with pages of its
// own its root, its first, middle and last leaves and its branches, each in
// three ways.
func corruptions(t *testing.T, l layout) []corruption {
	t.Helper()
	var cs []corruption
	add := func(name string, id uint64, hows ...string) {
		for i, how := range hows {
			cs = append(cs, corruption{name: fmt.Sprintf("%s page %d %s", name, id, how), page: id, how: how, seed: uint64(i + 1)})
		}
	}
	add("meta", 0, "zeros", "garbage")
	add("meta", 1, "zeros", "garbage")
	for id, k := range l.kinds {
		if k == kindFreelist {
			add("freelist", id, "zeros", "garbage", "body")
		}
	}
	if len(l.free) < 2 {
		t.Fatalf("%d free pages, want some: retention frees pages", len(l.free))
	}
	add("free", l.free[0], "zeros", "garbage")
	add("free", l.free[len(l.free)-1], "garbage")
	for _, b := range []string{"", "series", "series_ids", "buckets_1m", "replies", "reply_overflow", "positions", "alerts"} {
		name := b
		if name == "" {
			name = "root"
		}
		leaves, branches := l.pagesOf(kindLeaf, b), l.pagesOf(kindBranch, b)
		if len(leaves) == 0 {
			continue // inline in its parent
		}
		picked := map[uint64]bool{}
		for _, id := range []uint64{leaves[0], leaves[len(leaves)/2], leaves[len(leaves)-1]} {
			if !picked[id] {
				picked[id] = true
				add(name+" leaf", id, "zeros", "garbage", "body")
			}
		}
		for i, id := range branches {
			if i < 2 {
				add(name+" branch", id, "zeros", "garbage", "body")
			}
		}
	}
	if testing.Short() {
		// One in three, the meta pages always.
		short := cs[:4]
		for i := 4; i < len(cs); i += 3 {
			short = append(short, cs[i])
		}
		return short
	}
	return cs
}

// pathOnce fails unless msg names path exactly once.
func pathOnce(t *testing.T, msg, path string) {
	t.Helper()
	if n := strings.Count(msg, path); n != 1 {
		t.Errorf("error names %s %d times, want once: %s", path, n, msg)
	}
}

// TestCorruptPagesAtOpen damages one page of a built state file at a time.
// Every case must be refused by Open with ErrDamaged (naming the file once,
// the page, and the way out, and leaving the file as it was), or open and
// work: a damaged meta page falls back to the commit before, a damaged free
// page holds nothing. Nothing may panic.
func TestCorruptPagesAtOpen(t *testing.T) {
	rf := realStateFile(t)
	l := pageLayout(t, rf.path)
	newest := 0
	if l.metaTx[1] > l.metaTx[0] {
		newest = 1
	}
	cs := corruptions(t, l)
	t.Logf("file: %d pages of %d bytes, %d series, %d cells, %d replies, %d positions", len(l.kinds)+len(l.free), l.pageSize,
		len(rf.last.Totals), len(rf.last.Cells), len(rf.last.Replies), len(rf.last.Positions))
	if len(cs) < 40 && !testing.Short() {
		t.Fatalf("%d corruptions, want at least 40", len(cs))
	}
	outcomes := map[string]int{}
	for _, c := range cs {
		t.Run(c.name, func(t *testing.T) {
			path := copyFile(t, rf.path)
			c.apply(t, path, l.pageSize)
			before, _ := os.ReadFile(path)

			var want *state // nil: refused
			switch {
			case l.kinds[c.page] == kindMeta && int(c.page) == newest:
				want = &rf.prev
			case l.kinds[c.page] == kindMeta, l.kinds[c.page] == kindFree:
				want = &rf.last
			}
			s, err := Open(path, damageOpts)
			if want == nil {
				outcomes["refused"]++
				if err == nil {
					s.Close()
					t.Fatal("Open succeeded, want ErrDamaged")
				}
				if !errors.Is(err, ErrDamaged) {
					t.Fatalf("Open = %v, want ErrDamaged", err)
				}
				msg := err.Error()
				t.Log(msg)
				pathOnce(t, msg, path)
				if !strings.HasPrefix(msg, "state file "+path+": damaged: ") || !strings.Contains(msg, "ppwatch state repair") ||
					!strings.Contains(msg, "move it aside") {
					t.Errorf("error does not say what is wrong and the way out: %s", msg)
				}
				if !strings.Contains(msg, fmt.Sprintf("page %d", c.page)) && !strings.Contains(msg, "freelist") {
					t.Errorf("error does not name page %d: %s", c.page, msg)
				}
				if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
					t.Error("refused file was changed")
				}
				return
			}
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			outcomes["works"]++
			defer s.Close()
			if diff := stateDiff(*want, readState(t, s)); diff != "" {
				t.Fatalf("state (-want +got):\n%s", diff)
			}
			useStore(t, s, rf.end)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := Check(path, damageOpts); err != nil {
				t.Errorf("Check after use: %v", err)
			}
		})
	}
	t.Logf("%d corruptions: %v", len(cs), outcomes)
}

// useStore does what the daemon does with a store: a commit, retention,
// saving alerts, and reading back.
func useStore(t *testing.T, s *Store, end time.Time) {
	t.Helper()
	b := NewBatch()
	b.Add(end.Add(time.Minute), ppDeferred)
	b.AddReply(end.Add(time.Minute), Reply{SourceIP: ppDeferred.SourceIP, RecipientDomain: ppDeferred.RecipientDomain, Response: "421 4.7.0 deferred"})
	b.Positions["/var/log/mail-00.log"] = testPosition("/var/log/mail-00.log", 1000, 1<<20)
	mustApply(t, s, b)
	if _, err := s.Prune(end.Add(2*time.Hour), 500); err != nil {
		t.Fatalf("Prune: %v", err)
	}
	if err := s.SaveAlerts(nil); err != nil {
		t.Fatalf("SaveAlerts: %v", err)
	}
	readState(t, s)
}

// TestRefusesCutAndZeroedFiles: a file cut short lost pages that its meta
// pages say are in use, and is refused; one cut only in its unused tail
// lost nothing and opens. A file of zeros has no meta page at all.
func TestRefusesCutAndZeroedFiles(t *testing.T) {
	rf := realStateFile(t)
	fi, err := os.Stat(rf.path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Check(rf.path, damageOpts)
	if err != nil {
		t.Fatal(err)
	}
	inUse := int64(r.Pages) * int64(r.PageSize)
	if fi.Size()/2 >= inUse {
		t.Fatalf("file of %d bytes with %d in use: half of it loses nothing", fi.Size(), inUse)
	}
	tests := []struct {
		name    string
		size    int64 // cut to this size; -1: the same size of zeros
		want    error
		wantMsg string
	}{
		{"cut in half", fi.Size() / 2, ErrDamaged, fmt.Sprintf("cut short: %d bytes, but its pages reach %d", fi.Size()/2, inUse)},
		{"last page cut short", inUse - 100, ErrDamaged, fmt.Sprintf("cut short: %d bytes, but its pages reach %d (%d pages of %d bytes): 100 bytes are missing", inUse-100, inUse, r.Pages, r.PageSize)},
		{"last page cut", inUse - int64(r.PageSize), ErrDamaged, fmt.Sprintf("cut short: %d bytes", inUse-int64(r.PageSize))},
		{"only the meta pages", 2 * int64(r.PageSize), ErrDamaged, "cut short"},
		{"zeros", -1, ErrNotStore, "not a ppwatch state file: invalid database; if state_file names the wrong file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := copyFile(t, rf.path)
			if tt.size >= 0 {
				if err := os.Truncate(path, tt.size); err != nil {
					t.Fatal(err)
				}
			} else if err := os.WriteFile(path, make([]byte, fi.Size()), 0o600); err != nil {
				t.Fatal(err)
			}
			before, _ := os.ReadFile(path)
			s, err := Open(path, damageOpts)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Open = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("Open = %q, want it to contain %q", err, tt.wantMsg)
			}
			pathOnce(t, err.Error(), path)
			if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
				t.Error("refused file was changed")
			}
			if _, cerr := Check(path, damageOpts); cerr == nil || cerr.Error() != err.Error() {
				t.Errorf("Check = %v, want Open's error", cerr)
			}
		})
	}

	t.Run("cut in its unused tail", func(t *testing.T) {
		if fi.Size() == inUse {
			t.Skip("no unused tail")
		}
		path := copyFile(t, rf.path)
		if err := os.Truncate(path, inUse); err != nil {
			t.Fatal(err)
		}
		s := openTestStore(t, path, damageOpts)
		if diff := stateDiff(rf.last, readState(t, s)); diff != "" {
			t.Fatalf("state (-want +got):\n%s", diff)
		}
		useStore(t, s, rf.end)
	})
}

// TestRefusesUndecodablePositions: a position the caller cannot decode
// would have its input read again from the start while the totals stay,
// so Open refuses the file and names the key.
func TestRefusesUndecodablePositions(t *testing.T) {
	rf := realStateFile(t)
	tests := []struct {
		key     string
		value   []byte
		wantMsg string
	}{
		{"/var/log/mail-03.log", append([]byte{9}, testPosition("/var/log/mail-03.log", 1003, 5)[1:]...),
			`bucket positions key "/var/log/mail-03.log": position cannot be decoded: tailer: unsupported position version 9`},
		{"/var/log/mail-04.log", testPosition("/var/log/mail-04.log", 1004, 5)[:20],
			`bucket positions key "/var/log/mail-04.log": position cannot be decoded: tailer: position too short (20 bytes)`},
		{"journald:exim4.service", []byte{},
			`bucket positions key "journald:exim4.service": position cannot be decoded: empty journald cursor`},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			path := copyFile(t, rf.path)
			s := openTestStore(t, path, damageOpts)
			b := NewBatch()
			b.Positions[tt.key] = tt.value
			mustApply(t, s, b)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s, err := Open(path, damageOpts)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("Open = %v, want ErrDamaged with %q", err, tt.wantMsg)
			}
			pathOnce(t, err.Error(), path)
			// Without a check the store keeps positions opaque.
			s = openTestStore(t, path, Options{})
			if got, _ := s.Positions(); !bytes.Equal(got[tt.key], tt.value) {
				t.Errorf("position %q = %x, want %x", tt.key, got[tt.key], tt.value)
			}
		})
	}
}

// storeOps are the calls the daemon makes, in an order where each bucket
// is first read by one of them: Totals series, Buckets buckets_1m (and
// series_ids), Replies replies, ReplyOverflow reply_overflow, Positions
// positions, LoadAlerts alerts.
var storeOps = []struct {
	name   string
	bucket string
	run    func(s *Store, end time.Time) error
}{
	{"Totals", "series", func(s *Store, _ time.Time) error { _, err := s.Totals(); return err }},
	{"Buckets", "buckets_1m", func(s *Store, _ time.Time) error {
		return s.Buckets(time.Unix(-1<<40, 0), time.Unix(1<<40, 0), func(int64, Series, uint64) {})
	}},
	{"Replies", "replies", func(s *Store, _ time.Time) error { _, err := s.Replies(""); return err }},
	{"ReplyOverflow", "reply_overflow", func(s *Store, _ time.Time) error { _, err := s.ReplyOverflow(""); return err }},
	{"Positions", "positions", func(s *Store, _ time.Time) error { _, err := s.Positions(); return err }},
	{"LoadAlerts", "alerts", func(s *Store, _ time.Time) error { _, err := s.LoadAlerts(); return err }},
	{"Apply", "", func(s *Store, end time.Time) error {
		b := NewBatch()
		b.Add(end.Add(time.Minute), ppDeferred)
		b.Positions["/var/log/mail-00.log"] = testPosition("/var/log/mail-00.log", 1000, 1<<20)
		return s.Apply(b)
	}},
	{"Prune", "", func(s *Store, end time.Time) error { _, err := s.Prune(end.Add(time.Hour), 500); return err }},
	{"SaveAlerts", "", func(s *Store, _ time.Time) error { return s.SaveAlerts(nil) }},
}

// runOps runs storeOps on s and returns the index of the first that
// failed (-1 for none). Every failure must be ErrDamaged, and once one
// failed, every later call must fail with it too: the store never reads a
// damaged file again, and never guesses.
func runOps(t *testing.T, s *Store, end time.Time) int {
	t.Helper()
	first := -1
	for i, op := range storeOps {
		err := op.run(s, end)
		switch {
		case err == nil && first >= 0:
			t.Errorf("%s after the damage: no error", op.name)
		case err == nil:
		case !errors.Is(err, ErrDamaged):
			t.Errorf("%s = %v, want ErrDamaged", op.name, err)
		case first < 0:
			first = i
			pathOnce(t, err.Error(), s.Path())
			if !strings.Contains(err.Error(), `run "ppwatch state check" on it`) {
				t.Errorf("%s = %v, want the way out", op.name, err)
			}
		}
	}
	if (first >= 0) != (s.Damaged() != nil) {
		t.Errorf("Damaged() = %v, with the first failure at %d", s.Damaged(), first)
	}
	return first
}

// TestCorruptPagesWhileOpen damages the pages of TestCorruptPagesAtOpen
// while the store is open, as a disk or another program could, and uses
// it. bbolt meets the damage with panics and faults; each call must return
// ErrDamaged or work, and the process must live. Where the page is read
// by a known call (its whole page replaced), that call is the first to fail.
func TestCorruptPagesWhileOpen(t *testing.T) {
	rf := realStateFile(t)
	l := pageLayout(t, rf.path)
	newest := uint64(0)
	if l.metaTx[1] > l.metaTx[0] {
		newest = 1
	}
	outcomes := map[string]int{}
	for _, c := range corruptions(t, l) {
		t.Run(c.name, func(t *testing.T) {
			path := copyFile(t, rf.path)
			damages := 0
			opts := damageOpts
			opts.OnDamage = func(error) { damages++ }
			s, err := Open(path, opts)
			if err != nil {
				t.Fatal(err)
			}
			c.apply(t, path, l.pageSize)
			first := runOps(t, s, rf.end)
			if want := min(first+1, 1); damages != want {
				t.Errorf("OnDamage called %d times, want %d", damages, want)
			}
			start := time.Now()
			if err := s.Close(); err != nil && first < 0 {
				t.Errorf("Close: %v", err)
			}
			if d := time.Since(start); d > opts.Timeout+time.Second {
				t.Errorf("Close took %s", d)
			}
			if first < 0 {
				outcomes["works"]++
			} else {
				outcomes["ErrDamaged at "+storeOps[first].name]++
			}

			want := -2 // not known beforehand
			kind, bucket := l.kinds[c.page], l.buckets[c.page]
			switch {
			case kind == kindMeta && c.page == newest:
				want = 0 // the next read falls back to the commit before
			case kind == kindFreelist:
				want = 6 // checked before each write (bbolt read it at open)
			case kind == kindMeta, kind == kindFree:
				want = -1 // the older meta page and free pages are not read
			case c.how == "body" || bucket == "series_ids":
				// Garbage under a sound header may or may not make bbolt
				// fail; series_ids pages are read only for the ids met.
			case bucket == "":
				want = 0
			default:
				for i, op := range storeOps {
					if op.bucket == bucket {
						want = i
					}
				}
			}
			if want != -2 && first != want {
				t.Errorf("first failure at %d, want %d (-1: none)", first, want)
			}
		})
	}
	t.Logf("outcomes: %v", outcomes)
}

// TestCutWhileOpen cuts the file under an open store: bbolt's reads of the
// lost pages fault (SIGBUS), which must come back as ErrDamaged.
func TestCutWhileOpen(t *testing.T) {
	rf := realStateFile(t)
	r, err := Check(rf.path, damageOpts)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		size int64
	}{{"to its meta pages", 2 * int64(r.PageSize)}, {"in half", int64(r.Pages) * int64(r.PageSize) / 2}} {
		t.Run(tt.name, func(t *testing.T) {
			path := copyFile(t, rf.path)
			s, err := Open(path, damageOpts)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(path, tt.size); err != nil {
				t.Fatal(err)
			}
			if first := runOps(t, s, rf.end); first != 0 {
				t.Errorf("first failure at %d, want 0 (Totals)", first)
			}
			s.Close()
			if _, err := Open(path, damageOpts); !errors.Is(err, ErrDamaged) {
				t.Errorf("Open after the cut = %v, want ErrDamaged", err)
			}
		})
	}
}

// TestDamageStopsOtherWriters: a writer waiting while another meets damage
// (SaveAlerts beside the ingest writer) gets ErrDamaged, and does not wait
// on the bbolt lock the panic may have left taken.
func TestDamageStopsOtherWriters(t *testing.T) {
	rf := realStateFile(t)
	l := pageLayout(t, rf.path)
	path := copyFile(t, rf.path)
	s, err := Open(path, damageOpts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	corruption{page: l.pagesOf(kindLeaf, "positions")[0], how: "zeros"}.apply(t, path, l.pageSize)
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { errs <- s.SaveAlerts(nil) })
	}
	b := NewBatch()
	b.Positions["/var/log/mail-01.log"] = testPosition("/var/log/mail-01.log", 1001, 9)
	if err := s.Apply(b); !errors.Is(err, ErrDamaged) {
		t.Fatalf("Apply = %v, want ErrDamaged", err)
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("writers still waiting 5s after the damage")
	}
	close(errs)
	for err := range errs {
		// A SaveAlerts that went before the Apply worked.
		if err != nil && !errors.Is(err, ErrDamaged) {
			t.Errorf("SaveAlerts = %v, want nil or ErrDamaged", err)
		}
	}
}

// TestCallerPanicIsNotDamage: a panic in the caller's function goes on up
// as it was, and the store stays sound.
func TestCallerPanicIsNotDamage(t *testing.T) {
	rf := realStateFile(t)
	s := openTestStore(t, copyFile(t, rf.path), damageOpts)
	func() {
		defer func() {
			if r := recover(); r != "caller's bug" {
				t.Errorf("recovered %v, want the caller's panic", r)
			}
		}()
		s.EachReply("", func(Reply) { panic("caller's bug") })
	}()
	if err := s.Damaged(); err != nil {
		t.Fatalf("Damaged() = %v after a caller's panic", err)
	}
	readState(t, s)
}

// stateDiff is stateDiff(want, got) for big states, which go-cmp sorts by
// reflection: the maps are compared directly, and only a difference is
// spelled out.
func stateDiff(want, got state) string {
	if sameCells(want.Cells, got.Cells) && maps.Equal(want.Totals, got.Totals) && samePositions(want.Positions, got.Positions) &&
		sameReplies(want.Replies, got.Replies) && slices.EqualFunc(want.Overflow, got.Overflow, func(a, b Overflow) bool {
		return a.SourceIP == b.SourceIP && a.RecipientDomain == b.RecipientDomain && a.Count == b.Count && a.LastSeen.Equal(b.LastSeen)
	}) {
		return ""
	}
	return cmp.Diff(want, got)
}

func sameCells(a, b map[BucketKey]uint64) bool { return maps.Equal(a, b) }

func samePositions(a, b map[string][]byte) bool { return maps.EqualFunc(a, b, bytes.Equal) }

func sameReplies(a, b []Reply) bool {
	return slices.EqualFunc(a, b, func(x, y Reply) bool {
		return x.SourceIP == y.SourceIP && x.RecipientDomain == y.RecipientDomain && x.Response == y.Response &&
			x.EnhancedCode == y.EnhancedCode && x.Class == y.Class && x.SMTPCode == y.SMTPCode && x.Count == y.Count &&
			x.FirstSeen.Equal(y.FirstSeen) && x.LastSeen.Equal(y.LastSeen)
	})
}
