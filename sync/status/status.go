package status

// Status is a canonical shipment status, provider-neutral. Its string is also the key of the
// shop's write-back statements (writeback.status.<status>).
type Status string

// The canonical statuses, in rank order. Out for delivery and ready for pickup share a rank: a
// parcel may go either way (or both, a locker after a failed delivery), and neither is behind the
// other.
const (
	Created        Status = "created"
	PickedUp       Status = "picked_up"
	InTransit      Status = "in_transit"
	OutForDelivery Status = "out_for_delivery"
	ReadyForPickup Status = "ready_for_pickup"
	Returning      Status = "returning"
	Delivered      Status = "delivered"
	Returned       Status = "returned"
	Cancelled      Status = "cancelled"
)

// ExceptionKey is the write-back key run when a problem is reported. Exception is not a Status
// but a flag on the current one: a parcel can be in transit and have a problem at the same time,
// and the problem is cleared by later progress, not by a status of its own.
const ExceptionKey = "exception"

// Rank orders statuses for the monotonic rule: a status never moves to a lower rank. Returning
// (5) ranks above every forward status before delivery, so a refusal at the door wins over the
// out-for-delivery it follows. The terminal statuses share the top rank 9. Unknown statuses,
// including the empty one, rank -1.
func (s Status) Rank() int {
	switch s {
	case Created:
		return 0
	case PickedUp:
		return 1
	case InTransit:
		return 2
	case OutForDelivery, ReadyForPickup:
		return 3
	case Returning:
		return 5
	case Delivered, Returned, Cancelled:
		return 9
	}
	return -1
}

// Terminal reports whether s is final: nothing moves a parcel out of it.
func (s Status) Terminal() bool { return s.Rank() == 9 }

// Valid reports whether s is one of the canonical statuses. The empty status is not valid.
func (s Status) Valid() bool { return s.Rank() >= 0 }

// All returns the canonical statuses in rank order (ties in declaration order), for config
// validation and docs. It returns a new slice on every call. ExceptionKey is not among them.
func All() []Status {
	return []Status{
		Created, PickedUp, InTransit, OutForDelivery, ReadyForPickup,
		Returning, Delivered, Returned, Cancelled,
	}
}
