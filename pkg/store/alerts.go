package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// alertsName is the bucket of alert state. It is made on the first save,
// so state files from before it need no new schema version.
var alertsName = []byte("alerts")

// SaveAlerts replaces the saved alert state with alerts (the caller's key
// of each instance → its state, opaque here, as positions are), in one
// transaction, so that pending and firing alerts survive a restart. It
// touches nothing but the alerts bucket, so it may run beside the writer
// goroutine (bbolt serialises the two). The bucket's keys are numbers in
// the order of the caller's keys: those may be longer than bbolt's bound,
// and the state holds them anyway.
func (s *Store) SaveAlerts(alerts map[string][]byte) error {
	keys := slices.Sorted(maps.Keys(alerts))
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
		for i, k := range keys {
			if err := b.Put(binary.BigEndian.AppendUint32(nil, uint32(i)), bytes.Clone(alerts[k])); err != nil {
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

// LoadAlerts returns the saved alert states in the order of their keys;
// none if nothing was saved yet.
func (s *Store) LoadAlerts() ([][]byte, error) {
	var out [][]byte
	err := s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(alertsName)
		if b == nil {
			return nil
		}
		return b.ForEach(func(_, v []byte) error {
			out = append(out, bytes.Clone(v))
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("load alerts: %w", err)
	}
	return out, nil
}
