package sfxml

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/shipsync/shipsync/sinks/carrier/wire"
)

// SF's ERROR codes this package acts on (README.md, "Errors"). The first digit is SF's
// category: 4 system checks, 6 missing or invalid parameters, 8 business rules.
const (
	CodeSystem  = "4001" // 系统发生数据错误或运行时异常: a runtime error at the carrier
	CodeParse   = "4002" // 报文解析错误: the document could not be read
	CodeMissing = "6101" // 必填项为空: a required attribute is empty
	CodeRepeat  = "8016" // 重复下单: this orderid was ordered before
)

// ProductionURL is SF's BSP endpoint for every service. Endpoints are configuration; tests
// point at the simulator.
const ProductionURL = "https://bsp-oisp.sf-express.com/bsp-oisp/sfexpressService"

const formContentType = "application/x-www-form-urlencoded;charset=utf-8"

// Config is one account at an SF-style XML carrier.
type Config struct {
	URL            string // the one endpoint of every service, e.g. ProductionURL
	CustomerCode   string // 顾客编码, sent as every request's Head
	Checkword      string // 校验码, signs requests and verifies pushes; never logged
	MonthlyAccount string // custid, the monthly-settlement card; optional
	ExpressType    int    // the product, default 1 (standard express)
	PayMethod      int    // 1 sender pays (default), 2 receiver pays, 3 third party
	Timeout        time.Duration
}

// Client calls one account. It is safe for concurrent use.
type Client struct {
	cfg  Config
	wire *wire.Client
}

// New returns a client for cfg with defaults applied. It does not dial.
func New(cfg Config) *Client {
	if cfg.ExpressType == 0 {
		cfg.ExpressType = 1
	}
	if cfg.PayMethod == 0 {
		cfg.PayMethod = 1
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	return &Client{cfg: cfg, wire: wire.New(cfg.Timeout)}
}

// Error is a failed call, classified by package wire for transport outcomes and here for SF's
// answer (README.md, "Errors"). Its message never contains the checkword.
type Error = wire.Error

// Address is a sender or receiver. Tel or Mobile must be set.
type Address struct {
	Company, Contact, Tel, Mobile string
	Province, City, County        string
	Address                       string // the street address
}

// Order is what the caller knows about an order that needs a waybill. OrderID is the shop's
// order number: SF's idempotency key.
type Order struct {
	OrderID  string
	Sender   Address
	Receiver Address
	Cargo    []Cargo
	WeightKg float64 // total; 0 when unknown
	Parcels  int     // 0 means 1
	Remark   string
}

// Waybill is a created (or previously created) waybill.
type Waybill struct {
	MailNo     string // the master waybill number
	OriginCode string // SF's area codes, for the label
	DestCode   string
	Repeat     bool // the orderid had been ordered before (8016, then OrderSearchService)
}

// OrderRequest returns the OrderService document for o under this account.
func (c Config) OrderRequest(o Order) Request {
	parcels := o.Parcels
	if parcels <= 0 {
		parcels = 1
	}
	s, d := o.Sender, o.Receiver
	return Request{Service: ServiceOrder, Lang: Lang, Head: c.CustomerCode, Body: RequestBody{Order: &OrderRequest{
		OrderID: o.OrderID, ExpressType: c.ExpressType,
		JCompany: s.Company, JContact: s.Contact, JTel: cmp.Or(s.Tel, s.Mobile), JMobile: s.Mobile,
		JProvince: s.Province, JCity: s.City, JCounty: s.County, JAddress: s.Address,
		DCompany: d.Company, DContact: d.Contact, DTel: cmp.Or(d.Tel, d.Mobile), DMobile: d.Mobile,
		DProvince: d.Province, DCity: d.City, DCounty: d.County, DAddress: d.Address,
		ParcelQuantity: parcels, PayMethod: c.PayMethod, CustID: c.MonthlyAccount,
		CargoTotalWeight: Number(o.WeightKg), Remark: o.Remark, Cargo: o.Cargo,
	}}}
}

// SearchRequest returns the OrderSearchService document for orderID.
func (c Config) SearchRequest(orderID string) Request {
	return Request{Service: ServiceOrderSearch, Lang: Lang, Head: c.CustomerCode,
		Body: RequestBody{OrderSearch: &OrderSearch{OrderID: orderID}}}
}

// RouteRequest returns the RouteService document asking for the scans of waybill mailNo.
func (c Config) RouteRequest(mailNo string) Request {
	return Request{Service: ServiceRoute, Lang: Lang, Head: c.CustomerCode,
		Body: RequestBody{RouteRequest: &RouteRequest{TrackingType: "1", MethodType: "1", TrackingNumber: mailNo}}}
}

// Create orders a waybill for o (OrderService). It blocks until the carrier answers, the
// configured timeout passes or ctx is done. A repeated orderid is refused by SF with 8016;
// Create then asks OrderSearchService for the waybill made the first time and returns it with
// Repeat set, so that every create of one orderid returns the same waybill. Errors are *Error.
func (c *Client) Create(ctx context.Context, o Order) (Waybill, error) {
	op := "create waybill " + o.OrderID
	resp, err := c.call(ctx, wire.Request{Op: op}, c.cfg.OrderRequest(o))
	if err != nil {
		return Waybill{}, err
	}
	if resp.Head == HeadErr && resp.code() == CodeRepeat {
		w, err := c.search(ctx, o.OrderID)
		if err != nil {
			// The order exists at the carrier: whatever went wrong, failing over would make a
			// second waybill. Retry here; the next attempt gets 8016 again and searches again.
			return Waybill{}, &Error{Op: op, ResultCode: codeNumber(CodeRepeat), Reason: resp.reason(),
				Err: err, Class: wire.Ambiguous}
		}
		w.Repeat = true
		return w, nil
	}
	if resp.Head == HeadErr {
		return Waybill{}, resp.fail(op, false)
	}
	return orderWaybill(op, o.OrderID, resp)
}

// Search asks OrderSearchService for the result of an earlier create of orderID. Errors are
// *Error; a search changes nothing at the carrier, so none is MaybeCreated.
func (c *Client) Search(ctx context.Context, orderID string) (Waybill, error) {
	return c.search(ctx, orderID)
}

func (c *Client) search(ctx context.Context, orderID string) (Waybill, error) {
	op := "search order " + orderID
	resp, err := c.call(ctx, wire.Request{Op: op, ReadOnly: true}, c.cfg.SearchRequest(orderID))
	if err != nil {
		return Waybill{}, err
	}
	if resp.Head == HeadErr {
		return Waybill{}, resp.fail(op, true)
	}
	w, err := orderWaybill(op, orderID, resp)
	if e, ok := errors.AsType[*Error](err); ok && e.Class == wire.Ambiguous {
		e.Class = wire.Transient
	}
	return w, err
}

// orderWaybill reads the waybill of orderID out of an OK answer.
func orderWaybill(op, orderID string, a answer) (Waybill, error) {
	// Every failure here follows an OK answer: the carrier may well have made the waybill.
	fail := func(err error) (Waybill, error) {
		return Waybill{}, &Error{Op: op, HTTPStatus: a.status, Err: err, Class: wire.Ambiguous}
	}
	orders := a.orders()
	if len(orders) != 1 {
		return fail(fmt.Errorf("answer has %d OrderResponse elements, want 1", len(orders)))
	}
	or := orders[0]
	if or.OrderID != "" && or.OrderID != orderID {
		// An answer to another request, misrouted: its waybill is not ours.
		return fail(fmt.Errorf("answer is for order %q", wire.Clip(or.OrderID, 64)))
	}
	if or.Waybill() == "" {
		if or.FilterResult == "3" {
			// Screened out: SF does not deliver there, and will not on retry.
			return Waybill{}, &Error{Op: op, HTTPStatus: a.status, Reason: "filter_result 3: not deliverable",
				Class: wire.Permanent}
		}
		// filter_result 1 (manual check) answers without a number; a retry gets 8016 and
		// searches for it.
		return fail(fmt.Errorf("answer without mailno (filter_result %q)", wire.Clip(or.FilterResult, 8)))
	}
	return Waybill{MailNo: or.Waybill(), OriginCode: or.OriginCode, DestCode: or.DestCode}, nil
}

// Track asks RouteService for the scans of waybill mailNo and returns them as the carrier has
// them now (an unknown waybill, or one without scans yet, has none). It blocks until the
// carrier answers, the configured timeout passes or ctx is done. Errors are *Error; a query
// changes nothing at the carrier, so none is MaybeCreated.
func (c *Client) Track(ctx context.Context, mailNo string) (RouteResponse, error) {
	op := "track waybill " + mailNo
	resp, err := c.call(ctx, wire.Request{Op: op, ReadOnly: true}, c.cfg.RouteRequest(mailNo))
	if err != nil {
		return RouteResponse{}, err
	}
	if resp.Head == HeadErr {
		return RouteResponse{}, resp.fail(op, true)
	}
	if resp.Body != nil {
		for _, r := range resp.Body.Routes {
			if r.MailNo == mailNo || r.MailNo == "" {
				r.MailNo = mailNo
				return r, nil
			}
		}
	}
	return RouteResponse{MailNo: mailNo}, nil
}

// answer is a Response that call has checked: Head is OK or ERR, and its service is the
// request's.
type answer struct {
	Response
	status int
}

// call signs and posts req and reads the answer. Transport failures are wire's; an answer
// that is not a Response to req's service is Ambiguous (Transient when r is ReadOnly): it
// followed a 2xx and may hide a created waybill.
func (c *Client) call(ctx context.Context, r wire.Request, req Request) (answer, error) {
	doc, err := req.Encode()
	if err != nil {
		return answer{}, &Error{Op: r.Op, Err: err, Class: wire.Permanent}
	}
	form := url.Values{FieldXML: {doc}, FieldVerifyCode: {Sign(doc, c.cfg.Checkword)}}
	// Encoded exactly once: the signed document must arrive as it was signed.
	r.URL, r.ContentType, r.Body = c.cfg.URL, formContentType, []byte(form.Encode())
	resp, err := c.wire.Post(ctx, r)
	if err != nil {
		return answer{}, err
	}
	garbled := func(err error) (answer, error) {
		class := wire.Ambiguous
		if r.ReadOnly {
			class = wire.Transient
		}
		return answer{}, &Error{Op: r.Op, HTTPStatus: resp.Status, Err: err, Class: class}
	}
	res, err := ParseResponse(resp.Body)
	if err != nil {
		return garbled(fmt.Errorf("decode response: %w", err))
	}
	head := strings.TrimSpace(res.Head)
	switch {
	case res.Service != "" && res.Service != req.Service:
		return garbled(fmt.Errorf("answer for service %q", wire.Clip(res.Service, 40)))
	case head != HeadOK && head != HeadErr:
		return garbled(fmt.Errorf("answer with Head %q", wire.Clip(head, 40)))
	}
	res.Head = head
	return answer{Response: res, status: resp.Status}, nil
}

func (a answer) code() string {
	if a.Error == nil {
		return ""
	}
	return strings.TrimSpace(a.Error.Code)
}

func (a answer) reason() string {
	if a.Error == nil {
		return ""
	}
	return wire.Snippet([]byte(a.Error.Reason))
}

func (a answer) orders() []OrderResponse {
	if a.Body == nil {
		return nil
	}
	return append(append([]OrderResponse(nil), a.Body.Orders...), a.Body.Searches...)
}

// fail classifies an ERR answer (README.md, "Errors"): 4002 and the 6 and 8 categories are
// explicit rejections (Permanent); 4001, SF's runtime error, may follow a created order
// (Ambiguous, Transient for a query); anything else is a refusal worth retrying (Transient).
func (a answer) fail(op string, readOnly bool) error {
	code := a.code()
	e := &Error{Op: op, HTTPStatus: a.status, ResultCode: codeNumber(code), Reason: a.reason()}
	if e.ResultCode == 0 && code != "" {
		e.Reason = strings.TrimSpace("code " + wire.Clip(code, 16) + ": " + e.Reason)
	}
	switch {
	case code == CodeParse, strings.HasPrefix(code, "6"), strings.HasPrefix(code, "8"):
		e.Class = wire.Permanent
	case code == CodeSystem && !readOnly:
		e.Class = wire.Ambiguous
	default:
		e.Class = wire.Transient
	}
	return e
}

// codeNumber returns code as a number, 0 when it is not one.
func codeNumber(code string) int {
	n, err := strconv.Atoi(code)
	if err != nil || n < 0 {
		return 0
	}
	return n
}
