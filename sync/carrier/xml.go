package carrier

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	sfxml "github.com/shipsync/shipsync/sinks/carrier/xml"
	"github.com/shipsync/shipsync/sources/webhook"
	"github.com/shipsync/shipsync/sync/config"
	"github.com/shipsync/shipsync/sync/status"
)

// xmlCarrier adapts the xml carrier type (an SF Express BSP style API, sinks/carrier/xml) to
// Carrier, webhook.Decoder and Tracker. It is self-contained: the client, its config mapping,
// the push format and the opCode table.
type xmlCarrier struct {
	c         *sfxml.Client
	checkword string
}

var (
	_ Client          = xmlCarrier{}
	_ webhook.Decoder = xmlCarrier{}
	_ Tracker         = xmlCarrier{}
)

// newXMLCarrier builds the client of a `type: xml` carrier: url is SF's one endpoint for every
// service; the account is the typed xml section.
func newXMLCarrier(c config.Carrier) xmlCarrier {
	return xmlCarrier{
		c: sfxml.New(sfxml.Config{URL: c.URL, CustomerCode: c.XML.CustomerCode, Checkword: c.XML.Checkword,
			MonthlyAccount: c.XML.MonthlyAccount, ExpressType: c.XML.ExpressType, PayMethod: c.XML.PayMethod,
			Timeout: c.Timeout}),
		checkword: c.XML.Checkword,
	}
}

// Create orders the waybill (OrderService); a repeated order code is answered with the first
// waybill (8016, then OrderSearchService), marked Repeat.
func (x xmlCarrier) Create(ctx context.Context, s Shipment) (Waybill, error) {
	o := sfxml.Order{OrderID: s.OrderCode, Sender: xmlAddress(s.Sender), Receiver: xmlAddress(s.Receiver),
		WeightKg: s.WeightKg, Remark: s.Remark}
	for _, it := range s.Items {
		o.Cargo = append(o.Cargo, sfxml.Cargo{Name: it.Name, Count: it.Quantity, Weight: sfxml.Number(it.WeightKg),
			Amount: sfxml.Number(it.Price)})
	}
	w, err := x.c.Create(ctx, o)
	if err != nil {
		return Waybill{}, err
	}
	return Waybill{Number: w.MailNo, Repeat: w.Repeat}, nil
}

func xmlAddress(a config.Address) sfxml.Address {
	return sfxml.Address{Company: a.Company, Contact: a.Name, Tel: a.Phone, Mobile: a.Mobile, Province: a.Province,
		City: a.City, County: a.District, Address: a.Address}
}

// Decode verifies (verifyCode over the raw document) and parses a RoutePushService push: one
// update per scan, in the order pushed; the monotonic rules keep the furthest.
func (x xmlCarrier) Decode(_ *http.Request, body []byte) ([]webhook.Update, error) {
	push, err := sfxml.ParsePush(body, x.checkword)
	switch {
	case errors.Is(err, sfxml.ErrBadSignature):
		return nil, fmt.Errorf("%w: %w", webhook.ErrBadSignature, err)
	case err != nil:
		return nil, fmt.Errorf("%w: %w", webhook.ErrMalformed, err)
	}
	out := make([]webhook.Update, 0, len(push.Routes))
	for _, r := range push.Routes {
		at, _ := r.Time() // ParsePush checked it
		out = append(out, sfUpdate(r.MailNo, r.OrderID, r.OpCode, at))
	}
	return out, nil
}

// Reply answers with the document SF expects (HTTP 200, Head OK or ERR).
func (x xmlCarrier) Reply(w http.ResponseWriter, ok bool, reason string) {
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.Write(sfxml.PushReply(ok, reason)) //nolint:errcheck // the carrier retries
}

// Track asks RouteService for the waybill's scans; the newest (by time) is the update.
func (x xmlCarrier) Track(ctx context.Context, _, waybill, orderCode string) (webhook.Update, error) {
	rr, err := x.c.Track(ctx, waybill)
	if err != nil {
		return webhook.Update{}, err
	}
	r, at, ok := rr.Newest()
	if !ok {
		return webhook.Update{}, ErrNoTrace
	}
	return sfUpdate(waybill, cmp.Or(rr.OrderID, orderCode), r.OpCode, at), nil
}

func sfUpdate(mailNo, orderID, opCode string, at time.Time) webhook.Update {
	ev, known := sfEvent(opCode)
	return webhook.Update{Waybill: mailNo, OrderCode: orderID, Status: string(ev.Status), Exception: ev.Exception,
		Reason: ev.Reason, Time: at, Code: ev.Code, Known: known}
}

// sfEvent maps an SF opCode to the canonical model; the table and its sources are in
// sinks/carrier/xml/README.md ("opCodes"). Problem scans (70, 33) are an exception flag on the
// current status, with the reason "<code> <short English description>" as Kdniao's are; unknown
// codes are in_transit with known false, to be counted (kdniao.md's rule).
func sfEvent(opCode string) (ev status.Event, known bool) {
	code := strings.TrimSpace(opCode)
	ev.Code = code
	switch code {
	case "50", "54":
		ev.Status = status.PickedUp
	case "30", "31", "36", "105", "106", "130", "310":
		ev.Status = status.InTransit
	case "44", "204":
		ev.Status = status.OutForDelivery
	case "80", "8000":
		ev.Status = status.Delivered
	case "99", "631", "648":
		ev.Status = status.Returned
	case "70":
		ev.Exception, ev.Reason = true, "70 delivery failed"
	case "33":
		ev.Exception, ev.Reason = true, "33 delivery exception"
	default:
		ev.Status = status.InTransit
		return ev, false
	}
	return ev, true
}
