package carrier

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/shipsync/shipsync/sinks/carrier/signedjson"
	"github.com/shipsync/shipsync/sources/webhook"
	"github.com/shipsync/shipsync/sync/config"
)

var _ webhook.Decoder = signedCarrier{}

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
