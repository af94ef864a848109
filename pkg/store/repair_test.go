package store

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"
)

// repairTo repairs from into a new file of the test and opens the result.
func repairTo(t *testing.T, from string) (*RepairReport, *Store) {
	t.Helper()
	to := filepath.Join(t.TempDir(), "repaired.db")
	rep, err := Repair(from, to, damageOpts)
	if err != nil {
		t.Fatalf("Repair: %v", err)
	}
	if rep.To != to {
		t.Errorf("report To = %q, want %q", rep.To, to)
	}
	return rep, openTestStore(t, to, damageOpts)
}

// TestRepairSoundFile: a sound file is copied whole, ids and creation
// time included, and the copy goes on as the original would.
func TestRepairSoundFile(t *testing.T) {
	rf := realStateFile(t)
	orig := openTestStore(t, copyFile(t, rf.path), damageOpts)
	wantAlerts, err := orig.LoadAlerts()
	if err != nil {
		t.Fatal(err)
	}
	rep, s := repairTo(t, rf.path)
	if len(rep.Losses) != 0 || len(rep.Dropped) != 0 || len(rep.Problems) != 0 || rep.Fallback != "" {
		t.Errorf("report of a sound file:\n%s", rep.Summary())
	}
	if rep.Saved["series"] != len(rf.last.Totals) || rep.Saved["series_ids"] != len(rf.last.Totals) || rep.Saved["positions"] != len(rf.last.Positions) {
		t.Errorf("saved %v, want %d series and ids and %d positions", rep.Saved, len(rf.last.Totals), len(rf.last.Positions))
	}
	if diff := stateDiff(rf.last, readState(t, s)); diff != "" {
		t.Fatalf("state (-want +got):\n%s", diff)
	}
	gotAlerts, err := s.LoadAlerts()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantAlerts, gotAlerts); diff != "" {
		t.Errorf("alerts (-want +got):\n%s", diff)
	}
	if !s.Created().Equal(orig.Created()) {
		t.Errorf("Created() = %v, want %v", s.Created(), orig.Created())
	}
	// The same batches give the same figures in both: a new series gets the
	// same id, not one in use.
	for _, st := range []*Store{orig, s} {
		useStore(t, st, rf.end)
		b := NewBatch()
		b.Add(rf.end, Series{MTA: "exim", SourceIP: "198.51.100.7", Status: "delivered", Class: "ok"})
		mustApply(t, st, b)
	}
	if diff := stateDiff(readState(t, orig), readState(t, s)); diff != "" {
		t.Errorf("after the same batches (-original +repaired):\n%s", diff)
	}
}

// subset fails unless every record of got is in want with the same value:
// a repair saves records, it never makes any up.
func subset[K comparable, V comparable](t *testing.T, what string, want, got map[K]V) {
	t.Helper()
	for k, v := range got {
		if w, ok := want[k]; !ok || w != v {
			t.Errorf("%s: %v = %v not in the original (%v, %v)", what, k, v, w, ok)
		}
	}
}

// TestRepairCorruptPages repairs every corruption of TestCorruptPagesAtOpen.
// The repaired file checks clean and opens; it holds only records of the
// file as it was, all of those of the buckets the damage did not touch,
// and says what was lost.
func TestRepairCorruptPages(t *testing.T) {
	rf := realStateFile(t)
	l := pageLayout(t, rf.path)
	newest := uint64(0)
	if l.metaTx[1] > l.metaTx[0] {
		newest = 1
	}
	whole, previous, salvaged := 0, 0, 0
	used := map[string]bool{}
	for _, c := range corruptions(t, l) {
		t.Run(c.name, func(t *testing.T) {
			path := copyFile(t, rf.path)
			c.apply(t, path, l.pageSize)
			rep, s := repairTo(t, path)
			got := readState(t, s)
			want := rf.last
			if l.kinds[c.page] == kindMeta && c.page == newest {
				want = rf.prev
				if rep.Fallback == "" {
					t.Error("report does not say the previous commit was used")
				}
			}
			bucket := l.buckets[c.page]
			if strings.Contains(rep.Fallback, "is whole and was copied") {
				// The commit before the last one does not use the page.
				if diff := stateDiff(rf.prev, got); diff != "" {
					t.Fatalf("state (-want +got):\n%s", diff)
				}
				if len(rep.Losses) != 0 {
					t.Errorf("losses %q, want none", rep.Losses)
				}
				previous++
				return
			}
			switch {
			case l.kinds[c.page] == kindMeta, l.kinds[c.page] == kindFree, l.kinds[c.page] == kindFreelist, bucket == "series_ids":
				// Nothing is lost: the new file has its own freelist, and
				// series ids are rebuilt from the series.
				if diff := stateDiff(want, got); diff != "" {
					t.Fatalf("state (-want +got):\n%s", diff)
				}
				if len(rep.Losses) != 0 {
					t.Errorf("losses %q, want none", rep.Losses)
				}
				if bucket == "series_ids" && rep.Unread[bucket]+rep.Dropped[bucket] == 0 {
					t.Errorf("report does not name bucket series_ids:\n%s", rep.Summary())
				}
				whole++
				return
			}
			if rep.Unread[bucket]+rep.Dropped[bucket] == 0 {
				t.Errorf("report does not name bucket %q:\n%s", bucket, rep.Summary())
			}
			if len(rep.Losses) == 0 {
				t.Errorf("no losses reported:\n%s", rep.Summary())
			}
			subset(t, "totals", want.Totals, got.Totals)
			subset(t, "cells", want.Cells, got.Cells)
			subset(t, "positions", toStrings(want.Positions), toStrings(got.Positions))
			replies := func(rs []Reply) map[ReplyKey]Reply {
				m := map[ReplyKey]Reply{}
				for _, r := range rs {
					m[ReplyKey{r.SourceIP, r.RecipientDomain, r.Response}] = r
				}
				return m
			}
			subset(t, "replies", replies(want.Replies), replies(got.Replies))
			untouched := func(b string) bool { return bucket != b && bucket != "" }
			if untouched("series") && untouched("buckets_1m") && !sameCells(want.Cells, got.Cells) {
				t.Error("cells lost from an untouched bucket")
			}
			if untouched("series") && !maps.Equal(want.Totals, got.Totals) {
				t.Error("totals lost from an untouched bucket")
			}
			if untouched("positions") && !samePositions(want.Positions, got.Positions) {
				t.Error("positions lost from an untouched bucket")
			}
			if untouched("replies") && !sameReplies(want.Replies, got.Replies) {
				t.Error("replies lost from an untouched bucket")
			}
			if bucket == "positions" && !slices.ContainsFunc(rep.Losses, func(s string) bool { return strings.HasPrefix(s, "positions:") }) {
				t.Errorf("losses %q do not warn of the positions", rep.Losses)
			}
			// The repaired file takes commits, retention and alerts (once
			// per bucket damaged is enough to show it).
			if salvaged++; !used[bucket] {
				used[bucket] = true
				useStore(t, s, rf.end)
			}
		})
	}
	t.Logf("repaired: %d whole, %d from the commit before, %d saved in part", whole, previous, salvaged)
	if !testing.Short() && (whole == 0 || previous == 0) {
		t.Error("no corruption repaired whole, or none from the commit before")
	}
}

func toStrings(m map[string][]byte) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = string(v)
	}
	return out
}

// TestRepairDropsUndecodablePositions: the position is not saved, the
// report names its key and says that input is read again from its start.
func TestRepairDropsUndecodablePositions(t *testing.T) {
	rf := realStateFile(t)
	path := copyFile(t, rf.path)
	s := openTestStore(t, path, damageOpts)
	b := NewBatch()
	b.Positions["/var/log/mail-03.log"] = []byte{9, 9, 9}
	mustApply(t, s, b)
	// A second commit, so that the one before the last has the bad
	// position too (else repair copies that one, losing nothing).
	b = NewBatch()
	b.Positions["/var/log/mail-05.log"] = rf.last.Positions["/var/log/mail-05.log"]
	mustApply(t, s, b)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	rep, s := repairTo(t, path)
	want := map[string]int{"positions": 1}
	if diff := cmp.Diff(want, rep.Dropped); diff != "" {
		t.Errorf("dropped (-want +got):\n%s", diff)
	}
	wantProblem := `bucket positions key "/var/log/mail-03.log": not saved: position cannot be decoded: tailer: unsupported position version 9`
	if len(rep.Problems) != 1 || rep.Problems[0].String() != wantProblem {
		t.Errorf("problems %v, want [%s]", rep.Problems, wantProblem)
	}
	if len(rep.Losses) != 1 || !strings.Contains(rep.Losses[0], "read again from the start of its current file") {
		t.Errorf("losses %q", rep.Losses)
	}
	got := readState(t, s)
	wantPos := maps0(rf.last.Positions, "/var/log/mail-03.log")
	if diff := cmp.Diff(wantPos, got.Positions); diff != "" {
		t.Errorf("positions (-want +got):\n%s", diff)
	}
}

func maps0(m map[string][]byte, drop string) map[string][]byte {
	out := map[string][]byte{}
	for k, v := range m {
		if k != drop {
			out[k] = v
		}
	}
	return out
}

// TestRepairRefuses: never over a file, never beside a running ppwatch,
// never a file that is not a store.
func TestRepairRefuses(t *testing.T) {
	rf := realStateFile(t)
	dir := t.TempDir()
	exists := filepath.Join(dir, "exists.db")
	os.WriteFile(exists, []byte("x"), 0o600)
	if _, err := Repair(rf.path, exists, damageOpts); err == nil || !strings.Contains(err.Error(), "exists; repair writes a new file") {
		t.Errorf("Repair onto an existing file = %v", err)
	}
	path := copyFile(t, rf.path)
	s := openTestStore(t, path, damageOpts)
	_, err := Repair(path, filepath.Join(dir, "new.db"), damageOpts)
	if !errors.Is(err, ErrLocked) {
		t.Errorf("Repair of an open store = %v, want ErrLocked", err)
	}
	s.Close()
	zeros := filepath.Join(dir, "zeros.db")
	os.WriteFile(zeros, make([]byte, 1<<16), 0o600)
	if _, err := Repair(zeros, filepath.Join(dir, "new2.db"), damageOpts); !errors.Is(err, ErrNotStore) {
		t.Errorf("Repair of zeros = %v, want ErrNotStore", err)
	}
	for _, name := range []string{"new.db", "new2.db"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			t.Errorf("%s written by a refused repair", name)
		}
	}
}

// TestRepairCutFile: a file cut short keeps what its remaining pages hold,
// if the bucket list is among them; bbolt writes a new root with every
// commit, mostly near the end of the file, so a cut often takes it.
func TestRepairCutFile(t *testing.T) {
	rf := realStateFile(t)
	l := pageLayout(t, rf.path)
	r, err := Check(rf.path, damageOpts)
	if err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(rf.path)
	metas, _, _ := metaPages(f, r.Size)
	f.Close()
	ps := int64(r.PageSize)
	for _, pages := range []int64{int64(r.Pages) / 2, int64(r.Pages) - 1, int64(r.Pages) - 8} {
		t.Run(fmt.Sprint(pages), func(t *testing.T) {
			path := copyFile(t, rf.path)
			if err := os.Truncate(path, pages*ps); err != nil {
				t.Fatal(err)
			}
			lost := map[pageKind]int{}
			for id := uint64(pages); id < r.Pages; id++ {
				lost[l.kinds[id]]++
			}
			rep, err := Repair(path, filepath.Join(t.TempDir(), "repaired.db"), damageOpts)
			if root := metas[0].root; uint64(pages) <= root && uint64(pages) <= metas[1].root {
				want := fmt.Sprintf("none of its buckets could be read (page %d: past the end of the file): there is nothing to save; move it aside", root)
				if !errors.Is(err, ErrNotStore) || !strings.Contains(err.Error(), want) {
					t.Fatalf("Repair = %v, want %q", err, want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			s := openTestStore(t, rep.To, damageOpts)
			got := readState(t, s)
			if lost[kindBranch]+lost[kindLeaf]+lost[kindFreelist] == 0 {
				if diff := stateDiff(rf.last, got); diff != "" || len(rep.Losses) > 0 {
					t.Errorf("only free pages cut: losses %q, state (-want +got):\n%s", rep.Losses, diff)
				}
				return
			}
			subset(t, "totals", rf.last.Totals, got.Totals)
			subset(t, "cells", rf.last.Cells, got.Cells)
			t.Logf("%d of %d pages, lost %v:\n%s", pages, r.Pages, lost, rep.Summary())
		})
	}
}

// TestCompactedCopyOpens: "bbolt compact" makes a smaller file with fewer
// pages; the size check compares the file with its own meta page, so the
// copy opens with everything in it.
func TestCompactedCopyOpens(t *testing.T) {
	rf := realStateFile(t)
	src, err := bolt.Open(rf.path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	path := filepath.Join(t.TempDir(), "compacted.db")
	dst, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := bolt.Compact(dst, src, 1<<20); err != nil {
		t.Fatal(err)
	}
	dst.Close()
	before, err := Check(rf.path, damageOpts)
	if err != nil {
		t.Fatal(err)
	}
	after, err := Check(path, damageOpts)
	if err != nil {
		t.Fatalf("Check of the compacted copy: %v", err)
	}
	if after.Pages >= before.Pages {
		t.Fatalf("compacted copy has %d pages, the original %d: nothing was compacted", after.Pages, before.Pages)
	}
	s := openTestStore(t, path, damageOpts)
	if diff := stateDiff(rf.last, readState(t, s)); diff != "" {
		t.Fatalf("state (-want +got):\n%s", diff)
	}
}
