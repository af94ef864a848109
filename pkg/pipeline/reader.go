package pipeline

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"unsafe"
)

// MaxLineBytes is the longest line that is parsed; longer ones are reported
// as too long and skipped to their newline.
const MaxLineBytes = 1 << 20

// Log is a log opened to read its lines once. A regular file is mapped
// into memory: its lines are read in place, without the copy of every
// read(2), which was a tenth of a scan's time. Standard input, gzip content
// and files that cannot be mapped are read through a buffer.
type Log struct {
	data   []byte        // the mapped file
	br     *bufio.Reader // when not mapped
	closer func() error
}

// Open opens a log for reading: "-" is standard input, and gzip content
// (by its magic bytes, whatever the name) is decompressed. The file is read
// as it is when opened: lines appended later are not.
func Open(name string, stdin io.Reader) (*Log, error) {
	l := &Log{closer: func() error { return nil }}
	var src io.Reader = stdin
	if name != "-" {
		file, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		st, err := file.Stat()
		switch {
		case err != nil:
			file.Close()
			return nil, err
		case st.IsDir():
			// Reading a directory fails only at the first read, and a
			// scan would report it as an empty log.
			file.Close()
			return nil, fmt.Errorf("%s: is a directory, not a log file", name)
		case st.Mode().IsRegular() && st.Size() > 2:
			if data, unmap, err := mapFile(file, st.Size()); err == nil && !isGzip(data) {
				file.Close() // the mapping stays valid
				l.data, l.closer = data, unmap
				return l, nil
			} else if err == nil {
				unmap()
			}
		}
		src, l.closer = file, file.Close
	}
	l.br = bufio.NewReaderSize(src, 256<<10)
	if magic, _ := l.br.Peek(2); isGzip(magic) {
		zr, err := gzip.NewReader(l.br)
		if err != nil {
			l.closer()
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		l.br = bufio.NewReaderSize(gzipReader{zr}, 256<<10)
	}
	return l, nil
}

func isGzip(b []byte) bool { return len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b }

// Head returns up to n bytes from the start of the log, for telling its
// MTA; they stay valid until Close, and Lines still reads them.
func (l *Log) Head(n int) []byte {
	if l.br == nil {
		return l.data[:min(n, len(l.data))]
	}
	b, _ := l.br.Peek(n)
	return b
}

// Lines calls fn for every line, as ReadLines does.
func (l *Log) Lines(fn func(n int, line string, tooLong bool) error) error {
	if l.br != nil {
		return ReadLines(l.br, fn)
	}
	return l.mappedLines(fn)
}

// Close releases the file (and its mapping).
func (l *Log) Close() error { return l.closer() }

const (
	releaseBytes = 8 << 20
	pageSize     = 64 << 10 // a multiple of every page size Linux uses, so offsets stay aligned
)

// mappedLines reads the lines in place. A file truncated while it is read
// (a copytruncate rotation of a live log) makes its missing pages fault:
// that is reported as an error for the file, not a crash.
func (l *Log) mappedLines(fn func(n int, line string, tooLong bool) error) (err error) {
	data := l.data
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		if f, ok := r.(interface{ Addr() uintptr }); ok && len(l.data) > 0 {
			base := uintptr(unsafe.Pointer(unsafe.SliceData(l.data)))
			if a := f.Addr(); a >= base && a < base+uintptr(len(l.data)) {
				err = fmt.Errorf("the file shrank while it was read (truncated by a log rotation?)")
				return
			}
		}
		panic(r)
	}()
	n, released := 0, 0
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil // a last line without a newline
		}
		// Pages already read leave the resident set every releaseBytes:
		// nothing refers to them once their lines are handled (parsers
		// and callers copy what they keep, as with a reused buffer).
		if done := len(l.data) - len(data) - len(line) - 1; done-released >= releaseBytes {
			upTo := done &^ (pageSize - 1)
			release(l.data[released:upTo])
			released = upTo
		}
		n++
		var ferr error
		if len(line) > MaxLineBytes {
			ferr = fn(n, "", true)
		} else if len(line) > 0 {
			ferr = fn(n, unsafe.String(&line[0], len(line)), false)
		} else {
			ferr = fn(n, "", false)
		}
		if ferr != nil {
			return ferr
		}
	}
	return nil
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
