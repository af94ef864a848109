package store

import (
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Every transaction goes through view or update. Open checked the whole
// file, so what these catch is damage done to it since: a disk that
// returns other bytes, the file cut or written to by something else. bbolt
// meets such a page with a panic (a failed assertion) or, for a page
// outside the mapped file, a fault; a Go panic would exit 2, which the
// systemd unit does not restart, and a fault would not even be a panic.
// Instead the store turns either into ErrDamaged, and from then on refuses
// every call without touching bbolt: a panic may have left bbolt's writer
// lock taken, and what else it left is not known.

// damage is the first damage met; the store stays damaged.
type damage struct{ err error }

// Damaged returns the damage met at run time (an error wrapping
// ErrDamaged), or nil while the store is sound.
func (s *Store) Damaged() error {
	if d := s.broken.Load(); d != nil {
		return d.err
	}
	return nil
}

// markDamaged records err as the store's damage, unless damage was met
// already, and returns the store's damage.
func (s *Store) markDamaged(err error) error {
	if s.broken.CompareAndSwap(nil, &damage{err}) {
		if s.opts.OnDamage != nil {
			s.opts.OnDamage(err)
		}
	}
	return s.broken.Load().err
}

func (s *Store) runtimeDamage(format string, args ...any) error {
	return fmt.Errorf("state file %s: %w: %s; %s", s.path, ErrDamaged, fmt.Sprintf(format, args...), runningWayOut)
}

// classify turns a record that does not decode into damage.
func (s *Store) classify(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrDamaged):
		return s.markDamaged(err)
	case errors.Is(err, errCorrupt):
		return s.markDamaged(s.runtimeDamage("%v", err))
	}
	return err
}

// callerPanic carries a panic of the caller's function, which is not
// damage and goes on up as it was.
type callerPanic struct{ v any }

// callerFn runs a function of the caller inside a transaction.
func callerFn[T any](fn func(T), v T) {
	defer func() {
		if r := recover(); r != nil {
			panic(callerPanic{r})
		}
	}()
	fn(v)
}

// recoverDamage is deferred by view and update.
func (s *Store) recoverDamage(err *error) {
	r := recover()
	if r == nil {
		return
	}
	if cp, ok := r.(callerPanic); ok {
		panic(cp.v)
	}
	*err = s.markDamaged(s.runtimeDamage("reading it failed: %v", r))
}

// view runs fn in a read transaction. The transaction must be at least
// the last commit: bbolt falls back to the older meta page when the newer
// one does not validate, which at run time means reading a past state.
func (s *Store) view(fn func(tx *bolt.Tx) error) (err error) {
	if err := s.Damaged(); err != nil {
		return err
	}
	last := s.lastTx.Load() // before Begin: a commit meanwhile only raises tx.ID
	defer s.recoverDamage(&err)
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	err = s.db.View(func(tx *bolt.Tx) error {
		if id := uint64(tx.ID()); id < last {
			return s.runtimeDamage("meta page of transaction %d lost: bbolt read transaction %d", last, id)
		}
		return fn(tx)
	})
	return s.classify(err)
}

// update runs fn in the write transaction. s.wmu keeps a second writer
// (SaveAlerts beside the ingest writer) from waiting on a bbolt lock that a
// recovered panic left taken: it finds the store damaged instead.
func (s *Store) update(fn func(tx *bolt.Tx) error) (err error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.Damaged(); err != nil {
		return err
	}
	last := s.lastTx.Load()
	if err := s.checkWritePages(last); err != nil {
		return s.markDamaged(err)
	}
	defer s.recoverDamage(&err)
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	var id uint64
	err = s.db.Update(func(tx *bolt.Tx) error {
		if id = uint64(tx.ID()); id != last+1 {
			return s.runtimeDamage("meta page of transaction %d lost: bbolt would write transaction %d over a past state", last, id)
		}
		return fn(tx)
	})
	if err == nil {
		s.lastTx.Store(id)
	}
	return s.classify(err)
}

// checkWritePages reads the meta pages and the freelist from the file
// before a write transaction. A commit frees the old freelist page by what
// its header says, unchecked, and a failed one reloads the freelist from
// it: garbage there made bbolt free billions of pages (all memory) or hand
// out pages past the file. A few reads per commit, beside its two fsyncs.
func (s *Store) checkWritePages(last uint64) error {
	size, err := fileSize(s.file)
	if err != nil {
		return nil // not a sign of damage; bbolt meets what there is
	}
	meta, _, err := readMetas(s.file, size)
	switch {
	case err != nil:
		return s.runtimeDamage("both meta pages lost: %v", err)
	case meta.txid != last:
		return s.runtimeDamage("meta page of transaction %d lost: bbolt would write transaction %d over a past state", last, meta.txid+1)
	}
	if msg := sizeProblem(meta, size); msg != "" {
		return s.runtimeDamage("%s", msg)
	}
	w := &walker{f: s.file, meta: meta, pageSize: meta.pageSize, hwm: meta.pgid, maxProblems: 1,
		reached: newBitset(meta.pgid), freed: newBitset(meta.pgid)}
	w.readFreelist()
	if len(w.problems) > 0 {
		return s.runtimeDamage("%s", w.problems[0])
	}
	return nil
}

// closeDamaged closes a damaged store's bbolt handle without waiting
// forever: db.Close takes the writer lock, which a recovered panic may have
// left taken.
func (s *Store) closeDamaged() error {
	done := make(chan error, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- fmt.Errorf("state file %s: close: %v", s.path, r)
			}
		}()
		done <- s.db.Close()
	}()
	s.file.Close()
	select {
	case err := <-done:
		return err
	case <-time.After(s.opts.Timeout):
		return fmt.Errorf("state file %s: not closed within %s: bbolt is stuck on the damage; its lock goes when this process exits", s.path, s.opts.Timeout)
	}
}
