package pipeline_test

import (
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/shipsync/shipsync/sources/webhook"
	"github.com/shipsync/shipsync/sync/metrics"
)

// The tests read what the pipeline counted from its Prometheus registry, the only counter.

// pushes counts the pushes answered with outcome, over the harness's carriers.
func (h *harness) pushes(o webhook.Outcome) int64 {
	var n float64
	for _, c := range h.cfg.Carriers {
		n += testutil.ToFloat64(h.p.Metrics().Pushes.WithLabelValues(c.Name, string(o)))
	}
	return int64(n)
}

// written counts the orders whose waybill this process wrote back.
func (h *harness) written() int64 {
	return int64(testutil.ToFloat64(h.p.Metrics().Orders.WithLabelValues(metrics.OrderWritten)))
}

// statusWrites counts the parcel statuses written into the shop.
func (h *harness) statusWrites() int64 {
	return int64(testutil.ToFloat64(h.p.Metrics().Writebacks.WithLabelValues("status", "written")))
}

// polls counts the trace queries answered (with a trace or with none yet), over the carriers.
func (h *harness) polls() int64 {
	var n float64
	for _, c := range h.cfg.Carriers {
		for _, o := range []string{"success"} {
			n += testutil.ToFloat64(h.p.Metrics().CarrierRequests.WithLabelValues(c.Name, "track", o))
		}
	}
	return int64(n)
}

// stuck counts the paid orders the watchdog reported stuck without a waybill.
func (h *harness) stuck() int64 { return int64(testutil.ToFloat64(h.p.Metrics().StuckOrders)) }

// watchdogScans counts the watchdog's completed passes.
func (h *harness) watchdogScans() int64 {
	return int64(testutil.ToFloat64(h.p.Metrics().WatchdogScans))
}
