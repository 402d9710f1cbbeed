// Package state keeps shipsync's own state in Redis: one record per order (its lifecycle state,
// order code, carrier, waybill, attempts, last error and the lease of the worker handling it), the
// retry schedule (a sorted set by due time), the dead letter, and the binlog checkpoint.
//
// Every change to an order record after the claim is fenced by the claim's owner token, so a
// worker whose lease lapsed cannot overwrite the work of the one that took over.
//
// The ship stage works in batches: ClaimMany, SubmittingMany, RecordWaybills and Settle each
// cost one round trip for the whole batch and answer per order; the first three follow the same
// rules as their single-order calls (Claim, Submitting, RecordWaybill). Settle records the one
// outcome of each claimed order (a Settlement), for one order or many.
package state
