package carrier

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/shipsync/shipsync/sinks/carrier/kdniao"
	"github.com/shipsync/shipsync/sources/webhook"
	"github.com/shipsync/shipsync/sync/config"
	"github.com/shipsync/shipsync/sync/status"
)

// kdniaoCarrier adapts kdniao.Client to Carrier, webhook.Decoder and Tracker.
type kdniaoCarrier struct {
	c                   *kdniao.Client
	appKey, ebusinessID string
}

var _ Client = kdniaoCarrier{}

func (k kdniaoCarrier) Create(ctx context.Context, s Shipment) (Waybill, error) {
	o := kdniao.Order{
		OrderCode: s.OrderCode,
		Sender:    kdniaoAddress(s.Sender),
		Receiver:  kdniaoAddress(s.Receiver),
		WeightKg:  s.WeightKg,
		VolumeM3:  s.VolumeM3,
		Remark:    s.Remark,
		Quantity:  s.Parcels,
		Labels:    s.Labels, TemplateSize: s.TemplateSize,
	}
	for _, it := range s.Items {
		o.Items = append(o.Items, kdniao.Item{GoodsName: it.Name, Goodsquantity: it.Quantity,
			GoodsWeight: kdniao.Float(it.WeightKg), GoodsPrice: kdniao.Float(it.Price)})
	}
	w, err := k.c.Create(ctx, o)
	if err != nil {
		return Waybill{}, err
	}
	out := Waybill{Number: w.LogisticCode, PickupTime: w.PickupTime, Repeat: w.Repeat, Children: w.Children}
	if w.Label != "" {
		out.Labels = append([]string{w.Label}, w.ChildLabels...)
	}
	return out, nil
}

var _ Canceller = kdniaoCarrier{}

// Cancel cancels a waybill (1147). Kdniao refuses a cancel after pickup with a reason that
// says so (揽收: picked up; 已取件: collected); that refusal is ErrPickedUp, wrapped.
func (k kdniaoCarrier) Cancel(ctx context.Context, shipperCode, orderCode, waybill string) error {
	err := k.c.Cancel(ctx, shipperCode, orderCode, waybill)
	if e, ok := errors.AsType[*kdniao.Error](err); ok && e.Permanent() && pickedUpReason(e.Reason) {
		return fmt.Errorf("%w: %w", ErrPickedUp, err)
	}
	return err
}

// pickedUpReason reports whether a refusal's reason says the parcel is picked up.
func pickedUpReason(reason string) bool {
	r := strings.ToLower(reason)
	return strings.Contains(r, "揽收") || strings.Contains(r, "已取件") || strings.Contains(r, "picked up")
}

func kdniaoAddress(a config.Address) kdniao.Address {
	return kdniao.Address{Name: a.Name, Mobile: a.Mobile, Tel: a.Phone, ProvinceName: a.Province,
		CityName: a.City, ExpAreaName: a.District, Address: a.Address, PostCode: a.Postcode, Company: a.Company}
}

var (
	_ webhook.Decoder = kdniaoCarrier{}
	_ Tracker         = kdniaoCarrier{}
)

// Decode verifies and parses a Kdniao 101 push.
func (k kdniaoCarrier) Decode(_ *http.Request, body []byte) ([]webhook.Update, error) {
	push, err := kdniao.ParsePush(body, k.appKey)
	switch {
	case errors.Is(err, kdniao.ErrBadSignature):
		return nil, fmt.Errorf("%w: %w", webhook.ErrBadSignature, err)
	case err != nil:
		return nil, fmt.Errorf("%w: %w", webhook.ErrMalformed, err)
	}
	out := make([]webhook.Update, 0, len(push.Data))
	for _, t := range push.Data {
		out = append(out, kdniaoUpdate(t))
	}
	return out, nil
}

func kdniaoUpdate(t kdniao.Trace) webhook.Update {
	ev, known := status.FromKdniao(t.State, t.StateEx)
	return webhook.Update{Waybill: t.LogisticCode, OrderCode: t.OrderCode, ShipperCode: t.ShipperCode,
		Status: string(ev.Status), Exception: ev.Exception, Reason: ev.Reason, Time: t.Newest(),
		Code: t.State + "/" + t.StateEx, Known: known}
}

// Reply is the JSON Kdniao expects within 5 s.
func (k kdniaoCarrier) Reply(w http.ResponseWriter, ok bool, reason string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Write(kdniao.PushReply(k.ebusinessID, ok, reason, time.Now())) //nolint:errcheck // the carrier retries
}

// Track asks Kdniao for the waybill's traces (1002).
func (k kdniaoCarrier) Track(ctx context.Context, shipperCode, waybill, orderCode string) (webhook.Update, error) {
	t, err := k.c.Track(ctx, shipperCode, waybill, orderCode)
	if err != nil {
		return webhook.Update{}, err
	}
	if !t.Success || len(t.Traces) == 0 {
		return webhook.Update{}, ErrNoTrace
	}
	if t.LogisticCode == "" {
		t.LogisticCode = waybill
	}
	return kdniaoUpdate(t), nil
}
