package simkit

import (
	"context"
	"testing"
	"time"
)

func TestDice(t *testing.T) {
	d := NewDice(1, 2)
	if d.Roll(0) || !d.Roll(1) {
		t.Fatal("certain outcomes")
	}
	hits := 0
	for range 10000 {
		if d.Roll(0.3) {
			hits++
		}
	}
	if hits < 2700 || hits > 3300 {
		t.Fatalf("rate 0.3 hit %d of 10000", hits)
	}
	if a, b := NewDice(5, 5).Float64(), NewDice(5, 5).Float64(); a != b {
		t.Fatal("same seed, different numbers")
	}
}

func TestSleepEndsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	Sleep(ctx, time.Hour)
	if time.Since(start) > time.Second {
		t.Fatal("Sleep outlived its context")
	}
}
