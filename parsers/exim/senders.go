package exim

// DefaultMaxSenders caps the envelope-sender correlator: at most this many
// messages are remembered, and their sender addresses share an arena of
// DefaultMaxSenders*senderBytesPerEntry bytes (3.2 MB). Whichever fills first
// evicts the oldest arrival. A message whose entry was evicted still yields
// attempts, only with an empty Sender.
const DefaultMaxSenders = 50000

// senderBytesPerEntry sizes the arena: typical envelope senders are 20-40
// bytes, VERP senders 60-90.
const senderBytesPerEntry = 64

// maxSenderLen is the longest sender kept (RFC 5321 allows 64+1+255).
const maxSenderLen = 320

// msgKey is a message id zero-padded to the 23 bytes of the 4.97+ format, so
// map keys are arrays and remembering a sender allocates nothing.
type msgKey [23]byte

func keyOf(id string) (k msgKey) {
	copy(k[:], id)
	return k
}

type senderRef struct {
	pos uint64 // absolute arena position of the first byte
	n   uint16
	seq uint64 // insertion number, so a ring slot evicts only its own entry
}

// senders remembers the envelope sender of each message from its "<=" line
// until "Completed". Sender text lives in a ring arena written at an ever
// increasing absolute position; an entry is valid while the writer has not
// come round to its bytes again. Only the first put allocates (the arena and
// ring); after that, arrivals cost no allocation (map growth aside).
type senders struct {
	max   int
	m     map[msgKey]senderRef
	ring  []msgKey
	next  int
	seq   uint64
	arena []byte
	w     uint64
}

func newSenders(max int) *senders {
	return &senders{max: max, m: make(map[msgKey]senderRef)}
}

func (c *senders) text(r senderRef) (string, bool) {
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

func (c *senders) put(id, sender string) {
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
func (c *senders) same(r senderRef, sender string) bool {
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

func (c *senders) get(id string) (string, bool) {
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

func (c *senders) remove(id string) { delete(c.m, keyOf(id)) }

func (c *senders) len() int { return len(c.m) }
