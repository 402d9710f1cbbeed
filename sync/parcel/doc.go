// Package parcel is the status stage of DESIGN.md §1: it applies what the carriers say about a
// parcel — their pushes (sources/webhook), the answers to trace queries (the poller, for
// carriers without push and waybills whose pushes went silent) and the watchdog's own
// observations (no pickup after watchdog.no_pickup_after) — through the monotonic model of
// sync/status, writes each change into the shop and records it in Redis. It also reports paid
// orders stuck without a waybill.
//
// It declares what it needs of Redis and the shop as small interfaces (parcel.go) and imports
// sync/state, sync/status, sync/carrier, sync/outbox, sync/config, sync/metrics and
// sources/webhook, sources/poll; nothing imports it but the composition (sync/pipeline).
package parcel
