package parcel

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/shipsync/shipsync/sources/webhook"
	"github.com/shipsync/shipsync/sync/carrier"
	"github.com/shipsync/shipsync/sync/outbox"
	"github.com/shipsync/shipsync/sync/state"
	"github.com/shipsync/shipsync/sync/status"
)

// Cancellations is what a cancellation changes in Redis besides the status: a dead-lettered
// order whose waybill was cancelled leaves the dead letter (a retry would write the cancelled
// waybill into the shop), the cancelled waybills' labels are never printed, and each outcome is
// noted in the order's timeline.
type Cancellations interface {
	Drop(ctx context.Context, key string) (bool, error)
	DiscardLabels(ctx context.Context, waybills ...string) error
	Note(ctx context.Context, key, kind, text string) error
}

// CancelOutcome is what a cancellation did (DESIGN.md §2 "Cancellation").
type CancelOutcome string

// Outcomes of Cancel.
const (
	// Cancelled: the carrier cancelled the waybill; writeback.status.cancelled was written when
	// the shop holds it.
	Cancelled CancelOutcome = "cancelled"
	// AfterPickup: the parcel is on its way; the exception cancel_after_pickup was written back
	// for a person to intercept it.
	AfterPickup CancelOutcome = "cancel_after_pickup"
	// NotShipped: the order has no waybill: nothing to cancel.
	NotShipped CancelOutcome = "not_shipped"
	// AlreadyCancelled: an earlier cancellation went through.
	AlreadyCancelled CancelOutcome = "already_cancelled"
	// Failed: the carrier refused the cancel for another reason than a pickup (an unknown
	// waybill, the account), or it cannot be known which waybill to cancel: a person must
	// cancel it at the carrier. The exception cancel_failed is written back when the shop holds
	// the waybill.
	Failed CancelOutcome = "failed"
)

// ErrPending means the order's waybill is being created, written or re-issued right now: ask
// again once that has settled.
var ErrPending = errors.New("order is being shipped; cancel again once it settles")

// Reasons of the exceptions a cancellation raises.
const (
	ReasonCancelAfterPickup = "cancel_after_pickup"
	ReasonCancelFailed      = "cancel_failed"
)

// Cancel cancels the waybill of order key at its carrier (Kdniao 1147) while the parcel is not
// picked up, and writes the cancellation back; once it is picked up (known from its status, or
// from the carrier's refusal) it flags the exception cancel_after_pickup instead, once. It holds
// the order's lock throughout, so it never interleaves with a status update or a reissue. A
// transient carrier failure is returned: cancelling again is safe, since a cancelled waybill
// stays cancelled. ErrPending: the order is in the middle of its shipping; try later.
func (s *Stage) Cancel(ctx context.Context, key string) (CancelOutcome, error) {
	unlock, err := s.store.Lock(ctx, key, time.Minute, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer unlock()
	out, err := s.cancelLocked(ctx, key)
	if err == nil {
		s.m.Cancels.WithLabelValues(string(out)).Inc()
		if out != NotShipped {
			if err := s.store.Note(ctx, key, "cancel", "cancellation: "+string(out)); err != nil {
				s.log.Warn("cancellation not noted in the order's timeline", "order", key, "err", err)
			}
		}
	}
	return out, err
}

func (s *Stage) cancelLocked(ctx context.Context, key string) (CancelOutcome, error) {
	rec, ok, err := s.store.Get(ctx, key)
	switch {
	case err != nil:
		return "", err
	case !ok:
		return NotShipped, nil
	case rec.ReissuePending:
		return "", ErrPending
	case rec.State == state.Detected || rec.State == state.Submitting || rec.State == state.Waybilled:
		if rec.State == state.Detected && rec.Waybill == "" && !rec.LeaseUntil.After(time.Now()) {
			return NotShipped, nil // a claim that died before asking any carrier
		}
		return "", ErrPending
	case rec.Waybill == "" && rec.Sticky && rec.Carrier != "":
		// An ambiguous create: the carrier may hold a waybill under the order code, and 1147
		// needs its number.
		s.log.Error("cancelled order may hold a waybill at its carrier; cancel it there by hand",
			"order", key, "carrier", rec.Carrier, "order_code", rec.OrderCode)
		return Failed, nil
	case rec.Waybill == "":
		// Retrying orders read the shop again, and a cancelled order no longer qualifies.
		return NotShipped, nil
	case rec.Status == string(status.Cancelled):
		return AlreadyCancelled, nil
	case status.Status(rec.Status).Rank() >= status.PickedUp.Rank():
		return s.flag(ctx, key, ReasonCancelAfterPickup, AfterPickup, "the parcel is on its way")
	}
	_, carriers := s.settings()
	c, ok := carriers[rec.Carrier]
	if !ok {
		s.log.Error("carrier no longer configured; cancel the waybill there by hand", "order", key, "carrier", rec.Carrier, "waybill", rec.Waybill)
		return s.flag(ctx, key, ReasonCancelFailed, Failed, "carrier not configured")
	}
	call, err := c.Admit()
	if err != nil {
		return "", err
	}
	err = call.Cancel(ctx, rec.ShipperCode, rec.OrderCode, rec.Waybill)
	switch {
	case errors.Is(err, carrier.ErrPickedUp):
		return s.flag(ctx, key, ReasonCancelAfterPickup, AfterPickup, err.Error())
	case carrier.IsPermanent(err):
		s.log.Error("carrier refused to cancel the waybill; cancel it there by hand", "order", key, "waybill", rec.Waybill, "err", err)
		return s.flag(ctx, key, ReasonCancelFailed, Failed, err.Error())
	case err != nil:
		return "", err
	}
	numbers := append([]string{rec.Waybill}, rec.Children...)
	if err := s.store.DiscardLabels(ctx, numbers...); err != nil {
		return "", err
	}
	// Recorded before the state change it announces, like every event.
	s.events.Emit(ctx, outbox.Event{Type: outbox.Cancelled, Order: key, OrderCode: rec.OrderCode, Carrier: rec.Carrier,
		Waybill: rec.Waybill, Status: string(status.Cancelled), Time: time.Now()})
	if shopLacksWaybill(rec.State) {
		// Dead-lettered, conflicting, skipped or dropped with a waybill of ours: the shop never
		// got it. Out of the dead letter, so that a retry cannot write it now.
		if rec.State == state.Failed {
			if _, err := s.store.Drop(ctx, key); err != nil {
				return "", err
			}
		}
		s.log.Info("waybill cancelled", "order", key, "waybill", strings.Join(numbers, ","), "carrier", rec.Carrier, "state", rec.State)
		return Cancelled, nil
	}
	o, err := s.applyLocked(ctx, key, always(status.Event{Status: status.Cancelled, Time: time.Now(),
		Reason: "cancelled by the shop", Code: "1147"}))
	if err != nil {
		return "", err
	}
	if o != webhook.OK && o != webhook.Duplicate && o != webhook.Stale {
		return "", fmt.Errorf("cancellation of %s not applied: %s", key, o)
	}
	s.log.Info("waybill cancelled", "order", key, "waybill", strings.Join(numbers, ","), "carrier", rec.Carrier)
	return Cancelled, nil
}

// flag raises an exception on the parcel's current status, written back once (a repeat is a
// duplicate of the flag); a shop that does not hold the waybill hears nothing.
func (s *Stage) flag(ctx context.Context, key, reason string, out CancelOutcome, why string) (CancelOutcome, error) {
	_, err := s.applyLocked(ctx, key, func(rec state.Record) (status.Event, bool) {
		return status.Event{Status: status.Status(rec.Status), Exception: true, Reason: reason, Code: "cancel"}, true
	})
	if err != nil {
		return "", err
	}
	if out == AfterPickup {
		s.log.Warn("cancelled order already picked up: intercept the parcel", "order", key, "why", why)
	}
	return out, nil
}

// cancelRetry is how long a cancellation that could not be done yet waits before the next try.
func cancelRetry(attempt int, base time.Duration) time.Duration {
	return min(base<<min(attempt, 6), 5*time.Minute)
}

// cancelJob is one cancellation the tail detected, with its acknowledgement.
type cancelJob struct {
	key string
	ack func()
}

// cancelWorkers bound the cancellations carried out at once.
const cancelWorkers = 4

// EnqueueCancel hands a cancellation the tail detected to the stage's workers (Run), waiting
// while they are all busy and the queue is full; an error means ctx ended (the cancellation is
// not acknowledged, so it is read again on restart).
func (s *Stage) EnqueueCancel(ctx context.Context, key string, ack func()) error {
	select {
	case s.cancels <- cancelJob{key: key, ack: ack}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// cancelLoop carries out queued cancellations until ctx ends.
func (s *Stage) cancelLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case j := <-s.cancels:
			s.carryOut(ctx, j)
		}
	}
}

// carryOut tries one cancellation until it has an outcome (a carrier outage or an order in
// mid-shipping only delays it), then acknowledges it, so the checkpoint never passes a
// cancellation that was not carried out. When ctx ends first it is not acknowledged.
func (s *Stage) carryOut(ctx context.Context, j cancelJob) {
	for attempt := 0; ; attempt++ {
		out, err := s.Cancel(ctx, j.key)
		if err == nil {
			s.log.Info("cancellation done", "order", j.key, "outcome", out)
			if j.ack != nil {
				j.ack()
			}
			return
		}
		if ctx.Err() != nil {
			return
		}
		wait := cancelRetry(attempt, s.conf().Retry.Interval)
		if !errors.Is(err, ErrPending) {
			s.log.Warn("cancellation failed; trying again", "order", j.key, "in", wait, "err", err)
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
