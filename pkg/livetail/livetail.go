// Package livetail follows log files by path, like tail -F, for the live
// console view (ppwatch tail). It is built on github.com/nxadm/tail and is
// best effort: lines a rotation races past may be missed, which a view can
// live with and the daemon cannot (it has its own reader, pkg/tailer). It
// knows nothing of MTAs.
//
// What it adds to the library (v1.4.11), whose faults are documented in
// pkg/tailer/doc.go:
//
//   - No os.Exit. The library calls util.Fatal, which logs and then calls
//     os.Exit(1), when a watcher's stat of the path fails with anything but
//     "not exist" (EACCES, ENOTDIR, EIO during a rotation), when inotify
//     cannot be set up, and on ReOpen without Follow. Files are polled
//     (Poll), so the inotify watcher, with its process-wide instance and its
//     exits, is never started; ReOpen always comes with Follow; and
//     util.LOGGER writes to faultWriter, which ends the failing goroutine
//     before util.Fatal gets to os.Exit. The follower whose watcher died is
//     told, stops that tail and follows the path again.
//   - Lines longer than MaxLine are passed on as TooLong, without their
//     text, so nothing downstream holds or parses them. The library itself
//     still reads a whole line into memory before it hands it over
//     (bufio.Reader.ReadString); that cannot be bounded from outside.
//   - A library tail that ends (a file that cannot be opened or read) is
//     not the end: the path is looked at again after Retry, with a note.
//   - A file followed from its middle has its first line sent as a Header
//     first, for parsers that map columns by it (PowerMTA).
package livetail

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/nxadm/tail"
	"github.com/nxadm/tail/util"
)

// Kind says what a Line is.
type Kind int

const (
	Text    Kind = iota // a complete line, without its newline
	Header              // the file's first line, before the lines of a file followed from its middle
	TooLong             // a line longer than Options.MaxLine, skipped (Text is empty)
	Note                // not a line: something about the path the user should know
)

// Line is one line of a followed path, or a note about it.
type Line struct {
	Path string // as given to Start
	Kind Kind
	Text string
}

// Options tune Start.
type Options struct {
	// MaxLine is the longest line passed on; longer ones come as TooLong.
	// Default 1 MiB.
	MaxLine int
	// Retry is how long a path whose tail failed is left alone before it
	// is followed again. Default 1 s.
	Retry time.Duration
}

// Start follows every path until ctx is done, then closes the channel. A
// file that exists is followed from the end of its last complete line, a
// path with no file yet from the start of the file that appears there, so
// every line written after Start returns is sent (unless a rotation races
// past it). A path that names a directory is an error.
func Start(ctx context.Context, paths []string, o Options) (<-chan Line, error) {
	if o.MaxLine <= 0 {
		o.MaxLine = 1 << 20
	}
	if o.Retry <= 0 {
		o.Retry = time.Second
	}
	catchFatal.Do(func() { util.LOGGER = &util.Logger{Logger: log.New(faultWriter{}, "", 0)} })

	var followers []*follower
	seen := map[string]bool{}
	for _, p := range paths {
		if seen[p] {
			continue
		}
		seen[p] = true
		f := &follower{path: p, o: o}
		st, err := os.Stat(p)
		switch {
		case err == nil && st.IsDir():
			return nil, fmt.Errorf("%s: is a directory, not a log file", p)
		case err == nil && st.Size() == 0:
			f.file = st
		case err == nil:
			f.file, f.offset = st, lineEnd(p, st.Size(), o.MaxLine)
		case errors.Is(err, os.ErrNotExist):
			f.note = "does not exist yet; waiting for it"
		default:
			f.note, f.lastErr = err.Error()+"; trying again", err.Error()
		}
		followers = append(followers, f)
	}

	out := make(chan Line, 16)
	var wg sync.WaitGroup
	for _, f := range followers {
		f.out = out
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.run(ctx)
		}()
	}
	go func() {
		wg.Wait()
		close(out)
	}()
	return out, nil
}

// follower follows one path through any number of library tails.
type follower struct {
	path string
	o    Options
	out  chan<- Line

	// Where the next tail starts: in file (nil: the path's next file, from
	// its start), at offset, the end of the last line sent.
	file   os.FileInfo
	offset int64
	headed os.FileInfo // the file whose first line was sent last

	note    string // to send first
	lastErr string // the last failure noted, so a lasting one is told once
}

func (f *follower) run(ctx context.Context) {
	if f.note != "" && !f.send(ctx, Note, f.note) {
		return
	}
	for {
		err := f.follow(ctx)
		if ctx.Err() != nil {
			return
		}
		if msg := err.Error(); msg != f.lastErr {
			f.lastErr = msg
			if !f.send(ctx, Note, msg+"; trying again") {
				return
			}
		}
		select {
		case <-time.After(f.o.Retry):
		case <-ctx.Done():
			return
		}
	}
}

// follow runs one library tail of the path until ctx is done (nil) or the
// tail fails (its error).
func (f *follower) follow(ctx context.Context) error {
	// Where to start: where the last tail stopped when the path still
	// names that file and it has not shrunk below that, else at the start
	// of whatever file is or will be there.
	switch st, err := os.Stat(f.path); {
	case errors.Is(err, os.ErrNotExist):
		f.file, f.offset = nil, 0
	case err != nil:
		// Not waited for by the library: its wait fails the same way.
		// The position is kept for when the path is back.
		return err
	case st.IsDir():
		return errors.New("is a directory, not a log file")
	case f.file == nil || !os.SameFile(st, f.file) || st.Size() < f.offset:
		f.file, f.offset = st, 0
	}
	cfg := tail.Config{
		Follow: true, ReOpen: true, // tail -F; ReOpen without Follow is a util.Fatal
		Poll:          true, // the inotify watcher exits the process when it cannot start
		CompleteLines: true, // else a partial line is sent, and bytes after it skipped
		Logger:        tail.DiscardingLogger,
	}
	if f.offset > 0 {
		if f.headed == nil || !os.SameFile(f.headed, f.file) {
			if h, ok := firstLine(f.path, f.o.MaxLine); ok && !f.send(ctx, Header, h) {
				return nil
			}
			f.headed = f.file
		}
		cfg.Location = &tail.SeekInfo{Offset: f.offset, Whence: io.SeekStart}
	} else {
		f.headed = f.file // read from its first line
	}
	faults := watchFaults(f.path)
	defer unwatchFaults(f.path)
	t, err := tail.TailFile(f.path, cfg)
	if err != nil { // only with MustExist, which is off; kept for the API's sake
		return err
	}
	defer t.Stop()
	first := true
	for {
		select {
		case l, ok := <-t.Lines:
			if !ok {
				if err := t.Err(); err != nil {
					return err
				}
				return errors.New("stopped following")
			}
			if l.Num == 1 && (!first || f.file == nil) {
				// The library opened the path anew (the file appeared, was
				// rotated or truncated): the lines are from the file it
				// names now.
				f.file, _ = os.Stat(f.path)
				f.headed = f.file // its first line is this one
			}
			first = false
			f.offset = l.SeekInfo.Offset
			f.lastErr = "" // reading again: a new failure is news
			if len(l.Text) > f.o.MaxLine {
				if !f.send(ctx, TooLong, "") {
					return nil
				}
				continue
			}
			if !f.send(ctx, Text, l.Text) {
				return nil
			}
		case msg := <-faults:
			// The tail's watcher is gone: it would never see a change again.
			return errors.New(msg)
		case <-ctx.Done():
			return nil
		}
	}
}

func (f *follower) send(ctx context.Context, k Kind, text string) bool {
	select {
	case f.out <- Line{Path: f.path, Kind: k, Text: text}:
		return true
	case <-ctx.Done():
		return false
	}
}

// firstLine returns the first line of the file at path when it is complete
// and at most limit bytes long.
func firstLine(path string, limit int) (string, bool) {
	file, err := os.Open(path)
	if err != nil {
		return "", false
	}
	defer file.Close()
	line, err := bufio.NewReader(io.LimitReader(file, int64(limit)+1)).ReadString('\n')
	if err != nil {
		return "", false
	}
	return strings.TrimSuffix(line, "\n"), true
}

// lineEnd returns where the last complete line of the file at path ends,
// looked for in its last limit bytes (else size): a line being written
// when following starts is then sent whole once its newline comes, not its
// second half as a line of its own.
func lineEnd(path string, size int64, limit int) int64 {
	file, err := os.Open(path)
	if err != nil {
		return size
	}
	defer file.Close()
	last := make([]byte, 1)
	if _, err := file.ReadAt(last, size-1); err != nil || last[0] == '\n' {
		return size
	}
	from := max(0, size-int64(limit))
	b := make([]byte, size-from)
	if _, err := file.ReadAt(b, from); err != nil {
		return size
	}
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		return from + int64(i) + 1
	}
	if from == 0 {
		return 0 // all one partial line: the first, to come whole
	}
	return size
}

var catchFatal sync.Once

// faults routes a util.Fatal to the follower of the path it names.
var faults = struct {
	sync.Mutex
	by map[string]chan string
}{by: map[string]chan string{}}

func watchFaults(path string) <-chan string {
	ch := make(chan string, 1)
	faults.Lock()
	faults.by[path] = ch
	faults.Unlock()
	return ch
}

func unwatchFaults(path string) {
	faults.Lock()
	delete(faults.by, path)
	faults.Unlock()
}

// faultWriter is util.LOGGER's output. util.Fatal writes its message there
// and then calls os.Exit(1); Write ends the calling goroutine instead, with
// runtime.Goexit, as testing.T.FailNow does, so the exit is never reached.
// Goexit runs the deferred calls on the way out, so log.Logger's output
// lock is released. At v1.4.11 the callers are the watchers' own
// goroutines ("Failed to stat file <path>: <err>"), which nothing else
// waits on, and TailFile on ReOpen without Follow, which Start never asks
// for.
type faultWriter struct{}

func (faultWriter) Write(b []byte) (int, error) {
	msg, _, _ := strings.Cut(strings.TrimPrefix(string(b), "FATAL -- "), "\n")
	faults.Lock()
	var to []chan string
	best, text := "", ""
	for path, ch := range faults.by {
		if rest, ok := strings.CutPrefix(msg, "Failed to stat file "+path+": "); ok && len(path) > len(best) {
			// The stat's own error, as follow words a failed stat.
			to, best, text = []chan string{ch}, path, rest
		}
	}
	if best == "" { // a fault that names no path: every tail may be the one
		text = "nxadm/tail: " + msg
		for _, ch := range faults.by {
			to = append(to, ch)
		}
	}
	faults.Unlock()
	for _, ch := range to {
		select {
		case ch <- text:
		default: // one is pending already
		}
	}
	runtime.Goexit()
	return len(b), nil
}
