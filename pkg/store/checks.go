package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The sender checks' state (the daemon's DNS checks): the latest result of
// each check of each target, and every change of it, so that the evidence
// packet can say since when a check failed, across restarts. Both are the
// caller's opaque bytes, as alert state is; the store only knows their
// times, which it prunes by. The buckets are made by the first save, so
// state files from before them need no new schema version.
var (
	checksName       = []byte("checks")
	checkChangesName = []byte("check_changes")
)

// Bounds of the check history, applied by PruneChecks.
const (
	// MaxCheckChanges is how many changes of one check of one target are
	// kept: the newest. A check that flaps every round fills it in ten
	// days at the default interval; one that does not keeps years.
	MaxCheckChanges = 1000
	// CheckHistory is how long a change is kept, and a target that is no
	// longer checked: over a year, so that "the same thing a year ago"
	// can be told.
	CheckHistory = 400 * 24 * time.Hour
)

// maxTargetLen bounds a target in a key. Real ones (a DKIM selector's name,
// "IP for domain") are far shorter; a cut one would no longer match its
// check's results, so the cut is well above them and far below bbolt's
// key size limit.
const maxTargetLen = 1024

// CheckKey names one check of one target: the check's name and its
// target (dnscheck's Result.Target), unique together.
type CheckKey struct {
	Check, Target string
}

// CheckState is the latest result of a check of a target: when it was
// checked and the caller's encoding of the result.
type CheckState struct {
	Key     CheckKey
	Checked time.Time
	Value   []byte
}

// CheckChange is a change of a check's result at a time, in the caller's
// encoding.
type CheckChange struct {
	Key   CheckKey
	Time  time.Time
	Value []byte
}

func appendCheckKey(dst []byte, k CheckKey) []byte {
	dst = appendField(dst, k.Check, maxFieldLen)
	return appendField(dst, k.Target, maxTargetLen)
}

func decodeCheckKey(b []byte) (CheckKey, error) {
	check, rest, err := readField(b)
	if err != nil {
		return CheckKey{}, err
	}
	target, rest, err := readField(rest)
	if err != nil || len(rest) != 0 {
		return CheckKey{}, errCorrupt
	}
	return CheckKey{check, target}, nil
}

// appendTime appends t in unix microseconds, big-endian with the sign bit
// flipped: byte order is time order, so a target's changes are in time
// order under its key prefix.
func appendTime(dst []byte, t time.Time) []byte {
	return binary.BigEndian.AppendUint64(dst, uint64(t.UnixMicro())^(1<<63))
}

func readTime(b []byte) time.Time {
	return time.UnixMicro(int64(binary.BigEndian.Uint64(b) ^ (1 << 63))).UTC()
}

// checkChangeKey splits a key of check_changes into its check key and time.
func checkChangeKey(k []byte) (CheckKey, time.Time, error) {
	if len(k) < 8 {
		return CheckKey{}, time.Time{}, errCorrupt
	}
	ck, err := decodeCheckKey(k[:len(k)-8])
	if err != nil {
		return CheckKey{}, time.Time{}, err
	}
	return ck, readTime(k[len(k)-8:]), nil
}

// SaveChecks writes the latest states given (replacing those of their
// keys) and the changes, in one transaction, so that a change is never
// saved without the state it led to. It touches nothing but the checks'
// buckets, so it may run beside the writer goroutine (bbolt serialises the
// two).
func (s *Store) SaveChecks(latest []CheckState, changes []CheckChange) error {
	err := s.update(func(tx *bolt.Tx) error {
		lb, err := tx.CreateBucketIfNotExists(checksName)
		if err != nil {
			return err
		}
		cb, err := tx.CreateBucketIfNotExists(checkChangesName)
		if err != nil {
			return err
		}
		for _, st := range latest {
			v := appendTime(nil, st.Checked)
			if err := lb.Put(appendCheckKey(nil, st.Key), append(v, st.Value...)); err != nil {
				return err
			}
		}
		for _, c := range changes {
			if err := cb.Put(appendTime(appendCheckKey(nil, c.Key), c.Time), bytes.Clone(c.Value)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("save checks: %w", err)
	}
	return nil
}

// Checks returns the latest state of every check of every target saved.
func (s *Store) Checks() ([]CheckState, error) {
	var out []CheckState
	err := s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(checksName)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			ck, err := decodeCheckKey(k)
			if err != nil || len(v) < 8 {
				return fmt.Errorf("bucket %s key %x: %w", checksName, k, errCorrupt)
			}
			out = append(out, CheckState{Key: ck, Checked: readTime(v), Value: bytes.Clone(v[8:])})
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("load checks: %w", err)
	}
	return out, nil
}

// CheckChanges returns every change saved, each target's in time order.
func (s *Store) CheckChanges() ([]CheckChange, error) {
	var out []CheckChange
	err := s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(checkChangesName)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			ck, t, err := checkChangeKey(k)
			if err != nil {
				return fmt.Errorf("bucket %s key %x: %w", checkChangesName, k, err)
			}
			out = append(out, CheckChange{Key: ck, Time: t, Value: bytes.Clone(v)})
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("load check changes: %w", err)
	}
	return out, nil
}

// PruneChecks applies the history's bounds as of now: a target last
// checked more than CheckHistory ago goes with all its changes; of the
// others, changes older than that are deleted, and all but the newest
// MaxCheckChanges, except always each target's newest change, which
// began the state it is in (a check failing for longer than the history
// still says since when). It returns how many records it deleted.
func (s *Store) PruneChecks(now time.Time) (deleted int, err error) {
	cutoff := now.Add(-CheckHistory)
	err = s.update(func(tx *bolt.Tx) error {
		deleted = 0
		lb, cb := tx.Bucket(checksName), tx.Bucket(checkChangesName)
		if lb == nil || cb == nil {
			return nil
		}
		// Collect first, then delete: deleting under a live cursor can skip
		// keys (etcd-io/bbolt#611).
		var gone, old [][]byte
		live := map[string]bool{}
		err := lb.ForEach(func(k, v []byte) error {
			if len(v) >= 8 && readTime(v).Before(cutoff) {
				gone = append(gone, bytes.Clone(k))
			} else {
				live[string(k)] = true
			}
			return nil
		})
		if err != nil {
			return err
		}
		var group [][]byte // one target's changes, oldest first
		flush := func() {
			if len(group) == 0 {
				return
			}
			alive := live[string(group[0][:len(group[0])-8])]
			for i, k := range group {
				newest := i == len(group)-1
				switch {
				case !alive:
					old = append(old, k)
				case newest:
				case len(group)-i > MaxCheckChanges || readTime(k[len(k)-8:]).Before(cutoff):
					old = append(old, k)
				}
			}
			group = group[:0]
		}
		c := cb.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			if len(k) < 8 {
				continue // Open's check refuses such a key; nothing to prune by
			}
			if len(group) > 0 && !bytes.Equal(group[0][:len(group[0])-8], k[:len(k)-8]) {
				flush()
			}
			group = append(group, bytes.Clone(k))
		}
		flush()
		for _, x := range []struct {
			b    *bolt.Bucket
			keys [][]byte
		}{{lb, gone}, {cb, old}} {
			n, err := deleteKeys(x.b, x.keys)
			deleted += n
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("prune checks: %w", err)
	}
	return deleted, nil
}
