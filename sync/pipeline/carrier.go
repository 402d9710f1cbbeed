package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/shipsync/shipsync/sinks/carrier/kdniao"
	"github.com/shipsync/shipsync/sinks/shopdb"
	"github.com/shipsync/shipsync/sync/config"
)

// Carrier creates waybills. Create blocks until the carrier answers, its timeout passes or ctx is
// done, and is safe for concurrent use. A repeated Create for the same order code must return
// the same waybill (Kdniao answers 106). An error whose Permanent() is true will not succeed on
// retry; any other error may.
type Carrier interface {
	Create(ctx context.Context, s Shipment) (Waybill, error)
}

// Shipment is what a carrier needs to know about an order.
type Shipment struct {
	OrderCode string
	Sender    config.Address
	Receiver  config.Address
	Items     []shopdb.Item
	WeightKg  float64
	VolumeM3  float64
	Remark    string
}

// Waybill is a carrier's answer.
type Waybill struct {
	Number     string
	PickupTime time.Time
	Repeat     bool // the carrier had created it before (a retry after an ambiguous failure)
}

// permanentError marks failures a retry cannot fix (bad address, refused by the carrier).
type permanentError struct{ reason string }

func (e *permanentError) Error() string   { return e.reason }
func (e *permanentError) Permanent() bool { return true }

func isPermanent(err error) bool {
	var p interface{ Permanent() bool }
	return errors.As(err, &p) && p.Permanent()
}

// shipment builds the carrier request from the enriched order; missing required receiver data is
// a permanent error naming what is missing.
func shipment(o shopdb.Order, items []shopdb.Item, sender config.Address) (Shipment, error) {
	var missing []string
	if strings.TrimSpace(o.ReceiverName) == "" {
		missing = append(missing, "receiver_name")
	}
	if strings.TrimSpace(o.ReceiverMobile) == "" && strings.TrimSpace(o.ReceiverPhone) == "" {
		missing = append(missing, "receiver_mobile or receiver_phone")
	}
	if strings.TrimSpace(o.ReceiverAddress) == "" {
		missing = append(missing, "receiver_address")
	}
	if strings.TrimSpace(o.ReceiverProvince) == "" || strings.TrimSpace(o.ReceiverCity) == "" {
		missing = append(missing, "receiver_province/receiver_city")
	}
	if len(missing) > 0 {
		return Shipment{}, &permanentError{fmt.Sprintf("order %s has no %s", o.Code, strings.Join(missing, ", "))}
	}
	weight := o.WeightKg
	if weight == 0 {
		for _, it := range items {
			weight += it.WeightKg * float64(it.Quantity)
		}
	}
	return Shipment{
		OrderCode: o.Code,
		Sender:    sender,
		Receiver: config.Address{Name: o.ReceiverName, Mobile: o.ReceiverMobile, Phone: o.ReceiverPhone,
			Province: o.ReceiverProvince, City: o.ReceiverCity, District: o.ReceiverDistrict,
			Address: o.ReceiverAddress, Postcode: o.ReceiverPostcode},
		Items:    items,
		WeightKg: weight,
		VolumeM3: o.VolumeM3,
		Remark:   o.Remark,
	}, nil
}

// kdniaoCarrier adapts kdniao.Client to Carrier, webhook.Decoder and Tracker.
type kdniaoCarrier struct {
	c                   *kdniao.Client
	appKey, ebusinessID string
}

var _ Carrier = kdniaoCarrier{}

func (k kdniaoCarrier) Create(ctx context.Context, s Shipment) (Waybill, error) {
	o := kdniao.Order{
		OrderCode: s.OrderCode,
		Sender:    kdniaoAddress(s.Sender),
		Receiver:  kdniaoAddress(s.Receiver),
		WeightKg:  s.WeightKg,
		VolumeM3:  s.VolumeM3,
		Remark:    s.Remark,
	}
	for _, it := range s.Items {
		o.Items = append(o.Items, kdniao.Item{GoodsName: it.Name, Goodsquantity: it.Quantity,
			GoodsWeight: kdniao.Float(it.WeightKg), GoodsPrice: kdniao.Float(it.Price)})
	}
	w, err := k.c.Create(ctx, o)
	if err != nil {
		return Waybill{}, err
	}
	return Waybill{Number: w.LogisticCode, PickupTime: w.PickupTime, Repeat: w.Repeat}, nil
}

func kdniaoAddress(a config.Address) kdniao.Address {
	return kdniao.Address{Name: a.Name, Mobile: a.Mobile, Tel: a.Phone, ProvinceName: a.Province,
		CityName: a.City, ExpAreaName: a.District, Address: a.Address, PostCode: a.Postcode, Company: a.Company}
}
