package signedjson

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync/atomic"
	"time"
)

const maxReasonBytes = 200

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
	http   *http.Client
}

// New returns a client for cfg with defaults applied. It does not dial.
func New(cfg Config) *Client {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.Tolerance <= 0 {
		cfg.Tolerance = DefaultTolerance
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	// Hundreds of creates run concurrently against one host; the default of 2 idle
	// connections per host would make most of them dial (and TLS-handshake) anew.
	tr.MaxIdleConns = 1024
	tr.MaxIdleConnsPerHost = 256
	return &Client{cfg: cfg, secret: []byte(cfg.Secret), http: &http.Client{Timeout: cfg.Timeout, Transport: tr}}
}

// Create asks for a waybill for o. It blocks until the carrier answers, the configured
// timeout passes or ctx is done. A repeated OrderCode answers the first waybill with Repeat
// set. The answer must be signed with the same secret. Errors are *Error.
func (c *Client) Create(ctx context.Context, o Order) (Waybill, error) {
	op := "create waybill " + o.OrderCode
	switch {
	case c.cfg.URL == "":
		return Waybill{}, &Error{Op: op, Err: errors.New("no url configured"), permanent: true}
	case len(c.secret) == 0:
		return Waybill{}, &Error{Op: op, Err: errors.New("no secret configured"), permanent: true}
	}
	body, err := NewCreateRequest(o, c.cfg.ShipperCode).Encode()
	if err != nil {
		return Waybill{}, &Error{Op: op, Err: err, permanent: true}
	}
	status, header, resp, err := c.post(ctx, op, body)
	if err != nil {
		return Waybill{}, err
	}
	return c.parseCreate(op, o.OrderCode, status, header, resp)
}

// post signs and sends body and returns the status, signature header and body of a 2xx
// answer; any other outcome is an *Error classified here.
func (c *Client) post(ctx context.Context, op string, body []byte) (int, string, []byte, error) {
	// Whether the request was fully written decides whether a failure is ambiguous: before
	// that the carrier cannot have acted on it (refused, DNS, dial timeout); after it, it may.
	var sent atomic.Bool
	trace := &httptrace.ClientTrace{WroteRequest: func(i httptrace.WroteRequestInfo) {
		if i.Err == nil {
			sent.Store(true)
		}
	}}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace),
		http.MethodPost, c.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return 0, "", nil, &Error{Op: op, Err: err, permanent: true}
	}
	req.Header.Set("Content-Type", ContentType)
	req.Header.Set("Accept", ContentType)
	req.Header.Set(SignatureHeader, Sign(c.secret, time.Now(), body))
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, "", nil, &Error{Op: op, Err: err, maybeCreated: sent.Load()}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxBodyBytes))
	status := resp.StatusCode
	if err != nil {
		return 0, "", nil, &Error{Op: op, HTTPStatus: status, Err: fmt.Errorf("read response: %w", err),
			maybeCreated: true}
	}
	// Only a 2xx is checked for a signature: it is the only answer whose content is acted on.
	// A forged error can only delay or dead-letter an order, which whoever can forge one could
	// do by dropping the traffic; and a carrier's 401 for a wrong secret must stay permanent
	// although its signature cannot verify with that secret.
	switch {
	case status >= 200 && status <= 299:
		return status, resp.Header.Get(SignatureHeader), data, nil
	case status == http.StatusTooManyRequests || status == http.StatusRequestTimeout:
		// Refused before processing: retry later, nothing was created.
		return 0, "", nil, &Error{Op: op, HTTPStatus: status, Reason: reason(data)}
	case status >= 400 && status <= 499:
		return 0, "", nil, &Error{Op: op, HTTPStatus: status, Reason: reason(data), permanent: true}
	default:
		// 5xx (and anything unexpected): the carrier may have failed after creating.
		return 0, "", nil, &Error{Op: op, HTTPStatus: status, Reason: reason(data), maybeCreated: true}
	}
}

func (c *Client) parseCreate(op, orderCode string, status int, header string, body []byte) (Waybill, error) {
	// Every failure here follows a 2xx: the carrier may well have created the waybill.
	fail := func(err error) (Waybill, error) {
		return Waybill{}, &Error{Op: op, HTTPStatus: status, Err: err, maybeCreated: true}
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
		return fail(fmt.Errorf("answer is for order %q", clip(r.OrderCode, 64)))
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
		return clip(strings.TrimSpace(r.Error), maxReasonBytes)
	}
	return clip(strings.TrimSpace(string(body)), maxReasonBytes)
}
