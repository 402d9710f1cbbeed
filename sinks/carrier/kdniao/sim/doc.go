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
// It owns only the simulated carrier. Like every package under sinks/, it must not import
// sync/… or sources/…; it uses package kdniao for signing and the request types.
package sim
