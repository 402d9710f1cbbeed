package signedjson

import "github.com/shipsync/shipsync/sinks/carrier/wire"

// Error is a failed create call, classified by package wire for transport outcomes and here for
// the answer (README.md, "Create a waybill"): a 4xx other than 408/429 (validation, bad
// address, wrong secret) or a request that cannot be built (no URL or secret configured, a
// number JSON cannot carry) is Permanent; a 2xx answer that is unsigned, badly signed, stale,
// unreadable, without a waybill or for another order is MaybeCreated (retry on the same carrier
// with the same OrderCode: a repeat answers the same waybill). Its message never contains the
// secret.
type Error = wire.Error
