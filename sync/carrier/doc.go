// Package carrier is a configured carrier as the shipping path sees it: its client (one adapter
// per carrier type turns a sinks/carrier/<type> client into a Client, a Tracker and a
// webhook.Decoder) behind the protections every call to it goes through — the circuit
// breaker, the rate limit and the in-flight bound (fixed, or sized by sync/limit) — and the
// classification of a call's error that the ship stage decides by: permanent or not, and
// whether a waybill may have been created.
//
// It imports sinks/carrier/<type> and sources/webhook, and nothing of the stages (sync/ship,
// sync/parcel), which declare what they need of it.
package carrier
