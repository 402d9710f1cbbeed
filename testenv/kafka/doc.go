// Package kafka runs an in-process Kafka for tests and the demo: franz-go's kfake, a fake
// broker that speaks the real wire protocol, listening on 127.0.0.1. No Kafka broker package
// is installable on the project's machines (DESIGN.md §6), and kfake needs nothing running.
//
// Records are read back with franz-go's kgo client on purpose: shipsync produces with
// segmentio/kafka-go, so a test that consumes with a second, independent client proves that
// what we write is ordinary Kafka on the wire, not something only our own client understands.
//
// The package is test support: it takes a testing.TB and fails the test on any problem. The
// demo's stand-alone broker is the kfake command below it (cmd/kfake). It imports nothing
// from the module.
package kafka
