package state

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// The batch operations of the ship stage: each sends the whole batch in one pipeline (one round
// trip), runs the same script per order as its single-order form, and reports each order's
// outcome on its own: one order's failure is never the batch's.

// scriptCall is one run of a script: its keys and arguments.
type scriptCall struct {
	keys []string
	args []any
}

// evalMany runs script once per call in one pipeline (EVALSHA), together with whatever extra
// queues (commands that need no script). A server that lost its script cache (a restart, SCRIPT
// FLUSH) answers NOSCRIPT without running anything, so those calls alone, and nothing else, are
// sent again with the script's body (EVAL, which caches it again) in a second round trip.
// cmds[i] is call i's answer.
func (s *Store) evalMany(ctx context.Context, script *redis.Script, calls []scriptCall, extra func(redis.Pipeliner)) []*redis.Cmd {
	cmds := make([]*redis.Cmd, len(calls))
	if len(calls) == 0 && extra == nil {
		return cmds
	}
	// Each command's error is read from it below; the pipeline's own is the first of those.
	_, _ = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, c := range calls {
			cmds[i] = script.EvalSha(ctx, p, c.keys, c.args...)
		}
		if extra != nil {
			extra(p)
		}
		return nil
	})
	var lost []int
	for i, c := range cmds {
		if isNoScript(c.Err()) {
			lost = append(lost, i)
		}
	}
	if len(lost) == 0 {
		return cmds
	}
	_, _ = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, i := range lost {
			cmds[i] = script.Eval(ctx, p, calls[i].keys, calls[i].args...)
		}
		return nil
	})
	return cmds
}

func isNoScript(err error) bool {
	return err != nil && (errors.Is(err, redis.ErrNoScript) || redis.HasErrorPrefix(err, "NOSCRIPT"))
}

// Claim is ClaimMany's answer for one order.
type Claim struct {
	Key    string
	Result ClaimResult // 0 with Err
	Record Record      // with Claimed and Busy, as Store.Claim returns it
	Err    error       // the claim could not be made; this order's alone
}

// ClaimMany claims every key for owner for lease, in one round trip, each exactly as Claim
// does (done and dead orders, liveness takeover, retention). claims[i] answers keys[i].
//
// A key that appears more than once is claimed once: its later entries get the first one's
// answer, except that a claim has one holder, so they are Busy with the first one's record
// (LeaseOwner is owner: the batch itself holds it). Parking such a duplicate is harmless: Settle
// drops a SettleParked of an order that the same call settles otherwise.
func (s *Store) ClaimMany(ctx context.Context, keys []string, owner string, lease time.Duration) []Claim {
	claims := make([]Claim, len(keys))
	first := make(map[string]int, len(keys))
	calls := make([]scriptCall, 0, len(keys))
	idx := make([]int, 0, len(keys))
	now := time.Now().UnixMilli()
	for i, k := range keys {
		claims[i].Key = k
		if _, dup := first[k]; dup {
			continue
		}
		first[k] = i
		calls = append(calls, s.claimCall(k, owner, now, lease))
		idx = append(idx, i)
	}
	for j, cmd := range s.evalMany(ctx, claimScript, calls, nil) {
		c := &claims[idx[j]]
		res, err := cmd.StringSlice()
		if err != nil {
			c.Err = fmt.Errorf("claim order %s: %w", c.Key, err)
			continue
		}
		c.Result, c.Record, c.Err = claimAnswer(c.Key, res)
	}
	for i, k := range keys {
		if f := first[k]; f != i {
			claims[i] = claims[f]
			if claims[i].Result == Claimed {
				claims[i].Result = Busy
			}
		}
	}
	return claims
}

// Submit is one order of SubmittingMany: the claim's owner token and what Submitting records.
type Submit struct {
	Key, Owner                      string
	OrderCode, Carrier, ShipperCode string
}

// change pins the order to the carrier about to be asked.
func (sub Submit) change() change {
	text := "asked " + sub.Carrier
	if sub.ShipperCode != "" {
		text += " (" + sub.ShipperCode + ")"
	}
	return change{state: Submitting, retryDue: "-", dlq: "-", note: text + " for " + sub.OrderCode,
		fields: []string{"order_code", sub.OrderCode, "carrier", sub.Carrier, "shipper_code", sub.ShipperCode, "sticky", "1"}}
}

// SubmittingMany is Submitting for a batch in one round trip; errs[i] is subs[i]'s outcome
// (ErrLeaseLost when that order's lease went to another worker).
func (s *Store) SubmittingMany(ctx context.Context, subs []Submit) []error {
	calls := make([]scriptCall, len(subs))
	for i, sub := range subs {
		calls[i] = s.updateCall(sub.Key, sub.Owner, sub.change())
	}
	errs := make([]error, len(subs))
	for i, cmd := range s.evalMany(ctx, updateScript, calls, nil) {
		errs[i] = updateErr(subs[i].Key, cmd.Err())
	}
	return errs
}

// WaybillRecord is one order of RecordWaybills: the claim's owner token and what RecordWaybill
// records. A zero PickupDue schedules no pickup watch.
type WaybillRecord struct {
	Key, Owner                   string
	Carrier, Waybill, PickupTime string
	PickupDue, PollDue           time.Time
	Children                     []string // the other parcels' waybills
	Warehouse                    string
	// Labels are the print templates to keep (parent first, then each child), stored in the
	// same round trip; see Labels.
	Labels []Label
}

// RecordWaybills is RecordWaybill for a batch in one round trip; errs[i] is ws[i]'s outcome
// (ErrLeaseLost when that order's lease went to another worker).
func (s *Store) RecordWaybills(ctx context.Context, ws []WaybillRecord) []error {
	now := time.Now().UnixMilli()
	calls := make([]scriptCall, len(ws))
	for i, w := range ws {
		calls[i] = s.recordWaybillCall(w, now)
	}
	errs := make([]error, len(ws))
	var extra func(redis.Pipeliner)
	if labels := s.labelsOf(ws); len(labels) > 0 {
		extra = func(p redis.Pipeliner) { s.putLabels(ctx, p, labels) }
	}
	for i, cmd := range s.evalMany(ctx, recordWaybillScript, calls, extra) {
		errs[i] = recordWaybillErr(ws[i].Key, cmd.Err())
	}
	return errs
}
