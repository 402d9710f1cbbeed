// Package shopdb owns every statement shipsync runs against the shop's database: the configured
// enrichment queries that read orders by key (one by :key, or many at once by an IN list of
// :keys), the backfill query, and the write-back templates.
//
// Templates use named parameters (:key, :waybill, ...) that are compiled once to positional
// placeholders and always bound as prepared-statement arguments; no value is ever spliced into
// SQL text (:keys becomes a list of placeholders, one per key). It must not import sync/ or
// sources/.
package shopdb
