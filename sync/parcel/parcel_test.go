package parcel

import (
	"testing"
	"time"
)

// TestPollBackoff: a waybill whose trace query keeps failing waits twice as long after each
// failure in a row, from first, never longer than ceiling (the carrier's poll interval), and
// never overflows.
func TestPollBackoff(t *testing.T) {
	tests := []struct {
		first, ceiling time.Duration
		n              int
		want           time.Duration
	}{
		{time.Minute, 30 * time.Minute, 1, time.Minute},
		{time.Minute, 30 * time.Minute, 2, 2 * time.Minute},
		{time.Minute, 30 * time.Minute, 5, 16 * time.Minute},
		{time.Minute, 30 * time.Minute, 6, 30 * time.Minute},
		{time.Minute, 30 * time.Minute, 1000, 30 * time.Minute}, // no overflow
		{time.Minute, 20 * time.Second, 1, 20 * time.Second},    // the poll interval is the cap, even at once
		{200 * time.Millisecond, 2 * time.Second, 3, 800 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := pollBackoff(tt.first, tt.ceiling, tt.n); got != tt.want {
			t.Errorf("pollBackoff(%s, %s, %d) = %s, want %s", tt.first, tt.ceiling, tt.n, got, tt.want)
		}
	}
}
