package signedjson

import (
	"container/heap"
	"crypto/sha256"
	"sync"
	"time"
)

// DefaultReplayEntries bounds a Replays built with maxEntries <= 0. An entry takes about 100 bytes,
// so the default costs about 10 MB at most.
const DefaultReplayEntries = 100_000

// Replays remembers the signatures accepted within a window and rejects a second use of one.
// Memory is bounded: entries expire, and when maxEntries entries are live the oldest is forgotten
// first (its replay would then get through; downstream deduplication by event id and monotonic
// status updates make that harmless, whereas refusing fresh pushes would stall them). It is
// safe for concurrent use.
//
// Expiry runs on the signed times it is given, not on a wall clock, so that it agrees with
// the now that Verify was given. A signed time that verified lies at most window after the
// verifier's clock, so the newest signed time seen is at most now + window; an entry older
// than that newest time minus 2×window is therefore older than now − window, and Verify
// would reject its replay as stale before it reached Seen. window must be at least the
// tolerance given to Verify.
type Replays struct {
	window     time.Duration
	maxEntries int

	mu     sync.Mutex
	newest time.Time
	seen   map[[sha256.Size]byte]struct{}
	byTime replayHeap
}

// NewReplays returns an empty Replays. window <= 0 means DefaultTolerance; maxEntries <= 0
// means DefaultReplayEntries.
func NewReplays(window time.Duration, maxEntries int) *Replays {
	if window <= 0 {
		window = DefaultTolerance
	}
	if maxEntries <= 0 {
		maxEntries = DefaultReplayEntries
	}
	return &Replays{window: window, maxEntries: maxEntries, seen: make(map[[sha256.Size]byte]struct{})}
}

// Seen records sig, a signature that Verify accepted with signed time t, and reports whether
// it had been recorded before. Call it only after Verify succeeded: it trusts t. A t already
// beyond the expiry horizon is not recorded and reports false.
func (r *Replays) Seen(sig string, t time.Time) bool {
	key := sha256.Sum256([]byte(sig)) // fixed-size key, whatever the signature's length
	r.mu.Lock()
	defer r.mu.Unlock()
	if t.After(r.newest) {
		r.newest = t
	}
	horizon := r.newest.Add(-2 * r.window)
	for len(r.byTime) > 0 && r.byTime[0].t.Before(horizon) {
		delete(r.seen, heap.Pop(&r.byTime).(replayEntry).key)
	}
	if _, ok := r.seen[key]; ok {
		return true
	}
	if t.Before(horizon) {
		return false
	}
	for len(r.byTime) >= r.maxEntries {
		delete(r.seen, heap.Pop(&r.byTime).(replayEntry).key)
	}
	r.seen[key] = struct{}{}
	heap.Push(&r.byTime, replayEntry{key: key, t: t})
	return false
}

// Len returns the number of signatures remembered now.
func (r *Replays) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seen)
}

type replayEntry struct {
	key [sha256.Size]byte
	t   time.Time
}

// replayHeap is a min-heap of entries by signed time: signed times arrive only roughly in
// order (clocks differ by up to the tolerance), so a FIFO would expire the wrong ones.
type replayHeap []replayEntry

func (h replayHeap) Len() int           { return len(h) }
func (h replayHeap) Less(i, j int) bool { return h[i].t.Before(h[j].t) }
func (h replayHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *replayHeap) Push(x any)        { *h = append(*h, x.(replayEntry)) }
func (h *replayHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}
