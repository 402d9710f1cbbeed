package signedjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/shipsync/shipsync/sinks/carrier/wire"
)

// MaxBodyBytes bounds a push body (and, as wire.MaxResponseBytes, a create response); a
// receiver should read at most this much, and ParsePush rejects anything longer as
// ErrMalformed.
const MaxBodyBytes = wire.MaxResponseBytes

// ContentType is the media type of every body, in both directions.
const ContentType = "application/json"

// Canonical statuses, the only values a push may carry in status (carriers/kdniao.md,
// "Canonical status model"). "exception" is not a status: it is the Event.Exception flag on
// the current one.
const (
	StatusCreated        = "created"
	StatusPickedUp       = "picked_up"
	StatusInTransit      = "in_transit"
	StatusOutForDelivery = "out_for_delivery"
	StatusReadyForPickup = "ready_for_pickup"
	StatusDelivered      = "delivered"
	StatusReturning      = "returning"
	StatusReturned       = "returned"
	StatusCancelled      = "cancelled"
)

// IsStatus reports whether s is one of the canonical statuses.
func IsStatus(s string) bool {
	switch s {
	case StatusCreated, StatusPickedUp, StatusInTransit, StatusOutForDelivery, StatusReadyForPickup,
		StatusDelivered, StatusReturning, StatusReturned, StatusCancelled:
		return true
	}
	return false
}

// Event is one status change of one waybill, as pushed by the carrier.
type Event struct {
	ID        string    `json:"id"`         // unique per event at the carrier; optional, the dedupe key when set
	Waybill   string    `json:"waybill"`    // required
	OrderCode string    `json:"order_code"` // the shop's order number, optional
	Status    string    `json:"status"`     // required, canonical (IsStatus)
	Exception bool      `json:"exception"`  // the shipment has a problem in this status
	Reason    string    `json:"reason"`     // carrier's words, for the exception or the status
	Time      time.Time `json:"time"`       // required, RFC 3339, when it happened at the carrier
}

type pushBody struct {
	Events []Event `json:"events"`
}

// EncodePush returns the body of a push carrying events, as a carrier sends it.
func EncodePush(events []Event) ([]byte, error) {
	if events == nil {
		events = []Event{}
	}
	return encodeJSON(pushBody{Events: events})
}

// ParsePush verifies and parses one push: header is the SignatureHeader value and body the
// raw bytes exactly as received. The signature is checked with Verify (tolerance <= 0 means
// DefaultTolerance); the body is then parsed strictly: no unknown fields, no trailing data, at
// least one event, and every event has a waybill, a canonical status and a time. When replays
// is not nil, a push whose signature was accepted before is rejected last, after parsing, so
// that a malformed push is reported as such each time.
//
// Errors wrap ErrNoSignature, ErrBadSignature, ErrStale, ErrReplay or ErrMalformed. Receivers
// answer the signature errors 401 and ErrMalformed 400. A legitimate carrier signs every
// delivery attempt afresh, but two attempts within one second are byte-identical: answer
// ErrReplay with a non-2xx too (409), never 200, so that such a retry is not taken as
// delivered; the carrier's next attempt carries a new signature.
func ParsePush(header string, body, secret []byte, now time.Time, tolerance time.Duration, replays *Replays) ([]Event, error) {
	if len(body) > MaxBodyBytes {
		return nil, fmt.Errorf("parse push: %w: body of %d bytes exceeds %d", ErrMalformed, len(body), MaxBodyBytes)
	}
	t, sig, err := verify(header, body, secret, now, tolerance)
	if err != nil {
		return nil, fmt.Errorf("verify push: %w", err)
	}
	events, err := decodePush(body)
	if err != nil {
		return nil, fmt.Errorf("parse push: %w", err)
	}
	if replays != nil && replays.Seen(sig, t) {
		return nil, fmt.Errorf("verify push: %w", ErrReplay)
	}
	return events, nil
}

func decodePush(body []byte) ([]Event, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var p pushBody
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: data after the push object", ErrMalformed)
	}
	if len(p.Events) == 0 {
		return nil, fmt.Errorf("%w: no events", ErrMalformed)
	}
	for i, e := range p.Events {
		switch {
		case strings.TrimSpace(e.Waybill) == "":
			return nil, fmt.Errorf("%w: event %d: no waybill", ErrMalformed, i)
		case e.Status == "":
			return nil, fmt.Errorf("%w: event %d: no status", ErrMalformed, i)
		case !IsStatus(e.Status):
			return nil, fmt.Errorf("%w: event %d: unknown status %q", ErrMalformed, i, wire.Clip(e.Status, 40))
		case e.Time.IsZero():
			return nil, fmt.Errorf("%w: event %d: no time", ErrMalformed, i)
		}
	}
	return p.Events, nil
}

type pushReply struct {
	OK bool `json:"ok"`
}

type pushFailure struct {
	OK    bool   `json:"ok"`
	Error string `json:"error"`
}

// PushReply returns the body a receiver answers a push with: {"ok":true} with HTTP 200, or
// {"ok":false,"error":reason} with a non-2xx status to ask the carrier to retry. reason is
// ignored when ok. Replies are not signed: the carrier acts on the status code alone.
func PushReply(ok bool, reason string) []byte {
	var v any = pushReply{OK: true}
	if !ok {
		v = pushFailure{Error: reason}
	}
	b, err := encodeJSON(v)
	if err != nil {
		// Only strings and a bool: cannot fail.
		panic(err)
	}
	return b
}

// encodeJSON returns v as compact JSON, without HTML escaping (& stays &) and without the
// encoder's trailing newline: the exact bytes to sign and send.
func encodeJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
