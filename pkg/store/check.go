package store

import (
	"encoding/binary"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
)

// maxProblems bounds the problems a check lists; the rest are counted.
const maxProblems = 20

// Report is what Check found in a state file.
type Report struct {
	Path     string
	Size     int64  // bytes
	PageSize int    // bytes
	Pages    uint64 // bbolt's high-water mark: pages in use or free
	TxID     uint64 // the last commit
	// Fallback is set when the newest meta page does not validate: bbolt
	// then opens the commit before it, which holds counts and positions
	// of that commit together, so nothing is counted twice.
	Fallback string
	// Previous is set, when the last commit is damaged, to the commit
	// before it if that one is whole: bbolt leaves its pages alone until
	// the next commit, so Repair copies it and loses only what the last
	// commit had read, which is read again.
	Previous uint64
	Records  map[string]int // records per bucket
	Problems []Problem
	More     int // problems found beyond those listed
}

// Check reads the state file at path and checks all of it: bbolt's meta
// pages, the file's size against the pages they say are in use, every page
// of the tree (headers, bounds, key order, each page in use once or free),
// the freelist, the format and schema, and every record (positions with
// opts.CheckPosition). It takes a shared lock, so it fails with ErrLocked
// while a ppwatch has the file open, and changes nothing. The error wraps
// ErrDamaged, ErrNotStore or ErrSchema and names the file; the Report says
// what was found either way. An empty file is a new store, and clean.
func Check(path string, opts Options) (*Report, error) {
	opts = opts.withDefaults()
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	defer f.Close()
	if err := lockShared(f, opts.Timeout); err != nil {
		return nil, fmt.Errorf("state file %s: %w (no lock within %s)", path, ErrLocked, opts.Timeout)
	}
	return check(f, path, opts)
}

// check is Check on a file the caller has locked.
func check(f *os.File, path string, opts Options) (*Report, error) {
	size, err := fileSize(f)
	if err != nil {
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	r := &Report{Path: path, Size: size, Records: map[string]int{}}
	if size == 0 {
		return r, nil
	}
	metas, bad, err := metaPages(f, size)
	if err != nil {
		return r, fmt.Errorf("state file %s: %w: %w; %s", path, ErrNotStore, err, notStoreWayOut)
	}
	meta := metas[0]
	r.PageSize, r.Pages, r.TxID = meta.pageSize, meta.pgid, meta.txid
	if bad != nil {
		r.Fallback = fmt.Sprintf("%v: the previous commit (transaction %d) is used", bad, meta.txid)
	}
	w, err := inspect(f, meta, size, opts, r.Records)
	if err != nil {
		return r, fmt.Errorf("state file %s: %w", path, err)
	}
	if len(w.problems) == 0 {
		return r, nil
	}
	if len(metas) > 1 {
		if pw, err := inspect(f, metas[1], size, opts, nil); err == nil && len(pw.problems) == 0 {
			r.Previous = metas[1].txid
		}
	}
	return r, r.damaged(w)
}

// inspect checks the commit that meta ends: the file's size, the freelist,
// every page of the tree and every record. It returns the walker with the
// problems found, and the meta records' error (not a store, or another
// schema), which record problems do not get past. With counts nil it only
// asks whether the commit is whole, and stops at its first problem.
func inspect(f io.ReaderAt, meta bboltMeta, size int64, opts Options, counts map[string]int) (*walker, error) {
	w := &walker{f: f, meta: meta, pageSize: meta.pageSize, hwm: meta.pgid, maxProblems: maxProblems, firstOnly: counts == nil}
	if counts == nil {
		counts = map[string]int{}
	}
	if msg := sizeProblem(meta, size); msg != "" {
		w.problem(Problem{Msg: msg})
		return w, nil
	}
	w.reached, w.freed = newBitset(meta.pgid), newBitset(meta.pgid)
	w.reached.set(0)
	w.reached.set(1)

	rc := &recordCheck{opts: opts, w: w, counts: counts}
	w.record, w.bucket = rc.record, rc.bucket
	w.readFreelist()
	if len(w.problems) == 0 {
		w.walkTree(meta.root, "", 0, nil, nil)
	}
	if len(w.problems) == 0 {
		w.unreached()
	}
	if len(w.problems) > 0 {
		return w, nil
	}
	if err := rc.meta.check(); err != nil {
		return w, err
	}
	rc.finish()
	return w, nil
}

// sizeProblem compares the file's size with its own high-water mark, from
// bbolt's meta page: a file cut short lost the pages past its end.
func sizeProblem(m bboltMeta, size int64) string {
	switch {
	case m.pgid < 4: // two meta pages, a freelist and a root at least
		return fmt.Sprintf("meta page %d: high-water mark of %d pages", m.slot, m.pgid)
	case m.root < 2 || m.root >= m.pgid:
		return fmt.Sprintf("meta page %d: root page %d outside the pages in use", m.slot, m.root)
	case m.freelist != noFreelist && (m.freelist < 2 || m.freelist >= m.pgid):
		return fmt.Sprintf("meta page %d: freelist page %d outside the pages in use", m.slot, m.freelist)
	}
	if need := int64(m.pgid) * int64(m.pageSize); size < need {
		return fmt.Sprintf("cut short: %d bytes, but its pages reach %d (%d pages of %d bytes): %d bytes are missing",
			size, need, m.pgid, m.pageSize, need-size)
	}
	return ""
}

func (r *Report) damaged(w *walker) error {
	r.Problems, r.More = w.problems, w.more
	return damagedError(r.Path, r.Problems, r.More)
}

// The ways out. Moving the file aside is always possible: the tailer
// starts every log at the start of its current file when it has no saved
// position, so a new state file counts those files once and knows nothing
// of rotated ones or of earlier totals.
const (
	repairWayOut   = `stop ppwatch and run "ppwatch state repair" on it, which copies every readable record into a new file and says what it could not save; or move it aside, and ppwatch starts a new state file: counts from zero, and each log read again from the start of its current file`
	notStoreWayOut = `if state_file names the wrong file, correct it; if this was ppwatch's state file, its header pages are gone: move it aside, and ppwatch starts a new state file (counts from zero, each log read again from the start of its current file)`
	runningWayOut  = `nothing more is committed to it and reading stops; stop ppwatch and run "ppwatch state check" on it`
)

func damagedError(path string, problems []Problem, more int) error {
	var b strings.Builder
	for i, p := range problems {
		if i == 3 {
			more += len(problems) - i
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.String())
	}
	if more > 0 {
		fmt.Fprintf(&b, " (and %d more)", more)
	}
	return fmt.Errorf("state file %s: %w: %s; %s", path, ErrDamaged, b.String(), repairWayOut)
}

// metaRecords are the meta bucket's fields, as found.
type metaRecords struct {
	found                   bool   // the meta bucket exists
	other                   string // another top-level bucket, for the message
	format, schema, created []byte
}

// check tells whether the file is a store of this schema; the same rules as
// init's, which applies them through bbolt.
func (m *metaRecords) check() error {
	if !m.found {
		if m.other != "" {
			return fmt.Errorf("%w: no meta bucket, found bucket %q", ErrNotStore, m.other)
		}
		return nil // no buckets at all: Open creates the layout
	}
	if string(m.format) != formatName {
		return fmt.Errorf("%w: format %q", ErrNotStore, m.format)
	}
	v, err := decodeUint64(m.schema)
	if err != nil {
		return fmt.Errorf("%w: unreadable schema version", ErrNotStore)
	}
	if v != schemaVersion {
		return fmt.Errorf("%w: file has version %d, this ppwatch reads version %d", ErrSchema, v, schemaVersion)
	}
	if _, err := decodeUint64(m.created); err != nil {
		return fmt.Errorf("%w: unreadable creation time", ErrNotStore)
	}
	return nil
}

// recordCheck decodes every record of the buckets it knows, as the store's
// methods will, so that a record they would fail on refuses the file at
// Open instead of stopping the daemon later. Buckets it does not know are
// checked for structure only. Problems wait until the schema is known: a
// newer schema's records are not this build's to judge.
type recordCheck struct {
	opts     Options
	w        *walker
	counts   map[string]int
	meta     metaRecords
	problems []Problem

	ids, seriesIDs, cellIDs bitset // series ids: in series_ids, in series values, in cells
	idSeq                   uint64
	maxID                   uint64
}

func (c *recordCheck) bucket(path string, _, seq uint64) {
	switch {
	case path == string(metaName):
		c.meta.found = true
	case path == string(seriesIDsName):
		c.idSeq = seq
	case !strings.Contains(path, "/") && c.meta.other == "":
		c.meta.other = path
	}
}

func (c *recordCheck) bad(bucket string, k []byte, err error) {
	if len(c.problems) < maxProblems {
		c.problems = append(c.problems, Problem{Bucket: bucket, Key: append([]byte(nil), k...), Msg: err.Error()})
	} else {
		c.w.more++
	}
}

func markID(b *bitset, id uint64) {
	if need := id + 1; uint64(len(*b))*64 < need {
		*b = b.grow(max(need, uint64(len(*b))*128))
	}
	b.set(id)
}

func (c *recordCheck) record(path string, k, v []byte) {
	c.counts[path]++
	if err := checkRecord(c.opts, path, k, v); err != nil {
		c.bad(path, k, err)
		return
	}
	switch path {
	case string(metaName):
		switch string(k) {
		case string(keyFormat):
			c.meta.format = append([]byte(nil), v...)
		case string(keySchema):
			c.meta.schema = append([]byte(nil), v...)
		case string(keyCreated):
			c.meta.created = append([]byte(nil), v...)
		}
	case string(seriesName):
		id, _, _ := decodeSeriesValue(v)
		markID(&c.seriesIDs, uint64(id))
	case string(seriesIDsName):
		id := uint64(binary.BigEndian.Uint32(k))
		markID(&c.ids, id)
		c.maxID = max(c.maxID, id)
	case string(bucketsName):
		markID(&c.cellIDs, uint64(binary.BigEndian.Uint32(k[8:])))
	}
}

// checkRecord decodes one record of a bucket the store knows, as its
// methods will decode it; records of other buckets pass.
func checkRecord(opts Options, bucket string, k, v []byte) error {
	if known, err := checkHistoryRecord(bucket, k, v); known {
		return err
	}
	switch bucket {
	case string(seriesName):
		if _, err := decodeSeries(k); err != nil {
			return fmt.Errorf("series: %w", err)
		}
		if _, _, err := decodeSeriesValue(v); err != nil {
			return fmt.Errorf("value: %w", err)
		}
	case string(seriesIDsName):
		if len(k) != 4 {
			return fmt.Errorf("id of %d bytes: %w", len(k), errCorrupt)
		}
		if _, err := decodeSeries(v); err != nil {
			return fmt.Errorf("series: %w", err)
		}
	case string(bucketsName):
		if len(k) != 12 {
			return fmt.Errorf("cell key of %d bytes: %w", len(k), errCorrupt)
		}
		if _, err := decodeUint64(v); err != nil {
			return fmt.Errorf("count: %w", err)
		}
	case string(repliesName):
		if _, err := decodeReplyKey(k); err != nil {
			return err
		}
		var r Reply
		if err := decodeReplyValue(v, &r); err != nil {
			return fmt.Errorf("value: %w", err)
		}
	case string(overflowName):
		if _, _, err := decodePairKey(k); err != nil {
			return err
		}
		if _, _, err := decodeOverflow(v); err != nil {
			return fmt.Errorf("value: %w", err)
		}
	case string(positionsName):
		if opts.CheckPosition != nil {
			if err := opts.CheckPosition(string(k), v); err != nil {
				return fmt.Errorf("position cannot be decoded: %w", err)
			}
		}
	case string(alertsName):
		// Opaque to the store; the alert runner judges (and drops) a state
		// it cannot read: alerts are evaluated again, nothing is counted.
	case string(mxName):
		if _, err := decodeMX(k, v); err != nil {
			return err
		}
	case string(checksName):
		// The values are opaque but for the time PruneChecks reads.
		if _, err := decodeCheckKey(k); err != nil {
			return err
		}
		if len(v) < 8 {
			return fmt.Errorf("value of %d bytes: %w", len(v), errCorrupt)
		}
	case string(checkChangesName):
		if _, _, err := checkChangeKey(k); err != nil {
			return err
		}
	}
	return nil
}

// finish adds the record problems, and those between buckets, once the
// file is known to be a store of this schema.
func (c *recordCheck) finish() {
	if !c.meta.found {
		return
	}
	for _, p := range c.problems {
		c.w.problem(p)
	}
	if c.maxID > c.idSeq {
		c.w.problem(Problem{Bucket: string(seriesIDsName), Msg: fmt.Sprintf("sequence %d is below id %d: a new series would take an id in use", c.idSeq, c.maxID)})
	}
	for _, b := range []struct {
		name string
		ids  bitset
	}{{string(seriesName), c.seriesIDs}, {string(bucketsName), c.cellIDs}} {
		for i := range uint64(len(b.ids)) * 64 {
			if b.ids.has(i) && (i >= uint64(len(c.ids))*64 || !c.ids.has(i)) {
				c.w.problem(Problem{Bucket: b.name, Msg: fmt.Sprintf("series id %d is not in series_ids", i)})
				break
			}
		}
	}
}

// Summary is a report in a few lines, for people.
func (r *Report) Summary() string {
	var b strings.Builder
	if r.PageSize == 0 {
		fmt.Fprintf(&b, "%s: %d bytes\n", r.Path, r.Size)
		return b.String()
	}
	fmt.Fprintf(&b, "file:     %d bytes; %d pages of %d bytes in use or free; last commit: transaction %d\n",
		r.Size, r.Pages, r.PageSize, r.TxID)
	if r.Fallback != "" {
		fmt.Fprintf(&b, "meta:     %s\n", r.Fallback)
	}
	if len(r.Records) > 0 {
		b.WriteString("records: ")
		for _, name := range slices.Sorted(maps.Keys(r.Records)) {
			fmt.Fprintf(&b, " %s %d", name, r.Records[name])
		}
		b.WriteString("\n")
	}
	for _, p := range r.Problems {
		fmt.Fprintf(&b, "problem:  %s\n", p)
	}
	if r.More > 0 {
		fmt.Fprintf(&b, "problem:  and %d more\n", r.More)
	}
	if r.Previous != 0 {
		fmt.Fprintf(&b, "previous: the commit before (transaction %d) is whole; repair copies it, and what the last commit read is read again\n", r.Previous)
	}
	return b.String()
}
