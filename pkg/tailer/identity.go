package tailer

import (
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// fpMax is how many leading bytes the fingerprint covers once a file is that
// long (Filebeat's default; rsyslog uses 512).
const fpMax = 1024

// Identity names one file independently of its path: device and inode, plus a
// SHA-256 of its first FPLen bytes, FPLen = min(size, 1024) when last looked
// at. The inode alone is not enough because inodes are reused.
type Identity struct {
	Dev, Inode uint64
	FPLen      int
	FP         [32]byte
}

// Position is where to resume: the line just before Offset in the file ID has
// been handed over. Path is the key the caller stores it under.
type Position struct {
	Path   string
	ID     Identity
	Offset int64

	// Parked is when Path left the inputs (a ParkKind event); zero while it
	// is one. The position is kept so that the file resumes if the path
	// comes back, and dropped at a start Config.ParkFor later.
	Parked time.Time
	// EmptySince is set for an empty file (FPLen 0): its modification time
	// when it was seen empty. Its fingerprint matches any content, so the
	// files rotated next to it after that time are its copies, and are read
	// whole (see Decide).
	EmptySince time.Time
}

const (
	positionVersion  = 1
	positionVersion2 = 2                      // with Parked and EmptySince
	positionFixed    = 1 + 8 + 8 + 2 + 32 + 8 // version, dev, inode, fplen, fp, offset
	positionFixed2   = positionFixed + 8 + 8  // then parked, empty since (Unix ns, 0 for none)
)

// MarshalBinary encodes p as version 1: a version byte, dev, inode, FPLen (2
// bytes), FP, offset (all big-endian), then the path. A position with Parked
// or EmptySince set is version 2: the same with both times (Unix
// nanoseconds, 0 for none) before the path. Version 1 stays what the usual
// position is, so an older ppwatch still reads every position but those.
func (p Position) MarshalBinary() ([]byte, error) {
	if p.ID.FPLen < 0 || p.ID.FPLen > fpMax {
		return nil, fmt.Errorf("tailer: fingerprint length %d out of range", p.ID.FPLen)
	}
	if p.Offset < 0 {
		return nil, fmt.Errorf("tailer: negative offset %d", p.Offset)
	}
	fixed, version := positionFixed, byte(positionVersion)
	if !p.Parked.IsZero() || !p.EmptySince.IsZero() {
		fixed, version = positionFixed2, positionVersion2
	}
	b := make([]byte, fixed, fixed+len(p.Path))
	b[0] = version
	binary.BigEndian.PutUint64(b[1:], p.ID.Dev)
	binary.BigEndian.PutUint64(b[9:], p.ID.Inode)
	binary.BigEndian.PutUint16(b[17:], uint16(p.ID.FPLen))
	copy(b[19:51], p.ID.FP[:])
	binary.BigEndian.PutUint64(b[51:], uint64(p.Offset))
	if version == positionVersion2 {
		binary.BigEndian.PutUint64(b[59:], uint64(unixNano(p.Parked)))
		binary.BigEndian.PutUint64(b[67:], uint64(unixNano(p.EmptySince)))
	}
	return append(b, p.Path...), nil
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// fromUnixNano is the inverse of unixNano, in UTC and without a monotonic
// reading, so that a decoded position equals the one encoded (see stamp).
func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// stamp is t as a position keeps it.
func stamp(t time.Time) time.Time { return fromUnixNano(unixNano(t)) }

// UnmarshalBinary decodes what MarshalBinary wrote. It refuses unknown
// versions rather than guessing, so a newer store is never misread as an
// offset.
func (p *Position) UnmarshalBinary(b []byte) error {
	if len(b) == 0 {
		return errors.New("tailer: empty position")
	}
	fixed := positionFixed
	switch b[0] {
	case positionVersion:
	case positionVersion2:
		fixed = positionFixed2
	default:
		return fmt.Errorf("tailer: unsupported position version %d", b[0])
	}
	if len(b) < fixed {
		return fmt.Errorf("tailer: position too short (%d bytes)", len(b))
	}
	fpLen := int(binary.BigEndian.Uint16(b[17:]))
	if fpLen > fpMax {
		return fmt.Errorf("tailer: fingerprint length %d out of range", fpLen)
	}
	off := int64(binary.BigEndian.Uint64(b[51:]))
	if off < 0 {
		return fmt.Errorf("tailer: negative offset %d", off)
	}
	*p = Position{
		Path:   string(b[fixed:]),
		ID:     Identity{Dev: binary.BigEndian.Uint64(b[1:]), Inode: binary.BigEndian.Uint64(b[9:]), FPLen: fpLen},
		Offset: off,
	}
	copy(p.ID.FP[:], b[19:51])
	if fixed == positionFixed2 {
		p.Parked = fromUnixNano(int64(binary.BigEndian.Uint64(b[59:])))
		p.EmptySince = fromUnixNano(int64(binary.BigEndian.Uint64(b[67:])))
	}
	return nil
}

// FileInfo is what Decide needs to know about one file on disk.
type FileInfo struct {
	Path       string
	Dev, Inode uint64
	Size       int64  // -1 when unknown (the decompressed size of a .gz file)
	Head       []byte // the first min(size, 1024) bytes, decompressed for .gz
	Gzip       bool
	ModTime    time.Time

	// Watched says an input names the file: it is read under its own key,
	// never whole under another one's.
	Watched bool
	// Named says a saved position names the file (its inode and first
	// bytes): what it holds up to there was counted.
	Named bool
}

// holds reports whether fi can be the file pos was read from: it starts with
// the bytes pos's fingerprint covers and is at least pos.Offset long.
func holds(pos Position, fi FileInfo) bool {
	if len(fi.Head) < pos.ID.FPLen || sha256.Sum256(fi.Head[:pos.ID.FPLen]) != pos.ID.FP {
		return false
	}
	return fi.Size < 0 || fi.Size >= pos.Offset
}

func sameInode(id Identity, fi FileInfo) bool {
	return !fi.Gzip && id.Dev == fi.Dev && id.Inode == fi.Inode
}

func isGzip(path string) bool { return strings.HasSuffix(path, ".gz") }

// openFile opens a regular file and describes it. The description comes from
// the open descriptor, so it is the file that will be read.
func openFile(path string) (*os.File, FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, FileInfo{}, err
	}
	fi, err := describe(f, path)
	if err != nil {
		f.Close()
		return nil, FileInfo{}, err
	}
	return f, fi, nil
}

var errNotRegular = errors.New("not a regular file")

func describe(f *os.File, path string) (FileInfo, error) {
	st, err := f.Stat()
	if err != nil {
		return FileInfo{}, err
	}
	if !st.Mode().IsRegular() {
		return FileInfo{}, errNotRegular
	}
	dev, ino := devIno(st)
	fi := FileInfo{Path: path, Dev: dev, Inode: ino, Size: st.Size(), ModTime: st.ModTime().UTC()}
	if isGzip(path) {
		fi.Gzip, fi.Size = true, -1
		fi.Head, err = gzipHead(io.NewSectionReader(f, 0, st.Size()))
	} else {
		fi.Head, err = readHead(f)
	}
	return fi, err
}

// statFile describes the file at path without keeping it open.
func statFile(path string) (FileInfo, error) {
	f, fi, err := openFile(path)
	if err != nil {
		return FileInfo{}, err
	}
	f.Close()
	return fi, nil
}

func readHead(f *os.File) ([]byte, error) {
	buf := make([]byte, fpMax)
	n, err := f.ReadAt(buf, 0)
	if err == io.EOF {
		err = nil
	}
	return buf[:n], err
}

func gzipHead(r io.Reader) ([]byte, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, fpMax)
	n, err := io.ReadFull(zr, buf)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		err = nil
	}
	return buf[:n], err
}

// firstLine returns the first line of r, for Header events. A first line
// longer than max comes back empty.
func firstLine(r io.Reader, max int) string {
	line, tooLong, err := newLineReaderSize(r, max, 0, 4096).next()
	if err != nil || tooLong {
		return ""
	}
	return string(line)
}

func identityOf(dev, ino uint64, head []byte) Identity {
	return Identity{Dev: dev, Inode: ino, FPLen: len(head), FP: sha256.Sum256(head)}
}
