package status

import (
	"strconv"
	"time"
)

// Event is one observation of a parcel, from a push, a poll or the watchdog.
type Event struct {
	// Status is the canonical progress status; empty for a pure exception event.
	Status Status
	// Exception says the event reports a problem. It may come with a Status (a carrier that
	// reports "returning" as an exception) or alone.
	Exception bool
	// Reason is the human reason for an exception ("402 not signed in time", "no_pickup"). It is
	// ignored when Exception is false.
	Reason string
	// Time is the event time: the newest trace's time, not the time the push arrived, so that a
	// late redelivery of an old push stays old. A zero Time is older than anything applied.
	Time time.Time
	// Code is the carrier's raw code, for logs ("2/201").
	Code string
}

// Current is what was last applied for a parcel. The zero Current is a parcel with a waybill and
// no event yet; an empty Status reads as Created.
type Current struct {
	Status    Status
	Exception bool
	// Reason is the reason written with the exception; empty when Exception is false.
	Reason string
	// Time is the newest event time seen, applied or not (see Unchanged).
	Time time.Time
}

// Decision says what to do with an event.
type Decision int

// The decisions of Decide. Only Apply has something to write; Unchanged moves the recorded time;
// Duplicate and Stale leave Current as it was.
const (
	// Apply: write it back; the status moved forward or an exception was raised or cleared.
	Apply Decision = iota + 1
	// Unchanged: newer or equal in time but nothing to write (same status, same flag): record
	// the time only.
	Unchanged
	// Duplicate: exactly what was already applied (same status, flag, reason and time): a
	// redelivered push.
	Duplicate
	// Stale: older than what was applied, of a lower rank, after a terminal status, or with
	// nothing usable (an unknown Status, or neither a Status nor the exception flag).
	Stale
)

// String returns the lower-case name of d, for logs and metric labels.
func (d Decision) String() string {
	switch d {
	case Apply:
		return "apply"
	case Unchanged:
		return "unchanged"
	case Duplicate:
		return "duplicate"
	case Stale:
		return "stale"
	}
	return "Decision(" + strconv.Itoa(int(d)) + ")"
}

// Decide applies the monotonic rules of carriers/kdniao.md to one event and returns the new
// Current to persist, the decision, and the write-back key to run: the new Status as a string
// when the status moved, ExceptionKey when only the exception flag was raised, "" otherwise
// (clearing the flag is done by the status write that clears it).
//
// The rules, in the order they are checked:
//
//   - An event with neither a Status nor the exception flag, or with a Status that is not
//     canonical, is Stale: there is nothing to apply.
//   - An event older than cur.Time is Stale (a zero cur.Time means no time seen yet, so even a
//     time before year 1 is not older than it). An equal time is not older: carriers stamp traces to
//     the minute (Kdniao's AcceptTime has no sub-second part) and several steps, e.g. arrival at
//     the depot and out for delivery, often share one; rejecting equal times would drop the
//     second of them. Rank, not time, orders such ties. Between an exception and a progress event
//     of the same time, arrival order decides: whichever comes second wins if it may.
//   - An event identical to cur is Duplicate: same Status (or none, for a pure exception event),
//     same flag, same reason when flagged, same time. This is checked before the terminal rule so
//     a redelivered "delivered" push reads as a duplicate, not as a stale one.
//   - After a terminal status everything else is Stale: a parcel never leaves delivered,
//     returned or cancelled, not even for an exception.
//   - An event without a status move (a pure exception event, or the current Status again)
//     raises the flag if it carries one and cur has none: Apply with ExceptionKey, Status kept.
//     Otherwise it is Unchanged: a repeated problem report keeps the first reason (the one
//     written), and progress at the same status does not clear the flag, since a carrier
//     re-reporting "in transit" has not solved "not signed in time".
//   - A progress event of a lower rank is Stale (in transit after out for delivery: a late push).
//   - A higher rank is Apply and clears the flag: that is the "exception as a flag cleared by
//     progress" rule, and a terminal status always clears it. A different status of the same rank
//     (out for delivery and ready for pickup) is Apply too, a real change, but it does not clear
//     the flag: only a strictly higher rank does. If the event itself carries the flag, the flag
//     is set with the event's reason.
//   - A sideways move at exactly cur.Time is ambiguous (which of the two came first in that
//     minute?) and, without a tie-break, a redelivered push of the other one would flip the shop
//     back and forth on every retry. At equal times only the move from out for delivery to ready
//     for pickup applies (a locker after a failed delivery, the usual same-minute order); the
//     reverse is Stale. Whatever order the two arrive in, the result is the same.
//
// When one event both moves the status and raises the flag (a flagged Returning), write is the
// status: a status write is never offered again once applied, while the caller sees the raised
// flag as next.Exception && !cur.Exception and may run ExceptionKey too.
//
// The first event for a parcel (cur zero) therefore is Apply, except Created without the flag,
// which is Unchanged (the waybill write-back already told the shop the parcel exists) and only
// records Created and the time. After Apply and Unchanged, next.Status is never empty.
//
// Decide is idempotent: running the same event again on next returns next unchanged and never
// Apply. Stale and Duplicate return cur unchanged.
func Decide(cur Current, ev Event) (next Current, d Decision, write string) {
	if (ev.Status == "" && !ev.Exception) || (ev.Status != "" && !ev.Status.Valid()) {
		return cur, Stale, ""
	}
	if !cur.Time.IsZero() && ev.Time.Before(cur.Time) {
		return cur, Stale, ""
	}
	if identical(cur, ev) {
		return cur, Duplicate, ""
	}
	if cur.Status.Terminal() {
		return cur, Stale, ""
	}
	from := cur.Status
	if from == "" {
		from = Created
	}
	next = cur
	next.Status = from
	next.Time = ev.Time

	if ev.Status == "" || ev.Status == from {
		if !ev.Exception || cur.Exception {
			return next, Unchanged, ""
		}
		next.Exception, next.Reason = true, ev.Reason
		return next, Apply, ExceptionKey
	}
	if ev.Status.Rank() < from.Rank() {
		return cur, Stale, ""
	}
	if ev.Status.Rank() == from.Rank() && ev.Time.Equal(cur.Time) && !sidewaysTie(from, ev.Status) {
		return cur, Stale, ""
	}
	next.Status = ev.Status
	if ev.Status.Rank() > from.Rank() {
		next.Exception, next.Reason = false, ""
	}
	if ev.Exception {
		next.Exception, next.Reason = true, ev.Reason
	}
	return next, Apply, string(ev.Status)
}

// identical reports whether ev is exactly what cur already holds. A pure exception event matches
// on flag, reason and time whatever the status; a reason only counts when the flag is set.
func identical(cur Current, ev Event) bool {
	if !ev.Time.Equal(cur.Time) || ev.Exception != cur.Exception {
		return false
	}
	if ev.Exception && ev.Reason != cur.Reason {
		return false
	}
	return ev.Status == "" || ev.Status == cur.Status
}

// sidewaysTie reports whether a move between two statuses of the same rank applies when both
// carry the same time: only out for delivery to ready for pickup does, so that ties converge.
func sidewaysTie(from, to Status) bool {
	return from == OutForDelivery && to == ReadyForPickup
}
