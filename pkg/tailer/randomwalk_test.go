package tailer

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// Seeded random walks over what a log goes through: whole and partial lines,
// rename rotations with the writer still on the old file for a moment,
// polls, and crashes at a random point of what was handed over, followed by
// a restart from the positions committed up to there. Over the committed
// history every complete line is delivered exactly once. A failing seed
// is printed and can be run alone with -run 'TestRandomWalk/seed=N'.
func TestRandomWalk(t *testing.T) {
	seeds := 40
	if testing.Short() {
		seeds = 5
	}
	for seed := 1; seed <= seeds; seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) { randomWalk(t, uint64(seed), 200) })
	}
}

func randomWalk(t *testing.T, seed uint64, steps int) {
	rng := rand.New(rand.NewPCG(seed, 0))
	dir := t.TempDir()
	log := filepath.Join(dir, "mail.log")
	cfg := Config{Inputs: []string{log}}
	live := openAppend(t, log)
	var old *os.File // the renamed file, until the writer lets go of it
	n := 0           // lines begun
	partial := ""    // the rest of a line begun without its newline
	rotations := 0
	polls := 2 // since the last rotation
	saved := map[string]Position{}
	// Run looks at the files when its goroutine gets to it: a poll makes
	// sure it has, before anything more happens to them.
	start := func() *harness {
		h := startTailer(t, cfg, saved, true)
		h.tick()
		return h
	}
	h := start()
	var got []int // line numbers in the committed history
	var trace []string

	write := func(f *os.File, s string) {
		if _, err := f.WriteString(s); err != nil {
			t.Fatal(err)
		}
	}
	finishPartial := func() {
		if partial != "" {
			write(live, partial+"\n")
			partial = ""
		}
	}
	// A rotated file's last write is older than the next one's: log
	// generations are hours apart, not the microseconds of this test.
	genTime := time.Now().Add(-24 * time.Hour)
	letGo := func() {
		if old != nil {
			old.Close()
			old = nil
			name := fmt.Sprintf("%s-%04d", log, rotations)
			if err := os.Chtimes(name, genTime.Add(time.Duration(rotations)*time.Second), genTime.Add(time.Duration(rotations)*time.Second)); err != nil {
				t.Fatal(err)
			}
		}
	}
	for range steps {
		switch a := rng.IntN(10); {
		case a < 3:
			k := 1 + rng.IntN(40)
			trace = append(trace, fmt.Sprintf("write %d", k))
			finishPartial()
			writeLines(t, live, "w", n+1, n+k)
			n += k
		case a == 3 && partial == "":
			n++
			text := lineText("w", n)
			cut := 1 + rng.IntN(len(text)-1)
			trace = append(trace, fmt.Sprintf("half line %d", n))
			write(live, text[:cut])
			partial = text[cut:]
		case a == 4 && old != nil:
			k := 1 + rng.IntN(10)
			trace = append(trace, fmt.Sprintf("write %d to the renamed file", k))
			writeLines(t, old, "w", n+1, n+k)
			n += k
		case a == 5 && polls >= 2 && rotations < maxRotated:
			// The tailer sees a rename at a poll, finishes the old file
			// once it stayed quiet for the next and only then opens the
			// new one: a file renamed away again before that is never
			// seen (the package doc says so).
			rotations++
			trace = append(trace, "rotate")
			finishPartial()
			letGo()
			mustRename(t, log, fmt.Sprintf("%s-%04d", log, rotations))
			old, live = live, openAppend(t, log)
			polls = 0
		case a == 6 || a == 7:
			trace = append(trace, "poll")
			h.tick()
			letGo()
			polls++
		case a == 8:
			ev := h.snapshot()
			c := rng.IntN(len(ev) + 1)
			// An empty file is known only by its Open event: were the
			// lines written to it, and it rotated away, before the caller
			// committed that, no restart could know of them. The daemon
			// commits it as soon as the files have been read to the end,
			// so the crash comes after that.
			for i := len(ev) - 1; i >= c; i-- {
				if ev[i].Kind == OpenKind {
					c = i + 1
					break
				}
			}
			trace = append(trace, fmt.Sprintf("crash after %d of %d events, restart", c, len(ev)))
			got = append(got, lineNums(ev[:c])...)
			saved = commit(t, saved, ev[:c])
			h.stop()
			letGo()
			h = start()
			polls++
		}
	}
	finishPartial()
	h.settle()
	got = append(got, lineNums(h.snapshot())...)
	slices.Sort(got)
	if want := seq(1, n); !slices.Equal(got, want) {
		t.Errorf("seed %d: got %d lines %s, want %d %s\nsteps: %v", seed, len(got), compact(got), len(want), compact(want), trace)
	}
}
