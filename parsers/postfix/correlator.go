package postfix

import "strings"

// correlator remembers the envelope sender per queue ID, at most max
// entries; the oldest insertion goes first.
type correlator struct {
	m    map[string]entry
	ring []string
	next int
	seq  uint64
}

type entry struct {
	sender string
	seq    uint64
}

func newCorrelator(max int) *correlator {
	return &correlator{m: make(map[string]entry, min(max, 4096)), ring: make([]string, max)}
}

func (c *correlator) put(qid, sender string) {
	if e, ok := c.m[qid]; ok && e.sender == sender {
		return
	}
	if old := c.ring[c.next]; old != "" {
		// Evict only if the map still holds the entry this slot recorded.
		if e, ok := c.m[old]; ok && e.seq == c.seq-uint64(len(c.ring)) {
			delete(c.m, old)
		}
	}
	qid = strings.Clone(qid)
	c.m[qid] = entry{sender: strings.Clone(sender), seq: c.seq}
	c.ring[c.next] = qid
	c.next = (c.next + 1) % len(c.ring)
	c.seq++
}

func (c *correlator) get(qid string) (string, bool) {
	e, ok := c.m[qid]
	return e.sender, ok
}

func (c *correlator) remove(qid string) { delete(c.m, qid) }

func (c *correlator) len() int { return len(c.m) }
