// Package kdniao is the client side of the Kdniao (快递鸟) carrier protocol: DataSign signing
// and verification, the 1007 create-waybill request body, the HTTP call and the classification
// of its failures (protocol facts and the error table are in README.md beside this file).
//
// It keeps no state, does not retry and does not log: a failed call returns an *Error whose
// Permanent and MaybeCreated methods let the caller (sync/…) decide between retrying the same
// carrier, failing over, or dead-lettering.
//
// Like every package under sinks/, it must not import sync/… or sources/…: the interfaces it
// satisfies are declared by its consumers.
package kdniao
