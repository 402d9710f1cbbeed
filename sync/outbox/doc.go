// Package outbox is the lifecycle events outlet of DESIGN.md §2: every stage records the events
// it announces in a Redis stream (the outbox) before the state change they announce, and a
// forwarder in every process moves them to Kafka, deleting each only after the brokers' ack —
// at least once, never silently dropped.
//
// It imports sync/state for the stream and nothing of the stages.
package outbox
