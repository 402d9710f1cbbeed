package status

import (
	"testing"
	"time"
)

// at returns a trace time m minutes after a fixed base, to the minute as carriers stamp them, in
// Asia/Shanghai as Kdniao's wall-clock times are.
func at(m int) time.Time {
	shanghai := time.FixedZone("CST", 8*60*60)
	return time.Date(2024, 5, 1, 18, 0, 0, 0, shanghai).Add(time.Duration(m) * time.Minute)
}

func cur(s Status, m int) Current { return Current{Status: s, Time: at(m)} }

func curExc(s Status, reason string, m int) Current {
	return Current{Status: s, Exception: true, Reason: reason, Time: at(m)}
}

func prog(s Status, m int) Event { return Event{Status: s, Time: at(m)} }

func exc(reason string, m int) Event { return Event{Exception: true, Reason: reason, Time: at(m)} }

func flagged(s Status, reason string, m int) Event {
	return Event{Status: s, Exception: true, Reason: reason, Time: at(m)}
}

func sameCurrent(a, b Current) bool {
	return a.Status == b.Status && a.Exception == b.Exception && a.Reason == b.Reason && a.Time.Equal(b.Time)
}

func TestDecide(t *testing.T) {
	tests := []struct {
		name  string
		cur   Current
		ev    Event
		next  Current
		d     Decision
		write string
	}{
		// First event for a parcel.
		{"first created", Current{}, prog(Created, 1), cur(Created, 1), Unchanged, ""},
		{"first created again", cur(Created, 1), prog(Created, 1), cur(Created, 1), Duplicate, ""},
		{"first picked up", Current{}, prog(PickedUp, 1), cur(PickedUp, 1), Apply, "picked_up"},
		{"first delivered", Current{}, prog(Delivered, 1), cur(Delivered, 1), Apply, "delivered"},
		{"first is an exception", Current{}, exc("no_pickup", 1), curExc(Created, "no_pickup", 1), Apply, ExceptionKey},
		{"first created with exception", Current{}, flagged(Created, "no_pickup", 1), curExc(Created, "no_pickup", 1), Apply, ExceptionKey},
		{"first with zero time", Current{}, Event{Status: InTransit}, Current{Status: InTransit}, Apply, "in_transit"},
		{"first before year 1", Current{}, Event{Status: InTransit, Time: time.Time{}.Add(-time.Hour)}, Current{Status: InTransit, Time: time.Time{}.Add(-time.Hour)}, Apply, "in_transit"},

		// Monotonic progress.
		{"forward", cur(PickedUp, 1), prog(InTransit, 2), cur(InTransit, 2), Apply, "in_transit"},
		{"forward skipping", cur(Created, 1), prog(OutForDelivery, 2), cur(OutForDelivery, 2), Apply, "out_for_delivery"},
		{"forward same minute", cur(InTransit, 5), prog(OutForDelivery, 5), cur(OutForDelivery, 5), Apply, "out_for_delivery"},
		{"same status newer", cur(InTransit, 1), prog(InTransit, 2), cur(InTransit, 2), Unchanged, ""},
		{"same status same time", cur(InTransit, 1), prog(InTransit, 1), cur(InTransit, 1), Duplicate, ""},

		// Stale.
		{"older time", cur(OutForDelivery, 5), prog(InTransit, 4), cur(OutForDelivery, 5), Stale, ""},
		{"older time higher rank", cur(InTransit, 5), prog(Delivered, 4), cur(InTransit, 5), Stale, ""},
		{"older same status", cur(InTransit, 5), prog(InTransit, 4), cur(InTransit, 5), Stale, ""},
		{"zero time after a time", cur(InTransit, 5), Event{Status: Delivered}, cur(InTransit, 5), Stale, ""},
		{"lower rank newer", cur(OutForDelivery, 5), prog(InTransit, 6), cur(OutForDelivery, 5), Stale, ""},
		{"lower rank same time", cur(OutForDelivery, 5), prog(InTransit, 5), cur(OutForDelivery, 5), Stale, ""},
		{"created after picked up", cur(PickedUp, 5), prog(Created, 6), cur(PickedUp, 5), Stale, ""},
		{"in transit after returning", cur(Returning, 5), prog(InTransit, 6), cur(Returning, 5), Stale, ""},
		{"ready after returning", cur(Returning, 5), prog(ReadyForPickup, 6), cur(Returning, 5), Stale, ""},
		{"empty event", cur(InTransit, 5), Event{Time: at(6)}, cur(InTransit, 5), Stale, ""},
		{"empty event first", Current{}, Event{}, Current{}, Stale, ""},
		{"unknown status", cur(InTransit, 5), prog("lost", 6), cur(InTransit, 5), Stale, ""},
		{"exception key as status", cur(InTransit, 5), prog(ExceptionKey, 6), cur(InTransit, 5), Stale, ""},

		// Terminal statuses absorb everything but an exact duplicate.
		{"delivered duplicate", cur(Delivered, 5), prog(Delivered, 5), cur(Delivered, 5), Duplicate, ""},
		{"delivered again later", cur(Delivered, 5), prog(Delivered, 6), cur(Delivered, 5), Stale, ""},
		{"returning after delivered", cur(Delivered, 5), prog(Returning, 6), cur(Delivered, 5), Stale, ""},
		{"cancelled after delivered", cur(Delivered, 5), prog(Cancelled, 6), cur(Delivered, 5), Stale, ""},
		{"delivered after cancelled", cur(Cancelled, 5), prog(Delivered, 6), cur(Cancelled, 5), Stale, ""},
		{"returned after delivered same time", cur(Delivered, 5), prog(Returned, 5), cur(Delivered, 5), Stale, ""},
		{"exception after delivered", cur(Delivered, 5), exc("402 not signed in time", 6), cur(Delivered, 5), Stale, ""},
		{"exception after returned same time", cur(Returned, 5), exc("405 delivery exception", 5), cur(Returned, 5), Stale, ""},
		{"flagged terminal duplicate", curExc(Returned, "refused", 5), flagged(Returned, "refused", 5), curExc(Returned, "refused", 5), Duplicate, ""},
		{"flagged terminal repeated exception", curExc(Returned, "refused", 5), exc("refused", 5), curExc(Returned, "refused", 5), Duplicate, ""},
		{"flagged terminal other reason", curExc(Returned, "refused", 5), exc("lost", 5), curExc(Returned, "refused", 5), Stale, ""},

		// Exception raised, repeated, cleared.
		{"exception raise", cur(InTransit, 5), exc("402 not signed in time", 6), curExc(InTransit, "402 not signed in time", 6), Apply, ExceptionKey},
		{"exception raise same minute", cur(InTransit, 5), exc("402 not signed in time", 5), curExc(InTransit, "402 not signed in time", 5), Apply, ExceptionKey},
		{"exception older", cur(InTransit, 5), exc("402 not signed in time", 4), cur(InTransit, 5), Stale, ""},
		{"exception duplicate", curExc(InTransit, "402 not signed in time", 6), exc("402 not signed in time", 6), curExc(InTransit, "402 not signed in time", 6), Duplicate, ""},
		{"exception repeat later", curExc(InTransit, "402 not signed in time", 6), exc("402 not signed in time", 7), curExc(InTransit, "402 not signed in time", 7), Unchanged, ""},
		{"exception other reason keeps the first", curExc(InTransit, "402 not signed in time", 6), exc("405 delivery exception", 7), curExc(InTransit, "402 not signed in time", 7), Unchanged, ""},
		{"exception other reason same time", curExc(InTransit, "402 not signed in time", 6), exc("405 delivery exception", 6), curExc(InTransit, "402 not signed in time", 6), Unchanged, ""},
		{"cleared by higher rank", curExc(InTransit, "403 no update in time", 6), prog(OutForDelivery, 7), cur(OutForDelivery, 7), Apply, "out_for_delivery"},
		{"cleared by higher rank same minute", curExc(InTransit, "403 no update in time", 6), prog(OutForDelivery, 6), cur(OutForDelivery, 6), Apply, "out_for_delivery"},
		{"no_pickup cleared by pickup", curExc(Created, "no_pickup", 6), prog(PickedUp, 7), cur(PickedUp, 7), Apply, "picked_up"},
		{"not cleared by same status", curExc(InTransit, "403 no update in time", 6), prog(InTransit, 7), curExc(InTransit, "403 no update in time", 7), Unchanged, ""},
		{"not cleared by same status same time", curExc(InTransit, "403 no update in time", 6), prog(InTransit, 6), curExc(InTransit, "403 no update in time", 6), Unchanged, ""},
		{"not cleared by created", curExc(Created, "no_pickup", 6), prog(Created, 7), curExc(Created, "no_pickup", 7), Unchanged, ""},
		{"not cleared by lower rank", curExc(OutForDelivery, "405 delivery exception", 6), prog(InTransit, 7), curExc(OutForDelivery, "405 delivery exception", 6), Stale, ""},
		{"not cleared by sideways", curExc(OutForDelivery, "405 delivery exception", 6), prog(ReadyForPickup, 7), curExc(ReadyForPickup, "405 delivery exception", 7), Apply, "ready_for_pickup"},
		{"delivered after exception", curExc(OutForDelivery, "405 delivery exception", 6), prog(Delivered, 7), cur(Delivered, 7), Apply, "delivered"},
		{"returned after exception", curExc(Returning, "407 return not signed", 6), prog(Returned, 7), cur(Returned, 7), Apply, "returned"},

		// Equal ranks, different names.
		{"sideways to locker", cur(OutForDelivery, 5), prog(ReadyForPickup, 6), cur(ReadyForPickup, 6), Apply, "ready_for_pickup"},
		{"sideways to delivery", cur(ReadyForPickup, 5), prog(OutForDelivery, 6), cur(OutForDelivery, 6), Apply, "out_for_delivery"},
		{"sideways tie to locker", cur(OutForDelivery, 5), prog(ReadyForPickup, 5), cur(ReadyForPickup, 5), Apply, "ready_for_pickup"},
		{"sideways tie to delivery", cur(ReadyForPickup, 5), prog(OutForDelivery, 5), cur(ReadyForPickup, 5), Stale, ""},

		// Returning.
		{"returning after out for delivery", cur(OutForDelivery, 5), prog(Returning, 6), cur(Returning, 6), Apply, "returning"},
		{"returning after ready", cur(ReadyForPickup, 5), prog(Returning, 6), cur(Returning, 6), Apply, "returning"},
		{"returned after returning", cur(Returning, 5), prog(Returned, 6), cur(Returned, 6), Apply, "returned"},
		{"delivered after returning", cur(Returning, 5), prog(Delivered, 6), cur(Delivered, 6), Apply, "delivered"},
		{"cancelled in transit", cur(InTransit, 5), prog(Cancelled, 6), cur(Cancelled, 6), Apply, "cancelled"},

		// Progress that carries the flag.
		{"flagged move", cur(OutForDelivery, 5), flagged(Returning, "refused", 6), curExc(Returning, "refused", 6), Apply, "returning"},
		{"flagged move replaces reason", curExc(InTransit, "403 no update in time", 5), flagged(Returning, "refused", 6), curExc(Returning, "refused", 6), Apply, "returning"},
		{"flagged sideways replaces reason", curExc(OutForDelivery, "405 delivery exception", 5), flagged(ReadyForPickup, "412 not collected", 6), curExc(ReadyForPickup, "412 not collected", 6), Apply, "ready_for_pickup"},
		{"flagged same status raises", cur(Returning, 5), flagged(Returning, "refused", 6), curExc(Returning, "refused", 6), Apply, ExceptionKey},
		{"flagged same status repeat", curExc(Returning, "refused", 5), flagged(Returning, "refused", 6), curExc(Returning, "refused", 6), Unchanged, ""},
		{"flagged same status duplicate", curExc(Returning, "refused", 5), flagged(Returning, "refused", 5), curExc(Returning, "refused", 5), Duplicate, ""},
		{"flagged lower rank", cur(Returning, 5), flagged(InTransit, "refused", 6), cur(Returning, 5), Stale, ""},
		{"flagged terminal", cur(OutForDelivery, 5), flagged(Delivered, "302 signed after exception", 6), curExc(Delivered, "302 signed after exception", 6), Apply, "delivered"},

		// A reason without the flag means nothing.
		{"reason without flag", cur(InTransit, 5), Event{Status: InTransit, Reason: "x", Time: at(5)}, cur(InTransit, 5), Duplicate, ""},

		// A corrupt stored status is overtaken by any valid one.
		{"unknown current", cur("lost", 5), prog(Created, 6), cur(Created, 6), Apply, "created"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next, d, write := Decide(tt.cur, tt.ev)
			if d != tt.d || write != tt.write || !sameCurrent(next, tt.next) {
				t.Fatalf("Decide(%+v, %+v)\n got %v %q %+v\nwant %v %q %+v", tt.cur, tt.ev, d, write, next, tt.d, tt.write, tt.next)
			}
			// Same event again: never a second write, and nothing moves.
			again, d2, w2 := Decide(next, tt.ev)
			if d2 == Apply || w2 != "" || !sameCurrent(again, next) {
				t.Fatalf("replay: %v %q %+v after %+v", d2, w2, again, next)
			}
		})
	}
}
