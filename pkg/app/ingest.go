package app

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/ppwatch/ppwatch/pkg/agg"
	"github.com/ppwatch/ppwatch/pkg/classify"
	"github.com/ppwatch/ppwatch/pkg/config"
	"github.com/ppwatch/ppwatch/pkg/event"
	"github.com/ppwatch/ppwatch/pkg/journal"
	"github.com/ppwatch/ppwatch/pkg/metrics"
	"github.com/ppwatch/ppwatch/pkg/pipeline"
	"github.com/ppwatch/ppwatch/pkg/store"
	"github.com/ppwatch/ppwatch/pkg/tailer"
)

// maxBatch bounds the attempts read but not committed: past it the writer
// commits at once, and while commits fail it stops reading (the log file
// itself is the buffer).
const maxBatch = 25000

// yearSlack lets a year-less timestamp lie a little after now (clock steps,
// a daylight-saving hour) before it is taken for last year's.
const yearSlack = time.Hour

// ingester is the one writer: it reads lines from the tailer, runs them
// through the pipelines and commits counts and positions in one store
// transaction per flush interval.
type ingester struct {
	log   zerolog.Logger
	st    *store.Store
	agg   *agg.Agg
	self  *metrics.Self
	now   func() time.Time
	cfg   *config.Config
	cls   *classify.Classifier
	mtas  map[string]string // configured input → MTA ("auto" resolved per file)
	pipes map[string]*pipeline.Pipeline

	batch     *store.Batch
	events    []agg.Event
	inputs    map[string]*inputStats // per input, since the last commit
	cur       *inputStats            // the last one looked up: lines come in runs
	malformed zerolog.Logger         // sampled
	failing   bool
	tail      *tailer.Tailer
	lost      uint64 // the tailer's LostFiles already counted
}

func newIngester(log zerolog.Logger, st *store.Store, ag *agg.Agg, self *metrics.Self, now func() time.Time, cfg *config.Config) (*ingester, error) {
	cls, err := pipeline.NewClassifier(cfg)
	if err != nil {
		return nil, err
	}
	in := &ingester{log: log, st: st, agg: ag, self: self, now: now, cfg: cfg, cls: cls,
		mtas: map[string]string{}, pipes: map[string]*pipeline.Pipeline{}}
	in.malformed = log.Sample(&zerolog.BurstSampler{Burst: 10, Period: time.Minute})
	for _, i := range cfg.Inputs {
		in.mtas[i.Path] = i.MTA
	}
	in.reset()
	return in, nil
}

func (in *ingester) reset() {
	in.batch = store.NewBatch()
	in.events = in.events[:0]
	in.inputs = map[string]*inputStats{}
	in.cur = nil
}

// journalLine is an entry of one journald input.
type journalLine struct {
	input string
	entry journal.Entry
}

// run consumes lines until the sources have stopped (tailerDone closed),
// then drains what was handed over and commits it.
func (in *ingester) run(lines chan tailer.Line, jlines chan journalLine, tailerDone <-chan struct{}) {
	tick := time.NewTicker(time.Duration(in.cfg.FlushInterval))
	defer tick.Stop()
	// Retention runs in this goroutine: bbolt has one writer.
	prune := time.NewTicker(time.Minute)
	defer prune.Stop()
	for {
		src, jsrc := lines, jlines
		if in.failing && in.batch.Len() >= maxBatch {
			src, jsrc = nil, nil // commits fail: stop reading until one succeeds
		}
		select {
		case l := <-src:
			in.handle(l)
			if in.batch.Len() >= maxBatch {
				in.flush()
			}
		case j := <-jsrc:
			in.handleJournal(j.input, j.entry)
			if in.batch.Len() >= maxBatch {
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
				case l := <-lines:
					in.handle(l)
				case j := <-jlines:
					in.handleJournal(j.input, j.entry)
				default:
					in.flushUntilDone()
					return
				}
			}
		}
	}
}

// flushUntilDone commits the last batch, retrying a failing store for a
// short while: what is not committed is read again after the restart.
func (in *ingester) flushUntilDone() {
	for i := 0; i < 5; i++ {
		if in.flush() {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	in.log.Error().Int("attempts", in.batch.Len()).Msg("final commit failed; these lines will be read again at the next start")
}

func (in *ingester) handle(l tailer.Line) {
	if l.Kind == tailer.GoneKind {
		// The key's file is finished (read to its end, or not found).
		in.batch.Positions[l.Pos.Path] = nil
		return
	}
	// Every event's position is committed, a Header's too: it is where
	// reading of that file starts.
	pos, err := l.Pos.MarshalBinary()
	if err == nil && l.Pos.Path != "" {
		in.batch.Positions[l.Pos.Path] = pos
		st := in.stats(l.Input)
		st.offset, st.hasOffset = float64(l.Pos.Offset), true
	}
	switch l.Kind {
	case tailer.HeaderKind:
		if h, ok := in.pipe(l.Input, l.Path).Parser().(interface{ SetHeader(string) error }); ok {
			if err := h.SetHeader(l.Text); err != nil {
				in.malformed.Warn().Str("path", l.Path).Err(err).Msg("bad header line")
			}
		}
	case tailer.TooLongKind:
		in.stats(l.Input).lines[pipeline.Malformed]++
		in.malformed.Warn().Str("path", l.Path).Int64("offset", l.Pos.Offset).Msg("line longer than the limit skipped")
	default:
		in.line(l.Input, l.Path, l.Text, l.Pos.Offset)
	}
}

// handleJournal counts one journal entry; its cursor is the position.
func (in *ingester) handleJournal(input string, e journal.Entry) {
	in.batch.Positions[input] = []byte(e.Cursor)
	in.line(input, input, e.Line, 0)
}

func (in *ingester) line(input, path, text string, offset int64) {
	ev, res, err := in.pipe(input, path).Line(text)
	in.stats(input).lines[res]++
	switch res {
	case pipeline.Malformed:
		in.malformed.Warn().Str("path", path).Int64("offset", offset).Err(err).Msg("malformed line skipped")
	case pipeline.Parsed:
		in.count(&ev)
	}
}

func (in *ingester) count(ev *event.Delivery) {
	s := store.Series{MTA: ev.MTA, SourceIP: ev.SourceIP, Status: string(ev.Status), Class: string(ev.Class), Proofpoint: ev.Proofpoint}
	if ev.Proofpoint {
		s.RecipientDomain = ev.RecipientDomain
		switch {
		case ev.IsBlock():
			s.Outcome = agg.Block
		case ev.IsDeferral():
			s.Outcome = agg.Deferral
		}
		if ev.Status != event.Delivered {
			in.batch.AddReply(ev.Time, store.Reply{SourceIP: ev.SourceIP, RecipientDomain: ev.RecipientDomain, Response: ev.Response,
				EnhancedCode: ev.EnhancedCode, Class: string(ev.Class), SMTPCode: ev.SMTPCode})
		}
	}
	in.batch.Add(ev.Time, s)
	in.events = append(in.events, agg.Event{Time: ev.Time, Series: agg.Series(s)})
}

// flush commits the batch; it reports whether the store is up to date.
func (in *ingester) flush() bool {
	if in.batch.Len() == 0 && len(in.batch.Positions) == 0 {
		return true
	}
	start := time.Now()
	err := in.st.Apply(in.batch)
	in.self.CommitDuration.Observe(time.Since(start).Seconds())
	if err != nil {
		if !in.failing {
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
	now := float64(in.now().UnixNano()) / 1e9
	for input, st := range in.inputs {
		read := false
		for res, n := range st.lines {
			if n > 0 {
				in.self.Lines.WithLabelValues(input, pipeline.Result(res).String()).Add(n)
				read = true
			}
		}
		if st.hasOffset {
			in.self.Offset.WithLabelValues(input).Set(st.offset)
		}
		if read { // read during this flush interval: "now" is within it
			in.self.LastLine.WithLabelValues(input).Set(now)
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

// inputStats are one input's self-metrics since the last commit.
type inputStats struct {
	name      string
	lines     [3]float64 // by pipeline.Result
	offset    float64
	hasOffset bool
}

func (in *ingester) stats(input string) *inputStats {
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
func (in *ingester) pipe(input, path string) *pipeline.Pipeline {
	if p := in.pipes[path]; p != nil {
		return p
	}
	mta := in.mtas[input]
	if mta == "" || mta == "auto" {
		mta = detectFile(path)
	}
	// The store keeps no envelope senders yet, so correlating them would be
	// work thrown away; the evidence packet will want them.
	p, err := pipeline.New(mta, pipeline.Options{Config: in.cfg, Classifier: in.cls, NoSenders: true,
		Reference: func() time.Time { return in.now().Add(yearSlack) }})
	if err != nil { // the config was validated: only an unknown MTA gets here
		panic(err)
	}
	in.log.Info().Str("path", path).Str("mta", mta).Msg("reading")
	in.pipes[path] = p
	return p
}

// detectFile tells the MTA from a file's first lines, else from its name.
func detectFile(path string) string {
	if f, err := os.Open(path); err == nil {
		head := make([]byte, 64<<10)
		n, _ := io.ReadFull(f, head)
		f.Close()
		if m := pipeline.DetectHead(head[:n]); m != "" {
			return m
		}
	}
	base := strings.ToLower(filepath.Base(path))
	switch {
	case strings.Contains(base, "acct") || strings.HasSuffix(base, ".csv"):
		return event.PMTA
	case strings.Contains(path, "exim") || strings.Contains(base, "mainlog"):
		return event.Exim
	}
	return event.Postfix
}
