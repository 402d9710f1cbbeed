// Package status owns shipsync's canonical shipment status model (carriers/kdniao.md, "Canonical
// status model"): the statuses and their ranks, the mapping of carrier codes onto them, and Decide,
// the monotonic rule that says whether an observed event moves a parcel forward, raises or clears
// the exception flag, or must be ignored.
//
// It is pure: no I/O, no clock, no logging, no package-level state, and it imports the standard
// library only. Callers (the push receiver, the poller, the watchdog) keep the Current of each
// parcel, run Decide on every event, persist the returned Current and run the returned write-back
// key. Because Decide is deterministic and idempotent, pushes that arrive duplicated and out of
// order are safe to feed through it as they come.
package status
