package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/ppwatch/ppwatch/parsers"
	"github.com/ppwatch/ppwatch/pkg/event"
	"github.com/ppwatch/ppwatch/pkg/ingest"
	"github.com/ppwatch/ppwatch/pkg/livetail"
	"github.com/ppwatch/ppwatch/pkg/pipeline"
)

// runTail is the live view: the attempts of the logs as they are written,
// until SIGINT or SIGTERM (exit 0).
func runTail(args []string, env Env) error {
	fs := newFlagSet("tail", env)
	var c common
	c.register(fs)
	all := fs.Bool("all", false, "print every delivery attempt, not only Proofpoint blocks and deferrals")
	asJSON := fs.Bool("json", false, "print the event JSON of ppwatch parse, one per line")
	files, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := c.setup(); err != nil {
		return err
	}
	if len(files) == 0 {
		return usagef("tail: give one or more log files to follow")
	}
	for _, f := range files {
		if f == "-" {
			return usagef("tail: follows files, not standard input (ppwatch parse reads a pipe)")
		}
	}

	// Registered before the first line is read, so that a Ctrl-C at any
	// moment ends the view cleanly.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	lines, err := livetail.Start(ctx, files, livetail.Options{MaxLine: pipeline.MaxLineBytes})
	if err != nil {
		return err
	}
	v := &tailView{c: &c, env: env, all: *all, colour: colourful(env.Stdout), files: map[string]*tailFile{}}
	if *asJSON {
		v.enc = newEventEncoder(env.Stdout)
	}
	for _, f := range files {
		if v.files[f] == nil {
			v.order = append(v.order, f)
			v.files[f] = &tailFile{notes: malformedNotes{w: env.Stderr, display: f}}
		}
	}
	v.prefix = len(v.order) > 1
	var werr error
	for l := range lines {
		if werr == nil {
			if werr = v.handle(l); werr != nil {
				cancel() // and drain, so that the followers can end
			}
		}
	}
	for _, f := range v.order {
		v.files[f].notes.summary()
	}
	return werr
}

// tailView turns followed lines into the view's output.
type tailView struct {
	c      *common
	env    Env
	all    bool
	colour bool
	prefix bool          // several files: each line names its file
	enc    *json.Encoder // --json
	files  map[string]*tailFile
	order  []string
	ev     event.Delivery // one for all lines: each is printed before the next is read
}

type tailFile struct {
	p     *pipeline.Pipeline // nil while the MTA is not known
	notes malformedNotes
}

func (v *tailView) handle(l livetail.Line) error {
	f := v.files[l.Path]
	switch l.Kind {
	case livetail.Note:
		_, err := fmt.Fprintf(v.env.Stderr, "ppwatch: %s: %s\n", l.Path, l.Text)
		return err
	case livetail.TooLong:
		f.notes.add(0, tooLongNote)
		return nil
	}
	if f.p == nil {
		mta := v.c.mta
		if mta == "auto" {
			// A live file may start empty or be followed from its end, so
			// its first lines are not at hand: the first line one MTA's
			// detector knows decides (every delivery attempt is such a
			// line, so nothing before it is lost).
			if mta = parsers.Detect([]string{l.Text}); mta == "" {
				return nil
			}
		}
		p, err := v.c.newPipeline(mta, func() time.Time { return time.Now().Add(ingest.YearSlack) })
		if err != nil {
			return err
		}
		f.p = p
	}
	if l.Kind == livetail.Header {
		if err := f.p.SetHeader(l.Text); err != nil {
			f.notes.add(0, err.Error())
		}
		return nil
	}
	res, err := f.p.Line(l.Text, &v.ev)
	switch {
	case res == pipeline.Malformed:
		f.notes.add(0, err.Error())
	case res == pipeline.Parsed && (v.all || v.ev.Outcome() != ""):
		if v.enc != nil {
			return v.enc.Encode(&v.ev)
		}
		prefix := ""
		if v.prefix {
			prefix = l.Path + ": "
		}
		_, err := io.WriteString(v.env.Stdout, readableLine(prefix, &v.ev, v.colour))
		return err
	}
	return nil
}

// Colours of the view's blocks and deferrals (SGR red and yellow).
const (
	red    = "\x1b[31m"
	yellow = "\x1b[33m"
	reset  = "\x1b[0m"
)

// readableLine is one attempt as the view prints it: the time (UTC), the
// sending IP, the recipient domain, block or deferral (else the MTA's
// status), the class and the reply verbatim ("-" for what is unknown).
func readableLine(prefix string, ev *event.Delivery, colour bool) string {
	what := ev.Outcome()
	if what == "" {
		what = string(ev.Status)
	}
	line := prefix + ev.Time.UTC().Format(time.RFC3339) + " " + orDash(ev.SourceIP) + " " +
		orDash(ev.RecipientDomain) + " " + what + " " + string(ev.Class) + " " + printable(ev.Response)
	switch {
	case !colour:
	case what == event.OutcomeBlock:
		line = red + line + reset
	case what == event.OutcomeDeferral:
		line = yellow + line + reset
	}
	return line + "\n"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// printable replaces control characters with '?': the reply is the remote
// server's text, and escape sequences in it must not drive the terminal.
func printable(s string) string {
	if !strings.ContainsFunc(s, isControl) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if isControl(r) {
			return '?'
		}
		return r
	}, s)
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }

// colourful reports whether the view may colour what it writes to w: a
// terminal, unless NO_COLOR (no-color.org) or TERM=dumb says otherwise.
func colourful(w io.Writer) bool {
	if os.Getenv("NO_COLOR") != "" || os.Getenv("TERM") == "dumb" {
		return false
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
