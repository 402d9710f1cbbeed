package kdniao

import "github.com/shipsync/shipsync/sinks/carrier/wire"

// Error is a failed Kdniao call, classified by package wire for transport outcomes and here for
// Kdniao's ResultCode (README.md, "Errors"): ResultCode 101-104 (missing parameter, validation,
// format, account) and HTTP 4xx other than 408/429 are Permanent; a 2xx that cannot be read, or
// success without a waybill, is MaybeCreated (retry on the same carrier: a repeat answers 106
// with the same waybill). Its message never contains the app key.
type Error = wire.Error
