package store

import (
	"time"

	"github.com/ppwatch/ppwatch/pkg/event"
)

// Series identifies one counter. Callers keep the set of series bounded: pass
// RecipientDomain "" where the domain is not needed (for example for
// non-Proofpoint attempts), since every distinct series is a key per minute in
// the buckets and a key forever in the totals.
type Series = event.Series

// Reply is one distinct Proofpoint reply (the one type of it).
type Reply = event.Reply

// BucketKey is one counter cell: a series in one minute of event time.
type BucketKey struct {
	Minute int64 // unix seconds / 60, rounded down
	Series Series
}

// ReplyKey identifies a distinct reply.
type ReplyKey struct {
	SourceIP, RecipientDomain, Response string
}

// Batch holds the deltas and input positions of one commit. Apply does not
// modify it, so after a failed Apply the same batch can be applied again.
type Batch struct {
	Counts    map[BucketKey]uint64 // deltas
	Replies   map[ReplyKey]*Reply  // deltas: Count to add, FirstSeen/LastSeen to merge (min/max)
	Positions map[string][]byte    // input key -> opaque position; nil value deletes the key
	// Figures are the caller's other state that must survive a restart
	// with the counts it goes with (opaque here); nil deletes the key.
	Figures map[string][]byte

	n int

	// What Store.Domain decided for this batch, so that Apply stores the
	// domains it let in, in the order it met them, and counts its folds.
	pairs  map[string]pairState // pair key -> decision
	order  []pairRef            // pairs let in that the store did not hold yet
	newIP  map[string]int       // len(order) per source IP
	folded map[string]uint64    // source IP -> attempts Domain put under Other
	key    []byte               // scratch pair key

	fails []failure // the blocks and deferrals among the replies, for the episodes
}

type pairState uint8

const (
	pairKept pairState = iota + 1
	pairFolded
)

// pairRef is one (source IP, recipient domain) pair and its key.
type pairRef struct {
	key, ip, domain string
}

// NewBatch returns an empty batch.
func NewBatch() *Batch {
	return &Batch{
		Counts:    make(map[BucketKey]uint64),
		Replies:   make(map[ReplyKey]*Reply),
		Positions: make(map[string][]byte),
		Figures:   make(map[string][]byte),
	}
}

// Add counts one attempt at event time t.
func (b *Batch) Add(t time.Time, s Series) {
	b.Counts[BucketKey{Minute: MinuteOf(t), Series: s}]++
	b.n++
}

// AddReply counts one occurrence of reply r at event time t. The Count in r
// is ignored. When the same reply is added again, its codes and class are
// taken from the occurrence with the latest time. A block or a deferral
// (event.ReplyOutcome) is also a failure of its source IP's episodes.
func (b *Batch) AddReply(t time.Time, r Reply) {
	t = t.UTC()
	k := ReplyKey{SourceIP: r.SourceIP, RecipientDomain: r.RecipientDomain, Response: r.Response}
	cur := b.Replies[k]
	if cur == nil {
		r.Count = 1
		r.FirstSeen, r.LastSeen = t, t
		cur = &r
		b.Replies[k] = cur
		b.addFailure(t, cur, r.SMTPCode, r.Class)
		return
	}
	b.addFailure(t, cur, r.SMTPCode, r.Class)
	cur.Count++
	if t.Before(cur.FirstSeen) {
		cur.FirstSeen = t
	}
	if !t.Before(cur.LastSeen) {
		cur.LastSeen = t
		cur.SMTPCode, cur.EnhancedCode, cur.Class = r.SMTPCode, r.EnhancedCode, r.Class
	}
}

// Keys returns the number of distinct cells and replies in the batch: what
// a commit writes, and so what its memory grows with.
func (b *Batch) Keys() int { return len(b.Counts) + len(b.Replies) }

// Reset empties the batch for reuse; its maps keep their room, which saves
// growing them again for every commit.
func (b *Batch) Reset() {
	clear(b.Counts)
	clear(b.Replies)
	clear(b.Positions)
	clear(b.Figures)
	b.n = 0
	clear(b.pairs)
	b.order = b.order[:0]
	clear(b.newIP)
	clear(b.folded)
	b.fails = b.fails[:0]
}

// Len returns the number of attempts counted with Add since NewBatch or
// Reset, so that the caller can bound the batch size.
func (b *Batch) Len() int { return b.n }
