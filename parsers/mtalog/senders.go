package mtalog

// DefaultMaxSenders caps an envelope-sender correlator: at most this many
// messages are remembered, and their sender addresses share an arena of
// DefaultMaxSenders*senderBytesPerEntry bytes (3.2 MB). Whichever fills first
// evicts the oldest arrival. A message whose entry was evicted still yields
// attempts, only with an empty Sender. Postfix's qmgr logs from= again each
// time a deferred message returns to the active queue, so old entries come
// back.
const DefaultMaxSenders = 50000

// senderBytesPerEntry sizes the arena: typical envelope senders are 20-40
// bytes, VERP senders 60-90.
const senderBytesPerEntry = 64

// maxSenderLen is the longest sender kept (RFC 5321 allows 64+1+255).
const maxSenderLen = 320

// maxIDLen is the longest queue or message id kept: Postfix's long queue ids
// and Exim's 4.97+ message ids fit.
const maxIDLen = 32

// msgKey is a message id zero-padded to maxIDLen bytes, so map keys are
// arrays and remembering a sender allocates nothing.
type msgKey [maxIDLen]byte

func keyOf(id string) (k msgKey) {
	copy(k[:], id)
	return k
}

type senderRef struct {
	pos uint64 // absolute arena position of the first byte
	n   uint16
	seq uint64 // insertion number, so a ring slot evicts only its own entry
}

// Senders remembers the envelope sender of each message from the line that
// names it (Exim's "<=", Postfix's qmgr "from=") until the message is done
// (Exim's "Completed", Postfix's "removed"). Sender text lives in a ring arena written at an ever
// increasing absolute position; an entry is valid while the writer has not
// come round to its bytes again. Only the first put allocates (the arena and
// ring); after that, arrivals cost no allocation (map growth aside).
type Senders struct {
	max   int
	m     map[msgKey]senderRef
	ring  []msgKey
	next  int
	seq   uint64
	arena []byte
	w     uint64
}

// NewSenders returns a correlator of at most max messages (max > 0).
func NewSenders(max int) *Senders {
	return &Senders{max: max, m: make(map[msgKey]senderRef)}
}

func (c *Senders) text(r senderRef) (string, bool) {
	if r.n == 0 {
		return "", true
	}
	size := uint64(len(c.arena))
	if c.w > r.pos+size {
		return "", false // overwritten since
	}
	off := r.pos % size
	return string(c.arena[off : off+uint64(r.n)]), true
}

// Put remembers sender for message id; an id longer than maxIDLen is not
// kept.
func (c *Senders) Put(id, sender string) {
	if len(id) > maxIDLen {
		return
	}
	if c.arena == nil {
		c.arena = make([]byte, c.max*senderBytesPerEntry)
		c.ring = make([]msgKey, c.max)
	}
	if len(sender) > maxSenderLen || len(sender) > len(c.arena) {
		delete(c.m, keyOf(id))
		return
	}
	k := keyOf(id)
	if r, ok := c.m[k]; ok && c.same(r, sender) {
		return
	}
	ref := senderRef{n: uint16(len(sender)), seq: c.seq}
	if len(sender) > 0 {
		size := uint64(len(c.arena))
		off := c.w % size
		if off+uint64(len(sender)) > size { // never split an entry across the wrap
			c.w += size - off
			off = 0
		}
		copy(c.arena[off:], sender)
		ref.pos = c.w
		c.w += uint64(len(sender))
	}
	if c.seq >= uint64(c.max) {
		old := c.ring[c.next]
		if r, ok := c.m[old]; ok && r.seq == c.seq-uint64(c.max) {
			delete(c.m, old)
		}
	}
	c.m[k] = ref
	c.ring[c.next] = k
	c.next = (c.next + 1) % c.max
	c.seq++
}

// same compares without allocating.
func (c *Senders) same(r senderRef, sender string) bool {
	if int(r.n) != len(sender) {
		return false
	}
	if r.n == 0 {
		return true
	}
	size := uint64(len(c.arena))
	if c.w > r.pos+size {
		return false
	}
	off := r.pos % size
	return string(c.arena[off:off+uint64(r.n)]) == sender
}

// Get returns the sender of message id; ok is false when it is not known.
func (c *Senders) Get(id string) (string, bool) {
	r, ok := c.m[keyOf(id)]
	if !ok {
		return "", false
	}
	s, ok := c.text(r)
	if !ok {
		delete(c.m, keyOf(id))
	}
	return s, ok
}

// Remove forgets message id.
func (c *Senders) Remove(id string) { delete(c.m, keyOf(id)) }

// Len returns the number of messages remembered.
func (c *Senders) Len() int { return len(c.m) }
