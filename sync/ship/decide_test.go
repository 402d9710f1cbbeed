package ship

import (
	"errors"
	"testing"
	"time"

	"github.com/shipsync/shipsync/sync/carrier"
	"github.com/shipsync/shipsync/sync/state"
)

// transientErr is a failure that certainly created nothing (a refused connection).
type transientErr struct{}

func (transientErr) Error() string      { return "connection refused" }
func (transientErr) MaybeCreated() bool { return false }

// ambiguousErr is a failure after which the waybill may exist (a timeout after sending).
type ambiguousErr struct{}

func (ambiguousErr) Error() string      { return "timeout after sending" }
func (ambiguousErr) MaybeCreated() bool { return true }

func TestDecide(t *testing.T) {
	now := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
	p := policy{now: now, maxAttempts: 3, readyTimeout: 5 * time.Second, aliveTTL: 3 * time.Second,
		delay:    func(n int) time.Duration { return time.Duration(n) * 10 * time.Second },
		cooldown: func(c string) time.Duration { return map[string]time.Duration{"sf": time.Minute}[c] }}
	fresh := state.Record{Key: "1", CreatedAt: now.Add(-time.Second)}
	old := state.Record{Key: "1", CreatedAt: now.Add(-time.Minute)}
	second := state.Record{Key: "1", CreatedAt: now.Add(-time.Minute), Attempts: 1}
	last := state.Record{Key: "1", CreatedAt: now.Add(-time.Minute), Attempts: 2}
	refused := &carrier.Permanent{Reason: "102 receiver address invalid"}
	tests := []struct {
		name string
		rec  state.Record
		res  result
		want state.Settlement
	}{
		{"written", old, result{kind: written}, state.Settlement{Kind: state.SettleWritten}},
		{"a conflict names the shop's waybill", old, result{kind: conflict, existing: "SF1"},
			state.Settlement{Kind: state.SettleConflict, Reason: "shop already has waybill SF1"}},
		{"busy: look again when the other lease ends", old, result{kind: busy, until: now.Add(time.Second)},
			state.Settlement{Kind: state.SettleParked, Due: now.Add(1500 * time.Millisecond)}},
		{"busy with a long lease: look again when its process would be dead", old, result{kind: busy, until: now.Add(time.Minute)},
			state.Settlement{Kind: state.SettleParked, Due: now.Add(3500 * time.Millisecond)}},
		{"no row just after paid: read again shortly, no attempt", fresh, result{kind: notFound},
			state.Settlement{Kind: state.SettleRetry, Due: now.Add(readPause), Reason: "no row yet"}},
		{"no row after ready_timeout: skipped", old, result{kind: notFound},
			state.Settlement{Kind: state.SettleSkipped, Reason: "not eligible when read (cancelled or already shipped)"}},
		{"no items just after paid: read again shortly, no attempt", fresh, result{kind: notReady},
			state.Settlement{Kind: state.SettleRetry, Due: now.Add(readPause), Reason: "order has no items yet"}},
		{"no items after ready_timeout: an attempt spent", old, result{kind: notReady},
			state.Settlement{Kind: state.SettleRetry, Due: now.Add(10 * time.Second), CountAttempt: true,
				Reason: "order has no items yet after 5s"}},
		{"write-back matched no row: dead letter, no attempt", old, result{kind: noRow, pinned: true},
			state.Settlement{Kind: state.SettleDead, Sticky: true,
				Reason: "write-back matched no row: the order row is gone or no longer matches the guard"}},
		{"open circuit: wait for the cooldown, no attempt, pin kept", second,
			result{kind: failed, err: carrier.CircuitOpen{Carrier: "sf"}, pinned: true},
			state.Settlement{Kind: state.SettleRetry, Due: now.Add(time.Minute), Sticky: true, Reason: "carrier sf: circuit open"}},
		{"shop down: retry at the first interval, no attempt, even on the last attempt", last,
			result{kind: failed, err: shopDown{errors.New("connection refused")}},
			state.Settlement{Kind: state.SettleRetry, Due: now.Add(10 * time.Second), Reason: "shop database: connection refused"}},
		{"permanent refusal: dead letter, attempt counted", old, result{kind: failed, err: refused},
			state.Settlement{Kind: state.SettleDead, CountAttempt: true, Reason: "102 receiver address invalid"}},
		{"ambiguous failure: retry, pinned", old, result{kind: failed, err: ambiguousErr{}, carrier: "sf", pinned: true},
			state.Settlement{Kind: state.SettleRetry, Due: now.Add(10 * time.Second), CountAttempt: true, Sticky: true,
				Reason: "timeout after sending"}},
		{"second attempt waits the second delay", second, result{kind: failed, err: transientErr{}},
			state.Settlement{Kind: state.SettleRetry, Due: now.Add(20 * time.Second), CountAttempt: true, Reason: "connection refused"}},
		{"retries exhausted: dead letter with the count, pin kept", last, result{kind: failed, err: ambiguousErr{}, pinned: true},
			state.Settlement{Kind: state.SettleDead, CountAttempt: true, Sticky: true,
				Reason: "gave up after 3 attempts: timeout after sending"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.want.Key = "1"
			if got := decide(tt.rec, tt.res, p); got != tt.want {
				t.Errorf("decide:\n got  %+v\n want %+v", got, tt.want)
			}
		})
	}
}

func TestFailOver(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  error
		want bool
	}{
		{"refused connection: the next carrier may try", transientErr{}, true},
		{"open circuit: the next carrier may try", carrier.CircuitOpen{Carrier: "sf"}, true},
		{"explicit rejection: the next carrier may try", &carrier.Permanent{Reason: "105 refused"}, true},
		{"not called (shutting down)", carrier.NotCalled{Err: errors.New("context canceled")}, true},
		{"timeout after sending: never fail over", ambiguousErr{}, false},
		{"an error that cannot say: taken as maybe created", errors.New("garbled"), false},
	} {
		if got := failOver(tt.err); got != tt.want {
			t.Errorf("%s: failOver = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestRoundError(t *testing.T) {
	refused := &carrier.Permanent{Reason: "102 receiver address invalid"}
	refused2 := &carrier.Permanent{Reason: "104 account problem"}
	open := carrier.CircuitOpen{Carrier: "sf"}
	down := transientErr{}
	for _, tt := range []struct {
		name      string
		round     []refusal
		want      error  // the error that decides, when it is one of the round's
		permanent bool   // the decision dead-letters
		reason    string // the dead letter's reason, when several carriers refused
	}{
		{"nothing tried", nil, nil, false, ""},
		{"one refusal dead-letters with its reason", []refusal{{"sf", refused}}, refused, true, ""},
		{"open circuit, then a refusal: wait for the circuit", []refusal{{"sf", open}, {"zto", refused}}, open, false, ""},
		{"a refusal, then an open circuit: wait for the circuit", []refusal{{"sf", refused}, {"zto", open}}, open, false, ""},
		{"refused connection, then a refusal: retry", []refusal{{"sf", down}, {"zto", refused}}, down, false, ""},
		{"open circuit beats a refused connection", []refusal{{"sf", down}, {"zto", open}}, open, false, ""},
		{"every carrier refused: dead letter naming each", []refusal{{"sf", refused}, {"zto", refused2}}, nil, true,
			"every carrier refused the order: sf: 102 receiver address invalid; zto: 104 account problem"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := roundError(tt.round)
			if tt.want != nil && !errors.Is(got, tt.want) && got != tt.want {
				t.Errorf("decided by %v, want %v", got, tt.want)
			}
			if tt.round == nil && got != nil {
				t.Errorf("empty round: %v", got)
			}
			if carrier.IsPermanent(got) != tt.permanent {
				t.Errorf("permanent = %v, want %v (%v)", carrier.IsPermanent(got), tt.permanent, got)
			}
			if tt.reason != "" && got.Error() != tt.reason {
				t.Errorf("reason %q, want %q", got, tt.reason)
			}
		})
	}
}
