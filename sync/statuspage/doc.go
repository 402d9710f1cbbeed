// Package statuspage owns the operator's console on the admin listener: GET / (one
// self-contained HTML page with its script and style embedded in the binary, no external
// resources), GET /api/status (the overview the page polls every 2 s), the console's reads
// (api/series, api/stuck, api/orders/{ref}, api/search) and actions (POST only, refused without
// admin.token: the dead letter, waybill cancel and reissue, carrier pause), and the label
// documents. It owns the JSON shapes, the masking of personal data (MaskPhone, MaskName,
// MaskAddress), the signed label links, and the security headers.
//
// Masking happens here, in the handler, on every response: whatever the producer puts into
// OrderRow.Receiver, Phone and Address, only the masked form leaves the process. The producer
// (sync/pipeline) fills a Snapshot per request and logs its own errors; the handler answers 503
// without the error text, because the listener is shared with carrier pushes and may face the
// internet.
//
// The page marks every rendered value with a data-field attribute, so tests and scrapers can
// read it. The element holds the formatted value only (units sit outside it):
//
//	data-field                       JSON                    format
//	now                              now                     local time "2006-01-02 15:04:05"
//	ready                            ready                   "yes" or "no"
//	binlog_lag_seconds               binlog_lag_seconds      seconds, 1 decimal ("1.3")
//	checkpoint                       checkpoint              as is ("mysql-bin.000002:1234"), "–" if empty
//	checkpoint_age_seconds           checkpoint_age_seconds  seconds, 1 decimal
//	orders_per_minute                orders_per_minute       1 decimal
//	retry_queue                      retry_queue             integer
//	dead_letter                      dead_letter             integer
//	stale_parcels                    stale_parcels           integer
//	carrier-<name>-requests          carriers[].requests     integer
//	carrier-<name>-success           carriers[].success_rate percent, 1 decimal ("98.8" for 0.9876)
//	carrier-<name>-p50               carriers[].p50_seconds  milliseconds, integer ("42" for 0.0423)
//	carrier-<name>-p99               carriers[].p99_seconds  milliseconds, integer
//	latest-<i>-<field>               latest[i].<field>       as is, i from 0 (newest); <field> is
//	                                                         order_code, carrier, waybill, state,
//	                                                         status, receiver, phone, address;
//	                                                         updated_at as local time like now
//	latest-<i>-exception             latest[i].exception     the badge "exception", only when true
//	conn                             –                       "live", "offline" or "unavailable (503)"
//	                                                         ("sign in needed" while it asks for the token)
//	labels-unprinted                 labels.unprinted        integer
//	label-batch-<i>-id, -at, -count  labels.batches[i]       as is; local time like now; integer
//	order-<name>                     the order page's <name> (GET /api/orders/{ref}, on #/order/REF):
//	                                                         strings as is, "–" if empty; attempts and
//	                                                         reissues integer; pinned, status_exception
//	                                                         and in_dead_letter "yes" or "no"; children
//	                                                         joined with ", "; status_time, created_at,
//	                                                         updated_at and waybill_at local time like now
//
// The charts (svg[data-chart=shipped|lag|carriers|depth], from GET /api/series) carry data-points,
// the number of points drawn as a decimal; each drawn point (a bar or a dot) carries data-t (its
// step's start, the JSON's t as sent) and data-v (the value plotted, as JavaScript prints the
// number): shipped is shipped*60/step_seconds (orders per minute), lag lag_seconds and backlog,
// carriers each carrier's p50 and p99 in milliseconds and its success rate in percent (both
// rounded to 1 decimal, only in steps where it had requests), depth dead and retry.
//
// "1 decimal" is Math.round(x*10)/10 printed with one decimal (halves round up), which the
// browser test mirrors as math.Round(x*10)/10 in Go; percent is that applied to rate*100;
// milliseconds are Math.round(seconds*1000). A value that is not a finite number shows "–".
//
// It imports the standard library only, nothing from the module.
package statuspage
