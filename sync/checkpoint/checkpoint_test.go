package checkpoint

import (
	"math/rand/v2"
	"sync"
	"testing"
)

func TestWatermark(t *testing.T) {
	tr := New[int]()
	if _, ok := tr.Watermark(); ok {
		t.Fatal("fresh tracker has a watermark")
	}
	tr.End(10) // tx 1: no orders, settled at once
	if p, ok := tr.Watermark(); !ok || p != 10 {
		t.Fatalf("after empty tx: %d %v", p, ok)
	}
	a := tr.Add() // tx 2: two orders
	b := tr.Add()
	tr.End(20)
	c := tr.Add() // tx 3: one order
	tr.End(30)
	tr.End(40) // tx 4: empty
	tr.Ack(c)  // tx 3 settled, but tx 2 still open
	if p, _ := tr.Watermark(); p != 10 {
		t.Fatalf("watermark passed an unsettled tx: %d", p)
	}
	tr.Ack(a)
	if p, _ := tr.Watermark(); p != 10 {
		t.Fatalf("watermark moved with one of two orders settled: %d", p)
	}
	tr.Ack(b)
	if p, _ := tr.Watermark(); p != 40 {
		t.Fatalf("watermark = %d, want 40", p)
	}
	if n := tr.Pending(); n != 0 {
		t.Fatalf("pending = %d", n)
	}
}

func TestAckBeforeEnd(t *testing.T) {
	tr := New[int]()
	s := tr.Add()
	tr.Ack(s) // a fast worker settles before the reader sees the commit
	if _, ok := tr.Watermark(); ok {
		t.Fatal("watermark before the transaction ended")
	}
	tr.End(5)
	if p, ok := tr.Watermark(); !ok || p != 5 {
		t.Fatalf("watermark %d %v", p, ok)
	}
}

func TestEmptyRunsMerge(t *testing.T) {
	tr := New[int]()
	s := tr.Add()
	tr.End(1)
	for i := 2; i < 10000; i++ {
		tr.End(i)
	}
	if n := tr.Pending(); n > 2 {
		t.Fatalf("settled runs not merged: %d entries", n)
	}
	tr.Ack(s)
	if p, _ := tr.Watermark(); p != 9999 {
		t.Fatalf("watermark %d", p)
	}
}

// TestRandomAgainstModel checks the watermark against a brute-force model under random
// interleavings of concurrent acks.
func TestRandomAgainstModel(t *testing.T) {
	for round := 0; round < 50; round++ {
		rng := rand.New(rand.NewPCG(uint64(round), 7))
		tr := New[int]()
		type order struct{ seq uint64 }
		var orders []order
		txOf := map[uint64]int{} // seq -> pos
		for pos := 1; pos <= 200; pos++ {
			for k := rng.IntN(4); k > 0; k-- {
				orders = append(orders, order{tr.Add()})
			}
			txOf[uint64(pos)] = pos
			tr.End(pos)
		}
		rng.Shuffle(len(orders), func(i, j int) { orders[i], orders[j] = orders[j], orders[i] })
		settled := map[uint64]int{}
		total := map[uint64]int{}
		for _, o := range orders {
			total[o.seq]++
		}
		var wg sync.WaitGroup
		half := len(orders) / 2
		for _, o := range orders[:half] {
			wg.Add(1)
			go func(s uint64) { defer wg.Done(); tr.Ack(s) }(o.seq)
			settled[o.seq]++
		}
		wg.Wait()
		want := 0
		for pos := 1; pos <= 200; pos++ {
			if settled[uint64(pos)] < total[uint64(pos)] {
				break
			}
			want = pos
		}
		got, ok := tr.Watermark()
		if want == 0 && ok || want != 0 && got != want {
			t.Fatalf("round %d: watermark %d (ok %v), model %d", round, got, ok, want)
		}
		for _, o := range orders[half:] {
			tr.Ack(o.seq)
		}
		if got, _ := tr.Watermark(); got != 200 {
			t.Fatalf("round %d: final watermark %d", round, got)
		}
	}
}
