package tailer

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
)

type got struct {
	Text    string
	TooLong bool
	Off     int64
}

func readAllLines(r *lineReader) ([]got, error) {
	var out []got
	for {
		line, tooLong, err := r.next()
		if err != nil {
			return out, err
		}
		out = append(out, got{string(line), tooLong, r.off})
	}
}

func TestLineReaderMaxLine(t *testing.T) {
	in := "12345\n123456\n1234567\n\nabc"
	r := newLineReaderSize(strings.NewReader(in), 6, 0, 16)
	lines, err := readAllLines(r)
	if err != io.EOF {
		t.Fatal(err)
	}
	want := []got{{"12345", false, 6}, {"123456", false, 13}, {"", true, 21}, {"", false, 22}}
	if diff := cmp.Diff(want, lines); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
	if r.pending() != 3 {
		t.Errorf("pending %d, want 3 (the partial line)", r.pending())
	}
}

// A partial line is kept and continued when more data arrives, even when the
// data dribbles in a byte at a time.
func TestLineReaderContinuesPartialLine(t *testing.T) {
	var buf bytes.Buffer
	r := newLineReaderSize(iotest.OneByteReader(&buf), 100, 10, 16)
	buf.WriteString("hel")
	if _, _, err := r.next(); err != io.EOF {
		t.Fatalf("err %v, want EOF", err)
	}
	if r.off != 10 {
		t.Fatalf("offset moved to %d on a partial line", r.off)
	}
	buf.WriteString("lo\nwor")
	line, _, err := r.next()
	if err != nil || string(line) != "hello" || r.off != 16 {
		t.Fatalf("got %q, %v at %d; want hello at 16", line, err, r.off)
	}
}

// A line much longer than the buffer is skipped without holding more than
// max bytes.
func TestLineReaderSkipsHugeLineWithBoundedMemory(t *testing.T) {
	in := strings.Repeat("x", 1<<20) + "\nok\n"
	r := newLineReaderSize(strings.NewReader(in), 1000, 0, 16)
	line, tooLong, err := r.next()
	if err != nil || !tooLong || line != nil || cap(r.buf) > 1000 {
		t.Fatalf("got %d bytes, tooLong %v, err %v, buffer cap %d", len(line), tooLong, err, cap(r.buf))
	}
	line, tooLong, err = r.next()
	if err != nil || tooLong || string(line) != "ok" || r.off != int64(len(in)) {
		t.Fatalf("got %q %v %v at %d", line, tooLong, err, r.off)
	}
}

// FuzzLineReader: whatever the bytes and however they are split into reads,
// every complete line comes out once, the offset after each is the end of its
// newline, and a partial last line never moves the offset.
func FuzzLineReader(f *testing.F) {
	f.Add([]byte("a\nb\n"), 4)
	f.Add([]byte("\x00\xff\r\n\n\nlong line here\npartial"), 5)
	f.Add([]byte(strings.Repeat("y", 100)+"\n"), 16)
	f.Fuzz(func(t *testing.T, data []byte, max int) {
		if max < 1 || max > 64 {
			max = 8
		}
		r := newLineReaderSize(iotest.HalfReader(bytes.NewReader(data)), max, 0, 16)
		lines, err := readAllLines(r)
		if err != io.EOF {
			t.Fatal(err)
		}
		var want []got
		off := 0
		for {
			i := bytes.IndexByte(data[off:], '\n')
			if i < 0 {
				break
			}
			text := data[off : off+i]
			off += i + 1
			if len(text) > max {
				want = append(want, got{"", true, int64(off)})
			} else {
				want = append(want, got{string(text), false, int64(off)})
			}
		}
		if diff := cmp.Diff(want, lines); diff != "" {
			t.Fatalf("lines (-want +got):\n%s", diff)
		}
		if r.off != int64(off) || r.pending() != int64(len(data)-off) {
			t.Fatalf("offset %d pending %d, want %d and %d", r.off, r.pending(), off, len(data)-off)
		}
	})
}
