// Package checkpoint tracks which binlog transactions are settled, so the saved position never
// passes an order that is still in flight.
//
// Transactions are numbered as the reader meets them. Each knows its end position and how many of
// its paid orders are not settled yet (written back, or durably parked in Redis). The watermark is
// the end position of the highest transaction below which every transaction is settled: the
// contiguous-ack watermark of Benthos's checkpointer. It imports nothing from the module.
package checkpoint

import "sync"

// Tracker is safe for concurrent use: the reader calls Add and End, workers call Ack.
type Tracker[P any] struct {
	mu      sync.Mutex
	seq     uint64      // the open transaction
	pending int         // unsettled orders of the open transaction
	closed  []*entry[P] // ended transactions not yet below the watermark, by seq
	mark    P
	hasMark bool
}

type entry[P any] struct {
	seq     uint64
	pending int
	pos     P
}

// New returns a tracker whose first transaction is numbered 1.
func New[P any]() *Tracker[P] { return &Tracker[P]{seq: 1} }

// Add counts one more unsettled order in the open transaction and returns its number, to be
// passed to Ack when the order settles.
func (t *Tracker[P]) Add() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.pending++
	return t.seq
}

// End closes the open transaction at pos (the position after it) and opens the next.
func (t *Tracker[P]) End(pos P) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.pending == 0 {
		if n := len(t.closed); n > 0 && t.closed[n-1].pending == 0 {
			// Two settled neighbours: nothing will ever Ack the later one, so one entry does.
			t.closed[n-1].seq, t.closed[n-1].pos = t.seq, pos
		} else {
			t.closed = append(t.closed, &entry[P]{seq: t.seq, pos: pos})
		}
	} else {
		t.closed = append(t.closed, &entry[P]{seq: t.seq, pending: t.pending, pos: pos})
	}
	t.seq++
	t.pending = 0
	t.advance()
}

// Ack settles one order of transaction seq.
func (t *Tracker[P]) Ack(seq uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if seq == t.seq {
		t.pending--
		return
	}
	// closed is sorted by seq; a merged entry carries the highest seq of its run, and only
	// entries with pending orders are ever acked, which are never merged.
	lo, hi := 0, len(t.closed)
	for lo < hi {
		mid := (lo + hi) / 2
		if t.closed[mid].seq < seq {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo < len(t.closed) && t.closed[lo].seq == seq {
		t.closed[lo].pending--
		t.advance()
	}
}

func (t *Tracker[P]) advance() {
	i := 0
	for i < len(t.closed) && t.closed[i].pending <= 0 {
		t.mark, t.hasMark = t.closed[i].pos, true
		i++
	}
	if i > 0 {
		clear(t.closed[:i])
		t.closed = t.closed[i:]
	}
}

// Watermark returns the position up to which everything is settled; ok is false until the
// first transaction settles.
func (t *Tracker[P]) Watermark() (pos P, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.mark, t.hasMark
}

// Pending returns the number of transactions held back from the watermark (for metrics).
func (t *Tracker[P]) Pending() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.closed)
}
