package ship

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/shipsync/shipsync/sinks/shopdb"
	"github.com/shipsync/shipsync/sync/carrier"
	"github.com/shipsync/shipsync/sync/config"
	"github.com/shipsync/shipsync/sync/state"
)

// ReissueStore is what a reissue keeps in Redis (sync/state): the order's record, the pending
// mark with its derived code, and the new waybill.
type ReissueStore interface {
	Get(ctx context.Context, key string) (state.Record, bool, error)
	BeginReissue(ctx context.Context, key string, n int, orderCode, previous string) error
	ReissueCode(ctx context.Context, key string) (string, error)
	RecordReissue(ctx context.Context, w state.WaybillRecord, orderCode string) error
	EndReissue(ctx context.Context, key string) error
}

// ReissueShop reads the order again and replaces its number (sinks/shopdb).
type ReissueShop interface {
	ReissueOrders(ctx context.Context, keys []string) (map[string]shopdb.OrderResult, error)
	ItemsOf(ctx context.Context, keys []string) (map[string]shopdb.ItemsResult, error)
	HasItemsQuery() bool
	HasReissue() bool
	WriteReissue(ctx context.Context, values map[string]any) (shopdb.Outcome, string, error)
}

// ReissueOptions are what Reissue works with. Cancel cancels the order's current waybill
// (sync/parcel.Stage.Cancel): done is true when the waybill is cancelled (now or before), false
// with a reason when it cannot be (picked up, not shipped).
type ReissueOptions struct {
	Store    ReissueStore
	Shop     ReissueShop
	Config   *config.Config
	Carriers carrier.Set
	Cancel   func(ctx context.Context, key string) (done bool, why string, err error)
}

// Reissued is what a reissue did.
type Reissued struct {
	OrderCode        string   // the derived code the new waybill was created under
	Waybill          string   // the new waybill
	Children         []string // the new children, with several parcels
	PreviousWaybills string   // what the shop held before
	ShopWritten      bool     // writeback.reissue replaced the shop's number
}

// reissued matches a derived order code's suffix.
var reissued = regexp.MustCompile(`-R[0-9]+$`)

// Reissue cancels order key's waybill (while its parcel is not picked up) and creates another
// under the derived code <code>-R<n> (Kdniao keeps a cancelled code used), at the same carrier,
// records it, and replaces the shop's number through writeback.reissue (guarded by the number
// the row holds). The old waybill is cancelled before the new one is asked for, and the pending
// mark (BeginReissue) is set in between: a crash at any point, then Reissue again, finishes the
// same reissue (the derived code makes the create idempotent) and never leaves two live
// waybills. The caller holds nothing: the status path's lock is taken inside Cancel.
func Reissue(ctx context.Context, o ReissueOptions, key string) (Reissued, error) {
	rec, ok, err := o.Store.Get(ctx, key)
	switch {
	case err != nil:
		return Reissued{}, err
	case !ok:
		return Reissued{}, fmt.Errorf("order %s: shipsync has no record of it", key)
	}
	var code, previous string
	if rec.ReissuePending {
		// An interrupted reissue: its old waybill is cancelled already; the one the record holds
		// may be the new one, which must not be cancelled.
		if code, err = o.Store.ReissueCode(ctx, key); err != nil {
			return Reissued{}, err
		}
		previous = rec.PreviousWaybills
	} else {
		if rec.State != state.Written || rec.Waybill == "" {
			return Reissued{}, fmt.Errorf("order %s is not shipped (state %s): nothing to reissue", key, rec.State)
		}
		done, why, err := o.Cancel(ctx, key)
		if err != nil {
			return Reissued{}, fmt.Errorf("cancel waybill %s: %w", rec.Waybill, err)
		}
		if !done {
			return Reissued{}, fmt.Errorf("order %s: waybill %s not cancelled (%s): no second waybill is created", key, rec.Waybill, why)
		}
		n := rec.Reissues + 1
		code = reissued.ReplaceAllString(rec.OrderCode, "") + "-R" + strconv.Itoa(n)
		previous = strings.Join(append([]string{rec.Waybill}, rec.Children...), o.Config.Writeback.Separator)
		if err := o.Store.BeginReissue(ctx, key, n, code, previous); err != nil {
			return Reissued{}, err
		}
	}
	out := Reissued{OrderCode: code, PreviousWaybills: previous}

	c, ok := o.Carriers[rec.Carrier]
	if !ok {
		return out, fmt.Errorf("carrier %s is no longer configured", rec.Carrier)
	}
	sh, shop, warehouse, err := o.readShipment(ctx, key, code)
	if err != nil {
		return out, err
	}
	sh.Parcels = parcels(c.Config, shop, sh.WeightKg)
	call, err := c.Admit()
	if err != nil {
		return out, err
	}
	wb, err := call.Create(ctx, sh)
	if err != nil {
		return out, fmt.Errorf("create the new waybill (%s): %w", code, err)
	}
	out.Waybill, out.Children = wb.Number, wb.Children
	now := time.Now()
	ord := &order{key: key, rec: rec, waybill: wb.Number, children: wb.Children, labels: wb.Labels, orderCode: code, carrier: rec.Carrier}
	err = o.Store.RecordReissue(ctx, state.WaybillRecord{Key: key, Carrier: rec.Carrier, Waybill: wb.Number, Children: wb.Children,
		Warehouse: warehouse, PickupDue: now.Add(o.Config.Watchdog.NoPickupAfter), PollDue: now.Add(pollInterval(o.Config, rec.Carrier)),
		Labels: ord.labelsToKeep(now)}, code)
	if err != nil {
		return out, err
	}
	if o.Shop.HasReissue() {
		ord.shipperCode, ord.warehouse = rec.ShipperCode, warehouse
		values := writeValues(ord, o.Config.Writeback.Separator, now)
		values["previous_waybills"] = previous
		outcome, existing, err := o.Shop.WriteReissue(ctx, values)
		switch {
		case err != nil:
			return out, fmt.Errorf("write the new waybill into the shop (run the reissue again): %w", err)
		case outcome == shopdb.Conflict:
			return out, fmt.Errorf("the shop holds %q, neither the previous waybill nor the new one: left untouched", existing)
		case outcome == shopdb.Missing:
			return out, errors.New("the shop's row is gone: the new waybill is recorded but not written")
		}
		out.ShopWritten = true
	}
	return out, o.Store.EndReissue(ctx, key)
}

// readShipment reads the order again for its new waybill, under the derived code.
func (o ReissueOptions) readShipment(ctx context.Context, key, code string) (carrier.Shipment, shopdb.Order, string, error) {
	var none shopdb.Order
	orders, err := o.Shop.ReissueOrders(ctx, []string{key})
	if err != nil {
		return carrier.Shipment{}, none, "", err
	}
	r, ok := orders[key]
	switch {
	case !ok:
		return carrier.Shipment{}, none, "", fmt.Errorf("order %s: the reissue query (orders.reissue_query, else orders.query) returns no row", key)
	case r.Err != nil:
		return carrier.Shipment{}, none, "", r.Err
	}
	var items []shopdb.Item
	if o.Shop.HasItemsQuery() {
		res, err := o.Shop.ItemsOf(ctx, []string{key})
		if err != nil {
			return carrier.Shipment{}, none, "", err
		}
		ir := res[key]
		if ir.Err != nil {
			return carrier.Shipment{}, none, "", ir.Err
		}
		items = ir.Items
	}
	sh, warehouse, err := shipment(r.Order, items, o.Config)
	if err != nil {
		return carrier.Shipment{}, none, "", err
	}
	sh.OrderCode = code
	return sh, r.Order, warehouse, nil
}
