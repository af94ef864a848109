package tailer

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

const waitDeadline = 10 * time.Second

// harness runs a Tailer and records what it sends, like a caller would.
type harness struct {
	t      *testing.T
	tl     *Tailer
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once

	mu     sync.Mutex
	events []Line
	notify chan struct{}
}

// startTailer runs a tailer over inputs. With manual set it polls only when
// the test calls tick, so a test decides exactly what the tailer sees
// between two looks at the disk.
func startTailer(t *testing.T, cfg Config, saved map[string]Position, manual bool) *harness {
	t.Helper()
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 20 * time.Millisecond
	}
	cfg.Logger = zerolog.New(zerolog.NewTestWriter(t))
	if manual {
		cfg.Trigger = NewTrigger()
	}
	tl, err := New(cfg, saved)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{t: t, tl: tl, cancel: cancel, notify: make(chan struct{}, 1)}
	out := make(chan Batch)
	h.wg.Add(2)
	go func() {
		defer h.wg.Done()
		if err := tl.Run(ctx, out); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	go func() {
		defer h.wg.Done()
		for {
			select {
			case ls := <-out:
				// Keep copies and give the batch back, as the daemon does:
				// every test then also checks that reused memory never
				// reaches a line still in use.
				h.mu.Lock()
				for _, l := range ls.Lines {
					l.Text = strings.Clone(l.Text)
					h.events = append(h.events, l)
				}
				h.mu.Unlock()
				tl.Release(ls)
				select {
				case h.notify <- struct{}{}:
				default:
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	t.Cleanup(h.stop)
	return h
}

// firstRun reads the n lines already in the inputs, stops, and returns the
// positions a caller would have committed.
func firstRun(t *testing.T, cfg Config, n int) map[string]Position {
	t.Helper()
	h := startTailer(t, cfg, nil, true)
	h.waitLines(n)
	h.stop()
	return commit(t, nil, h.snapshot())
}

// stop cancels Run and waits for it to return.
func (h *harness) stop() {
	h.once.Do(func() {
		h.cancel()
		h.wg.Wait()
	})
}

// tick lets the tailer poll once and read what that poll found; it returns
// when the tailer is idle again and everything it sent has been recorded.
func (h *harness) tick() {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitDeadline)
	defer cancel()
	sent, err := h.tl.cfg.Trigger.Poll(ctx)
	if err != nil {
		h.t.Fatal("tailer did not poll and become idle again")
	}
	deadline := ctx.Done()
	for {
		h.mu.Lock()
		n := int64(len(h.events))
		h.mu.Unlock()
		if n >= sent {
			return
		}
		select {
		case <-h.notify:
		case <-deadline:
			h.t.Fatalf("recorded %d of %d events", n, sent)
		}
	}
}

// settle lets the tailer poll and read until it is idle with nothing new.
func (h *harness) settle() {
	h.t.Helper()
	for range 4 {
		h.tick()
	}
}

func (h *harness) snapshot() []Line {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Line(nil), h.events...)
}

// waitFor waits until cond holds for the events so far, ticking a manual
// tailer along.
func (h *harness) waitFor(what string, cond func([]Line) bool) []Line {
	h.t.Helper()
	deadline := time.Now().Add(waitDeadline)
	for {
		ev := h.snapshot()
		if cond(ev) {
			return ev
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s; got %d events, lines %v", what, len(ev), compact(lineNums(ev)))
		}
		if h.tl.cfg.Trigger != nil {
			h.tick()
			continue
		}
		select {
		case <-h.notify:
		case <-time.After(time.Until(deadline)):
		}
	}
}

// waitLines waits for n LineKind events.
func (h *harness) waitLines(n int) []Line {
	h.t.Helper()
	return h.waitFor(fmt.Sprintf("%d lines", n), func(ev []Line) bool { return len(lineNums(ev)) >= n })
}

func lineText(prefix string, n int) string { return fmt.Sprintf("%s line %06d", prefix, n) }

func writeLines(t *testing.T, w io.Writer, prefix string, from, to int) {
	t.Helper()
	var b strings.Builder
	for i := from; i <= to; i++ {
		b.WriteString(lineText(prefix, i))
		b.WriteByte('\n')
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		t.Fatal(err)
	}
}

func appendLines(t *testing.T, path, prefix string, from, to int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	writeLines(t, f, prefix, from, to)
}

func openAppend(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// lineNums returns the numbers of the LineKind events, in order.
func lineNums(ev []Line) []int {
	var nums []int
	for _, l := range ev {
		if l.Kind != LineKind {
			continue
		}
		i := strings.LastIndexByte(l.Text, ' ')
		n, err := strconv.Atoi(l.Text[i+1:])
		if err != nil {
			n = -1
		}
		nums = append(nums, n)
	}
	return nums
}

func seq(from, to int) []int {
	var s []int
	for i := from; i <= to; i++ {
		s = append(s, i)
	}
	return s
}

func cat(parts ...[]int) []int {
	var s []int
	for _, p := range parts {
		s = append(s, p...)
	}
	return s
}

// compact prints long number lists as runs: [1-100 103].
func compact(nums []int) string {
	var b strings.Builder
	for i := 0; i < len(nums); {
		j := i
		for j+1 < len(nums) && nums[j+1] == nums[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		if j > i {
			fmt.Fprintf(&b, "%d-%d", nums[i], nums[j])
		} else {
			fmt.Fprintf(&b, "%d", nums[i])
		}
		i = j + 1
	}
	return "[" + b.String() + "]"
}

// commit does what the caller does with the events: keep the position of
// every event under its key, delete the key on Gone, and store it as bytes.
func commit(t *testing.T, saved map[string]Position, ev []Line) map[string]Position {
	t.Helper()
	stored := map[string][]byte{}
	for k, p := range saved {
		b, err := p.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		stored[k] = b
	}
	for _, l := range ev {
		if l.Kind == GoneKind {
			delete(stored, l.Pos.Path)
			continue
		}
		b, err := l.Pos.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		stored[l.Pos.Path] = b
	}
	out := map[string]Position{}
	for k, b := range stored {
		var p Position
		if err := p.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		out[k] = p
	}
	return out
}

// posOf is the position at the end of the file at path, stored under key.
func posOf(t *testing.T, key, path string) Position {
	t.Helper()
	fi, err := statFile(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return Position{Path: key, ID: Identity{Dev: fi.Dev, Inode: fi.Inode, FPLen: len(fi.Head), FP: sha256.Sum256(fi.Head)}, Offset: st.Size()}
}

func kinds(ev []Line) []Kind {
	var k []Kind
	for _, l := range ev {
		k = append(k, l.Kind)
	}
	return k
}

func countKind(ev []Line, k Kind) int {
	n := 0
	for _, l := range ev {
		if l.Kind == k {
			n++
		}
	}
	return n
}

// logrotate runs the real logrotate once, forced, over path with the given
// directives (one a line) and a state file of its own. Without logrotate
// (Debian's package) the test is skipped: its syscall twin still runs.
func logrotate(t *testing.T, path string, directives ...string) {
	t.Helper()
	bin, err := exec.LookPath("logrotate")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/logrotate"); serr != nil {
			t.Skip("logrotate not installed (apt-get install logrotate)")
		}
		bin = "/usr/sbin/logrotate"
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "logrotate.conf")
	body := path + " {\n  " + strings.Join(directives, "\n  ") + "\n}\n"
	if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "-f", "-s", filepath.Join(dir, "state"), conf).CombinedOutput(); err != nil {
		t.Fatalf("logrotate: %v: %s", err, out)
	}
}
