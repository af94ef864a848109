package notify

import (
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// queue is one target's bounded FIFO of alerts. An alert whose label set is
// already queued replaces the queued copy in its place: the newer copy
// carries the later endsAt (or the resolution), and the older one would
// only be overwritten at the receiver anyway.
type queue struct {
	mu     sync.Mutex
	max    int
	items  []*queued
	byKey  map[string]*queued
	length prometheus.Gauge
}

type queued struct {
	key   string
	alert Alert
}

func newQueue(size int, length prometheus.Gauge) *queue {
	return &queue{max: size, byKey: map[string]*queued{}, length: length}
}

// push appends alerts and returns how many old ones it dropped to make room.
func (q *queue) push(alerts []Alert) (dropped int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, a := range alerts {
		k := labelKey(a.Labels)
		if e, ok := q.byKey[k]; ok {
			e.alert = a
			continue
		}
		if len(q.items) == q.max {
			delete(q.byKey, q.items[0].key)
			q.items[0] = nil
			q.items = q.items[1:]
			dropped++
		}
		e := &queued{key: k, alert: a}
		q.items = append(q.items, e)
		q.byKey[k] = e
	}
	q.length.Set(float64(len(q.items)))
	return dropped
}

// pop removes and returns up to max alerts from the front.
func (q *queue) pop(max int) []Alert {
	q.mu.Lock()
	defer q.mu.Unlock()
	k := min(max, len(q.items))
	if k == 0 {
		return nil
	}
	out := make([]Alert, k)
	for i, e := range q.items[:k] {
		out[i] = e.alert
		delete(q.byKey, e.key)
		q.items[i] = nil
	}
	q.items = q.items[k:]
	q.length.Set(float64(len(q.items)))
	return out
}

// clear empties the queue and returns how many alerts it held.
func (q *queue) clear() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	k := len(q.items)
	q.items = nil
	clear(q.byKey)
	q.length.Set(0)
	return k
}

// labelKey identifies a label set; 0xff never occurs in UTF-8 text, so
// distinct sets cannot collide.
func labelKey(labels map[string]string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		b.WriteString(k)
		b.WriteByte(0xff)
		b.WriteString(labels[k])
		b.WriteByte(0xff)
	}
	return b.String()
}
