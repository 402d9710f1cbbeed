// Package pipeline wires the binlog source to the carriers and the shop's write-back: it detects
// paid transitions, claims each order in Redis, asks the routed carrier for a waybill, records it,
// writes it back, and advances the binlog checkpoint only over settled transactions.
package pipeline
