package tail

import (
	"testing"
	"time"

	"github.com/shipsync/shipsync/sources/binlog"
	"github.com/shipsync/shipsync/sync/config"
)

type fakeImage map[string]string

func (f fakeImage) Text(c string) (string, bool) { v, ok := f[c]; return v, ok }

func TestTransition(t *testing.T) {
	r := rule{
		paid: config.Condition{Column: "pay_status", In: []string{"2"}},
		when: []config.Condition{{Column: "shipping_status", In: []string{"0"}}},
	}
	woo := rule{paid: config.Condition{Column: "status", In: []string{"wc-processing", "wc-completed"}}}
	tests := []struct {
		name          string
		r             rule
		action        binlog.Action
		before, after fakeImage
		want          bool
	}{
		{"unpaid to paid", r, binlog.Update, fakeImage{"pay_status": "0", "shipping_status": "0"}, fakeImage{"pay_status": "2", "shipping_status": "0"}, true},
		{"paying to paid", r, binlog.Update, fakeImage{"pay_status": "1", "shipping_status": "0"}, fakeImage{"pay_status": "2", "shipping_status": "0"}, true},
		{"stays paid (our write-back)", r, binlog.Update, fakeImage{"pay_status": "2", "shipping_status": "0"}, fakeImage{"pay_status": "2", "shipping_status": "1"}, false},
		{"paid but already shipped", r, binlog.Update, fakeImage{"pay_status": "0", "shipping_status": "1"}, fakeImage{"pay_status": "2", "shipping_status": "1"}, false},
		{"paid to unpaid", r, binlog.Update, fakeImage{"pay_status": "2", "shipping_status": "0"}, fakeImage{"pay_status": "0", "shipping_status": "0"}, false},
		{"unrelated edit", r, binlog.Update, fakeImage{"pay_status": "0", "shipping_status": "0"}, fakeImage{"pay_status": "0", "shipping_status": "0"}, false},
		{"insert already paid", r, binlog.Insert, nil, fakeImage{"pay_status": "2", "shipping_status": "0"}, true},
		{"insert unpaid", r, binlog.Insert, nil, fakeImage{"pay_status": "0", "shipping_status": "0"}, false},
		{"delete of a paid row", r, binlog.Delete, fakeImage{"pay_status": "2", "shipping_status": "0"}, nil, false},
		{"NULL before counts as unpaid", r, binlog.Update, fakeImage{"shipping_status": "0"}, fakeImage{"pay_status": "2", "shipping_status": "0"}, true},
		{"NULL after is not paid", r, binlog.Update, fakeImage{"pay_status": "0", "shipping_status": "0"}, fakeImage{"shipping_status": "0"}, false},
		{"text status", woo, binlog.Update, fakeImage{"status": "wc-pending"}, fakeImage{"status": "wc-processing"}, true},
		{"text status between paid values", woo, binlog.Update, fakeImage{"status": "wc-processing"}, fakeImage{"status": "wc-completed"}, false},
	}
	for _, tt := range tests {
		var before, after image = tt.before, tt.after
		if got := tt.r.transition(tt.action, before, after); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestPaidAt(t *testing.T) {
	header := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC) // whole seconds, as in the binlog
	for _, c := range []struct {
		arrived time.Time
		want    time.Time
	}{
		{header.Add(900 * time.Millisecond), header.Add(900 * time.Millisecond)}, // live: the arrival
		{header.Add(5 * time.Second), header},                                    // a backlog: the header
		{header.Add(-time.Millisecond), header.Add(-time.Millisecond)},           // clocks a hair apart
	} {
		if got := paidAt(header, c.arrived); !got.Equal(c.want) {
			t.Errorf("paidAt(%v, %v) = %v, want %v", header, c.arrived, got, c.want)
		}
	}
}
