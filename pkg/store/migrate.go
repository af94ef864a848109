package store

import (
	"bytes"
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// A file from before the domain bound may hold a flood's million domains.
// Folding them rewrites most of the file, so it goes in steps of at most
// migrationChunk keys read, one transaction each: a single one would hold
// every rewritten page in memory until its commit (etcd-io/bbolt#401). The
// bucket domains_migration says where the next step starts; each step
// keeps the counts exact, so a file cut off between two steps is correct
// and the next Open goes on from there.
var migrationChunk = 10000

var (
	migrationName = []byte("domains_migration")
	keyPhase      = []byte("phase")
	keyAfter      = []byte("after")
)

// The steps, in order. Cells move after the series they count were folded,
// and ids are deleted only once no cell names them.
const (
	phaseSeries   byte = iota + 1 // totals of folded pairs onto Other's series
	phaseCells                    // per-minute cells onto Other's series ids
	phaseIDs                      // the folded series' ids
	phaseReplies                  // replies onto (ip, Other)
	phaseOverflow                 // overflow counters onto (ip, Other)
)

// MigrationStats counts what a migration folded into Other.
type MigrationStats struct {
	Series, Cells, Replies, Overflow int
}

func startMigration(tx *bolt.Tx) error {
	mb, err := tx.CreateBucketIfNotExists(migrationName)
	if err != nil {
		return err
	}
	return mb.Put(keyPhase, []byte{phaseSeries})
}

// migrate runs the steps until the migration bucket is gone.
func (s *Store) migrate(st *MigrationStats) error {
	for {
		done, err := s.migrateStep(st)
		if err != nil || done {
			return err
		}
	}
}

func (s *Store) migrateStep(st *MigrationStats) (done bool, err error) {
	var step MigrationStats
	err = s.update(func(tx *bolt.Tx) error {
		step = MigrationStats{}
		mb := tx.Bucket(migrationName)
		if mb == nil {
			done = true
			return nil
		}
		phase := mb.Get(keyPhase)
		if len(phase) != 1 {
			return corrupt(string(migrationName), keyPhase, errCorrupt)
		}
		after := bytes.Clone(mb.Get(keyAfter))
		var next []byte
		var err error
		switch phase[0] {
		case phaseSeries:
			next, err = s.foldSeries(tx, after, &step)
		case phaseCells:
			next, err = foldCells(tx, after, &step)
		case phaseIDs:
			next, err = dropFoldedIDs(tx, after)
		case phaseReplies:
			next, err = s.foldReplies(tx, after, &step)
		case phaseOverflow:
			next, err = s.foldOverflow(tx, after, &step)
		default:
			return corrupt(string(migrationName), keyPhase, fmt.Errorf("unknown phase %d", phase[0]))
		}
		if err != nil {
			return err
		}
		if next != nil {
			return mb.Put(keyAfter, next)
		}
		if phase[0] == phaseOverflow {
			done = true
			return tx.DeleteBucket(migrationName)
		}
		if err := mb.Delete(keyAfter); err != nil {
			return err
		}
		return mb.Put(keyPhase, []byte{phase[0] + 1})
	})
	if err == nil {
		st.Series += step.Series
		st.Cells += step.Cells
		st.Replies += step.Replies
		st.Overflow += step.Overflow
	}
	return done, err
}

// chunk copies up to n entries of b after the key after (from the first
// when nil), and returns the last key copied when more follow, nil when
// the bucket was read to its end. The copies let the step change b: a
// cursor over keys being deleted can skip some (etcd-io/bbolt#611).
func chunk(b *bolt.Bucket, after []byte, n int) (keys, vals [][]byte, last []byte) {
	c := b.Cursor()
	var k, v []byte
	if after == nil {
		k, v = c.First()
	} else if k, v = c.Seek(after); k != nil && bytes.Equal(k, after) {
		k, v = c.Next()
	}
	for ; k != nil && len(keys) < n; k, v = c.Next() {
		keys = append(keys, bytes.Clone(k))
		vals = append(vals, bytes.Clone(v))
	}
	if k != nil {
		last = keys[len(keys)-1]
	}
	return keys, vals, last
}

// folded reports whether the store puts (ip, domain) under Other.
func (x *domainIndex) folded(ip, domain string) bool {
	if !subject(domain) {
		return false
	}
	_, ok := x.kept[string(pairKey(ip, domain))]
	return !ok
}

// foldSeries adds the totals of folded pairs' series to the same series
// under Other, and points the old ids at it, so that their cells read as
// Other's until they move.
func (s *Store) foldSeries(tx *bolt.Tx, after []byte, st *MigrationStats) ([]byte, error) {
	sb, ib := tx.Bucket(seriesName), tx.Bucket(seriesIDsName)
	keys, vals, last := chunk(sb, after, migrationChunk)
	for i, k := range keys {
		series, err := decodeSeries(k)
		if err != nil {
			return nil, corrupt(string(seriesName), k, err)
		}
		if !s.domains.folded(series.SourceIP, series.RecipientDomain) {
			continue
		}
		id, total, err := decodeSeriesValue(vals[i])
		if err != nil {
			return nil, corrupt(string(seriesName), k, err)
		}
		fs := series
		fs.RecipientDomain = Other
		fenc := appendSeries(nil, fs)
		if _, err := addTotals(tx, map[Series]uint64{fs: total}); err != nil {
			return nil, err
		}
		if err := ib.Put(idKey(id), fenc); err != nil {
			return nil, err
		}
		if err := sb.Delete(k); err != nil {
			return nil, err
		}
		if err := addFolded(tx, series.SourceIP, total); err != nil {
			return nil, err
		}
		st.Series++
	}
	return last, nil
}

// foldCells moves the cells of ids that now name another series's
// encoding onto that series's own id, adding to its cell of the minute.
func foldCells(tx *bolt.Tx, after []byte, st *MigrationStats) ([]byte, error) {
	bk, sb, ib := tx.Bucket(bucketsName), tx.Bucket(seriesName), tx.Bucket(seriesIDsName)
	keys, vals, last := chunk(bk, after, migrationChunk)
	real := map[uint32]uint32{}
	for i, k := range keys {
		if len(k) != 12 {
			return nil, corrupt(string(bucketsName), k, errCorrupt)
		}
		id := binary.BigEndian.Uint32(k[8:])
		to, ok := real[id]
		if !ok {
			var err error
			if to, err = ownID(sb, ib, id); err != nil {
				return nil, corrupt(string(bucketsName), k, err)
			}
			real[id] = to
		}
		if to == id {
			continue
		}
		n, err := decodeUint64(vals[i])
		if err != nil {
			return nil, corrupt(string(bucketsName), k, err)
		}
		var nk [12]byte
		putCellKey(nk[:], getMinute(k), to)
		var cur uint64
		if v := bk.Get(nk[:]); v != nil {
			if cur, err = decodeUint64(v); err != nil {
				return nil, corrupt(string(bucketsName), nk[:], err)
			}
		}
		if err := bk.Put(bytes.Clone(nk[:]), encodeUint64(cur+n)); err != nil {
			return nil, err
		}
		if err := bk.Delete(k); err != nil {
			return nil, err
		}
		st.Cells++
	}
	return last, nil
}

// ownID returns the id of the series that id names: id itself, or the
// series under Other that a folded one was added to.
func ownID(sb, ib *bolt.Bucket, id uint32) (uint32, error) {
	enc := ib.Get(idKey(id))
	if enc == nil {
		return 0, fmt.Errorf("unknown series id %d", id)
	}
	v := sb.Get(enc)
	if v == nil {
		return 0, fmt.Errorf("series id %d names no series", id)
	}
	own, _, err := decodeSeriesValue(v)
	return own, err
}

// dropFoldedIDs deletes the ids of folded series: no cell names them now.
func dropFoldedIDs(tx *bolt.Tx, after []byte) ([]byte, error) {
	sb, ib := tx.Bucket(seriesName), tx.Bucket(seriesIDsName)
	keys, _, last := chunk(ib, after, migrationChunk)
	for _, k := range keys {
		if len(k) != 4 {
			return nil, corrupt(string(seriesIDsName), k, errCorrupt)
		}
		id := binary.BigEndian.Uint32(k)
		own, err := ownID(sb, ib, id)
		if err != nil {
			return nil, corrupt(string(seriesIDsName), k, err)
		}
		if own != id {
			if err := ib.Delete(k); err != nil {
				return nil, err
			}
		}
	}
	return last, nil
}

// foldReplies moves the replies of folded pairs onto (ip, Other), within
// its bound of distinct replies; the rest go to its overflow counter.
func (s *Store) foldReplies(tx *bolt.Tx, after []byte, st *MigrationStats) ([]byte, error) {
	rb, ob := tx.Bucket(repliesName), tx.Bucket(overflowName)
	keys, vals, last := chunk(rb, after, migrationChunk)
	stored := map[string]int{} // pair key -> distinct replies stored
	for i, k := range keys {
		rk, err := decodeReplyKey(k)
		if err != nil {
			return nil, corrupt(string(repliesName), k, err)
		}
		if !s.domains.folded(rk.SourceIP, rk.RecipientDomain) {
			continue
		}
		r := Reply{SourceIP: rk.SourceIP, RecipientDomain: Other, Response: rk.Response}
		if err := decodeReplyValue(vals[i], &r); err != nil {
			return nil, corrupt(string(repliesName), k, err)
		}
		nk := replyKey(ReplyKey{SourceIP: rk.SourceIP, RecipientDomain: Other, Response: rk.Response})
		pair := pairKey(rk.SourceIP, Other)
		if v := rb.Get(nk); v != nil {
			var cur Reply
			if err := decodeReplyValue(v, &cur); err != nil {
				return nil, corrupt(string(repliesName), nk, err)
			}
			mergeReply(&cur, &r)
			err = rb.Put(nk, encodeReplyValue(&cur))
		} else {
			n, ok := stored[string(pair)]
			if !ok {
				n = countPrefix(rb, pair, s.opts.MaxRepliesPerKey)
			}
			if n < s.opts.MaxRepliesPerKey {
				err = rb.Put(nk, encodeReplyValue(&r))
				n++
			} else {
				err = addOverflow(ob, pair, &r)
			}
			stored[string(pair)] = n
		}
		if err != nil {
			return nil, err
		}
		if err := rb.Delete(k); err != nil {
			return nil, err
		}
		st.Replies++
	}
	return last, nil
}

// foldOverflow adds the overflow counters of folded pairs to (ip, Other)'s.
func (s *Store) foldOverflow(tx *bolt.Tx, after []byte, st *MigrationStats) ([]byte, error) {
	ob := tx.Bucket(overflowName)
	keys, vals, last := chunk(ob, after, migrationChunk)
	for i, k := range keys {
		ip, domain, err := decodePairKey(k)
		if err != nil {
			return nil, corrupt(string(overflowName), k, err)
		}
		if !s.domains.folded(ip, domain) {
			continue
		}
		n, lastSeen, err := decodeOverflow(vals[i])
		if err != nil {
			return nil, corrupt(string(overflowName), k, err)
		}
		if err := addOverflow(ob, pairKey(ip, Other), &Reply{Count: n, LastSeen: lastSeen}); err != nil {
			return nil, err
		}
		if err := ob.Delete(k); err != nil {
			return nil, err
		}
		st.Overflow++
	}
	return last, nil
}
