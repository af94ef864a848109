package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"

	berrors "go.etcd.io/bbolt/errors"
)

// The store checks its file with plain reads of bbolt's on-disk format
// (version 2, go.etcd.io/bbolt/internal/common) instead of tx.Check. bbolt
// maps the file and trusts every page it reads: a page that does not say
// what it should fails an assertion (a panic), an element that points past
// its page reads outside the mapping (a fault), and tx.Check does its work
// in a goroutine of its own, where neither can be recovered. A read here
// is bounds-checked and turns into a Problem instead.
const (
	bboltMagic   = 0xED0CDAED
	bboltVersion = 2

	pageHeaderSize   = 16 // id u64, flags u16, count u16, overflow u32
	elementSize      = 16 // branch: pos, ksize u32, pgid u64; leaf: flags, pos, ksize, vsize u32
	metaChecksummed  = 56 // the meta fields before the checksum
	bucketHeaderSize = 16 // root pgid u64, sequence u64

	flagBranch    = 0x01
	flagLeaf      = 0x02
	flagMeta      = 0x04
	flagFreelist  = 0x10
	leafBucket    = 0x01
	noFreelist    = ^uint64(0)
	maxTreeDepth  = 64 // bbolt trees of any real size are a handful of levels deep
	minPageSize   = 512
	maxPageSize   = 1 << 24
	freelistLarge = 0xFFFF // count field saying that the count is the first id slot
)

// bboltMeta is what a meta page says about the commit it ends.
type bboltMeta struct {
	slot     int // 0 or 1: the meta page it was read from
	pageSize int
	root     uint64 // the root bucket's page
	freelist uint64
	pgid     uint64 // high-water mark: pages [0, pgid) are in use or free
	txid     uint64
}

// parseMeta reads the meta struct of a page whose bytes start at b,
// validated the way bbolt validates it.
func parseMeta(b []byte, slot int) (bboltMeta, error) {
	if len(b) < pageHeaderSize+metaChecksummed+8 {
		return bboltMeta{}, berrors.ErrInvalid
	}
	m := b[pageHeaderSize:]
	ne := binary.NativeEndian // bbolt writes its structs in the host's byte order
	switch {
	case ne.Uint32(m[0:]) != bboltMagic:
		return bboltMeta{}, berrors.ErrInvalid
	case ne.Uint32(m[4:]) != bboltVersion:
		return bboltMeta{}, berrors.ErrVersionMismatch
	}
	h := fnv.New64a()
	h.Write(m[:metaChecksummed])
	if h.Sum64() != ne.Uint64(m[metaChecksummed:]) {
		return bboltMeta{}, berrors.ErrChecksum
	}
	return bboltMeta{
		slot:     slot,
		pageSize: int(ne.Uint32(m[8:])),
		root:     ne.Uint64(m[16:]),
		freelist: ne.Uint64(m[32:]),
		pgid:     ne.Uint64(m[40:]),
		txid:     ne.Uint64(m[48:]),
	}, nil
}

// readMetas finds the page size and the meta bbolt would use: of the two
// meta pages, the valid one with the higher transaction id. bad is the
// error of a meta page that does not validate (nil when both do); when
// neither does, err is the first one's error, as bbolt returns it.
func readMetas(f io.ReaderAt, size int64) (use bboltMeta, bad error, err error) {
	ms, bad, err := metaPages(f, size)
	if err != nil {
		return bboltMeta{}, nil, err
	}
	return ms[0], bad, nil
}

// metaPages returns the valid meta pages, newest first.
func metaPages(f io.ReaderAt, size int64) (ms []bboltMeta, bad error, err error) {
	var buf [4096]byte
	n, _ := f.ReadAt(buf[:], 0)
	m0, err0 := parseMeta(buf[:n], 0)
	pageSize := m0.pageSize
	if err0 != nil {
		// The page size is in the meta pages; try the second one at every
		// size bbolt would, as bbolt does.
		for i := 0; i <= 14; i++ {
			pos := int64(1024) << i
			if pos >= size-1024 {
				break
			}
			n, _ := f.ReadAt(buf[:], pos)
			if m, err := parseMeta(buf[:n], 1); err == nil && int64(m.pageSize) == pos {
				pageSize = m.pageSize
				break
			}
		}
		if pageSize == 0 {
			return nil, nil, err0
		}
	}
	if pageSize < minPageSize || pageSize > maxPageSize || pageSize&(pageSize-1) != 0 {
		return nil, nil, fmt.Errorf("%w: page size %d", berrors.ErrInvalid, pageSize)
	}
	n, _ = f.ReadAt(buf[:min(len(buf), pageSize)], int64(pageSize))
	m1, err1 := parseMeta(buf[:n], 1)
	switch {
	case err0 != nil && err1 != nil:
		return nil, nil, err0
	case err0 != nil:
		return []bboltMeta{m1}, fmt.Errorf("meta page 0: %w", err0), nil
	case err1 != nil:
		return []bboltMeta{m0}, fmt.Errorf("meta page 1: %w", err1), nil
	case m1.txid > m0.txid:
		return []bboltMeta{m1, m0}, nil, nil
	}
	return []bboltMeta{m0, m1}, nil, nil
}

// Problem is one thing wrong in a state file.
type Problem struct {
	Page   uint64 // 0 when the problem is not about one page
	Bucket string // "" for the file's structure
	Key    []byte // the record's key, for a record that does not decode
	Msg    string
}

func (p Problem) String() string {
	var b bytes.Buffer
	if p.Page != 0 {
		fmt.Fprintf(&b, "page %d", p.Page)
	}
	if p.Bucket != "" {
		if b.Len() > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "bucket %s", p.Bucket)
	}
	if p.Key != nil {
		fmt.Fprintf(&b, " key %s", showKey(p.Key))
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// showKey quotes a key that is text (positions are keyed by path) and
// gives the others in hex.
func showKey(k []byte) string {
	for _, c := range k {
		if c < 0x20 || c > 0x7e {
			return fmt.Sprintf("%x", k)
		}
	}
	return fmt.Sprintf("%q", k)
}

// pageKind is what a page is used for; the corruption tests pick pages by it.
type pageKind uint8

const (
	kindFree pageKind = iota
	kindMeta
	kindFreelist
	kindBranch
	kindLeaf
)

// walker reads a bbolt file page by page and reports what is wrong with
// it. It marks every page it reaches, so that a page referenced twice, in
// use and free at once, or neither, is found: the invariants of tx.Check.
type walker struct {
	f        io.ReaderAt
	meta     bboltMeta
	pageSize int
	hwm      uint64

	reached, freed bitset
	problems       []Problem
	more           int // problems past maxProblems, counted only
	maxProblems    int
	perBucket      map[string]int // every problem, by top-level bucket; when set

	// record gets every key and value of every bucket; path is the bucket's
	// name (names joined by "/" for nested buckets). The slices are only
	// valid during the call.
	record func(path string, k, v []byte)
	// bucket gets each bucket's header: its root page (0: inline) and
	// sequence.
	bucket func(path string, root, seq uint64)
	// page, when set, gets every page reached and what it is used for.
	page func(id uint64, kind pageKind, path string)
	// skip, when set, names buckets not to walk into (their headers still
	// go to bucket).
	skip func(path string) bool
	// firstOnly stops the walk at the first problem: for asking whether a
	// commit is whole, not what is wrong with it.
	firstOnly bool

	bufs [][]byte // one page buffer per tree level
}

func (w *walker) problem(p Problem) {
	if w.perBucket != nil {
		w.perBucket[topBucket(p.Bucket)]++
	}
	if len(w.problems) < w.maxProblems {
		w.problems = append(w.problems, p)
	} else {
		w.more++
	}
}

type bitset []uint64

func newBitset(n uint64) bitset    { return make(bitset, (n+63)/64) }
func (b bitset) has(i uint64) bool { return b[i/64]&(1<<(i%64)) != 0 }
func (b bitset) set(i uint64)      { b[i/64] |= 1 << (i % 64) }
func (b bitset) grow(n uint64) bitset {
	return append(b, make(bitset, max(0, int((n+63)/64)-len(b)))...)
}

// readPage reads page id with its overflow pages into the buffer of tree
// level depth and checks its header: the id it says it has and a flag in
// want. It marks the pages reached. ok is false when the page cannot be used.
func (w *walker) readPage(id uint64, depth int, want uint16, path string) (p []byte, ok bool) {
	if id < 2 || id >= w.hwm {
		w.problem(Problem{Page: id, Bucket: path, Msg: fmt.Sprintf("referenced, but outside the pages in use (2 to %d)", w.hwm-1)})
		return nil, false
	}
	for len(w.bufs) <= depth {
		w.bufs = append(w.bufs, make([]byte, w.pageSize))
	}
	buf := w.bufs[depth][:w.pageSize]
	if n, err := w.f.ReadAt(buf, int64(id)*int64(w.pageSize)); n < len(buf) {
		w.problem(Problem{Page: id, Bucket: path, Msg: readError(err)})
		return nil, false
	}
	ne := binary.NativeEndian
	if got := ne.Uint64(buf); got != id {
		w.problem(Problem{Page: id, Bucket: path, Msg: fmt.Sprintf("its header says it is page %d", got)})
		return nil, false
	}
	flags := ne.Uint16(buf[8:])
	if flags&want == 0 || flags&(flags-1) != 0 {
		w.problem(Problem{Page: id, Bucket: path, Msg: fmt.Sprintf("unexpected page type %#x (want %s)", flags, flagNames(want))})
		return nil, false
	}
	overflow := uint64(ne.Uint32(buf[12:]))
	if id+overflow >= w.hwm {
		w.problem(Problem{Page: id, Bucket: path, Msg: fmt.Sprintf("%d overflow pages reach past the pages in use", overflow)})
		return nil, false
	}
	for i := id; i <= id+overflow; i++ {
		switch {
		case w.reached.has(i):
			w.problem(Problem{Page: i, Bucket: path, Msg: "referenced twice"})
			return nil, false
		case w.freed.has(i):
			w.problem(Problem{Page: i, Bucket: path, Msg: "in use but on the freelist"})
			return nil, false
		}
		w.reached.set(i)
	}
	if overflow > 0 {
		total := int(overflow+1) * w.pageSize
		if cap(w.bufs[depth]) < total {
			w.bufs[depth] = append(make([]byte, 0, total), buf...)
		}
		buf = w.bufs[depth][:total]
		if n, err := w.f.ReadAt(buf[w.pageSize:], int64(id+1)*int64(w.pageSize)); n < total-w.pageSize {
			w.problem(Problem{Page: id, Bucket: path, Msg: "overflow pages: " + readError(err)})
			return nil, false
		}
	}
	if w.page != nil {
		kind := kindLeaf
		switch flags {
		case flagBranch:
			kind = kindBranch
		case flagFreelist:
			kind = kindFreelist
		}
		for i := id; i <= id+overflow; i++ {
			w.page(i, kind, path)
		}
	}
	return buf, true
}

func readError(err error) string {
	if errors.Is(err, io.EOF) {
		return "past the end of the file"
	}
	return fmt.Sprintf("cannot be read: %v", err)
}

func flagNames(f uint16) string {
	switch f {
	case flagBranch | flagLeaf:
		return "branch or leaf"
	case flagFreelist:
		return "freelist"
	}
	return fmt.Sprintf("%#x", f)
}

// readFreelist marks the pages the freelist names as free.
func (w *walker) readFreelist() {
	if w.meta.freelist == noFreelist {
		return
	}
	p, ok := w.readPage(w.meta.freelist, 0, flagFreelist, "")
	if !ok {
		if len(w.problems) > 0 {
			w.problems[0].Msg = "the freelist: " + w.problems[0].Msg
		}
		return
	}
	ne := binary.NativeEndian
	start, count := pageHeaderSize, uint64(ne.Uint16(p[10:]))
	if count == freelistLarge {
		count = ne.Uint64(p[pageHeaderSize:])
		start += 8
	}
	if count > uint64(len(p)-start)/8 {
		w.problem(Problem{Page: w.meta.freelist, Msg: fmt.Sprintf("freelist of %d pages does not fit its page", count)})
		return
	}
	for i := range count {
		id := ne.Uint64(p[start+int(i)*8:])
		switch {
		case id < 2 || id >= w.hwm:
			w.problem(Problem{Page: w.meta.freelist, Msg: fmt.Sprintf("freelist names page %d, outside the pages in use", id)})
			return
		case w.freed.has(id):
			w.problem(Problem{Page: w.meta.freelist, Msg: fmt.Sprintf("freelist names page %d twice", id)})
			return
		case w.reached.has(id):
			w.problem(Problem{Page: w.meta.freelist, Msg: fmt.Sprintf("freelist names its own page %d", id)})
			return
		}
		w.freed.set(id)
	}
}

// element is one entry of a branch or leaf page.
type element struct {
	flags uint32
	key   []byte
	value []byte // leaf
	child uint64 // branch
}

// elements decodes the element table of page p (a page from its header
// on), checking that every key and value lies inside it, that keys are not
// empty and that they increase strictly within [lo, hi) (nil: unbounded).
func elements(p []byte, lo, hi []byte, fn func(e element) bool) string {
	ne := binary.NativeEndian
	flags, count := ne.Uint16(p[8:]), int(ne.Uint16(p[10:]))
	if pageHeaderSize+count*elementSize > len(p) {
		return fmt.Sprintf("%d elements do not fit the page", count)
	}
	if flags == flagBranch && count == 0 {
		return "branch page without elements"
	}
	var prev []byte
	for i := range count {
		off := pageHeaderSize + i*elementSize
		h := p[off : off+elementSize]
		var e element
		var pos, ksize, vsize uint64
		if flags == flagBranch {
			pos, ksize, e.child = uint64(ne.Uint32(h)), uint64(ne.Uint32(h[4:])), ne.Uint64(h[8:])
		} else {
			e.flags = ne.Uint32(h)
			pos, ksize, vsize = uint64(ne.Uint32(h[4:])), uint64(ne.Uint32(h[8:])), uint64(ne.Uint32(h[12:]))
			if e.flags&^leafBucket != 0 {
				return fmt.Sprintf("element %d: unknown flags %#x", i, e.flags)
			}
		}
		start := uint64(off) + pos
		if ksize == 0 || start+ksize+vsize > uint64(len(p)) {
			return fmt.Sprintf("element %d: key of %d bytes and value of %d at %d lie outside the page", i, ksize, vsize, start)
		}
		e.key = p[start : start+ksize]
		e.value = p[start+ksize : start+ksize+vsize]
		switch {
		case prev != nil && bytes.Compare(prev, e.key) >= 0:
			return fmt.Sprintf("element %d: key %x not after the one before it", i, e.key)
		case prev == nil && lo != nil && bytes.Compare(e.key, lo) < 0:
			return fmt.Sprintf("element %d: key %x before its parent's %x", i, e.key, lo)
		case hi != nil && bytes.Compare(e.key, hi) >= 0:
			return fmt.Sprintf("element %d: key %x not before its parent's next key %x", i, e.key, hi)
		}
		prev = e.key
		if !fn(e) {
			return ""
		}
	}
	return ""
}

// walkTree checks the b+tree rooted at page id of the bucket at path and
// hands its records and nested buckets on.
func (w *walker) walkTree(id uint64, path string, depth int, lo, hi []byte) {
	if w.firstOnly && len(w.problems) > 0 {
		return
	}
	if depth >= maxTreeDepth {
		w.problem(Problem{Page: id, Bucket: path, Msg: "tree deeper than any bbolt file"})
		return
	}
	p, ok := w.readPage(id, depth, flagBranch|flagLeaf, path)
	if !ok {
		return
	}
	w.walkElements(id, p, path, depth, lo, hi)
}

func (w *walker) walkElements(id uint64, p []byte, path string, depth int, lo, hi []byte) {
	branch := binary.NativeEndian.Uint16(p[8:]) == flagBranch
	var children []element
	msg := elements(p, lo, hi, func(e element) bool {
		if branch {
			children = append(children, e)
			return true
		}
		if e.flags&leafBucket == 0 {
			if path == "" {
				w.problem(Problem{Page: id, Key: e.key, Msg: "a record outside any bucket"})
				return false
			}
			if w.record != nil {
				w.record(path, e.key, e.value)
			}
			return true
		}
		w.walkBucket(id, join(path, string(e.key)), e.value, depth)
		return true
	})
	if msg != "" {
		w.problem(Problem{Page: id, Bucket: path, Msg: msg})
		return
	}
	for i, c := range children {
		next := hi
		if i+1 < len(children) {
			next = children[i+1].key
		}
		w.walkTree(c.child, path, depth+1, c.key, next)
	}
}

// walkBucket checks a bucket whose header is v, found on page id.
func (w *walker) walkBucket(id uint64, path string, v []byte, depth int) {
	if len(v) < bucketHeaderSize {
		w.problem(Problem{Page: id, Bucket: path, Msg: fmt.Sprintf("bucket header of %d bytes", len(v))})
		return
	}
	root, seq := binary.NativeEndian.Uint64(v), binary.NativeEndian.Uint64(v[8:])
	if w.bucket != nil {
		w.bucket(path, root, seq)
	}
	if w.skip != nil && w.skip(path) {
		return
	}
	if root != 0 {
		w.walkTree(root, path, depth+1, nil, nil)
		return
	}
	// An inline bucket: a leaf page follows its header in the value.
	inline := v[bucketHeaderSize:]
	if len(inline) < pageHeaderSize || binary.NativeEndian.Uint16(inline[8:]) != flagLeaf {
		w.problem(Problem{Page: id, Bucket: path, Msg: "inline bucket without a leaf page"})
		return
	}
	w.walkElements(id, inline, path, depth, nil, nil)
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "/" + name
}

// unreached reports the pages below the high-water mark that are neither
// in use nor free: what tx.Check calls "unreachable unfreed". After another
// problem the pages below a bad one are unreached too, which says nothing
// more, so the walk runs it only on a tree without problems.
func (w *walker) unreached() {
	if w.meta.freelist == noFreelist {
		return // bbolt rebuilds the freelist from what is unreached
	}
	first, n := uint64(0), 0
	for id := uint64(2); id < w.hwm; id++ {
		if w.reached.has(id) || w.freed.has(id) {
			continue
		}
		if n == 0 {
			first = id
		}
		n++
	}
	if n > 0 {
		msg := "neither in use nor free"
		if n > 1 {
			msg += fmt.Sprintf(" (with %d pages more)", n-1)
		}
		w.problem(Problem{Page: first, Msg: msg})
	}
}

// fileSize returns the size of an open file.
func fileSize(f *os.File) (int64, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}
