package wire

import (
	"fmt"
	"strings"
	"time"
)

// Class is what a failed carrier call means for the order.
type Class uint8

const (
	// Transient: worth repeating, and the carrier certainly created nothing (the request never
	// left, or the carrier refused it before acting: 408, 429, an explicit "try later"). The
	// order may fail over to another carrier.
	Transient Class = iota
	// Ambiguous: worth repeating, but the carrier may have acted (the request was written and
	// then the answer timed out, broke off, was a 5xx or could not be read). The order must be
	// retried on the same carrier with the same order code, never failed over.
	Ambiguous
	// Permanent: repeating the same request cannot succeed (validation, bad address, wrong
	// credentials, a request that cannot be built); the carrier created nothing.
	Permanent
)

func (c Class) String() string {
	switch c {
	case Transient:
		return "transient"
	case Ambiguous:
		return "ambiguous"
	case Permanent:
		return "permanent"
	}
	return fmt.Sprintf("class(%d)", uint8(c))
}

// Error is a failed carrier call. The sync side reads it only through Permanent and
// MaybeCreated (errors.As to an interface), so a protocol package may return it as is. Its
// message never contains what a protocol signs with: wire never sees a key, and protocols put
// only the carrier's own words in Reason.
type Error struct {
	Op         string // what was attempted, e.g. "create waybill SO20240501001"
	HTTPStatus int    // 0 when no response arrived
	ResultCode int    // the carrier's result or error code, 0 when there was none
	Reason     string // the carrier's reason, or the start of a non-2xx body
	Err        error  // cause, may be nil
	Class      Class

	retryAfter time.Duration
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

// Permanent reports whether repeating the same request cannot succeed (Class Permanent).
// Everything else is transient.
func (e *Error) Permanent() bool { return e.Class == Permanent }

// MaybeCreated reports whether the carrier may have acted although the call failed (Class
// Ambiguous): such an order must be retried on the same carrier with the same order code (the
// carrier's idempotency answers the same waybill), never failed over to another carrier.
func (e *Error) MaybeCreated() bool { return e.Class == Ambiguous }

// RetryAfter is the wait the carrier asked for with a Retry-After header (on a 429 or 503),
// 0 when it named none. The caller may wait longer, never shorter.
func (e *Error) RetryAfter() time.Duration { return e.retryAfter }

// maxSnippet bounds Snippet and Clip.
const maxSnippet = 200

// Snippet returns the start of body, trimmed, as valid UTF-8, for error messages.
func Snippet(body []byte) string { return Clip(strings.TrimSpace(string(body)), maxSnippet) }

// Clip returns s cut to at most n bytes (marked with "…" when cut) as valid UTF-8, for error
// messages that quote what a carrier sent.
func Clip(s string, n int) string {
	if len(s) > n {
		s = s[:n] + "…"
	}
	return strings.ToValidUTF8(s, "")
}
