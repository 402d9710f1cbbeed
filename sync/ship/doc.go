// Package ship is the shipping stage of DESIGN.md §1: it takes paid orders (Jobs, from the
// binlog tail, the Kafka inbox or the retry schedule) in batches and, per batch, claims them in
// Redis, reads them from the shop, routes each to a carrier, asks the carriers for waybills
// (concurrently, through each carrier's protections), records the waybills, writes them back
// into the shop in one transaction and settles every order: exactly one Settlement per order,
// recorded in one Redis call for the batch, and only then acknowledged.
//
// Every retry, dead-letter, failover and pin choice is made by the pure function decide
// (decide.go), table-tested against the rules of DESIGN.md §2. The stage declares what it needs
// of Redis, the shop and the outbox as small interfaces (ship.go); its unit tests use fakes.
//
// It imports sync/state, sync/carrier, sync/outbox, sync/config, sync/metrics and
// sinks/shopdb types; nothing imports it but the composition (sync/pipeline).
package ship
