// Package wire is the HTTP plumbing every carrier protocol under sinks/carrier shares: one
// tuned client (idle connections sized for hundreds of concurrent calls to one host, a timeout
// per request), the POST that knows whether the request was fully written, the bound on what
// is read back, and the Error that classifies a failed call for the caller. A protocol package
// (kdniao, signedjson, xml) builds and signs its bodies, hands them to Client.Post and reads
// its own result codes out of a 2xx answer; it never touches net/http's errors itself.
//
// The classification is the one DESIGN.md §2 ("Retry and dead letter") asks for:
//
//	connection refused, DNS, dial timeout, ctx done before sending   Transient  (nothing created)
//	HTTP 408, 429                                                    Transient  (nothing created)
//	timeout or reset after the request was written, HTTP 5xx,
//	an unreadable or oversized 2xx                                   Ambiguous  (may have created)
//	any other HTTP 4xx, a request that cannot be built               Permanent  (nothing created)
//
// A read-only call (a trace query) is never Ambiguous: it changes nothing at the carrier.
//
// It imports only the standard library and nothing of the module: like every package under
// sinks/, it must not import sync/… or sources/….
package wire
