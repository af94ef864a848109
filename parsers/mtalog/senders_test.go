package mtalog

import (
	"maps"
	"slices"
	"testing"
)

// changes collects one Changes call: id → "sender|messageID", or "gone".
func changes(c *Senders) map[string]string {
	got := map[string]string{}
	c.Changes(func(id, sender, messageID string) { got[id] = sender + "|" + messageID },
		func(id string) { got[id] = "gone" })
	return got
}

// What a tracked correlator hands out: what changed since the last call,
// not what came and went between two; forgetting one handed out (removed,
// evicted by a newer arrival) is a "gone"; a restored one is not handed
// out again until it changes.
func TestSendersChanges(t *testing.T) {
	c := NewSenders(3)
	c.Track()
	c.SetMessageID("Q1", "m1@x")
	c.Put("Q1", "a@x", "m1@x")
	c.Put("Q2", "b@x", "")
	c.Put("Q3", "c@x", "")
	c.Remove("Q3") // came and went
	want := map[string]string{"Q1": "a@x|m1@x", "Q2": "b@x|"}
	if got := changes(c); !maps.Equal(got, want) {
		t.Errorf("first: %v, want %v", got, want)
	}
	if got := changes(c); len(got) != 0 {
		t.Errorf("nothing changed: %v", got)
	}
	c.Put("Q1", "a@x", "m1@x") // the same again: no change
	c.Remove("Q2")
	c.Put("Q4", "d@x", "")
	c.Put("Q5", "e@x", "")
	c.Put("Q6", "f@x", "") // evicts Q1 (three at most; Q3 and Q2 are gone)
	want = map[string]string{"Q1": "gone", "Q2": "gone", "Q4": "d@x|", "Q5": "e@x|", "Q6": "f@x|"}
	if got := changes(c); !maps.Equal(got, want) {
		t.Errorf("second: %v, want %v", got, want)
	}

	r := NewSenders(3)
	r.Track()
	r.Restore("Q4", "d@x", "")
	r.Restore("Q7", "g@x", "m7@x")
	if got := changes(r); len(got) != 0 {
		t.Errorf("restored ones handed out again: %v", got)
	}
	if s, m, ok := r.Get("Q7"); !ok || s != "g@x" || m != "m7@x" {
		t.Errorf("Q7: %q %q %v", s, m, ok)
	}
	r.Remove("Q4")
	r.SetMessageID("Q7", "m7b@x")
	want = map[string]string{"Q4": "gone", "Q7": "g@x|m7b@x"}
	if got := changes(r); !maps.Equal(got, want) {
		t.Errorf("after restore: %v, want %v", got, want)
	}
	// Untracked, Changes hands out nothing.
	u := NewSenders(3)
	u.Put("Q1", "a@x", "")
	if got := slices.Collect(maps.Keys(changes(u))); len(got) != 0 {
		t.Errorf("untracked: %v", got)
	}
}
