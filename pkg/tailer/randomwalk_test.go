package tailer

import (
	"bytes"
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
// copytruncate, compression of rotated files, polls, and crashes at a random
// point of what was handed over, followed by a restart from the positions
// committed up to there. Over the committed
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
	// A log is rotated one way: by rename (logrotate's create), or by
	// copytruncate, whose file is never new and so never empty when first
	// seen (a file known by no byte cannot be told truncated).
	copytruncate := seed%2 == 0
	if copytruncate {
		n++
		writeLines(t, live, "w", 1, 1)
	}
	partial := "" // the rest of a line begun without its newline
	rotations := 0
	polls := 2 // since the last rotation
	rewrittenSinceCommit := false
	saved := map[string]Position{}
	// Run looks at the files when its goroutine gets to it: a poll makes
	// sure it has, before anything more happens to them.
	size := func(path string) int64 {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return st.Size()
	}
	// noLineAtPoll: the live file held no whole line when the tailer last
	// looked.
	noLineAtPoll := true
	looked := func() {
		b, err := os.ReadFile(log)
		if err != nil {
			t.Fatal(err)
		}
		noLineAtPoll = !bytes.Contains(b, []byte("\n"))
	}
	start := func() *harness {
		h := startTailer(t, cfg, saved, true)
		h.tick()
		looked()
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
	var rotated []string // plain rotated files nobody writes any more, oldest first
	settle := func(name string) {
		at := genTime.Add(time.Duration(rotations) * time.Second)
		if err := os.Chtimes(name, at, at); err != nil {
			t.Fatal(err)
		}
		rotated = append(rotated, name)
	}
	letGo := func() {
		if old != nil {
			old.Close()
			old = nil
			settle(fmt.Sprintf("%s-%04d", log, rotations))
		}
	}
	for range steps {
		switch a := rng.IntN(12); {
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
		case (a == 5 || a == 9) && copytruncate && polls >= 2 && rotations < maxRotated && !(noLineAtPoll && size(log) > 0):
			// (A file that held no whole line at the last poll, copied and
			// truncated since, is known to the tailer by a few bytes that
			// the next lines may start with as well: it cannot tell it
			// truncated. The package doc says so.)
			// copytruncate, with no write between the copy and the
			// truncation (what a rotator loses there is its own loss).
			rotations++
			trace = append(trace, "copytruncate")
			finishPartial()
			letGo()
			name := fmt.Sprintf("%s-%04d", log, rotations)
			b, err := os.ReadFile(log)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(name, b, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := live.Truncate(0); err != nil {
				t.Fatal(err)
			}
			settle(name)
			polls = 0
			rewrittenSinceCommit = true
		case a == 10 && len(rotated) > 0 && !copytruncate:
			// Compress the oldest rotated file, keeping its time as gzip does.
			name := rotated[0]
			rotated = rotated[1:]
			trace = append(trace, "compress "+filepath.Base(name))
			st, err := os.Stat(name)
			if err != nil {
				t.Fatal(err)
			}
			gzipFile(t, name, name+".gz")
			rewrittenSinceCommit = true
			if err := os.Chtimes(name+".gz", st.ModTime(), st.ModTime()); err != nil {
				t.Fatal(err)
			}
		case a == 5 && !copytruncate && polls >= 2 && rotations < maxRotated:
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
			looked()
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
			// Likewise a file never committed at all: were it copied and
			// truncated, its copy could be an old, counted generation as
			// well as an unread one.
			if _, ok := saved[log]; !ok && c == 0 && len(ev) > 0 {
				c = 1
			}
			// And a file that held less than a line when last committed is
			// known by its inode and those few bytes alone, which the next
			// lines may start with too: copied and truncated, or compressed
			// into a new file, it cannot be told apart (the package doc
			// says so). No crash then.
			if p, ok := commit(t, saved, ev[:c])[log]; rewrittenSinceCommit && ok && p.ID.FPLen < len(lineText("w", 1))+1 {
				trace = append(trace, "no crash: committed file shorter than a line")
				continue
			}
			rewrittenSinceCommit = false
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
