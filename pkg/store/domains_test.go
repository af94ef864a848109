package store

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"
)

var floodIPs = []string{"192.0.2.1", "198.51.100.7"}

// floodAttempt is one attempt of the synthetic flood: domain i gets 1 + i%3
// attempts, from floodIPs[i%2], delivered, deferred or bounced in turn, one
// every second. The non-delivered ones carry a reply of five texts.
type floodAttempt struct {
	t      time.Time
	series Series
	reply  *Reply
}

func floodDomain(i int) string { return fmt.Sprintf("d%05d.example", i) }

func flood(domains int) []floodAttempt {
	var out []floodAttempt
	sec := 0
	for i := range domains {
		ip := floodIPs[i%2]
		for j := range 1 + i%3 {
			s := Series{MTA: "postfix", SourceIP: ip, RecipientDomain: floodDomain(i), Status: "delivered", Class: "ok", Proofpoint: true}
			var r *Reply
			switch (i + j) % 3 {
			case 1:
				s.Status, s.Class, s.Outcome = "deferred", "rate_limit", "deferral"
				r = &Reply{SourceIP: ip, RecipientDomain: s.RecipientDomain, Response: fmt.Sprintf("421 4.7.0 try later (%d)", i%5),
					SMTPCode: 421, EnhancedCode: "4.7.0", Class: s.Class}
			case 2:
				s.Status, s.Class, s.Outcome = "bounced", "reputation", "block"
				r = &Reply{SourceIP: ip, RecipientDomain: s.RecipientDomain, Response: fmt.Sprintf("550 5.7.1 blocked (%d)", i%5),
					SMTPCode: 550, EnhancedCode: "5.7.1", Class: s.Class}
			}
			out = append(out, floodAttempt{t: t0.Add(time.Duration(sec) * time.Second), series: s, reply: r})
			sec++
		}
	}
	return out
}

// addVia adds the attempt to b under the name the store's bound gives it,
// as the daemon's writer does.
func (a floodAttempt) addVia(s *Store, b *Batch) {
	se := a.series
	se.RecipientDomain = s.Domain(b, se.SourceIP, se.RecipientDomain)
	if a.reply != nil {
		r := *a.reply
		r.RecipientDomain = se.RecipientDomain
		b.AddReply(a.t, r)
	}
	b.Add(a.t, se)
}

// applyFlood commits the attempts in batches of n, through Domain when
// via is set, else as the caller made them (Apply folds then).
func applyFlood(t *testing.T, s *Store, attempts []floodAttempt, n int, via bool) {
	t.Helper()
	b := NewBatch()
	for i, a := range attempts {
		if via {
			a.addVia(s, b)
		} else {
			if a.reply != nil {
				b.AddReply(a.t, *a.reply)
			}
			b.Add(a.t, a.series)
		}
		if (i+1)%n == 0 || i == len(attempts)-1 {
			mustApply(t, s, b)
			b.Reset()
		}
	}
}

// floodWant is what the store must hold after the attempts when kept says
// which (ip, domain) pairs keep their name: totals and cells with the
// others under Other, and the attempts folded per IP.
type floodWant struct {
	totals map[Series]uint64
	cells  map[BucketKey]uint64
	folded map[string]uint64
	ipSum  map[string]uint64 // attempts per IP
	ipRep  map[string]uint64 // reply occurrences per IP
}

func wantFlood(attempts []floodAttempt, kept func(ip, domain string) bool) floodWant {
	w := floodWant{totals: map[Series]uint64{}, cells: map[BucketKey]uint64{}, folded: map[string]uint64{},
		ipSum: map[string]uint64{}, ipRep: map[string]uint64{}}
	for _, a := range attempts {
		s := a.series
		if !kept(s.SourceIP, s.RecipientDomain) {
			s.RecipientDomain = Other
			w.folded[s.SourceIP]++
		}
		w.totals[s]++
		w.cells[BucketKey{Minute: MinuteOf(a.t), Series: s}]++
		w.ipSum[s.SourceIP]++
		if a.reply != nil {
			w.ipRep[s.SourceIP]++
		}
	}
	return w
}

// checkFlood compares the store with want, and checks that no reply of a
// folded pair is kept under its name, that (ip, Other) keeps at most the
// per-pair bound, and that no reply occurrence was lost.
func checkFlood(t *testing.T, s *Store, want floodWant, kept func(ip, domain string) bool) {
	t.Helper()
	st := readState(t, s)
	if diff := cmp.Diff(want.totals, st.Totals); diff != "" {
		t.Errorf("totals (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want.cells, st.Cells); diff != "" {
		t.Errorf("cells (-want +got):\n%s", diff)
	}
	ipSum := map[string]uint64{}
	for se, n := range st.Totals {
		ipSum[se.SourceIP] += n
	}
	if diff := cmp.Diff(want.ipSum, ipSum); diff != "" {
		t.Errorf("attempts per IP (-want +got):\n%s", diff)
	}
	folded, err := s.Folded()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want.folded, folded); diff != "" {
		t.Errorf("Folded (-want +got):\n%s", diff)
	}
	ipRep := map[string]uint64{}
	other := map[string]int{}
	for _, r := range st.Replies {
		ipRep[r.SourceIP] += r.Count
		if r.RecipientDomain == Other {
			other[r.SourceIP]++
		} else if !kept(r.SourceIP, r.RecipientDomain) {
			t.Errorf("reply of folded pair (%s, %s) kept under its name", r.SourceIP, r.RecipientDomain)
		}
	}
	for ip, n := range other {
		if n > s.opts.MaxRepliesPerKey {
			t.Errorf("%s: %d distinct replies under %s, bound %d", ip, n, Other, s.opts.MaxRepliesPerKey)
		}
	}
	for _, o := range st.Overflow {
		ipRep[o.SourceIP] += o.Count
	}
	if diff := cmp.Diff(want.ipRep, ipRep); diff != "" {
		t.Errorf("reply occurrences per IP, kept and overflow (-want +got):\n%s", diff)
	}
}

// firstPerIP keeps the first n domains of each IP, in the order floodIPs
// alternate: domain i is the (i/2)th of its IP.
func firstPerIP(n int) func(ip, domain string) bool {
	return func(_, domain string) bool {
		var i int
		fmt.Sscanf(domain, "d%05d.example", &i)
		return i/2 < n
	}
}

// storedNames returns the recipient domains of ip that have a series of
// their own, sorted.
func storedNames(t *testing.T, s *Store, ip string) []string {
	t.Helper()
	totals, err := s.Totals()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for se := range totals {
		if se.SourceIP == ip && se.RecipientDomain != Other {
			seen[se.RecipientDomain] = true
		}
	}
	out := make([]string, 0, len(seen))
	for d := range seen {
		out = append(out, d)
	}
	slices.Sort(out)
	return out
}

func firstNames(ip string, n int) []string {
	var out []string
	for i := 0; len(out) < n; i++ {
		if floodIPs[i%2] == ip {
			out = append(out, floodDomain(i))
		}
	}
	return out
}

// 40,000 distinct domains, 20,000 per IP, with a bound of 1,000 per IP:
// each IP's first 1,000 keep their name, every other attempt is counted
// under Other and as folded, and the bound holds after a reopen.
func TestDomainBoundPerIP(t *testing.T) {
	s := newTestStore(t)
	if _, err := s.SetDomainLimits(DomainLimits{PerIP: 1000}); err != nil {
		t.Fatal(err)
	}
	attempts := flood(40000)
	applyFlood(t, s, attempts, 700, true)

	kept := firstPerIP(1000)
	want := wantFlood(attempts, kept)
	checkFlood(t, s, want, kept)
	for _, ip := range floodIPs {
		if diff := cmp.Diff(firstNames(ip, 1000), storedNames(t, s, ip)); diff != "" {
			t.Errorf("%s: domains kept by name (-want +got):\n%s", ip, diff)
		}
		st, err := s.DomainStats(ip)
		if err != nil {
			t.Fatal(err)
		}
		if st != (DomainStats{Stored: 1000, Folded: want.folded[ip]}) {
			t.Errorf("DomainStats(%s) = %+v, want 1000 stored, %d folded", ip, st, want.folded[ip])
		}
	}

	// After a restart the store still knows its 2,000 domains: a new one
	// is folded, a kept one keeps its name.
	s = reopen(t, s)
	if _, err := s.SetDomainLimits(DomainLimits{PerIP: 1000}); err != nil {
		t.Fatal(err)
	}
	more := []floodAttempt{
		{t: t0.Add(time.Hour), series: Series{MTA: "postfix", SourceIP: floodIPs[0], RecipientDomain: "new.example", Status: "delivered", Class: "ok", Proofpoint: true}},
		{t: t0.Add(time.Hour), series: Series{MTA: "postfix", SourceIP: floodIPs[0], RecipientDomain: floodDomain(4), Status: "delivered", Class: "ok", Proofpoint: true}},
	}
	applyFlood(t, s, more, 10, true)
	all := append(slices.Clone(attempts), more...)
	want = wantFlood(all, func(ip, d string) bool { return d != "new.example" && kept(ip, d) })
	checkFlood(t, s, want, kept)
	if st, _ := s.DomainStats(floodIPs[0]); st.Stored != 1000 {
		t.Errorf("after reopen: %d domains stored for %s, want 1000", st.Stored, floodIPs[0])
	}
}

// The bound in total: the first 1,500 pairs of both IPs together.
func TestDomainBoundTotal(t *testing.T) {
	s := newTestStore(t)
	if _, err := s.SetDomainLimits(DomainLimits{PerIP: 1000, Total: 1500}); err != nil {
		t.Fatal(err)
	}
	attempts := flood(4000)
	applyFlood(t, s, attempts, 333, true)
	kept := func(_, d string) bool {
		var i int
		fmt.Sscanf(d, "d%05d.example", &i)
		return i < 1500
	}
	checkFlood(t, s, wantFlood(attempts, kept), kept)
	for _, ip := range floodIPs {
		if n := len(storedNames(t, s, ip)); n != 750 {
			t.Errorf("%s: %d domains kept, want 750", ip, n)
		}
	}
}

// Batches made without Domain (Apply decides): the same bound, pairs
// taken by first minute, then by key; and domains.always past the bound.
func TestDomainBoundInApply(t *testing.T) {
	s := newTestStore(t)
	always := floodDomain(30001)
	if _, err := s.SetDomainLimits(DomainLimits{PerIP: 1000, Always: []string{always}}); err != nil {
		t.Fatal(err)
	}
	attempts := flood(40000)
	applyFlood(t, s, attempts, 900, false)
	first := firstPerIP(1000)
	kept := func(ip, d string) bool { return d == always || first(ip, d) }
	want := wantFlood(attempts, kept)
	checkFlood(t, s, want, kept)
	ip := floodIPs[1]
	if diff := cmp.Diff(append(firstNames(ip, 1000), always), storedNames(t, s, ip)); diff != "" {
		t.Errorf("%s: domains kept by name (-want +got):\n%s", ip, diff)
	}
	// Apply leaves a failed batch as it was, to be applied again.
	b := NewBatch()
	b.Add(t0, Series{SourceIP: ip, RecipientDomain: "late.example", Proofpoint: true})
	b.AddReply(t0, Reply{SourceIP: ip, RecipientDomain: "late.example", Response: "421 later"})
	mustApply(t, s, b)
	if _, ok := b.Counts[BucketKey{Minute: MinuteOf(t0), Series: Series{SourceIP: ip, RecipientDomain: "late.example", Proofpoint: true}}]; !ok || len(b.Counts) != 1 {
		t.Errorf("Apply changed the batch: %v", b.Counts)
	}
	if r := b.Replies[ReplyKey{SourceIP: ip, RecipientDomain: "late.example", Response: "421 later"}]; r == nil || r.RecipientDomain != "late.example" {
		t.Errorf("Apply changed the batch's reply: %+v", r)
	}
	if st, _ := s.DomainStats(ip); st.Stored != 1001 || st.Folded != want.folded[ip]+1 {
		t.Errorf("DomainStats(%s) = %+v, want 1001 stored, %d folded", ip, st, want.folded[ip]+1)
	}
}

// forgetDomains makes s a file from before the bound: it has series,
// cells and replies of every domain, and no record of them.
func forgetDomains(t *testing.T, s *Store) {
	t.Helper()
	err := s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket(domainsName); err != nil {
			return err
		}
		return tx.DeleteBucket(foldedName)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A file from before the bound, with 20,000 domains: the first open with a
// bound folds the domains past it, in small steps that survive being cut
// off, and every count stays exact.
func TestDomainMigration(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ppwatch.db")
	opts := Options{MaxRepliesPerKey: 3}
	s := openTestStore(t, path, opts)
	if _, err := s.SetDomainLimits(DomainLimits{PerIP: 1 << 20, Total: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	attempts := flood(20000)
	// In name order, a batch at a time: ids follow, so first seen is by name.
	applyFlood(t, s, attempts, 500, true)
	// A pair past the per-pair bound, so that overflow counters move too.
	b := NewBatch()
	for i := range 6 {
		b.AddReply(t0, Reply{SourceIP: floodIPs[1], RecipientDomain: floodDomain(19999), Response: fmt.Sprintf("421 extra %d", i)})
	}
	mustApply(t, s, b)
	forgetDomains(t, s)

	defer func(n int) { migrationChunk = n }(migrationChunk)
	migrationChunk = 997
	s = reopen(t, s)
	// Cut off: record the domains and take two steps, then "crash".
	s.domains.setLimits(DomainLimits{PerIP: 1000})
	kept, perIP := map[string]struct{}{}, map[string]int{}
	if fold, err := s.buildDomains(kept, perIP); err != nil || !fold {
		t.Fatalf("buildDomains = %v, %v; want a migration", fold, err)
	}
	s.domains.kept = kept
	for range 2 {
		if done, err := s.migrateStep(&MigrationStats{}); err != nil || done {
			t.Fatalf("migrateStep = %v, %v", done, err)
		}
	}
	s = reopen(t, s)
	st, err := s.SetDomainLimits(DomainLimits{PerIP: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if st.Series == 0 || st.Cells == 0 || st.Replies == 0 || st.Overflow != 1 {
		t.Errorf("migration after the cut: %+v", st)
	}

	keep := firstPerIP(1000)
	want := wantFlood(attempts, keep)
	want.ipRep[floodIPs[1]] += 6
	checkFlood(t, s, want, keep)
	for _, ip := range floodIPs {
		if diff := cmp.Diff(firstNames(ip, 1000), storedNames(t, s, ip)); diff != "" {
			t.Errorf("%s: domains kept by name (-want +got):\n%s", ip, diff)
		}
	}
	// No id is left that names a folded series, and the migration is done.
	err = s.db.View(func(tx *bolt.Tx) error {
		if n, m := tx.Bucket(seriesIDsName).Stats().KeyN, tx.Bucket(seriesName).Stats().KeyN; n != m {
			t.Errorf("%d series ids for %d series", n, m)
		}
		if tx.Bucket(migrationName) != nil {
			t.Error("migration bucket left")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// New attempts after the migration: the bound holds.
	s = reopen(t, s)
	if _, err := s.SetDomainLimits(DomainLimits{PerIP: 1000}); err != nil {
		t.Fatal(err)
	}
	more := []floodAttempt{{t: t0.Add(2 * time.Hour), series: Series{MTA: "postfix", SourceIP: floodIPs[0], RecipientDomain: floodDomain(19998), Status: "delivered", Class: "ok", Proofpoint: true}}}
	applyFlood(t, s, more, 1, true)
	want = wantFlood(append(slices.Clone(attempts), more...), keep)
	want.ipRep[floodIPs[1]] += 6
	checkFlood(t, s, want, keep)
}

// IPBuckets gives exactly the cells of Buckets that belong to one IP.
func TestIPBuckets(t *testing.T) {
	s := newTestStore(t)
	if _, err := s.SetDomainLimits(DomainLimits{PerIP: 100}); err != nil {
		t.Fatal(err)
	}
	attempts := flood(3000)
	attempts = append(attempts, floodAttempt{t: t0, series: Series{MTA: "exim", Status: "delivered", Class: "ok"}})
	applyFlood(t, s, attempts, 400, true)
	from, to := t0.Add(-time.Hour), t0.Add(48*time.Hour)
	for _, ip := range append(slices.Clone(floodIPs), "", "203.0.113.1") {
		want := map[BucketKey]uint64{}
		if err := s.Buckets(from, to, func(m int64, se Series, n uint64) {
			if se.SourceIP == ip {
				want[BucketKey{Minute: m, Series: se}] += n
			}
		}); err != nil {
			t.Fatal(err)
		}
		got := map[BucketKey]uint64{}
		if err := s.IPBuckets(from, to, ip, func(m int64, se Series, n uint64) { got[BucketKey{Minute: m, Series: se}] += n }); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("IPBuckets(%q) (-want +got):\n%s", ip, diff)
		}
		if ip != "203.0.113.1" && len(got) == 0 {
			t.Errorf("IPBuckets(%q): no cells", ip)
		}
	}
}
