package signedjson

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/shipsync/shipsync/sinks/carrier/wire"
)

// Config is one account at a signed-JSON carrier.
type Config struct {
	URL         string        // create endpoint, e.g. https://carrier.example/v1/waybills
	Secret      string        // shared HMAC key, both directions; never logged
	ShipperCode string        // sent as shipper_code
	Timeout     time.Duration // whole request, default 5s
	Tolerance   time.Duration // for the response signature's time, default DefaultTolerance
}

// Client calls one signed-JSON carrier account. It is safe for concurrent use.
type Client struct {
	cfg    Config
	secret []byte
	wire   *wire.Client
}

// New returns a client for cfg with defaults applied. It does not dial.
func New(cfg Config) *Client {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.Tolerance <= 0 {
		cfg.Tolerance = DefaultTolerance
	}
	return &Client{cfg: cfg, secret: []byte(cfg.Secret), wire: wire.New(cfg.Timeout)}
}

// Create asks for a waybill for o. It blocks until the carrier answers, the configured
// timeout passes or ctx is done. A repeated OrderCode answers the first waybill with Repeat
// set. The answer must be signed with the same secret. Errors are *Error.
func (c *Client) Create(ctx context.Context, o Order) (Waybill, error) {
	op := "create waybill " + o.OrderCode
	if len(c.secret) == 0 {
		return Waybill{}, &Error{Op: op, Err: errors.New("no secret configured"), Class: wire.Permanent}
	}
	body, err := NewCreateRequest(o, c.cfg.ShipperCode).Encode()
	if err != nil {
		return Waybill{}, &Error{Op: op, Err: err, Class: wire.Permanent}
	}
	// Only a 2xx is checked for a signature (parseCreate): it is the only answer whose content
	// is acted on. A forged error can only delay or dead-letter an order, which whoever can
	// forge one could do by dropping the traffic; and a carrier's 401 for a wrong secret must
	// stay permanent although its signature cannot verify with that secret.
	resp, err := c.wire.Post(ctx, wire.Request{Op: op, URL: c.cfg.URL, ContentType: ContentType,
		Header: http.Header{"Accept": {ContentType}, SignatureHeader: {Sign(c.secret, time.Now(), body)}},
		Body:   body, Reason: reason})
	if err != nil {
		return Waybill{}, err
	}
	return c.parseCreate(op, o.OrderCode, resp.Status, resp.Header.Get(SignatureHeader), resp.Body)
}

func (c *Client) parseCreate(op, orderCode string, status int, header string, body []byte) (Waybill, error) {
	// Every failure here follows a 2xx: the carrier may well have created the waybill.
	fail := func(err error) (Waybill, error) {
		return Waybill{}, &Error{Op: op, HTTPStatus: status, Err: err, Class: wire.Ambiguous}
	}
	if _, err := Verify(header, body, c.secret, time.Now(), c.cfg.Tolerance); err != nil {
		return fail(fmt.Errorf("response: %w", err))
	}
	// Unknown fields are tolerated: answers may grow, and this one is authentic.
	var r CreateResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return fail(fmt.Errorf("decode response: %w", err))
	}
	if r.Waybill == "" {
		return fail(errors.New("answer without waybill"))
	}
	if r.OrderCode != "" && r.OrderCode != orderCode {
		// A signed answer to another request, replayed or misrouted: its waybill is not ours.
		return fail(fmt.Errorf("answer is for order %q", wire.Clip(r.OrderCode, 64)))
	}
	w := Waybill{Number: r.Waybill, Repeat: r.Repeat}
	if r.PickupTime != "" {
		// Optional and informative only: an unreadable time must not lose a created waybill.
		if t, err := time.Parse(time.RFC3339, r.PickupTime); err == nil {
			w.PickupTime = t
		}
	}
	return w, nil
}

// reason returns the "error" of a JSON error answer, or else the start of body, as valid
// UTF-8, for error messages.
func reason(body []byte) string {
	var r ErrorResponse
	if err := json.Unmarshal(body, &r); err == nil && r.Error != "" {
		return wire.Snippet([]byte(r.Error))
	}
	return wire.Snippet(body)
}
