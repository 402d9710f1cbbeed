// Package sim is a simulator of the xml carrier type: the carrier side of the SF Express BSP
// style protocol that package sfxml speaks (../README.md), so that shipsync can be run and
// tested offline. Tests mount it in process (httptest) on Path.
//
// It keeps SF's rules: every request is verified (verifyCode over the xml field exactly as
// received, and the account's customer code in Head) before its document is read; an orderid
// is ordered once, and ordering it again is refused with 8016 (重复下单); OrderSearchService
// answers the waybill made the first time; RouteService answers the scans recorded so far.
// Waybill numbers are deterministic (SF followed by 13 digits, in order of creation). A
// ledger per orderid (Ledger) and counts (Stats, GET /stats) let tests prove that no order got
// two waybills. Fault knobs (latency, HTTP 500 before creating, a hang after creating) come
// from simkit and can change at run time (SetFaults).
//
// Scans are recorded by the test (Scan) and pushed signed to a receiver with RoutePushService
// (Push, or PushForm for forged pushes); a push is acknowledged only by HTTP 200 with
// <Head>OK</Head>.
//
// It owns only the simulated carrier. Like every package under sinks/, it must not import
// sync/… or sources/….
package sim
