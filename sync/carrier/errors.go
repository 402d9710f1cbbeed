package carrier

import (
	"errors"
	"fmt"
)

// ErrNoTrace: the carrier has nothing for the waybill yet.
var ErrNoTrace = errors.New("no trace yet")

// ErrPickedUp: the carrier refused to cancel a waybill because its parcel is picked up. Other
// refusals of a cancel (a wrong account, an unknown waybill) are not this: a person must look.
var ErrPickedUp = errors.New("parcel picked up: the carrier refuses to cancel")

// Permanent is a failure a retry cannot fix (bad address, refused by the carrier, unusable
// order data).
type Permanent struct{ Reason string }

func (e *Permanent) Error() string { return e.Reason }

// Permanent reports true.
func (e *Permanent) Permanent() bool { return true }

// IsPermanent reports whether err says that retrying cannot help.
func IsPermanent(err error) bool {
	var p interface{ Permanent() bool }
	return errors.As(err, &p) && p.Permanent()
}

// MaybeCreated reports whether the call may have created a waybill (timeout after sending, 5xx,
// garbled answer). Errors that cannot say are taken as maybe, unless they are permanent.
func MaybeCreated(err error) bool {
	var mc interface{ MaybeCreated() bool }
	if errors.As(err, &mc) {
		return mc.MaybeCreated()
	}
	return !IsPermanent(err)
}

// CircuitOpen: the breaker refused the call (or an operator paused the carrier), so certainly
// nothing was created.
type CircuitOpen struct {
	Carrier string
	Paused  bool
}

func (e CircuitOpen) Error() string {
	if e.Paused {
		return fmt.Sprintf("carrier %s: paused by an operator", e.Carrier)
	}
	return fmt.Sprintf("carrier %s: circuit open", e.Carrier)
}

// MaybeCreated reports false: no call was made.
func (e CircuitOpen) MaybeCreated() bool { return false }

// NotCalled: the carrier was not called (shutting down, the order could not be marked); nothing
// was created.
type NotCalled struct{ Err error }

func (e NotCalled) Error() string { return e.Err.Error() }
func (e NotCalled) Unwrap() error { return e.Err }

// MaybeCreated reports false: no call was made.
func (e NotCalled) MaybeCreated() bool { return false }
