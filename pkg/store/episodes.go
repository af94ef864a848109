package store

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
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
	key        []byte // as read; nil for a new episode
	fresh      bool   // made by this commit from a failure
}

func (e *episodeRec) block() bool { return e.Kind == event.OutcomeBlock }

// storedStart is the start the episode was read with.
func (e *episodeRec) storedStart() int64 { return getOrdered(e.key[len(e.key)-8:]) }

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

// The record: key field(ip) field(domain) kind | int64 start; value
// int64 end | uint64 blocks, deferrals, attempts | pending uint64
// attempts, blocks, deferrals | int64 pending minute | uvarint n,
// n × (field(domain) uint64 failures) | uvarint n, n × (field(response)
// field(reply value as in replies)). Times are unix microseconds.
const episodeFixedLen = 8 * 8

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

func (e *episodeRec) keyBytes() []byte {
	k := episodePrefix(nil, e.SourceIP, e.RecipientDomain, e.block())
	return appendOrdered(k, e.Start.UnixMicro())
}

func encodeEpisode(e *episodeRec) []byte {
	v := make([]byte, 0, episodeFixedLen+64*len(e.Domains)+256*len(e.replies))
	v = binary.BigEndian.AppendUint64(v, uint64(e.End.UnixMicro()))
	for _, n := range []uint64{e.Blocks, e.Deferrals, e.Attempts, e.pend.attempts, e.pend.blocks, e.pend.deferrals, uint64(e.pendMinute)} {
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
	rest := k
	if ip, rest, err = readField(rest); err != nil {
		return
	}
	if domain, rest, err = readField(rest); err != nil {
		return
	}
	if len(rest) != 9 || rest[0] != kindBlock && rest[0] != kindDeferral {
		return "", "", false, 0, errCorrupt
	}
	return ip, domain, rest[0] == kindBlock, getOrdered(rest[1:]), nil
}

func decodeEpisode(k, v []byte) (*episodeRec, error) {
	ip, domain, block, start, err := decodeEpisodeKey(k)
	if err != nil {
		return nil, fmt.Errorf("key: %w", err)
	}
	if len(v) < episodeFixedLen {
		return nil, fmt.Errorf("value of %d bytes: %w", len(v), errCorrupt)
	}
	e := &episodeRec{key: bytes.Clone(k)}
	e.SourceIP, e.RecipientDomain = ip, domain
	e.Kind = kindName(block)
	e.Start = time.UnixMicro(start).UTC()
	e.End = time.UnixMicro(int64(binary.BigEndian.Uint64(v))).UTC()
	var nums [7]uint64
	for i := range nums {
		nums[i] = binary.BigEndian.Uint64(v[8+8*i:])
	}
	e.Blocks, e.Deferrals, e.Attempts = nums[0], nums[1], nums[2]
	e.pend = epCounts{nums[3], nums[4], nums[5]}
	e.pendMinute = int64(nums[6])
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

// span is an episode's start and end, unix microseconds.
type span struct{ start, end int64 }

// episodeIndex is the writer's copy of the start and end of each key's
// latest episode (key: field(ip) field(domain) kind), so that the cells of
// a commit look up only the episodes they can join. It is loaded at the
// first Apply and bounded as the keys are: source IPs and the domains kept
// by name, two kinds each.
type episodeIndex struct {
	loaded bool
	spans  map[string]span
}

func (s *Store) loadEpisodeIndex() error {
	x := &s.latest
	if x.loaded {
		return nil
	}
	spans := map[string]span{}
	err := s.view(func(tx *bolt.Tx) error {
		eb := tx.Bucket(episodesName)
		if eb == nil {
			return nil
		}
		// Key order is start order within a key: the last one wins.
		return eb.ForEach(func(k, v []byte) error {
			if len(k) < 9 || len(v) < 8 {
				return corrupt(string(episodesName), k, errCorrupt)
			}
			spans[string(k[:len(k)-8])] = span{getOrdered(k[len(k)-8:]), int64(binary.BigEndian.Uint64(v))}
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
		if n := len(list); n > 0 {
			last := list[n-1]
			x.spans[prefix] = span{last.Start.UnixMicro(), last.End.UnixMicro()}
		}
	}
}

// episodeWork is one commit's episodes: per key, those it read or made,
// by start.
type episodeWork struct {
	eps     map[string][]*episodeRec
	minutes map[int64]*minuteCells // committed cells of new episodes' first minutes
}

// minuteCells are the committed Proofpoint attempts of one minute, per
// source IP and per (source IP, recipient domain) pair.
type minuteCells struct {
	ip   map[string]epCounts
	pair map[string]epCounts
}

// applyEpisodes adds a batch's failures and Proofpoint cells to the
// episodes (see doc.go), and its cells to the IPs' history. The failures
// of each key are merged by event time with the stored episodes they are
// within the quiet period of, so the episodes do not depend on how the
// lines were cut into commits, nor, within a commit, on their order.
func (s *Store) applyEpisodes(tx *bolt.Tx, b *Batch, counts map[BucketKey]uint64, adm *admission) (*episodeWork, error) {
	if err := s.applyHistory(tx, counts); err != nil {
		return nil, err
	}
	w := &episodeWork{eps: map[string][]*episodeRec{}}
	if len(b.fails) == 0 && len(s.latest.spans) == 0 {
		return w, nil
	}
	eb, err := tx.CreateBucketIfNotExists(episodesName)
	if err != nil {
		return nil, err
	}
	quiet := s.opts.EpisodeQuiet.Microseconds()

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
		first, last := g[0].f.t, g[len(g)-1].f.t
		var ex []*episodeRec
		if sp, ok := s.latest.spans[prefix]; ok && sp.end >= first-quiet {
			if ex, err = overlapping(eb, []byte(prefix), first-quiet, last+quiet); err != nil {
				return nil, err
			}
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
		}
		out = append(out, cur)
		// A later episode than any met here (the failures came late) stays
		// the key's latest, and the cells below may join it.
		if sp, ok := s.latest.spans[prefix]; ok && sp.start > out[len(out)-1].Start.UnixMicro() && !slices.ContainsFunc(ex, func(e *episodeRec) bool { return e.storedStart() == sp.start }) {
			if e, err := getEpisode(eb, prefix, sp.start); err != nil {
				return nil, err
			} else if e != nil {
				out = append(out, e)
			}
		}
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
			}
		}
		w.eps[prefix] = out
	}

	// The batch's Proofpoint cells: each joins the episode of its key
	// whose minutes it falls in, or waits after the latest one's End.
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
			if err := eb.Put(e.keyBytes(), encodeEpisode(e)); err != nil {
				return nil, err
			}
		}
	}
	return w, nil
}

// addCell adds one cell to the episode of key prefix it belongs to.
func (w *episodeWork) addCell(eb *bolt.Bucket, x *episodeIndex, prefix []byte, minute int64, outcome string, n uint64, quiet int64) error {
	list, ok := w.eps[string(prefix)]
	if !ok {
		sp, ok := x.spans[string(prefix)]
		if !ok || minute < floorDiv(sp.start, 60e6) || minute*60e6 > sp.end+quiet {
			return nil
		}
		e, err := getEpisode(eb, string(prefix), sp.start)
		if err != nil || e == nil {
			return err
		}
		list = []*episodeRec{e}
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
		case minute*60e6 <= e.End.UnixMicro()+quiet:
			e.pend.attempts += c.attempts
			e.pend.blocks += c.blocks
			e.pend.deferrals += c.deferrals
			e.pendMinute = max(e.pendMinute, minute)
		}
		return nil
	}
	return nil
}

// overlapping reads the episodes of key prefix that end at or after from
// and start at or before to, by start.
func overlapping(eb *bolt.Bucket, prefix []byte, from, to int64) ([]*episodeRec, error) {
	c := eb.Cursor()
	k, v := c.Seek(appendOrdered(bytes.Clone(prefix), to+1))
	if k == nil {
		k, v = c.Last()
	} else {
		k, v = c.Prev()
	}
	var out []*episodeRec
	for ; k != nil && len(k) == len(prefix)+8 && bytes.HasPrefix(k, prefix); k, v = c.Prev() {
		e, err := decodeEpisode(k, v)
		if err != nil {
			return nil, corrupt(string(episodesName), k, err)
		}
		if e.End.UnixMicro() < from {
			break
		}
		out = append(out, e)
	}
	slices.Reverse(out)
	return out, nil
}

func getEpisode(eb *bolt.Bucket, prefix string, start int64) (*episodeRec, error) {
	k := appendOrdered([]byte(prefix), start)
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
		return scanPrefix(eb, replyPrefix(sourceIP), func(k, v []byte) error {
			e, err := decodeEpisode(k, v)
			if err != nil {
				return corrupt(string(episodesName), k, err)
			}
			if e.End.Before(since) || !e.Start.Before(until) {
				return nil
			}
			e.Open = e.End.UnixMicro()+quiet > now
			e.Reply = e.dominant()
			if e.Domains == nil {
				e.Domains = []event.EpisodeDomain{}
			}
			out = append(out, e.Episode)
			return nil
		})
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
		old, err := collectOld(eb, episodesName, limit, cutoff, func(v []byte) (time.Time, error) {
			if len(v) < 8 {
				return time.Time{}, errCorrupt
			}
			return time.UnixMicro(int64(binary.BigEndian.Uint64(v))), nil
		})
		if err != nil {
			return 0, err
		}
		if deleted, err = deleteKeys(eb, old); err != nil {
			return deleted, err
		}
	}
	n, err := s.pruneDays(tx, cutoff, limit-deleted)
	return deleted + n, err
}
