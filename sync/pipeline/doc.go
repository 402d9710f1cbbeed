// Package pipeline composes the stages of DESIGN.md §1 for the configured mode: sync/tail,
// sync/ship, sync/parcel and sync/outbox in one process (mode all), the tail publishing to Kafka
// (mode reader), or Kafka consumed into the ship and parcel stages (mode worker). It holds the
// settings a reload replaces (the configuration and the protected carriers), the observer the
// status page and readiness read, and no rule of its own: each rule lives in its stage.
package pipeline
