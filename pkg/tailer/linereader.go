package tailer

import (
	"bufio"
	"io"
)

const readBufSize = 256 << 10

// lineReader splits a byte stream into complete lines and keeps the offset
// just past the last one it returned. A partial line stays inside it until its
// newline arrives, so the offset never moves past the start of a partial line.
// A line longer than max is dropped up to its newline: only max bytes are ever
// held, whatever the input.
type lineReader struct {
	br       *bufio.Reader
	max      int
	off      int64  // just past the last complete line returned
	n        int64  // bytes of the partial line consumed so far
	buf      []byte // the partial line; empty while skipping
	skipping bool   // the partial line is longer than max
}

func newLineReader(rd io.Reader, max int, off int64) *lineReader {
	return newLineReaderSize(rd, max, off, readBufSize)
}

func newLineReaderSize(rd io.Reader, max int, off int64, size int) *lineReader {
	return &lineReader{br: bufio.NewReaderSize(rd, size), max: max, off: off}
}

// next returns the next complete line without its newline, or tooLong for a
// line longer than max (its text is dropped). When no complete line is
// available it returns the reader's error (io.EOF at the end of the data) and
// keeps the partial line: calling again later continues it. The line is valid
// until the next call.
func (r *lineReader) next() (line []byte, tooLong bool, err error) {
	for {
		chunk, err := r.br.ReadSlice('\n')
		r.n += int64(len(chunk))
		if err == nil {
			chunk = chunk[:len(chunk)-1]
			tooLong = r.skipping || len(r.buf)+len(chunk) > r.max
			switch {
			case tooLong:
			case len(r.buf) > 0:
				r.buf = append(r.buf, chunk...)
				line = r.buf
			default:
				line = chunk
			}
			r.off += r.n
			r.n = 0
			r.skipping = false
			if cap(r.buf) > readBufSize {
				// Do not keep a megabyte per file after one long line.
				r.buf = nil
			} else {
				r.buf = r.buf[:0]
			}
			return line, tooLong, nil
		}
		if !r.skipping {
			if len(r.buf)+len(chunk) > r.max {
				r.skipping = true
				r.buf = nil
			} else {
				r.buf = append(r.buf, chunk...)
			}
		}
		if err != bufio.ErrBufferFull {
			return nil, false, err
		}
	}
}

// pending is the number of bytes of the partial line read so far.
func (r *lineReader) pending() int64 { return r.n }

// rest returns the partial line, for a stream that has ended for good (stdin).
func (r *lineReader) rest() (line []byte, tooLong, ok bool) {
	if r.n == 0 {
		return nil, false, false
	}
	return r.buf, r.skipping, true
}

// skip discards n bytes that are known to be whole lines (the part of a
// compressed rotated file that was read before the restart).
func (r *lineReader) skip(n int64) error {
	for n > 0 {
		step := n
		if step > 1<<30 {
			step = 1 << 30
		}
		d, err := r.br.Discard(int(step))
		r.off += int64(d)
		n -= int64(d)
		if err != nil {
			return err
		}
	}
	return nil
}
