package tailer

import (
	"crypto/sha256"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestPositionBinaryRoundTrip(t *testing.T) {
	for _, p := range []Position{
		{},
		{Path: "/var/log/maillog", ID: Identity{Dev: 2049, Inode: 1 << 40, FPLen: fpMax, FP: sha256.Sum256([]byte("x"))}, Offset: 1 << 35},
		{Path: "/var/log/pmta/acct-ü [1].csv", ID: Identity{Inode: 3, FPLen: 17}, Offset: 17},
		{Path: "/var/log/exim4/mainlog", ID: Identity{Dev: 1, Inode: 9, FPLen: 40}, Offset: 40, Parked: time.Date(2026, 11, 22, 10, 5, 0, 123, time.UTC)},
		{Path: "/var/log/mail.log", ID: Identity{Dev: 1, Inode: 9}, EmptySince: time.Date(2026, 11, 22, 3, 0, 0, 999999999, time.UTC)},
		{Path: "m", ID: Identity{Inode: 9}, Parked: time.Unix(1, 0).UTC(), EmptySince: time.Unix(0, 1).UTC()},
	} {
		b, err := p.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var got Position
		if err := got.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(p, got); diff != "" {
			t.Errorf("round trip (-want +got):\n%s", diff)
		}
	}
}

func TestPositionBinaryRejects(t *testing.T) {
	good, err := Position{Path: "p", Offset: 5}.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	newer := append([]byte{3}, good[1:]...)
	v2, err := Position{Path: "p", Parked: time.Unix(5, 0)}.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	badLen := append([]byte(nil), good...)
	badLen[17], badLen[18] = 0x04, 0x01 // 1025
	negative := append([]byte(nil), good...)
	negative[51] = 0x80
	for name, b := range map[string][]byte{
		"empty":           nil,
		"short":           good[:20],
		"short version 2": v2[:positionFixed+1],
		"unknown version": newer,
		"fp length":       badLen,
		"negative offset": negative,
	} {
		var p Position
		if err := p.UnmarshalBinary(b); err == nil {
			t.Errorf("%s: decoded %+v, want an error", name, p)
		}
	}
	if _, err := (Position{ID: Identity{FPLen: fpMax + 1}}).MarshalBinary(); err == nil {
		t.Error("marshal accepted FPLen > 1024")
	}
	if _, err := (Position{Offset: -1}).MarshalBinary(); err == nil {
		t.Error("marshal accepted a negative offset")
	}
}

// The fingerprint covers min(size, 1024) bytes and grows with the file.
func TestFingerprintGrowsUpTo1024Bytes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	var fplens []int
	for _, size := range []int{0, 10, 1023, 1024, 5000} {
		if err := os.WriteFile(path, []byte(strings.Repeat("a", size)), 0o644); err != nil {
			t.Fatal(err)
		}
		fi, err := statFile(path)
		if err != nil {
			t.Fatal(err)
		}
		fplens = append(fplens, len(fi.Head))
	}
	if diff := cmp.Diff([]int{0, 10, 1023, 1024, 1024}, fplens); diff != "" {
		t.Errorf("fingerprint lengths (-want +got):\n%s", diff)
	}
}

// The read path checks the first bytes after every read: bytes of a file that
// was truncated and regrown are never taken for the old file's.
func TestSourceReadSeesTruncateAndRegrow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, []byte("old 1\nold 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, fi, err := openFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, err := newFollowed(f, fi, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, _, err := s.r.next(); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(path, []byte("new 1\nnew 2\nnew 3\n"), 0o644); err != nil { // truncates
		t.Fatal(err)
	}
	line, _, err := s.r.next()
	if err != errTruncated {
		t.Fatalf("next = %q, %v; want errTruncated", line, err)
	}
}

// A position without the times is encoded as version 1, byte for byte what
// ppwatch wrote before version 2: an older ppwatch reads every position but
// a parked or empty file's.
func TestPositionVersion1Unchanged(t *testing.T) {
	p := Position{Path: "ab", ID: Identity{Dev: 1, Inode: 2, FPLen: 3, FP: [32]byte{4}}, Offset: 5}
	b, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	want := append([]byte{1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 3, 4}, make([]byte, 31)...)
	want = append(want, 0, 0, 0, 0, 0, 0, 0, 5, 'a', 'b')
	if diff := cmp.Diff(want, b); diff != "" {
		t.Errorf("encoding (-want +got):\n%s", diff)
	}
	p.Parked = time.Unix(0, 7)
	if b, _ := p.MarshalBinary(); b[0] != 2 || len(b) != positionFixed2+2 {
		t.Errorf("parked position: version %d, %d bytes; want 2, %d", b[0], len(b), positionFixed2+2)
	}
}
