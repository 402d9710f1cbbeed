package pipeline

import (
	"context"

	"github.com/shipsync/shipsync/sinks/carrier/kdniao"
	"github.com/shipsync/shipsync/sync/carrier"
	"github.com/shipsync/shipsync/sync/config"
)

// The carrier types the adapters of this package speak (sync/carrier holds them).
type (
	// Carrier is a carrier's client.
	Carrier = carrier.Client
	// Tracker answers trace queries.
	Tracker = carrier.Tracker
	// Shipment is what a carrier needs to know about an order.
	Shipment = carrier.Shipment
	// Waybill is a carrier's answer.
	Waybill = carrier.Waybill
)

// errNoTrace: the carrier has nothing for the waybill yet.
var errNoTrace = carrier.ErrNoTrace

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
