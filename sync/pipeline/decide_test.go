package pipeline

import (
	"errors"
	"testing"
)

type transientErr struct{}

func (transientErr) Error() string      { return "connection refused" }
func (transientErr) MaybeCreated() bool { return false }

func TestRoundError(t *testing.T) {
	refused := &permanentError{"102 receiver address invalid"}
	refused2 := &permanentError{"104 account problem"}
	open := circuitOpen{"sf"}
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
			if isPermanent(got) != tt.permanent {
				t.Errorf("permanent = %v, want %v (%v)", isPermanent(got), tt.permanent, got)
			}
			if tt.reason != "" && got.Error() != tt.reason {
				t.Errorf("reason %q, want %q", got, tt.reason)
			}
		})
	}
}
