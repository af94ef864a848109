// Package ingest is the daemon's one writer: it takes the lines the tailer
// and the journal followers read, runs them through a pipeline per file,
// and commits the counts, replies, figures and input positions of each
// flush interval in one store transaction, then hands the events to the
// in-memory aggregate and updates the daemon's self-metrics. Retention runs
// here too: bbolt has one writer.
package ingest

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/ppwatch/ppwatch/parsers"
	"github.com/ppwatch/ppwatch/parsers/mtalog"
	"github.com/ppwatch/ppwatch/pkg/agg"
	"github.com/ppwatch/ppwatch/pkg/classify"
	"github.com/ppwatch/ppwatch/pkg/config"
	"github.com/ppwatch/ppwatch/pkg/event"
	"github.com/ppwatch/ppwatch/pkg/journal"
	"github.com/ppwatch/ppwatch/pkg/metrics"
	"github.com/ppwatch/ppwatch/pkg/outcome"
	"github.com/ppwatch/ppwatch/pkg/pipeline"
	"github.com/ppwatch/ppwatch/pkg/store"
	"github.com/ppwatch/ppwatch/pkg/tailer"
)

// maxBatch bounds the attempts read but not committed: past it the writer
// commits at once, and while commits fail it stops reading (the log file
// itself is the buffer).
const maxBatch = 25000

// MaxKeys bounds the distinct store keys (cells and replies) of a commit. A
// commit's memory grows with the bbolt pages it rewrites, and attempts to
// many recipient domains scatter over all pages of the series and replies
// buckets: with 100,000 domains a 25,000-attempt commit rewrote most of the
// file in memory. Usual traffic has a few thousand keys per 25,000 attempts
// and is not cut by this.
const MaxKeys = 1024

// YearSlack lets a year-less timestamp read as it is written lie a little
// after now (clock steps, a daylight-saving hour) before it is taken for
// last year's; ppwatch tail's live view uses it too.
const YearSlack = time.Hour

// Writer is the one writer: it reads lines from the tailer, runs them
// through the pipelines and commits counts and positions in one store
// transaction per flush interval.
type Writer struct {
	log  zerolog.Logger
	st   *store.Store
	agg  *agg.Agg
	self *metrics.Self
	now  func() time.Time
	ev   event.Delivery // reused for every line: the pipeline writes it only for attempts
	cfg  *config.Config
	cls  *classify.Classifier

	outcomes     *outcome.Tracker
	samplesSaved time.Time         // when the outcomes' samples were last committed
	final        bool              // the last flush: everything goes
	mtas         map[string]string // configured input → MTA ("auto" resolved per file)
	pipes        map[string]*pipeline.Pipeline
	// One sender correlator per input, for all its files, kept in the
	// state file: a message that arrived before a rotation, a restart or a
	// reload is delivered after it, and Postfix names its Message-ID only
	// at arrival.
	senders map[string]*mtalog.Senders
	// What the state file held for each input, until its correlator is made.
	restored map[string][][3]string
	// The last pipeline and position looked up: lines come in runs of one
	// file, and a map operation per line was a tenth of the catch-up time.
	lastPath string
	lastPipe *pipeline.Pipeline
	lastKey  string
	lastPos  tailer.Position

	batch     *store.Batch
	positions map[string]position // the latest of each key since the last commit
	events    []agg.Event
	inputs    map[string]*inputStats // per input, since the last commit
	cur       *inputStats            // the last one looked up: lines come in runs
	malformed zerolog.Logger         // sampled
	failing   bool
	// The kept domains' version last committed, and the one in the batch.
	keptSaved, keptPending uint64
	tail                   *tailer.Tailer
	lost                   uint64 // the tailer's LostFiles already counted
}

// Options make a Writer.
type Options struct {
	Logger     zerolog.Logger
	Store      *store.Store
	Agg        *agg.Agg // the figures the commits are added to
	Self       *metrics.Self
	Now        func() time.Time
	Config     *config.Config
	Classifier *classify.Classifier
	Inputs     []config.Input // as resolved by the caller (defaults filled in)
	Tail       *tailer.Tailer // nil when there are only journald inputs
	// Outcomes follow the messages Proofpoint deferred; their changes are
	// committed with the counts. nil: not followed.
	Outcomes *outcome.Tracker
}

// New returns a Writer; Run starts it.
func New(o Options) *Writer {
	in := &Writer{log: o.Logger, st: o.Store, agg: o.Agg, self: o.Self, now: o.Now, cfg: o.Config, cls: o.Classifier,
		tail: o.Tail, outcomes: o.Outcomes, mtas: map[string]string{}, pipes: map[string]*pipeline.Pipeline{},
		senders: map[string]*mtalog.Senders{}, restored: map[string][][3]string{}}
	in.malformed = o.Logger.Sample(&zerolog.BurstSampler{Burst: 10, Period: time.Minute})
	in.samplesSaved = time.Now()
	for _, i := range o.Inputs {
		in.mtas[i.Path] = i.MTA
	}
	if o.Store != nil {
		if figs, err := o.Store.Figures(); err == nil {
			in.restoreSenders(figs)
		} else {
			in.log.Warn().Err(err).Msg("senders and Message-IDs of queued messages not restored")
		}
	}
	in.reset()
	return in
}

// position is a key's latest position; gone deletes the key.
type position struct {
	pos  tailer.Position
	gone bool
}

func (in *Writer) reset() {
	if in.batch == nil {
		in.batch = store.NewBatch()
		in.positions = map[string]position{}
	}
	in.batch.Reset()
	clear(in.positions)
	in.events = in.events[:0]
	in.inputs = map[string]*inputStats{}
	in.cur = nil
}

// JournalLine is an entry of one journald input.
type JournalLine struct {
	Input string
	Entry journal.Entry
}

// Run consumes lines until the sources have stopped (tailerDone closed),
// then drains what was handed over and commits it.
func (in *Writer) Run(lines chan tailer.Batch, jlines chan JournalLine, tailerDone <-chan struct{}) {
	tick := time.NewTicker(time.Duration(in.cfg.FlushInterval))
	defer tick.Stop()
	// Retention runs in this goroutine: bbolt has one writer.
	prune := time.NewTicker(time.Minute)
	defer prune.Stop()
	for {
		src, jsrc := lines, jlines
		if in.failing && in.full() || in.st.Damaged() != nil {
			// Commits fail: stop reading until one succeeds. A damaged
			// file never mends while running: stop at once.
			src, jsrc = nil, nil
		}
		select {
		case b := <-src:
			for _, l := range b.Lines {
				in.handle(l)
			}
			// The pipeline copies what it keeps of a line.
			in.tail.Release(b)
			// Read to the ends: commit now rather than at the next tick,
			// so the figures are current as soon as a burst is read.
			if b.Idle || in.full() {
				in.flush()
			}
		case j := <-jsrc:
			in.handleJournal(j.Input, j.Entry)
			if in.full() {
				in.flush()
			}
		case <-tick.C:
			in.flush()
		case <-prune.C:
			if n, err := in.st.Prune(in.now(), store.DefaultPruneKeys); err != nil {
				in.log.Warn().Err(err).Msg("retention failed")
			} else if n > 0 {
				in.log.Debug().Int("deleted", n).Msg("retention")
			}
		case <-tailerDone:
			for {
				select {
				case b := <-lines:
					for _, l := range b.Lines {
						in.handle(l)
					}
				case j := <-jlines:
					in.handleJournal(j.Input, j.Entry)
				default:
					in.flushUntilDone()
					return
				}
			}
		}
	}
}

// full reports whether the batch must be committed before reading more.
func (in *Writer) full() bool {
	return in.batch.Len() >= maxBatch || in.batch.Keys() >= MaxKeys
}

// flushUntilDone commits the last batch, retrying a failing store for a
// short while: what is not committed is read again after the restart.
func (in *Writer) flushUntilDone() {
	in.final = true
	for i := 0; i < 5 && in.st.Damaged() == nil; i++ {
		if in.flush() {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	in.log.Error().Int("attempts", in.batch.Len()).Msg("final commit failed; these lines will be read again at the next start")
}

func (in *Writer) handle(l tailer.Line) {
	if l.Kind == tailer.GoneKind || l.Kind == tailer.ParkKind {
		// The key's file is finished (read to its end, or not found), or its
		// path left the inputs: kept, so that it resumes if the path returns.
		in.keepPos()
		in.positions[l.Pos.Path] = position{pos: l.Pos, gone: l.Kind == tailer.GoneKind}
		return
	}
	// Every event's position is committed, a Header's too: it is where
	// reading of that file starts. Only the latest of a key is encoded, at
	// the commit.
	if l.Pos.Path != "" {
		if l.Pos.Path != in.lastKey {
			in.keepPos()
			in.lastKey = l.Pos.Path
		}
		in.lastPos = l.Pos
		st := in.stats(l.Input)
		st.offset, st.hasOffset = float64(l.Pos.Offset), true
	}
	switch l.Kind {
	case tailer.HeaderKind:
		if err := in.pipe(l.Input, l.Path).SetHeader(l.Text); err != nil {
			in.malformed.Warn().Str("path", l.Path).Err(err).Msg("bad header line")
		}
	case tailer.OpenKind: // its position only
	case tailer.TooLongKind:
		in.stats(l.Input).lines[pipeline.Malformed]++
		in.malformed.Warn().Str("path", l.Path).Int64("offset", l.Pos.Offset).Msg("line longer than the limit skipped")
	default:
		in.line(l.Input, l.Path, l.Text, l.Pos.Offset)
	}
}

// keepPos moves the cached latest position into the batch's positions.
func (in *Writer) keepPos() {
	if in.lastKey != "" {
		in.positions[in.lastKey] = position{pos: in.lastPos}
		in.lastKey = ""
	}
}

// handleJournal counts one journal entry; its cursor is the position.
func (in *Writer) handleJournal(input string, e journal.Entry) {
	in.batch.Positions[input] = []byte(e.Cursor)
	in.line(input, input, e.Line, 0)
}

func (in *Writer) line(input, path, text string, offset int64) {
	res, err := in.pipe(input, path).Line(text, &in.ev)
	in.stats(input).lines[res]++
	switch res {
	case pipeline.Malformed:
		in.malformed.Warn().Str("path", path).Int64("offset", offset).Err(err).Msg("malformed line skipped")
	case pipeline.Parsed:
		in.count(&in.ev)
	}
}

func (in *Writer) count(ev *event.Delivery) {
	s := store.Series{MTA: ev.MTA, SourceIP: ev.SourceIP, Status: string(ev.Status), Class: string(ev.Class), Proofpoint: ev.Proofpoint}
	folded := false
	if ev.Proofpoint {
		// The store's bound on domains kept by name, decided here rather
		// than at the commit: a flood's batch then holds a few series
		// under "other" instead of a key per domain.
		s.RecipientDomain, s.Outcome = in.st.Domain(in.batch, ev.SourceIP, ev.RecipientDomain), ev.Outcome()
		folded = s.RecipientDomain != ev.RecipientDomain
		if ev.Status != event.Delivered {
			in.batch.AddReply(ev.Time, store.Reply{SourceIP: ev.SourceIP, RecipientDomain: s.RecipientDomain, Response: ev.Response,
				EnhancedCode: ev.EnhancedCode, Class: string(ev.Class), SMTPCode: ev.SMTPCode})
		}
	}
	in.batch.Add(ev.Time, s)
	in.events = append(in.events, agg.Event{Time: ev.Time, Series: s, Folded: folded})
	if in.outcomes != nil {
		in.outcomes.Observe(ev)
	}
}

// flush commits the batch; it reports whether the store is up to date.
func (in *Writer) flush() bool {
	in.keepPos()
	for key, p := range in.positions {
		if p.gone {
			in.batch.Positions[key] = nil
		} else if b, err := p.pos.MarshalBinary(); err == nil {
			in.batch.Positions[key] = b
		} else {
			in.log.Error().Str("path", key).Err(err).Msg("position not saved")
		}
	}
	samples := in.outcomes != nil && in.outcomes.SamplesDirty() && (in.final || time.Since(in.samplesSaved) >= samplesEvery)
	if in.batch.Len() == 0 && len(in.batch.Positions) == 0 && in.agg.KeptVersion() == in.keptSaved && !samples {
		return true
	}
	now := in.now()
	in.saveFigures(now)
	in.saveSenders()
	if in.outcomes != nil {
		maps.Copy(in.batch.Figures, in.outcomes.Changes(samples))
		if samples {
			in.samplesSaved = time.Now()
		}
	}
	start := time.Now()
	err := in.st.Apply(in.batch)
	in.self.CommitDuration.Observe(time.Since(start).Seconds())
	if err != nil {
		switch {
		case errors.Is(err, store.ErrDamaged):
			if !in.failing {
				in.log.Error().Err(err).Msg("state file damaged: reading stopped; what was not committed is read again after the file is repaired (ppwatch state repair)")
			}
		case !in.failing:
			in.log.Error().Err(err).Msg("store commit failed; keeping the batch and retrying")
		}
		in.failing = true
		in.self.CommitErrors.Inc()
		in.self.StoreHealthy.Set(0)
		in.self.Uncommitted.Set(float64(in.batch.Len()))
		return false
	}
	if in.failing {
		in.log.Info().Msg("store commits work again")
	}
	in.failing = false
	in.self.StoreHealthy.Set(1)
	// Self-metrics first, the counts last: a scrape that sees the counts
	// sees what came with them.
	if in.tail != nil {
		if lost := in.tail.Stats().LostFiles; lost > in.lost {
			in.self.LostFiles.Add(float64(lost - in.lost))
			in.lost = lost
		}
	}
	in.keptSaved = in.keptPending
	lineTime := float64(now.UnixNano()) / 1e9
	for input, st := range in.inputs {
		for res, n := range st.lines {
			if n > 0 {
				in.self.Lines.WithLabelValues(input, pipeline.Result(res).String()).Add(n)
			}
		}
		if st.hasOffset {
			in.self.Offset.WithLabelValues(input).Set(st.offset)
		}
		if st.read() { // read during this flush interval: "now" is within it
			in.self.LastLine.WithLabelValues(input).Set(lineTime)
		}
	}
	in.agg.Add(in.events)
	if size, err := in.st.Size(); err == nil {
		in.self.StoreSize.Set(float64(size))
	}
	in.self.Uncommitted.Set(0)
	in.reset()
	return true
}

// samplesEvery is how often the samples of the evidence packet are
// committed (see outcome.Tracker.Changes).
const samplesEvery = time.Minute

// Figures kept in the store beside the counts, so that a restart shows
// what the running daemon showed.
const (
	figureKept     = "agg.kept"         // agg.Kept as JSON
	figureLastLine = "input.last_line:" // + input: unix nanoseconds, big-endian
)

// saveFigures puts into the batch the figures that changed: the domains
// with their own series, and when each input read its latest line.
func (in *Writer) saveFigures(now time.Time) {
	if v := in.agg.KeptVersion(); v != in.keptSaved {
		if k, ok := in.agg.Kept(); ok {
			if b, err := json.Marshal(k); err == nil {
				in.batch.Figures[figureKept] = b
			}
		}
		in.keptPending = v
	}
	for input, st := range in.inputs {
		if st.read() {
			in.batch.Figures[figureLastLine+input] = binary.BigEndian.AppendUint64(nil, uint64(now.UnixNano()))
		}
	}
}

// RestoreFigures gives the aggregate and the self-metrics what the writer
// kept in the store's figures (self may be nil).
func RestoreFigures(figs map[string][]byte, ag *agg.Agg, self *metrics.Self) error {
	if b, ok := figs[figureKept]; ok {
		var k agg.Kept
		if err := json.Unmarshal(b, &k); err != nil {
			return fmt.Errorf("figure %s: %w", figureKept, err)
		}
		ag.Keep(k)
	}
	if self == nil {
		return nil
	}
	for key, b := range figs {
		if input, ok := strings.CutPrefix(key, figureLastLine); ok && len(b) == 8 {
			self.LastLine.WithLabelValues(input).Set(float64(int64(binary.BigEndian.Uint64(b))) / 1e9)
		}
	}
	return nil
}

// inputStats are one input's self-metrics since the last commit.
type inputStats struct {
	name      string
	lines     [3]float64 // by pipeline.Result
	offset    float64
	hasOffset bool
}

// read tells whether the input had lines since the last commit.
func (st *inputStats) read() bool {
	for _, n := range st.lines {
		if n > 0 {
			return true
		}
	}
	return false
}

func (in *Writer) stats(input string) *inputStats {
	if in.cur != nil && in.cur.name == input {
		return in.cur
	}
	st := in.inputs[input]
	if st == nil {
		st = &inputStats{name: input}
		in.inputs[input] = st
	}
	in.cur = st
	return st
}

// pipe returns the pipeline of one file (or journal input), made on first use.
func (in *Writer) pipe(input, path string) *pipeline.Pipeline {
	if path == in.lastPath && in.lastPipe != nil {
		return in.lastPipe
	}
	if p := in.pipes[path]; p != nil {
		in.lastPath, in.lastPipe = path, p
		return p
	}
	mta := in.mtas[input]
	if mta == "" || mta == "auto" {
		mta = detectFile(path)
	}
	// The envelope sender and Message-ID joined to each attempt (Postfix
	// logs them on lines of their own): the evidence packet's samples.
	o := in.cfg.PipelineOptions(mta, in.cls)
	o.Reference = func() time.Time { return in.now().Add(YearSlack) }
	o.Senders = in.correlator(input)
	p, err := pipeline.New(mta, o)
	if err != nil { // the config was validated: only an unknown MTA gets here
		panic(err)
	}
	in.log.Info().Str("path", path).Str("mta", mta).Msg("reading")
	in.pipes[path] = p
	in.lastPath, in.lastPipe = path, p
	return p
}

// detectFile tells the MTA from a file's first lines, else from its path:
// the first MTA whose name the path holds or one of whose usual file names
// it bears, else the table's first.
func detectFile(path string) string {
	if f, err := os.Open(path); err == nil {
		head := make([]byte, 256<<10)
		n, _ := io.ReadFull(f, head)
		f.Close()
		if m := parsers.DetectHead(head[:n]); m != "" {
			return m
		}
	}
	lower := strings.ToLower(path)
	base := filepath.Base(lower)
	for _, m := range parsers.Table {
		if strings.Contains(lower, m.Name) {
			return m.Name
		}
		for _, p := range m.Paths {
			// "acct-*.csv" matches "acct-2026-11-30.csv"; "mainlog"
			// matches its rotations "mainlog.1" and "mainlog.2.gz".
			pat := filepath.Base(p)
			if ok, _ := filepath.Match(pat, base); ok || strings.HasPrefix(base, pat+".") {
				return m.Name
			}
		}
	}
	return parsers.Table[0].Name
}

// CheckPosition tells whether a saved position can be resumed from: a
// journald cursor under a journald key, else a tailer position. The store
// runs it on every position at open, so that one that cannot be decoded
// refuses the file instead of having its input read again from the start
// while the totals stay.
func CheckPosition(key string, b []byte) error {
	if !strings.HasPrefix(key, config.JournalPrefix) {
		var p tailer.Position
		return p.UnmarshalBinary(b)
	}
	// journalctl --after-cursor takes it as one argument: printable, and
	// never empty, which would read the units' whole journal again.
	if len(b) == 0 {
		return errors.New("empty journald cursor")
	}
	for _, c := range b {
		if c <= ' ' || c > '~' {
			return fmt.Errorf("journald cursor with byte %#x", c)
		}
	}
	return nil
}

// figureSenders keys a correlator's message in the store's figures: +
// input, NUL, message id → sender, NUL, Message-ID.
const figureSenders = "senders:"

// correlator returns the input's sender correlator, made (and filled with
// what the state file held) on first use.
func (in *Writer) correlator(input string) *mtalog.Senders {
	if c := in.senders[input]; c != nil {
		return c
	}
	c := mtalog.NewSenders(mtalog.DefaultMaxSenders)
	c.Track()
	for _, e := range in.restored[input] {
		c.Restore(e[0], e[1], e[2])
	}
	delete(in.restored, input)
	in.senders[input] = c
	return c
}

// restoreSenders reads the correlators' messages from the store's figures.
func (in *Writer) restoreSenders(figs map[string][]byte) {
	for k, v := range figs {
		rest, ok := strings.CutPrefix(k, figureSenders)
		if !ok {
			continue
		}
		input, id, ok1 := strings.Cut(rest, "\x00")
		sender, messageID, ok2 := strings.Cut(string(v), "\x00")
		if ok1 && ok2 {
			in.restored[input] = append(in.restored[input], [3]string{id, sender, messageID})
		}
	}
}

// saveSenders puts into the batch what the correlators changed. A message
// whose key would be too long is neither written nor deleted.
func (in *Writer) saveSenders() {
	for input, c := range in.senders {
		key := func(id string) (string, bool) {
			k := figureSenders + input + "\x00" + id
			return k, len(k) <= maxFigureKey
		}
		c.Changes(func(id, sender, messageID string) {
			if k, ok := key(id); ok {
				in.batch.Figures[k] = []byte(sender + "\x00" + messageID)
			}
		}, func(id string) {
			if k, ok := key(id); ok {
				in.batch.Figures[k] = nil
			}
		})
	}
}

// maxFigureKey bounds the keys this writer adds (as outcome's do).
const maxFigureKey = 255
