package kdniao

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// TimeLayout is how Kdniao writes times (PickupTime, trace AcceptTime, PushTime), as wall-clock
// time in Asia/Shanghai.
const TimeLayout = "2006-01-02 15:04:05"

// Shanghai is the time zone of Kdniao's wall-clock times. China has had no daylight saving
// since 1991, so a fixed UTC+8 zone is exact and needs no tzdata on the host.
func Shanghai() *time.Location {
	return time.FixedZone("CST", 8*3600)
}

// Float is a number that always carries a decimal point in JSON (1.0, not 1), the way Kdniao's
// own SDKs write weights and volumes; the signed TV3 vector depends on it.
type Float float64

// MarshalJSON writes f in its shortest exact form with at least one decimal.
func (f Float) MarshalJSON() ([]byte, error) {
	v := float64(f)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil, fmt.Errorf("unsupported number %v", v)
	}
	b := strconv.AppendFloat(nil, v, 'f', -1, 64)
	if !bytes.ContainsRune(b, '.') {
		b = append(b, ".0"...)
	}
	return b, nil
}

// Address is a Sender or Receiver. Mobile or Tel must be set; the others are optional.
type Address struct {
	Name         string `json:"Name"`
	Mobile       string `json:"Mobile,omitempty"`
	Tel          string `json:"Tel,omitempty"`
	ProvinceName string `json:"ProvinceName"`
	CityName     string `json:"CityName"`
	ExpAreaName  string `json:"ExpAreaName"`
	Address      string `json:"Address"`
	PostCode     string `json:"PostCode,omitempty"`
	Company      string `json:"Company,omitempty"`
}

// Item is one Commodity line.
type Item struct {
	GoodsName     string `json:"GoodsName"`
	Goodsquantity int    `json:"Goodsquantity"`
	GoodsWeight   Float  `json:"GoodsWeight"`
	GoodsPrice    Float  `json:"GoodsPrice,omitempty"`
}

// Order is what the caller knows about an order that needs a waybill. OrderCode is the shop's
// order number: Kdniao's idempotency key, so a repeated create returns the same waybill.
type Order struct {
	OrderCode string
	Sender    Address
	Receiver  Address
	Items     []Item
	WeightKg  float64
	VolumeM3  float64
	Quantity  int // parcels; 0 means 1
	Remark    string
	// Labels asks for the print templates (IsReturnPrintTemplate=1), of TemplateSize when set
	// (e.g. "150": the courier's 100x150 mm label).
	Labels       bool
	TemplateSize string
}

// CreateRequest is the RequestData of a 1007 create-waybill call. The field order is the
// order Kdniao documents and the TV3 vector uses.
type CreateRequest struct {
	OrderCode             string  `json:"OrderCode"`
	ShipperCode           string  `json:"ShipperCode"`
	PayType               int     `json:"PayType"`
	ExpType               int     `json:"ExpType"`
	Sender                Address `json:"Sender"`
	Receiver              Address `json:"Receiver"`
	Commodity             []Item  `json:"Commodity"`
	Weight                Float   `json:"Weight"`
	Quantity              int     `json:"Quantity"`
	Volume                Float   `json:"Volume"`
	Remark                string  `json:"Remark,omitempty"`
	IsReturnPrintTemplate int     `json:"IsReturnPrintTemplate"`
	TemplateSize          string  `json:"TemplateSize,omitempty"`
}

// NewCreateRequest builds the create-waybill RequestData for o.
func NewCreateRequest(o Order, shipperCode string, payType, expType int) CreateRequest {
	items := o.Items
	if items == nil {
		items = []Item{} // "[]", not "null": Commodity is a list in Kdniao's schema
	}
	quantity := o.Quantity
	if quantity <= 0 {
		quantity = 1
	}
	r := CreateRequest{
		OrderCode:   o.OrderCode,
		ShipperCode: shipperCode,
		PayType:     payType,
		ExpType:     expType,
		Sender:      o.Sender,
		Receiver:    o.Receiver,
		Commodity:   items,
		Weight:      Float(o.WeightKg),
		Quantity:    quantity,
		Volume:      Float(o.VolumeM3),
		Remark:      o.Remark,
	}
	if o.Labels {
		r.IsReturnPrintTemplate, r.TemplateSize = 1, o.TemplateSize
	}
	return r
}

// Encode returns r as compact JSON with UTF-8 left unescaped and without HTML escaping
// (& stays &), which is the text to sign and send.
func (r CreateRequest) Encode() (string, error) {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		return "", fmt.Errorf("encode request data: %w", err)
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}
