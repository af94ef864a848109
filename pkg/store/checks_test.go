package store

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"
)

var checksT0 = time.Date(2026, 3, 1, 2, 10, 0, 0, time.UTC)

// byTarget puts states and changes in the order of their check, target and
// time; the store promises only a target's changes in time order.
func byTarget[T CheckState | CheckChange](xs []T) []T {
	key := func(x T) string {
		switch x := any(x).(type) {
		case CheckState:
			return x.Key.Check + " " + x.Key.Target
		case CheckChange:
			return fmt.Sprintf("%s %s %020d", x.Key.Check, x.Key.Target, x.Time.UnixMicro())
		}
		return ""
	}
	slices.SortStableFunc(xs, func(a, b T) int { return strings.Compare(key(a), key(b)) })
	return xs
}

// The latest states replace those of their keys, the changes add up, and
// both come back as saved after a restart, in key and time order.
func TestChecksRoundTrip(t *testing.T) {
	s := newTestStore(t)
	if got, err := s.Checks(); err != nil || got != nil {
		t.Fatalf("before any save: %v, %v", got, err)
	}
	spf := CheckKey{"spf", "198.51.100.7 for example.com"}
	ptr := CheckKey{"ptr", "192.0.2.1"}
	long := CheckKey{"dkim", strings.Repeat("s", 300) + "._domainkey.example.com"} // past a 255-byte field
	t1, t2 := checksT0, checksT0.Add(90*time.Minute)
	err := s.SaveChecks([]CheckState{{spf, t1, []byte("fail")}, {ptr, t1, []byte("pass")}, {long, t1, []byte("pass")}},
		[]CheckChange{{spf, t1, []byte("->fail")}, {ptr, t1, []byte("->pass")}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SaveChecks([]CheckState{{spf, t2, []byte("pass")}}, []CheckChange{{spf, t2, []byte("fail->pass")}}); err != nil {
		t.Fatal(err)
	}
	s = reopen(t, s)
	states, err := s.Checks()
	if err != nil {
		t.Fatal(err)
	}
	want := []CheckState{{long, t1, []byte("pass")}, {ptr, t1, []byte("pass")}, {spf, t2, []byte("pass")}}
	if d := cmp.Diff(want, byTarget(states)); d != "" {
		t.Errorf("states (-want +got):\n%s", d)
	}
	changes, err := s.CheckChanges()
	if err != nil {
		t.Fatal(err)
	}
	wantChanges := []CheckChange{{ptr, t1, []byte("->pass")}, {spf, t1, []byte("->fail")}, {spf, t2, []byte("fail->pass")}}
	if d := cmp.Diff(wantChanges, byTarget(changes)); d != "" {
		t.Errorf("changes (-want +got):\n%s", d)
	}

	// ppwatch state check reads and counts the new buckets like the others.
	path := s.Path()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := Check(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Records["checks"] != 3 || r.Records["check_changes"] != 3 {
		t.Errorf("records %v, want checks 3 and check_changes 3", r.Records)
	}
	openTestStore(t, path, Options{})
}

// PruneChecks keeps per target the newest MaxCheckChanges changes younger
// than CheckHistory, always the newest change, and drops a target not
// checked within CheckHistory whole.
func TestPruneChecks(t *testing.T) {
	s := newTestStore(t)
	now := checksT0.Add(2 * CheckHistory)
	flappy := CheckKey{"spf", "192.0.2.1 for example.com"}
	steady := CheckKey{"dmarc", "example.com"}
	gone := CheckKey{"ptr", "192.0.2.9"}
	var states []CheckState
	var changes []CheckChange
	// 1005 changes of flappy, one a minute up to now; the oldest 5 go.
	for i := range MaxCheckChanges + 5 {
		changes = append(changes, CheckChange{flappy, now.Add(-time.Duration(MaxCheckChanges+5-i) * time.Minute), []byte(fmt.Sprint(i))})
	}
	states = append(states, CheckState{flappy, now, []byte("x")})
	// steady changed twice, long ago: the newest change still says since when.
	changes = append(changes, CheckChange{steady, checksT0, []byte("->fail")}, CheckChange{steady, checksT0.Add(time.Hour), []byte("fail->pass")})
	states = append(states, CheckState{steady, now, []byte("pass")})
	// gone was last checked before the history's start.
	changes = append(changes, CheckChange{gone, checksT0, []byte("->pass")})
	states = append(states, CheckState{gone, now.Add(-CheckHistory - time.Second), []byte("pass")})
	if err := s.SaveChecks(states, changes); err != nil {
		t.Fatal(err)
	}
	n, err := s.PruneChecks(now)
	if err != nil {
		t.Fatal(err)
	}
	if n != 5+1+2 {
		t.Errorf("deleted %d, want 8 (5 of flappy's changes, steady's older one, gone's state and change)", n)
	}
	got, err := s.CheckChanges()
	if err != nil {
		t.Fatal(err)
	}
	var want []CheckChange
	want = append(want, CheckChange{steady, checksT0.Add(time.Hour), []byte("fail->pass")})
	want = append(want, changes[5:MaxCheckChanges+5]...)
	byTarget(want)
	if d := cmp.Diff(want, byTarget(got)); d != "" {
		t.Errorf("changes (-want +got):\n%s", d)
	}
	left, err := s.Checks()
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]CheckState{states[1], states[0]}, byTarget(left)); d != "" {
		t.Errorf("states (-want +got):\n%s", d)
	}
	if n, err := s.PruneChecks(now); n != 0 || err != nil {
		t.Errorf("second prune: %d, %v", n, err)
	}
}

// A check record whose key or time cannot be read refuses the file at
// Open, as any record does; repair drops it and says what that costs.
func TestRefusesUndecodableCheckRecords(t *testing.T) {
	tests := []struct {
		bucket  []byte
		key     []byte
		value   []byte
		wantMsg string
	}{
		{checksName, []byte{9, 's', 'p', 'f'}, make([]byte, 8), "bucket checks key 09737066: corrupt record"},
		{checksName, appendCheckKey(nil, CheckKey{"spf", "example.com"}), []byte{1, 2}, "bucket checks key 037370660b6578616d706c652e636f6d: value of 2 bytes: corrupt record"},
		{checkChangesName, []byte{3, 's', 'p', 'f'}, nil, "bucket check_changes key 03737066: corrupt record"},
	}
	for _, tt := range tests {
		t.Run(tt.wantMsg, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ppwatch.db")
			s := openTestStore(t, path, Options{})
			key := CheckKey{"dmarc", "example.com"}
			if err := s.SaveChecks([]CheckState{{key, checksT0, []byte("pass")}}, []CheckChange{{key, checksT0, []byte("->pass")}}); err != nil {
				t.Fatal(err)
			}
			err := s.update(func(tx *bolt.Tx) error { return tx.Bucket(tt.bucket).Put(tt.key, tt.value) })
			if err != nil {
				t.Fatal(err)
			}
			// A commit after it, so that the commit before the last has it
			// too and repair cannot copy a whole one instead.
			if err := s.SaveChecks(nil, nil); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s, err = Open(path, Options{})
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("Open = %v, want ErrDamaged with %q", err, tt.wantMsg)
			}
			rep, err := Repair(path, path+".repaired", Options{})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Dropped[string(tt.bucket)] != 1 || rep.Saved["checks"] != 1 || rep.Saved["check_changes"] != 1 {
				t.Errorf("saved %v, dropped %v", rep.Saved, rep.Dropped)
			}
			const loss = "sender checks: some results or changes could not be read; the history of those checks misses them (the checks themselves run again)"
			if !cmp.Equal(rep.Losses, []string{loss}) {
				t.Errorf("losses %q", rep.Losses)
			}
			s = openTestStore(t, path+".repaired", Options{})
			if got, err := s.CheckChanges(); err != nil || !cmp.Equal(got, []CheckChange{{key, checksT0, []byte("->pass")}}) {
				t.Errorf("repaired changes %v, %v", got, err)
			}
		})
	}
}
