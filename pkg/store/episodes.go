package store

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ppwatch/ppwatch/pkg/event"
)

// Episode is one run of blocks or deferrals (the one type of it).
type Episode = event.Episode

// Defaults of Options.EpisodeQuiet and EpisodeRetention.
const (
	DefaultEpisodeQuiet     = time.Hour
	DefaultEpisodeRetention = 400 * 24 * time.Hour
)

// Bounds of one episode's record, which is rewritten whole by every
// commit that touches it: the replies kept verbatim and the recipient
// domains kept by name (the rest are counted under Other).
const (
	maxEpisodeReplies = 4
	maxEpisodeDomains = 20
)

var (
	episodesName = []byte("episodes")
	// clockName holds the latest event time committed: episodes close by
	// it, so that reading old logs closes them as reading them live did.
	clockName = []byte("event_clock")
	keyLatest = []byte("latest")
)

// Kinds in episode keys.
const (
	kindBlock    byte = 'b'
	kindDeferral byte = 'd'
)

// failure is a block or a deferral of a batch, for the episodes.
type failure struct {
	t     int64 // unix microseconds
	block bool
	r     *Reply // the batch's reply: source IP, domain, response, codes
}

func (b *Batch) addFailure(t time.Time, r *Reply, code int, class string) {
	switch event.ReplyOutcome(code, event.Class(class)) {
	case event.OutcomeBlock:
		b.fails = append(b.fails, failure{t: t.UnixMicro(), block: true, r: r})
	case event.OutcomeDeferral:
		b.fails = append(b.fails, failure{t: t.UnixMicro(), r: r})
	}
}

// epCounts are attempts by outcome.
type epCounts struct{ attempts, blocks, deferrals uint64 }

func (c *epCounts) add(outcome string, n uint64) {
	c.attempts += n
	switch outcome {
	case event.OutcomeBlock:
		c.blocks += n
	case event.OutcomeDeferral:
		c.deferrals += n
	}
}

func (c epCounts) zero() bool { return c == epCounts{} }

// episodeRec is an episode as stored: the replies it keeps (Reply, the
// most frequent, is taken from them on reading), and the attempts of the
// minutes after its End that join it if a later failure extends it.
type episodeRec struct {
	Episode
	replies    []Reply
	pend       epCounts
	pendMinute int64
	failedTx   uint64 // the commit whose failure it joined last
	key        []byte // as read; nil for a new episode or one moved
	stored     int64  // the start it was read with
	fresh      bool   // made by this commit from a failure
	dirty      bool   // changed by this commit
}

func (e *episodeRec) block() bool { return e.Kind == event.OutcomeBlock }

// storedStart is the start the episode was read with.
func (e *episodeRec) storedStart() int64 { return e.stored }

func kindName(block bool) string {
	if block {
		return event.OutcomeBlock
	}
	return event.OutcomeDeferral
}

// episodeScopes are the domains of the episodes an attempt to domain
// counts in: the IP's over all domains (""), and the domain's own unless
// the attempt has none.
func episodeScopes(domain string) []string {
	if domain == "" {
		return scopeIPOnly
	}
	return []string{"", domain}
}

var scopeIPOnly = []string{""}

// addCells adds attempts of minutes the episode spans; its own kind's
// failures are counted one by one instead.
func (e *episodeRec) addCells(c epCounts) {
	e.Attempts += c.attempts
	if e.block() {
		e.Deferrals += c.deferrals
	} else {
		e.Blocks += c.blocks
	}
}

// joinPending adds the attempts held after the old End once End has
// moved past them.
func (e *episodeRec) joinPending() {
	if !e.pend.zero() && e.pendMinute <= MinuteOf(e.End) {
		e.addCells(e.pend)
		e.pend, e.pendMinute = epCounts{}, 0
	}
}

func (e *episodeRec) fail(f failure, domain string) {
	e.dirty = true
	t := time.UnixMicro(f.t).UTC()
	if t.Before(e.Start) {
		e.Start = t
	}
	if t.After(e.End) {
		e.End = t
		e.joinPending()
	}
	if f.block {
		e.Blocks++
	} else {
		e.Deferrals++
	}
	e.addDomain(domain, 1)
	r := *f.r
	r.RecipientDomain, r.Count, r.FirstSeen, r.LastSeen = e.RecipientDomain, 1, t, t
	e.addReply(r)
}

// absorb merges o, which a failure has joined to e, into e.
func (e *episodeRec) absorb(o *episodeRec) {
	e.dirty = true
	e.failedTx = max(e.failedTx, o.failedTx)
	if o.Start.Before(e.Start) {
		e.Start = o.Start
	}
	if o.End.After(e.End) {
		e.End = o.End
	}
	e.Attempts += o.Attempts
	e.Blocks += o.Blocks
	e.Deferrals += o.Deferrals
	for _, d := range o.Domains {
		e.addDomain(d.Domain, d.Failures)
	}
	for _, r := range o.replies {
		e.addReply(r)
	}
	if !o.pend.zero() {
		e.pend.attempts += o.pend.attempts
		e.pend.blocks += o.pend.blocks
		e.pend.deferrals += o.pend.deferrals
		e.pendMinute = max(e.pendMinute, o.pendMinute)
	}
	e.joinPending()
}

func (e *episodeRec) addDomain(d string, n uint64) {
	for i := range e.Domains {
		if e.Domains[i].Domain == d {
			e.Domains[i].Failures += n
			return
		}
	}
	if len(e.Domains) >= maxEpisodeDomains && d != Other {
		e.addDomain(Other, n)
		return
	}
	e.Domains = append(e.Domains, event.EpisodeDomain{Domain: d, Failures: n})
}

// addReply counts r (with its Count, FirstSeen and LastSeen) among the
// episode's replies. When all places are taken, a new reply takes the
// place of the least frequent one and its count plus one (Space-Saving,
// Metwally et al. 2005): a reply with more than a fifth of the failures
// is then never lost, so the most frequent is kept, though the counts of
// the rarer ones may be too high.
func (e *episodeRec) addReply(r Reply) {
	for i := range e.replies {
		if e.replies[i].Response == r.Response {
			mergeReply(&e.replies[i], &r)
			return
		}
	}
	if len(e.replies) < maxEpisodeReplies {
		e.replies = append(e.replies, r)
		return
	}
	least := 0
	for i := range e.replies {
		if e.replies[i].Count < e.replies[least].Count {
			least = i
		}
	}
	r.Count += e.replies[least].Count
	e.replies[least] = r
}

// dominant returns the most frequent reply, the earliest seen of equals.
func (e *episodeRec) dominant() Reply {
	var best Reply
	for i, r := range e.replies {
		if i == 0 || r.Count > best.Count || r.Count == best.Count && r.FirstSeen.Before(best.FirstSeen) {
			best = r
		}
	}
	return best
}

// The record: key int64 start | field(ip) field(domain) kind; value
// int64 end | uint64 blocks, deferrals, attempts | pending uint64
// attempts, blocks, deferrals | int64 pending minute | uint64 the
// commit (transaction id) whose failure it joined last | uvarint n,
// n × (field(domain) uint64 failures) | uvarint n, n × (field(response)
// field(reply value as in replies)). Times are unix microseconds.
const episodeFixedLen = 9 * 8

func episodePrefix(dst []byte, ip, domain string, block bool) []byte {
	dst = appendPairKey(dst, ip, domain)
	if block {
		return append(dst, kindBlock)
	}
	return append(dst, kindDeferral)
}

// appendOrdered appends v big-endian with the sign bit flipped: byte
// order is numeric order.
func appendOrdered(dst []byte, v int64) []byte {
	return binary.BigEndian.AppendUint64(dst, uint64(v)^(1<<63))
}

func getOrdered(src []byte) int64 { return int64(binary.BigEndian.Uint64(src) ^ (1 << 63)) }

// Keys begin with the start, so that the episodes a commit changes, the
// recent ones, share the last pages of the bucket: keyed by IP first, a
// catch-up's new episodes each rewrote a page somewhere in it, and its
// commits took four times as long.
func (e *episodeRec) keyBytes() []byte {
	return episodeKey(e.Start.UnixMicro(), episodePrefix(nil, e.SourceIP, e.RecipientDomain, e.block()))
}

func episodeKey(start int64, prefix []byte) []byte {
	return append(appendOrdered(make([]byte, 0, 8+len(prefix)), start), prefix...)
}

func encodeEpisode(e *episodeRec) []byte {
	v := make([]byte, 0, episodeFixedLen+64*len(e.Domains)+256*len(e.replies))
	v = binary.BigEndian.AppendUint64(v, uint64(e.End.UnixMicro()))
	for _, n := range []uint64{e.Blocks, e.Deferrals, e.Attempts, e.pend.attempts, e.pend.blocks, e.pend.deferrals, uint64(e.pendMinute), e.failedTx} {
		v = binary.BigEndian.AppendUint64(v, n)
	}
	v = binary.AppendUvarint(v, uint64(len(e.Domains)))
	for _, d := range e.Domains {
		v = appendField(v, d.Domain, maxFieldLen)
		v = binary.BigEndian.AppendUint64(v, d.Failures)
	}
	v = binary.AppendUvarint(v, uint64(len(e.replies)))
	for i := range e.replies {
		v = appendField(v, e.replies[i].Response, maxResponseLen)
		rv := encodeReplyValue(&e.replies[i])
		v = binary.AppendUvarint(v, uint64(len(rv)))
		v = append(v, rv...)
	}
	return v
}

func decodeEpisodeKey(k []byte) (ip, domain string, block bool, start int64, err error) {
	if len(k) < 8 {
		return "", "", false, 0, errCorrupt
	}
	rest := k[8:]
	if ip, rest, err = readField(rest); err != nil {
		return
	}
	if domain, rest, err = readField(rest); err != nil {
		return
	}
	if len(rest) != 1 || rest[0] != kindBlock && rest[0] != kindDeferral {
		return "", "", false, 0, errCorrupt
	}
	return ip, domain, rest[0] == kindBlock, getOrdered(k), nil
}

func decodeEpisode(k, v []byte) (*episodeRec, error) {
	ip, domain, block, start, err := decodeEpisodeKey(k)
	if err != nil {
		return nil, fmt.Errorf("key: %w", err)
	}
	if len(v) < episodeFixedLen {
		return nil, fmt.Errorf("value of %d bytes: %w", len(v), errCorrupt)
	}
	e := &episodeRec{key: bytes.Clone(k), stored: start}
	e.SourceIP, e.RecipientDomain = ip, domain
	e.Kind = kindName(block)
	e.Start = time.UnixMicro(start).UTC()
	e.End = time.UnixMicro(int64(binary.BigEndian.Uint64(v))).UTC()
	var nums [8]uint64
	for i := range nums {
		nums[i] = binary.BigEndian.Uint64(v[8+8*i:])
	}
	e.Blocks, e.Deferrals, e.Attempts = nums[0], nums[1], nums[2]
	e.pend = epCounts{nums[3], nums[4], nums[5]}
	e.pendMinute, e.failedTx = int64(nums[6]), nums[7]
	if e.End.Before(e.Start) {
		return nil, fmt.Errorf("end before start: %w", errCorrupt)
	}
	rest := v[episodeFixedLen:]
	n, w := binary.Uvarint(rest)
	if w <= 0 || n > maxEpisodeDomains+1 {
		return nil, fmt.Errorf("domains: %w", errCorrupt)
	}
	rest = rest[w:]
	e.Domains = make([]event.EpisodeDomain, 0, n)
	for range n {
		var d event.EpisodeDomain
		if d.Domain, rest, err = readField(rest); err != nil || len(rest) < 8 {
			return nil, fmt.Errorf("domains: %w", errCorrupt)
		}
		d.Failures, rest = binary.BigEndian.Uint64(rest), rest[8:]
		e.Domains = append(e.Domains, d)
	}
	if n, w = binary.Uvarint(rest); w <= 0 || n > maxEpisodeReplies {
		return nil, fmt.Errorf("replies: %w", errCorrupt)
	}
	rest = rest[w:]
	for range n {
		r := Reply{SourceIP: ip, RecipientDomain: domain}
		if r.Response, rest, err = readField(rest); err != nil {
			return nil, fmt.Errorf("replies: %w", err)
		}
		l, w := binary.Uvarint(rest)
		if w <= 0 || uint64(len(rest)-w) < l {
			return nil, fmt.Errorf("replies: %w", errCorrupt)
		}
		if err := decodeReplyValue(rest[w:w+int(l)], &r); err != nil {
			return nil, fmt.Errorf("replies: %w", err)
		}
		rest = rest[w+int(l):]
		e.replies = append(e.replies, r)
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%d bytes after the replies: %w", len(rest), errCorrupt)
	}
	return e, nil
}

// span locates an episode of a key: its start and end (unix
// microseconds).
type span struct{ start, end int64 }

// keySpans are the episodes of a key that its next lines can join: the
// latest (by start) and the current one, which the latest failure read
// joined (they differ when lines are read out of order: a log whose
// year-less times were taken for last year's, or one file read far behind
// another).
type keySpans struct{ latest, current span }

// episodeIndex is the writer's copy of each key's keySpans (key:
// field(ip) field(domain) kind), so that a commit reads only the episodes
// its lines can join. It is loaded at the first Apply and bounded as the
// keys are: source IPs and the domains kept by name, two kinds each.
type episodeIndex struct {
	loaded bool
	spans  map[string]keySpans
}

func (s *Store) loadEpisodeIndex() error {
	x := &s.latest
	if x.loaded {
		return nil
	}
	spans := map[string]keySpans{}
	failed := map[string]uint64{} // per key, the current one's commit
	err := s.view(func(tx *bolt.Tx) error {
		eb := tx.Bucket(episodesName)
		if eb == nil {
			return nil
		}
		// Key order is start order: the last one of a key is its latest;
		// the current one is the one a failure joined last, the latest
		// ending of those.
		return eb.ForEach(func(k, v []byte) error {
			if len(k) < 9 || len(v) < episodeFixedLen {
				return corrupt(string(episodesName), k, errCorrupt)
			}
			sp := span{getOrdered(k), int64(binary.BigEndian.Uint64(v))}
			txid := binary.BigEndian.Uint64(v[episodeFixedLen-8:])
			ks := spans[string(k[8:])]
			ks.latest = sp
			if f, ok := failed[string(k[8:])]; !ok || txid > f || txid == f && sp.end >= ks.current.end {
				ks.current, failed[string(k[8:])] = sp, txid
			}
			spans[string(k[8:])] = ks
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("read episodes: %w", err)
	}
	x.spans, x.loaded = spans, true
	return nil
}

func (x *episodeIndex) commit(w *episodeWork) {
	if w == nil {
		return
	}
	for prefix, list := range w.eps {
		if len(list) == 0 {
			continue
		}
		ks, had := x.spans[prefix]
		// The spans not read stay what they were, unless they went.
		kept := func(sp span) bool {
			return had && !slices.Contains(w.gone[prefix], sp.start) &&
				!slices.ContainsFunc(list, func(e *episodeRec) bool { return e.key != nil && e.stored == sp.start })
		}
		last := list[len(list)-1]
		if !kept(ks.latest) || last.Start.UnixMicro() > ks.latest.start {
			ks.latest = span{last.Start.UnixMicro(), last.End.UnixMicro()}
		}
		var cur *episodeRec
		for _, e := range list {
			if e.failedTx == w.txid && (cur == nil || !e.End.Before(cur.End)) {
				cur = e
			}
		}
		switch {
		case cur != nil:
			ks.current = span{cur.Start.UnixMicro(), cur.End.UnixMicro()}
		case !kept(ks.current):
			// Read (and changed by cells), or new: as it is now.
			i := slices.IndexFunc(list, func(e *episodeRec) bool { return e.key != nil && e.stored == ks.current.start })
			if i < 0 {
				ks.current = ks.latest
			} else {
				ks.current = span{list[i].Start.UnixMicro(), list[i].End.UnixMicro()}
			}
		}
		x.spans[prefix] = ks
	}
}

// episodeWork is one commit's episodes: per key, those it read or made,
// by start.
type episodeWork struct {
	txid     uint64
	from, to int64 // the batch's first and last event time
	eps      map[string][]*episodeRec
	gone     map[string][]int64     // per key, the starts of the episodes deleted
	minutes  map[int64]*minuteCells // committed cells of new episodes' first minutes
}

// minuteCells are the committed Proofpoint attempts of one minute, per
// source IP and per (source IP, recipient domain) pair.
type minuteCells struct {
	ip   map[string]epCounts
	pair map[string]epCounts
}

// candidates reads the episodes of key prefix that lines from first to
// last (unix microseconds) can join, by start.
func (w *episodeWork) candidates(eb *bolt.Bucket, x *episodeIndex, prefix string, first, last, quiet int64) ([]*episodeRec, error) {
	ks, ok := x.spans[prefix]
	if !ok {
		return nil, nil
	}
	var out []*episodeRec
	for i, sp := range []span{ks.current, ks.latest} {
		if i == 1 && sp.start == ks.current.start || sp.end < first-quiet || sp.start > last+quiet {
			continue
		}
		e, err := getEpisode(eb, prefix, sp.start)
		if err != nil {
			return nil, err
		}
		if e != nil {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b *episodeRec) int { return a.Start.Compare(b.Start) })
	return out, nil
}

// applyEpisodes adds a batch's failures and Proofpoint cells to the
// episodes (see doc.go), and its cells to the IPs' history. The failures
// of each key are merged by event time with the stored episodes they can
// join, so the episodes do not depend on how the lines were cut into
// commits, nor, within a commit, on their order.
func (s *Store) applyEpisodes(tx *bolt.Tx, b *Batch, counts map[BucketKey]uint64, adm *admission) (*episodeWork, error) {
	if err := s.applyHistory(tx, counts); err != nil {
		return nil, err
	}
	w := &episodeWork{txid: uint64(tx.ID()), eps: map[string][]*episodeRec{}}
	if len(b.fails) == 0 && len(s.latest.spans) == 0 {
		return w, nil
	}
	eb, err := tx.CreateBucketIfNotExists(episodesName)
	if err != nil {
		return nil, err
	}
	// New episodes are mostly appended at the end, and the ones changed
	// are there too; their values grow a little.
	eb.FillPercent = 0.8
	quiet := s.opts.EpisodeQuiet.Microseconds()
	// The batch's time span: the episodes read for a key are those its
	// failures or its cells of the batch can join.
	from, to := int64(math.MaxInt64), int64(math.MinInt64)
	for k := range counts {
		from, to = min(from, k.Minute*60e6), max(to, k.Minute*60e6+60e6-1)
	}
	for _, f := range b.fails {
		from, to = min(from, f.t), max(to, f.t)
	}
	w.from, w.to = from, to

	// The failures per key (the IP's, and its domain's when the attempt
	// has one), with the domain they are counted under.
	type keyed struct {
		f      failure
		domain string
	}
	type group struct {
		ip, domain string
		block      bool
		fs         []keyed
	}
	groups := map[string]*group{}
	var order []string // keys in the order met, for a deterministic commit
	var buf []byte
	for _, f := range b.fails {
		domain := f.r.RecipientDomain
		if fold := false; subject(domain) {
			if buf, fold = adm.folds(buf, f.r.SourceIP, domain); fold {
				domain = Other
			}
		}
		for _, scope := range episodeScopes(domain) {
			buf = episodePrefix(buf[:0], f.r.SourceIP, scope, f.block)
			g := groups[string(buf)]
			if g == nil {
				g = &group{ip: f.r.SourceIP, domain: scope, block: f.block}
				groups[string(buf)] = g
				order = append(order, string(buf))
			}
			g.fs = append(g.fs, keyed{f, domain})
		}
	}
	for _, prefix := range order {
		gr := groups[prefix]
		g := gr.fs
		if !slices.IsSortedFunc(g, func(a, b keyed) int { return cmp.Compare(a.f.t, b.f.t) }) {
			slices.SortStableFunc(g, func(a, b keyed) int { return cmp.Compare(a.f.t, b.f.t) })
		}
		ex, err := w.candidates(eb, &s.latest, prefix, from, to, quiet)
		if err != nil {
			return nil, err
		}
		// Merge the stored episodes and the failures by time: each joins
		// the one before it when within the quiet period of its end.
		var out []*episodeRec
		var cur *episodeRec
		i, j := 0, 0
		for i < len(ex) || j < len(g) {
			if j == len(g) || i < len(ex) && ex[i].Start.UnixMicro() <= g[j].f.t {
				e := ex[i]
				i++
				if cur != nil && e.Start.UnixMicro()-cur.End.UnixMicro() <= quiet {
					if cur.fresh && MinuteOf(cur.Start) == MinuteOf(e.Start) {
						cur.fresh = false // e has that minute's cells already
					}
					cur.absorb(e)
					continue
				}
				if cur != nil {
					out = append(out, cur)
				}
				cur = e
				continue
			}
			k := g[j]
			j++
			if cur == nil || k.f.t-cur.End.UnixMicro() > quiet {
				if cur != nil {
					out = append(out, cur)
				}
				cur = &episodeRec{fresh: true}
				cur.SourceIP, cur.RecipientDomain, cur.Kind = gr.ip, gr.domain, kindName(gr.block)
				cur.Start = time.UnixMicro(k.f.t).UTC()
				cur.End = cur.Start
			}
			cur.fail(k.f, k.domain)
			cur.failedTx = w.txid
		}
		out = append(out, cur)
		for _, e := range out {
			if e.fresh {
				mc, err := w.minuteCells(tx, MinuteOf(e.Start))
				if err != nil {
					return nil, err
				}
				if e.RecipientDomain == "" {
					e.addCells(mc.ip[e.SourceIP])
				} else {
					e.addCells(mc.pair[string(pairKey(e.SourceIP, e.RecipientDomain))])
				}
			}
		}
		// The stored ones whose start moved, or that were merged, go.
		for _, e := range ex {
			if !slices.ContainsFunc(out, func(o *episodeRec) bool { return o == e && o.Start.UnixMicro() == e.storedStart() }) {
				if err := eb.Delete(e.key); err != nil {
					return nil, err
				}
				e.key = nil
				if w.gone == nil {
					w.gone = map[string][]int64{}
				}
				w.gone[prefix] = append(w.gone[prefix], e.stored)
			}
		}
		w.eps[prefix] = out
	}

	// The batch's Proofpoint cells: each joins the episode of its key
	// whose minutes it falls in, or waits after that one's End.
	for k, n := range counts {
		se := k.Series
		if !se.Proofpoint || n == 0 {
			continue
		}
		for _, block := range []bool{true, false} {
			for _, scope := range episodeScopes(se.RecipientDomain) {
				buf = episodePrefix(buf[:0], se.SourceIP, scope, block)
				if err := w.addCell(eb, &s.latest, buf, k.Minute, se.Outcome, n, quiet); err != nil {
					return nil, err
				}
			}
		}
	}
	for _, list := range w.eps {
		for _, e := range list {
			if e.dirty || e.key == nil {
				if err := eb.Put(e.keyBytes(), encodeEpisode(e)); err != nil {
					return nil, err
				}
			}
		}
	}
	return w, nil
}

// addCell adds one cell to the episode of key prefix it belongs to.
func (w *episodeWork) addCell(eb *bolt.Bucket, x *episodeIndex, prefix []byte, minute int64, outcome string, n uint64, quiet int64) error {
	list, ok := w.eps[string(prefix)]
	if !ok {
		ks, ok := x.spans[string(prefix)]
		if !ok || !ks.reaches(minute, quiet) {
			return nil
		}
		var err error
		if list, err = w.candidates(eb, x, string(prefix), w.from, w.to, quiet); err != nil {
			return err
		}
		w.eps[string(prefix)] = list
	}
	for i := len(list) - 1; i >= 0; i-- {
		e := list[i]
		if minute < MinuteOf(e.Start) {
			continue
		}
		var c epCounts
		c.add(outcome, n)
		switch {
		case minute <= MinuteOf(e.End):
			e.addCells(c)
			e.dirty = true
		case minute*60e6 <= e.End.UnixMicro()+quiet:
			e.pend.attempts += c.attempts
			e.pend.blocks += c.blocks
			e.pend.deferrals += c.deferrals
			e.pendMinute = max(e.pendMinute, minute)
			e.dirty = true
		}
		return nil
	}
	return nil
}

// reaches reports whether a cell of minute can join one of the spans.
func (ks keySpans) reaches(minute, quiet int64) bool {
	for _, sp := range []span{ks.current, ks.latest} {
		if minute >= floorDiv(sp.start, 60e6) && minute*60e6 <= sp.end+quiet {
			return true
		}
	}
	return false
}

func getEpisode(eb *bolt.Bucket, prefix string, start int64) (*episodeRec, error) {
	k := episodeKey(start, []byte(prefix))
	v := eb.Get(k)
	if v == nil {
		return nil, nil // pruned since the index was loaded
	}
	e, err := decodeEpisode(k, v)
	if err != nil {
		return nil, corrupt(string(episodesName), k, err)
	}
	return e, nil
}

// minuteCells reads (once per commit) the committed Proofpoint cells of
// minute m.
func (w *episodeWork) minuteCells(tx *bolt.Tx, m int64) (*minuteCells, error) {
	if mc := w.minutes[m]; mc != nil {
		return mc, nil
	}
	mc := &minuteCells{ip: map[string]epCounts{}, pair: map[string]epCounts{}}
	ib := tx.Bucket(seriesIDsName)
	c := tx.Bucket(bucketsName).Cursor()
	start := minuteKey(m)
	for k, v := c.Seek(start); k != nil && bytes.HasPrefix(k, start); k, v = c.Next() {
		if len(k) != 12 {
			return nil, corrupt(string(bucketsName), k, errCorrupt)
		}
		enc := ib.Get(k[8:])
		if enc == nil {
			return nil, corrupt(string(bucketsName), k, errCorrupt)
		}
		se, err := decodeSeries(enc)
		if err != nil {
			return nil, corrupt(string(seriesIDsName), k[8:], err)
		}
		n, err := decodeUint64(v)
		if err != nil {
			return nil, corrupt(string(bucketsName), k, err)
		}
		if !se.Proofpoint {
			continue
		}
		ci := mc.ip[se.SourceIP]
		ci.add(se.Outcome, n)
		mc.ip[se.SourceIP] = ci
		if se.RecipientDomain != "" {
			pk := string(pairKey(se.SourceIP, se.RecipientDomain))
			cp := mc.pair[pk]
			cp.add(se.Outcome, n)
			mc.pair[pk] = cp
		}
	}
	if w.minutes == nil {
		w.minutes = map[int64]*minuteCells{}
	}
	w.minutes[m] = mc
	return mc, nil
}

// clock returns the latest event time committed (unix microseconds), 0
// when none.
func clock(tx *bolt.Tx) (int64, error) {
	b := tx.Bucket(clockName)
	if b == nil {
		return 0, nil
	}
	v := b.Get(keyLatest)
	if v == nil {
		return 0, nil
	}
	n, err := decodeUint64(v)
	if err != nil {
		return 0, corrupt(string(clockName), keyLatest, err)
	}
	return int64(n), nil
}

// Episodes returns the episodes of sourceIP ("" is the unknown IP), over
// all its domains and per recipient domain, that overlap [since, until):
// by start, then domain ("" first), then kind.
func (s *Store) Episodes(sourceIP string, since, until time.Time) ([]Episode, error) {
	var out []Episode
	quiet := s.opts.EpisodeQuiet.Microseconds()
	err := s.view(func(tx *bolt.Tx) error {
		eb := tx.Bucket(episodesName)
		if eb == nil {
			return nil
		}
		now, err := clock(tx)
		if err != nil {
			return err
		}
		// By start: up to until, and the IP's only decoded.
		want := replyPrefix(sourceIP)
		end := appendOrdered(nil, until.UnixMicro())
		c := eb.Cursor()
		for k, v := c.First(); k != nil && bytes.Compare(k, end) < 0; k, v = c.Next() {
			if len(k) < 8 || !bytes.HasPrefix(k[8:], want) {
				continue
			}
			e, err := decodeEpisode(k, v)
			if err != nil {
				return corrupt(string(episodesName), k, err)
			}
			if e.End.Before(since) {
				continue
			}
			e.Open = e.End.UnixMicro()+quiet > now
			e.Reply = e.dominant()
			if e.Domains == nil {
				e.Domains = []event.EpisodeDomain{}
			}
			out = append(out, e.Episode)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read episodes: %w", err)
	}
	slices.SortStableFunc(out, func(a, b Episode) int {
		return cmp.Or(a.Start.Compare(b.Start), cmp.Compare(a.RecipientDomain, b.RecipientDomain), cmp.Compare(a.Kind, b.Kind))
	})
	return out, nil
}

// pruneEpisodes deletes at most limit episodes that ended, and IP days that
// lie, before now - EpisodeRetention.
func (s *Store) pruneEpisodes(tx *bolt.Tx, now time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	cutoff := now.Add(-s.opts.EpisodeRetention)
	deleted := 0
	if eb := tx.Bucket(episodesName); eb != nil {
		// An episode ends after it starts: those starting after the
		// cutoff are all kept.
		end := appendOrdered(nil, cutoff.UnixMicro())
		var old [][]byte
		c := eb.Cursor()
		for k, v := c.First(); k != nil && len(old) < limit && bytes.Compare(k, end) < 0; k, v = c.Next() {
			if len(v) < 8 {
				return 0, corrupt(string(episodesName), k, errCorrupt)
			}
			if int64(binary.BigEndian.Uint64(v)) < cutoff.UnixMicro() {
				old = append(old, bytes.Clone(k))
			}
		}
		var err error
		if deleted, err = deleteKeys(eb, old); err != nil {
			return deleted, err
		}
	}
	n, err := s.pruneDays(tx, cutoff, limit-deleted)
	return deleted + n, err
}
