package tailer

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// errTruncated means the file no longer starts with the bytes it started
// with: it was truncated (and maybe regrown) under us.
var errTruncated = errors.New("file truncated")

// source is one open file being read.
type source struct {
	path     string // the file's name when it was opened or last renamed (Line.Path)
	f        *os.File
	gz       *gzip.Reader // a compressed rotated file; read through it, unchecked
	r        *lineReader
	id       Identity // the identity put into positions
	dev, ino uint64   // of the open descriptor
	head     []byte   // the first bytes of the file as last seen, up to fpMax
	scratch  [fpMax]byte

	// follow marks the file followed at its follower's path. Its identity
	// grows with its head; the other sources (drains) keep the saved identity
	// they were found by and end at EOF.
	follow bool
	// rotated marks a followed file whose path now names another file or
	// nothing: it is read to its end and then closed.
	rotated  bool
	eof      bool  // the last read found no complete line
	size     int64 // size at the last poll
	pollSize int64 // for a rotated file: size at the previous poll, -1 before
	// since is, while nothing of the followed file has been seen, its
	// modification time when it was last seen so: a file rotated next to it
	// later is a copy of what it got since (see Tailer.copiedWhileEmpty).
	since time.Time
}

// Read feeds the line reader. After every read it checks that the file still
// starts with the bytes it started with: a truncation followed by regrowth past
// our offset would otherwise be read as if it were the old file. The check is
// a 1 KiB pread per read of up to 256 KiB.
func (s *source) Read(p []byte) (int, error) {
	n, err := s.f.Read(p)
	if n > 0 {
		ok, herr := s.checkHead()
		if herr != nil {
			return 0, herr
		}
		if !ok {
			return 0, errTruncated
		}
	}
	return n, err
}

// checkHead compares the file's first bytes with the head seen before and
// grows the head (and a followed file's fingerprint) while the file is shorter
// than fpMax.
func (s *source) checkHead() (bool, error) {
	n, err := s.f.ReadAt(s.scratch[:], 0)
	if err != nil && err != io.EOF {
		return false, err
	}
	got := s.scratch[:n]
	if len(got) < len(s.head) || !bytes.Equal(got[:len(s.head)], s.head) {
		return false, nil
	}
	if len(got) > len(s.head) {
		s.setHead(got)
	}
	return true, nil
}

func (s *source) setHead(b []byte) {
	s.head = append(s.head[:0], b...)
	if s.follow {
		s.id = identityOf(s.dev, s.ino, s.head)
	}
}

// restart reads a truncated followed file again from 0.
func (s *source) restart(max int) error {
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	// Taken before the first bytes are read: if they are none, the file
	// was empty at least since then.
	st, err := s.f.Stat()
	if err != nil {
		return err
	}
	s.since = st.ModTime().UTC()
	n, err := s.f.ReadAt(s.scratch[:], 0)
	if err != nil && err != io.EOF {
		return err
	}
	s.setHead(s.scratch[:n])
	s.r = newLineReader(s, max, 0)
	s.eof = false
	return nil
}

// readPos is how far into the file the descriptor has read (the line reader
// may hold some of it). A file shorter than that lost bytes we had.
func (s *source) readPos() (int64, error) { return s.f.Seek(0, io.SeekCurrent) }

func (s *source) header(max int) string {
	if s.gz != nil {
		zr, err := gzip.NewReader(io.NewSectionReader(s.f, 0, 1<<62))
		if err != nil {
			return ""
		}
		return firstLine(zr, max)
	}
	return firstLine(io.NewSectionReader(s.f, 0, s.r.off), max)
}

func (s *source) close() {
	if s.gz != nil {
		s.gz.Close()
	}
	s.f.Close()
}

// newFollowed starts following f (described by fi) at off.
func newFollowed(f *os.File, fi FileInfo, off int64, max int) (*source, error) {
	s := &source{path: fi.Path, f: f, dev: fi.Dev, ino: fi.Inode, follow: true, size: fi.Size, pollSize: -1, since: fi.ModTime}
	s.setHead(fi.Head)
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return nil, err
	}
	s.r = newLineReader(s, max, off)
	return s, nil
}

// newDrain opens the rotated or copied file fi to read it from pos.Offset to
// its end. Its lines carry pos.ID, the identity the file was found by, so a
// restart in the middle finds it again.
func newDrain(fi FileInfo, pos Position, max int) (*source, error) {
	f, cur, err := openFile(fi.Path)
	if err != nil {
		return nil, err
	}
	// It was looked at a moment ago; make sure it is still the same file.
	if !holds(pos, cur) {
		f.Close()
		return nil, fmt.Errorf("%s changed before it could be read", fi.Path)
	}
	s := &source{path: fi.Path, f: f, dev: cur.Dev, ino: cur.Inode, id: pos.ID, size: cur.Size, pollSize: -1, since: cur.ModTime}
	if !cur.Gzip {
		s.setHead(cur.Head)
		if _, err := f.Seek(pos.Offset, io.SeekStart); err != nil {
			f.Close()
			return nil, err
		}
		s.r = newLineReader(s, max, pos.Offset)
		return s, nil
	}
	if s.gz, err = gzip.NewReader(f); err != nil {
		f.Close()
		return nil, err
	}
	// Offsets count decompressed bytes, so the read part is decompressed
	// and thrown away.
	s.r = newLineReader(s.gz, max, 0)
	if err := s.r.skip(pos.Offset); err != nil {
		s.close()
		return nil, fmt.Errorf("%s: skipping to offset %d: %w", fi.Path, pos.Offset, err)
	}
	return s, nil
}

// maxRotated bounds how many rotated names are fingerprinted per search: the
// newest ones are where a just-rotated file is.
const maxRotated = 64

// rotatedNames lists the names a rotated copy of path may have, newest first:
// name.1, name.0, name.1.gz (numbered), name-20240101[.gz] (dateext), and for
// a name with an extension, name-20240101.ext as well. Only plain and .gz
// files are returned; other compressions cannot be read.
func rotatedNames(path string) []string {
	esc := escapeGlob(path)
	pats := []string{esc + ".*", esc + "-*"}
	if ext := filepath.Ext(path); ext != "" && !strings.ContainsRune(ext, filepath.Separator) {
		stem := escapeGlob(strings.TrimSuffix(path, ext))
		pats = append(pats, stem+"-*", stem+".*")
	}
	type named struct {
		path  string
		mtime int64
	}
	seen := map[string]bool{path: true}
	var found []named
	for _, pat := range pats {
		matches, _ := filepath.Glob(pat)
		for _, m := range matches {
			if seen[m] || !readableRotation(m) {
				continue
			}
			seen[m] = true
			st, err := os.Stat(m)
			if err != nil || !st.Mode().IsRegular() {
				continue
			}
			found = append(found, named{m, st.ModTime().UnixNano()})
		}
	}
	sort.Slice(found, func(i, j int) bool {
		if found[i].mtime != found[j].mtime {
			return found[i].mtime > found[j].mtime
		}
		return found[i].path < found[j].path
	})
	if len(found) > maxRotated {
		found = found[:maxRotated]
	}
	names := make([]string, len(found))
	for i, n := range found {
		names[i] = n.path
	}
	return names
}

func readableRotation(path string) bool {
	switch filepath.Ext(path) {
	case ".bz2", ".xz", ".zst", ".lz4", ".lzma", ".Z", ".zip", ".br":
		return false
	}
	return true
}

func escapeGlob(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
