package state

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Outcome is how a claimed order is settled.
type Outcome int

// Outcomes. Every one but SettleParked is fenced by the claim's owner token and releases the
// lease.
const (
	// SettleWritten: the waybill is in the shop. The order leaves the retry schedule and the
	// dead letter; it stays (no TTL) until its parcel reaches a terminal status.
	SettleWritten Outcome = iota + 1
	// SettleSkipped: the order was no longer eligible when read; Reason says why. It leaves
	// both sets and expires after the retention; a later paid transition may claim it again.
	SettleSkipped
	// SettleConflict: the shop's row already holds another waybill (Reason, see
	// ConflictReason); it is left untouched, leaves both sets and expires after the retention.
	SettleConflict
	// SettleRetry: into the retry schedule due at Due, with Reason. The state becomes retry, or
	// stays waybilled when the record holds a waybill, so that the retry only writes back.
	SettleRetry
	// SettleDead: into the dead letter with Reason, out of the retry schedule.
	SettleDead
	// SettleParked: another worker holds the order: into the retry schedule due at Due, so it
	// is looked at again once that worker's lease has lapsed. Not fenced (the order is not the
	// caller's): the record is not touched and Owner is not read.
	SettleParked
)

var outcomeNames = [...]string{SettleWritten: "written", SettleSkipped: "skipped", SettleConflict: "conflict",
	SettleRetry: "retry", SettleDead: "dead", SettleParked: "parked"}

func (o Outcome) String() string {
	if o > 0 && int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return "Outcome(" + strconv.Itoa(int(o)) + ")"
}

// Settlement is the one outcome recorded for a claimed order.
type Settlement struct {
	Key, Owner string // the order, and the claim's owner token
	Kind       Outcome
	// Reason is stored as the record's last error: why it was skipped, what the conflict found,
	// what the retry or the dead letter is for. Written and Parked ignore it.
	Reason string
	// Due is when a Retry or a Parked order is handed out again (TakeDue); zero is at once.
	Due time.Time
	// CountAttempt (Retry, Dead): a carrier attempt was spent; attempts goes up by one.
	CountAttempt bool
	// Sticky (Retry, Dead): a carrier may hold the waybill, so only it may be asked again.
	// False unpins what Submitting pinned.
	Sticky bool
	// Note is the timeline's text for the change (what was written to the shop); "": Reason.
	Note string
	// OrderCode, when known, is recorded (and indexed for search): an order refused before
	// any carrier was asked has none yet.
	OrderCode string
}

// SettleResult is Settle's answer for one settlement.
type SettleResult struct {
	// Attempts is the order's attempt count after the change (0 for Parked, which reads no
	// record).
	Attempts int
	// Err is this order's alone: ErrLeaseLost when its lease went to another worker, who now
	// settles it; nothing of the order was changed then.
	Err error
}

// ConflictReason is a conflict's Reason when the shop holds the waybill existing.
func ConflictReason(existing string) string { return "shop already has waybill " + existing }

// Settle records each settlement in one round trip; results[i] answers ss[i]. Each order is
// changed atomically and alone, so one order's lost lease or bad settlement fails only it.
//
// A Parked settlement of a key that the same call also settles otherwise is dropped (and
// answers nil): the other settlement decides the order's place in the retry schedule, and a
// late park would move a retry's due time or bring a settled order back. Two fenced settlements
// of one key: the first releases the lease, so the second fails with ErrLeaseLost.
func (s *Store) Settle(ctx context.Context, ss []Settlement) []SettleResult {
	results := make([]SettleResult, len(ss))
	calls := make([]scriptCall, 0, len(ss))
	idx := make([]int, 0, len(ss))
	settled := make(map[string]bool, len(ss))
	for i, st := range ss {
		switch st.Kind {
		case SettleParked:
		case SettleWritten, SettleSkipped, SettleConflict, SettleRetry, SettleDead:
			calls = append(calls, s.updateCall(st.Key, st.Owner, st.change()))
			idx = append(idx, i)
			settled[st.Key] = true
		default:
			results[i].Err = fmt.Errorf("settle order %s: unknown outcome %v", st.Key, st.Kind)
		}
	}
	var parks []int
	for i, st := range ss {
		if st.Kind == SettleParked && !settled[st.Key] {
			parks = append(parks, i)
		}
	}
	parked := make([]*redis.IntCmd, len(parks))
	var park func(redis.Pipeliner)
	if len(parks) > 0 {
		park = func(p redis.Pipeliner) {
			for j, i := range parks {
				parked[j] = p.ZAdd(ctx, s.retryKey(), redis.Z{Score: float64(ss[i].Due.UnixMilli()), Member: ss[i].Key})
			}
		}
	}
	cmds := s.evalMany(ctx, updateScript, calls, park)
	for j, cmd := range cmds {
		i := idx[j]
		n, err := cmd.Int()
		results[i] = SettleResult{Attempts: n, Err: updateErr(ss[i].Key, err)}
	}
	for j, i := range parks {
		if err := parked[j].Err(); err != nil {
			results[i].Err = fmt.Errorf("park order %s: %w", ss[i].Key, err)
		}
	}
	return results
}

// change is the fenced update of a settlement (any Kind but Parked).
func (st Settlement) change() change {
	due := strconv.FormatInt(st.Due.UnixMilli(), 10)
	reason := []string{"last_error", st.Reason}
	if st.OrderCode != "" {
		reason = append(reason, "order_code", st.OrderCode)
	}
	switch st.Kind {
	case SettleWritten:
		return change{state: Written, retryDue: "", dlq: "0", release: true, note: st.Note}
	case SettleSkipped:
		return change{state: Skipped, retryDue: "", dlq: "0", release: true, fields: reason}
	case SettleConflict:
		return change{state: Conflict, retryDue: "", dlq: "0", release: true, fields: reason}
	case SettleRetry:
		return change{state: Retry, keepWaybilled: true, retryDue: due, dlq: "-", release: true, incr: st.CountAttempt,
			fields: append(reason, "sticky", flag(st.Sticky))}
	case SettleDead:
		return change{state: Failed, retryDue: "", dlq: "1", release: true, incr: st.CountAttempt,
			fields: append(reason, "sticky", flag(st.Sticky))}
	}
	panic("state: no change for outcome " + st.Kind.String())
}
