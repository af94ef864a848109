package pipeline

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"unsafe"
)

// MaxLineBytes is the longest line that is parsed; longer ones are reported
// as too long and skipped to their newline.
const MaxLineBytes = 1 << 20

// Open opens a log for reading: "-" is standard input, and gzip content
// (by its magic bytes, whatever the name) is decompressed.
func Open(name string, stdin io.Reader) (io.ReadCloser, error) {
	var f io.ReadCloser
	if name == "-" {
		f = io.NopCloser(stdin)
	} else {
		file, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		// Reading a directory fails only at the first read, and a scan
		// would report it as an empty log.
		if st, err := file.Stat(); err == nil && st.IsDir() {
			file.Close()
			return nil, fmt.Errorf("%s: is a directory, not a log file", name)
		}
		f = file
	}
	br := bufio.NewReaderSize(f, 256<<10)
	if magic, _ := br.Peek(2); bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return readCloser{gzipReader{zr}, f}, nil
	}
	return readCloser{br, f}, nil
}

// gzipReader names what a gzip error means for a log: a file cut off (a
// copy or rotation that did not finish) or damaged.
type gzipReader struct{ zr *gzip.Reader }

func (g gzipReader) Read(p []byte) (int, error) {
	n, err := g.zr.Read(p)
	switch {
	case err == nil || err == io.EOF:
	case errors.Is(err, io.ErrUnexpectedEOF):
		err = errors.New("gzip data ends early: the file is truncated (a copy or compression that did not finish)")
	default:
		err = fmt.Errorf("damaged gzip data: %w", err)
	}
	return n, err
}

type readCloser struct {
	io.Reader
	io.Closer
}

// ReadLines calls fn for every line of r, numbered from 1, without the
// newline. A line longer than MaxLineBytes is passed as "" with tooLong set.
// The string is valid only during the call: it aliases the read buffer, so
// that lines which are not kept cost no allocation. A last line without a
// newline is passed too.
func ReadLines(r io.Reader, fn func(n int, line string, tooLong bool) error) error {
	br, ok := r.(*bufio.Reader)
	if !ok || br.Size() < 64<<10 {
		br = bufio.NewReaderSize(r, 256<<10)
	}
	var long []byte
	tooLong := false
	n := 0
	for {
		chunk, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			if !tooLong {
				if len(long)+len(chunk) > MaxLineBytes {
					tooLong, long = true, long[:0]
				} else {
					long = append(long, chunk...)
				}
			}
			continue
		}
		if len(chunk) > 0 || len(long) > 0 || tooLong {
			line := chunk
			if len(long) > 0 {
				long = append(long, chunk...)
				line = long
			}
			if n := len(line); n > 0 && line[n-1] == '\n' {
				line = line[:n-1] // by hand: bytes.TrimSuffix per line showed in profiles
			}
			if !tooLong && len(line) > MaxLineBytes {
				tooLong = true
			}
			n++
			var s string
			if !tooLong && len(line) > 0 {
				s = unsafe.String(&line[0], len(line))
			}
			if ferr := fn(n, s, tooLong); ferr != nil {
				return ferr
			}
			long, tooLong = long[:0], false
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
