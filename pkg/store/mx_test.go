package store

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"
)

// MX verdicts are kept by domain, replaced, dropped, and there after a
// restart; a record the store cannot decode is damage Check names.
func TestMXRoundTrip(t *testing.T) {
	s := newTestStore(t)
	if got, err := s.LoadMX(); err != nil || got != nil {
		t.Fatalf("before any save: %v, %v", got, err)
	}
	at := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	pp := MXVerdict{Domain: "acme.example", Proofpoint: true, Checked: at, Expires: at.Add(time.Hour)}
	plain := MXVerdict{Domain: "gmail.example", Checked: at, Expires: at.Add(24 * time.Hour)}
	gone := MXVerdict{Domain: "old.example", Checked: at.Add(-48 * time.Hour), Expires: at.Add(-24 * time.Hour)}
	if err := s.SaveMX([]MXVerdict{plain, pp, gone, {Domain: strings.Repeat("x", 256)}}, nil); err != nil {
		t.Fatal(err)
	}
	again := pp
	again.Checked, again.Expires = at.Add(time.Hour), at.Add(2*time.Hour)
	if err := s.SaveMX([]MXVerdict{again}, []string{"old.example", "never.example"}); err != nil {
		t.Fatal(err)
	}
	s = reopen(t, s)
	got, err := s.LoadMX()
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]MXVerdict{again, plain}, got); d != "" {
		t.Errorf("after reopen (-want +got):\n%s", d)
	}

	if err := s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(mxName).Put([]byte("bad.example"), []byte{2}) }); err != nil {
		t.Fatal(err)
	}
	// A record that cannot be decoded is a damaged file, as in every
	// other bucket: the file is refused at open (Check), with repair as
	// the way out, which copies the readable verdicts.
	if _, err := s.LoadMX(); !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), `domain "bad.example": mx verdict of 1 bytes: corrupt record`) {
		t.Errorf("bad record: %v", err)
	}
	path := s.path
	s.Close()
	r, err := Check(path, Options{})
	if err == nil || !errors.Is(err, ErrDamaged) || r == nil || !strings.Contains(err.Error(), "mx") {
		t.Errorf("Check: %v", err)
	}
	rep, err := Repair(path, path+".repaired", Options{})
	if err != nil {
		t.Fatal(err)
	}
	// The bad record came with the last commit: repair copies the one
	// before it, whole.
	if !strings.Contains(rep.Summary(), "saved:    meta 1 mx 2\n") {
		t.Errorf("repair summary:\n%s", rep.Summary())
	}
	s = openTestStore(t, path+".repaired", Options{Timeout: time.Second})
	if got, err := s.LoadMX(); err != nil || cmp.Diff([]MXVerdict{again, plain}, got) != "" {
		t.Errorf("repaired: %v %v", got, err)
	}
}
