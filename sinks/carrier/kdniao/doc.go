// Package kdniao speaks the Kdniao (快递鸟) carrier protocol: DataSign signing and
// verification, the 1007 create-waybill and 1002 instant-query calls and the classification of
// their failures, and the 101 trace pushes the carrier sends back (ParsePush verifies and reads
// one, PushReply is the answer, EncodePush builds one for the simulator and tests). Protocol
// facts and the error table are in README.md beside this file.
//
// It keeps no state, does not retry and does not log. The HTTP call, its transport and the
// classification of transport failures are package wire's; a failed call returns an *Error
// (wire.Error) whose Permanent and MaybeCreated methods let the caller (sync/…) decide between retrying the same
// carrier, failing over, or dead-lettering; a rejected push wraps ErrBadSignature or
// ErrMalformed. Mapping State/StateEx to the canonical status model, deduplication and
// ordering of pushes belong to the caller.
//
// Like every package under sinks/, it must not import sync/… or sources/…: the interfaces it
// satisfies are declared by its consumers.
package kdniao
