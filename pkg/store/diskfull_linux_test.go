package store

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestApplyCommitFailure makes a real commit fail the way a full disk does:
// with RLIMIT_FSIZE at the current file size, growing the file fails with
// EFBIG (Go ignores SIGXFSZ). The failed Apply must change nothing, and the
// same batch must apply exactly once when space is back. The limit is
// process-wide, so this test must not run in parallel with others.
func TestApplyCommitFailure(t *testing.T) {
	s := newTestStore(t)
	first := NewBatch()
	first.Add(t0, delivered1)
	first.Positions["maillog"] = []byte("100")
	mustApply(t, s, first)
	before := readState(t, s)

	// Big enough that the commit must grow the file.
	big := NewBatch()
	for i := range 5000 {
		big.Add(t0.Add(time.Duration(i)*time.Minute), ppDeferred)
	}
	big.AddReply(t0, Reply{SourceIP: "192.0.2.1", RecipientDomain: "example.com", Response: "421 deferred"})
	big.Positions["maillog"] = []byte("5100")

	size, err := s.Size()
	if err != nil {
		t.Fatal(err)
	}
	var orig syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &orig); err != nil {
		t.Fatal(err)
	}
	limited := orig
	limited.Cur = uint64(size)
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &limited); err != nil {
		t.Skipf("cannot lower RLIMIT_FSIZE: %v", err)
	}
	restore := func() {
		if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &orig); err != nil {
			t.Fatalf("restore RLIMIT_FSIZE: %v", err)
		}
	}
	err = s.Apply(big)
	restore()
	// bbolt formats the resize error with %s, so match the text of EFBIG.
	if err == nil || !strings.Contains(err.Error(), syscall.EFBIG.Error()) {
		t.Fatalf("Apply with a full file = %v, want %q", err, syscall.EFBIG.Error())
	}
	if diff := cmp.Diff(before, readState(t, s)); diff != "" {
		t.Fatalf("failed commit changed the store (-before +after):\n%s", diff)
	}

	// Space is back: the caller retries the same batch.
	mustApply(t, s, big)
	s = reopen(t, s)
	got := readState(t, s)
	if n := got.Totals[ppDeferred]; n != 5000 {
		t.Errorf("total = %d, want 5000", n)
	}
	if n := len(got.Cells); n != 5001 {
		t.Errorf("cells = %d, want 5001", n)
	}
	if p := string(got.Positions["maillog"]); p != "5100" {
		t.Errorf("position = %q, want 5100", p)
	}
	if len(got.Replies) != 1 || got.Replies[0].Count != 1 {
		t.Errorf("replies = %+v, want one with count 1", got.Replies)
	}
}
