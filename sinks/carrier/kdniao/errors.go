package kdniao

import (
	"fmt"
	"strings"
)

// Error is a failed Kdniao call. Its message never contains the app key.
type Error struct {
	Op         string // what was attempted, e.g. "create waybill SO20240501001"
	HTTPStatus int    // 0 when no response arrived
	ResultCode int    // Kdniao ResultCode, 0 when there was none
	Reason     string // Kdniao Reason, or the start of a non-2xx body
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
	if e.ResultCode != 0 {
		fmt.Fprintf(&b, ": result code %d", e.ResultCode)
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

// Permanent reports whether repeating the same request cannot succeed: Kdniao rejected the
// request itself (ResultCode 101-104: missing parameter, validation, format, account) or the
// endpoint answered a 4xx other than 408/429. Everything else is transient.
func (e *Error) Permanent() bool { return e.permanent }

// MaybeCreated reports whether the carrier may have created the waybill although the call
// failed: the request was sent and then the connection timed out or broke, the carrier
// answered 5xx, or the answer could not be understood. Such an order must be retried on the
// same carrier with the same OrderCode (a repeat answers 106 with the same waybill), never
// failed over to another carrier.
func (e *Error) MaybeCreated() bool { return e.maybeCreated }
