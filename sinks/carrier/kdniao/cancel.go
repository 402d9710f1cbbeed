package kdniao

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/shipsync/shipsync/sinks/carrier/wire"
)

const requestTypeCancel = "1147"

// CancelRequest is the RequestData of a 1147 cancel-waybill call.
type CancelRequest struct {
	ShipperCode string `json:"ShipperCode"`
	OrderCode   string `json:"OrderCode"`
	ExpNo       string `json:"ExpNo"`
}

// Encode returns r as compact JSON without HTML escaping: the text to sign and send.
func (r CancelRequest) Encode() (string, error) {
	s, err := encodeJSON(r)
	if err != nil {
		return "", fmt.Errorf("encode request data: %w", err)
	}
	return s, nil
}

// Cancel asks the carrier to cancel a waybill (RequestType 1147, on the create endpoint). It
// blocks like Create. Kdniao refuses a cancel once the parcel is picked up: that answer is a
// permanent *Error (Success false with a ResultCode); transport failures and 5xx are transient
// and safe to repeat, since cancelling twice cancels once. The OrderCode stays used afterwards:
// a new waybill for the order needs another code.
func (c *Client) Cancel(ctx context.Context, shipperCode, orderCode, waybill string) error {
	op := "cancel waybill " + waybill
	if shipperCode == "" {
		shipperCode = c.cfg.ShipperCode
	}
	data, err := CancelRequest{ShipperCode: shipperCode, OrderCode: orderCode, ExpNo: waybill}.Encode()
	if err != nil {
		return &Error{Op: op, Err: err, Class: wire.Permanent}
	}
	// Repeating a cancel is harmless: its failures are never ambiguous in a way that matters.
	resp, err := c.post(ctx, wire.Request{Op: op, URL: c.cfg.URL, ReadOnly: true}, requestTypeCancel, data)
	if err != nil {
		return err
	}
	var r struct {
		Success    bool       `json:"Success"`
		ResultCode resultCode `json:"ResultCode"`
		Reason     string     `json:"Reason"`
	}
	if err := json.Unmarshal(resp.Body, &r); err != nil {
		return &Error{Op: op, HTTPStatus: resp.Status, Err: fmt.Errorf("decode response: %w", err)}
	}
	if r.Success {
		return nil
	}
	e := &Error{Op: op, HTTPStatus: resp.Status, ResultCode: int(r.ResultCode), Reason: r.Reason}
	if code := int(r.ResultCode); code != 0 && code != 105 {
		// An explicit refusal of this cancel (picked up, unknown waybill, account problem).
		e.Class = wire.Permanent
	}
	return e
}
