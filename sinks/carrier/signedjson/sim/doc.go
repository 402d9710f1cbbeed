// Package sim is an in-process signed-JSON carrier: the server side of the protocol that
// package signedjson speaks, for tests (mounted with httptest) and for running shipsync
// offline.
//
// It verifies the signature of every create request over the raw body (a failure answers 401
// and is counted), creates waybills idempotently by order_code ("GJ" + 10 digits; a repeat
// answers the same waybill with "repeat":true), signs every answer, and keeps counts so that
// tests can prove that no order got two waybills. It does not reject replayed creates: a create
// is idempotent, and a client's retry within the same second is byte-identical to the first try. Push and PushRaw play the carrier's other
// half: signed (or forged) status pushes to a receiver. Fault knobs (latency after committing,
// HTTP 500 before creating, unsigned answers) can be changed at run time with SetFaults.
//
// It owns only the simulated carrier. Like every package under sinks/, it must not import
// sync/… or sources/…; it uses package signedjson for signing and the message types.
package sim
