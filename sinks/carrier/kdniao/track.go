package kdniao

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/shipsync/shipsync/sinks/carrier/wire"
)

const requestTypeTrack = "1002"

// TrackRequest is the RequestData of a 1002 instant trace query. OrderCode is optional for
// most couriers but always sent (empty if unknown), as the TV2 vector shows.
type TrackRequest struct {
	OrderCode    string `json:"OrderCode"`
	ShipperCode  string `json:"ShipperCode"`
	LogisticCode string `json:"LogisticCode"`
}

// Encode returns r as compact JSON without HTML escaping: the text to sign and send.
func (r TrackRequest) Encode() (string, error) {
	s, err := encodeJSON(r)
	if err != nil {
		return "", fmt.Errorf("encode request data: %w", err)
	}
	return s, nil
}

// Track asks the carrier for the traces of one waybill (RequestType 1002) and returns them as
// the carrier has them now. It blocks until the carrier answers, the configured timeout passes
// or ctx is done; the request goes to Config.TrackURL (an empty one is a permanent error: Kdniao
// does not answer 1002 on the create endpoint).
//
// Errors are *Error, classified like Create's (README.md): transport failures, 5xx, 408/429,
// unreadable answers and Success:false without a ResultCode of 101-104 are transient;
// other 4xx and ResultCode 101-104 are permanent. MaybeCreated is always false: a query
// changes nothing at the carrier.
func (c *Client) Track(ctx context.Context, shipperCode, logisticCode, orderCode string) (Trace, error) {
	op := "track waybill " + logisticCode
	data, err := TrackRequest{OrderCode: orderCode, ShipperCode: shipperCode, LogisticCode: logisticCode}.Encode()
	if err != nil {
		return Trace{}, &Error{Op: op, Err: err, Class: wire.Permanent}
	}
	// A query changes nothing at the carrier: its failures are never ambiguous.
	resp, err := c.post(ctx, wire.Request{Op: op, URL: c.cfg.TrackURL, ReadOnly: true}, requestTypeTrack, data)
	if err != nil {
		return Trace{}, err
	}
	status, body := resp.Status, resp.Body

	var r struct {
		wireTrace
		ResultCode resultCode `json:"ResultCode"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return Trace{}, &Error{Op: op, HTTPStatus: status, Err: fmt.Errorf("decode response: %w", err)}
	}
	code := int(r.ResultCode)
	if !r.Success {
		e := &Error{Op: op, HTTPStatus: status, ResultCode: code, Reason: string(r.Reason)}
		if code >= 101 && code <= 104 {
			e.Class = wire.Permanent
		}
		return Trace{}, e
	}
	t := r.trace()
	if t.LogisticCode == "" {
		t.LogisticCode = logisticCode
	}
	if t.ShipperCode == "" {
		t.ShipperCode = shipperCode
	}
	return t, nil
}
