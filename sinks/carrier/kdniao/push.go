package kdniao

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/shipsync/shipsync/sinks/carrier/wire"
)

const requestTypePush = "101"

// ErrBadSignature is wrapped by ParsePush when DataSign is missing or does not verify: the
// request may not come from the carrier and must not be acted on.
var ErrBadSignature = errors.New("bad signature")

// ErrMalformed is wrapped by ParsePush when the request is not a readable 101 push: not a form,
// a field missing or repeated, another RequestType, RequestData that is not the JSON a push
// carries, or a push without waybills.
var ErrMalformed = errors.New("malformed push")

// TracePush is a 101 trace push as Kdniao sends it. One push may carry several waybills in Data;
// each carries all of its traces so far, oldest first.
type TracePush struct {
	EBusinessID string  `json:"EBusinessID"`
	PushTime    string  `json:"PushTime"` // TimeLayout, Asia/Shanghai
	Count       string  `json:"Count"`    // number of Data items, as Kdniao writes it
	Data        []Trace `json:"Data"`
}

// Trace is the state of one waybill: an item of a push, or the answer to a 1002 query.
// State and StateEx are Kdniao's codes (kdniao.md "State / StateEx"), kept as text because
// carriers send them as strings or numbers and unknown codes must survive.
type Trace struct {
	EBusinessID  string       `json:"EBusinessID"`
	OrderCode    string       `json:"OrderCode"`
	ShipperCode  string       `json:"ShipperCode"`
	LogisticCode string       `json:"LogisticCode"`
	Success      bool         `json:"Success"`
	Reason       string       `json:"Reason,omitempty"`
	State        string       `json:"State"`
	StateEx      string       `json:"StateEx,omitempty"`
	Location     string       `json:"Location,omitempty"`
	Traces       []TraceEvent `json:"Traces"`
}

// TraceEvent is one scan of a waybill. Action is the event's StateEx-style code.
type TraceEvent struct {
	AcceptTime    string `json:"AcceptTime"` // TimeLayout, Asia/Shanghai
	AcceptStation string `json:"AcceptStation"`
	Location      string `json:"Location,omitempty"`
	Action        string `json:"Action,omitempty"`
	Remark        string `json:"Remark,omitempty"`
}

// Newest returns the AcceptTime of the newest trace, read as Asia/Shanghai wall-clock time, or
// the zero time when no trace has a readable AcceptTime. Traces come oldest first, but the
// newest is taken as the latest time rather than the last item, so that a carrier that sorts
// newest first (1002 accepts Sort=1) is read the same.
func (t Trace) Newest() time.Time {
	var newest time.Time
	loc := Shanghai()
	for _, e := range t.Traces {
		at, err := time.ParseInLocation(TimeLayout, strings.TrimSpace(e.AcceptTime), loc)
		if err == nil && at.After(newest) {
			newest = at
		}
	}
	return newest
}

// ParsePush verifies and parses one 101 push request body (application/x-www-form-urlencoded),
// exactly as received. The caller limits the body size (http.MaxBytesReader) before reading it.
//
// The form is decoded exactly once: a body URL-encoded twice is not decoded again, because the
// bytes that were signed are then unknown (see README.md). RequestType must be 101 and
// RequestData and DataSign must each appear once. DataSign is verified over RequestData as
// received, in constant time, before any JSON is parsed, so that unauthenticated input never
// reaches the JSON decoder. RequestData is then parsed strictly where it matters and tolerantly
// where real carriers vary: unknown fields are ignored and Count, State, StateEx (and the other
// codes) may be JSON strings or numbers, but Data must hold at least one waybill and each must
// have a LogisticCode and a State.
//
// Errors wrap ErrBadSignature or ErrMalformed; their messages never contain the app key.
func ParsePush(body []byte, appKey string) (TracePush, error) {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return TracePush{}, fmt.Errorf("parse push: %w: form: %w", ErrMalformed, err)
	}
	requestType, err := formField(form, "RequestType")
	if err != nil {
		return TracePush{}, fmt.Errorf("parse push: %w: %w", ErrMalformed, err)
	}
	if requestType != requestTypePush {
		return TracePush{}, fmt.Errorf("parse push: %w: RequestType %q, want %s", ErrMalformed,
			wire.Snippet([]byte(requestType)), requestTypePush)
	}
	data, err := formField(form, "RequestData")
	if err != nil {
		return TracePush{}, fmt.Errorf("parse push: %w: %w", ErrMalformed, err)
	}
	switch signs := form["DataSign"]; {
	case len(signs) == 0 || signs[0] == "":
		return TracePush{}, fmt.Errorf("parse push: %w: DataSign missing", ErrBadSignature)
	case len(signs) > 1:
		return TracePush{}, fmt.Errorf("parse push: %w: DataSign given %d times", ErrMalformed, len(signs))
	case !Verify(data, appKey, signs[0]):
		return TracePush{}, fmt.Errorf("parse push: %w: DataSign does not verify", ErrBadSignature)
	}

	var w wirePush
	if err := json.Unmarshal([]byte(data), &w); err != nil {
		return TracePush{}, fmt.Errorf("parse push: %w: RequestData: %w", ErrMalformed, err)
	}
	if len(w.Data) == 0 {
		return TracePush{}, fmt.Errorf("parse push: %w: RequestData has no Data", ErrMalformed)
	}
	p := TracePush{EBusinessID: string(w.EBusinessID), PushTime: string(w.PushTime), Count: string(w.Count),
		Data: make([]Trace, len(w.Data))}
	for i, wt := range w.Data {
		t := wt.trace()
		switch {
		case strings.TrimSpace(t.LogisticCode) == "":
			return TracePush{}, fmt.Errorf("parse push: %w: Data[%d] has no LogisticCode", ErrMalformed, i)
		case strings.TrimSpace(t.State) == "":
			return TracePush{}, fmt.Errorf("parse push: %w: Data[%d] (%s) has no State", ErrMalformed, i,
				wire.Snippet([]byte(t.LogisticCode)))
		}
		p.Data[i] = t
	}
	return p, nil
}

// formField returns the only value of key in form.
func formField(form url.Values, key string) (string, error) {
	switch v := form[key]; len(v) {
	case 0:
		return "", fmt.Errorf("%s missing", key)
	case 1:
		return v[0], nil
	default:
		return "", fmt.Errorf("%s given %d times", key, len(v))
	}
}

// EncodePush returns the form a carrier POSTs for p: RequestType 101, RequestData (compact JSON,
// UTF-8 and & < > left unescaped), DataSign under appKey and, when p has one, EBusinessID.
// An empty Count is filled with len(p.Data). The caller sends it with url.Values.Encode, once.
func EncodePush(p TracePush, appKey string) (url.Values, error) {
	if p.Count == "" {
		p.Count = strconv.Itoa(len(p.Data))
	}
	data, err := encodeJSON(p)
	if err != nil {
		return nil, fmt.Errorf("encode push: %w", err)
	}
	form := url.Values{
		"RequestType": {requestTypePush},
		"RequestData": {data},
		"DataSign":    {Sign(data, appKey)},
	}
	if p.EBusinessID != "" {
		form.Set("EBusinessID", p.EBusinessID)
	}
	return form, nil
}

// PushReply returns the exact body Kdniao expects in answer to a push, with UpdateTime = now in
// Asia/Shanghai:
//
//	{"EBusinessID":"1237100","UpdateTime":"2024-05-02 10:00:00","Success":true,"Reason":""}
//
// Success false (with a reason) asks the carrier to push again later.
func PushReply(ebusinessID string, success bool, reason string, now time.Time) []byte {
	r := struct {
		EBusinessID string `json:"EBusinessID"`
		UpdateTime  string `json:"UpdateTime"`
		Success     bool   `json:"Success"`
		Reason      string `json:"Reason"`
	}{ebusinessID, now.In(Shanghai()).Format(TimeLayout), success, reason}
	s, err := encodeJSON(r)
	if err != nil {
		panic(err) // unreachable: strings and a bool always encode
	}
	return []byte(s)
}

// encodeJSON returns v as compact JSON without HTML escaping and without a trailing newline.
func encodeJSON(v any) (string, error) {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

// wirePush, wireTrace and wireEvent are what is accepted on the way in: text fields may arrive
// as JSON strings or numbers.
type wirePush struct {
	EBusinessID flexString  `json:"EBusinessID"`
	PushTime    flexString  `json:"PushTime"`
	Count       flexString  `json:"Count"`
	Data        []wireTrace `json:"Data"`
}

type wireTrace struct {
	EBusinessID  flexString  `json:"EBusinessID"`
	OrderCode    flexString  `json:"OrderCode"`
	ShipperCode  flexString  `json:"ShipperCode"`
	LogisticCode flexString  `json:"LogisticCode"`
	Success      bool        `json:"Success"`
	Reason       flexString  `json:"Reason"`
	State        flexString  `json:"State"`
	StateEx      flexString  `json:"StateEx"`
	Location     flexString  `json:"Location"`
	Traces       []wireEvent `json:"Traces"`
}

type wireEvent struct {
	AcceptTime    flexString `json:"AcceptTime"`
	AcceptStation flexString `json:"AcceptStation"`
	Location      flexString `json:"Location"`
	Action        flexString `json:"Action"`
	Remark        flexString `json:"Remark"`
}

func (w wireTrace) trace() Trace {
	t := Trace{
		EBusinessID:  string(w.EBusinessID),
		OrderCode:    string(w.OrderCode),
		ShipperCode:  string(w.ShipperCode),
		LogisticCode: string(w.LogisticCode),
		Success:      w.Success,
		Reason:       string(w.Reason),
		State:        string(w.State),
		StateEx:      string(w.StateEx),
		Location:     string(w.Location),
	}
	if w.Traces != nil {
		t.Traces = make([]TraceEvent, len(w.Traces))
		for i, e := range w.Traces {
			t.Traces[i] = TraceEvent{AcceptTime: string(e.AcceptTime), AcceptStation: string(e.AcceptStation),
				Location: string(e.Location), Action: string(e.Action), Remark: string(e.Remark)}
		}
	}
	return t
}

// flexString is text that a carrier may send as a JSON string or number ("2" or 2); null is "".
// A number keeps its literal text.
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	switch {
	case len(b) == 0:
		return errors.New("empty value")
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
	case bytes.Equal(b, []byte("null")):
		*f = ""
	case b[0] == '-' || (b[0] >= '0' && b[0] <= '9'):
		*f = flexString(b) // the decoder has already checked it is a valid number
	default:
		return fmt.Errorf("want a string or a number, got %s", wire.Snippet(b))
	}
	return nil
}
