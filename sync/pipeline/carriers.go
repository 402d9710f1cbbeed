package pipeline

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/shipsync/shipsync/sinks/carrier/kdniao"
	"github.com/shipsync/shipsync/sinks/carrier/signedjson"
	"github.com/shipsync/shipsync/sources/webhook"
	"github.com/shipsync/shipsync/sync/config"
	"github.com/shipsync/shipsync/sync/status"
)

// NewCarrier builds the client for a configured carrier: it creates waybills and, by type,
// decodes the carrier's pushes (webhook.Decoder) and answers trace queries (Tracker).
func NewCarrier(c config.Carrier) (Carrier, error) {
	switch c.Type {
	case "kdniao":
		return kdniaoCarrier{
			c: kdniao.New(kdniao.Config{URL: c.URL, TrackURL: c.TrackURL, EBusinessID: c.EBusinessID, AppKey: c.AppKey,
				ShipperCode: c.ShipperCode, PayType: c.PayType, ExpType: c.ExpType, Timeout: c.Timeout}),
			appKey: c.AppKey, ebusinessID: c.EBusinessID,
		}, nil
	case "signedjson":
		return signedCarrier{
			c: signedjson.New(signedjson.Config{URL: c.URL, Secret: c.Secret, ShipperCode: c.ShipperCode,
				Timeout: c.Timeout}),
			secret:  []byte(c.Secret),
			replays: signedjson.NewReplays(signedjson.DefaultTolerance, 100_000),
		}, nil
	case "xml":
		return newXMLCarrier(c), nil
	}
	return nil, fmt.Errorf("carrier %s: unsupported type %q", c.Name, c.Type)
}

var (
	_ webhook.Decoder = kdniaoCarrier{}
	_ Tracker         = kdniaoCarrier{}
	_ webhook.Decoder = signedCarrier{}
)

// Decode verifies and parses a Kdniao 101 push.
func (k kdniaoCarrier) Decode(_ *http.Request, body []byte) ([]webhook.Update, error) {
	push, err := kdniao.ParsePush(body, k.appKey)
	switch {
	case errors.Is(err, kdniao.ErrBadSignature):
		return nil, fmt.Errorf("%w: %w", webhook.ErrBadSignature, err)
	case err != nil:
		return nil, fmt.Errorf("%w: %w", webhook.ErrMalformed, err)
	}
	out := make([]webhook.Update, 0, len(push.Data))
	for _, t := range push.Data {
		out = append(out, kdniaoUpdate(t))
	}
	return out, nil
}

func kdniaoUpdate(t kdniao.Trace) webhook.Update {
	ev, known := status.FromKdniao(t.State, t.StateEx)
	return webhook.Update{Waybill: t.LogisticCode, OrderCode: t.OrderCode, ShipperCode: t.ShipperCode,
		Status: string(ev.Status), Exception: ev.Exception, Reason: ev.Reason, Time: t.Newest(),
		Code: t.State + "/" + t.StateEx, Known: known}
}

// Reply is the JSON Kdniao expects within 5 s.
func (k kdniaoCarrier) Reply(w http.ResponseWriter, ok bool, reason string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Write(kdniao.PushReply(k.ebusinessID, ok, reason, time.Now())) //nolint:errcheck // the carrier retries
}

// Track asks Kdniao for the waybill's traces (1002).
func (k kdniaoCarrier) Track(ctx context.Context, shipperCode, waybill, orderCode string) (webhook.Update, error) {
	t, err := k.c.Track(ctx, shipperCode, waybill, orderCode)
	if err != nil {
		return webhook.Update{}, err
	}
	if !t.Success || len(t.Traces) == 0 {
		return webhook.Update{}, errNoTrace
	}
	if t.LogisticCode == "" {
		t.LogisticCode = waybill
	}
	return kdniaoUpdate(t), nil
}

// signedCarrier adapts the generic signed-JSON carrier type.
type signedCarrier struct {
	c       *signedjson.Client
	secret  []byte
	replays *signedjson.Replays
}

func (s signedCarrier) Create(ctx context.Context, sh Shipment) (Waybill, error) {
	o := signedjson.Order{OrderCode: sh.OrderCode, Sender: signedAddress(sh.Sender), Receiver: signedAddress(sh.Receiver),
		WeightKg: sh.WeightKg, VolumeM3: sh.VolumeM3, Remark: sh.Remark}
	for _, it := range sh.Items {
		o.Items = append(o.Items, signedjson.Item{Name: it.Name, Quantity: it.Quantity, WeightKg: it.WeightKg, Price: it.Price})
	}
	w, err := s.c.Create(ctx, o)
	if err != nil {
		return Waybill{}, err
	}
	return Waybill{Number: w.Number, PickupTime: w.PickupTime, Repeat: w.Repeat}, nil
}

func signedAddress(a config.Address) signedjson.Address {
	return signedjson.Address{Name: a.Name, Mobile: a.Mobile, Phone: a.Phone, Province: a.Province, City: a.City,
		District: a.District, Address: a.Address, Postcode: a.Postcode, Company: a.Company}
}

// Decode verifies (signature, 300 s tolerance, replay) and parses a signed-JSON push.
func (s signedCarrier) Decode(r *http.Request, body []byte) ([]webhook.Update, error) {
	events, err := signedjson.ParsePush(r.Header.Get(signedjson.SignatureHeader), body, s.secret, time.Now(),
		signedjson.DefaultTolerance, s.replays)
	switch {
	case errors.Is(err, signedjson.ErrMalformed):
		return nil, fmt.Errorf("%w: %w", webhook.ErrMalformed, err)
	case err != nil: // no, bad, stale or replayed signature
		return nil, fmt.Errorf("%w: %w", webhook.ErrBadSignature, err)
	}
	out := make([]webhook.Update, 0, len(events))
	for _, e := range events {
		out = append(out, webhook.Update{Waybill: e.Waybill, OrderCode: e.OrderCode, Status: e.Status,
			Exception: e.Exception, Reason: e.Reason, Time: e.Time, Code: e.Status, Known: true})
	}
	return out, nil
}

// Reply answers 200 {"ok":true}, or 503 to have the carrier retry.
func (s signedCarrier) Reply(w http.ResponseWriter, ok bool, reason string) {
	w.Header().Set("Content-Type", "application/json")
	if !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	w.Write(signedjson.PushReply(ok, reason)) //nolint:errcheck // the carrier retries
}
