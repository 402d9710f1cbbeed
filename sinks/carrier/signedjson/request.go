package signedjson

import (
	"fmt"
	"time"
)

// Address is a sender or receiver. Mobile or Phone must be set; Postcode and Company are
// optional.
type Address struct {
	Name     string `json:"name"`
	Mobile   string `json:"mobile"`
	Phone    string `json:"phone"`
	Province string `json:"province"`
	City     string `json:"city"`
	District string `json:"district"`
	Address  string `json:"address"`
	Postcode string `json:"postcode"`
	Company  string `json:"company"`
}

// Item is one order line.
type Item struct {
	Name     string  `json:"name"`
	Quantity int     `json:"quantity"`
	WeightKg float64 `json:"weight_kg"`
	Price    float64 `json:"price"`
}

// Order is what the caller knows about an order that needs a waybill. OrderCode is the shop's
// order number and the idempotency key: a repeated create returns the same waybill.
type Order struct {
	OrderCode string
	Sender    Address
	Receiver  Address
	Items     []Item
	WeightKg  float64
	VolumeM3  float64
	Remark    string
}

// Waybill is a created (or previously created) waybill.
type Waybill struct {
	Number     string    // the waybill / tracking number
	PickupTime time.Time // zero when the carrier gave none
	Repeat     bool      // the OrderCode had been created before
}

// CreateRequest is the body of a create call. Every key is always sent, empty or not, so that
// a carrier can tell "empty" from "not supported".
type CreateRequest struct {
	OrderCode   string  `json:"order_code"`
	ShipperCode string  `json:"shipper_code"`
	Sender      Address `json:"sender"`
	Receiver    Address `json:"receiver"`
	Items       []Item  `json:"items"`
	WeightKg    float64 `json:"weight_kg"`
	VolumeM3    float64 `json:"volume_m3"`
	Remark      string  `json:"remark"`
}

// NewCreateRequest builds the create body for o.
func NewCreateRequest(o Order, shipperCode string) CreateRequest {
	items := o.Items
	if items == nil {
		items = []Item{} // "[]", not "null"
	}
	return CreateRequest{
		OrderCode:   o.OrderCode,
		ShipperCode: shipperCode,
		Sender:      o.Sender,
		Receiver:    o.Receiver,
		Items:       items,
		WeightKg:    o.WeightKg,
		VolumeM3:    o.VolumeM3,
		Remark:      o.Remark,
	}
}

// Encode returns r as compact UTF-8 JSON without HTML escaping: the bytes to sign and send.
func (r CreateRequest) Encode() ([]byte, error) {
	b, err := encodeJSON(r)
	if err != nil {
		return nil, fmt.Errorf("encode create request: %w", err)
	}
	return b, nil
}

// CreateResponse is a carrier's 200 answer to a create. OrderCode echoes the request's; the
// client rejects an answer for another order, which binds a signed answer to its request.
// PickupTime is RFC 3339 and optional.
type CreateResponse struct {
	OrderCode  string `json:"order_code,omitempty"`
	Waybill    string `json:"waybill"`
	PickupTime string `json:"pickup_time,omitempty"`
	Repeat     bool   `json:"repeat"`
}

// ErrorResponse is a carrier's non-2xx answer.
type ErrorResponse struct {
	Error string `json:"error"`
}
