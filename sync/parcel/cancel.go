package parcel

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/shipsync/shipsync/sources/webhook"
	"github.com/shipsync/shipsync/sync/carrier"
	"github.com/shipsync/shipsync/sync/outbox"
	"github.com/shipsync/shipsync/sync/state"
	"github.com/shipsync/shipsync/sync/status"
)

// CancelOutcome is what a cancellation did (DESIGN.md §2 "Cancellation").
type CancelOutcome string

// Outcomes of Cancel.
const (
	// Cancelled: the carrier cancelled the waybill; writeback.status.cancelled was written.
	Cancelled CancelOutcome = "cancelled"
	// AfterPickup: the parcel is on its way; the exception cancel_after_pickup was written back
	// for a person to intercept it.
	AfterPickup CancelOutcome = "cancel_after_pickup"
	// NotShipped: the order has no waybill in the shop: nothing to cancel.
	NotShipped CancelOutcome = "not_shipped"
	// AlreadyCancelled: an earlier cancellation went through.
	AlreadyCancelled CancelOutcome = "already_cancelled"
)

// ErrPending means the order's waybill is being created or written right now: ask again once
// that has settled.
var ErrPending = errors.New("order is being shipped; cancel again once it settles")

// ReasonCancelAfterPickup is the exception's reason when a cancelled order's parcel is already
// picked up.
const ReasonCancelAfterPickup = "cancel_after_pickup"

// Cancel cancels the waybill of order key at its carrier (Kdniao 1147) while the parcel is not
// picked up, and writes the cancellation back; once it is picked up (known from its status, or
// from the carrier's refusal) it flags the exception cancel_after_pickup instead, once. A
// transient carrier failure is returned: cancelling again is safe, since a cancelled waybill
// stays cancelled. ErrPending: the order is in the middle of its shipping; try later.
func (s *Stage) Cancel(ctx context.Context, key string) (CancelOutcome, error) {
	out, err := s.cancel(ctx, key)
	if err == nil {
		s.m.Cancels.WithLabelValues(string(out)).Inc()
	}
	return out, err
}

func (s *Stage) cancel(ctx context.Context, key string) (CancelOutcome, error) {
	rec, ok, err := s.store.Get(ctx, key)
	switch {
	case err != nil:
		return "", err
	case !ok:
		return NotShipped, nil
	case rec.State == state.Detected || rec.State == state.Submitting || rec.State == state.Waybilled:
		if rec.State == state.Detected && rec.Waybill == "" && !rec.LeaseUntil.After(time.Now()) {
			return NotShipped, nil // a claim that died before asking any carrier
		}
		return "", ErrPending
	case rec.Waybill == "" || shopLacksWaybill(rec.State):
		// Retrying orders read the shop again, and a cancelled order no longer qualifies.
		return NotShipped, nil
	case rec.Status == string(status.Cancelled):
		return AlreadyCancelled, nil
	case status.Status(rec.Status).Rank() >= status.PickedUp.Rank():
		return s.flagAfterPickup(ctx, key, "the parcel is on its way")
	}
	_, carriers := s.settings()
	c, ok := carriers[rec.Carrier]
	if !ok {
		return "", &carrier.Permanent{Reason: fmt.Sprintf("carrier %s is no longer configured: cancel waybill %s at the carrier by hand", rec.Carrier, rec.Waybill)}
	}
	call, err := c.Admit()
	if err != nil {
		return "", err
	}
	err = call.Cancel(ctx, rec.ShipperCode, rec.OrderCode, rec.Waybill)
	switch {
	case carrier.IsPermanent(err) && c.Cancels():
		// Kdniao refuses the cancel of a known waybill once its parcel is picked up.
		s.log.Warn("carrier refused to cancel the waybill", "order", key, "waybill", rec.Waybill, "err", err)
		return s.flagAfterPickup(ctx, key, err.Error())
	case err != nil:
		return "", err
	}
	// Recorded before the state change it announces, like every event.
	s.events.Emit(ctx, outbox.Event{Type: outbox.Cancelled, Order: key, OrderCode: rec.OrderCode, Carrier: rec.Carrier,
		Waybill: rec.Waybill, Status: string(status.Cancelled), Time: time.Now()})
	o, err := s.applyToOrder(ctx, key, always(status.Event{Status: status.Cancelled, Time: time.Now(),
		Reason: "cancelled by the shop", Code: "1147"}))
	if err != nil {
		return "", err
	}
	if o != webhook.OK && o != webhook.Duplicate && o != webhook.Stale {
		return "", fmt.Errorf("cancellation of %s not applied: %s", key, o)
	}
	s.log.Info("waybill cancelled", "order", key, "waybill", rec.Waybill, "carrier", rec.Carrier)
	return Cancelled, nil
}

// flagAfterPickup raises the exception cancel_after_pickup on the parcel's current status: the
// shop hears it once (a repeat is a duplicate of the flag).
func (s *Stage) flagAfterPickup(ctx context.Context, key, why string) (CancelOutcome, error) {
	_, err := s.applyToOrder(ctx, key, func(rec state.Record) (status.Event, bool) {
		return status.Event{Status: status.Status(rec.Status), Exception: true, Reason: ReasonCancelAfterPickup, Code: "cancel"}, true
	})
	if err != nil {
		return "", err
	}
	s.log.Warn("cancelled order already picked up: intercept the parcel", "order", key, "why", why)
	return AfterPickup, nil
}

// cancelRetry is how long a cancellation that could not be done yet waits before the next try.
func cancelRetry(attempt int, base time.Duration) time.Duration {
	return min(base<<min(attempt, 6), 5*time.Minute)
}

// Cancels carries out one cancellation the tail detected: it is tried until it has an outcome
// (a carrier outage or an order in mid-shipping only delays it), then acknowledged, so the
// checkpoint never passes a cancellation that was not carried out. When ctx ends first it is
// not acknowledged, and is read again on restart. A permanent failure (the carrier is no longer
// configured) is logged and counted as failed for a person.
func (s *Stage) Cancels(ctx context.Context, key string, ack func()) {
	for attempt := 0; ; attempt++ {
		out, err := s.Cancel(ctx, key)
		if err == nil {
			s.log.Info("cancellation done", "order", key, "outcome", out)
			if ack != nil {
				ack()
			}
			return
		}
		if carrier.IsPermanent(err) {
			s.log.Error("cancellation impossible; cancel the waybill by hand", "order", key, "err", err)
			s.m.Cancels.WithLabelValues("failed").Inc()
			if ack != nil {
				ack()
			}
			return
		}
		if ctx.Err() != nil {
			return
		}
		wait := cancelRetry(attempt, s.conf().Retry.Interval)
		if !errors.Is(err, ErrPending) {
			s.log.Warn("cancellation failed; trying again", "order", key, "in", wait, "err", err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}
