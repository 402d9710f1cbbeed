// Package tail is the detection stage of DESIGN.md §1: it tails the shop's binlog
// (sources/binlog), detects paid transitions on the orders table, hands each paid order on as
// an Order carrying its ack, and saves the checkpoint — the end of the newest transaction below
// which every paid order is acknowledged (the contiguous-ack tracker of sync/checkpoint). Only
// the holder of the leader lease tails a shop; a standby waits for it to lapse. First starts
// and --recover begin at the current position with the backfill query.
//
// It declares what it needs of Redis as small interfaces (tail.go) and imports sources/binlog,
// sync/checkpoint, sync/state, sync/outbox, sync/config and sync/metrics; nothing imports it
// but the composition (sync/pipeline).
package tail
