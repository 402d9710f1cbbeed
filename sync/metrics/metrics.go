// Package metrics declares shipsync's Prometheus metrics (DESIGN.md §5): one registry per
// process, names built from the shipsync namespace, base units, bounded labels (carrier names,
// outcomes, statuses — never an order id).
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
)

const ns = "shipsync"

// Metrics holds every collector. The zero value is not usable; use New.
type Metrics struct {
	Registry *prometheus.Registry

	BinlogLag          prometheus.Gauge
	BinlogEvents       *prometheus.CounterVec // action
	CheckpointAge      prometheus.Gauge
	Detected           prometheus.Counter
	Orders             *prometheus.CounterVec // outcome
	CarrierRequests    *prometheus.CounterVec // carrier, op, outcome
	CarrierDuration    *prometheus.HistogramVec
	Writebacks         *prometheus.CounterVec // kind, outcome
	WritebackDuration  *prometheus.HistogramVec
	EndToEnd           prometheus.Histogram
	RetryDepth         prometheus.Gauge
	DeadLetterDepth    prometheus.Gauge
	Pushes             *prometheus.CounterVec // carrier, outcome
	StatusTransitions  *prometheus.CounterVec // status
	UnknownStatusCodes *prometheus.CounterVec // carrier
	StuckOrders        prometheus.Counter
	NoPickup           prometheus.Counter
	CancelsDetected    prometheus.Counter
	Cancels            *prometheus.CounterVec
	WatchdogScans      prometheus.Counter
	InFlightLimit      *prometheus.GaugeVec   // carrier
	Batches            prometheus.Histogram   // orders per batch of the ship stage
	ScanErrors         *prometheus.CounterVec // scan: watchdog, poll
	AdminUnauthorized  prometheus.Counter
	ConfigReloads      *prometheus.CounterVec // outcome: applied, refused
	CircuitOpen        *prometheus.GaugeVec   // carrier
	EventsFailed       prometheus.Counter
	EventsOutbox       prometheus.Gauge
	QueueDepth         prometheus.Gauge       // paid orders waiting for a worker in this process
	PendingTx          prometheus.Gauge       // transactions held back from the checkpoint
	OrdersTopic        *prometheus.CounterVec // outcome: published, failed, consumed, malformed
	Leader             prometheus.Gauge
	Ready              prometheus.Gauge
}

// Outcome label values of Orders.
const (
	OrderWritten        = "written"
	OrderAlreadyWritten = "already_written"
	OrderSkipped        = "skipped"
	OrderConflict       = "conflict"
	OrderDeadLettered   = "dead_lettered"
	OrderRetried        = "retried"
)

// Label values known before anything happens. Init gives each vector a zero series for them, so
// dashboards and alert rules that name a series find it in the first scrape, not only after the
// first event of its kind.
var (
	OrderOutcomes     = []string{OrderWritten, OrderAlreadyWritten, OrderSkipped, OrderConflict, OrderDeadLettered, OrderRetried}
	CarrierOps        = []string{"create", "track"}
	CarrierOutcomes   = []string{"success", "repeat", "transient", "permanent"}
	BinlogActions     = []string{"insert", "update", "delete"}
	WaybillOutcomes   = []string{"written", "already_written", "conflict", "missing", "error"}
	StatusOutcomes    = []string{"written", "error"}
	OrdersTopicEvents = []string{"published", "failed", "consumed", "malformed"}
)

// Labels are the label values only the configuration knows.
type Labels struct {
	Carriers     []string // configured carrier names
	PushOutcomes []string // what a push can come to (sources/webhook)
	Statuses     []string // the write-back keys of the status model (exception included)
}

// Init creates every series whose labels are known at start, at zero.
func (m *Metrics) Init(l Labels) {
	for _, a := range BinlogActions {
		m.BinlogEvents.WithLabelValues(a)
	}
	for _, o := range OrderOutcomes {
		m.Orders.WithLabelValues(o)
	}
	for _, o := range WaybillOutcomes {
		m.Writebacks.WithLabelValues("waybill", o)
	}
	for _, o := range StatusOutcomes {
		m.Writebacks.WithLabelValues("status", o)
	}
	m.WritebackDuration.WithLabelValues("waybill")
	m.WritebackDuration.WithLabelValues("status")
	for _, s := range l.Statuses {
		m.StatusTransitions.WithLabelValues(s)
	}
	for _, o := range OrdersTopicEvents {
		m.OrdersTopic.WithLabelValues(o)
	}
	m.ScanErrors.WithLabelValues("watchdog")
	m.ScanErrors.WithLabelValues("poll")
	m.ConfigReloads.WithLabelValues("applied")
	m.ConfigReloads.WithLabelValues("refused")
	for _, c := range l.Carriers {
		for _, op := range CarrierOps {
			m.CarrierDuration.WithLabelValues(c, op)
			for _, o := range CarrierOutcomes {
				m.CarrierRequests.WithLabelValues(c, op, o)
			}
		}
		for _, o := range l.PushOutcomes {
			m.Pushes.WithLabelValues(c, o)
		}
		m.UnknownStatusCodes.WithLabelValues(c)
		m.CircuitOpen.WithLabelValues(c).Set(0)
		m.InFlightLimit.WithLabelValues(c)
	}
}

// New registers every metric on a fresh registry, with Go and process collectors.
func New() *Metrics {
	r := prometheus.NewRegistry()
	f := func(c prometheus.Collector) { r.MustRegister(c) }
	latency := []float64{.005, .01, .025, .05, .1, .2, .35, .5, 1, 2, 5, 10}
	m := &Metrics{
		Registry: r,
		BinlogLag: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: "binlog", Name: "lag_seconds",
			Help: "Seconds between now and the time of the last binlog event or heartbeat read; ~0 when idle, growing when the stream stalls."}),
		BinlogEvents: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: "binlog", Name: "row_events_total",
			Help: "Row images of the watched orders table read from the binlog, by action."}, []string{"action"}),
		CheckpointAge: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: "checkpoint", Name: "age_seconds",
			Help: "Seconds since the binlog checkpoint last moved forward."}),
		Detected: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "paid_detected_total",
			Help: "Paid transitions detected in the binlog (and by the backfill)."}),
		Orders: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "orders_total",
			Help: "Orders by outcome: written, already_written, skipped, conflict, dead_lettered, retried."}, []string{"outcome"}),
		CarrierRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: "carrier", Name: "requests_total",
			Help: "Carrier API requests by carrier, operation (create, track) and outcome (success, repeat, transient, permanent)."},
			[]string{"carrier", "op", "outcome"}),
		CarrierDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Subsystem: "carrier", Name: "request_duration_seconds",
			Help: "Carrier API response time.", Buckets: latency}, []string{"carrier", "op"}),
		Writebacks: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: "writeback", Name: "total",
			Help: "Write-backs into the shop by kind (waybill, status) and outcome."}, []string{"kind", "outcome"}),
		WritebackDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Subsystem: "writeback", Name: "duration_seconds",
			Help: "Time to run a write-back transaction.", Buckets: latency}, []string{"kind"}),
		EndToEnd: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "end_to_end_seconds",
			Help: "From the binlog event that made an order paid (when it arrived, or its whole-second header time when " +
				"shipsync was more than a second behind) to its waybill write-back commit.",
			Buckets: []float64{.01, .025, .05, .075, .1, .15, .2, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}}),
		RetryDepth: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: "retry", Name: "queue_depth",
			Help: "Orders waiting in the retry schedule."}),
		DeadLetterDepth: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: "dead_letter", Name: "depth",
			Help: "Orders in the dead letter."}),
		Pushes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: "push", Name: "requests_total",
			Help: "Carrier status pushes by carrier and outcome (ok, bad_signature, malformed, duplicate, stale, unknown_waybill, forbidden, failed)."},
			[]string{"carrier", "outcome"}),
		StatusTransitions: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: "status", Name: "transitions_total",
			Help: "Parcel status changes written back, by canonical status (exception included)."}, []string{"status"}),
		UnknownStatusCodes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: "status", Name: "unknown_codes_total",
			Help: "Carrier status codes not in the mapping table (taken as in_transit)."}, []string{"carrier"}),
		StuckOrders: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: "watchdog", Name: "stuck_orders_total",
			Help: "Paid orders reported stuck without a waybill past watchdog.stuck_after."}),
		NoPickup: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: "watchdog", Name: "no_pickup_total",
			Help: "Waybills flagged exception no_pickup."}),
		CancelsDetected: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "cancelled_detected_total",
			Help: "Cancelled transitions (orders.cancelled) detected in the binlog."}),
		Cancels: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "cancellations_total",
			Help: "Cancelled orders by outcome: cancelled (waybill cancelled at the carrier), cancel_after_pickup, not_shipped, already_cancelled, failed."},
			[]string{"outcome"}),
		WatchdogScans: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: "watchdog", Name: "scans_total",
			Help: "Watchdog passes completed (no-pickup flags and stuck orders)."}),
		InFlightLimit: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: "carrier", Name: "in_flight_limit",
			Help: "The bound on calls in flight to the carrier now: max_in_flight, or where auto has sized it."}, []string{"carrier"}),
		Batches: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: "ship", Name: "batch_orders",
			Help:    "Orders per batch of the ship stage (whatever was waiting, up to workers.batch).",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512}}),
		ScanErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: "status", Name: "scan_errors_total",
			Help: "Orders the watchdog could not flag or the poller could not poll (a failed statement, query or Redis call), by scan; each is tried again later while the scan goes on with the others."},
			[]string{"scan"}),
		EventsFailed: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: "events", Name: "failed_total",
			Help: "Lifecycle events whose delivery to Kafka failed (retried), or that could not be recorded in the outbox (Redis down; logged)."}),
		EventsOutbox: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: "events", Name: "outbox_depth",
			Help: "Lifecycle events recorded in the Redis outbox and not yet acknowledged by Kafka."}),
		QueueDepth: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: "workers", Name: "queue_depth",
			Help: "Paid orders read (from the binlog or Kafka) and waiting for a worker of this process."}),
		PendingTx: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: "checkpoint", Name: "pending_transactions",
			Help: "Binlog transactions read but held back from the checkpoint because an order in them (or before them) is not settled."}),
		OrdersTopic: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: "orders_topic", Name: "messages_total",
			Help: "Split mode's paid-order messages: published (acknowledged by Kafka), failed (produce attempts, retried), consumed, malformed (skipped)."},
			[]string{"outcome"}),
		AdminUnauthorized: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: "admin", Name: "unauthorized_total",
			Help: "Requests to the admin listener refused for a missing or wrong admin.token."}),
		ConfigReloads: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: "config", Name: "reloads_total",
			Help: "Configuration reloads (SIGHUP, shipsync reload) by outcome: applied, or refused (the file failed validation; the running one stays)."},
			[]string{"outcome"}),
		CircuitOpen: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: "carrier", Name: "circuit_open",
			Help: "1 while the carrier's circuit breaker is open (or half-open)."}, []string{"carrier"}),
		Leader: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "leader",
			Help: "1 while this process tails the binlog."}),
		Ready: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "ready",
			Help: "1 while the binlog stream, Redis and the shop database are all reachable."}),
	}
	for _, c := range []prometheus.Collector{m.BinlogLag, m.BinlogEvents, m.CheckpointAge, m.Detected, m.Orders,
		m.CarrierRequests, m.CarrierDuration, m.Writebacks, m.WritebackDuration, m.EndToEnd, m.RetryDepth,
		m.DeadLetterDepth, m.Pushes, m.StatusTransitions, m.UnknownStatusCodes, m.StuckOrders, m.NoPickup,
		m.CancelsDetected, m.Cancels,
		m.WatchdogScans, m.InFlightLimit, m.Batches, m.ScanErrors, m.AdminUnauthorized, m.ConfigReloads, m.CircuitOpen, m.EventsFailed, m.EventsOutbox, m.QueueDepth, m.PendingTx, m.OrdersTopic, m.Leader, m.Ready,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		f(c)
	}
	return m
}

// Handler serves /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

// Since observes the seconds since start on h.
func Since(h prometheus.Observer, start time.Time) { h.Observe(time.Since(start).Seconds()) }

// Value reads a counter's or gauge's current value (for the status page; tests use
// prometheus/testutil).
func Value(c prometheus.Metric) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return 0
	}
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	return 0
}
