// Package shopdb owns every statement shipsync runs against the shop's database: the configured
// enrichment queries that read an order by key, the backfill query, and the write-back templates.
//
// Templates use named parameters (:key, :waybill, ...) that are compiled once to positional
// placeholders and always bound as prepared-statement arguments; no value is ever spliced into
// SQL text. It must not import sync/ or sources/.
package shopdb
