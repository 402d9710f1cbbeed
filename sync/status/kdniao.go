package status

import "strings"

// FromKdniao maps a Kdniao State and StateEx (as received, StateEx may be "") to an Event
// skeleton: Status, Exception, Reason and Code are set, Time is left zero for the caller (the
// newest trace's AcceptTime).
//
// StateEx is the detail and wins when it is a known code; an unknown StateEx falls back to State,
// so a new detail code under a known State still maps by its State (and known is true: the
// caller can still log ev.Code). When neither is known the event maps to InTransit with known
// false: Kdniao adds codes over time, and "something happened in transit" is the safe reading,
// never a regression (Decide ignores it once the parcel is further along). The caller must count
// such events so that a new code gets noticed and mapped.
//
// Codes are compared as exact strings after trimming spaces: "02" or "2.0" are not "2". Exception
// codes (4, 401-403, 405, 413) give an event with an empty Status, Exception set and Reason
// "<code> <short English description>", e.g. "402 not signed in time". Refusal (404) and
// return-not-signed (407) are Returning, not exceptions: they are progress of their own.
func FromKdniao(state, stateEx string) (ev Event, known bool) {
	state, stateEx = strings.TrimSpace(state), strings.TrimSpace(stateEx)
	code := state
	if stateEx != "" {
		code = state + "/" + stateEx
	}
	ev, known = kdniaoCode(stateEx)
	if !known {
		ev, known = kdniaoCode(state)
	}
	if !known {
		ev = Event{Status: InTransit}
	}
	ev.Code = code
	return ev, known
}

// kdniaoCode maps one code of the kdniao.md table. State and StateEx share one table: the
// single-digit StateEx values repeat the State ones with the same meaning.
func kdniaoCode(c string) (Event, bool) {
	switch c {
	case "0", "10":
		return Event{Status: Created}, true
	case "1":
		return Event{Status: PickedUp}, true
	case "2", "201", "204", "205", "206":
		return Event{Status: InTransit}, true
	case "202":
		return Event{Status: OutForDelivery}, true
	case "211", "412":
		return Event{Status: ReadyForPickup}, true
	case "3", "301", "302", "304", "311":
		return Event{Status: Delivered}, true
	case "404", "407":
		return Event{Status: Returning}, true
	case "406":
		return Event{Status: Returned}, true
	case "415":
		return Event{Status: Cancelled}, true
	}
	if r := kdniaoProblem(c); r != "" {
		return Event{Exception: true, Reason: c + " " + r}, true
	}
	return Event{}, false
}

// kdniaoProblem describes a Kdniao problem code, or returns "" for any other code.
func kdniaoProblem(c string) string {
	switch c {
	case "4":
		return "problem"
	case "401":
		return "no trace after shipping"
	case "402":
		return "not signed in time"
	case "403":
		return "no update in time"
	case "405":
		return "delivery exception"
	case "413":
		return "intercepted"
	}
	return ""
}
