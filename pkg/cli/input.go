package cli

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/ppwatch/ppwatch/parsers"
	"github.com/ppwatch/ppwatch/pkg/config"
	"github.com/ppwatch/ppwatch/pkg/event"
	"github.com/ppwatch/ppwatch/pkg/pipeline"
	"github.com/ppwatch/ppwatch/pkg/report"
)

// maxMalformedShown caps the malformed lines printed per file; the rest are
// counted and summed up in one line.
const maxMalformedShown = 10

// common holds the flags parse and scan share.
type common struct {
	mta        string
	configFile string
	cfg        *config.Config
	noSenders  bool // the scan report shows no senders
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.mta, "mta", "auto", "MTA that wrote the logs: auto, "+parsers.Names(", "))
	fs.StringVar(&c.configFile, "config", "", "YAML configuration `file` (source IPs, internal relays, Proofpoint domains, rules)")
}

// setup checks the flags and loads the configuration.
func (c *common) setup() error {
	if _, ok := parsers.Lookup(c.mta); !ok && c.mta != "auto" {
		return usagef("--mta: unknown MTA %q (use auto, %s)", c.mta, parsers.Names(", "))
	}
	c.cfg = config.Default()
	if c.configFile != "" {
		cfg, err := config.Load(c.configFile)
		if err != nil {
			return usagef("%v", err)
		}
		c.cfg = cfg
	}
	// Checked here, built per file in readInput.
	if _, err := c.cfg.NewClassifier(); err != nil {
		return usagef("%v", err)
	}
	return nil
}

// readInput runs one file (or "-") through a pipeline and calls emit for
// every line's outcome. Malformed lines are reported on stderr with
// file:line (the first few per file).
func (c *common) readInput(name string, env Env, emit func(ev *event.Delivery, res pipeline.Result, err error)) (report.File, error) {
	display := displayName(name)
	f := report.File{Path: display}
	log, err := pipeline.Open(name, env.Stdin)
	if err != nil {
		return f, err
	}
	defer log.Close()

	mta := c.mta
	if mta == "auto" {
		peek := log.Head(256 << 10)
		if len(bytes.TrimSpace(peek)) == 0 {
			f.MTA = "none"
			return f, nil // empty input: nothing to tell, nothing to count
		}
		mta = parsers.DetectHead(peek)
		if mta == "" {
			f.MTA = "unknown"
			return f, fmt.Errorf("%s: cannot tell which MTA wrote it (no %s line among its first %d lines); give --mta", display, parsers.Titles(), parsers.DetectLines)
		}
	}
	f.MTA = mta
	ref := Reference(name)
	p, err := c.newPipeline(mta, func() time.Time { return ref })
	if err != nil {
		return f, err
	}
	notes := malformedNotes{w: env.Stderr, display: display}
	malformed := func(n int, msg string) {
		f.Malformed++
		notes.add(n, msg)
	}
	// One event for the whole file: emit's callers use it before the next
	// line, and a fresh one per line would be a heap allocation each.
	var ev event.Delivery
	err = log.Lines(func(n int, line string, tooLong bool) error {
		f.Read++
		if tooLong {
			malformed(n, tooLongNote)
			emit(nil, pipeline.Malformed, fmt.Errorf("line longer than %d bytes", pipeline.MaxLineBytes))
			return nil
		}
		var res pipeline.Result
		var perr error
		res, perr = p.Line(line, &ev)
		switch res {
		case pipeline.Parsed:
			f.Parsed++
			emit(&ev, res, nil)
		case pipeline.Malformed:
			malformed(n, perr.Error())
			emit(nil, res, perr)
		default:
			f.Ignored++
			emit(nil, res, nil)
		}
		return nil
	})
	notes.summary()
	if err != nil {
		return f, fmt.Errorf("%s: line %d: %w", display, f.Read+1, err)
	}
	return f, nil
}

// newPipeline returns a pipeline for one stream of mta's log; ref gives the
// instant no year-less timestamp may lie after.
func (c *common) newPipeline(mta string, ref func() time.Time) (*pipeline.Pipeline, error) {
	// A classifier per stream: scan reads files in parallel, and a
	// classifier's cache is not safe for concurrent use.
	cls, err := c.cfg.NewClassifier()
	if err != nil {
		return nil, usagef("%v", err)
	}
	o := c.cfg.PipelineOptions(mta, cls)
	o.Reference, o.NoSenders, o.Transient = ref, c.noSenders, true
	p, err := pipeline.New(mta, o)
	if err != nil {
		return nil, usagef("%v", err)
	}
	return p, nil
}

var tooLongNote = fmt.Sprintf("line longer than %d bytes skipped", pipeline.MaxLineBytes)

// malformedNotes reports an input's malformed lines on stderr: the first
// maxMalformedShown, then how many more there were.
type malformedNotes struct {
	w       io.Writer
	display string
	n       int
}

// add reports one; line is its number in the input, 0 when unknown (a
// file followed from its middle).
func (m *malformedNotes) add(line int, msg string) {
	m.n++
	switch {
	case m.n > maxMalformedShown:
	case line > 0:
		fmt.Fprintf(m.w, "ppwatch: %s:%d: malformed: %s\n", m.display, line, msg)
	default:
		fmt.Fprintf(m.w, "ppwatch: %s: malformed: %s\n", m.display, msg)
	}
}

func (m *malformedNotes) summary() {
	if m.n > maxMalformedShown {
		fmt.Fprintf(m.w, "ppwatch: %s: %d more malformed lines not shown\n", m.display, m.n-maxMalformedShown)
	}
}

// Reference is the instant scan places no year-less timestamp of the file
// name after: its modification time (an old rotated file then gets its own
// year), else now. ppdemo places the samples' timestamps by it too.
func Reference(name string) time.Time {
	now := time.Now()
	if name == "-" {
		return now
	}
	if st, err := os.Stat(name); err == nil && st.ModTime().Before(now) {
		return st.ModTime()
	}
	return now
}

// displayName is how messages name an input.
func displayName(name string) string {
	if name == "-" {
		return "(stdin)"
	}
	return name
}
