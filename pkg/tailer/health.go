package tailer

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"time"
)

// Reasons an input reads nothing, as metric label values (stable).
const (
	ReasonNotFound   = "not_found"  // no file at the path, or the glob matches none
	ReasonPermission = "permission" // a file is there but may not be read
	ReasonReadError  = "read_error" // any other failure to open, stat or read
)

// Reasons lists the reasons in label order.
var Reasons = []string{ReasonNotFound, ReasonPermission, ReasonReadError}

// Hint says what to do about a reason, for the log and the readiness
// answer: the one reading them is the operator who has to fix it.
func Hint(reason string) string {
	switch reason {
	case ReasonNotFound:
		return "check the path under inputs: in the config, and where the MTA writes its log"
	case ReasonPermission:
		return "let the user ppwatch runs as read the file: add it to the log's group (adm on Debian; PowerMTA's accounting files: the pmta group), then restart ppwatch"
	}
	return "see the error; the file may be on a failing disk or not a regular file"
}

// ReasonOf names the reason for err.
func ReasonOf(err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		return ReasonNotFound
	case errors.Is(err, fs.ErrPermission):
		return ReasonPermission
	}
	return ReasonReadError
}

var (
	errNoFile  = errors.New("no such file")
	errNoMatch = errors.New("the pattern matches no file")
)

// InputError is an input that cannot be read now.
type InputError struct {
	Input  string // as configured
	Path   string // the path the error is about (the input itself for a glob that matches nothing)
	Reason string
	Err    error
}

func (e *InputError) Error() string {
	return fmt.Sprintf("input %s: %v (%s)", e.Input, e.Err, Hint(e.Reason))
}

func (e *InputError) Unwrap() error { return e.Err }

// Check looks at an input as Run would: a path must name a regular file
// this process may open, a glob must match at least one. It returns nil or
// an *InputError.
func Check(in string) error {
	paths := []string{in}
	if isGlob(in) {
		m, err := filepath.Glob(in)
		if err != nil {
			return &InputError{Input: in, Path: in, Reason: ReasonReadError, Err: err}
		}
		if paths = readableMatches(m); len(paths) == 0 {
			return &InputError{Input: in, Path: in, Reason: ReasonNotFound, Err: errNoMatch}
		}
	}
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return &InputError{Input: in, Path: p, Reason: ReasonOf(err), Err: err}
		}
		st, err := f.Stat()
		f.Close()
		if err == nil && !st.Mode().IsRegular() {
			err = fmt.Errorf("%s is not a regular file", p)
		}
		if err != nil {
			return &InputError{Input: in, Path: p, Reason: ReasonReadError, Err: err}
		}
	}
	return nil
}

// readableMatches drops what scan drops from a glob's matches.
func readableMatches(m []string) []string {
	var out []string
	for _, p := range m {
		if !isGzip(p) && readableRotation(p) {
			out = append(out, p)
		}
	}
	return out
}

// InputHealth is what one input reads now.
type InputHealth struct {
	Input string
	Files int // files followed now
	// Problem is why the input reads nothing or fails, nil when it reads.
	Problem *InputError
	Since   time.Time         // when Problem began
	Errors  map[string]uint64 // problems begun so far, by reason
	Looked  bool              // false until Run has looked at the input
}

// healthState belongs to the Run goroutine, except the published copy.
type healthState struct {
	failed map[string]error // path → failure met since the last look
	inputs map[string]*InputHealth
	logged map[string]time.Time // input → when its problem was last logged
}

// warnEvery is how often a lasting problem is logged again: a warning at
// start scrolls away long before anyone reads it.
const warnEvery = 10 * time.Minute

// noteFailure records a failure to open, stat or read path for the next
// look at the inputs' health.
func (t *Tailer) noteFailure(path string, err error) {
	if t.health.failed == nil {
		t.health.failed = map[string]error{}
	}
	t.health.failed[path] = err
}

// updateHealth looks at every input after a poll: how many files it
// follows, and what failed. An input without a file and without a failure
// has nothing at its path.
func (t *Tailer) updateHealth() {
	now := time.Now()
	h := &t.health
	if h.inputs == nil {
		h.inputs, h.logged = map[string]*InputHealth{}, map[string]time.Time{}
	}
	files := map[string]int{}
	for _, f := range t.followers {
		if f.live != nil || f.drain != nil {
			files[f.input]++
		}
	}
	// Each input's first failure in path order, its owner looked up once.
	failed := map[string]*InputError{}
	for _, p := range sortedKeys(h.failed) {
		if owner, ok := t.inputFor(p); ok && failed[owner.pattern] == nil {
			err := h.failed[p]
			failed[owner.pattern] = &InputError{Input: owner.pattern, Path: p, Reason: ReasonOf(err), Err: err}
		}
	}
	for _, in := range t.inputs {
		ih := h.inputs[in.pattern]
		if ih == nil {
			ih = &InputHealth{Input: in.pattern, Errors: map[string]uint64{}}
			h.inputs[in.pattern] = ih
		}
		ih.Files, ih.Looked = files[in.pattern], true
		problem := failed[in.pattern]
		if problem == nil && ih.Files == 0 {
			problem = &InputError{Input: in.pattern, Path: in.pattern, Reason: ReasonNotFound, Err: errNoFile}
			if in.glob {
				problem.Err = errNoMatch
			}
		}
		t.setProblem(ih, problem, now)
	}
	clear(h.failed)
	t.lookedOnce.Do(func() { close(t.looked) })
	t.healthMu.Lock()
	t.published = t.published[:0]
	for _, in := range t.inputs {
		ih := *h.inputs[in.pattern]
		ih.Errors = maps.Clone(ih.Errors) // the Run goroutine goes on counting in its own
		t.published = append(t.published, ih)
	}
	t.healthMu.Unlock()
}

func (t *Tailer) setProblem(ih *InputHealth, p *InputError, now time.Time) {
	was := ih.Problem
	switch {
	case p == nil && was == nil:
		return
	case p == nil:
		t.log.Info().Str("input", ih.Input).Int("files", ih.Files).Msg("input is read again")
		ih.Problem = nil
		return
	case was == nil || was.Reason != p.Reason || was.Path != p.Path:
		ih.Errors[p.Reason]++
		ih.Since = now
	case now.Sub(t.health.logged[ih.Input]) < warnEvery:
		ih.Problem = p
		return
	}
	ih.Problem = p
	t.health.logged[ih.Input] = now
	t.log.Warn().Str("input", ih.Input).Str("path", p.Path).Str("reason", p.Reason).Err(p.Err).
		Time("since", ih.Since).Str("fix", Hint(p.Reason)).Msg("input reads nothing")
}

// Health returns each input's state as of the last poll; safe to call at
// any time. Stdin is not listed: it has no file to miss.
func (t *Tailer) Health() []InputHealth {
	t.healthMu.Lock()
	defer t.healthMu.Unlock()
	out := make([]InputHealth, len(t.published))
	copy(out, t.published)
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Looked is closed once Run has looked at every input a first time: from
// then on Health tells what each one reads.
func (t *Tailer) Looked() <-chan struct{} { return t.looked }
