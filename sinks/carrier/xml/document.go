package sfxml

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// The services of the API. SF serves them all on one endpoint, told apart by the root
// element's service attribute.
const (
	ServiceOrder       = "OrderService"       // create an order and its waybill
	ServiceOrderSearch = "OrderSearchService" // the result of an earlier OrderService, by orderid
	ServiceRoute       = "RouteService"       // the route scans of a waybill
	ServiceRoutePush   = "RoutePushService"   // route scans pushed by the carrier
)

// Heads of a Response: the call succeeded, or it failed with an ERROR element.
const (
	HeadOK  = "OK"
	HeadErr = "ERR"
)

// Lang is the lang attribute every request carries.
const Lang = "zh-CN"

// MaxDocumentBytes bounds every document this package reads (an answer, a push, a request at
// the simulator); longer ones are refused unread.
const MaxDocumentBytes = 1 << 20

// maxDepth bounds element nesting: SF's documents are four levels deep
// (Request/Body/Order/Cargo); anything deeper is not one of them.
const maxDepth = 8

// TimeLayout is how SF writes times (acceptTime, accept_time), as wall-clock time in
// Asia/Shanghai.
const TimeLayout = "2006-01-02 15:04:05"

// Shanghai is the time zone of SF's wall-clock times: China has had no daylight saving since
// 1991, so a fixed UTC+8 zone is exact and needs no tzdata on the host.
func Shanghai() *time.Location { return time.FixedZone("CST", 8*3600) }

// Number is a decimal attribute (weights, amounts) written in its shortest exact form: 1.5,
// 2, 0.25. NaN and infinities cannot be written.
type Number float64

// MarshalXMLAttr writes n as a decimal.
func (n Number) MarshalXMLAttr(name xml.Name) (xml.Attr, error) {
	v := float64(n)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return xml.Attr{}, fmt.Errorf("attribute %s: unsupported number %v", name.Local, v)
	}
	return xml.Attr{Name: name, Value: strconv.FormatFloat(v, 'f', -1, 64)}, nil
}

// Request is a request document: <Request service lang><Head>customer code</Head><Body>…</Body>.
// Body holds the one element its service takes. The simulator reads requests with the same
// type.
type Request struct {
	XMLName xml.Name    `xml:"Request"`
	Service string      `xml:"service,attr"`
	Lang    string      `xml:"lang,attr"`
	Head    string      `xml:"Head"`
	Body    RequestBody `xml:"Body"`
}

// RequestBody is the body of a Request; exactly one field is set, the one of its service.
type RequestBody struct {
	Order        *OrderRequest  `xml:"Order"`        // OrderService
	OrderSearch  *OrderSearch   `xml:"OrderSearch"`  // OrderSearchService
	RouteRequest *RouteRequest  `xml:"RouteRequest"` // RouteService
	Routes       []WaybillRoute `xml:"WaybillRoute"` // RoutePushService (carrier → shop)
}

// OrderRequest is the <Order> element of an OrderService request, attribute for attribute as
// SF names them: j_ the sender, d_ the receiver.
type OrderRequest struct {
	OrderID          string  `xml:"orderid,attr"`      // the shop's order number: the idempotency key
	ExpressType      int     `xml:"express_type,attr"` // the product; 1 standard express
	JCompany         string  `xml:"j_company,attr,omitempty"`
	JContact         string  `xml:"j_contact,attr"`
	JTel             string  `xml:"j_tel,attr"`
	JMobile          string  `xml:"j_mobile,attr,omitempty"`
	JProvince        string  `xml:"j_province,attr"`
	JCity            string  `xml:"j_city,attr"`
	JCounty          string  `xml:"j_county,attr"`
	JAddress         string  `xml:"j_address,attr"`
	DCompany         string  `xml:"d_company,attr,omitempty"`
	DContact         string  `xml:"d_contact,attr"`
	DTel             string  `xml:"d_tel,attr"`
	DMobile          string  `xml:"d_mobile,attr,omitempty"`
	DProvince        string  `xml:"d_province,attr"`
	DCity            string  `xml:"d_city,attr"`
	DCounty          string  `xml:"d_county,attr"`
	DAddress         string  `xml:"d_address,attr"`
	ParcelQuantity   int     `xml:"parcel_quantity,attr"`
	PayMethod        int     `xml:"pay_method,attr"`                   // 1 sender pays, 2 receiver pays, 3 third party
	CustID           string  `xml:"custid,attr,omitempty"`             // the monthly-settlement card
	CargoTotalWeight Number  `xml:"cargo_total_weight,attr,omitempty"` // kg
	Remark           string  `xml:"remark,attr,omitempty"`
	Cargo            []Cargo `xml:"Cargo"`
}

// Cargo is one <Cargo> line of an order.
type Cargo struct {
	Name   string `xml:"name,attr"`
	Count  int    `xml:"count,attr"`
	Weight Number `xml:"weight,attr,omitempty"` // kg, per piece
	Amount Number `xml:"amount,attr,omitempty"` // price, per piece
}

// OrderSearch is the body of an OrderSearchService request.
type OrderSearch struct {
	OrderID string `xml:"orderid,attr"`
}

// RouteRequest is the body of a RouteService request. TrackingType 1 asks by waybill number
// (mailno), 2 by orderid; MethodType 1 is the standard route list.
type RouteRequest struct {
	TrackingType   string `xml:"tracking_type,attr"`
	MethodType     string `xml:"method_type,attr"`
	TrackingNumber string `xml:"tracking_number,attr"`
}

// Encode returns r as the XML text to sign and send: no declaration, attributes escaped by
// encoding/xml (& < > " ' and control characters), UTF-8.
func (r Request) Encode() (string, error) {
	b, err := xml.Marshal(r)
	if err != nil {
		return "", fmt.Errorf("encode %s request: %w", r.Service, err)
	}
	return string(b), nil
}

// ParseRequest reads a request document strictly (see decode). The simulator reads requests
// with it and ParsePush reads pushes.
func ParseRequest(doc []byte) (Request, error) {
	var r Request
	if err := decode(doc, "Request", &r); err != nil {
		return Request{}, err
	}
	return r, nil
}

// Response is an answer document: <Response service><Head>OK|ERR</Head> and a Body, or an
// ERROR element when Head is ERR.
type Response struct {
	XMLName xml.Name      `xml:"Response"`
	Service string        `xml:"service,attr"`
	Head    string        `xml:"Head"`
	Error   *ErrorElement `xml:"ERROR,omitempty"`
	Body    *ResponseBody `xml:"Body,omitempty"`
}

// ErrorElement is <ERROR code="8016">reason</ERROR>.
type ErrorElement struct {
	Code   string `xml:"code,attr"`
	Reason string `xml:",chardata"`
}

// ResponseBody is the body of an OK Response.
type ResponseBody struct {
	// Orders answers OrderService and OrderSearchService (SF names the element OrderResponse
	// in both; some deployments answer a search with OrderSearchResponse, read as well).
	Orders   []OrderResponse `xml:"OrderResponse,omitempty"`
	Searches []OrderResponse `xml:"OrderSearchResponse,omitempty"`
	Routes   []RouteResponse `xml:"RouteResponse,omitempty"`
}

// OrderResponse is one created order. MailNo is the waybill number; for several parcels SF
// lists the master number first, then the children, comma-separated. FilterResult is SF's
// screening: 1 manual check pending, 2 deliverable, 3 not deliverable.
type OrderResponse struct {
	OrderID      string `xml:"orderid,attr"`
	MailNo       string `xml:"mailno,attr,omitempty"`
	OriginCode   string `xml:"origincode,attr,omitempty"`
	DestCode     string `xml:"destcode,attr,omitempty"`
	FilterResult string `xml:"filter_result,attr,omitempty"`
}

// Waybill returns the master waybill number of MailNo.
func (o OrderResponse) Waybill() string {
	first, _, _ := strings.Cut(o.MailNo, ",")
	return strings.TrimSpace(first)
}

// RouteResponse is the route list of one waybill, oldest scan first.
type RouteResponse struct {
	MailNo  string  `xml:"mailno,attr"`
	OrderID string  `xml:"orderid,attr,omitempty"`
	Routes  []Route `xml:"Route"`
}

// Route is one scan in a RouteService answer (SF's attribute names there are snake case,
// those of a push camel case).
type Route struct {
	AcceptTime    string `xml:"accept_time,attr"`
	AcceptAddress string `xml:"accept_address,attr"`
	Remark        string `xml:"remark,attr"`
	OpCode        string `xml:"opcode,attr"`
}

// Time is the scan's AcceptTime read as Asia/Shanghai wall-clock time.
func (r Route) Time() (time.Time, error) { return parseTime(r.AcceptTime) }

// Newest returns the scan with the latest AcceptTime (the last of equals), and false when no
// scan has a readable time. Routes come oldest first, but the newest is taken by time rather
// than by position, so that an answer sorted the other way is read the same.
func (r RouteResponse) Newest() (Route, time.Time, bool) {
	var best Route
	var at time.Time
	found := false
	for _, rt := range r.Routes {
		t, err := rt.Time()
		if err == nil && (!found || !t.Before(at)) {
			best, at, found = rt, t, true
		}
	}
	return best, at, found
}

// Encode returns r as XML text (the simulator answers with it).
func (r Response) Encode() ([]byte, error) {
	b, err := xml.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encode %s response: %w", r.Service, err)
	}
	return b, nil
}

// ParseResponse reads an answer document strictly (see decode).
func ParseResponse(doc []byte) (Response, error) {
	var r Response
	if err := decode(doc, "Response", &r); err != nil {
		return Response{}, err
	}
	return r, nil
}

func parseTime(s string) (time.Time, error) {
	return time.ParseInLocation(TimeLayout, strings.TrimSpace(s), Shanghai())
}

// errDocument is wrapped by every error decode returns.
var errDocument = errors.New("not a valid document")

// decode reads doc into v under a strict profile, in two passes. The first walks every token
// and refuses what SF never sends and an attacker might: a document over MaxDocumentBytes, a
// declared encoding other than UTF-8 (no CharsetReader is set, so encoding/xml refuses it),
// invalid UTF-8, any directive (<!DOCTYPE …>, hence no DTD and no external entity; encoding/xml
// expands only the five predefined entities and character references anyway), nesting deeper
// than maxDepth, a root element other than root, a second root, or text outside it. Only
// then does the second pass unmarshal.
func decode(doc []byte, root string, v any) error {
	if len(doc) > MaxDocumentBytes {
		return fmt.Errorf("%w: %d bytes exceed %d", errDocument, len(doc), MaxDocumentBytes)
	}
	d := xml.NewDecoder(bytes.NewReader(doc))
	depth, roots := 0, 0
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("%w: %w", errDocument, err)
		}
		switch t := tok.(type) {
		case xml.Directive:
			return fmt.Errorf("%w: directive <!%s> refused", errDocument, clipToken(t))
		case xml.StartElement:
			if depth == 0 {
				roots++
				if roots > 1 {
					return fmt.Errorf("%w: a second root element <%s>", errDocument, t.Name.Local)
				}
				if t.Name.Local != root || t.Name.Space != "" {
					return fmt.Errorf("%w: root element <%s>, want <%s>", errDocument, t.Name.Local, root)
				}
			}
			depth++
			if depth > maxDepth {
				return fmt.Errorf("%w: nested deeper than %d", errDocument, maxDepth)
			}
		case xml.EndElement:
			depth--
		case xml.CharData:
			if depth == 0 && len(bytes.TrimSpace(t)) > 0 {
				return fmt.Errorf("%w: text outside the root element", errDocument)
			}
		}
	}
	if roots == 0 {
		return fmt.Errorf("%w: no root element", errDocument)
	}
	if err := xml.Unmarshal(doc, v); err != nil {
		return fmt.Errorf("%w: %w", errDocument, err)
	}
	return nil
}

func clipToken(b []byte) string {
	s := string(b)
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return strings.ToValidUTF8(s, "")
}
