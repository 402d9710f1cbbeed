package carrier

import (
	"fmt"

	"github.com/shipsync/shipsync/sinks/carrier/kdniao"
	"github.com/shipsync/shipsync/sinks/carrier/signedjson"
	"github.com/shipsync/shipsync/sync/config"
)

// NewClient builds the client for a configured carrier: it creates waybills and, by type,
// decodes the carrier's pushes (webhook.Decoder) and answers trace queries (Tracker).
func NewClient(c config.Carrier) (Client, error) {
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
