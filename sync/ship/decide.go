package ship

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/shipsync/shipsync/sync/carrier"
	"github.com/shipsync/shipsync/sync/state"
)

// result is what became of one claimed order in this batch, before it is settled.
type result struct {
	kind     resultKind
	err      error     // failed: the cause
	carrier  string    // the carrier asked last, for logs
	pinned   bool      // a carrier may hold the order's waybill: only it may be asked again
	existing string    // conflict: the waybill the shop row holds
	until    time.Time // busy: the other worker's lease
	already  bool      // written: a replay found the waybill already in the shop
}

type resultKind int

const (
	finished resultKind = iota + 1 // written or dead-lettered before this batch: nothing to record
	written                        // our waybill is in the shop (this batch wrote it, or a replay found it)
	conflict                       // the shop row holds another waybill: left untouched
	notFound                       // the enrichment read no row
	notReady                       // the order has no items yet
	busy                           // another live worker holds it
	noRow                          // the write-back matched no row at all
	failed                         // err says why
)

// policy is what decide needs to know besides the order: the time, the retry settings and
// each carrier's breaker cooldown. delay(n) is the wait before retry attempt n+1 (with its
// jitter already drawn: decide stays pure).
type policy struct {
	now          time.Time
	maxAttempts  int
	delay        func(attempt int) time.Duration
	cooldown     func(carrier string) time.Duration
	readyTimeout time.Duration // how long "no row" and "no items yet" are waited for
	aliveTTL     time.Duration
}

// readPause is how soon an order that could not be read yet is read again.
const readPause = 200 * time.Millisecond

// shopDown wraps an error of the shop's database (a read or the write-back): not the order's
// fault, so it spends no attempt.
type shopDown struct{ err error }

func (e shopDown) Error() string { return "shop database: " + e.err.Error() }
func (e shopDown) Unwrap() error { return e.err }

// errNotReady: the order has no items yet (MyISAM shops write them after the paid order row).
var errNotReady = errors.New("order has no items yet")

// decide is the one place that chooses what happens to a claimed order (DESIGN.md §2): it turns
// the order's record as claimed and what became of it into the Settlement to record. It does
// no I/O and reads no clock.
func decide(rec state.Record, r result, p policy) state.Settlement {
	s := state.Settlement{Key: rec.Key, Sticky: r.pinned}
	waited := p.now.Sub(rec.CreatedAt)
	switch r.kind {
	case written:
		s.Kind = state.SettleWritten
	case conflict:
		s.Kind, s.Reason = state.SettleConflict, state.ConflictReason(r.existing)
	case busy:
		// Look again once the other worker is done, or once its process would have been
		// declared dead.
		due := r.until
		if limit := p.now.Add(p.aliveTTL); due.IsZero() || limit.Before(due) {
			due = limit
		}
		s.Kind, s.Due = state.SettleParked, due.Add(500*time.Millisecond)
	case notFound:
		if waited < p.readyTimeout {
			// A commit may not be visible to a fresh read yet: look again shortly.
			s.Kind, s.Due, s.Reason = state.SettleRetry, p.now.Add(readPause), "no row yet"
			return s
		}
		s.Kind, s.Reason = state.SettleSkipped, "not eligible when read (cancelled or already shipped)"
	case notReady:
		if waited < p.readyTimeout {
			s.Kind, s.Due, s.Reason = state.SettleRetry, p.now.Add(readPause), errNotReady.Error()
			return s
		}
		return decideFailure(rec, fmt.Errorf("%w after %s", errNotReady, p.readyTimeout), s, p)
	case noRow:
		s.Kind, s.Reason = state.SettleDead, "write-back matched no row: the order row is gone or no longer matches the guard"
	default:
		return decideFailure(rec, r.err, s, p)
	}
	return s
}

// decideFailure settles an order whose attempt failed with cause.
func decideFailure(rec state.Record, cause error, s state.Settlement, p policy) state.Settlement {
	s.Reason = cause.Error()
	var open carrier.CircuitOpen
	if errors.As(cause, &open) {
		// Nothing was tried: no attempt is used up; look again when the breaker lets a probe
		// through.
		s.Kind, s.Due = state.SettleRetry, p.now.Add(p.cooldown(open.Carrier))
		return s
	}
	var down shopDown
	if errors.As(cause, &down) {
		// The shop's database failing is not the order's fault: retry until it is back, using
		// up no attempt (a restart of MariaDB must not fill the dead letter).
		s.Kind, s.Due = state.SettleRetry, p.now.Add(p.delay(1))
		return s
	}
	s.CountAttempt = true
	attempt := rec.Attempts + 1
	switch {
	case carrier.IsPermanent(cause):
		s.Kind = state.SettleDead
	case attempt >= p.maxAttempts:
		s.Kind, s.Reason = state.SettleDead, fmt.Sprintf("gave up after %d attempts: %v", attempt, cause)
	default:
		s.Kind, s.Due = state.SettleRetry, p.now.Add(p.delay(attempt))
	}
	return s
}

// refusal is one carrier's answer in a failover round that certainly created nothing.
type refusal struct {
	carrier string
	err     error
}

// failOver reports whether, after err from one carrier, the next candidate may be asked: only
// when the carrier certainly created nothing (refused connection, open circuit, explicit
// rejection). After an ambiguous failure the waybill may exist there: only that carrier, with
// the same OrderCode, may be asked again (it answers 106 with the same waybill).
func failOver(err error) bool { return !carrier.MaybeCreated(err) }

// roundError decides a failover round in which every candidate carrier certainly created
// nothing: the most hopeful error wins. An open circuit anywhere means that carrier may take
// the order once it recovers: the order waits for it, spending no attempt. Any other transient
// failure is retried, spending one. Only when every candidate refused the order permanently
// does it go to the dead letter, with each carrier's reason. No answer here pins the order to a
// carrier: none of them may hold its waybill.
func roundError(rs []refusal) error {
	if len(rs) == 0 {
		return nil
	}
	var open carrier.CircuitOpen
	for _, r := range rs {
		if errors.As(r.err, &open) {
			return r.err
		}
	}
	for _, r := range rs {
		if !carrier.IsPermanent(r.err) {
			return r.err
		}
	}
	if len(rs) == 1 {
		return rs[0].err
	}
	reasons := make([]string, len(rs))
	for i, r := range rs {
		reasons[i] = fmt.Sprintf("%s: %v", r.carrier, r.err)
	}
	return &carrier.Permanent{Reason: "every carrier refused the order: " + strings.Join(reasons, "; ")}
}
