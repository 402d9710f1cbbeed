// Package signedjson is the client side of shipsync's generic signed-JSON carrier type
// (`type: signedjson`): a carrier that takes JSON over HTTP and signs every message in both
// directions Stripe-style, `Shipsync-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, t "." body)>`
// (protocol, error table and config in README.md beside this file).
//
// It owns signing and verification (Sign, Verify, and Replays against replayed pushes), the
// create-waybill call and the classification of its failures (Client.Create returns an *Error
// whose Permanent and MaybeCreated methods let the caller decide between retrying the same
// carrier, failing over, or dead-lettering), and the parsing of the carrier's status pushes
// (ParsePush, PushReply). It keeps no state beyond a Replays the caller owns, does not retry
// and does not log. The HTTP call and the classification of transport failures are package
// wire's.
//
// Like every package under sinks/, it must not import sync/… or sources/…: the interfaces it
// satisfies are declared by its consumers. It uses the standard library only.
package signedjson
