package pipeline

import (
	"context"
	"errors"
	"time"

	"github.com/shipsync/shipsync/sources/poll"
	"github.com/shipsync/shipsync/sources/webhook"
	"github.com/shipsync/shipsync/sync/metrics"
	"github.com/shipsync/shipsync/sync/state"
	"github.com/shipsync/shipsync/sync/status"
)

// Tracker asks a carrier where a parcel is (Kdniao 1002), for carriers without push and for
// waybills whose pushes went silent. It blocks until the carrier answers; safe for concurrent
// use; errors are worth trying again at the next poll.
type Tracker interface {
	Track(ctx context.Context, shipperCode, waybill, orderCode string) (webhook.Update, error)
}

var _ webhook.Applier = (*Pipeline)(nil)

// Apply applies one status update for a carrier's waybill: pushes, polls and the watchdog all
// come through here. Updates of one order are serialised (a Redis lock), decided by the
// monotonic rules of sync/status, written back to the shop first and recorded in Redis after,
// so a crash in between makes the carrier's retry write it again rather than never.
// carrier is the URL's: the update may be for any courier of its account (see account.go), and
// is applied to the order that courier's waybill belongs to.
func (p *Pipeline) Apply(ctx context.Context, carrier string, u webhook.Update) (webhook.Outcome, error) {
	from, _ := p.conf().Carrier(carrier)
	shipper := pushShipperCode(from, u)
	key, ok, err := p.store.OrderByWaybill(ctx, shipper, u.Waybill, p.legacyIndexNames(from, shipper)...)
	if err != nil {
		return "", err
	}
	if !ok {
		return webhook.UnknownWaybill, nil
	}
	return p.applyToOrder(ctx, key, func(rec state.Record) (status.Event, bool) {
		if !p.sameAccount(from, rec.Carrier) {
			return status.Event{}, false // another account's waybill: this URL's key did not sign it
		}
		return p.event(rec.Carrier, u), true
	})
}

// always is an event for applyToOrder that concerns whatever order it is given.
func always(ev status.Event) func(state.Record) (status.Event, bool) {
	return func(state.Record) (status.Event, bool) { return ev, true }
}

// event maps a carrier's update to the status model's event, counting codes it does not know.
func (p *Pipeline) event(carrier string, u webhook.Update) status.Event {
	if !u.Known {
		p.stats.UnknownCodes.Add(1)
		p.obs.m.UnknownStatusCodes.WithLabelValues(carrier).Inc()
		p.log.Warn("unknown carrier status code; taken as in transit", "carrier", carrier, "waybill", u.Waybill, "code", u.Code)
	}
	return status.Event{Status: status.Status(u.Status), Exception: u.Exception, Reason: u.Reason, Time: u.Time, Code: u.Code}
}

// applyToOrder applies an event to the order key, under the order's lock. event makes the event
// from the order's record as read under the lock (ok false: the update is not this order's,
// answered as an unknown waybill), so a check of the record costs no read of its own.
func (p *Pipeline) applyToOrder(ctx context.Context, key string, event func(state.Record) (status.Event, bool)) (webhook.Outcome, error) {
	unlock, err := p.store.Lock(ctx, key, 30*time.Second, 3*time.Second)
	if err != nil {
		return "", err
	}
	defer unlock()
	rec, ok, err := p.store.Get(ctx, key)
	if err != nil {
		return "", err
	}
	if !ok || rec.Waybill == "" {
		return webhook.UnknownWaybill, nil
	}
	ev, mine := event(rec)
	switch {
	case !mine:
		return webhook.UnknownWaybill, nil
	case shopLacksWaybill(rec.State):
		// The shop does not carry this waybill: acknowledge, write nothing, stop watching it.
		if err := p.store.ForgetParcel(ctx, key); err != nil {
			return "", err
		}
		return webhook.Stale, nil
	case rec.State != state.Written:
		// The waybill is not in the shop yet; a status written now could be overwritten by the
		// waybill write-back (ECShop's sets shipping_status 1). The carrier sends it again.
		return webhook.UnknownWaybill, nil
	}
	cur := status.Current{Status: status.Status(rec.Status), Exception: rec.StatusException,
		Reason: rec.StatusReason, Time: rec.StatusTime}
	if ev.Time.IsZero() {
		// The watchdog's own observations carry no carrier time: stamping them "now" would make
		// a late-arriving but earlier carrier event look stale.
		ev.Time = cur.Time
	}
	// Finish well inside the lock's TTL, so a lapsed lock never lets an older write land last.
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	next, decision, write := status.Decide(cur, ev)
	switch decision {
	case status.Duplicate:
		return webhook.Duplicate, nil
	case status.Stale:
		return webhook.Stale, nil
	}
	// What the shop is told: the carrier's time, or now for the watchdog's own observation of a
	// parcel with no carrier news yet (the zero time would reach the shop as year 1).
	at := ev.Time
	if at.IsZero() {
		at = time.Now()
	}
	writes := []string{}
	if write != "" {
		writes = append(writes, write)
	}
	if write != status.ExceptionKey && next.Exception && !cur.Exception {
		writes = append(writes, status.ExceptionKey) // a move that also raises the flag: the shop hears both
	}
	for _, write := range writes {
		start := time.Now()
		_, err := p.db.WriteStatus(ctx, write, writeValues(rec, write, next.Reason, at))
		metrics.Since(p.obs.m.WritebackDuration.WithLabelValues("status"), start)
		if err != nil {
			p.obs.m.Writebacks.WithLabelValues("status", "error").Inc()
			return "", err
		}
		p.obs.m.Writebacks.WithLabelValues("status", "written").Inc()
		p.obs.m.StatusTransitions.WithLabelValues(write).Inc()
		p.stats.StatusWrites.Add(1)
		typ := EventStatusChanged
		if write == status.ExceptionKey {
			typ = EventException
		}
		p.emit(ctx, Event{Type: typ, Order: rec.Key, OrderCode: rec.OrderCode, Carrier: rec.Carrier, Waybill: rec.Waybill,
			Status: string(next.Status), Exception: next.Exception, Reason: next.Reason, Time: at})
		p.log.Info("parcel status", "order", rec.Key, "waybill", rec.Waybill, "status", next.Status,
			"exception", next.Exception, "reason", next.Reason, "code", ev.Code)
	}
	err = p.store.SetStatus(ctx, key, state.ParcelStatus{
		Status: string(next.Status), Exception: next.Exception, Reason: next.Reason, Time: next.Time,
		PickedUp: next.Status.Rank() >= status.PickedUp.Rank(), Terminal: next.Status.Terminal(),
		NextPoll: time.Now().Add(p.pollInterval(rec.Carrier)),
	})
	if err != nil {
		return "", err
	}
	return webhook.OK, nil
}

// shopLacksWaybill: the order ended without our waybill in the shop (another one was there, it
// was dead-lettered, dropped from the dead letter, or skipped); its parcel's news has nowhere to
// go.
func shopLacksWaybill(st string) bool {
	return st == state.Conflict || st == state.Failed || st == state.Skipped || st == state.Dropped
}

// pollInterval: carriers that push are polled only when silent; the others every poll_every.
func (p *Pipeline) pollInterval(carrier string) time.Duration {
	if c, ok := p.conf().Carrier(carrier); ok && !c.Pushes() {
		return c.PollEvery
	}
	return p.conf().Watchdog.SilentAfter
}

// watchdog flags waybills never picked up (exactly once each: a flagged order leaves the watch)
// and reports paid orders stuck without a waybill. It reads only what is due.
func (p *Pipeline) watchdog(ctx context.Context) {
	tick(ctx, p.conf().Watchdog.ScanEvery, func() {
		for {
			keys, err := p.store.DuePickups(ctx, time.Now(), 256)
			if err != nil || len(keys) == 0 {
				if err != nil && ctx.Err() == nil {
					p.log.Warn("watchdog: pickup watch unreadable", "err", err)
				}
				break
			}
			failed := 0
			for _, k := range keys {
				if err := p.flagNoPickup(ctx, k); err != nil {
					if ctx.Err() != nil {
						return
					}
					// One order's failure is not the others': it is looked at again next scan.
					failed++
					p.obs.m.ScanErrors.WithLabelValues("watchdog").Inc()
					p.log.Warn("watchdog: no-pickup flag not applied; will try again", "order", k, "err", err)
					if err := p.store.PostponePickup(ctx, k, time.Now().Add(p.conf().Watchdog.ScanEvery)); err != nil {
						return // Redis is failing: the next scan tries again
					}
				}
			}
			if failed == len(keys) {
				break // nothing but failures: do not spin on them until the next scan
			}
		}
		stuck, err := p.store.StuckOrders(ctx, time.Now().Add(-p.conf().Watchdog.StuckAfter), 1000)
		if err != nil {
			if ctx.Err() == nil {
				p.log.Warn("watchdog: stuck orders unreadable", "err", err)
			}
			return
		}
		for _, r := range stuck {
			p.stats.Stuck.Add(1)
			p.obs.m.StuckOrders.Inc()
			p.log.Warn("paid order stuck without a waybill", "order", r.Key, "state", r.State,
				"since", r.CreatedAt.Format(time.RFC3339), "attempts", r.Attempts, "last_error", r.LastError)
		}
		p.stats.WatchdogScans.Add(1)
	})
}

// noPickup is the watchdog's observation: the parcel is still only created, and that is a
// problem. As an event at the created rank it can never flag a parcel whose pickup was applied
// meanwhile (a push landing while the watchdog decides is of a higher rank: the flag is stale).
var noPickup = status.Event{Status: status.Created, Exception: true, Reason: "no_pickup", Code: "watchdog"}

// flagNoPickup applies the no-pickup flag to one due order and settles its watch entry.
func (p *Pipeline) flagNoPickup(ctx context.Context, key string) error {
	o, err := p.applyToOrder(ctx, key, always(noPickup))
	if err != nil {
		return err
	}
	switch o {
	case webhook.UnknownWaybill: // the waybill is not written back yet: look again later
		return p.store.PostponePickup(ctx, key, time.Now().Add(p.conf().Watchdog.ScanEvery))
	case webhook.OK:
		p.stats.NoPickup.Add(1)
		p.obs.m.NoPickup.Inc()
		p.log.Warn("parcel not picked up", "order", key, "after", p.conf().Watchdog.NoPickupAfter)
	}
	return p.store.DonePickup(ctx, key)
}

// poller asks carriers about due waybills.
func (p *Pipeline) poller(ctx context.Context) {
	every := max(min(p.conf().Watchdog.ScanEvery, 5*time.Second), 50*time.Millisecond)
	poll.Run(ctx, every, 16, func(ctx context.Context) ([]string, error) {
		return p.store.DuePolls(ctx, 256, time.Minute)
	}, func(ctx context.Context, key string) {
		if err := p.pollOne(ctx, key); err != nil && ctx.Err() == nil {
			// Polled again when its hand-out lapses; the other due waybills go on meanwhile.
			p.obs.m.ScanErrors.WithLabelValues("poll").Inc()
			p.log.Warn("poll failed; will poll again", "order", key, "err", err)
		}
	})
}

func (p *Pipeline) pollOne(ctx context.Context, key string) error {
	rec, ok, err := p.store.Get(ctx, key)
	switch {
	case err != nil:
		return err
	case !ok || rec.Waybill == "" || shopLacksWaybill(rec.State):
		return p.store.ForgetParcel(ctx, key)
	case rec.State != state.Written:
		return p.store.SchedulePoll(ctx, key, time.Now().Add(p.pollInterval(rec.Carrier)))
	}
	slot, ok := p.slots()[rec.Carrier]
	if !ok {
		// Nobody can ask about it any more; the no-pickup watch still covers it.
		p.log.Warn("carrier no longer configured; waybill no longer polled", "carrier", rec.Carrier, "order", key)
		return p.store.DonePoll(ctx, key)
	}
	tr, ok := slot.c.(Tracker)
	if !ok {
		// This carrier type cannot be asked; its pushes are all there is.
		return p.store.SchedulePoll(ctx, key, time.Now().Add(p.pollInterval(rec.Carrier)))
	}
	var u webhook.Update
	err = p.through(ctx, slot, nil, func(ctx context.Context) error {
		start := time.Now()
		var err error
		u, err = tr.Track(ctx, rec.ShipperCode, rec.Waybill, rec.OrderCode)
		p.obs.carrierCall(rec.Carrier, "track", callOutcome(err, false), time.Since(start))
		return err
	})
	if _, stopped := errors.AsType[notCalled](err); stopped {
		return err // shutting down: polled again when the hand-out lapses
	}
	if err != nil && !errors.Is(err, errNoTrace) {
		return p.pollFailed(ctx, key, rec.Carrier, err)
	}
	p.stats.Polls.Add(1)
	if err := p.store.PollSucceeded(ctx, key); err != nil {
		return err
	}
	if err == nil {
		o, err := p.applyToOrder(ctx, key, always(p.event(rec.Carrier, u))) // the key is known: no index look-up
		if err != nil || o == webhook.OK {
			return err // an applied status rescheduled the poll itself
		}
	}
	return p.store.SchedulePoll(ctx, key, time.Now().Add(p.pollInterval(rec.Carrier)))
}

// errNoTrace: the carrier has nothing for the waybill yet.
var errNoTrace = errors.New("no trace yet")

// pushDecoder returns the push format of a configured carrier that pushes, as configured now.
func (p *Pipeline) pushDecoder(carrier string) (webhook.Decoder, bool) {
	slot, ok := p.slots()[carrier]
	if !ok {
		return nil, false
	}
	d, ok := slot.c.(webhook.Decoder)
	return d, ok
}

// PushHandler is the receiver of carriers' pushes, POST /push/{carrier}.
func (p *Pipeline) PushHandler() *webhook.Handler {
	allow, _ := webhook.ParseAllow(p.conf().HTTP.Allow) // validated with the config
	proxies, _ := webhook.ParseAllow(p.conf().HTTP.TrustedProxies)
	return webhook.New(webhook.Config{MaxBody: p.conf().HTTP.MaxBody, Allow: allow, TrustedProxies: proxies}, p.pushDecoder, p,
		func(carrier string, o webhook.Outcome) {
			p.stats.push(o)
			p.obs.m.Pushes.WithLabelValues(carrier, string(o)).Inc()
		}, p.log.With("component", "webhook"))
}
