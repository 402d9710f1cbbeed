// Package sfxml speaks the carrier type `xml`: an XML-over-HTTP API modelled on SF Express's
// (顺丰) BSP / 丰桥 interface. Requests are one XML document posted as the form fields xml and
// verifyCode, verifyCode = Base64(MD5(xml + checkword)); every service (OrderService,
// OrderSearchService, RouteService) shares one endpoint; the carrier pushes route scans back
// with RoutePushService. Protocol facts, what differs from SF, the opCode table and the error
// table are in README.md beside this file.
//
// The folder is sinks/carrier/xml (the type's name, as in the config), the package is sfxml:
// a package named xml would shadow encoding/xml in every file that uses both.
//
// It owns signing and verification (Sign, Verify), the documents (Request, Response and their
// elements), the create call with SF's idempotency rule (a repeated orderid is refused with
// 8016, and Create then fetches the existing waybill with OrderSearchService, so a repeat
// still returns the same waybill, marked Repeat), the route query (Track), and the pushes
// (ParsePush verifies and reads one, PushReply is the answer, EncodePush builds one for the
// simulator and tests). Every document is size-limited and parsed with encoding/xml under a
// strict profile: UTF-8 only, no DTD or other directive, one root element, bounded depth, so
// no external entity can ever be fetched or expanded.
//
// It keeps no state, does not retry and does not log. The HTTP call and the classification of
// transport failures are package wire's; a failed call returns an *Error (wire.Error) whose
// Permanent and MaybeCreated methods let the caller decide between retrying the same carrier,
// failing over, or dead-lettering; a rejected push wraps ErrBadSignature or ErrMalformed.
// Mapping opCodes to the canonical status model belongs to the caller.
//
// Like every package under sinks/, it must not import sync/… or sources/…. It uses the standard
// library and package wire only.
package sfxml
