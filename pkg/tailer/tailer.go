package tailer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// Kind says what a Line carries.
type Kind int

const (
	// LineKind is a complete line: count it and commit its Pos.
	LineKind Kind = iota
	// HeaderKind is the first line of a file that is read from a non-zero
	// offset, sent before its other lines so a CSV parser can map columns. Do
	// not count it. Its Pos is where reading starts; committing it is safe and
	// keeps a renamed file from being read again from 0.
	HeaderKind
	// TooLongKind is a line longer than MaxLine, skipped up to its newline.
	// It has no text; count it as oversize and commit its Pos.
	TooLongKind
	// GoneKind says the file last reported under Pos.Path is finished (read
	// to its end after a rotation, or not found any more): delete the saved
	// position for Pos.Path. Lines of a new file may follow under the same key.
	GoneKind
	// OpenKind says an empty file is now followed under Pos.Path: commit Pos.
	// Until its first line is read nothing else names the file, and if it
	// grows and is rotated away before that, a restart must still find it.
	OpenKind
	// ParkKind says Pos.Path is no longer an input: commit Pos, which is
	// the saved position with Pos.Parked set. It is kept so that if the path
	// comes back its file resumes where it was (see Config.ParkFor).
	ParkKind
)

func (k Kind) String() string {
	switch k {
	case LineKind:
		return "line"
	case HeaderKind:
		return "header"
	case TooLongKind:
		return "too_long"
	case GoneKind:
		return "gone"
	case OpenKind:
		return "open"
	case ParkKind:
		return "park"
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Line is one event of Run.
type Line struct {
	Kind  Kind
	Input string   // the configured path or glob this file came from
	Path  string   // the file's path when it was opened (a rotated name while it is finished)
	Text  string   // without the newline (LineKind, HeaderKind)
	Pos   Position // position just past this line; Pos.Path is the key to store it under
}

// Config configures a Tailer.
type Config struct {
	Inputs       []string      // paths, globs, or "-" for stdin
	PollInterval time.Duration // stat/glob polling, default 1s
	MaxLine      int           // default 1<<20
	Logger       zerolog.Logger

	// Stdin is read for the input "-"; nil means os.Stdin.
	Stdin io.Reader

	// ParkFor and ParkMax bound the saved positions kept for paths no
	// longer in the inputs: a position is dropped (a Gone event) at the
	// first start ParkFor or longer after its path left (default 30 days),
	// and beyond the ParkMax most recently parked ones (default 1000). A
	// path that comes back before that resumes where it was.
	ParkFor time.Duration
	ParkMax int
	// Now is the clock for Position.Parked; nil means time.Now.
	Now func() time.Time

	// Trigger, when set, replaces the poll timer: the disk is looked at
	// only when Trigger.Poll asks. Tests use it to decide exactly what the
	// tailer sees between two looks, with no sleeps.
	Trigger *Trigger
}

// Trigger drives a Tailer's polls (Config.Trigger). One Trigger serves one
// Tailer.
type Trigger struct{ c chan chan int64 }

// NewTrigger returns a Trigger for Config.Trigger.
func NewTrigger() *Trigger { return &Trigger{c: make(chan chan int64)} }

// Poll waits until Run has read its files to their ends, lets it look at the
// disk once and read what it found, and returns when it is idle again, with
// how many events Run has sent in all so far (sent, not necessarily received
// yet).
func (tr *Trigger) Poll(ctx context.Context) (int64, error) {
	ack := make(chan int64, 1)
	select {
	case tr.c <- ack:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	select {
	case n := <-ack:
		return n, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// The bounds on parked positions (Config.ParkFor, Config.ParkMax).
const (
	DefaultParkFor = 30 * 24 * time.Hour
	DefaultParkMax = 1000
)

// Stats are the tailer's counters, for the caller's metrics.
type Stats struct {
	// LostFiles counts files whose unread tail could not be found: a saved
	// file that is gone on start, or a truncation whose copy is missing
	// while bytes were known to be unread, or a file last seen empty that
	// was written to and emptied again with no copy next to it. A saved
	// file that had been read to its end before it was deleted counts too:
	// there is no way to tell.
	LostFiles uint64
	// Truncations counts truncations seen while running.
	Truncations uint64
	// Rotations counts renames and deletions of followed files seen while
	// running.
	Rotations uint64
}

// Tailer reads the lines of its inputs exactly once per run. See the package
// documentation for the identity and offset rules.
type Tailer struct {
	cfg    Config
	log    zerolog.Logger
	inputs []input
	stdin  bool
	saved  map[string]Position

	lost, truncations, rotations atomic.Uint64
	running                      atomic.Bool

	sent int64 // events sent, for Trigger.Poll

	// Everything below belongs to the Run goroutine.
	followers map[string]*follower
	pending   []Line  // Header and Gone events, sent before any further line
	batch     *buffer // events not sent yet
	idleSent  bool    // the last batch sent was Idle
	free      chan *buffer
	retired   []retired
	deferred  map[string]int
	warned    map[string]string
	files     scanResult
	health    healthState

	healthMu   sync.Mutex
	published  []InputHealth // the inputs' health after the last poll
	looked     chan struct{}
	lookedOnce sync.Once
}

type input struct {
	pattern string
	glob    bool
}

// New checks cfg and returns a Tailer that resumes from saved (keyed by path,
// as Pos.Path). Files are looked at when Run starts.
func New(cfg Config, saved map[string]Position) (*Tailer, error) {
	if len(cfg.Inputs) == 0 {
		return nil, errors.New("tailer: no inputs")
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Second
	}
	if cfg.MaxLine <= 0 {
		cfg.MaxLine = 1 << 20
	}
	if cfg.ParkFor <= 0 {
		cfg.ParkFor = DefaultParkFor
	}
	if cfg.ParkMax <= 0 {
		cfg.ParkMax = DefaultParkMax
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	t := &Tailer{
		cfg:       cfg,
		log:       cfg.Logger.With().Str("component", "tailer").Logger(),
		saved:     make(map[string]Position, len(saved)),
		followers: map[string]*follower{},
		deferred:  map[string]int{},
		warned:    map[string]string{},
		free:      make(chan *buffer, maxFree),
		looked:    make(chan struct{}),
	}
	seen := map[string]bool{}
	for _, in := range cfg.Inputs {
		switch {
		case in == "":
			return nil, errors.New("tailer: empty input")
		case seen[in]:
			return nil, fmt.Errorf("tailer: input %q given twice", in)
		case in == "-":
			t.stdin = true
		case isGlob(in):
			if _, err := filepath.Match(in, ""); err != nil {
				return nil, fmt.Errorf("tailer: input %q: %w", in, err)
			}
			t.inputs = append(t.inputs, input{pattern: in, glob: true})
		default:
			t.inputs = append(t.inputs, input{pattern: in})
		}
		seen[in] = true
	}
	for k, p := range saved {
		p.Path = k
		t.saved[k] = p
	}
	for _, in := range t.inputs {
		// Not looked at yet: no file, and no problem either.
		t.published = append(t.published, InputHealth{Input: in.pattern, Errors: map[string]uint64{}})
	}
	return t, nil
}

func isGlob(s string) bool { return strings.ContainsAny(s, `*?[\`) }

// Stats returns the counters; safe to call at any time.
func (t *Tailer) Stats() Stats {
	return Stats{LostFiles: t.lost.Load(), Truncations: t.truncations.Load(), Rotations: t.rotations.Load()}
}

const readBudget = 4096 // lines per file per round, so one big file cannot starve a poll

// Run sends the lines of the inputs to out, in batches of up to batchLines
// events in file order, until ctx is done, then returns nil. A batch is
// sent when it is full and whenever the files have been read to their ends
// (Idle), so a quiet file's line is not held back. Sends block: a slow consumer
// slows reading and nothing is skipped. A batch in flight when ctx ends is
// abandoned, never half-sent. Run never closes
// out and may be called once.
//
// Files are read by one goroutine. A stdin input has its own goroutine, which
// may outlive Run until its blocked read returns; it sends nothing after ctx
// is done.
func (t *Tailer) Run(ctx context.Context, out chan<- Batch) error {
	if !t.running.CompareAndSwap(false, true) {
		return errors.New("tailer: Run called twice")
	}
	defer t.closeAll()
	if t.stdin {
		go t.readStdin(ctx, out)
	}
	t.start()
	timer := time.NewTimer(t.cfg.PollInterval)
	defer timer.Stop()
	nextPoll := time.Now().Add(t.cfg.PollInterval)
	var ack chan int64
	for {
		busy, ok := t.readAll(ctx, out)
		if !ok || !t.ship(ctx, out, !busy) {
			return nil
		}
		if busy {
			// Keep reading, but a file written faster than it is read must
			// still be checked for truncation and rotation.
			if t.cfg.Trigger == nil && !time.Now().Before(nextPoll) {
				t.poll()
				nextPoll = time.Now().Add(t.cfg.PollInterval)
			}
			continue
		}
		if t.cfg.Trigger != nil {
			if ack != nil {
				ack <- t.sent
				ack = nil
			}
			select {
			case <-ctx.Done():
				return nil
			case ack = <-t.cfg.Trigger.c:
				t.poll()
			}
			continue
		}
		timer.Reset(time.Until(nextPoll))
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
		t.poll()
		nextPoll = time.Now().Add(t.cfg.PollInterval)
	}
}

func (t *Tailer) closeAll() {
	for _, f := range t.followers {
		for _, s := range []*source{f.drain, f.live} {
			if s != nil {
				s.close()
			}
		}
	}
	t.followers = map[string]*follower{}
}

// readAll reads every follower once, in path order.
func (t *Tailer) readAll(ctx context.Context, out chan<- Batch) (busy, ok bool) {
	for _, k := range t.sortedFollowers() {
		f := t.followers[k]
		n, ok := t.read(ctx, out, f)
		if !ok {
			return busy, false
		}
		busy = busy || n > 0
	}
	return busy, true
}

// read sends up to readBudget lines of one follower: its drain first, then
// its followed file. It returns how many lines it sent, and counts finishing a
// drain or restarting a truncated file as progress too.
func (t *Tailer) read(ctx context.Context, out chan<- Batch, f *follower) (int, bool) {
	n := 0
	for n < readBudget {
		s := f.drain
		if s == nil {
			s = f.live
		}
		if s == nil {
			return n, true
		}
		text, tooLong, err := s.r.next()
		if err != nil {
			s.eof = true
			switch {
			case s != f.live:
				if err != io.EOF {
					t.log.Warn().Str("path", s.path).Int64("offset", s.r.off).Err(err).Msg("rotated file read failed")
				}
				t.finishDrain(f)
				n++
				continue
			case errors.Is(err, errTruncated):
				t.truncated(f)
				return n + 1, true
			case err != io.EOF:
				t.warnOnce(s.path, "read failed", err)
			}
			return n, true
		}
		s.eof = false
		l := Line{Kind: LineKind, Input: f.input, Path: s.path, Pos: Position{Path: f.path, ID: s.id, Offset: s.r.off}}
		if tooLong {
			l.Kind = TooLongKind
		} else {
			l.Text = t.text(text)
		}
		if !t.send(ctx, out, l) {
			return n, false
		}
		n++
	}
	return n, true
}

func (t *Tailer) sortedFollowers() []string {
	keys := make([]string, 0, len(t.followers))
	for k := range t.followers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// readStdin sends the lines of stdin, without positions. A stream has no
// rotation and no restart, and at its end its unterminated last line is
// complete.
func (t *Tailer) readStdin(ctx context.Context, out chan<- Batch) {
	in := t.cfg.Stdin
	if in == nil {
		in = os.Stdin
	}
	r := newLineReader(in, t.cfg.MaxLine, 0)
	send := func(text []byte, tooLong bool) bool {
		l := Line{Kind: LineKind, Input: "-", Path: "-"}
		if tooLong {
			l.Kind = TooLongKind
		} else {
			l.Text = string(text)
		}
		if ctx.Err() != nil {
			return false
		}
		select {
		case out <- Batch{Lines: []Line{l}}:
			return true
		case <-ctx.Done():
			return false
		}
	}
	for {
		text, tooLong, err := r.next()
		if err != nil {
			if err != io.EOF {
				t.log.Warn().Str("path", "-").Err(err).Msg("stdin read failed")
			}
			if text, tooLong, ok := r.rest(); ok {
				send(text, tooLong)
			}
			return
		}
		if !send(text, tooLong) {
			return
		}
	}
}

func (t *Tailer) warnOnce(path, msg string, err error) {
	key := path + "\x00" + msg
	if t.warned[key] == err.Error() {
		t.noteFailure(path, err) // still failing: the input's health says so
		return
	}
	t.warned[key] = err.Error()
	t.noteFailure(path, err)
	t.log.Warn().Str("path", path).Err(err).Msg(msg)
}

func (t *Tailer) clearWarn(path, msg string) { delete(t.warned, path+"\x00"+msg) }
