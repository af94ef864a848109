package hygiene

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/ppwatch/ppwatch/pkg/dnscheck"
	"github.com/ppwatch/ppwatch/pkg/store"
)

// Episode is a span of time a check of a target spent in one verdict:
// "spf 198.51.100.7 for example.com failed from 02:10 to 03:40". It runs
// from the change that began it to the next one; rounds that could not
// tell (unknown) in between do not end it.
type Episode struct {
	Check  dnscheck.Check
	Target string
	Status dnscheck.Status // pass, warn or fail
	From   time.Time
	To     time.Time // zero while it lasts
	// Reason and Record are those of the result that began it.
	Reason, Record string
}

// String is the episode in one line, times in UTC:
// "fail spf 198.51.100.7 for example.com from 2026-03-01T02:10:00Z to 2026-03-01T03:40:00Z: not permitted by …".
func (e Episode) String() string {
	to := "now"
	if !e.To.IsZero() {
		to = e.To.UTC().Format(time.RFC3339)
	}
	return fmt.Sprintf("%s %s %s from %s to %s: %s", e.Status, e.Check, e.Target, e.From.UTC().Format(time.RFC3339), to, e.Reason)
}

// Episodes returns the episodes of the store's history that overlap
// [from, to), by their start, then check and target. The evidence packet takes those that are not pass; a history
// starts with a check's first verdict and keeps store.CheckHistory.
func Episodes(st *store.Store, from, to time.Time) ([]Episode, error) {
	changes, err := st.CheckChanges()
	if err != nil {
		return nil, err
	}
	var out []Episode
	for i, c := range changes {
		var ch change
		if err := json.Unmarshal(c.Value, &ch); err != nil {
			continue // left out: the episode before it ends at its time all the same
		}
		e := Episode{Check: dnscheck.Check(c.Key.Check), Target: c.Key.Target, Status: ch.To, From: c.Time, Reason: ch.Reason, Record: ch.Record}
		if i+1 < len(changes) && changes[i+1].Key == c.Key {
			e.To = changes[i+1].Time
		}
		if e.From.Before(to) && (e.To.IsZero() || e.To.After(from)) {
			out = append(out, e)
		}
	}
	slices.SortStableFunc(out, func(a, b Episode) int {
		return cmp.Or(a.From.Compare(b.From), cmp.Compare(a.Check, b.Check), cmp.Compare(a.Target, b.Target))
	})
	return out, nil
}
