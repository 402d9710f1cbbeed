package pipeline

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/shipsync/shipsync/sinks/shopdb"
	"github.com/shipsync/shipsync/sync/metrics"
	"github.com/shipsync/shipsync/sync/state"
)

// errNotReady: the order has no items yet (MyISAM shops write them after the paid order row).
var errNotReady = errors.New("order has no items yet")

// process takes one order as far as it can go. It returns nil once the order is settled —
// written back, conflict left alone, skipped, or parked in the retry schedule or the dead letter —
// and an error only when not even that could be recorded.
func (p *Pipeline) process(ctx context.Context, j job, owner string) error {
	res, rec, err := p.store.Claim(ctx, j.key, owner, p.conf().Workers.LeaseTTL)
	if err != nil {
		return err
	}
	switch res {
	case state.Done, state.Dead:
		return nil
	case state.Busy:
		// Another live worker holds it (a duplicate event): look again once it is done, or once
		// its process would have been declared dead.
		return p.store.Park(ctx, j.key, minTime(rec.LeaseUntil, time.Now().Add(aliveTTL)).Add(500*time.Millisecond))
	}
	if rec.Waybill != "" {
		return p.writeBack(ctx, owner, rec, j.at)
	}

	if d := p.conf().Orders.ReadDelay; d > 0 {
		if err := sleep(ctx, d); err != nil {
			return err
		}
	}
	order, items, found, err := p.enrich(ctx, j.key)
	switch {
	case errors.Is(err, errNotReady), isPermanent(err): // not ready yet, or unusable data
		return p.fail(ctx, owner, rec, "", err, false)
	case err != nil:
		return p.fail(ctx, owner, rec, "", shopDown{err}, false)
	case !found:
		p.stats.Skipped.Add(1)
		p.obs.m.Orders.WithLabelValues(metrics.OrderSkipped).Inc()
		p.log.Info("order no longer eligible when read; skipped", "order", j.key)
		return p.store.Skipped(ctx, j.key, owner, "not eligible when read (cancelled or already shipped)")
	}
	ship, err := shipment(order, items, p.conf().Sender)
	if err != nil {
		return p.fail(ctx, owner, rec, "", err, false)
	}
	order.WeightKg = ship.WeightKg // routing by weight sees the items' sum when the query has none

	candidates, err := p.candidates(order, rec)
	if err != nil {
		return p.deadLetter(ctx, owner, rec, err.Error(), false)
	}
	var wb Waybill
	var slot *carrierSlot
	var round []refusal
	for _, slot = range candidates {
		wb, err = p.create(ctx, j.key, owner, &rec, slot, ship)
		if err == nil {
			break
		}
		if maybeCreated(err) {
			// It may exist at this carrier: only this carrier, with this OrderCode, may be asked
			// again (it answers 106 with the same waybill). Never fail over now.
			rec.Sticky = true
			return p.fail(ctx, owner, rec, slot.name, err, false)
		}
		// Certainly nothing was created (refused connection, open circuit, explicit
		// rejection): the next carrier may try.
		round = append(round, refusal{slot.name, err})
		p.log.Warn("carrier made no waybill; failing over", "order", j.key, "carrier", slot.name, "err", err)
	}
	if err != nil {
		// rec.Sticky is what the claim found: a pin from an earlier ambiguous call stays, since
		// that carrier may still hold a waybill; this round added none.
		return p.fail(ctx, owner, rec, rec.Carrier, roundError(round), false)
	}
	pickup := ""
	if !wb.PickupTime.IsZero() {
		pickup = wb.PickupTime.Format(time.DateTime)
	}
	// Events are recorded before the state change they announce, so that a crash between the two
	// repeats the event on replay instead of losing it (at least once).
	p.emit(ctx, Event{Type: EventWaybillCreated, Order: j.key, OrderCode: order.Code, Carrier: slot.name, Waybill: wb.Number})
	now := time.Now()
	if err := p.store.RecordWaybill(ctx, j.key, owner, slot.name, wb.Number, pickup,
		now.Add(p.conf().Watchdog.NoPickupAfter), now.Add(p.pollInterval(slot.name))); err != nil {
		// The carrier keeps the waybill under this order code; a retry gets it back (106).
		return err
	}
	rec.Waybill, rec.PickupTime = wb.Number, pickup
	p.obs.remember(orderRow(j.key, slot.name, order))
	return p.writeBack(ctx, owner, rec, j.at)
}

// create asks one carrier for the waybill, through its circuit breaker, rate limit and
// in-flight bound, after recording in Redis which carrier is being asked.
func (p *Pipeline) create(ctx context.Context, key, owner string, rec *state.Record, slot *carrierSlot, ship Shipment) (Waybill, error) {
	var wb Waybill
	err := p.through(ctx, slot, func() error {
		if err := p.store.Submitting(ctx, key, owner, ship.OrderCode, slot.name, slot.shipperCode); err != nil {
			return err
		}
		rec.OrderCode, rec.Carrier, rec.ShipperCode = ship.OrderCode, slot.name, slot.shipperCode
		return nil
	}, func(ctx context.Context) error {
		p.stats.CarrierCalls.Add(1)
		start := time.Now()
		var err error
		wb, err = slot.c.Create(ctx, ship)
		p.obs.carrierCall(slot.name, "create", callOutcome(err, wb.Repeat), time.Since(start))
		return err
	})
	return wb, err
}

// enrich reads the order and its items. "No items yet" is re-read until orders.ready_timeout;
// so is "no row", which may be a commit not yet visible to a fresh read.
func (p *Pipeline) enrich(ctx context.Context, key string) (shopdb.Order, []shopdb.Item, bool, error) {
	deadline := time.Now().Add(p.conf().Orders.ReadyTimeout)
	pause := 50 * time.Millisecond
	for {
		order, found, err := p.db.Order(ctx, key)
		if err != nil {
			return shopdb.Order{}, nil, false, err
		}
		var items []shopdb.Item
		ready := found
		if found && p.db.HasItemsQuery() {
			items, err = p.db.Items(ctx, key)
			if err != nil {
				return shopdb.Order{}, nil, false, err
			}
			ready = len(items) > 0
		}
		if ready {
			return order, items, true, nil
		}
		if time.Now().Add(pause).After(deadline) {
			if found {
				return shopdb.Order{}, nil, false, fmt.Errorf("%w after %s", errNotReady, p.conf().Orders.ReadyTimeout)
			}
			return shopdb.Order{}, nil, false, nil
		}
		if err := sleep(ctx, pause); err != nil {
			return shopdb.Order{}, nil, false, err
		}
		pause = min(2*pause, time.Second)
	}
}

// writeBack writes the recorded waybill into the shop. paidAt is the binlog time of the paid
// event (zero for retries), for the end-to-end histogram.
func (p *Pipeline) writeBack(ctx context.Context, owner string, rec state.Record, paidAt time.Time) error {
	start := time.Now()
	res := p.writeWaybill(ctx, state.Owned{Key: rec.Key, Owner: owner}, writeValues(rec, "", "", start))
	outcome, existing, err := res.outcome, res.existing, res.err
	metrics.Since(p.obs.m.WritebackDuration.WithLabelValues("waybill"), start)
	if err != nil {
		p.obs.m.Writebacks.WithLabelValues("waybill", "error").Inc()
		return p.fail(ctx, owner, rec, rec.Carrier, shopDown{err}, true)
	}
	p.obs.m.Writebacks.WithLabelValues("waybill", outcome.String()).Inc()
	switch outcome {
	case shopdb.Written, shopdb.AlreadyWritten:
		if outcome == shopdb.AlreadyWritten {
			p.stats.AlreadyWritten.Add(1)
			p.obs.m.Orders.WithLabelValues(metrics.OrderAlreadyWritten).Inc()
		}
		if res.marked != nil { // recorded by the writer (state.WrittenMany)
			return res.marked
		}
		p.stats.Written.Add(1)
		p.obs.written(rec.Carrier)
		if !paidAt.IsZero() {
			metrics.Since(p.obs.m.EndToEnd, paidAt)
		}
		return nil
	case shopdb.Conflict:
		p.stats.Conflicts.Add(1)
		p.obs.m.Orders.WithLabelValues(metrics.OrderConflict).Inc()
		p.log.Warn("waybill conflict: the shop already has another waybill; left untouched",
			"order", rec.Key, "order_code", rec.OrderCode, "ours", rec.Waybill, "theirs", existing)
		p.emit(ctx, Event{Type: EventConflict, Order: rec.Key, OrderCode: rec.OrderCode, Carrier: rec.Carrier,
			Waybill: rec.Waybill, Reason: "the shop already has waybill " + existing})
		return p.store.Conflicted(ctx, rec.Key, owner, existing)
	default:
		return p.deadLetter(ctx, owner, rec, "write-back matched no row: the order row is gone or no longer matches the guard", false)
	}
}

// fail logs the failure once and parks the order: the dead letter for permanent errors and
// exhausted retries, the retry schedule otherwise.
func (p *Pipeline) fail(ctx context.Context, owner string, rec state.Record, carrier string, cause error, waybilled bool) error {
	attempt := rec.Attempts + 1
	var open circuitOpen
	if errors.As(cause, &open) {
		// Nothing was tried: no attempt is used up; look again when the breaker lets a probe through.
		due := time.Now().Add(p.slots()[open.carrier].br.cooldown)
		_, err := p.store.ScheduleRetry(ctx, rec.Key, owner, cause.Error(), due, false, waybilled, rec.Sticky)
		return err
	}
	var down shopDown
	if errors.As(cause, &down) {
		// The shop's database failing is not the order's fault: retry until it is back, using
		// up no attempt (a restart of MariaDB must not fill the dead letter).
		p.log.Warn("shop database unavailable; will retry", "order", rec.Key, "err", cause)
		p.stats.Retries.Add(1)
		_, err := p.store.ScheduleRetry(ctx, rec.Key, owner, cause.Error(), time.Now().Add(p.retryDelay(1)), false, waybilled, rec.Sticky)
		return err
	}
	if isPermanent(cause) {
		p.log.Warn("order failed permanently", "order", rec.Key, "carrier", carrier, "attempt", attempt, "err", cause)
		return p.deadLetter(ctx, owner, rec, cause.Error(), true)
	}
	if attempt >= p.conf().Retry.MaxAttempts {
		p.log.Warn("order failed; retries exhausted", "order", rec.Key, "carrier", carrier, "attempt", attempt, "err", cause)
		return p.deadLetter(ctx, owner, rec, fmt.Sprintf("gave up after %d attempts: %v", attempt, cause), true)
	}
	due := time.Now().Add(p.retryDelay(attempt))
	p.log.Warn("order failed; will retry", "order", rec.Key, "carrier", carrier, "attempt", attempt,
		"err", cause, "retry_at", due.Format(time.RFC3339))
	p.stats.Retries.Add(1)
	p.obs.m.Orders.WithLabelValues(metrics.OrderRetried).Inc()
	_, err := p.store.ScheduleRetry(ctx, rec.Key, owner, cause.Error(), due, true, waybilled, rec.Sticky)
	return err
}

func (p *Pipeline) deadLetter(ctx context.Context, owner string, rec state.Record, reason string, countAttempt bool) error {
	p.stats.DeadLettered.Add(1)
	p.obs.m.Orders.WithLabelValues(metrics.OrderDeadLettered).Inc()
	p.emit(ctx, Event{Type: EventDeadLettered, Order: rec.Key, OrderCode: rec.OrderCode, Carrier: rec.Carrier, Reason: reason})
	return p.store.DeadLetter(ctx, rec.Key, owner, reason, countAttempt, rec.Sticky)
}

// retryDelay is retry.interval, or with backoff: exponential interval x 2^(attempt-1) with
// +-20 % jitter (so a burst of failures does not retry in lockstep), capped at max_interval.
func (p *Pipeline) retryDelay(attempt int) time.Duration {
	r := p.conf().Retry
	if r.Backoff != "exponential" {
		return r.Interval
	}
	d := r.Interval << min(max(attempt-1, 0), 30)
	if d <= 0 || d > r.MaxInterval {
		d = r.MaxInterval
	}
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// callOutcome labels a carrier call: success, repeat (106: created before), permanent or
// transient.
func callOutcome(err error, repeat bool) string {
	switch {
	case err == nil && repeat:
		return "repeat"
	case err == nil, errors.Is(err, errNoTrace):
		return "success"
	case isPermanent(err):
		return "permanent"
	}
	return "transient"
}

// shopDown wraps an error of the shop's database (a read or the write-back).
type shopDown struct{ err error }

func (e shopDown) Error() string { return "shop database: " + e.err.Error() }
func (e shopDown) Unwrap() error { return e.err }

// writeValues are the named parameters of every write-back template.
func writeValues(rec state.Record, status, reason string, eventTime time.Time) map[string]any {
	return map[string]any{
		"key": rec.Key, "waybill": rec.Waybill, "carrier": rec.Carrier, "shipper_code": rec.ShipperCode,
		"order_code": rec.OrderCode, "pickup_time": rec.PickupTime, "status": status, "reason": reason,
		"event_time": eventTime.Format(time.DateTime), "now": time.Now().Format(time.DateTime),
	}
}
