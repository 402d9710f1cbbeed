package ship

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shipsync/shipsync/sinks/shopdb"
	"github.com/shipsync/shipsync/sync/carrier"
	"github.com/shipsync/shipsync/sync/config"
	"github.com/shipsync/shipsync/sync/loop"
	"github.com/shipsync/shipsync/sync/metrics"
	"github.com/shipsync/shipsync/sync/outbox"
	"github.com/shipsync/shipsync/sync/state"
)

// order is one key of a batch on its way: the jobs that named it, its record as claimed and
// what this batch established about it. The record is never changed here: what the batch
// learns is kept beside it, and the store's answers are the truth.
type order struct {
	key  string
	jobs []Job
	rec  state.Record // as claimed
	res  result       // set once the order's fate in this batch is known

	shipment   carrier.Shipment
	shop       shopdb.Order
	candidates []*carrier.Carrier
	refusals   []refusal

	// The waybill: from the claim (an earlier attempt recorded it) or from this batch's create.
	carrier, shipperCode, orderCode, waybill, pickup string
	children                                         []string // the other parcels' waybills
	labels                                           []string // print templates of this create
	warehouse                                        string
}

func (o *order) settled() bool { return o.res.kind != 0 }

func (o *order) fail(err error) {
	o.res = result{kind: failed, err: err, carrier: o.carrier, pinned: o.rec.Sticky}
}

// batchRun is the state of one batch: the settings read once, and the orders by key.
type batchRun struct {
	s        *Stage
	owner    string
	cfg      *config.Config
	carriers carrier.Set
	orders   []*order
	// unsettled are orders whose outcome could not even be recorded (Redis failing, a lease
	// lost); their jobs are not acknowledged and go round again.
	unsettled []*order
}

// ship takes one batch through every step; it returns the jobs that could not be settled.
func (s *Stage) ship(ctx context.Context, owner string, jobs []Job) []Job {
	cfg, carriers := s.o.Settings()
	b := &batchRun{s: s, owner: owner, cfg: cfg, carriers: carriers}
	byKey := map[string]*order{}
	for _, j := range jobs {
		o, ok := byKey[j.Key]
		if !ok {
			o = &order{key: j.Key}
			byKey[j.Key] = o
			b.orders = append(b.orders, o)
		}
		o.jobs = append(o.jobs, j)
	}

	fresh := b.claim(ctx)
	b.enrich(ctx, fresh)
	b.create(ctx)
	b.writeBack(ctx)
	b.settle(ctx)

	var again []Job
	for _, o := range b.unsettled {
		again = append(again, o.jobs...)
	}
	return again
}

// claim takes the batch's orders in one round trip and returns those with nothing sent yet.
// Orders finished or dead need nothing (acknowledged at once); busy ones are parked; claimed
// orders that already have a waybill go straight to the write-back.
func (b *batchRun) claim(ctx context.Context) []*order {
	keys := make([]string, len(b.orders))
	for i, o := range b.orders {
		keys[i] = o.key
	}
	claims := b.s.o.Store.ClaimMany(ctx, keys, b.owner, b.cfg.Workers.LeaseTTL)
	var fresh []*order
	for i, c := range claims {
		o := b.orders[i]
		o.rec = c.Record
		o.rec.Key = o.key
		switch {
		case c.Err != nil:
			b.s.log.Warn("order not claimed", "order", o.key, "err", c.Err)
			b.unsettled = append(b.unsettled, o)
			o.res = result{kind: failed, err: c.Err}
		case c.Result == state.Done || c.Result == state.Dead:
			o.res = result{kind: finished} // nothing to record: acknowledged in settle
		case c.Result == state.Busy:
			o.res = result{kind: busy, until: c.Record.LeaseUntil}
		case c.Record.Waybill != "":
			o.carrier, o.shipperCode, o.orderCode = c.Record.Carrier, c.Record.ShipperCode, c.Record.OrderCode
			o.waybill, o.pickup = c.Record.Waybill, c.Record.PickupTime
			o.children, o.warehouse = c.Record.Children, c.Record.Warehouse
		default:
			fresh = append(fresh, o)
		}
	}
	return fresh
}

// enrich reads the fresh orders and their items (one statement each per batch with a :keys
// query) and builds each one's shipment and carrier candidates.
func (b *batchRun) enrich(ctx context.Context, fresh []*order) {
	if len(fresh) == 0 {
		return
	}
	if d := b.cfg.Orders.ReadDelay; d > 0 {
		if err := loop.Sleep(ctx, d); err != nil {
			for _, o := range fresh {
				o.fail(carrier.NotCalled{Err: err})
			}
			return
		}
	}
	keys := make([]string, len(fresh))
	for i, o := range fresh {
		keys[i] = o.key
	}
	shop := b.s.o.Shop
	orders, err := shop.Orders(ctx, keys)
	if err != nil {
		for _, o := range fresh {
			o.fail(shopDown{err})
		}
		return
	}
	var found []*order
	for _, o := range fresh {
		r, ok := orders[o.key]
		switch {
		case !ok:
			o.res = result{kind: notFound}
		case r.Err != nil:
			o.fail(r.Err)
		default:
			o.shop = r.Order
			found = append(found, o)
		}
	}
	items := map[string]shopdb.ItemsResult{}
	if shop.HasItemsQuery() && len(found) > 0 {
		keys = keys[:0]
		for _, o := range found {
			keys = append(keys, o.key)
		}
		if items, err = shop.ItemsOf(ctx, keys); err != nil {
			for _, o := range found {
				o.fail(shopDown{err})
			}
			return
		}
	}
	from := sendersOf(b.cfg)
	for _, o := range found {
		var its []shopdb.Item
		if shop.HasItemsQuery() {
			r, ok := items[o.key]
			switch {
			case ok && r.Err != nil:
				o.fail(r.Err)
				continue
			case !ok || len(r.Items) == 0:
				o.res = result{kind: notReady}
				continue
			}
			its = r.Items
		}
		sh, warehouse, err := shipment(o.shop, its, b.cfg, from)
		if err != nil {
			o.fail(err)
			continue
		}
		o.shipment, o.warehouse = sh, warehouse
		o.shop.WeightKg = sh.WeightKg // routing by weight sees the items' sum when the query has none
		if o.candidates, err = candidates(b.cfg, b.carriers, o.shop, o.rec); err != nil {
			o.res = result{kind: failed, err: &carrier.Permanent{Reason: err.Error()}, pinned: o.rec.Sticky}
		}
	}
}

// create asks the carriers for the waybills of every order that needs one: in rounds, each
// order at its next candidate carrier, all of a round's calls at once. An order whose carrier
// certainly created nothing goes to its next candidate in the next round; one whose call may
// have created a waybill stays pinned to that carrier.
func (b *batchRun) create(ctx context.Context) {
	for round := 0; ; round++ {
		var calls []*order
		var admitted []*carrier.Call
		left := false // an order has a candidate for this round
		for _, o := range b.orders {
			if o.settled() || o.waybill != "" || round >= len(o.candidates) {
				continue
			}
			left = true
			c := o.candidates[round]
			call, err := c.AdmitNew()
			if err != nil {
				o.refusals = append(o.refusals, refusal{c.Name, err})
				log := b.s.log.Warn
				if c.Paused() {
					log = b.s.log.Debug // an operator's choice, not news for every order
				}
				log("carrier made no waybill; failing over", "order", o.key, "carrier", c.Name, "err", err)
				continue
			}
			calls, admitted = append(calls, o), append(admitted, call)
		}
		if !left {
			break
		}
		if len(calls) > 0 {
			b.submit(ctx, round, calls, admitted)
		}
	}
	// Orders whose every candidate certainly made nothing.
	for _, o := range b.orders {
		if !o.settled() && o.waybill == "" && len(o.candidates) > 0 {
			// rec.Sticky is what the claim found: a pin from an earlier ambiguous call stays,
			// since that carrier may still hold a waybill; this batch added none.
			o.res = result{kind: failed, err: roundError(o.refusals), carrier: o.rec.Carrier, pinned: o.rec.Sticky}
		}
	}
	b.recordWaybills(ctx)
}

// submit marks a round's orders as submitting to their carriers (one round trip: from then on
// each is pinned to it) and makes the calls at once.
func (b *batchRun) submit(ctx context.Context, round int, calls []*order, admitted []*carrier.Call) {
	marks := make([]state.Submit, len(calls))
	for i, o := range calls {
		c := o.candidates[round]
		marks[i] = state.Submit{Key: o.key, Owner: b.owner, OrderCode: o.shipment.OrderCode, Carrier: c.Name, ShipperCode: c.ShipperCode}
	}
	errs := b.s.o.Store.SubmittingMany(ctx, marks)
	var wg sync.WaitGroup
	for i, o := range calls {
		if errs[i] != nil {
			admitted[i].Abandon()
			b.s.log.Warn("order not marked as submitting; not sent", "order", o.key, "err", errs[i])
			o.res = result{kind: failed, err: errs[i]}
			b.unsettled = append(b.unsettled, o)
			continue
		}
		c := o.candidates[round]
		o.carrier, o.shipperCode, o.orderCode = c.Name, c.ShipperCode, o.shipment.OrderCode
		sh := o.shipment
		sh.Parcels = parcels(c.Config, o.shop, sh.WeightKg)
		wg.Add(1)
		go func() {
			defer wg.Done()
			wb, err := admitted[i].Create(ctx, sh)
			switch {
			case err == nil:
				o.waybill, o.children, o.labels = wb.Number, wb.Children, wb.Labels
				if !wb.PickupTime.IsZero() {
					o.pickup = wb.PickupTime.Format(time.DateTime)
				}
			case failOver(err):
				o.refusals = append(o.refusals, refusal{c.Name, err})
				if _, stopped := errors.AsType[carrier.NotCalled](err); !stopped {
					b.s.log.Warn("carrier made no waybill; failing over", "order", o.key, "carrier", c.Name, "err", err)
				}
			default:
				// It may exist at this carrier: only it, with this OrderCode, may be asked again.
				o.res = result{kind: failed, err: err, carrier: c.Name, pinned: true}
			}
		}()
	}
	wg.Wait()
}

// recordWaybills announces and records the batch's new waybills, in one round trip each,
// before anything is written to the shop: a crash after this never asks the carrier again.
func (b *batchRun) recordWaybills(ctx context.Context) {
	var created []*order
	var events []outbox.Event
	for _, o := range b.orders {
		if !o.settled() && o.waybill != "" && o.rec.Waybill == "" {
			created = append(created, o)
			events = append(events, outbox.Event{Type: outbox.WaybillCreated, Order: o.key, OrderCode: o.orderCode,
				Carrier: o.carrier, Waybill: o.waybill})
		}
	}
	if len(created) == 0 {
		return
	}
	// Events are recorded before the state change they announce, so that a crash between the
	// two repeats the event on replay instead of losing it (at least once).
	if err := b.s.o.Events.Record(ctx, events...); err != nil {
		b.s.log.Error("waybill events not recorded", "orders", len(events), "err", err)
	}
	now := time.Now()
	recs := make([]state.WaybillRecord, len(created))
	for i, o := range created {
		recs[i] = state.WaybillRecord{Key: o.key, Owner: b.owner, Carrier: o.carrier, Waybill: o.waybill, PickupTime: o.pickup,
			PickupDue: now.Add(b.cfg.Watchdog.NoPickupAfter), PollDue: now.Add(pollInterval(b.cfg, o.carrier)),
			Children: o.children, Warehouse: o.warehouse, Labels: o.labelsToKeep(now)}
	}
	for i, err := range b.s.o.Store.RecordWaybills(ctx, recs) {
		o := created[i]
		if err != nil {
			// The carrier keeps the waybill under this order code; a retry gets it back (106).
			b.s.log.Warn("waybill not recorded; the order is tried again", "order", o.key, "err", err)
			o.res = result{kind: failed, err: err}
			b.unsettled = append(b.unsettled, o)
			continue
		}
		b.s.o.Shipped(orderRow(o.key, o.carrier, o.waybill, o.shop))
	}
}

// labelsToKeep are this create's print templates, the parent's first, as the store keeps them.
func (o *order) labelsToKeep(now time.Time) []state.Label {
	if len(o.labels) == 0 {
		return nil
	}
	paid := o.rec.CreatedAt
	for _, j := range o.jobs {
		if !j.PaidAt.IsZero() {
			paid = j.PaidAt
			break
		}
	}
	numbers := append([]string{o.waybill}, o.children...)
	out := make([]state.Label, 0, len(o.labels))
	for i, html := range o.labels {
		if i >= len(numbers) {
			break
		}
		out = append(out, state.Label{Waybill: numbers[i], Order: o.key, OrderCode: o.orderCode, Carrier: o.carrier,
			Parcel: i, Parcels: len(numbers), PaidAt: paid, CreatedAt: now, HTML: []byte(html)})
	}
	return out
}

// writeBack writes every waybill of the batch into the shop in one transaction, each order with
// its own guard; when one order's statement fails, the orders are written one by one so each
// gets its own outcome.
func (b *batchRun) writeBack(ctx context.Context) {
	var todo []*order
	var values []map[string]any
	now := time.Now()
	for _, o := range b.orders {
		if !o.settled() && o.waybill != "" {
			todo = append(todo, o)
			values = append(values, writeValues(o, b.cfg.Writeback.Separator, now))
		}
	}
	if len(todo) == 0 {
		return
	}
	start := time.Now()
	out, err := b.s.o.Shop.WriteWaybills(ctx, values)
	errs := make([]error, len(todo))
	switch {
	case err != nil && shopdb.StatementFailed(err) && len(todo) > 1:
		// One order's statement failed: nothing of the batch is kept on InnoDB; write them one
		// by one so each gets its own outcome.
		b.s.log.Debug("batched write-back failed; writing the orders one by one", "orders", len(todo), "err", err)
		out = make([]shopdb.WaybillResult, len(todo))
		for i := range todo {
			res, err := b.s.o.Shop.WriteWaybills(ctx, values[i:i+1])
			if err != nil {
				errs[i] = err
				continue
			}
			out[i] = res[0]
		}
	case err != nil:
		// The database is unreachable: one by one would only fail n times more.
		for i := range errs {
			errs[i] = err
		}
	}
	metrics.Since(b.s.m.WritebackDuration.WithLabelValues("waybill"), start)
	for i, o := range todo {
		if errs[i] != nil {
			b.s.m.Writebacks.WithLabelValues("waybill", "error").Inc()
			o.res = result{kind: failed, err: shopDown{errs[i]}, carrier: o.carrier, pinned: true}
			continue
		}
		r := out[i]
		switch {
		case r.Outcome == shopdb.Written || r.Outcome == shopdb.AlreadyWritten:
			o.res = result{kind: written, already: r.Outcome == shopdb.AlreadyWritten}
			if r.Outcome == shopdb.AlreadyWritten {
				b.s.m.Orders.WithLabelValues(metrics.OrderAlreadyWritten).Inc()
			}
		case r.Outcome == shopdb.Conflict:
			o.res = result{kind: conflict, existing: r.Existing}
		default:
			o.res = result{kind: noRow, pinned: true}
		}
		b.s.m.Writebacks.WithLabelValues("waybill", r.Outcome.String()).Inc()
	}
}

// settle decides every order's settlement, records the events that announce them, records the
// settlements in one round trip and acknowledges each order whose settlement stuck.
func (b *batchRun) settle(ctx context.Context) {
	now := time.Now()
	p := policy{now: now, maxAttempts: b.cfg.Retry.MaxAttempts, delay: retryDelay(b.cfg.Retry),
		cooldown: func(name string) time.Duration {
			if c, ok := b.carriers[name]; ok {
				return c.Cooldown()
			}
			return b.cfg.Retry.Interval
		},
		readyTimeout: b.cfg.Orders.ReadyTimeout, aliveTTL: b.s.o.AliveTTL}
	var todo []*order
	var plan []state.Settlement
	var events []outbox.Event
	unsettled := map[*order]bool{}
	for _, o := range b.unsettled {
		unsettled[o] = true
	}
	for _, o := range b.orders {
		switch {
		case unsettled[o]:
			continue
		case o.res.kind == finished:
			b.ack(o)
			continue
		}
		st := decide(o.rec, o.res, p)
		st.Owner = b.owner
		if o.orderCode == "" && o.rec.OrderCode == "" {
			st.OrderCode = o.shop.Code // refused before any carrier was asked
		}
		if st.Kind == state.SettleWritten {
			st.Note = writtenNote(len(b.cfg.Writeback.Waybill), o.res.already)
		}
		todo, plan = append(todo, o), append(plan, st)
		b.explain(o, st)
		switch st.Kind {
		case state.SettleDead:
			events = append(events, outbox.Event{Type: outbox.DeadLettered, Order: o.key, OrderCode: o.orderCode,
				Carrier: o.carrier, Reason: st.Reason})
		case state.SettleConflict:
			events = append(events, outbox.Event{Type: outbox.Conflict, Order: o.key, OrderCode: o.orderCode,
				Carrier: o.carrier, Waybill: o.waybill, Reason: "the shop already has waybill " + o.res.existing})
		}
	}
	if len(plan) == 0 {
		return
	}
	if err := b.s.o.Events.Record(ctx, events...); err != nil {
		b.s.log.Error("lifecycle events not recorded", "events", len(events), "err", err)
	}
	for i, r := range b.s.o.Store.Settle(ctx, plan) {
		o := todo[i]
		if r.Err != nil {
			b.s.log.Warn("settlement not recorded; the order is tried again", "order", o.key, "err", r.Err)
			b.unsettled = append(b.unsettled, o)
			continue
		}
		b.count(o, plan[i])
		b.ack(o)
	}
}

// count records a settled order in the metrics.
func (b *batchRun) count(o *order, st state.Settlement) {
	m := b.s.m
	switch st.Kind {
	case state.SettleWritten:
		m.Orders.WithLabelValues(metrics.OrderWritten).Inc()
		for _, j := range o.jobs {
			if !j.PaidAt.IsZero() {
				metrics.Since(m.EndToEnd, j.PaidAt)
				break
			}
		}
	case state.SettleConflict:
		m.Orders.WithLabelValues(metrics.OrderConflict).Inc()
	case state.SettleSkipped:
		m.Orders.WithLabelValues(metrics.OrderSkipped).Inc()
	case state.SettleDead:
		m.Orders.WithLabelValues(metrics.OrderDeadLettered).Inc()
	case state.SettleRetry:
		if st.CountAttempt {
			m.Orders.WithLabelValues(metrics.OrderRetried).Inc()
		}
	}
}

// explain logs what is worth a person's attention, once per order.
func (b *batchRun) explain(o *order, st state.Settlement) {
	log := b.s.log
	switch {
	case st.Kind == state.SettleConflict:
		log.Warn("waybill conflict: the shop already has another waybill; left untouched",
			"order", o.key, "order_code", o.orderCode, "ours", o.waybill, "theirs", o.res.existing)
	case st.Kind == state.SettleSkipped:
		log.Info("order no longer eligible when read; skipped", "order", o.key)
	case st.Kind == state.SettleDead:
		log.Warn("order dead-lettered", "order", o.key, "carrier", o.res.carrier, "attempt", o.rec.Attempts+1, "reason", st.Reason)
	case st.Kind == state.SettleRetry && o.res.kind == failed:
		log.Warn("order failed; will retry", "order", o.key, "carrier", o.res.carrier, "attempt", o.rec.Attempts+1,
			"err", o.res.err, "retry_at", st.Due.Format(time.RFC3339))
	}
}

// ack acknowledges every job that named the order.
func (b *batchRun) ack(o *order) {
	for _, j := range o.jobs {
		if j.Ack != nil {
			j.Ack()
		}
	}
}

// retryDelay is retry.interval, or with backoff: exponential interval x 2^(attempt-1) with
// +-20 % jitter (so a burst of failures does not retry in lockstep), capped at max_interval.
func retryDelay(r config.Retry) func(int) time.Duration {
	return func(attempt int) time.Duration {
		if r.Backoff != "exponential" {
			return r.Interval
		}
		d := r.Interval << min(max(attempt-1, 0), 30)
		if d <= 0 || d > r.MaxInterval {
			d = r.MaxInterval
		}
		return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
	}
}

// pollInterval: carriers that push are polled only when silent; the others every poll_every.
func pollInterval(cfg *config.Config, name string) time.Duration {
	if c, ok := cfg.Carrier(name); ok && !c.Pushes() {
		return c.PollEvery
	}
	return cfg.Watchdog.SilentAfter
}

// writeValues are the named parameters of the waybill write-back.
func writeValues(o *order, sep string, now time.Time) map[string]any {
	return shopdb.Values{Key: o.key, Waybill: o.waybill, Carrier: o.carrier, ShipperCode: o.shipperCode,
		OrderCode: o.orderCode, PickupTime: o.pickup, EventTime: now,
		Waybills: strings.Join(append([]string{o.waybill}, o.children...), sep), Parcels: 1 + len(o.children),
		Warehouse: o.warehouse}.Map(now)
}

// writtenNote is the timeline's text for a write-back: the statements that ran, by name.
func writtenNote(statements int, already bool) string {
	names := make([]string, statements)
	for i := range names {
		names[i] = "writeback.waybill[" + strconv.Itoa(i) + "]"
	}
	if already {
		return "the shop already held the waybill (a replay); ran " + strings.Join(names, ", ")
	}
	return "wrote " + strings.Join(names, ", ")
}
