package signedjson

import (
	"fmt"
	"strings"
)

// Error is a failed create call. Its message never contains the secret.
type Error struct {
	Op         string // what was attempted, e.g. "create waybill SO20240501001"
	HTTPStatus int    // 0 when no response arrived
	Reason     string // the carrier's "error", or the start of a non-2xx body
	Err        error  // cause, may be nil

	permanent    bool
	maybeCreated bool
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Op)
	if e.HTTPStatus != 0 && (e.HTTPStatus < 200 || e.HTTPStatus > 299) {
		fmt.Fprintf(&b, ": http status %d", e.HTTPStatus)
	}
	if e.Reason != "" {
		fmt.Fprintf(&b, ": %s", e.Reason)
	}
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Permanent reports whether repeating the same request cannot succeed: the carrier answered a
// 4xx other than 408/429 (validation, bad address, wrong secret), or the request could not be
// built (no URL or secret configured, a number JSON cannot carry). Everything else is
// transient.
func (e *Error) Permanent() bool { return e.permanent }

// MaybeCreated reports whether the carrier may have created the waybill although the call
// failed: the request was sent and then the connection timed out or broke, the carrier
// answered 5xx, or a 2xx answer was unsigned, badly signed, stale, unreadable or without a
// waybill. Such an order must be retried on the same carrier with the same OrderCode (a repeat
// answers the same waybill), never failed over to another carrier.
func (e *Error) MaybeCreated() bool { return e.maybeCreated }
