package pipeline

import (
	"testing"
	"time"

	"github.com/shipsync/shipsync/sync/config"
)

func TestRetryDelay(t *testing.T) {
	fixed := testPipeline(&config.Config{Retry: config.Retry{Interval: 5 * time.Second, Backoff: "fixed", MaxInterval: time.Minute}}, nil)
	if d := fixed.retryDelay(7); d != 5*time.Second {
		t.Errorf("fixed: %v", d)
	}
	exp := testPipeline(&config.Config{Retry: config.Retry{Interval: time.Second, Backoff: "exponential", MaxInterval: time.Minute}}, nil)
	for _, tt := range []struct {
		attempt int
		base    time.Duration
	}{{1, time.Second}, {2, 2 * time.Second}, {5, 16 * time.Second}, {7, time.Minute}, {40, time.Minute}, {200, time.Minute}} {
		lo, hi := time.Duration(float64(tt.base)*0.8), time.Duration(float64(tt.base)*1.2)
		seen := map[time.Duration]bool{}
		for range 50 {
			d := exp.retryDelay(tt.attempt)
			if d < lo || d > hi {
				t.Fatalf("attempt %d: %v outside [%v, %v]", tt.attempt, d, lo, hi)
			}
			seen[d] = true
		}
		if len(seen) < 2 {
			t.Errorf("attempt %d: no jitter", tt.attempt)
		}
	}
}

// testPipeline is a Pipeline with only its settings, for unit tests of what reads them.
func testPipeline(cfg *config.Config, slots map[string]*carrierSlot) *Pipeline {
	p := &Pipeline{}
	p.live.Store(&settings{cfg: cfg, carriers: slots})
	return p
}
