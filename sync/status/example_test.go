package status_test

import (
	"fmt"
	"time"

	"github.com/shipsync/shipsync/sync/status"
)

// A parcel's pushes arrive out of order and duplicated; only real changes are written back.
func ExampleDecide() {
	t := func(hhmm string) time.Time {
		v, _ := time.Parse("2006-01-02 15:04", "2024-05-02 "+hhmm)
		return v
	}
	pushes := []struct{ state, stateEx, newest string }{
		{"2", "202", "09:30"}, // out for delivery
		{"2", "201", "07:10"}, // an older push, late
		{"4", "402", "18:00"}, // not signed in time
		{"4", "402", "18:00"}, // redelivered
		{"3", "301", "19:05"}, // signed: clears the problem
		{"4", "405", "19:30"}, // nothing after delivered
	}
	var cur status.Current
	for _, p := range pushes {
		ev, _ := status.FromKdniao(p.state, p.stateEx)
		ev.Time = t(p.newest)
		var d status.Decision
		var write string
		cur, d, write = status.Decide(cur, ev)
		fmt.Printf("%-6s %-9s %-16q exception=%v\n", ev.Code, d, write, cur.Exception)
	}
	// Output:
	// 2/202  apply     "out_for_delivery" exception=false
	// 2/201  stale     ""               exception=false
	// 4/402  apply     "exception"      exception=true
	// 4/402  duplicate ""               exception=true
	// 3/301  apply     "delivered"      exception=false
	// 4/405  stale     ""               exception=false
}
