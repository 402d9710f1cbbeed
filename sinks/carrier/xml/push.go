package sfxml

import (
	"encoding/xml"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/shipsync/shipsync/sinks/carrier/wire"
)

// ErrBadSignature is wrapped by ParsePush when verifyCode is missing or does not verify: the
// request may not come from the carrier and must not be acted on.
var ErrBadSignature = errors.New("bad signature")

// ErrMalformed is wrapped by ParsePush when the request is not a readable RoutePushService
// push: not a form, a field missing or repeated, a document that is not a push, a push without
// routes, or a route without waybill, opCode or readable time.
var ErrMalformed = errors.New("malformed push")

// The form fields of a request and of a push. SF's own pushes name the document field content;
// ParsePush reads either name, once.
const (
	FieldXML        = "xml"
	FieldContent    = "content"
	FieldVerifyCode = "verifyCode"
)

// WaybillRoute is one route scan as RoutePushService pushes it. ID is unique per scan at the
// carrier; OpCode is SF's operation code (README.md, "opCodes"), kept as text because unknown
// codes must survive.
type WaybillRoute struct {
	ID            string `xml:"id,attr"`
	MailNo        string `xml:"mailno,attr"`
	OrderID       string `xml:"orderid,attr"`
	AcceptTime    string `xml:"acceptTime,attr"` // TimeLayout, Asia/Shanghai
	AcceptAddress string `xml:"acceptAddress,attr"`
	Remark        string `xml:"remark,attr"`
	OpCode        string `xml:"opCode,attr"`
}

// Time is the scan's AcceptTime read as Asia/Shanghai wall-clock time.
func (r WaybillRoute) Time() (time.Time, error) { return parseTime(r.AcceptTime) }

// Push is one RoutePushService push: the account's customer code (Head) and its scans, in the
// order sent. One push may carry several scans, of one or several waybills.
type Push struct {
	Head   string
	Routes []WaybillRoute
}

// ParsePush verifies and parses one push request body (application/x-www-form-urlencoded),
// exactly as received. Bodies over MaxDocumentBytes are refused unread; the caller limits what
// it reads (http.MaxBytesReader) too.
//
// The form is decoded exactly once. The document field (xml, or SF's name content: exactly one
// of them, once) and verifyCode (once) are required. verifyCode is verified over the document
// text as received, in constant time, before any XML is parsed, so that unauthenticated input
// never reaches the XML decoder. The document is then read strictly (see ParseRequest): the
// root must be <Request service="RoutePushService">, with at least one <WaybillRoute>, each
// with a mailno, an opCode and an acceptTime in TimeLayout. Unknown opCodes and attributes
// are kept: the caller maps codes and counts the ones it does not know.
//
// Errors wrap ErrBadSignature or ErrMalformed; their messages never contain the checkword.
func ParsePush(body []byte, checkword string) (Push, error) {
	if len(body) > MaxDocumentBytes {
		return Push{}, fmt.Errorf("parse push: %w: body of %d bytes exceeds %d", ErrMalformed, len(body), MaxDocumentBytes)
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return Push{}, fmt.Errorf("parse push: %w: form: %w", ErrMalformed, err)
	}
	doc, err := documentField(form)
	if err != nil {
		return Push{}, fmt.Errorf("parse push: %w: %w", ErrMalformed, err)
	}
	switch codes := form[FieldVerifyCode]; {
	case len(codes) == 0 || codes[0] == "":
		return Push{}, fmt.Errorf("parse push: %w: verifyCode missing", ErrBadSignature)
	case len(codes) > 1:
		return Push{}, fmt.Errorf("parse push: %w: verifyCode given %d times", ErrMalformed, len(codes))
	case !Verify(doc, checkword, codes[0]):
		return Push{}, fmt.Errorf("parse push: %w: verifyCode does not verify", ErrBadSignature)
	}

	req, err := ParseRequest([]byte(doc))
	if err != nil {
		return Push{}, fmt.Errorf("parse push: %w: %w", ErrMalformed, err)
	}
	if req.Service != ServiceRoutePush {
		return Push{}, fmt.Errorf("parse push: %w: service %q, want %s", ErrMalformed, wire.Clip(req.Service, 40), ServiceRoutePush)
	}
	if len(req.Body.Routes) == 0 {
		return Push{}, fmt.Errorf("parse push: %w: no WaybillRoute", ErrMalformed)
	}
	for i, r := range req.Body.Routes {
		switch {
		case strings.TrimSpace(r.MailNo) == "":
			return Push{}, fmt.Errorf("parse push: %w: WaybillRoute %d has no mailno", ErrMalformed, i)
		case strings.TrimSpace(r.OpCode) == "":
			return Push{}, fmt.Errorf("parse push: %w: WaybillRoute %d (%s) has no opCode", ErrMalformed, i, wire.Clip(r.MailNo, 40))
		}
		if _, err := r.Time(); err != nil {
			return Push{}, fmt.Errorf("parse push: %w: WaybillRoute %d (%s): acceptTime %q", ErrMalformed, i,
				wire.Clip(r.MailNo, 40), wire.Clip(r.AcceptTime, 40))
		}
	}
	return Push{Head: req.Head, Routes: req.Body.Routes}, nil
}

// documentField returns the only document of form, under xml or content.
func documentField(form url.Values) (string, error) {
	x, c := form[FieldXML], form[FieldContent]
	switch {
	case len(x)+len(c) == 0:
		return "", errors.New("xml missing")
	case len(x)+len(c) > 1:
		return "", fmt.Errorf("document given %d times (xml %d, content %d)", len(x)+len(c), len(x), len(c))
	case len(x) == 1:
		return x[0], nil
	default:
		return c[0], nil
	}
}

// EncodePush returns the form a carrier POSTs for routes: the RoutePushService document in
// xml (Head is the account's customer code) and its verifyCode under checkword. The caller
// sends it with url.Values.Encode, once.
func EncodePush(customerCode string, routes []WaybillRoute, checkword string) (url.Values, error) {
	doc, err := Request{Service: ServiceRoutePush, Lang: Lang, Head: customerCode,
		Body: RequestBody{Routes: routes}}.Encode()
	if err != nil {
		return nil, fmt.Errorf("encode push: %w", err)
	}
	return url.Values{FieldXML: {doc}, FieldVerifyCode: {Sign(doc, checkword)}}, nil
}

// PushReply returns the document SF expects in answer to a push, with HTTP 200:
//
//	<Response service="RoutePushService"><Head>OK</Head></Response>
//
// or, when ok is false, Head ERR with <ERROR code="4001">reason</ERROR>, which asks the
// carrier to push again later.
func PushReply(ok bool, reason string) []byte {
	r := Response{Service: ServiceRoutePush, Head: HeadOK}
	if !ok {
		r.Head, r.Error = HeadErr, &ErrorElement{Code: CodeSystem, Reason: reason}
	}
	b, err := xml.Marshal(r)
	if err != nil {
		panic(err) // unreachable: strings only
	}
	return b
}
