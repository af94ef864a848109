package tailer

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// A consumer that releases every batch gets every line exactly once and
// intact, although the tailer reuses the released memory for later lines,
// long lines (their own block) included; the last batch of a burst is Idle.
func TestReleaseReusesMemoryWithoutCorruption(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "mail.log")
	var want []string
	var b strings.Builder
	for i := 0; i < 20000; i++ {
		l := fmt.Sprintf("line %d %s", i, strings.Repeat("x", i%300))
		if i%5000 == 7 {
			l += strings.Repeat("y", arenaSize+100) // longer than a block
		}
		want = append(want, l)
		b.WriteString(l + "\n")
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	tl, err := New(Config{Inputs: []string{path}, PollInterval: 20 * time.Millisecond, Logger: zerolog.New(zerolog.NewTestWriter(t))}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := make(chan Batch, 4)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tl.Run(ctx, out)
	}()
	var got []string
	idle := false
	deadline := time.After(waitDeadline)
	for len(got) < len(want) || !idle {
		select {
		case bt := <-out:
			for _, l := range bt.Lines {
				if l.Kind == LineKind {
					got = append(got, strings.Clone(l.Text))
				}
			}
			idle = bt.Idle
			tl.Release(bt)
		case <-deadline:
			t.Fatalf("got %d of %d lines (idle %v)", len(got), len(want), idle)
		}
	}
	cancel()
	<-done
	if len(got) != len(want) {
		t.Fatalf("got %d lines, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("line %d: got %.40q…, want %.40q…", i, got[i], want[i])
		}
	}
	if n := len(tl.free); n == 0 {
		t.Error("no released buffer was kept for reuse")
	}
}
