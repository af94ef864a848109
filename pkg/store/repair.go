package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// RepairReport is what Repair saved and what it could not.
type RepairReport struct {
	From, To string
	TxID     uint64 // the commit read
	Fallback string // set when the newest meta page was damaged (see Report)
	Saved    map[string]int
	Dropped  map[string]int // records read but not saved: they do not decode
	Unread   map[string]int // pages of a bucket ("" for the bucket list) that could not be read
	Problems []Problem      // unreadable pages and dropped records, the first ones
	More     int
	Losses   []string // what was lost means this, for the operator
}

// repairTxPuts bounds the records written per transaction of the new
// file, so that a big file does not build one huge commit in memory.
const repairTxPuts = 20000

// Repair copies every readable record of the state file from into a new
// state file to, which must not exist, and reports what it could not save.
// It reads from as Check does, page by page, skipping pages that cannot be
// used, and keeps each record only if it decodes (positions with
// opts.CheckPosition). Series ids are rebuilt from the series, so that a
// cell is kept only with its series' total. from is only read; it is locked
// shared, so Repair fails with ErrLocked while a ppwatch uses it.
func Repair(from, to string, opts Options) (*RepairReport, error) {
	opts = opts.withDefaults()
	if _, err := os.Lstat(to); err == nil {
		return nil, fmt.Errorf("state file %s: exists; repair writes a new file and never replaces one", to)
	}
	f, err := os.Open(from)
	if err != nil {
		return nil, fmt.Errorf("state file %s: %w", from, err)
	}
	defer f.Close()
	if err := lockShared(f, opts.Timeout); err != nil {
		return nil, fmt.Errorf("state file %s: %w (no lock within %s): stop it first", from, ErrLocked, opts.Timeout)
	}
	size, err := fileSize(f)
	if err != nil {
		return nil, fmt.Errorf("state file %s: %w", from, err)
	}
	metas, bad, err := metaPages(f, size)
	if err != nil {
		return nil, fmt.Errorf("state file %s: %w: %w: without a meta page there is nothing to read the records from", from, ErrNotStore, err)
	}
	meta := metas[0]
	rep := &RepairReport{From: from, To: to, TxID: meta.txid, Saved: map[string]int{}, Dropped: map[string]int{}, Unread: map[string]int{}}
	if bad != nil {
		rep.Fallback = fmt.Sprintf("%v: the previous commit (transaction %d) is used", bad, meta.txid)
	}
	// When the last commit is damaged and the one before it is whole, that
	// one is copied: its counts and positions belong together, so what
	// the last commit read is read again and counted once, and nothing is
	// lost. Otherwise the last commit is saved from as far as it reads.
	if w, err := inspect(f, meta, size, opts, nil); err == nil && len(w.problems) > 0 && len(metas) > 1 {
		if pw, err := inspect(f, metas[1], size, opts, nil); err == nil && len(pw.problems) == 0 {
			rep.Fallback = fmt.Sprintf("the last commit (transaction %d) is damaged (%s); the one before it (transaction %d) is whole and was copied: what the last commit read is read again, once",
				meta.txid, w.problems[0], metas[1].txid)
			meta = metas[1]
			rep.TxID = meta.txid
		}
	}

	// First the meta bucket and the series: a cell is kept only if its
	// series is, and the ids bucket is rebuilt from the series.
	scan := func(meta bboltMeta) (*salvage, *walker) {
		sv := &salvage{opts: opts, rep: rep}
		w := sv.walker(f, meta)
		w.record, w.bucket = sv.scan, sv.bucketSeen
		w.skip = func(path string) bool { return path != string(metaName) && path != string(seriesName) }
		w.walkTree(meta.root, "", 0, nil, nil)
		return sv, w
	}
	found := func(sv *salvage) bool {
		return sv.meta.found || slices.ContainsFunc(dataBuckets, func(n []byte) bool { return sv.buckets[string(n)] })
	}
	sv, first := scan(meta)
	if !found(sv) && len(metas) > 1 && meta == metas[0] {
		// The last commit's bucket list is lost (a file cut short loses
		// the newest pages first); the commit before has its own.
		if psv, pw := scan(metas[1]); found(psv) {
			rep.Fallback = fmt.Sprintf("the last commit (transaction %d) lost its bucket list (%s); the commit before it (transaction %d) was saved from",
				meta.txid, first.problems[0], metas[1].txid)
			sv, first, meta = psv, pw, metas[1]
			rep.TxID = meta.txid
		}
	}
	// A newer schema's records are not this build's to judge; damaged meta
	// records are, the records being checked one by one.
	if err := sv.meta.check(); sv.meta.found && (errors.Is(err, ErrSchema) || sv.meta.format != nil && string(sv.meta.format) != formatName) {
		return nil, fmt.Errorf("state file %s: %w", from, err)
	}
	if !found(sv) {
		why := "it has none"
		if len(first.problems) > 0 {
			why = first.problems[0].String()
		}
		return nil, fmt.Errorf("state file %s: %w: none of its buckets could be read (%s): there is nothing to save; move it aside", from, ErrNotStore, why)
	}

	dst, err := Open(to, Options{Timeout: opts.Timeout})
	if err != nil {
		return nil, err
	}
	sv.dst = dst
	if sv.tx, err = dst.db.Begin(true); err != nil {
		dst.Close()
		return nil, fmt.Errorf("state file %s: %w", to, err)
	}
	second := sv.walker(f, meta)
	second.record = sv.copy
	second.perBucket = rep.Unread
	second.walkTree(meta.root, "", 0, nil, nil)
	// Pages not read first: they say where the damage is; dropped records
	// follow from it.
	rep.Problems = append(second.problems, sv.dropped...)
	if extra := len(rep.Problems) - maxProblems; extra > 0 {
		rep.Problems = rep.Problems[:maxProblems]
		rep.More += extra
	}
	rep.More += second.more
	if sv.err == nil {
		sv.err = sv.finishTx()
	}
	if err := dst.Close(); sv.err == nil {
		sv.err = err
	}
	if sv.err != nil {
		os.Remove(to)
		return nil, fmt.Errorf("state file %s: writing it: %w", to, sv.err)
	}
	sameOwner(from, to)
	rep.Losses = sv.losses()
	if _, err := Check(to, opts); err != nil {
		return rep, fmt.Errorf("the repaired file does not check: %w", err)
	}
	return rep, nil
}

// salvage is the state of one Repair.
type salvage struct {
	opts Options
	rep  *RepairReport

	meta    metaRecords
	buckets map[string]bool // top-level buckets found
	series  bitset          // ids of the series kept
	idSeq   uint64
	maxID   uint64
	dropped []Problem // examples, droppedShown per bucket

	dst  *Store
	tx   *bolt.Tx
	puts int
	err  error
}

func (sv *salvage) walker(f *os.File, meta bboltMeta) *walker {
	// No freelist: a page it names wrongly changes nothing that can be
	// saved, and the new file gets its own.
	return &walker{f: f, meta: meta, pageSize: meta.pageSize, hwm: meta.pgid, maxProblems: maxProblems,
		reached: newBitset(meta.pgid), freed: newBitset(meta.pgid)}
}

func (sv *salvage) bucketSeen(path string, _, seq uint64) {
	if sv.buckets == nil {
		sv.buckets = map[string]bool{}
	}
	if !strings.Contains(path, "/") {
		sv.buckets[path] = true
	}
	switch path {
	case string(metaName):
		sv.meta.found = true
	case string(seriesIDsName):
		sv.idSeq = seq
	}
}

// scan is the first walk's record function.
func (sv *salvage) scan(path string, k, v []byte) {
	switch path {
	case string(metaName):
		switch string(k) {
		case string(keyFormat):
			sv.meta.format = bytes.Clone(v)
		case string(keySchema):
			sv.meta.schema = bytes.Clone(v)
		case string(keyCreated):
			sv.meta.created = bytes.Clone(v)
		}
	case string(seriesName):
		if checkRecord(sv.opts, path, k, v) == nil {
			id, _, _ := decodeSeriesValue(v)
			markID(&sv.series, uint64(id))
			sv.maxID = max(sv.maxID, uint64(id))
		}
	}
}

// droppedShown is how many dropped records of a bucket the report lists.
const droppedShown = 3

func (sv *salvage) drop(p Problem) {
	if sv.rep.Dropped[p.Bucket]++; sv.rep.Dropped[p.Bucket] <= droppedShown {
		p.Key = bytes.Clone(p.Key)
		sv.dropped = append(sv.dropped, p)
	} else {
		sv.rep.More++
	}
}

func topBucket(path string) string {
	name, _, _ := strings.Cut(path, "/")
	return name
}

// copy is the second walk's record function: it writes what is kept.
func (sv *salvage) copy(path string, k, v []byte) {
	if sv.err != nil {
		return
	}
	drop := func(err error) {
		sv.drop(Problem{Bucket: path, Key: k, Msg: "not saved: " + err.Error()})
	}
	switch path {
	case string(metaName):
		// The new file has its own format and schema; it keeps the
		// creation time, from which the totals count.
		if string(k) == string(keyCreated) {
			if _, err := decodeUint64(v); err != nil {
				drop(err)
				return
			}
			sv.put(path, k, v)
		}
		return
	case string(seriesIDsName):
		// Rebuilt from the series; an id whose series was lost goes with
		// the series' total.
		if len(k) == 4 {
			if id := uint64(binary.BigEndian.Uint32(k)); id >= uint64(len(sv.series))*64 || !sv.series.has(id) {
				drop(fmt.Errorf("its series (and total) could not be read"))
			}
		}
		return
	}
	if err := checkRecord(sv.opts, path, k, v); err != nil {
		drop(err)
		return
	}
	switch path {
	case string(seriesName):
		id, _, _ := decodeSeriesValue(v)
		sv.put(string(seriesIDsName), idKey(id), k)
	case string(bucketsName):
		if id := uint64(binary.BigEndian.Uint32(k[8:])); id >= uint64(len(sv.series))*64 || !sv.series.has(id) {
			drop(fmt.Errorf("a cell of series id %d, whose series (and total) could not be read", id))
			return
		}
	}
	sv.put(path, k, v)
}

// put writes one record into the bucket at path of the new file, making
// the bucket (and its parents) when it is new: buckets this build does not
// know are copied as they are.
func (sv *salvage) put(path string, k, v []byte) {
	names := strings.Split(path, "/")
	b := sv.tx.Bucket([]byte(names[0]))
	var err error
	if b == nil {
		b, err = sv.tx.CreateBucket([]byte(names[0]))
	}
	for _, n := range names[1:] {
		if err == nil {
			b, err = b.CreateBucketIfNotExists([]byte(n))
		}
	}
	if err == nil {
		b.FillPercent = 0.9 // keys come in order
		// bbolt keeps k and v until the commit; the walk reuses its pages.
		err = b.Put(bytes.Clone(k), bytes.Clone(v))
	}
	if err != nil {
		sv.err = fmt.Errorf("bucket %s: %w", path, err)
		return
	}
	sv.rep.Saved[path]++
	if sv.puts++; sv.puts%repairTxPuts == 0 {
		if sv.err = sv.tx.Commit(); sv.err == nil {
			sv.tx, sv.err = sv.dst.db.Begin(true)
		}
	}
}

// finishTx sets the series id sequence and commits the last transaction.
func (sv *salvage) finishTx() error {
	if err := sv.tx.Bucket(seriesIDsName).SetSequence(max(sv.idSeq, sv.maxID)); err != nil {
		sv.tx.Rollback()
		return err
	}
	return sv.tx.Commit()
}

// losses says what the pages not read and the records not saved mean.
func (sv *salvage) losses() []string {
	rep := sv.rep
	lost := func(b string) bool {
		return rep.Unread[b] > 0 || rep.Dropped[b] > 0 || !sv.buckets[b]
	}
	var out []string
	if rep.Unread[""] > 0 {
		out = append(out, "the bucket list: a page of it could not be read, so whole buckets may be missing (below)")
	}
	if !sv.meta.found || sv.meta.created == nil || rep.Dropped[string(metaName)] > 0 {
		out = append(out, "the creation time: lost; the new file counts its totals from now")
	}
	if lost(string(positionsName)) {
		out = append(out, "positions: some could not be read or decoded; an input whose position was lost is read again from the start of its current file, and what was counted from that file is counted again")
	}
	if lost(string(seriesName)) || rep.Dropped[string(seriesIDsName)] > 0 {
		out = append(out, "totals: some series could not be read; their counters start again from zero (Prometheus sees a reset), and their cells are dropped with them")
	}
	if lost(string(bucketsName)) {
		out = append(out, "per-minute counts: some could not be read; windows, ratios and alerts over those minutes count less until the minutes pass")
	}
	if lost(string(repliesName)) || rep.Unread[string(overflowName)]+rep.Dropped[string(overflowName)] > 0 {
		out = append(out, "replies: some could not be read; the IP pages and the API miss them until they are seen again")
	}
	if rep.Unread[string(alertsName)]+rep.Dropped[string(alertsName)] > 0 {
		out = append(out, "alert state: some could not be read; those alerts start again (pending, and a firing one may notify again)")
	}
	if rep.Unread[string(mxName)]+rep.Dropped[string(mxName)] > 0 {
		out = append(out, "MX verdicts: some could not be read; those recipient domains are looked up again")
	}
	if rep.Unread[string(checksName)]+rep.Dropped[string(checksName)]+rep.Unread[string(checkChangesName)]+rep.Dropped[string(checkChangesName)] > 0 {
		out = append(out, "sender checks: some results or changes could not be read; the history of those checks misses them (the checks themselves run again)")
	}
	out = append(out, historyLosses(rep)...)
	for _, b := range slices.Sorted(maps.Keys(rep.Unread)) {
		if b != "" && !slices.ContainsFunc(dataBuckets, func(n []byte) bool { return string(n) == b }) &&
			b != string(alertsName) && b != string(mxName) && b != string(checksName) && b != string(checkChangesName) && b != string(metaName) && !historyBucket(b) {
			out = append(out, fmt.Sprintf("bucket %s: some pages could not be read", b))
		}
	}
	return out
}

// sameOwner gives the new file the old one's mode and, when allowed, owner:
// repair runs as root, the daemon as its own user.
func sameOwner(from, to string) {
	fi, err := os.Stat(from)
	if err != nil {
		return
	}
	_ = os.Chmod(to, fi.Mode().Perm())
	chownLike(to, fi)
}

// Summary is a report in a few lines, for people.
func (r *RepairReport) Summary() string {
	var b strings.Builder
	if r.Fallback != "" {
		fmt.Fprintf(&b, "meta:     %s\n", r.Fallback)
	}
	line := func(title string, m map[string]int) {
		if len(m) == 0 {
			return
		}
		b.WriteString(title)
		for _, name := range slices.Sorted(maps.Keys(m)) {
			label := name
			if label == "" {
				label = "(bucket list)"
			}
			fmt.Fprintf(&b, " %s %d", label, m[name])
		}
		b.WriteString("\n")
	}
	line("saved:   ", r.Saved)
	line("dropped: ", r.Dropped)
	line("pages not read:", r.Unread)
	for _, p := range r.Problems {
		fmt.Fprintf(&b, "problem:  %s\n", p)
	}
	if r.More > 0 {
		fmt.Fprintf(&b, "problem:  and %d more\n", r.More)
	}
	if len(r.Losses) == 0 {
		b.WriteString("lost:     nothing\n")
	}
	for _, l := range r.Losses {
		fmt.Fprintf(&b, "lost:     %s\n", l)
	}
	return b.String()
}
