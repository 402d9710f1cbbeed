package ship

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shipsync/shipsync/sinks/shopdb"
	"github.com/shipsync/shipsync/sync/address"
	"github.com/shipsync/shipsync/sync/carrier"
	"github.com/shipsync/shipsync/sync/config"
	"github.com/shipsync/shipsync/sync/state"
	"github.com/shipsync/shipsync/sync/statuspage"
)

// candidates lists the carriers to try for an order, in order: the first routing rule that
// matches (else routing.default), then routing.failover. An order whose last attempt may have
// created a waybill (sticky) only ever goes back to that carrier, with the same OrderCode. An
// order sent back from the dead letter to a named carrier (`dlq retry --carrier`) goes there
// only. An error means no configured carrier may take it.
func candidates(cfg *config.Config, set carrier.Set, o shopdb.Order, rec state.Record) ([]*carrier.Carrier, error) {
	if rec.Sticky && rec.Carrier != "" {
		if c, ok := set[rec.Carrier]; ok {
			return []*carrier.Carrier{c}, nil
		}
		// It may hold a waybill: never route elsewhere.
		return nil, fmt.Errorf("carrier %q may hold this order's waybill but is no longer configured; "+
			"check with it before sending the order elsewhere (shipsync dlq retry after restoring it)", rec.Carrier)
	}
	if rec.Route != "" {
		if c, ok := set[rec.Route]; ok {
			return []*carrier.Carrier{c}, nil
		}
		return nil, fmt.Errorf("carrier %q, chosen with dlq retry --carrier, is no longer configured", rec.Route)
	}
	first, foreign := cfg.Routing.Default, !address.Domestic(o.ReceiverCountry)
	matched := false
	for _, r := range cfg.Routing.Rules {
		if (!foreign || len(r.Country) > 0) && ruleMatches(r, o) {
			first, matched = r.Carrier, true
			break
		}
	}
	if foreign && !matched {
		// Never a domestic waybill for an address abroad.
		return nil, fmt.Errorf("no carrier for country %q: add a routing rule with country: [%q] "+
			"and a carrier that ships there", o.ReceiverCountry, o.ReceiverCountry)
	}
	if foreign {
		// routing.failover lists domestic carriers: an order abroad goes to its rule's only.
		if c, ok := set[first]; ok {
			return []*carrier.Carrier{c}, nil
		}
		return nil, nil
	}
	names := append([]string{first}, cfg.Routing.Failover...)
	var out []*carrier.Carrier
	for i, n := range names {
		if c, ok := set[n]; ok && !slices.Contains(names[:i], n) {
			out = append(out, c)
		}
	}
	return out, nil
}

func ruleMatches(r config.Rule, o shopdb.Order) bool {
	if len(r.Province) > 0 {
		// Either side may be spelt Tibet, 西藏 or 西藏自治区.
		want := address.Province(o.ReceiverProvince)
		if !slices.ContainsFunc(r.Province, func(p string) bool { return address.Province(p) == want }) {
			return false
		}
	}
	if r.MinWeightKg > 0 && o.WeightKg < r.MinWeightKg {
		return false
	}
	if r.MaxWeightKg > 0 && o.WeightKg > r.MaxWeightKg {
		return false
	}
	if len(r.Country) > 0 && !slices.Contains(r.Country, o.ReceiverCountry) {
		return false
	}
	if c := r.Column; c != nil {
		v, ok := o.Columns[c.Column]
		if !c.Holds(v, ok) {
			return false
		}
	}
	return true
}

// senders are the configured senders (sender, and each warehouse's) as carriers get them, and
// the warehouses as the choice of one sees them; made once per batch. With addresses.normalize
// the senders are normalised like receivers, so a configured "深圳" reaches Kdniao as "深圳市"; a
// sender that cannot be normalised goes as configured (the carrier then says why it refuses it,
// for every order: not one order's fault).
type senders struct {
	def        config.Address
	warehouses []config.Address
	sites      []address.Site
	fallback   int // the default warehouse
}

func sendersOf(cfg *config.Config) senders {
	clean := func(a config.Address) config.Address {
		if !cfg.Addresses.Enabled() {
			return a
		}
		n, err := normalized(a)
		if err != nil {
			return a
		}
		return n
	}
	s := senders{def: clean(cfg.Sender), fallback: cfg.DefaultWarehouse()}
	for _, w := range cfg.Warehouses {
		s.warehouses = append(s.warehouses, clean(w.Sender))
		site := address.Site{Name: w.Name, Serves: w.Serves, Province: w.Sender.Province}
		if w.Latitude != nil && w.Longitude != nil {
			site.Lat, site.Lon, site.HasCoord = *w.Latitude, *w.Longitude, true
		}
		s.sites = append(s.sites, site)
	}
	return s
}

// warehouse is the index of the warehouse an order to province ships from: the first that
// serves it, else the nearest, else the default (DESIGN.md §2, routing).
func (s senders) warehouse(province string) int {
	return address.Choose(s.sites, province, s.fallback).Index
}

// normalized is a as carriers accept it (sync/address.Normalize); the company is kept as is.
func normalized(a config.Address) (config.Address, error) {
	p, err := address.Normalize(address.Parts{Name: a.Name, Mobile: a.Mobile, Phone: a.Phone, Province: a.Province,
		City: a.City, District: a.District, Street: a.Address, Postcode: a.Postcode})
	if err != nil {
		return config.Address{}, err
	}
	return config.Address{Name: p.Name, Mobile: p.Mobile, Phone: p.Phone, Province: p.Province, City: p.City,
		District: p.District, Address: p.Street, Postcode: p.Postcode, Company: a.Company}, nil
}

// shipment builds the carrier request from the enriched order, sent from the warehouse chosen
// for it (returned by name; "" without warehouses); missing required receiver data, or an address
// that cannot be normalised, is a permanent error naming the field.
func shipment(o shopdb.Order, items []shopdb.Item, cfg *config.Config, from senders) (carrier.Shipment, string, error) {
	var missing []string
	if strings.TrimSpace(o.ReceiverName) == "" {
		missing = append(missing, "receiver_name")
	}
	if strings.TrimSpace(o.ReceiverMobile) == "" && strings.TrimSpace(o.ReceiverPhone) == "" {
		missing = append(missing, "receiver_mobile or receiver_phone")
	}
	if strings.TrimSpace(o.ReceiverAddress) == "" {
		missing = append(missing, "receiver_address")
	}
	domestic := address.Domestic(o.ReceiverCountry)
	if domestic && (strings.TrimSpace(o.ReceiverProvince) == "" || strings.TrimSpace(o.ReceiverCity) == "") {
		missing = append(missing, "receiver_province/receiver_city")
	}
	if len(missing) > 0 {
		return carrier.Shipment{}, "", &carrier.Permanent{Reason: fmt.Sprintf("order %s has no %s", o.Code, strings.Join(missing, ", "))}
	}
	weight := o.WeightKg
	if weight == 0 {
		for _, it := range items {
			weight += it.WeightKg * float64(it.Quantity)
		}
	}
	receiver := config.Address{Name: o.ReceiverName, Mobile: o.ReceiverMobile, Phone: o.ReceiverPhone,
		Province: o.ReceiverProvince, City: o.ReceiverCity, District: o.ReceiverDistrict,
		Address: o.ReceiverAddress, Postcode: o.ReceiverPostcode}
	if domestic {
		receiver.Province = address.Province(receiver.Province) // Beijing, GD, 广东 -> 北京, 广东省
		if cfg.Addresses.Enabled() {
			n, err := normalized(receiver)
			if err != nil {
				// Personal data stays out: the reason names the field and what is wrong with it.
				return carrier.Shipment{}, "", &carrier.Permanent{Reason: fmt.Sprintf("order %s: address not accepted by carriers: %v", o.Code, err)}
			}
			receiver = n
		}
	}
	sender, warehouse := from.def, ""
	if len(cfg.Warehouses) > 0 {
		i := from.warehouse(receiver.Province)
		sender, warehouse = from.warehouses[i], cfg.Warehouses[i].Name
	}
	return carrier.Shipment{
		OrderCode: o.Code,
		Sender:    sender,
		Receiver:  receiver,
		Items:     items,
		WeightKg:  weight,
		VolumeM3:  o.VolumeM3,
		Remark:    o.Remark,
		Labels:    cfg.Labels.Enabled, TemplateSize: cfg.Labels.TemplateSize,
	}, warehouse, nil
}

// parcels is how many parcels an order ships as at carrier c: the parcels column of
// orders.query when it returns one, else the carrier's parcels rule by weight, else one.
func parcels(c config.Carrier, o shopdb.Order, weightKg float64) int {
	limit := 20
	if c.Parcels != nil {
		limit = c.Parcels.Max
	}
	if v, ok := o.Columns["parcels"]; ok {
		if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n >= 1 {
			return min(n, limit)
		}
	}
	if c.Parcels == nil || !(weightKg > 0) {
		return 1
	}
	return min(max(int(math.Ceil(weightKg/c.Parcels.MaxKg-1e-9)), 1), limit)
}

// orderRow is an order as the status page lists it.
func orderRow(key, carrierName, waybill string, o shopdb.Order) statuspage.OrderRow {
	phone := o.ReceiverMobile
	if phone == "" {
		phone = o.ReceiverPhone
	}
	return statuspage.OrderRow{Key: key, OrderCode: o.Code, Carrier: carrierName, Waybill: waybill, Receiver: o.ReceiverName,
		Phone: phone, Address: o.ReceiverProvince + o.ReceiverCity + o.ReceiverDistrict + o.ReceiverAddress,
		UpdatedAt: time.Now()}
}
