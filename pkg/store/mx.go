package store

import (
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// mxName is the bucket of recipient domains' MX verdicts: domain ->
// flags byte (bit 0: Proofpoint) | int64 checked | int64 expires (unix
// microseconds). It is made on the first save, so state files from before
// it need no new schema version.
var mxName = []byte("mx")

// MXVerdict is what a recipient domain's MX records said, and until when
// that may be taken as still true (their TTL).
type MXVerdict struct {
	Domain     string
	Proofpoint bool
	Checked    time.Time
	Expires    time.Time
}

const mxValueLen = 1 + 8 + 8

// SaveMX stores verdicts, replacing those of the same domains, and deletes
// the verdicts of the domains in drop (expired or evicted ones), in one
// transaction. It touches nothing but its bucket, so it may run beside the
// writer goroutine.
func (s *Store) SaveMX(put []MXVerdict, drop []string) error {
	err := s.update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(mxName)
		if err != nil {
			return err
		}
		for _, d := range drop {
			if err := b.Delete([]byte(d)); err != nil {
				return err
			}
		}
		for _, v := range put {
			if len(v.Domain) == 0 || len(v.Domain) > 255 {
				continue // no domain is longer; a key bbolt refuses would fail every save
			}
			if err := b.Put([]byte(v.Domain), encodeMX(v)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("save mx verdicts: %w", err)
	}
	return nil
}

// LoadMX returns every stored verdict, in domain order.
func (s *Store) LoadMX() ([]MXVerdict, error) {
	var out []MXVerdict
	err := s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(mxName)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			m, err := decodeMX(k, v)
			if err != nil {
				return fmt.Errorf("domain %q: %w", k, err)
			}
			out = append(out, m)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("load mx verdicts: %w", err)
	}
	return out, nil
}

func encodeMX(v MXVerdict) []byte {
	b := make([]byte, 1, mxValueLen)
	if v.Proofpoint {
		b[0] = 1
	}
	b = binary.BigEndian.AppendUint64(b, uint64(v.Checked.UnixMicro()))
	return binary.BigEndian.AppendUint64(b, uint64(v.Expires.UnixMicro()))
}

func decodeMX(k, v []byte) (MXVerdict, error) {
	if len(k) == 0 || len(v) != mxValueLen || v[0] > 1 {
		return MXVerdict{}, fmt.Errorf("mx verdict of %d bytes: %w", len(v), errCorrupt)
	}
	return MXVerdict{Domain: string(k), Proofpoint: v[0] == 1,
		Checked: time.UnixMicro(int64(binary.BigEndian.Uint64(v[1:9]))).UTC(),
		Expires: time.UnixMicro(int64(binary.BigEndian.Uint64(v[9:17]))).UTC()}, nil
}
