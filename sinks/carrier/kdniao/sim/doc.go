// Package sim is a Kdniao-compatible carrier simulator: the server side of the protocol that
// package kdniao speaks, so that shipsync can be run, tested and benchmarked offline. Tests
// mount it in process (httptest); `shipsync sim-carrier` serves it on a port.
//
// It creates waybills idempotently by OrderCode (ResultCode 106 and the same waybill on a
// repeat), verifies EBusinessID and DataSign over the RequestData exactly as received, and keeps
// counts (GET /stats) so that tests and benchmarks can prove that no order got two waybills.
// Fault knobs (latency, HTTP 500 before creating, timeout after creating) reproduce the failures
// the pipeline must survive; they can be changed at run time with SetFaults.
//
// Every waybill gets a seeded plan of trace events (normal delivery, exception then delivery,
// refused and returned, never picked up) on a simulated clock that runs TimeScale times faster
// than real time. 1002 queries answer with the events due so far; Run pushes them (101) to
// Config.PushTo with Kdniao's retry semantics and optional push faults (duplicates, out of
// order, bad signatures, drops). Final and Settled let tests check what a receiver must end with.
//
// It owns only the simulated carrier. Like every package under sinks/, it must not import
// sync/… or sources/…; it uses package kdniao for signing, the request types and pushes.
package sim
