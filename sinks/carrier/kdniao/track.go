package kdniao

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
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
		return Trace{}, &Error{Op: op, Err: err, permanent: true}
	}
	form := url.Values{
		"RequestData": {data},
		"EBusinessID": {c.cfg.EBusinessID},
		"RequestType": {requestTypeTrack},
		"DataSign":    {Sign(data, c.cfg.AppKey)},
		"DataType":    {dataTypeJSON},
	}
	status, body, err := c.post(ctx, op, c.cfg.TrackURL, form)
	if err != nil {
		if e, ok := errors.AsType[*Error](err); ok {
			e.maybeCreated = false
		}
		return Trace{}, err
	}

	var r struct {
		wireTrace
		ResultCode resultCode `json:"ResultCode"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return Trace{}, &Error{Op: op, HTTPStatus: status, Err: fmt.Errorf("decode response: %w", err)}
	}
	code := int(r.ResultCode)
	if !r.Success {
		return Trace{}, &Error{Op: op, HTTPStatus: status, ResultCode: code, Reason: string(r.Reason),
			permanent: code >= 101 && code <= 104}
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
