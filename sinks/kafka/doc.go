// Package kafka owns shipsync's writes to Kafka: the paid-order topic of split mode and the
// lifecycle events outlet (DESIGN.md §1, §2). It produces with segmentio/kafka-go.
//
// A Producer is asynchronous so that Kafka never slows the order path, and it never drops a
// message silently: Send queues and returns at once, blocking only when the bounded queue is
// full (back-pressure instead of loss); a single background loop writes batches with acks from
// all in-sync replicas, keyed by a Java-compatible murmur2 hash so each key stays on one
// partition and in order; a failed batch is retried with backoff until it succeeds or Close's
// deadline passes, each failure counted in Stats and reported to the OnError callback; Close
// flushes and names how many messages it could not deliver. Delivery is at least once: an
// attempt that times out after the broker stored it is retried and may appear twice, so
// consumers deduplicate (events carry their own id).
//
// The package reports, it does not log: the caller decides what a failure means. It must not
// import sync/… or sources/… (nor anything else from the module); the interfaces it satisfies
// are declared where they are used, in sync/….
package kafka
