package poll

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var rounds atomic.Int32
	var mu sync.Mutex
	seen := map[int]int{}
	var inFlight, peak atomic.Int32
	done := make(chan struct{})
	go func() {
		defer close(done)
		Run(ctx, time.Millisecond, 3, func(context.Context) ([]int, error) {
			if rounds.Add(1) > 1 {
				return nil, nil
			}
			return []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, nil
		}, func(_ context.Context, n int) {
			cur := inFlight.Add(1)
			for p := peak.Load(); cur > p && !peak.CompareAndSwap(p, cur); p = peak.Load() {
			}
			time.Sleep(2 * time.Millisecond)
			inFlight.Add(-1)
			mu.Lock()
			seen[n]++
			mu.Unlock()
		})
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := len(seen)
		mu.Unlock()
		if n == 10 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done // Run waits for checks in flight
	if len(seen) != 10 || peak.Load() > 3 {
		t.Fatalf("checked %v, peak concurrency %d (limit 3)", seen, peak.Load())
	}
}
