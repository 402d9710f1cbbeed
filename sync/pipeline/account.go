package pipeline

import (
	"cmp"

	"github.com/shipsync/shipsync/sources/webhook"
	"github.com/shipsync/shipsync/sync/config"
)

// A Kdniao account (one EBusinessID) ships through many couriers and pushes every waybill of
// the account to one callback URL, so /push/{name} names an account, not a courier: a push is
// matched by (ShipperCode, LogisticCode) among the carriers of the URL carrier's account.

// pushShipperCode is the courier a pushed update names: its own ShipperCode, or the URL
// carrier's for formats that name none (signed JSON: one URL per carrier).
func pushShipperCode(from config.Carrier, u webhook.Update) string {
	return cmp.Or(u.ShipperCode, from.ShipperCode)
}

// sameAccount reports whether carrier name is reached through from's account: from itself, or
// a Kdniao carrier with from's EBusinessID (the same account, hence the same key that verified
// the push).
func (p *Pipeline) sameAccount(from config.Carrier, name string) bool {
	if name == from.Name {
		return true
	}
	c, ok := p.conf().Carrier(name)
	return ok && c.Type == "kdniao" && from.Type == "kdniao" && from.EBusinessID != "" && c.EBusinessID == from.EBusinessID
}

// legacyIndexNames are the carriers of from's account with that shipper code: the names under
// which waybills recorded before the per-waybill index were kept (state.OrderByWaybill).
func (p *Pipeline) legacyIndexNames(from config.Carrier, shipperCode string) []string {
	var out []string
	for _, c := range p.conf().Carriers {
		if c.ShipperCode == shipperCode && p.sameAccount(from, c.Name) {
			out = append(out, c.Name)
		}
	}
	if len(out) == 0 {
		out = append(out, from.Name)
	}
	return out
}
