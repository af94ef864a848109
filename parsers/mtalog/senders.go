package mtalog

import (
	"bytes"
	"strings"
)

// DefaultMaxSenders caps an envelope-sender correlator: at most this many
// messages are remembered, and their sender addresses share an arena of
// DefaultMaxSenders*senderBytesPerEntry bytes (3.2 MB). Whichever fills first
// evicts the oldest arrival. A message whose entry was evicted still yields
// attempts, only with an empty Sender. Postfix's qmgr logs from= again each
// time a deferred message returns to the active queue, so old entries come
// back.
const DefaultMaxSenders = 50000

// senderBytesPerEntry sizes the arena: typical envelope senders are 20-40
// bytes, VERP senders 60-90, and a Message-ID ("<" and ">" left out) 30-60.
const senderBytesPerEntry = 112

// maxSenderLen is the longest sender kept (RFC 5321 allows 64+1+255).
const maxSenderLen = 320

// MaxMessageIDLen is the longest Message-ID kept (RFC 5322 sets no bound;
// real ones are under 100 bytes): a longer one is left out, the sender
// kept.
const MaxMessageIDLen = 250

// maxIDLen is the longest queue or message id kept: Postfix's long queue ids
// and Exim's 4.97+ message ids fit.
const maxIDLen = 32

// msgKey is a message id zero-padded to maxIDLen bytes, so map keys are
// arrays and remembering a sender allocates nothing.
type msgKey [maxIDLen]byte

// String is the id the key was made of.
func (k msgKey) String() string { return strings.TrimRight(string(k[:]), "\x00") }

func keyOf(id string) (k msgKey) {
	copy(k[:], id)
	return k
}

type senderRef struct {
	pos uint64 // absolute arena position of the first byte
	n   uint16
	seq uint64 // insertion number, so a ring slot evicts only its own entry
}

// Senders remembers the envelope sender and the Message-ID of each message
// from the lines that name them (Exim's "<=" with its id=, Postfix's
// cleanup "message-id=" and qmgr "from=") until the message is done (Exim's
// "Completed", Postfix's "removed"). An entry's text is the sender, a NUL
// and the Message-ID. Sender text lives in a ring arena written at an ever
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

	// With Track: the messages put or forgotten since the last Changes
	// (true: put), and those a Changes has handed out and not yet seen
	// forgotten.
	dirty  map[msgKey]bool
	stored map[msgKey]struct{}
}

// NewSenders returns a correlator of at most max messages (max > 0).
func NewSenders(max int) *Senders {
	return &Senders{max: max, m: make(map[msgKey]senderRef)}
}

func (c *Senders) text(r senderRef) (string, bool) {
	b, ok := c.bytesOf(r)
	return string(b), ok
}

// Put remembers the sender and Message-ID of message id, replacing what
// was remembered; an id longer than maxIDLen is not kept. Callers that
// learn one of the two keep the other with Get. It allocates nothing once
// the arena is made.
func (c *Senders) Put(id, sender, messageID string) {
	if len(id) > maxIDLen {
		return
	}
	if len(messageID) > MaxMessageIDLen {
		messageID = ""
	}
	if c.arena == nil {
		c.arena = make([]byte, c.max*senderBytesPerEntry)
		c.ring = make([]msgKey, c.max)
	}
	n := len(sender)
	if messageID != "" {
		n += 1 + len(messageID)
	}
	if len(sender) > maxSenderLen || n > len(c.arena) {
		c.forget(keyOf(id))
		return
	}
	k := keyOf(id)
	if r, ok := c.m[k]; ok && c.same(r, sender, messageID, n) {
		return
	}
	ref := senderRef{n: uint16(n), seq: c.seq}
	if n > 0 {
		size := uint64(len(c.arena))
		off := c.w % size
		if off+uint64(n) > size { // never split an entry across the wrap
			c.w += size - off
			off = 0
		}
		w := copy(c.arena[off:], sender)
		if messageID != "" {
			c.arena[off+uint64(w)] = 0
			copy(c.arena[off+uint64(w)+1:], messageID)
		}
		ref.pos = c.w
		c.w += uint64(n)
	}
	if c.seq >= uint64(c.max) {
		old := c.ring[c.next]
		if r, ok := c.m[old]; ok && r.seq == c.seq-uint64(c.max) {
			c.forget(old)
		}
	}
	c.m[k] = ref
	if c.dirty != nil {
		c.dirty[k] = true
	}
	c.ring[c.next] = k
	c.next = (c.next + 1) % c.max
	c.seq++
}

// SetMessageID sets the Message-ID of message id and keeps its sender.
// Postfix names the Message-ID (cleanup) before the sender (qmgr), so the
// message is usually not known yet, and a repeated line changes nothing:
// neither allocates.
func (c *Senders) SetMessageID(id, messageID string) {
	r, ok := c.m[keyOf(id)]
	if !ok {
		c.Put(id, "", messageID)
		return
	}
	if t, ok := c.bytesOf(r); ok {
		if i := bytes.IndexByte(t, 0); i >= 0 && string(t[i+1:]) == messageID {
			return
		}
	}
	sender, _, _ := c.Get(id)
	c.Put(id, sender, messageID)
}

// bytesOf is the entry's text in the arena, valid until the next Put.
func (c *Senders) bytesOf(r senderRef) ([]byte, bool) {
	if r.n == 0 {
		return nil, true
	}
	size := uint64(len(c.arena))
	if c.w > r.pos+size {
		return nil, false
	}
	off := r.pos % size
	return c.arena[off : off+uint64(r.n)], true
}

// same compares without allocating.
func (c *Senders) same(r senderRef, sender, messageID string, n int) bool {
	text, ok := c.bytesOf(r)
	if !ok || int(r.n) != n {
		return false
	}
	if n == 0 {
		return true
	}
	if string(text[:len(sender)]) != sender {
		return false
	}
	return messageID == "" || string(text[len(sender)+1:]) == messageID
}

// Get returns the sender and Message-ID of message id; ok is false when
// it is not known.
func (c *Senders) Get(id string) (sender, messageID string, ok bool) {
	return c.get(keyOf(id))
}

func (c *Senders) get(k msgKey) (sender, messageID string, ok bool) {
	r, ok := c.m[k]
	if !ok {
		return "", "", false
	}
	s, ok := c.text(r)
	if !ok {
		c.forget(k)
		return "", "", false
	}
	sender, messageID, _ = strings.Cut(s, "\x00")
	return sender, messageID, true
}

// Remove forgets message id.
func (c *Senders) Remove(id string) { c.forget(keyOf(id)) }

func (c *Senders) forget(k msgKey) {
	delete(c.m, k)
	if c.dirty == nil {
		return
	}
	if _, ok := c.stored[k]; ok {
		c.dirty[k] = false
	} else {
		delete(c.dirty, k)
	}
}

// Track makes the correlator keep what changed, for Changes: a caller
// that keeps it across restarts (the daemon, in its state file beside the
// read positions) then writes only that.
func (c *Senders) Track() {
	c.dirty, c.stored = map[msgKey]bool{}, map[msgKey]struct{}{}
}

// Changes calls put for each message remembered or changed since the last
// call, and gone for each one forgotten since that an earlier call (or
// Restore) had handed out. A message that came and went between two calls
// is in neither: most do, so the caller's writes stay few.
func (c *Senders) Changes(put func(id, sender, messageID string), gone func(id string)) {
	for k, live := range c.dirty {
		if live {
			if sender, messageID, ok := c.get(k); ok {
				put(k.String(), sender, messageID)
				c.stored[k] = struct{}{}
				continue
			}
		}
		if _, ok := c.stored[k]; ok {
			gone(k.String())
			delete(c.stored, k)
		}
	}
	clear(c.dirty)
}

// Restore remembers a message as an earlier Changes handed it out.
func (c *Senders) Restore(id, sender, messageID string) {
	c.Put(id, sender, messageID)
	if k := keyOf(id); c.dirty != nil {
		if _, ok := c.m[k]; ok {
			delete(c.dirty, k)
			c.stored[k] = struct{}{}
		}
	}
}

// Len returns the number of messages remembered.
func (c *Senders) Len() int { return len(c.m) }
