package tailer

import (
	"context"
	"unsafe"
)

// batchLines is how many events go in one send: a channel operation per
// line cost a fifth of the daemon's catch-up time.
const batchLines = 256

// arenaSize is the size of the blocks that line texts are copied into: one
// block per batch instead of an allocation per line.
const arenaSize = 64 << 10

// maxFree bounds the released buffers kept for reuse.
const maxFree = 8

// Batch is what Run sends: events in file order. Idle says that every file
// had been read to its end when the batch was sent (and nothing follows
// until a file grows), a good moment to commit.
//
// The texts of a batch's lines stay valid until the batch is given back
// with Release; a receiver that never releases may keep them for good.
type Batch struct {
	Lines []Line
	Idle  bool
	buf   *buffer
}

// buffer is the memory of one batch: its lines and the blocks their texts
// are in. Zeroing fresh blocks cost more than reading the lines into them.
type buffer struct {
	lines  []Line
	blocks [][]byte
	cur    int // the block being filled
}

// Release gives a batch's memory back for reuse; its lines and their texts
// must not be used afterwards. Safe from any goroutine; optional.
func (t *Tailer) Release(b Batch) {
	buf := b.buf
	if buf == nil {
		return
	}
	clear(buf.lines) // no stale paths or texts kept reachable
	buf.lines = buf.lines[:0]
	blocks := buf.blocks[:0]
	for _, blk := range buf.blocks {
		if cap(blk) == arenaSize { // a block of one long line is not kept
			blocks = append(blocks, blk[:0])
		}
	}
	buf.blocks, buf.cur = blocks, 0
	select {
	case t.free <- buf:
	default:
	}
}

func (t *Tailer) newBuffer() *buffer {
	select {
	case buf := <-t.free:
		return buf
	default:
		return &buffer{lines: make([]Line, 0, batchLines)}
	}
}

// queuePending moves the queued Header and Gone events into the batch, so
// they go before any further line.
func (t *Tailer) queuePending() {
	if len(t.pending) == 0 {
		return
	}
	if t.batch == nil {
		t.batch = t.newBuffer()
	}
	t.batch.lines = append(t.batch.lines, t.pending...)
	t.pending = nil
}

// ship sends the batch (and what is pending). The receiver owns what it
// was sent.
func (t *Tailer) ship(ctx context.Context, out chan<- Batch, idle bool) bool {
	t.queuePending()
	n := 0
	if t.batch != nil {
		n = len(t.batch.lines)
	}
	// An empty batch goes only to say Idle once after reading.
	if n == 0 && (!idle || t.idleSent) {
		return true
	}
	b := Batch{Idle: idle}
	if n > 0 {
		b.Lines, b.buf = t.batch.lines, t.batch
	}
	select {
	case out <- b:
		t.sent += int64(n)
		if n > 0 {
			t.batch = nil
		}
		t.idleSent = idle
		return true
	case <-ctx.Done():
		return false
	}
}

// send adds l to the batch and sends the batch when it is full.
func (t *Tailer) send(ctx context.Context, out chan<- Batch, l Line) bool {
	t.queuePending()
	if t.batch == nil {
		t.batch = t.newBuffer()
	}
	t.batch.lines = append(t.batch.lines, l)
	if len(t.batch.lines) >= batchLines {
		return t.ship(ctx, out, false)
	}
	return true
}

// text copies a line into the batch's blocks. A block is only appended to
// until the batch is released, so the strings made from it stay valid that
// long.
func (t *Tailer) text(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if t.batch == nil {
		t.batch = t.newBuffer()
	}
	buf := t.batch
	for buf.cur < len(buf.blocks) && cap(buf.blocks[buf.cur])-len(buf.blocks[buf.cur]) < len(b) {
		buf.cur++
	}
	if buf.cur == len(buf.blocks) {
		buf.blocks = append(buf.blocks, make([]byte, 0, max(arenaSize, len(b))))
	}
	blk := buf.blocks[buf.cur]
	start := len(blk)
	blk = append(blk, b...)
	buf.blocks[buf.cur] = blk
	return unsafe.String(&blk[start], len(b))
}
