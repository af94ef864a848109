// Package outcome follows, for the daemon, each message Proofpoint
// deferred until its outcome: delivered after retry, bounced, or expired.
// A deferral case needs that evidence (how long mail waits, how much of it
// is lost) and it is the business impact ("38 invoices delayed, 5 still
// queued").
//
// A message is a queue ID and a recipient. It is followed from its first
// Proofpoint deferral (event.Delays: a 4xx, or a reply the MTA logs as
// deferred, as Postfix does a 554 greeting); its next attempts decide: delivered, or bounced, or
// expired when the bounce says the MTA's retry time ran out (Exim's "retry
// timeout exceeded"), or when no attempt came for ExpireAfter by event
// time (Postfix says so once per message, without the recipient). At most
// MaxOpen messages are followed; more are counted as untracked.
//
// The Tracker's state survives restarts exactly: the daemon's writer puts
// Changes into the same transaction as the counts they go with (the
// store's figures), and Restore reads them back, so a line read again
// after a crash is never counted twice.
package outcome

import (
	"encoding/binary"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ppwatch/ppwatch/pkg/event"
)

// Outcomes, the values of the outcome label.
const (
	Delivered = "delivered" // after one or more Proofpoint deferrals
	Bounced   = "bounced"
	Expired   = "expired"
)

var outcomes = []string{Delivered, Bounced, Expired}

// Defaults.
const (
	DefaultMaxOpen     = 50000
	DefaultExpireAfter = 7 * 24 * time.Hour // past Postfix's 5 d and Exim's usual 4 d
	maxKeyLen          = 255
)

// Keys of the figures the Tracker keeps.
const (
	figOpen   = "outcome.open:"   // + source IP, NUL, queue ID, NUL, recipient -> first deferral, last attempt, attempts
	figCounts = "outcome.counts:" // + source IP -> delivered, bounced, expired, untracked, delay seconds summed
)

// Counts are one source IP's outcomes so far.
type Counts struct {
	Delivered, Bounced, Expired uint64
	Untracked                   uint64  // deferred messages not followed: past MaxOpen
	DelaySeconds                float64 // summed over the delivered, from their first deferral
}

// key is a message: the lookup of an attempt allocates nothing. The
// sending IP is not in it: Postfix logs no IP, and a deferral learns it
// from the reply ("?ip=") that the delivery after it does not have.
type key struct{ queueID, recipient string }

type msg struct {
	k           key    // its own copy: a map assignment with ev's key would keep ev's (aliasing) strings
	ip          string // of its first deferral
	first, last time.Time
	attempts    uint32
}

func figure(k key, ip string) string { return figOpen + ip + "\x00" + k.queueID + "\x00" + k.recipient }

// Tracker follows the messages. Observe and Changes run on the writer's
// goroutine; Snapshot may run beside them.
type Tracker struct {
	MaxOpen     int
	ExpireAfter time.Duration

	mu          sync.Mutex
	open        map[key]*msg
	counts      map[string]*Counts // by source IP
	dirtyOpen   map[key]string     // changed since Changes → the IP of its figure
	dirtyCounts map[string]bool
	newest      time.Time // the newest event time seen: the clock of expiry
	expiredAt   time.Time // newest when expire last looked

	samples      map[string]*ipSamples // by source IP
	dirtySamples map[string]bool
}

// New is an empty Tracker with the default bounds.
func New() *Tracker {
	return &Tracker{MaxOpen: DefaultMaxOpen, ExpireAfter: DefaultExpireAfter, open: map[key]*msg{}, counts: map[string]*Counts{},
		dirtyOpen: map[key]string{}, dirtyCounts: map[string]bool{}, samples: map[string]*ipSamples{}, dirtySamples: map[string]bool{}}
}

// Observe reads one Proofpoint attempt.
func (t *Tracker) Observe(ev *event.Delivery) {
	if !ev.Proofpoint || ev.QueueID == "" || ev.Recipient == "" {
		return
	}
	if len(figOpen)+len(ev.SourceIP)+len(ev.QueueID)+len(ev.Recipient)+2 > maxKeyLen {
		return // the store bounds its keys
	}
	k := key{ev.QueueID, ev.Recipient}
	t.mu.Lock()
	defer t.mu.Unlock()
	if ev.Time.After(t.newest) {
		t.newest = ev.Time
	}
	if ev.IsBlock() || ev.IsDeferral() {
		t.sample(ev)
	}
	m := t.open[k]
	if m == nil {
		if !ev.Delays() {
			return
		}
		if len(t.open) >= t.MaxOpen {
			t.count(strings.Clone(ev.SourceIP)).Untracked++ // a key of counts must not alias ev
			return
		}
		m = &msg{k: key{strings.Clone(k.queueID), strings.Clone(k.recipient)}, ip: strings.Clone(ev.SourceIP), first: ev.Time}
		t.open[m.k] = m
	}
	k = m.k
	m.attempts++
	if ev.Time.After(m.last) {
		m.last = ev.Time
	}
	t.dirtyOpen[k] = m.ip
	switch {
	case ev.Status == event.Delivered:
		c := t.count(m.ip)
		c.Delivered++
		c.DelaySeconds += ev.Time.Sub(m.first).Seconds()
		t.close(k)
	case ev.Status == event.Bounced && strings.HasSuffix(ev.Response, "retry timeout exceeded"):
		t.count(m.ip).Expired++
		t.close(k)
	case ev.Status == event.Bounced:
		t.count(m.ip).Bounced++
		t.close(k)
	}
}

func (t *Tracker) count(ip string) *Counts {
	c := t.counts[ip]
	if c == nil {
		ip = strings.Clone(ip)
		c = &Counts{}
		t.counts[ip] = c
	}
	t.dirtyCounts[ip] = true
	return c
}

func (t *Tracker) close(k key) {
	t.dirtyOpen[k] = t.open[k].ip
	delete(t.open, k)
}

// expire closes the messages with no attempt for ExpireAfter, by the
// newest event time: the logs' clock, so a catch-up decides as live
// reading would.
func (t *Tracker) expire() {
	// Once a minute of log time is enough, and a catch-up commits many
	// times a second: each look goes over every open message.
	if t.newest.Sub(t.expiredAt) < time.Minute {
		return
	}
	t.expiredAt = t.newest
	for k, m := range t.open {
		if t.newest.Sub(m.last) > t.ExpireAfter {
			t.count(m.ip).Expired++
			t.close(k)
		}
	}
}

// Changes are the figures changed since the last call, to commit with
// the counts they go with: key → value, nil deleting the key. The samples
// and senders come only with withSamples: an IP's latest samples change
// with each failure, and writing them at every commit would grow the
// state file with rewritten pages; a crash then loses the latest samples
// since they were last written, never a count.
func (t *Tracker) Changes(withSamples bool) map[string][]byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.expire()
	out := make(map[string][]byte, len(t.dirtyOpen)+len(t.dirtyCounts))
	for k, ip := range t.dirtyOpen {
		if m := t.open[k]; m != nil {
			out[figure(k, ip)] = encodeMsg(m)
		} else {
			out[figure(k, ip)] = nil
		}
	}
	for ip := range t.dirtyCounts {
		out[figCounts+ip] = encodeCounts(t.counts[ip])
	}
	clear(t.dirtyOpen)
	clear(t.dirtyCounts)
	if withSamples {
		t.samplesChanges(out)
	}
	return out
}

// Restore reads the Tracker's figures back (the store's figures, all
// keys: others are ignored).
func (t *Tracker) Restore(figs map[string][]byte) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, v := range figs {
		switch {
		case v == nil: // deleted: what Changes gives, not what a store holds
		case strings.HasPrefix(k, figSamples) || strings.HasPrefix(k, figSenders):
			if err := t.restoreSamples(k, v); err != nil {
				return err
			}
		case strings.HasPrefix(k, figOpen):
			parts := strings.SplitN(strings.TrimPrefix(k, figOpen), "\x00", 3)
			m, err := decodeMsg(v)
			if err != nil || len(parts) != 3 {
				return errCorrupt
			}
			m.ip, m.k = parts[0], key{parts[1], parts[2]}
			t.open[m.k] = m
			if m.last.After(t.newest) {
				t.newest = m.last
			}
		case strings.HasPrefix(k, figCounts):
			c, err := decodeCounts(v)
			if err != nil {
				return err
			}
			t.counts[strings.TrimPrefix(k, figCounts)] = c
		}
	}
	return nil
}

// IPCounts are one IP's outcomes and the messages still deferred.
type IPCounts struct {
	SourceIP string
	Counts
	Open int // deferred, no outcome yet
}

// Snapshot is every IP's outcomes, by IP.
func (t *Tracker) Snapshot() []IPCounts {
	t.mu.Lock()
	defer t.mu.Unlock()
	by := map[string]*IPCounts{}
	get := func(ip string) *IPCounts {
		c := by[ip]
		if c == nil {
			c = &IPCounts{SourceIP: ip}
			by[ip] = c
		}
		return c
	}
	for ip, c := range t.counts {
		get(ip).Counts = *c
	}
	for _, m := range t.open {
		get(m.ip).Open++
	}
	var out []IPCounts
	for _, ip := range slices.Sorted(maps.Keys(by)) {
		out = append(out, *by[ip])
	}
	return out
}

var errCorrupt = errors.New("outcome figure: corrupt")

func encodeMsg(m *msg) []byte {
	b := binary.BigEndian.AppendUint64(nil, uint64(m.first.UnixMicro()))
	b = binary.BigEndian.AppendUint64(b, uint64(m.last.UnixMicro()))
	return binary.BigEndian.AppendUint32(b, m.attempts)
}

func decodeMsg(b []byte) (*msg, error) {
	if len(b) != 20 {
		return nil, errCorrupt
	}
	return &msg{first: time.UnixMicro(int64(binary.BigEndian.Uint64(b))).UTC(), last: time.UnixMicro(int64(binary.BigEndian.Uint64(b[8:]))).UTC(),
		attempts: binary.BigEndian.Uint32(b[16:])}, nil
}

func encodeCounts(c *Counts) []byte {
	b := make([]byte, 0, 40)
	for _, n := range []uint64{c.Delivered, c.Bounced, c.Expired, c.Untracked, uint64(c.DelaySeconds * 1000)} {
		b = binary.BigEndian.AppendUint64(b, n)
	}
	return b
}

func decodeCounts(b []byte) (*Counts, error) {
	if len(b) != 40 {
		return nil, errCorrupt
	}
	n := func(i int) uint64 { return binary.BigEndian.Uint64(b[8*i:]) }
	return &Counts{Delivered: n(0), Bounced: n(1), Expired: n(2), Untracked: n(3), DelaySeconds: float64(n(4)) / 1000}, nil
}

// SamplesDirty tells whether samples changed since they were last given.
func (t *Tracker) SamplesDirty() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.dirtySamples) > 0
}
