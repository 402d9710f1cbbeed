package status

import "testing"

func TestFromKdniao(t *testing.T) {
	type want struct {
		status Status
		exc    bool
		reason string
		code   string
		known  bool
	}
	ok := func(s Status, code string) want { return want{status: s, code: code, known: true} }
	problem := func(reason, code string) want {
		return want{exc: true, reason: reason, code: code, known: true}
	}
	unknown := func(code string) want { return want{status: InTransit, code: code} }

	tests := []struct {
		state, stateEx string
		want           want
	}{
		// State alone.
		{"0", "", ok(Created, "0")},
		{"1", "", ok(PickedUp, "1")},
		{"2", "", ok(InTransit, "2")},
		{"3", "", ok(Delivered, "3")},
		{"4", "", problem("4 problem", "4")},

		// Every StateEx of the table, under its usual State.
		{"0", "10", ok(Created, "0/10")},
		{"1", "1", ok(PickedUp, "1/1")},
		{"2", "2", ok(InTransit, "2/2")},
		{"2", "201", ok(InTransit, "2/201")},
		{"2", "202", ok(OutForDelivery, "2/202")},
		{"2", "204", ok(InTransit, "2/204")},
		{"2", "205", ok(InTransit, "2/205")},
		{"2", "206", ok(InTransit, "2/206")},
		{"2", "211", ok(ReadyForPickup, "2/211")},
		{"3", "3", ok(Delivered, "3/3")},
		{"3", "301", ok(Delivered, "3/301")},
		{"3", "302", ok(Delivered, "3/302")},
		{"3", "304", ok(Delivered, "3/304")},
		{"3", "311", ok(Delivered, "3/311")},
		{"4", "4", problem("4 problem", "4/4")},
		{"4", "401", problem("401 no trace after shipping", "4/401")},
		{"4", "402", problem("402 not signed in time", "4/402")},
		{"4", "403", problem("403 no update in time", "4/403")},
		{"4", "404", ok(Returning, "4/404")},
		{"4", "405", problem("405 delivery exception", "4/405")},
		{"4", "406", ok(Returned, "4/406")},
		{"4", "407", ok(Returning, "4/407")},
		{"4", "412", ok(ReadyForPickup, "4/412")},
		{"4", "413", problem("413 intercepted", "4/413")},
		{"4", "415", ok(Cancelled, "4/415")},

		// A known StateEx wins over State, whatever State says.
		{"2", "301", ok(Delivered, "2/301")},
		{"4", "202", ok(OutForDelivery, "4/202")},
		{"3", "402", problem("402 not signed in time", "3/402")},
		{"", "202", ok(OutForDelivery, "/202")},
		{"99", "211", ok(ReadyForPickup, "99/211")},

		// An unknown StateEx falls back to a known State.
		{"2", "299", ok(InTransit, "2/299")},
		{"3", "399", ok(Delivered, "3/399")},
		{"4", "499", problem("4 problem", "4/499")},
		{"0", "x", ok(Created, "0/x")},

		// Neither known: in transit, counted by the caller.
		{"", "", unknown("")},
		{"5", "", unknown("5")},
		{"6", "601", unknown("6/601")},
		{"02", "", unknown("02")},
		{"2.0", "", unknown("2.0")},
		{"-1", "", unknown("-1")},
		{"+2", "", unknown("+2")},
		{"0x2", "", unknown("0x2")},
		{"1e2", "", unknown("1e2")},
		{"２", "", unknown("２")}, // full-width digit
		{"999", "9999", unknown("999/9999")},
		{"20", "2010", unknown("20/2010")},
		{"null", "undefined", unknown("null/undefined")},

		// Surrounding spaces are tolerated.
		{" 2 ", " 202\t", ok(OutForDelivery, "2/202")},
		{"3", "  ", ok(Delivered, "3")},
	}
	for _, tt := range tests {
		ev, known := FromKdniao(tt.state, tt.stateEx)
		got := want{ev.Status, ev.Exception, ev.Reason, ev.Code, known}
		if got != tt.want {
			t.Errorf("FromKdniao(%q, %q) = %+v, want %+v", tt.state, tt.stateEx, got, tt.want)
		}
		if !ev.Time.IsZero() {
			t.Errorf("FromKdniao(%q, %q) set Time %v", tt.state, tt.stateEx, ev.Time)
		}
		if ev.Exception == (ev.Status != "") {
			t.Errorf("FromKdniao(%q, %q): an event is either progress or a pure exception, got %+v", tt.state, tt.stateEx, ev)
		}
	}
}

// TestFromKdniaoDecidable checks that every mapped event is something Decide can apply to a
// fresh parcel: no mapping produces an event Decide would drop as unusable.
func TestFromKdniaoDecidable(t *testing.T) {
	codes := []string{"0", "1", "2", "3", "4", "10", "201", "202", "204", "205", "206", "211",
		"301", "302", "304", "311", "401", "402", "403", "404", "405", "406", "407", "412", "413", "415", "777"}
	for _, c := range codes {
		ev, _ := FromKdniao("", c)
		ev.Time = at(1)
		if _, d, _ := Decide(Current{}, ev); d == Stale || d == Duplicate {
			t.Errorf("StateEx %s: first event decided %v", c, d)
		}
	}
}
