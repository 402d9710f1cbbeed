package pipeline

import (
	"context"
	"time"
)

// pollBackoff is how long a waybill waits for its next poll after its n-th failed poll in a
// row (n >= 1): first, doubling with every further failure, never more than ceiling (the
// carrier's own poll interval), so a carrier that is down is not asked about every waybill
// every minute.
func pollBackoff(first, ceiling time.Duration, n int) time.Duration {
	d := first
	for i := 1; i < n && d < ceiling; i++ {
		d *= 2
	}
	return min(d, ceiling)
}

// pollRetryFirst is the first wait after a failed poll: a minute, or retry.interval when that
// is shorter.
func (p *Pipeline) pollRetryFirst() time.Duration {
	return min(time.Minute, p.conf().Retry.Interval)
}

// pollFailed postpones the next poll of a waybill whose query failed (or whose carrier's circuit
// is open), further with every failure in a row, and logs it.
func (p *Pipeline) pollFailed(ctx context.Context, key, carrier string, cause error) error {
	n, err := p.store.PollFailed(ctx, key)
	if err != nil {
		return err
	}
	wait := pollBackoff(p.pollRetryFirst(), p.pollInterval(carrier), n)
	if err := p.store.SchedulePoll(ctx, key, time.Now().Add(wait)); err != nil {
		return err
	}
	p.log.Warn("poll failed; postponed", "carrier", carrier, "order", key, "failures", n, "next_in", wait, "err", cause)
	return nil
}
