package tailer

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// A quiet host: the log is empty when ppwatch last looks, gets lines, and is
// copied and truncated. An empty file's fingerprint matches any content, so
// the copy can be told only by being rotated next to it after it was seen
// empty. Each case runs with the real logrotate and with the same syscalls
// done by hand (a copy, then a truncation).
var copytruncates = []struct {
	name   string
	rotate func(t *testing.T, log string)
}{
	{"logrotate", func(t *testing.T, log string) { logrotate(t, log, "rotate 5", "copytruncate") }},
	{"syscalls", func(t *testing.T, log string) {
		copyFile(t, log, log+".1")
		if err := os.Truncate(log, 0); err != nil {
			t.Fatal(err)
		}
	}},
}

// seenEmpty follows the empty log until it has said so, stops, and returns
// what the caller committed: the Open, with the time the file was empty.
func seenEmpty(t *testing.T, log string) map[string]Position {
	t.Helper()
	if err := os.WriteFile(log, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// An mtime clearly before the rotation to come: file times are coarse.
	past := time.Now().Add(-time.Minute)
	if err := os.Chtimes(log, past, past); err != nil {
		t.Fatal(err)
	}
	h := startTailer(t, Config{Inputs: []string{log}}, nil, true)
	ev := h.waitFor("open", func(ev []Line) bool { return countKind(ev, OpenKind) == 1 })
	h.stop()
	saved := commit(t, nil, ev)
	if got := saved[log]; got.ID.FPLen != 0 || !got.EmptySince.Equal(past.Truncate(0)) {
		t.Fatalf("committed %+v, want the empty file since %v", got, past)
	}
	return saved
}

func TestEmptyFileCopytruncatedWhileStopped(t *testing.T) {
	for _, ct := range copytruncates {
		t.Run(ct.name, func(t *testing.T) {
			log := filepath.Join(t.TempDir(), "maillog")
			saved := seenEmpty(t, log)
			appendLines(t, log, "a", 1, 20)
			ct.rotate(t, log)
			appendLines(t, log, "a", 21, 30)

			h := startTailer(t, Config{Inputs: []string{log}}, saved, true)
			h.waitLines(30)
			h.settle()
			ev := h.snapshot()
			checkLines(t, seq(1, 30), ev)
			// The copy's lines, then the key moves to the file at 0.
			for _, l := range ev[:20] {
				if l.Path != log+".1" || l.Kind != LineKind {
					t.Fatalf("event %+v: want the copy's lines first", l)
				}
			}
			if l := ev[20]; l.Kind != OpenKind || l.Path != log || l.Pos.Offset != 0 {
				t.Errorf("event %+v: want an Open of the file at 0", l)
			}
			want := map[string]Position{log: posOf(t, log, log)}
			checkPositions(t, want, commit(t, saved, ev))
			checkStats(t, h, Stats{})

			// Nothing is read again.
			h = startTailer(t, Config{Inputs: []string{log}}, want, true)
			h.settle()
			checkLines(t, nil, h.snapshot())
			checkStats(t, h, Stats{})
		})
	}
}

// Twice over a weekend, the older copy compressed (logrotate's compress
// with delaycompress): both copies, oldest first, then the file.
func TestEmptyFileCopytruncatedTwiceWhileStopped(t *testing.T) {
	log := filepath.Join(t.TempDir(), "maillog")
	saved := seenEmpty(t, log)
	appendLines(t, log, "a", 1, 20)
	logrotate(t, log, "rotate 5", "copytruncate", "compress", "delaycompress")
	time.Sleep(20 * time.Millisecond) // the second rotation a few file-clock ticks later
	appendLines(t, log, "a", 21, 30)
	logrotate(t, log, "rotate 5", "copytruncate", "compress", "delaycompress")
	appendLines(t, log, "a", 31, 35)
	if _, err := os.Stat(log + ".2.gz"); err != nil {
		t.Fatal(err)
	}

	h := startTailer(t, Config{Inputs: []string{log}}, saved, true)
	h.waitLines(35)
	h.settle()
	ev := h.snapshot()
	checkLines(t, seq(1, 35), ev)
	checkPositions(t, map[string]Position{log: posOf(t, log, log)}, commit(t, saved, ev))
	checkStats(t, h, Stats{})
}

// While running: lines arrive and the file is copied and truncated between
// two looks, so the tailer never saw anything of it.
func TestEmptyFileCopytruncatedWithinPoll(t *testing.T) {
	for _, ct := range copytruncates {
		t.Run(ct.name, func(t *testing.T) {
			log := filepath.Join(t.TempDir(), "maillog")
			if err := os.WriteFile(log, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			past := time.Now().Add(-time.Minute)
			if err := os.Chtimes(log, past, past); err != nil {
				t.Fatal(err)
			}
			h := startTailer(t, Config{Inputs: []string{log}}, nil, true)
			h.settle()
			appendLines(t, log, "a", 1, 20)
			ct.rotate(t, log)
			appendLines(t, log, "a", 21, 25)
			h.tick()
			appendLines(t, log, "a", 26, 30)
			h.waitLines(30)
			h.settle()
			ev := h.snapshot()
			checkLines(t, seq(1, 30), ev)
			want := map[string]Position{log: posOf(t, log, log)}
			checkPositions(t, want, commit(t, nil, ev))
			checkStats(t, h, Stats{Truncations: 1})

			// A crash right after the copy was read: the key names the
			// truncated file at 0, and nothing is read twice.
			h.stop()
			var upToCopy []Line
			for _, l := range ev {
				upToCopy = append(upToCopy, l)
				if l.Kind == OpenKind && l.Path == log && len(upToCopy) > 1 {
					break
				}
			}
			if n := len(lineNums(upToCopy)); n != 20 {
				t.Fatalf("%d lines before the Open of the truncated file, want 20", n)
			}
			h = startTailer(t, Config{Inputs: []string{log}}, commit(t, nil, upToCopy), true)
			h.waitLines(10)
			h.settle()
			checkLines(t, seq(21, 30), h.snapshot())
			checkStats(t, h, Stats{})
		})
	}
}

// Truncated with no copy kept (logrotate's rotate 0 deletes it): what the
// empty file got is gone, and counted as lost; the lines after are read.
func TestEmptyFileTruncatedWithoutCopy(t *testing.T) {
	for _, tc := range []struct {
		name   string
		rotate func(t *testing.T, log string)
	}{
		{"logrotate", func(t *testing.T, log string) { logrotate(t, log, "rotate 0", "copytruncate") }},
		{"syscalls", func(t *testing.T, log string) {
			if err := os.Truncate(log, 0); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name+"/stopped", func(t *testing.T) {
			log := filepath.Join(t.TempDir(), "maillog")
			saved := seenEmpty(t, log)
			appendLines(t, log, "a", 1, 20)
			tc.rotate(t, log)
			if matches, _ := filepath.Glob(log + ".*"); len(matches) != 0 {
				t.Fatalf("copies left: %v", matches)
			}
			h := startTailer(t, Config{Inputs: []string{log}}, saved, true)
			h.settle()
			appendLines(t, log, "a", 21, 30)
			h.waitLines(10)
			h.settle()
			ev := h.snapshot()
			checkLines(t, seq(21, 30), ev)
			checkPositions(t, map[string]Position{log: posOf(t, log, log)}, commit(t, saved, ev))
			checkStats(t, h, Stats{LostFiles: 1})
		})
		t.Run(tc.name+"/running", func(t *testing.T) {
			log := filepath.Join(t.TempDir(), "maillog")
			if err := os.WriteFile(log, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			past := time.Now().Add(-time.Minute)
			if err := os.Chtimes(log, past, past); err != nil {
				t.Fatal(err)
			}
			h := startTailer(t, Config{Inputs: []string{log}}, nil, true)
			h.settle()
			appendLines(t, log, "a", 1, 20)
			tc.rotate(t, log)
			h.tick()
			appendLines(t, log, "a", 21, 30)
			h.waitLines(10)
			h.settle()
			ev := h.snapshot()
			checkLines(t, seq(21, 30), ev)
			checkPositions(t, map[string]Position{log: posOf(t, log, log)}, commit(t, nil, ev))
			checkStats(t, h, Stats{LostFiles: 1})
		})
	}
}

// The Open of an empty file carries the time it was seen empty, and keeps
// it through the caller's encoding.
func TestOpenCarriesEmptySince(t *testing.T) {
	log := filepath.Join(t.TempDir(), "maillog")
	saved := seenEmpty(t, log)
	st, err := os.Stat(log)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(st.ModTime().UTC(), saved[log].EmptySince); diff != "" {
		t.Errorf("EmptySince (-want +got):\n%s", diff)
	}
}
