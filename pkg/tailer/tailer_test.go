package tailer

import (
	"compress/gzip"
	"crypto/sha256"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func checkLines(t *testing.T, want []int, ev []Line) {
	t.Helper()
	if diff := cmp.Diff(want, lineNums(ev)); diff != "" {
		t.Errorf("line numbers (-want +got):\n%s", diff)
	}
}

func checkPositions(t *testing.T, want, got map[string]Position) {
	t.Helper()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("committed positions (-want +got):\n%s", diff)
	}
}

func checkStats(t *testing.T, h *harness, want Stats) {
	t.Helper()
	if diff := cmp.Diff(want, h.tl.Stats()); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func gzipFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(f)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(from); err != nil {
		t.Fatal(err)
	}
}

func mustRename(t *testing.T, from, to string) {
	t.Helper()
	if err := os.Rename(from, to); err != nil {
		t.Fatal(err)
	}
}

// logrotate's default (create): the writer keeps its descriptor for a while
// after the rename and writes to the renamed file, then reopens.
func TestRenameCreateRotationWhileWriting(t *testing.T) {
	log := filepath.Join(t.TempDir(), "maillog")
	w := openAppend(t, log)
	writeLines(t, w, "a", 1, 20)
	h := startTailer(t, Config{Inputs: []string{log}}, nil, true)
	h.waitLines(20)
	n := 20
	for range 5 {
		h.waitLines(n)                   // the tailer follows the current file
		writeLines(t, w, "a", n+1, n+10) // not read yet when the rename comes
		mustRename(t, log, log+".1")
		writeLines(t, w, "a", n+11, n+15) // the writer has not reopened yet
		h.tick()                          // the tailer sees the rename here
		writeLines(t, w, "a", n+16, n+20)
		w.Close()
		w = openAppend(t, log)
		writeLines(t, w, "a", n+21, n+30)
		n += 30
	}
	h.waitLines(n)
	h.settle()
	ev := h.snapshot()
	checkLines(t, seq(1, n), ev)
	checkPositions(t, map[string]Position{log: posOf(t, log, log)}, commit(t, nil, ev))
	checkStats(t, h, Stats{Rotations: 5})
}

// copytruncate: the lines written after our offset are in the copy, the
// truncated file starts again from 0.
func TestCopytruncateWhileWriting(t *testing.T) {
	log := filepath.Join(t.TempDir(), "maillog")
	w := openAppend(t, log)
	writeLines(t, w, "a", 1, 30)
	h := startTailer(t, Config{Inputs: []string{log}}, nil, true)
	h.waitLines(30)
	writeLines(t, w, "a", 31, 50) // not read yet when the copy is made
	copyFile(t, log, log+".1")
	if err := os.Truncate(log, 0); err != nil {
		t.Fatal(err)
	}
	writeLines(t, w, "a", 51, 55) // fewer bytes than the offset we had
	h.tick()
	writeLines(t, w, "a", 56, 100)
	h.waitLines(100)
	h.settle()
	ev := h.snapshot()
	checkLines(t, seq(1, 100), ev)
	if got := countKind(ev, HeaderKind); got != 1 {
		t.Errorf("got %d headers, want 1 (from the copy)", got)
	}
	checkPositions(t, map[string]Position{log: posOf(t, log, log)}, commit(t, nil, ev))
	checkStats(t, h, Stats{Truncations: 1})
}

// A truncation followed by regrowth past our offset between two polls is
// invisible to a size check; the fingerprint of the first bytes sees it.
func TestTruncateAndRegrowFasterThanPoll(t *testing.T) {
	log := filepath.Join(t.TempDir(), "maillog")
	w := openAppend(t, log)
	writeLines(t, w, "a", 1, 10)
	h := startTailer(t, Config{Inputs: []string{log}}, nil, true)
	h.waitLines(10)
	n, inFile := 10, 10
	const rounds = 20
	for range rounds {
		if err := os.Truncate(log, 0); err != nil {
			t.Fatal(err)
		}
		grow := inFile + 3 // more bytes than the offset the tailer is at
		writeLines(t, w, "a", n+1, n+grow)
		n, inFile = n+grow, grow
		h.waitLines(n)
	}
	h.settle()
	ev := h.snapshot()
	checkLines(t, seq(1, n), ev)
	checkPositions(t, map[string]Position{log: posOf(t, log, log)}, commit(t, nil, ev))
	checkStats(t, h, Stats{Truncations: rounds})
}

// Between two runs the file is rotated, its rest read from name.1.gz, then
// the new file from 0.
func TestRotateAndCompressWhileStopped(t *testing.T) {
	log := filepath.Join(t.TempDir(), "maillog")
	appendLines(t, log, "a", 1, 50)
	saved := firstRun(t, Config{Inputs: []string{log}}, 50)
	oldID := saved[log].ID

	appendLines(t, log, "a", 51, 80)
	mustRename(t, log, log+".1")
	gzipFile(t, log+".1", log+".1.gz")
	appendLines(t, log, "a", 81, 100)

	h := startTailer(t, Config{Inputs: []string{log}}, saved, true)
	h.waitLines(50)
	h.settle()
	ev := h.snapshot()
	checkLines(t, seq(51, 100), ev)
	// The key moves from the finished file to the new one at once (Open,
	// not Gone): no committed prefix leaves it naming nothing.
	wantKinds := cat2(HeaderKind, rep(LineKind, 30), OpenKind, rep(LineKind, 20))
	if diff := cmp.Diff(wantKinds, kinds(ev)); diff != "" {
		t.Errorf("kinds (-want +got):\n%s", diff)
	}
	wantHeader := Line{Kind: HeaderKind, Input: log, Path: log + ".1.gz", Text: lineText("a", 1), Pos: Position{Path: log, ID: oldID, Offset: 50 * 14}}
	if diff := cmp.Diff(wantHeader, ev[0]); diff != "" {
		t.Errorf("header (-want +got):\n%s", diff)
	}
	checkPositions(t, map[string]Position{log: posOf(t, log, log)}, commit(t, saved, ev))
	checkStats(t, h, Stats{})
}

// A crash in the middle of finishing a compressed rotated file: the next start
// finds it again and goes on from the last committed line.
func TestCrashWhileFinishingCompressedRotation(t *testing.T) {
	log := filepath.Join(t.TempDir(), "maillog")
	appendLines(t, log, "a", 1, 50)
	saved := firstRun(t, Config{Inputs: []string{log}}, 50)
	appendLines(t, log, "a", 51, 80)
	mustRename(t, log, log+".1")
	gzipFile(t, log+".1", log+".1.gz")
	appendLines(t, log, "a", 81, 100)

	h := startTailer(t, Config{Inputs: []string{log}}, saved, true)
	ev := h.waitLines(50)
	h.stop()
	// The caller committed the header and 12 lines before it was killed.
	saved = commit(t, saved, ev[:13])
	checkLines(t, seq(51, 62), ev[:13])

	h = startTailer(t, Config{Inputs: []string{log}}, saved, true)
	h.waitLines(38)
	h.settle()
	ev = h.snapshot()
	checkLines(t, seq(63, 100), ev)
	checkPositions(t, map[string]Position{log: posOf(t, log, log)}, commit(t, saved, ev))
	checkStats(t, h, Stats{})
}

// Between two runs the file is rotated to name.1 and more was written to it
// first.
func TestRotationWhileStoppedWithDotOne(t *testing.T) {
	testRotationWhileStopped(t, ".1")
}

// logrotate dateext names.
func TestRotationWhileStoppedWithDateext(t *testing.T) {
	testRotationWhileStopped(t, "-20240101")
}

func testRotationWhileStopped(t *testing.T, suffix string) {
	log := filepath.Join(t.TempDir(), "maillog")
	appendLines(t, log, "a", 1, 50)
	saved := firstRun(t, Config{Inputs: []string{log}}, 50)

	appendLines(t, log, "a", 51, 80)
	mustRename(t, log, log+suffix)
	appendLines(t, log, "b", 1, 20)

	h := startTailer(t, Config{Inputs: []string{log}}, saved, true)
	h.waitLines(50)
	h.settle()
	ev := h.snapshot()
	checkLines(t, cat(seq(51, 80), seq(1, 20)), ev)
	for _, l := range ev[1:31] {
		if l.Path != log+suffix || l.Pos.ID != saved[log].ID {
			t.Fatalf("rotated line %+v: want path %s and the saved identity", l, log+suffix)
		}
	}
	checkPositions(t, map[string]Position{log: posOf(t, log, log)}, commit(t, saved, ev))
	checkStats(t, h, Stats{})
}

// Between two runs the file is rotated and the rotated file deleted: counted
// as lost, the new file is read from 0 and nothing at the stale offset.
func TestRotatedFileDeletedWhileStopped(t *testing.T) {
	log := filepath.Join(t.TempDir(), "maillog")
	appendLines(t, log, "a", 1, 50)
	saved := firstRun(t, Config{Inputs: []string{log}}, 50)

	appendLines(t, log, "a", 51, 80)
	mustRename(t, log, log+".1")
	appendLines(t, log, "b", 1, 100) // longer than the saved offset
	if err := os.Remove(log + ".1"); err != nil {
		t.Fatal(err)
	}

	h := startTailer(t, Config{Inputs: []string{log}}, saved, true)
	h.waitLines(100)
	h.settle()
	ev := h.snapshot()
	checkLines(t, seq(1, 100), ev)
	if ev[0].Kind != GoneKind || ev[0].Pos != saved[log] {
		t.Errorf("first event %+v, want Gone for the saved position", ev[0])
	}
	checkPositions(t, map[string]Position{log: posOf(t, log, log)}, commit(t, saved, ev))
	checkStats(t, h, Stats{LostFiles: 1})
}

// Restart from a position committed in the middle of a run: the header, then
// the line after the committed one.
func TestRestartFromSavedPositionMidFile(t *testing.T) {
	log := filepath.Join(t.TempDir(), "maillog")
	appendLines(t, log, "a", 1, 100)
	h := startTailer(t, Config{Inputs: []string{log}}, nil, true)
	ev := h.waitLines(100)
	h.stop()
	saved := commit(t, nil, ev[:37])
	appendLines(t, log, "a", 101, 120)

	h = startTailer(t, Config{Inputs: []string{log}}, saved, true)
	h.waitLines(83)
	h.settle()
	ev = h.snapshot()
	checkLines(t, seq(38, 120), ev)
	want := Line{Kind: HeaderKind, Input: log, Path: log, Text: lineText("a", 1), Pos: saved[log]}
	want.Pos.ID = posOf(t, log, log).ID // the fingerprint grows up to 1024 bytes
	if diff := cmp.Diff(want, ev[0]); diff != "" {
		t.Errorf("header (-want +got):\n%s", diff)
	}
	checkPositions(t, map[string]Position{log: posOf(t, log, log)}, commit(t, saved, ev))
	checkStats(t, h, Stats{})
}

// A partial last line is not sent and its offset not passed until its newline
// arrives, across a restart too.
func TestPartialLastLineThenCompletion(t *testing.T) {
	log := filepath.Join(t.TempDir(), "maillog")
	w := openAppend(t, log)
	writeLines(t, w, "a", 1, 2)
	io.WriteString(w, "a line 00")
	h := startTailer(t, Config{Inputs: []string{log}}, nil, true)
	h.waitLines(2)
	h.settle()
	ev := h.snapshot()
	checkLines(t, seq(1, 2), ev)
	saved := commit(t, nil, ev)
	if got := saved[log].Offset; got != 28 {
		t.Errorf("offset %d, want 28 (before the partial line)", got)
	}
	io.WriteString(w, "00")
	h.settle()
	h.stop()
	checkLines(t, seq(1, 2), h.snapshot())

	io.WriteString(w, "03\n")
	h = startTailer(t, Config{Inputs: []string{log}}, saved, true)
	h.waitLines(1)
	h.settle()
	ev = h.snapshot()
	checkLines(t, []int{3}, ev)
	checkPositions(t, map[string]Position{log: posOf(t, log, log)}, commit(t, saved, ev))
}

// A line over MaxLine is reported without its text and skipped to its
// newline; the lines after it are fine.
func TestLineLongerThanMaxLine(t *testing.T) {
	log := filepath.Join(t.TempDir(), "maillog")
	long := strings.Repeat("x", 1<<20+1)
	content := lineText("a", 1) + "\n" + long + "\n" + lineText("a", 3) + "\n"
	if err := os.WriteFile(log, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	h := startTailer(t, Config{Inputs: []string{log}}, nil, true)
	h.waitLines(2)
	h.settle()
	ev := h.snapshot()
	id := posOf(t, log, log).ID
	want := []Line{
		{Kind: LineKind, Input: log, Path: log, Text: lineText("a", 1), Pos: Position{Path: log, ID: id, Offset: 14}},
		{Kind: TooLongKind, Input: log, Path: log, Pos: Position{Path: log, ID: id, Offset: 14 + 1<<20 + 2}},
		{Kind: LineKind, Input: log, Path: log, Text: lineText("a", 3), Pos: Position{Path: log, ID: id, Offset: int64(len(content))}},
	}
	if diff := cmp.Diff(want, ev); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

// Bytes are bytes: invalid UTF-8, NUL and CR pass through untouched.
func TestInvalidUTF8Passthrough(t *testing.T) {
	log := filepath.Join(t.TempDir(), "maillog")
	texts := []string{"\xff\xfe bad \xc3\x28", "nul\x00inside\x00", "crlf\r", ""}
	if err := os.WriteFile(log, []byte(strings.Join(texts, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h := startTailer(t, Config{Inputs: []string{log}}, nil, true)
	ev := h.waitFor("4 lines", func(ev []Line) bool { return len(ev) >= 4 })
	var got []string
	for _, l := range ev {
		got = append(got, l.Text)
	}
	if diff := cmp.Diff(texts, got); diff != "" {
		t.Errorf("texts (-want +got):\n%s", diff)
	}
}

// The saved inode is now a different file (deleted and the inode reused):
// the fingerprint differs, so it is read from 0 and the old one counted lost.
func TestInodeReuseWithDifferentContent(t *testing.T) {
	log := filepath.Join(t.TempDir(), "maillog")
	appendLines(t, log, "b", 1, 10)
	now := posOf(t, log, log)
	var old strings.Builder
	writeLines(t, &old, "a", 1, 100)
	head := []byte(old.String())[:fpMax]
	saved := map[string]Position{log: {
		Path:   log,
		ID:     Identity{Dev: now.ID.Dev, Inode: now.ID.Inode, FPLen: fpMax, FP: sha256.Sum256(head)},
		Offset: 40, // inside the new, shorter file
	}}
	h := startTailer(t, Config{Inputs: []string{log}}, saved, true)
	h.waitLines(10)
	h.settle()
	ev := h.snapshot()
	checkLines(t, seq(1, 10), ev)
	checkPositions(t, map[string]Position{log: now}, commit(t, saved, ev))
	checkStats(t, h, Stats{LostFiles: 1})
}

// A glob picks up files created after start, ignores compressed ones, and
// reports a matched file that is deleted as gone once it is finished.
func TestGlobPicksUpNewFiles(t *testing.T) {
	dir := t.TempDir()
	glob := filepath.Join(dir, "acct-*.csv")
	one, two := filepath.Join(dir, "acct-1.csv"), filepath.Join(dir, "acct-2.csv")
	appendLines(t, one, "one", 1, 10)
	h := startTailer(t, Config{Inputs: []string{glob}}, nil, true)
	h.waitLines(10)

	appendLines(t, two, "two", 1, 5)
	appendLines(t, filepath.Join(dir, "acct-0.csv.gz"), "gz", 1, 5)
	appendLines(t, filepath.Join(dir, "other.csv"), "other", 1, 5)
	appendLines(t, one, "one", 11, 15)
	h.waitLines(20)
	h.settle()
	ev := h.snapshot()
	byPath := map[string][]int{}
	for _, l := range ev {
		if l.Input != glob {
			t.Errorf("event %+v: input %q, want %q", l, l.Input, glob)
		}
		byPath[l.Path] = append(byPath[l.Path], lineNums([]Line{l})...)
	}
	if diff := cmp.Diff(map[string][]int{one: seq(1, 15), two: seq(1, 5)}, byPath); diff != "" {
		t.Errorf("lines per file (-want +got):\n%s", diff)
	}

	if err := os.Remove(one); err != nil {
		t.Fatal(err)
	}
	h.waitFor("gone", func(ev []Line) bool { return countKind(ev, GoneKind) == 1 })
	h.settle()
	checkPositions(t, map[string]Position{two: posOf(t, two, two)}, commit(t, nil, h.snapshot()))
}

// An input that does not exist yet is picked up when it appears.
func TestMissingInputAppearsLater(t *testing.T) {
	log := filepath.Join(t.TempDir(), "maillog")
	h := startTailer(t, Config{Inputs: []string{log}}, nil, true)
	h.settle()
	if ev := h.snapshot(); len(ev) != 0 {
		t.Fatalf("events before the file exists: %+v", ev)
	}
	appendLines(t, log, "a", 1, 10)
	h.waitLines(10)
	h.settle()
	ev := h.snapshot()
	checkLines(t, seq(1, 10), ev)
	checkPositions(t, map[string]Position{log: posOf(t, log, log)}, commit(t, nil, ev))
}

// A file renamed to another name the glob matches (PowerMTA moving acct.csv
// to a dated name) is not read again: it goes on under its new key, with a
// header, and the old key gets the new file from 0.
func TestRenameWithinGlob(t *testing.T) {
	dir := t.TempDir()
	glob := filepath.Join(dir, "acct*.csv")
	cur, moved := filepath.Join(dir, "acct.csv"), filepath.Join(dir, "acct-20240101.csv")
	w := openAppend(t, cur)
	writeLines(t, w, "a", 1, 10)
	h := startTailer(t, Config{Inputs: []string{glob}}, nil, true)
	h.waitLines(10)
	writeLines(t, w, "a", 11, 15)
	mustRename(t, cur, moved)
	appendLines(t, cur, "b", 1, 5)
	h.tick()
	writeLines(t, w, "a", 16, 20) // the writer still has the old file open
	h.waitLines(25)
	h.settle()
	ev := h.snapshot()
	byKey := map[string][]int{}
	for _, l := range ev {
		byKey[l.Pos.Path] = append(byKey[l.Pos.Path], lineNums([]Line{l})...)
	}
	// Lines 11-15 may have been read under either key, before or after the
	// rename was seen; each exactly once.
	all := cat(byKey[cur], byKey[moved])
	wantAll := cat(seq(1, 20), seq(1, 5))
	if diff := cmp.Diff(sorted(wantAll), sorted(all)); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
	checkPositions(t, map[string]Position{cur: posOf(t, cur, cur), moved: posOf(t, moved, moved)}, commit(t, nil, ev))

	// Restarting from what was committed reads nothing again.
	h.stop()
	saved := commit(t, nil, ev)
	h = startTailer(t, Config{Inputs: []string{glob}}, saved, true)
	h.settle()
	if n := len(lineNums(h.snapshot())); n != 0 {
		t.Errorf("%d lines read again after restart", n)
	}
	checkStats(t, h, Stats{})
}

func sorted(s []int) []int {
	out := append([]int(nil), s...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// Stdin lines come without positions; its unterminated last line is sent at
// its end.
func TestStdin(t *testing.T) {
	h := startTailer(t, Config{Inputs: []string{"-"}, Stdin: strings.NewReader("one\ntwo\nthree")}, nil, true)
	ev := h.waitFor("3 lines", func(ev []Line) bool { return len(ev) >= 3 })
	want := []Line{
		{Kind: LineKind, Input: "-", Path: "-", Text: "one"},
		{Kind: LineKind, Input: "-", Path: "-", Text: "two"},
		{Kind: LineKind, Input: "-", Path: "-", Text: "three"},
	}
	if diff := cmp.Diff(want, ev); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

// Many rotations with real polling leave no goroutine and no descriptor
// behind.
func TestNoLeaksAcrossRotations(t *testing.T) {
	baseG, baseFD := runtime.NumGoroutine(), openFDs(t)
	log := filepath.Join(t.TempDir(), "maillog")
	appendLines(t, log, "a", 1, 10)
	h := startTailer(t, Config{Inputs: []string{log}, PollInterval: 5 * time.Millisecond}, nil, false)
	n := 10
	for range 50 {
		h.waitLines(n)
		mustRename(t, log, log+".1")
		appendLines(t, log, "a", n+1, n+10)
		n += 10
	}
	h.waitLines(n)
	h.stop()
	checkLines(t, seq(1, n), h.snapshot())
	if got := h.tl.Stats().Rotations; got != 50 {
		t.Errorf("rotations %d, want 50", got)
	}
	deadline := time.Now().Add(waitDeadline)
	for runtime.NumGoroutine() > baseG || openFDs(t) > baseFD {
		if time.Now().After(deadline) {
			t.Fatalf("goroutines %d (before %d), descriptors %d (before %d)", runtime.NumGoroutine(), baseG, openFDs(t), baseFD)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func openFDs(t *testing.T) int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(entries)
}

func rep(k Kind, n int) []Kind {
	out := make([]Kind, n)
	for i := range out {
		out[i] = k
	}
	return out
}

// cat2 joins kinds and kind slices.
func cat2(parts ...any) []Kind {
	var out []Kind
	for _, p := range parts {
		switch p := p.(type) {
		case Kind:
			out = append(out, p)
		case []Kind:
			out = append(out, p...)
		}
	}
	return out
}

// copytruncate with a glob that also matches the copy (maillog*), the
// truncation seen in the same poll as the copy: the copy is read from where
// the original was, under its own key, and never from 0.
func TestCopytruncateCopyMatchedByGlob(t *testing.T) {
	dir := t.TempDir()
	glob := filepath.Join(dir, "maillog*")
	log, copied := filepath.Join(dir, "maillog"), filepath.Join(dir, "maillog.1")
	w := openAppend(t, log)
	writeLines(t, w, "a", 1, 30)
	h := startTailer(t, Config{Inputs: []string{glob}}, nil, true)
	h.waitLines(30)
	h.tick()
	writeLines(t, w, "a", 31, 50) // not read yet when the copy is made
	copyFile(t, log, copied)
	if err := os.Truncate(log, 0); err != nil {
		t.Fatal(err)
	}
	writeLines(t, w, "a", 51, 55)
	h.waitLines(55)
	h.settle()
	ev := h.snapshot()
	byKey := map[string][]Line{}
	for _, l := range ev {
		byKey[l.Pos.Path] = append(byKey[l.Pos.Path], l)
	}
	checkLines(t, cat(seq(1, 30), seq(51, 55)), byKey[log])
	checkLines(t, seq(31, 50), byKey[copied])
	if got := kinds(byKey[copied])[0]; got != HeaderKind {
		t.Errorf("copy starts with %v, want a header", got)
	}
	checkPositions(t, map[string]Position{log: posOf(t, log, log), copied: posOf(t, copied, copied)}, commit(t, nil, ev))
	checkStats(t, h, Stats{Truncations: 1})
}

// The same, but the copy is seen a poll before the truncation: it is held
// back (it starts like the followed file) and then resumed at the original's
// offset, so the lines the original already gave are not read again.
func TestCopytruncateCopySeenBeforeTruncation(t *testing.T) {
	dir := t.TempDir()
	glob := filepath.Join(dir, "maillog*")
	log, copied := filepath.Join(dir, "maillog"), filepath.Join(dir, "maillog.1")
	w := openAppend(t, log)
	writeLines(t, w, "a", 1, 30)
	h := startTailer(t, Config{Inputs: []string{glob}}, nil, true)
	h.waitLines(30)
	h.tick()
	writeLines(t, w, "a", 31, 50)
	copyFile(t, log, copied)
	h.tick() // sees the copy, reads 31-50 from the original
	if got := lineNums(h.snapshot()); len(got) != 50 {
		t.Fatalf("lines %v, want 1-50 from the original", compact(got))
	}
	if err := os.Truncate(log, 0); err != nil {
		t.Fatal(err)
	}
	writeLines(t, w, "a", 51, 55)
	h.waitLines(55)
	h.settle()
	ev := h.snapshot()
	byKey := map[string][]Line{}
	for _, l := range ev {
		byKey[l.Pos.Path] = append(byKey[l.Pos.Path], l)
	}
	checkLines(t, seq(1, 55), byKey[log])
	if diff := cmp.Diff([]Kind{HeaderKind}, kinds(byKey[copied])); diff != "" {
		t.Errorf("copy events (-want +got):\n%s", diff)
	}
	checkPositions(t, map[string]Position{log: posOf(t, log, log), copied: posOf(t, copied, copied)}, commit(t, nil, ev))
	checkStats(t, h, Stats{Truncations: 1})
}

// A file renamed within the glob while stopped goes on from its saved offset
// under its new key. A crash between the new key's header and the old key's
// gone leaves both keys naming the file; the next start reads it once.
func TestRenameWithinGlobWhileStopped(t *testing.T) {
	dir := t.TempDir()
	glob := filepath.Join(dir, "acct*.csv")
	cur, moved := filepath.Join(dir, "acct.csv"), filepath.Join(dir, "acct-20240101.csv")
	appendLines(t, cur, "a", 1, 10)
	saved := firstRun(t, Config{Inputs: []string{glob}}, 10)

	appendLines(t, cur, "a", 11, 15)
	mustRename(t, cur, moved)
	appendLines(t, cur, "b", 1, 5)

	h := startTailer(t, Config{Inputs: []string{glob}}, saved, true)
	h.waitLines(10)
	h.settle()
	ev := h.snapshot()
	if diff := cmp.Diff(cat2(HeaderKind, OpenKind, rep(LineKind, 10)), kinds(ev)); diff != "" {
		t.Fatalf("kinds (-want +got):\n%s", diff)
	}
	if ev[0].Pos.Path != moved || ev[1].Pos.Path != cur {
		t.Errorf("header for %s then open for %s, want %s then %s", ev[0].Pos.Path, ev[1].Pos.Path, moved, cur)
	}
	checkLines(t, cat(seq(11, 15), seq(1, 5)), ev)
	want := map[string]Position{cur: posOf(t, cur, cur), moved: posOf(t, moved, moved)}
	checkPositions(t, want, commit(t, saved, ev))
	checkStats(t, h, Stats{})

	// Killed after committing only the header.
	h.stop()
	saved = commit(t, saved, ev[:1])
	h = startTailer(t, Config{Inputs: []string{glob}}, saved, true)
	h.waitLines(10)
	h.settle()
	ev = h.snapshot()
	checkLines(t, cat(seq(11, 15), seq(1, 5)), ev)
	checkPositions(t, want, commit(t, saved, ev))
	checkStats(t, h, Stats{})
}

// Rotated twice while stopped (a weekend of downtime): the saved file is
// finished from its offset, then the file rotated after it is read whole,
// then the current one.
func TestRotatedTwiceWhileStopped(t *testing.T) {
	for _, names := range [][2]string{{".1", ".2"}, {"-20240101", "-20240102"}} {
		t.Run(names[0], func(t *testing.T) {
			log := filepath.Join(t.TempDir(), "maillog")
			appendLines(t, log, "a", 1, 50)
			saved := firstRun(t, Config{Inputs: []string{log}}, 50)

			appendLines(t, log, "a", 51, 80)
			first, second := log+names[0], log+names[1]
			if names[0] == ".1" { // numbered: the older file moves up
				mustRename(t, log, first)
				appendLines(t, log, "b", 81, 100)
				mustRename(t, first, second)
				mustRename(t, log, first)
			} else {
				mustRename(t, log, first)
				appendLines(t, log, "b", 81, 100)
				mustRename(t, log, second)
			}
			appendLines(t, log, "c", 101, 110)
			// A day apart: each generation was last written before the next.
			day := time.Now().Add(-48 * time.Hour)
			for i, p := range []string{first, second} {
				if names[0] == ".1" {
					p = []string{second, first}[i]
				}
				at := day.Add(time.Duration(i) * 24 * time.Hour)
				if err := os.Chtimes(p, at, at); err != nil {
					t.Fatal(err)
				}
			}

			h := startTailer(t, Config{Inputs: []string{log}}, saved, true)
			h.waitLines(60)
			h.settle()
			ev := h.snapshot()
			checkLines(t, seq(51, 110), ev)
			checkPositions(t, map[string]Position{log: posOf(t, log, log)}, commit(t, saved, ev))
			checkStats(t, h, Stats{})
		})
	}
}
