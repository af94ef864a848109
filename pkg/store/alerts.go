package store

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// alertsName is the bucket of alert state. It is made on the first save,
// so state files from before it need no new schema version.
var alertsName = []byte("alerts")

// Alert is the saved state of one alert instance, so that pending and
// firing alerts survive a restart: a firing one keeps its start time and
// last send (no second page), a pending one the time its condition began
// (its "for" goes on).
type Alert struct {
	Rule        string            `json:"rule"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations,omitempty"`
	State       string            `json:"state"` // pending, firing, or inactive (resolved, not yet sent)
	Value       float64           `json:"value"`
	Attempts    uint64            `json:"attempts"`
	Blocks      uint64            `json:"blocks"`
	Deferrals   uint64            `json:"deferrals"`
	ActiveAt    time.Time         `json:"active_at"`
	FiredAt     time.Time         `json:"fired_at,omitzero"`
	ResolvedAt  time.Time         `json:"resolved_at,omitzero"`
	LastSentAt  time.Time         `json:"last_sent_at,omitzero"`
	ValidUntil  time.Time         `json:"valid_until,omitzero"`
	Generator   string            `json:"generator_url,omitempty"`
}

// alertKey is field(rule) and then field(name) field(value) per label in
// name order: one key per instance, whatever the map order.
func alertKey(a *Alert) []byte {
	names := make([]string, 0, len(a.Labels))
	for n := range a.Labels {
		names = append(names, n)
	}
	slices.Sort(names)
	k := appendField(nil, a.Rule, maxFieldLen)
	for _, n := range names {
		k = appendField(k, n, maxFieldLen)
		k = appendField(k, a.Labels[n], maxFieldLen)
	}
	return k
}

// SaveAlerts replaces the saved alert state with alerts, in one
// transaction. It touches nothing but the alerts bucket, so it may run
// beside the writer goroutine (bbolt serialises the two).
func (s *Store) SaveAlerts(alerts []Alert) error {
	err := s.update(func(tx *bolt.Tx) error {
		if tx.Bucket(alertsName) != nil {
			if err := tx.DeleteBucket(alertsName); err != nil {
				return err
			}
		}
		b, err := tx.CreateBucket(alertsName)
		if err != nil {
			return err
		}
		for i := range alerts {
			v, err := json.Marshal(&alerts[i])
			if err != nil {
				return err
			}
			if err := b.Put(alertKey(&alerts[i]), v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("save alerts: %w", err)
	}
	return nil
}

// LoadAlerts returns the saved alert state in key order; none if nothing
// was saved yet.
func (s *Store) LoadAlerts() ([]Alert, error) {
	var out []Alert
	err := s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(alertsName)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var a Alert
			if err := json.Unmarshal(v, &a); err != nil {
				return corrupt(string(alertsName), k, err)
			}
			out = append(out, a)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("load alerts: %w", err)
	}
	return out, nil
}
