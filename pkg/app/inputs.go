package app

import (
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ppwatch/ppwatch/pkg/tailer"
)

// reasonJournalExit is the input error reason of a journald input whose
// journalctl stopped or could not start.
const reasonJournalExit = "journal_exit"

var (
	inputFilesDesc = prometheus.NewDesc("ppwatch_input_files",
		"Files followed now per configured input (1 for a journald input while journalctl runs); 0 means the input reads nothing.",
		[]string{"input"}, nil)
	inputErrorsDesc = prometheus.NewDesc("ppwatch_input_errors_total",
		"Times an input began to read nothing or fail, by reason: not_found, permission, read_error, journal_exit.",
		[]string{"input", "reason"}, nil)
)

// inputHealth says, for scrapes and /-/ready, whether each input of the
// running setup is being read. Error counts are kept across reloads, which
// replace the tailer, so that the counters only grow.
type inputHealth struct {
	mu       sync.Mutex
	tail     *tailer.Tailer
	prev     map[string]tailer.InputHealth // the replaced tailer's last look, until the new one has looked
	journals map[string]*journalHealth
	base     map[[2]string]uint64 // counts of the tailers replaced by reloads
	stopped  error                // set when nothing is read at all
}

type journalHealth struct {
	err     error // nil while journalctl runs
	started bool
	errors  uint64
	since   time.Time
}

func newInputHealth() *inputHealth {
	return &inputHealth{journals: map[string]*journalHealth{}, base: map[[2]string]uint64{}}
}

// use makes t and journals the inputs looked at, from a new setup.
func (h *inputHealth) use(t *tailer.Tailer, journals []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.prev = map[string]tailer.InputHealth{}
	if h.tail != nil {
		for _, ih := range h.tail.Health() {
			for r, n := range ih.Errors {
				h.base[[2]string{ih.Input, r}] += n
			}
			ih.Errors = nil // counted in base now
			h.prev[ih.Input] = ih
		}
	}
	h.tail = t
	next := map[string]*journalHealth{}
	for _, j := range journals {
		if old := h.journals[j]; old != nil {
			// As it was until the new journalctl says otherwise.
			next[j] = &journalHealth{errors: old.errors, err: old.err, started: old.started, since: old.since}
		} else {
			next[j] = &journalHealth{err: errors.New("journalctl not started yet")}
		}
	}
	h.journals = next
}

func (h *inputHealth) journalState(input string, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	j := h.journals[input]
	if j == nil {
		return // a setup replaced since
	}
	if err != nil && (j.err == nil || !j.started) {
		j.errors++
		j.since = time.Now()
	}
	j.err, j.started = err, true
}

// inputState is one input's state as the metrics and /-/ready tell it.
type inputState struct {
	input  string
	files  int
	reason string // "" when it reads
	err    error
	hint   string
	errors map[string]uint64
}

func (h *inputHealth) states() []inputState {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []inputState
	if h.tail != nil {
		for _, ih := range h.tail.Health() {
			if p, ok := h.prev[ih.Input]; ok && !ih.Looked {
				// Reloaded a moment ago: the input was read until then.
				ih = p
			}
			s := inputState{input: ih.Input, files: ih.Files, errors: map[string]uint64{}}
			for _, r := range tailer.Reasons {
				s.errors[r] = ih.Errors[r] + h.base[[2]string{ih.Input, r}]
			}
			switch p := ih.Problem; {
			case ih.Files > 0:
			case p != nil:
				s.reason, s.err, s.hint = p.Reason, p.Err, tailer.Hint(p.Reason)
			default:
				s.err, s.hint = errors.New("not looked at yet"), "wait for the first poll"
			}
			out = append(out, s)
		}
	}
	for input, j := range h.journals {
		s := inputState{input: input, errors: map[string]uint64{reasonJournalExit: j.errors}}
		if j.err == nil {
			s.files = 1
		} else {
			s.reason, s.err = reasonJournalExit, j.err
			s.hint = "see journalctl's error: is systemd-journald running, and may ppwatch's user read the journal (group systemd-journal or adm)?"
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, k int) bool { return out[i].input < out[k].input })
	return out
}

// notReading returns why the daemon is not ready: nothing is read, or an
// input reads nothing. nil when every input is read.
func (h *inputHealth) notReading() error {
	h.mu.Lock()
	stopped := h.stopped
	h.mu.Unlock()
	if stopped != nil {
		return stopped
	}
	for _, s := range h.states() {
		if s.files == 0 {
			return fmt.Errorf("input %s reads nothing: %v (%s)", s.input, s.err, s.hint)
		}
	}
	return nil
}

// Describe implements prometheus.Collector.
func (h *inputHealth) Describe(ch chan<- *prometheus.Desc) {
	ch <- inputFilesDesc
	ch <- inputErrorsDesc
}

// Collect implements prometheus.Collector.
func (h *inputHealth) Collect(ch chan<- prometheus.Metric) {
	for _, s := range h.states() {
		ch <- prometheus.MustNewConstMetric(inputFilesDesc, prometheus.GaugeValue, float64(s.files), s.input)
		for r, n := range s.errors {
			ch <- prometheus.MustNewConstMetric(inputErrorsDesc, prometheus.CounterValue, float64(n), s.input, r)
		}
	}
}
