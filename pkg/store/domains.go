package store

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/ppwatch/ppwatch/pkg/event"
	bolt "go.etcd.io/bbolt"
)

// Other is the recipient domain that attempts and replies are kept under
// once their source IP, or the whole store, has reached its bound of
// domains kept by name. It is the word agg.Other uses for the domains
// outside the metrics' top N, so that a flood reads as one "other"
// everywhere. A recipient domain literally named "other" (no dot, so no
// domain of the public DNS) is counted with them.
const Other = event.OtherDomain

// Defaults of DomainLimits. A kept pair costs the daemon about 0.8 KiB of
// memory and the state file about 0.5 KiB (measured with make bench's
// flood): with these, a flood to 1,000,000 distinct domains leaves a 16 MiB
// file that loads in a tenth of a second, while a sender's real
// Proofpoint-protected domains (hundreds to a few thousand per IP) keep
// their names.
const (
	DefaultDomainsPerIP = 5000
	DefaultDomainsTotal = 20000
)

// DomainLimits bound the distinct recipient domains kept by name: the
// domains' series (totals, per-minute counts) and their replies. Attempts
// to a domain past the bound are counted under Other, and counted as
// folded. The bound holds across restarts because the store records every
// (source IP, recipient domain) pair it keeps; pairs are never evicted, so
// lowering the bound only stops new domains.
type DomainLimits struct {
	PerIP  int      // distinct domains per source IP ("" is one IP too)
	Total  int      // distinct (source IP, domain) pairs in all
	Always []string // kept whatever the bound; they count toward it
}

func (l DomainLimits) withDefaults() DomainLimits {
	if l.PerIP <= 0 {
		l.PerIP = DefaultDomainsPerIP
	}
	if l.Total <= 0 {
		l.Total = DefaultDomainsTotal
	}
	return l
}

var (
	domainsName = []byte("domains")
	foldedName  = []byte("domains_folded")
)

// domainIndex is the writer's copy of the domains bucket: a few bytes per
// kept pair, and the bound keeps the pairs few. Only the writer goroutine
// (Apply, Domain, SetDomainLimits) uses it; readers read the buckets.
type domainIndex struct {
	loaded bool
	limits DomainLimits
	always map[string]bool
	kept   map[string]struct{} // pair keys
	perIP  map[string]int
	total  int
	shown  atomic.Pointer[DomainLimits] // limits for readers
}

func (x *domainIndex) setLimits(l DomainLimits) {
	l = l.withDefaults()
	x.limits = l
	x.always = make(map[string]bool, len(l.Always))
	for _, d := range l.Always {
		x.always[d] = true
	}
	x.shown.Store(&l)
}

// fits reports whether a pair of domain can be let in while its IP holds
// ipCount pairs and the store total.
func (x *domainIndex) fits(domain string, ipCount, total int) bool {
	return x.always[domain] || ipCount < x.limits.PerIP && total < x.limits.Total
}

// subject reports whether domain is bounded at all: "" (attempts that
// carry no domain) and Other are not.
func subject(domain string) bool { return domain != "" && domain != Other }

// Domain returns the recipient domain that an attempt from sourceIP to
// domain is to be counted under in b: domain itself if the store keeps it or
// has room for it (it is then stored with b), else Other, and the fold is
// counted with b. Call it once per attempt, before adding the attempt and
// its reply to b under the name it returns. Decisions take the store's
// domains and b's own into account, not those of another uncommitted
// batch: fill one batch at a time, from the writer goroutine.
func (s *Store) Domain(b *Batch, sourceIP, domain string) string {
	if !subject(domain) {
		return domain
	}
	b.key = appendPairKey(b.key[:0], sourceIP, domain)
	if st, ok := b.pairs[string(b.key)]; ok {
		if st == pairFolded {
			b.folded[sourceIP]++
			return Other
		}
		return domain
	}
	x := &s.domains
	if err := s.loadDomains(); err != nil {
		// Apply meets the same error and fails, so nothing is stored
		// under this decision.
		return domain
	}
	if b.pairs == nil {
		b.pairs, b.newIP, b.folded = map[string]pairState{}, map[string]int{}, map[string]uint64{}
	}
	k := string(b.key)
	if _, ok := x.kept[k]; ok {
		b.pairs[k] = pairKept
		return domain
	}
	if x.fits(domain, x.perIP[sourceIP]+b.newIP[sourceIP], x.total+len(b.order)) {
		b.pairs[k] = pairKept
		b.order = append(b.order, pairRef{key: k, ip: sourceIP, domain: domain})
		b.newIP[sourceIP]++
		return domain
	}
	b.pairs[k] = pairFolded
	b.folded[sourceIP]++
	return Other
}

// SetDomainLimits sets the bound on recipient domains kept by name (zero
// fields take the defaults) and loads the store's domains. On a file from
// before the bound, the first call records the domains the file holds, each
// IP's in the order they were first seen, and folds those past the bound
// into Other: series totals, per-minute counts, replies and overflow
// counters, in transactions of a bounded size, resumed by the next call if
// interrupted. Counts stay exact. Later calls (a reload) apply to new
// domains only. Call it before Apply, from the writer goroutine; the
// returned figures are those of a migration this call ran.
func (s *Store) SetDomainLimits(l DomainLimits) (MigrationStats, error) {
	s.domains.setLimits(l)
	var st MigrationStats
	if err := s.loadDomainsStats(&st); err != nil {
		return st, fmt.Errorf("state file %s: %w", s.path, err)
	}
	return st, nil
}

// Limits returns the bound in force.
func (s *Store) Limits() DomainLimits {
	if l := s.domains.shown.Load(); l != nil {
		return *l
	}
	return DomainLimits{}.withDefaults()
}

func (s *Store) loadDomains() error {
	if s.domains.loaded {
		return nil
	}
	return s.loadDomainsStats(&MigrationStats{})
}

func (s *Store) loadDomainsStats(st *MigrationStats) error {
	x := &s.domains
	if x.loaded {
		return nil
	}
	if x.always == nil {
		x.setLimits(DomainLimits{})
	}
	kept := map[string]struct{}{}
	perIP := map[string]int{}
	built, migrating := false, false
	err := s.view(func(tx *bolt.Tx) error {
		db := tx.Bucket(domainsName)
		if db == nil {
			return nil
		}
		built, migrating = true, tx.Bucket(migrationName) != nil
		return db.ForEach(func(k, _ []byte) error {
			ip, _, err := decodePairKey(k)
			if err != nil {
				return corrupt(string(domainsName), k, err)
			}
			kept[string(k)] = struct{}{}
			perIP[ip]++
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("read domains: %w", err)
	}
	if !built {
		if migrating, err = s.buildDomains(kept, perIP); err != nil {
			return fmt.Errorf("record domains: %w", err)
		}
	}
	x.kept, x.perIP, x.total = kept, perIP, len(kept)
	if migrating {
		if err := s.migrate(st); err != nil {
			return fmt.Errorf("fold domains past the bound: %w", err)
		}
	}
	x.loaded = true
	return nil
}

// buildDomains records the domains of a file from before the bound, in
// series id order, which is the order they were first seen; it reports
// whether some are past the bound and must be folded.
func (s *Store) buildDomains(kept map[string]struct{}, perIP map[string]int) (fold bool, err error) {
	x := &s.domains
	err = s.update(func(tx *bolt.Tx) error {
		clear(kept)
		clear(perIP)
		fold = false
		db, err := tx.CreateBucket(domainsName)
		if err != nil {
			return err
		}
		if _, err := tx.CreateBucketIfNotExists(foldedName); err != nil {
			return err
		}
		c := tx.Bucket(seriesIDsName).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			series, err := decodeSeries(v)
			if err != nil {
				return corrupt(string(seriesIDsName), k, err)
			}
			if !subject(series.RecipientDomain) {
				continue
			}
			pk := pairKey(series.SourceIP, series.RecipientDomain)
			if _, ok := kept[string(pk)]; ok {
				continue
			}
			if !x.fits(series.RecipientDomain, perIP[series.SourceIP], len(kept)) {
				fold = true
				continue
			}
			kept[string(pk)] = struct{}{}
			perIP[series.SourceIP]++
			if err := db.Put(pk, []byte{}); err != nil {
				return err
			}
		}
		if fold {
			return startMigration(tx)
		}
		return nil
	})
	return fold, err
}

// admission is what one Apply adds to the domains: decided before its
// transaction, written in it, and taken into the index after its commit.
type admission struct {
	add    []pairRef
	newIP  map[string]int
	fold   map[string]bool   // pair keys that Apply itself puts under Other
	folded map[string]uint64 // source IP -> attempts put under Other
}

// admit decides the pairs of b: first those Domain let in, in its order;
// then any that did not go through Domain, by first minute, then by key.
func (s *Store) admit(b *Batch) *admission {
	x := &s.domains
	a := &admission{newIP: map[string]int{}, folded: map[string]uint64{}}
	decide := func(p pairRef) {
		if _, ok := x.kept[p.key]; ok {
			return
		}
		if x.fits(p.domain, x.perIP[p.ip]+a.newIP[p.ip], x.total+len(a.add)) {
			a.add = append(a.add, p)
			a.newIP[p.ip]++
			return
		}
		if a.fold == nil {
			a.fold = map[string]bool{}
		}
		a.fold[p.key] = true
	}
	for _, p := range b.order {
		decide(p)
	}

	type candidate struct {
		pairRef
		minute int64
	}
	var rest map[string]*candidate
	var buf []byte
	note := func(ip, domain string, minute int64) {
		if !subject(domain) {
			return
		}
		buf = appendPairKey(buf[:0], ip, domain)
		if st, ok := b.pairs[string(buf)]; ok {
			if st == pairFolded { // added under its name all the same
				if a.fold == nil {
					a.fold = map[string]bool{}
				}
				a.fold[string(buf)] = true
			}
			return
		}
		if _, ok := x.kept[string(buf)]; ok {
			return
		}
		if c := rest[string(buf)]; c != nil {
			c.minute = min(c.minute, minute)
			return
		}
		if rest == nil {
			rest = map[string]*candidate{}
		}
		k := string(buf)
		rest[k] = &candidate{pairRef{key: k, ip: ip, domain: domain}, minute}
	}
	for k, n := range b.Counts {
		if n > 0 {
			note(k.Series.SourceIP, k.Series.RecipientDomain, k.Minute)
		}
	}
	for k, r := range b.Replies {
		if r != nil && r.Count > 0 {
			note(k.SourceIP, k.RecipientDomain, MinuteOf(r.FirstSeen))
		}
	}
	if len(rest) > 0 {
		cs := make([]*candidate, 0, len(rest))
		for _, c := range rest {
			cs = append(cs, c)
		}
		slices.SortFunc(cs, func(p, q *candidate) int {
			return cmp.Or(cmp.Compare(p.minute, q.minute), strings.Compare(p.key, q.key))
		})
		for _, c := range cs {
			decide(c.pairRef)
		}
	}
	for ip, n := range b.folded {
		a.folded[ip] += n
	}
	return a
}

// folds reports whether Apply puts the pair under Other.
func (a *admission) folds(buf []byte, ip, domain string) ([]byte, bool) {
	if len(a.fold) == 0 || !subject(domain) {
		return buf, false
	}
	buf = appendPairKey(buf[:0], ip, domain)
	return buf, a.fold[string(buf)]
}

// apply returns b's counts and replies with the pairs Apply folds put
// under Other (b's own maps when it folds none: the usual case, as Domain
// folded them already), and counts those folds.
func (a *admission) apply(b *Batch) (map[BucketKey]uint64, map[ReplyKey]*Reply) {
	if len(a.fold) == 0 {
		return b.Counts, b.Replies
	}
	var buf []byte
	var f bool
	counts := make(map[BucketKey]uint64, len(b.Counts))
	for k, n := range b.Counts {
		if buf, f = a.folds(buf, k.Series.SourceIP, k.Series.RecipientDomain); f {
			a.folded[k.Series.SourceIP] += n
			k.Series.RecipientDomain = Other
		}
		counts[k] += n
	}
	replies := make(map[ReplyKey]*Reply, len(b.Replies))
	for k, r := range b.Replies {
		if r == nil || r.Count == 0 {
			continue
		}
		if buf, f = a.folds(buf, k.SourceIP, k.RecipientDomain); f {
			k.RecipientDomain = Other
		}
		d := *r // b is not modified
		d.RecipientDomain = k.RecipientDomain
		if cur := replies[k]; cur != nil {
			mergeReply(cur, &d)
		} else {
			replies[k] = &d
		}
	}
	return counts, replies
}

// store writes the pairs let in and the fold counters.
func (a *admission) store(tx *bolt.Tx) error {
	if len(a.add) == 0 && len(a.folded) == 0 {
		return nil
	}
	db, err := tx.CreateBucketIfNotExists(domainsName)
	if err != nil {
		return err
	}
	for _, p := range a.add {
		if err := db.Put([]byte(p.key), []byte{}); err != nil {
			return err
		}
	}
	for ip, n := range a.folded {
		if err := addFolded(tx, ip, n); err != nil {
			return err
		}
	}
	return nil
}

// commit takes a committed admission into the index.
func (x *domainIndex) commit(a *admission) {
	for _, p := range a.add {
		// Copies: the batch's strings may share memory with a log line.
		x.kept[strings.Clone(p.key)] = struct{}{}
		if _, ok := x.perIP[p.ip]; !ok {
			x.perIP[strings.Clone(p.ip)] = 0
		}
		x.perIP[p.ip]++
	}
	x.total += len(a.add)
}

func addFolded(tx *bolt.Tx, ip string, n uint64) error {
	if n == 0 {
		return nil
	}
	fb, err := tx.CreateBucketIfNotExists(foldedName)
	if err != nil {
		return err
	}
	k := replyPrefix(ip)
	var cur uint64
	if v := fb.Get(k); v != nil {
		if cur, err = decodeUint64(v); err != nil {
			return corrupt(string(foldedName), k, err)
		}
	}
	return fb.Put(k, encodeUint64(cur+n))
}

// DomainStats is what the store holds of one source IP's recipient domains.
type DomainStats struct {
	Stored int    // distinct recipient domains kept by name
	Folded uint64 // attempts counted under Other because a bound was reached
}

// DomainStats returns the figures of sourceIP ("" is the unknown IP).
func (s *Store) DomainStats(sourceIP string) (DomainStats, error) {
	var st DomainStats
	prefix := replyPrefix(sourceIP)
	err := s.view(func(tx *bolt.Tx) error {
		if db := tx.Bucket(domainsName); db != nil {
			c := db.Cursor()
			for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
				st.Stored++
			}
		}
		if fb := tx.Bucket(foldedName); fb != nil {
			if v := fb.Get(prefix); v != nil {
				n, err := decodeUint64(v)
				if err != nil {
					return corrupt(string(foldedName), prefix, err)
				}
				st.Folded = n
			}
		}
		return nil
	})
	if err != nil {
		return DomainStats{}, fmt.Errorf("read domains: %w", err)
	}
	return st, nil
}

// Folded returns, per source IP, the attempts counted under Other because
// a bound was reached (the IP's or the store's), since the store was
// created; like Totals, for counters that survive restarts.
func (s *Store) Folded() (map[string]uint64, error) {
	out := map[string]uint64{}
	err := s.view(func(tx *bolt.Tx) error {
		fb := tx.Bucket(foldedName)
		if fb == nil {
			return nil
		}
		return fb.ForEach(func(k, v []byte) error {
			ip, rest, err := readField(k)
			if err == nil && len(rest) != 0 {
				err = errCorrupt
			}
			var n uint64
			if err == nil {
				n, err = decodeUint64(v)
			}
			if err != nil {
				return corrupt(string(foldedName), k, err)
			}
			out[ip] = n
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read folded counts: %w", err)
	}
	return out, nil
}
