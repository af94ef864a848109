package livetail

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nxadm/tail/util"
	"github.com/ppwatch/ppwatch/pkg/internal/testkit"
)

// collector gathers what Start sends, for the test to wait on.
type collector struct {
	mu    sync.Mutex
	lines []Line
	done  chan struct{}
}

func start(t *testing.T, paths []string, o Options) *collector {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ch, err := Start(ctx, paths, o)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	c := &collector{done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for l := range ch {
			c.mu.Lock()
			c.lines = append(c.lines, l)
			c.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-c.done:
		case <-time.After(10 * time.Second):
			t.Error("the channel was not closed after the context was done")
		}
	})
	return c
}

func (c *collector) got() []Line {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Line(nil), c.lines...)
}

// waitFor waits until exactly want has been sent: the library polls every
// 250 ms, so the deadline is generous, and a test that fails shows the
// difference.
func (c *collector) waitFor(t *testing.T, want []Line) {
	t.Helper()
	testkit.WaitFor(t, func() string { return cmp.Diff(want, c.got()) })
}

// An existing file is followed from its end (its first line comes as the
// header), through a rename rotation and a copytruncate: every line
// written after the start arrives once, in order.
func TestFollowsFromTheEndThroughRotations(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "mail.log")
	testkit.AppendFile(t, path, "old 1\nold 2\n")
	c := start(t, []string{path}, Options{})
	want := []Line{{path, Header, "old 1"}}

	testkit.AppendFile(t, path, "new 1\nnew 2\n")
	want = append(want, Line{path, Text, "new 1"}, Line{path, Text, "new 2"})
	c.waitFor(t, want)

	// logrotate's create: the old file renamed, a new one at the path.
	// Lines written to the old file after the rename but before the
	// library's next poll would be lost (hpcloud/tail#127): a writer
	// reopens at once here.
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	testkit.AppendFile(t, path, "renamed 1\n")
	want = append(want, Line{path, Text, "renamed 1"})
	c.waitFor(t, want)
	testkit.AppendFile(t, path, "renamed 2\n")
	want = append(want, Line{path, Text, "renamed 2"})
	c.waitFor(t, want)

	// copytruncate. The library tells a truncation by the size alone, so
	// the file must not regrow past its old size before its next poll
	// (nxadm/tail#62); one shorter line does not.
	testkit.CopyTruncate(t, path)
	testkit.AppendFile(t, path, "cut 1\n")
	want = append(want, Line{path, Text, "cut 1"})
	c.waitFor(t, want)
	testkit.AppendFile(t, path, "cut 2\ncut 3\n")
	want = append(want, Line{path, Text, "cut 2"}, Line{path, Text, "cut 3"})
	c.waitFor(t, want)
}

// A path with no file is waited for, with a note, and the file that
// appears is read from its start; a partial line waits for its newline.
func TestWaitsForAMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "later.log")
	c := start(t, []string{path}, Options{})
	want := []Line{{path, Note, "does not exist yet; waiting for it"}}
	c.waitFor(t, want)

	testkit.AppendFile(t, path, "first\nsecond\npart")
	want = append(want, Line{path, Text, "first"}, Line{path, Text, "second"})
	c.waitFor(t, want)
	testkit.AppendFile(t, path, "ial\n")
	want = append(want, Line{path, Text, "partial"})
	c.waitFor(t, want)
}

// A line still being written when following starts comes whole once its
// newline is written, not its second half alone.
func TestAPartialLastLineComesWhole(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")
	testkit.AppendFile(t, a, "old\npart")
	testkit.AppendFile(t, b, "only part")
	c := start(t, []string{a, b}, Options{})
	testkit.AppendFile(t, a, "ial\n")
	testkit.AppendFile(t, b, "ial\n")
	waitForPaths(t, c, map[string][]Line{
		a: {{a, Header, "old"}, {a, Text, "partial"}},
		b: {{b, Text, "only partial"}},
	})
}

// A line longer than MaxLine comes without its text; the lines around it
// come as usual, and so does a line of exactly MaxLine bytes.
func TestCapsLineLength(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mail.log")
	testkit.AppendFile(t, path, "")
	c := start(t, []string{path}, Options{MaxLine: 16})
	testkit.AppendFile(t, path, "before\n"+strings.Repeat("x", 17)+"\n"+strings.Repeat("y", 16)+"\nafter\n")
	c.waitFor(t, []Line{{path, Text, "before"}, {path, TooLong, ""}, {path, Text, strings.Repeat("y", 16)}, {path, Text, "after"}})
}

// A stat failure other than "not exist" makes the library's watcher call
// util.Fatal, which exits the process; here the path's directory turns
// into a file (ENOTDIR, what EACCES is for a non-root user), atomically
// through a symlink. The process lives on, the note says what failed, and
// once the path works again the same file is read on from where it was:
// the line written meanwhile arrives, none twice.
func TestSurvivesAStatFailure(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real")
	if err := os.Mkdir(real, 0o755); err != nil {
		t.Fatal(err)
	}
	testkit.AppendFile(t, filepath.Join(real, "mail.log"), "header\n")
	testkit.AppendFile(t, filepath.Join(dir, "plain"), "")
	link := filepath.Join(dir, "logs")
	swap := func(target string) {
		t.Helper()
		tmp := filepath.Join(dir, "tmp")
		if err := os.Symlink(target, tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, link); err != nil {
			t.Fatal(err)
		}
	}
	swap(real)
	path := filepath.Join(link, "mail.log")
	c := start(t, []string{path}, Options{Retry: 20 * time.Millisecond})

	testkit.AppendFile(t, path, "one\n")
	want := []Line{{path, Header, "header"}, {path, Text, "one"}}
	c.waitFor(t, want)

	swap(filepath.Join(dir, "plain"))
	want = append(want, Line{path, Note, "stat " + path + ": not a directory; trying again"})
	c.waitFor(t, want)
	testkit.AppendFile(t, filepath.Join(real, "mail.log"), "two\n")
	swap(real)
	testkit.AppendFile(t, path, "three\n")
	want = append(want, Line{path, Text, "two"}, Line{path, Text, "three"})
	c.waitFor(t, want)
}

// util.Fatal, wherever it is called from, ends its goroutine instead of
// the process, and the follower of the path it names follows it again;
// one that names no path is told to every follower.
func TestFatalDoesNotExit(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")
	testkit.AppendFile(t, a, "")
	testkit.AppendFile(t, b, "")
	c := start(t, []string{a, b}, Options{Retry: 20 * time.Millisecond})

	fatal := func(format string, v ...any) {
		t.Helper()
		ended := make(chan struct{})
		go func() {
			defer close(ended)
			util.Fatal(format, v...)
			t.Error("util.Fatal returned")
		}()
		<-ended
	}
	// Lines read show that each follower has its tail running.
	testkit.AppendFile(t, a, "a 1\n")
	testkit.AppendFile(t, b, "b 1\n")
	want := map[string][]Line{a: {{a, Text, "a 1"}}, b: {{b, Text, "b 1"}}}
	waitForPaths(t, c, want)

	fatal("Failed to stat file %v: %v", a, errors.New("stat "+a+": input/output error"))
	want[a] = append(want[a], Line{a, Note, "stat " + a + ": input/output error; trying again"})
	waitForPaths(t, c, want)
	testkit.AppendFile(t, a, "a 2\n")
	want[a] = append(want[a], Line{a, Text, "a 2"})
	waitForPaths(t, c, want)

	fatal("failed to create Watcher")
	want[a] = append(want[a], Line{a, Note, "nxadm/tail: failed to create Watcher; trying again"})
	want[b] = append(want[b], Line{b, Note, "nxadm/tail: failed to create Watcher; trying again"})
	waitForPaths(t, c, want)
	testkit.AppendFile(t, a, "a 3\n")
	testkit.AppendFile(t, b, "b 2\n")
	want[a] = append(want[a], Line{a, Text, "a 3"})
	want[b] = append(want[b], Line{b, Text, "b 2"})
	waitForPaths(t, c, want)
}

// waitForPaths is waitFor for several paths, whose lines interleave as
// they come.
func waitForPaths(t *testing.T, c *collector, want map[string][]Line) {
	t.Helper()
	testkit.WaitFor(t, func() string {
		got := map[string][]Line{}
		for _, l := range c.got() {
			got[l.Path] = append(got[l.Path], l)
		}
		return cmp.Diff(want, got)
	})
}

func TestRefusesADirectory(t *testing.T) {
	dir := t.TempDir()
	_, err := Start(context.Background(), []string{filepath.Join(dir, "x.log"), dir}, Options{})
	if err == nil || err.Error() != dir+": is a directory, not a log file" {
		t.Errorf("err = %v", err)
	}
}
