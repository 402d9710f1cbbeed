package pipeline

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/shipsync/shipsync/sync/config"
	"github.com/shipsync/shipsync/sync/loop"
	"github.com/shipsync/shipsync/sync/parcel"
	"github.com/shipsync/shipsync/sync/ship"
	"github.com/shipsync/shipsync/sync/state"
	"github.com/shipsync/shipsync/sync/statuspage"
)

// Console is the operator's console (statuspage.Console): the history, what is stuck, one
// order, and the actions on orders and carriers.
func (p *Pipeline) Console() statuspage.Console { return console{p} }

type console struct{ p *Pipeline }

// stuckMax bounds each of the console's stuck panels.
const stuckMax = 200

// sampleLoop adds what this process saw to the history every Options.SampleEvery, and once
// more when ctx ends (the pipeline stops once its last batch is done), so a clean stop loses
// nothing of it.
func (p *Pipeline) sampleLoop(ctx context.Context) {
	loop.Tick(ctx, p.sample, func() {
		if err := p.addSample(ctx); err != nil && ctx.Err() == nil {
			p.log.Warn("history sample not recorded", "err", err)
		}
	})
	last, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if err := p.addSample(last); err != nil {
		p.log.Warn("last history sample not recorded", "err", err)
	}
}

// addSample adds one sample: the orders shipped and the carriers' creates since the last one, and
// the gauges now. A worker reads no binlog, so it has no lag to add.
func (p *Pipeline) addSample(ctx context.Context) error {
	shipped, fresh, calls := p.obs.take()
	x := state.Sample{At: time.Now(), Shipped: shipped, Latest: fresh, LagSeconds: -1, Carriers: calls,
		Backlog: int64(p.ship.Queued() + p.tail.Pending())}
	if p.conf().Mode != config.ModeWorker {
		x.LagSeconds = p.obs.lag()
	}
	var err error
	if x.Retry, err = p.store.RetryDepth(ctx); err == nil {
		if x.Dead, err = p.store.DeadDepth(ctx); err == nil {
			err = p.store.AddSample(ctx, x)
		}
	}
	if err != nil {
		p.obs.giveBack(shipped, fresh, calls) // the next sample carries them
	}
	return err
}

func (c console) Series(ctx context.Context, span string) (statuspage.Series, error) {
	r := state.Fine
	if span == "1d" {
		r = state.Coarse
	}
	now := time.Now()
	pts, err := c.p.store.Series(ctx, r, now)
	if err != nil {
		return statuspage.Series{}, err
	}
	out := statuspage.Series{Span: span, StepSeconds: int(r.Step / time.Second), To: now, From: now.Add(-r.Keep),
		Points: make([]statuspage.Point, 0, len(pts))}
	var names []string
	for _, x := range pts {
		pt := statuspage.Point{T: x.At, Shipped: x.Shipped, LagSeconds: x.LagSeconds, Backlog: x.Backlog, Dead: x.Dead,
			Retry: x.Retry, Carriers: map[string]statuspage.CarrierPoint{}}
		for name, cs := range x.Carriers {
			cp := statuspage.CarrierPoint{Requests: cs.Requests, P50Seconds: state.Quantile(.5, cs.Buckets),
				P99Seconds: state.Quantile(.99, cs.Buckets)}
			if cs.Requests > 0 {
				cp.SuccessRate = float64(cs.OK) / float64(cs.Requests)
			}
			pt.Carriers[name] = cp
			if !slices.Contains(names, name) {
				names = append(names, name)
			}
		}
		out.Points = append(out.Points, pt)
	}
	slices.Sort(names)
	out.Carriers = names
	return out, nil
}

func (c console) Stuck(ctx context.Context) (statuspage.Stuck, error) {
	st := c.p.store
	cfg := c.p.conf()
	out := statuspage.Stuck{StuckAfterSeconds: cfg.Watchdog.StuckAfter.Seconds()}
	dead, err := st.DeadRecords(ctx, stuckMax)
	if err != nil {
		return out, err
	}
	for _, r := range dead {
		row := stuckRow(r)
		row.Pinned = r.Sticky && r.Carrier != ""
		out.Dead = append(out.Dead, row)
	}
	retrying, err := st.Retrying(ctx, stuckMax)
	if err != nil {
		return out, err
	}
	for _, r := range retrying {
		row := stuckRow(r.Record)
		row.Due = r.Due
		out.Retrying = append(out.Retrying, row)
	}
	flagged, err := st.FlaggedParcels(ctx, stuckMax)
	if err != nil {
		return out, err
	}
	keys := make([]string, len(flagged))
	for i, f := range flagged {
		keys[i] = f.Key
	}
	recs, err := st.Records(ctx, keys)
	if err != nil {
		return out, err
	}
	for i, r := range recs {
		if r == nil {
			continue // expired: settled orders leave the set when their retention starts
		}
		row := stuckRow(*r)
		row.Reason, row.Since = r.StatusReason, flagged[i].Since
		out.Flagged = append(out.Flagged, row)
	}
	if cfg.Watchdog.StuckAfter > 0 {
		waiting, err := st.Waiting(ctx, time.Now().Add(-cfg.Watchdog.StuckAfter), stuckMax)
		if err != nil {
			return out, err
		}
		for _, r := range waiting {
			row := stuckRow(r)
			row.Since = r.CreatedAt
			out.Waiting = append(out.Waiting, row)
		}
	}
	return out, nil
}

func stuckRow(r state.Record) statuspage.StuckRow {
	return statuspage.StuckRow{Key: r.Key, OrderCode: r.OrderCode, Carrier: r.Carrier, Waybill: r.Waybill,
		State: r.State, Status: r.Status, Attempts: r.Attempts, Reason: r.LastError, Since: r.UpdatedAt}
}

// reissueSuffix is a reissue's derived order code's suffix (sync/ship).
var reissueSuffix = regexp.MustCompile(`-R[0-9]+$`)

// find resolves a reference typed into the console — an order key, an order code (a reissue's
// derived one too) or a waybill (any parcel's) — to the orders it names, each with what it
// matched.
func (c console) find(ctx context.Context, ref string) ([]statuspage.SearchRow, error) {
	st := c.p.store
	var rows []statuspage.SearchRow
	add := func(key, matched string) error {
		if slices.ContainsFunc(rows, func(r statuspage.SearchRow) bool { return r.Key == key }) {
			return nil
		}
		rec, ok, err := st.Get(ctx, key)
		if err != nil || !ok {
			return err
		}
		rows = append(rows, statuspage.SearchRow{Key: key, OrderCode: rec.OrderCode, Carrier: rec.Carrier,
			Waybill: rec.Waybill, State: rec.State, Status: rec.Status, Matched: matched, UpdatedAt: rec.UpdatedAt})
		return nil
	}
	if err := add(ref, "order"); err != nil {
		return nil, err
	}
	for _, code := range []string{ref, reissueSuffix.ReplaceAllString(ref, "")} {
		key, ok, err := st.OrderByCode(ctx, code)
		if err != nil {
			return nil, err
		}
		if ok {
			if err := add(key, "order_code"); err != nil {
				return nil, err
			}
		}
	}
	// Waybills are indexed by the courier's code: ask under each configured carrier's.
	var shippers []string
	for _, cr := range c.p.conf().Carriers {
		if !slices.Contains(shippers, cr.ShipperCode) {
			shippers = append(shippers, cr.ShipperCode)
		}
	}
	for _, sc := range shippers {
		key, ok, err := st.OrderByWaybill(ctx, sc, ref)
		if err != nil {
			return nil, err
		}
		if ok {
			if err := add(key, "waybill"); err != nil {
				return nil, err
			}
		}
	}
	return rows, nil
}

func (c console) Search(ctx context.Context, q string) ([]statuspage.SearchRow, error) {
	return c.find(ctx, q)
}

func (c console) Order(ctx context.Context, ref string) (statuspage.OrderPage, bool, error) {
	rows, err := c.find(ctx, ref)
	if err != nil || len(rows) == 0 {
		return statuspage.OrderPage{}, false, err
	}
	st := c.p.store
	key := rows[0].Key
	rec, ok, err := st.Get(ctx, key)
	if err != nil || !ok {
		return statuspage.OrderPage{}, false, err
	}
	page := statuspage.OrderPage{Key: key, OrderCode: rec.OrderCode, State: rec.State, Carrier: rec.Carrier,
		ShipperCode: rec.ShipperCode, Waybill: rec.Waybill, Children: rec.Children, PreviousWaybills: rec.PreviousWaybills,
		Warehouse: rec.Warehouse, Attempts: rec.Attempts, LastError: rec.LastError, Pinned: rec.Sticky && rec.Carrier != "" && rec.Waybill == "",
		Reissues: rec.Reissues, Status: rec.Status, StatusException: rec.StatusException, StatusReason: rec.StatusReason,
		StatusTime: rec.StatusTime, CreatedAt: rec.CreatedAt, UpdatedAt: rec.UpdatedAt, WaybillAt: rec.WaybillAt}
	if page.InDeadLetter, err = st.InDeadLetter(ctx, key); err != nil {
		return page, false, err
	}
	steps, err := st.Timeline(ctx, key)
	if err != nil {
		return page, false, err
	}
	for _, s := range steps {
		page.Timeline = append(page.Timeline, statuspage.TimeStep{At: s.At, Kind: s.Kind, Text: s.Text})
	}
	if rec.Waybill != "" {
		numbers := append([]string{rec.Waybill}, rec.Children...)
		kept, err := st.LabelsKept(ctx, numbers)
		if err != nil {
			return page, false, err
		}
		for i, ok := range kept {
			if ok {
				page.Labels = append(page.Labels, statuspage.LabelRef{Waybill: numbers[i], Parcel: i + 1})
			}
		}
	}
	return page, true, nil
}

func (c console) Cancel(ctx context.Context, key string) (string, error) {
	if err := c.known(ctx, key); err != nil {
		return "", err
	}
	out, err := c.p.parcel.Cancel(ctx, key)
	if errors.Is(err, parcel.ErrPending) {
		return "", fmt.Errorf("%w: the order is being shipped or re-issued; try again in a moment", err)
	}
	if err != nil {
		return "", err
	}
	c.note(ctx, key, "cancel asked from the console: "+string(out))
	return string(out), nil
}

func (c console) Reissue(ctx context.Context, key string) (string, error) {
	if err := c.known(ctx, key); err != nil {
		return "", err
	}
	cfg, set := c.p.current()
	r, err := ship.Reissue(ctx, ship.ReissueOptions{Store: c.p.store, Shop: c.p.shop, Config: cfg, Carriers: set}, key)
	if err != nil {
		return "", err
	}
	c.note(ctx, key, "reissue asked from the console: "+r.Waybill)
	return r.Waybill, nil
}

// known answers statuspage.ErrNoOrder for an order shipsync has no record of.
func (c console) known(ctx context.Context, key string) error {
	_, ok, err := c.p.store.Get(ctx, key)
	switch {
	case err != nil:
		return err
	case !ok:
		return statuspage.ErrNoOrder
	}
	return nil
}

// note records an operator's action in the order's timeline, with who did it.
func (c console) note(ctx context.Context, key, text string) {
	if err := c.p.store.Note(ctx, key, "action", text+" (by "+statuspage.OperatorOf(ctx)+")"); err != nil {
		c.p.log.Warn("action not noted in the order's timeline", "order", key, "err", err)
	}
}

func (c console) Pause(ctx context.Context, name string, paused bool) error {
	_, set := c.p.current()
	cr, ok := set[name]
	if !ok {
		return statuspage.ErrUnknownCarrier
	}
	if err := c.p.store.SetPaused(ctx, name, paused); err != nil {
		return err
	}
	cr.Pause(paused) // at once here; the other processes at their next refresh
	return nil
}

// syncPaused applies the paused carriers recorded in Redis to the carriers in force (a reload
// builds them anew, and another process may have paused one).
func (p *Pipeline) syncPaused(ctx context.Context) error {
	paused, err := p.store.PausedCarriers(ctx)
	if err != nil {
		return err
	}
	_, set := p.current()
	for name, c := range set {
		c.Pause(paused[name])
	}
	return nil
}
