package parcel

import (
	"context"
	"errors"
	"time"

	"github.com/shipsync/shipsync/sources/poll"
	"github.com/shipsync/shipsync/sources/webhook"
	"github.com/shipsync/shipsync/sync/carrier"
	"github.com/shipsync/shipsync/sync/loop"
	"github.com/shipsync/shipsync/sync/state"
	"github.com/shipsync/shipsync/sync/status"
)

// watchdog flags waybills never picked up (exactly once each: a flagged order leaves the watch)
// and reports paid orders stuck without a waybill. It reads only what is due.
func (s *Stage) watchdog(ctx context.Context) {
	loop.Tick(ctx, s.conf().Watchdog.ScanEvery, func() { s.scan(ctx) })
}

// scan is one watchdog pass.
func (s *Stage) scan(ctx context.Context) {
	cfg := s.conf()
	for {
		keys, err := s.store.DuePickups(ctx, time.Now(), 256)
		if err != nil || len(keys) == 0 {
			if err != nil && ctx.Err() == nil {
				s.log.Warn("watchdog: pickup watch unreadable", "err", err)
			}
			break
		}
		failed := 0
		for _, k := range keys {
			if err := s.flagNoPickup(ctx, k); err != nil {
				if ctx.Err() != nil {
					return
				}
				// One order's failure is not the others': it is looked at again next scan.
				failed++
				s.m.ScanErrors.WithLabelValues("watchdog").Inc()
				s.log.Warn("watchdog: no-pickup flag not applied; will try again", "order", k, "err", err)
				if err := s.store.PostponePickup(ctx, k, time.Now().Add(cfg.Watchdog.ScanEvery)); err != nil {
					return // Redis is failing: the next scan tries again
				}
			}
		}
		if failed == len(keys) {
			break // nothing but failures: do not spin on them until the next scan
		}
	}
	stuck, err := s.store.StuckOrders(ctx, time.Now().Add(-cfg.Watchdog.StuckAfter), 1000)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("watchdog: stuck orders unreadable", "err", err)
		}
		return
	}
	for _, r := range stuck {
		s.m.StuckOrders.Inc()
		s.log.Warn("paid order stuck without a waybill", "order", r.Key, "state", r.State,
			"since", r.CreatedAt.Format(time.RFC3339), "attempts", r.Attempts, "last_error", r.LastError)
	}
	s.m.WatchdogScans.Inc()
}

// noPickup is the watchdog's observation: the parcel is still only created, and that is a
// problem. As an event at the created rank it can never flag a parcel whose pickup was applied
// meanwhile (a push landing while the watchdog decides is of a higher rank: the flag is stale).
var noPickup = status.Event{Status: status.Created, Exception: true, Reason: "no_pickup", Code: "watchdog"}

// flagNoPickup applies the no-pickup flag to one due order and settles its watch entry.
func (s *Stage) flagNoPickup(ctx context.Context, key string) error {
	o, err := s.applyToOrder(ctx, key, always(noPickup))
	if err != nil {
		return err
	}
	switch o {
	case webhook.UnknownWaybill: // the waybill is not written back yet: look again later
		return s.store.PostponePickup(ctx, key, time.Now().Add(s.conf().Watchdog.ScanEvery))
	case webhook.OK:
		s.m.NoPickup.Inc()
		s.log.Warn("parcel not picked up", "order", key, "after", s.conf().Watchdog.NoPickupAfter)
	}
	return s.store.DonePickup(ctx, key)
}

// poller asks carriers about due waybills.
func (s *Stage) poller(ctx context.Context) {
	every := max(min(s.conf().Watchdog.ScanEvery, 5*time.Second), 50*time.Millisecond)
	poll.Run(ctx, every, 16, func(ctx context.Context) ([]string, error) {
		return s.store.DuePolls(ctx, 256, time.Minute)
	}, func(ctx context.Context, key string) {
		if err := s.pollOne(ctx, key); err != nil && ctx.Err() == nil {
			// Polled again when its hand-out lapses; the other due waybills go on meanwhile.
			s.m.ScanErrors.WithLabelValues("poll").Inc()
			s.log.Warn("poll failed; will poll again", "order", key, "err", err)
		}
	})
}

func (s *Stage) pollOne(ctx context.Context, key string) error {
	cfg, carriers := s.settings()
	rec, ok, err := s.store.Get(ctx, key)
	switch {
	case err != nil:
		return err
	case !ok || rec.Waybill == "" || shopLacksWaybill(rec.State):
		return s.store.ForgetParcel(ctx, key)
	case rec.State != state.Written:
		return s.store.SchedulePoll(ctx, key, time.Now().Add(pollInterval(cfg, rec.Carrier)))
	}
	c, ok := carriers[rec.Carrier]
	if !ok {
		// Nobody can ask about it any more; the no-pickup watch still covers it.
		s.log.Warn("carrier no longer configured; waybill no longer polled", "carrier", rec.Carrier, "order", key)
		return s.store.DonePoll(ctx, key)
	}
	if !c.Tracks() {
		// This carrier type cannot be asked; its pushes are all there is.
		return s.store.SchedulePoll(ctx, key, time.Now().Add(pollInterval(cfg, rec.Carrier)))
	}
	call, err := c.Admit()
	var u webhook.Update
	if err == nil {
		u, err = call.Track(ctx, rec.ShipperCode, rec.Waybill, rec.OrderCode)
	}
	if _, stopped := errors.AsType[carrier.NotCalled](err); stopped {
		return err // shutting down: polled again when the hand-out lapses
	}
	if err != nil && !errors.Is(err, carrier.ErrNoTrace) {
		return s.pollFailed(ctx, key, rec.Carrier, err)
	}
	if err := s.store.PollSucceeded(ctx, key); err != nil {
		return err
	}
	if err == nil {
		o, err := s.applyToOrder(ctx, key, always(s.event(rec.Carrier, u))) // the key is known: no index look-up
		if err != nil || o == webhook.OK {
			return err // an applied status rescheduled the poll itself
		}
	}
	return s.store.SchedulePoll(ctx, key, time.Now().Add(pollInterval(cfg, rec.Carrier)))
}

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

// pollFailed postpones the next poll of a waybill whose query failed (or whose carrier's circuit
// is open), further with every failure in a row, and logs it. The first wait is a minute, or
// retry.interval when that is shorter.
func (s *Stage) pollFailed(ctx context.Context, key, carrierName string, cause error) error {
	n, err := s.store.PollFailed(ctx, key)
	if err != nil {
		return err
	}
	cfg := s.conf()
	wait := pollBackoff(min(time.Minute, cfg.Retry.Interval), pollInterval(cfg, carrierName), n)
	if err := s.store.SchedulePoll(ctx, key, time.Now().Add(wait)); err != nil {
		return err
	}
	s.log.Warn("poll failed; postponed", "carrier", carrierName, "order", key, "failures", n, "next_in", wait, "err", cause)
	return nil
}
