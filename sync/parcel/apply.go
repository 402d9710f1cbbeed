package parcel

import (
	"cmp"
	"context"
	"strings"
	"time"

	"github.com/shipsync/shipsync/sinks/shopdb"
	"github.com/shipsync/shipsync/sources/webhook"
	"github.com/shipsync/shipsync/sync/config"
	"github.com/shipsync/shipsync/sync/metrics"
	"github.com/shipsync/shipsync/sync/outbox"
	"github.com/shipsync/shipsync/sync/state"
	"github.com/shipsync/shipsync/sync/status"
)

// Apply applies one status update for a carrier's waybill: pushes, polls and the watchdog all
// come through here. Updates of one order are serialised (a Redis lock), decided by the
// monotonic rules of sync/status, written back to the shop first and recorded in Redis after,
// so a crash in between makes the carrier's retry write it again rather than never.
// carrier is the URL's: the update may be for any courier of its account, and is applied to
// the order that courier's waybill belongs to.
func (s *Stage) Apply(ctx context.Context, carrier string, u webhook.Update) (webhook.Outcome, error) {
	cfg := s.conf()
	from, _ := cfg.Carrier(carrier)
	shipper := pushShipperCode(from, u)
	key, ok, err := s.store.OrderByWaybill(ctx, shipper, u.Waybill, legacyIndexNames(cfg, from, shipper)...)
	if err != nil {
		return "", err
	}
	if !ok {
		return webhook.UnknownWaybill, nil
	}
	return s.applyToOrder(ctx, key, func(rec state.Record) (status.Event, bool) {
		if !sameAccount(cfg, from, rec.Carrier) {
			return status.Event{}, false // another account's waybill: this URL's key did not sign it
		}
		return s.event(rec.Carrier, u), true
	})
}

// A Kdniao account (one EBusinessID) ships through many couriers and pushes every waybill of
// the account to one callback URL, so /push/{name} names an account, not a courier: a push is
// matched by (ShipperCode, LogisticCode) among the carriers of the URL carrier's account.

// pushShipperCode is the courier a pushed update names: its own ShipperCode, or the URL
// carrier's for formats that name none (signed JSON: one URL per carrier).
func pushShipperCode(from config.Carrier, u webhook.Update) string {
	return cmp.Or(u.ShipperCode, from.ShipperCode)
}

// sameAccount reports whether carrier name is reached through from's account: from itself, or
// a Kdniao carrier with from's EBusinessID (the same account, hence the same key that verified
// the push).
func sameAccount(cfg *config.Config, from config.Carrier, name string) bool {
	if name == from.Name {
		return true
	}
	c, ok := cfg.Carrier(name)
	return ok && c.Type == "kdniao" && from.Type == "kdniao" && from.EBusinessID != "" && c.EBusinessID == from.EBusinessID
}

// legacyIndexNames are the carriers of from's account with that shipper code: the names under
// which waybills recorded before the per-waybill index were kept (state.OrderByWaybill).
func legacyIndexNames(cfg *config.Config, from config.Carrier, shipperCode string) []string {
	var out []string
	for _, c := range cfg.Carriers {
		if c.ShipperCode == shipperCode && sameAccount(cfg, from, c.Name) {
			out = append(out, c.Name)
		}
	}
	if len(out) == 0 {
		out = append(out, from.Name)
	}
	return out
}

// always is an event for applyToOrder that concerns whatever order it is given.
func always(ev status.Event) func(state.Record) (status.Event, bool) {
	return func(state.Record) (status.Event, bool) { return ev, true }
}

// event maps a carrier's update to the status model's event, counting codes it does not know.
func (s *Stage) event(carrier string, u webhook.Update) status.Event {
	if !u.Known {
		s.m.UnknownStatusCodes.WithLabelValues(carrier).Inc()
		s.log.Warn("unknown carrier status code; taken as in transit", "carrier", carrier, "waybill", u.Waybill, "code", u.Code)
	}
	return status.Event{Status: status.Status(u.Status), Exception: u.Exception, Reason: u.Reason, Time: u.Time, Code: u.Code}
}

// applyToOrder applies an event to the order key, under the order's lock. event makes the event
// from the order's record as read under the lock (ok false: the update is not this order's,
// answered as an unknown waybill), so a check of the record costs no read of its own.
func (s *Stage) applyToOrder(ctx context.Context, key string, event func(state.Record) (status.Event, bool)) (webhook.Outcome, error) {
	unlock, err := s.store.Lock(ctx, key, 30*time.Second, 3*time.Second)
	if err != nil {
		return "", err
	}
	defer unlock()
	return s.applyLocked(ctx, key, event)
}

// applyLocked is applyToOrder for a caller that holds the order's lock.
func (s *Stage) applyLocked(ctx context.Context, key string, event func(state.Record) (status.Event, bool)) (webhook.Outcome, error) {
	rec, ok, err := s.store.Get(ctx, key)
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
		if err := s.store.ForgetParcel(ctx, key); err != nil {
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
	var wrote []string
	for _, write := range writes {
		start := time.Now()
		configured, err := s.shop.WriteStatus(ctx, write, statusValues(rec, s.conf().Writeback.Separator, write, next.Reason, at))
		if configured {
			wrote = append(wrote, "writeback.status."+write)
		}
		metrics.Since(s.m.WritebackDuration.WithLabelValues("status"), start)
		if err != nil {
			s.m.Writebacks.WithLabelValues("status", "error").Inc()
			return "", err
		}
		s.m.Writebacks.WithLabelValues("status", "written").Inc()
		s.m.StatusTransitions.WithLabelValues(write).Inc()
		typ := outbox.StatusChanged
		if write == status.ExceptionKey {
			typ = outbox.Exception
		}
		s.events.Emit(ctx, outbox.Event{Type: typ, Order: rec.Key, OrderCode: rec.OrderCode, Carrier: rec.Carrier, Waybill: rec.Waybill,
			Status: string(next.Status), Exception: next.Exception, Reason: next.Reason, Time: at})
		s.log.Info("parcel status", "order", rec.Key, "waybill", rec.Waybill, "status", next.Status,
			"exception", next.Exception, "reason", next.Reason, "code", ev.Code)
	}
	err = s.store.SetStatus(ctx, key, state.ParcelStatus{
		Status: string(next.Status), Exception: next.Exception, Reason: next.Reason, Time: next.Time,
		PickedUp: next.Status.Rank() >= status.PickedUp.Rank(), Terminal: next.Status.Terminal(),
		NextPoll: time.Now().Add(pollInterval(s.conf(), rec.Carrier)),
		Note:     statusNote(next, ev.Code, wrote),
	})
	if err != nil {
		return "", err
	}
	return webhook.OK, nil
}

// statusNote is the timeline's text for an applied status: what it is, where it came from (the
// carrier's code, or the watchdog's), and which statements wrote it to the shop.
func statusNote(next status.Current, code string, wrote []string) string {
	text := string(next.Status)
	if next.Exception {
		text += ", exception " + next.Reason
	}
	if code != "" {
		text += " (" + code + ")"
	}
	if len(wrote) == 0 {
		return text + "; nothing written to the shop"
	}
	return text + "; wrote " + strings.Join(wrote, ", ")
}

// shopLacksWaybill: the order ended without our waybill in the shop (another one was there, it
// was dead-lettered, dropped from the dead letter, or skipped); its parcel's news has nowhere to
// go.
func shopLacksWaybill(st string) bool {
	return st == state.Conflict || st == state.Failed || st == state.Skipped || st == state.Dropped
}

// statusValues are the named parameters of a status write-back.
func statusValues(rec state.Record, sep, st, reason string, eventTime time.Time) map[string]any {
	return shopdb.Values{Key: rec.Key, Waybill: rec.Waybill, Carrier: rec.Carrier, ShipperCode: rec.ShipperCode,
		OrderCode: rec.OrderCode, PickupTime: rec.PickupTime, Status: st, Reason: reason, EventTime: eventTime,
		Waybills: strings.Join(append([]string{rec.Waybill}, rec.Children...), sep), Parcels: 1 + len(rec.Children),
		Warehouse: rec.Warehouse}.Map(time.Now())
}
