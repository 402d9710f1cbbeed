package status

import (
	"slices"
	"testing"
)

func TestRankTerminalValid(t *testing.T) {
	tests := []struct {
		s        Status
		rank     int
		terminal bool
	}{
		{Created, 0, false},
		{PickedUp, 1, false},
		{InTransit, 2, false},
		{OutForDelivery, 3, false},
		{ReadyForPickup, 3, false},
		{Returning, 5, false},
		{Delivered, 9, true},
		{Returned, 9, true},
		{Cancelled, 9, true},
		{"", -1, false},
		{"exception", -1, false}, // a flag, not a status
		{"Delivered", -1, false},
		{"lost", -1, false},
	}
	for _, tt := range tests {
		if got := tt.s.Rank(); got != tt.rank {
			t.Errorf("%q.Rank() = %d, want %d", tt.s, got, tt.rank)
		}
		if got := tt.s.Terminal(); got != tt.terminal {
			t.Errorf("%q.Terminal() = %v, want %v", tt.s, got, tt.terminal)
		}
		if got, want := tt.s.Valid(), tt.rank >= 0; got != want {
			t.Errorf("%q.Valid() = %v, want %v", tt.s, got, want)
		}
	}
}

func TestAll(t *testing.T) {
	all := All()
	want := []Status{Created, PickedUp, InTransit, OutForDelivery, ReadyForPickup, Returning, Delivered, Returned, Cancelled}
	if !slices.Equal(all, want) {
		t.Fatalf("All() = %v, want %v", all, want)
	}
	for i, s := range all {
		if !s.Valid() {
			t.Errorf("All()[%d] = %q is not valid", i, s)
		}
		if i > 0 && s.Rank() < all[i-1].Rank() {
			t.Errorf("All() not in rank order at %q after %q", s, all[i-1])
		}
		if string(s) == ExceptionKey {
			t.Errorf("All() contains the exception key")
		}
	}
	all[0] = "mutated"
	if All()[0] != Created {
		t.Fatal("All() shares its slice between calls")
	}
}

func TestDecisionString(t *testing.T) {
	tests := map[Decision]string{
		Apply: "apply", Unchanged: "unchanged", Duplicate: "duplicate", Stale: "stale",
		0: "Decision(0)", 7: "Decision(7)",
	}
	for d, want := range tests {
		if got := d.String(); got != want {
			t.Errorf("Decision(%d).String() = %q, want %q", int(d), got, want)
		}
	}
}
