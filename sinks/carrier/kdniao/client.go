package kdniao

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/shipsync/shipsync/sinks/carrier/wire"
)

const (
	requestTypeCreate = "1007"
	dataTypeJSON      = "2"
	formContentType   = "application/x-www-form-urlencoded;charset=utf-8"

	resultCreated = 100
	resultRepeat  = 106
)

// Kdniao's production endpoints. Endpoints are configuration; these are what a configuration
// that names the production create endpoint means for the others.
const (
	ProductionURL      = "https://api.kdniao.com/api/EOrderService"                   // 1007 create, 1147 cancel
	ProductionTrackURL = "https://api.kdniao.com/Ebusiness/EbusinessOrderHandle.aspx" // 1002 instant query
)

// Config is one Kdniao account.
type Config struct {
	URL string // create endpoint, e.g. ProductionURL
	// TrackURL is the 1002 query endpoint, e.g. ProductionTrackURL. Kdniao answers 1002 only
	// there, never on the create endpoint, so Track needs it.
	TrackURL    string
	EBusinessID string
	AppKey      string
	ShipperCode string
	PayType     int           // default 1 (sender pays)
	ExpType     int           // default 1 (standard)
	Timeout     time.Duration // whole request, default 5s
}

// Client calls one Kdniao account. It is safe for concurrent use.
type Client struct {
	cfg  Config
	wire *wire.Client
}

// New returns a client for cfg with defaults applied. It does not dial.
func New(cfg Config) *Client {
	if cfg.PayType == 0 {
		cfg.PayType = 1
	}
	if cfg.ExpType == 0 {
		cfg.ExpType = 1
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	return &Client{cfg: cfg, wire: wire.New(cfg.Timeout)}
}

// Waybill is a created (or previously created) waybill.
type Waybill struct {
	LogisticCode string    // the waybill / tracking number
	ShipperCode  string    // courier code
	PickupTime   time.Time // zero when the carrier gave none
	Repeat       bool      // ResultCode 106: the OrderCode had been created before
	// Children are the child waybills of a create with Quantity > 1 (SubOrders), in order.
	Children []string
	// Label is the parent's print template (PrintTemplate) and ChildLabels each child's
	// (SubPrintTemplates), when the create asked for them; HTML documents.
	Label       string
	ChildLabels []string
}

// Create asks for a waybill for o (RequestType 1007). It blocks until the carrier answers, the
// configured timeout passes or ctx is done. Errors are *Error.
func (c *Client) Create(ctx context.Context, o Order) (Waybill, error) {
	op := "create waybill " + o.OrderCode
	data, err := NewCreateRequest(o, c.cfg.ShipperCode, c.cfg.PayType, c.cfg.ExpType).Encode()
	if err != nil {
		return Waybill{}, &Error{Op: op, Err: err, Class: wire.Permanent}
	}
	resp, err := c.post(ctx, wire.Request{Op: op, URL: c.cfg.URL}, requestTypeCreate, data)
	if err != nil {
		return Waybill{}, err
	}
	return c.parseCreate(op, resp.Status, resp.Body)
}

// post sends data as the signed form of requestType, the body of r, and returns the 2xx answer;
// wire classifies every other outcome.
func (c *Client) post(ctx context.Context, r wire.Request, requestType, data string) (wire.Response, error) {
	form := url.Values{
		"RequestData": {data},
		"EBusinessID": {c.cfg.EBusinessID},
		"RequestType": {requestType},
		"DataSign":    {Sign(data, c.cfg.AppKey)},
		"DataType":    {dataTypeJSON},
	}
	// Encoded exactly once: the signed RequestData must arrive as it was signed.
	r.ContentType, r.Body = formContentType, []byte(form.Encode())
	return c.wire.Post(ctx, r)
}

// createResponse is Kdniao's answer to 1007. PickupTime is the simulator's extension.
type createResponse struct {
	EBusinessID          string     `json:"EBusinessID"`
	Success              bool       `json:"Success"`
	ResultCode           resultCode `json:"ResultCode"`
	Reason               string     `json:"Reason"`
	UniquerRequestNumber string     `json:"UniquerRequestNumber"`
	Order                struct {
		OrderCode    string `json:"OrderCode"`
		ShipperCode  string `json:"ShipperCode"`
		LogisticCode string `json:"LogisticCode"`
	} `json:"Order"`
	PickupTime string `json:"PickupTime"`
	// Labels and parcels (IsReturnPrintTemplate=1, Quantity > 1). SubPrintTemplates is a
	// list in some answers and one string of documents in others: both are read.
	PrintTemplate     string       `json:"PrintTemplate"`
	SubCount          resultCode   `json:"SubCount"`
	SubOrders         string       `json:"SubOrders"`
	SubPrintTemplates subTemplates `json:"SubPrintTemplates"`
}

// subTemplates accepts SubPrintTemplates as a JSON list of documents or as one string
// holding them one after another.
type subTemplates []string

func (t *subTemplates) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '[' {
		var l []string
		if err := json.Unmarshal(b, &l); err != nil {
			return err
		}
		*t = l
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*t = splitDocuments(s)
	return nil
}

// splitDocuments cuts a string of HTML documents after each "</html>" that ends one.
func splitDocuments(s string) []string {
	var out []string
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimSpace(s) {
		end := strings.Index(strings.ToLower(s), "</html>")
		if end < 0 {
			out = append(out, s)
			break
		}
		out = append(out, s[:end+len("</html>")])
		s = s[end+len("</html>"):]
	}
	return out
}

func (c *Client) parseCreate(op string, status int, body []byte) (Waybill, error) {
	var r createResponse
	if err := json.Unmarshal(body, &r); err != nil {
		// A 200 we cannot read may well carry a created waybill.
		return Waybill{}, &Error{Op: op, HTTPStatus: status, Err: fmt.Errorf("decode response: %w", err),
			Class: wire.Ambiguous}
	}
	code := int(r.ResultCode)
	fail := &Error{Op: op, HTTPStatus: status, ResultCode: code, Reason: r.Reason}
	switch {
	case code == resultRepeat || (code == resultCreated && r.Success):
		// 106 is taken as success whatever Success says: the waybill exists.
		if r.Order.LogisticCode == "" {
			fail.Err = errors.New("success without LogisticCode")
			fail.Class = wire.Ambiguous
			return Waybill{}, fail
		}
		w := Waybill{LogisticCode: r.Order.LogisticCode, ShipperCode: r.Order.ShipperCode, Repeat: code == resultRepeat,
			Label: r.PrintTemplate, ChildLabels: r.SubPrintTemplates}
		for n := range strings.SplitSeq(r.SubOrders, ",") {
			if n = strings.TrimSpace(n); n != "" && n != w.LogisticCode {
				w.Children = append(w.Children, n)
			}
		}
		if w.ShipperCode == "" {
			w.ShipperCode = c.cfg.ShipperCode
		}
		if r.PickupTime != "" {
			// Optional and informative only: an unreadable time must not lose a created waybill.
			if t, err := time.ParseInLocation(TimeLayout, r.PickupTime, Shanghai()); err == nil {
				w.PickupTime = t
			}
		}
		return w, nil
	case code >= 101 && code <= 104:
		fail.Class = wire.Permanent
		return Waybill{}, fail
	case r.Success:
		// Success with a code we do not know: something may exist; a retry will tell (106).
		fail.Err = errors.New("unexpected result code with success")
		fail.Class = wire.Ambiguous
		return Waybill{}, fail
	default:
		// 105 and unknown codes: an explicit refusal, worth retrying.
		return Waybill{}, fail
	}
}

// resultCode accepts ResultCode as a JSON string ("100", as Kdniao sends it) or a number.
type resultCode int

func (rc *resultCode) UnmarshalJSON(b []byte) error {
	s := string(b)
	if s == "null" {
		*rc = 0
		return nil
	}
	if strings.HasPrefix(s, `"`) {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		s = strings.TrimSpace(s)
		if s == "" {
			*rc = 0
			return nil
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("result code %s: %w", b, err)
	}
	*rc = resultCode(n)
	return nil
}
