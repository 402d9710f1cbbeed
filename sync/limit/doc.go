// Package limit owns the bound on calls in flight to one carrier: how many may run at once, who
// waits for a slot, and, for max_in_flight: auto, how the bound adapts to what the carrier's
// latency and failures say about its load.
//
// A carrier with flat latency and plenty of demand gets more calls at once, up to Config.Max (so
// 200 ms of latency still allows about Max/0.2s calls per second); a carrier whose latency climbs
// clearly above its no-load latency, or that fails calls, gets fewer, down to Config.Min. Fixed
// serves max_in_flight: <n> with the same API.
//
// It is pure: no goroutines, no timers and no clock — time enters only as the round-trip time the
// caller reports on release, so the algorithm is deterministic under simulated time. It imports
// the standard library only and nothing from the module; the carrier stage owns one Limit per
// carrier and exports Current and InFlight as gauges.
package limit
