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
	"github.com/shipsync/shipsync/sync/status"
)

// ReissueStore is what a reissue keeps in Redis (sync/state): the order's record, the pending
// mark with its derived code, and the new waybill.
type ReissueStore interface {
	Lock(ctx context.Context, key string, ttl, wait time.Duration) (unlock func(), err error)
	Get(ctx context.Context, key string) (state.Record, bool, error)
	DiscardLabels(ctx context.Context, waybills ...string) error
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

// ReissueOptions are what Reissue works with.
type ReissueOptions struct {
	Store    ReissueStore
	Shop     ReissueShop
	Config   *config.Config
	Carriers carrier.Set
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

// Reissue cancels order key's waybill at its carrier (while its parcel is not picked up) and
// creates another under the derived code <code>-R<n> (Kdniao keeps a cancelled code used), at
// the same carrier, records it with its labels (the old ones are discarded), and replaces the
// shop's number through writeback.reissue (guarded by the number the row holds). It is not a
// cancellation of the order: nothing is written to the shop about the old waybill. The order's
// status lock is held throughout, so no status update or cancellation interleaves. The old
// waybill is cancelled before the new one is asked for, and the pending mark (BeginReissue) is
// set in between and cleared once the shop holds the new number: a crash at any point, then
// Reissue again, finishes the same reissue (the derived code makes the create idempotent) and
// never leaves two live waybills.
func Reissue(ctx context.Context, o ReissueOptions, key string) (Reissued, error) {
	unlock, err := o.Store.Lock(ctx, key, 2*time.Minute, 5*time.Second)
	if err != nil {
		return Reissued{}, err
	}
	defer unlock()
	rec, ok, err := o.Store.Get(ctx, key)
	switch {
	case err != nil:
		return Reissued{}, err
	case !ok:
		return Reissued{}, fmt.Errorf("order %s: shipsync has no record of it", key)
	}
	c, ok := o.Carriers[rec.Carrier]
	if !ok {
		return Reissued{}, fmt.Errorf("carrier %s is no longer configured", rec.Carrier)
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
		if err := cancelForReissue(ctx, c, rec); err != nil {
			return Reissued{}, err
		}
		numbers := append([]string{rec.Waybill}, rec.Children...)
		if err := o.Store.DiscardLabels(ctx, numbers...); err != nil {
			return Reissued{}, err
		}
		n := rec.Reissues + 1
		code = reissued.ReplaceAllString(rec.OrderCode, "") + "-R" + strconv.Itoa(n)
		previous = strings.Join(numbers, o.Config.Writeback.Separator)
		if err := o.Store.BeginReissue(ctx, key, n, code, previous); err != nil {
			return Reissued{}, err
		}
	}
	out := Reissued{OrderCode: code, PreviousWaybills: previous}

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
	ord := &order{key: key, rec: rec, waybill: wb.Number, children: wb.Children, labels: wb.Labels, orderCode: code,
		carrier: rec.Carrier, shipperCode: rec.ShipperCode, warehouse: warehouse}
	if !(rec.ReissuePending && rec.Waybill == wb.Number) { // recorded before an interruption: its status stays
		err = o.Store.RecordReissue(ctx, state.WaybillRecord{Key: key, Carrier: rec.Carrier, Waybill: wb.Number, Children: wb.Children,
			Warehouse: warehouse, PickupDue: now.Add(o.Config.Watchdog.NoPickupAfter), PollDue: now.Add(pollInterval(o.Config, rec.Carrier)),
			Labels: ord.labelsToKeep(now)}, code)
		if err != nil {
			return out, err
		}
	}
	if o.Shop.HasReissue() {
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

// cancelForReissue cancels the order's waybill at its carrier, unless a cancellation went
// through already; a picked-up parcel, or any other refusal, stops the reissue.
func cancelForReissue(ctx context.Context, c *carrier.Carrier, rec state.Record) error {
	switch st := status.Status(rec.Status); {
	case st == status.Cancelled:
		return nil
	case st.Rank() >= status.PickedUp.Rank():
		return fmt.Errorf("order %s: the parcel of waybill %s is on its way (%s): intercept it with the courier; no second waybill is created",
			rec.Key, rec.Waybill, st)
	}
	call, err := c.Admit()
	if err != nil {
		return err
	}
	if err := call.Cancel(ctx, rec.ShipperCode, rec.OrderCode, rec.Waybill); err != nil {
		return fmt.Errorf("cancel waybill %s (no second waybill is created): %w", rec.Waybill, err)
	}
	return nil
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
	sh, warehouse, err := shipment(r.Order, items, o.Config, sendersOf(o.Config))
	if err != nil {
		return carrier.Shipment{}, none, "", err
	}
	sh.OrderCode = code
	return sh, r.Order, warehouse, nil
}
