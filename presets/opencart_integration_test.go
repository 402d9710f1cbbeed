package presets_test

import (
	"database/sql"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/shipsync/shipsync/presets"
	"github.com/shipsync/shipsync/sinks/shopdb"
)

// OpenCart 3.0.3.9: checkout's addOrder() inserts the order with order_status_id 0 (a "missing
// order") and its oc_order_product rows; the payment extension then calls addOrderHistory(id, 2):
// the stock is taken (the order enters a processing status), then oc_order.order_status_id is
// UPDATEd and only after that the oc_order_history row INSERTed (notify 0: extensions pass no
// notify), each statement on its own (MyISAM). The admin's cancel is addOrderHistory(id, 7)
// through the API: UPDATE, INSERT, then the restock. Zones are English names (Guangdong).
func TestPresetOpenCart(t *testing.T) {
	const (
		stShipped  = 3
		stComplete = 5
	)
	// Per run (seed starts one): the seeded orders, a paid order with a download only, which
	// must never be picked up, and whether the next payment is the run's first (its history row
	// is held back).
	var (
		seeded       []order
		download     order
		downloadPaid bool
		first        bool
	)
	// addOrderHistory(order, status) as OpenCart 3.0.3.9 runs it, with hold between the UPDATE
	// and the INSERT (PHP and the network take time there on a busy shop).
	addOrderHistory := func(t *testing.T, s *shop, tx *sql.Tx, o order, status int, hold func()) {
		t.Helper()
		if status == 2 { // into a processing status: the stock is taken (OpenCart: one UPDATE per product)
			if _, err := tx.Exec("UPDATE "+s.T("product")+" p JOIN "+s.T("order_product")+` op ON op.product_id = p.product_id
				SET p.quantity = p.quantity - op.quantity WHERE op.order_id = ? AND p.subtract = 1`, o.Key); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := tx.Exec("UPDATE "+s.T("order")+" SET order_status_id = ?, date_modified = NOW() WHERE order_id = ?", status, o.Key); err != nil {
			t.Fatal(err)
		}
		if hold != nil {
			hold()
		}
		if _, err := tx.Exec("INSERT INTO "+s.T("order_history")+" SET order_id = ?, order_status_id = ?, notify = 0, comment = '', date_added = NOW()",
			o.Key, status); err != nil {
			t.Fatal(err)
		}
		if status == 7 { // out of processing/complete: the restock
			if _, err := tx.Exec("UPDATE "+s.T("product")+" p JOIN "+s.T("order_product")+` op ON op.product_id = p.product_id
				SET p.quantity = p.quantity + op.quantity WHERE op.order_id = ? AND p.subtract = 1`, o.Key); err != nil {
				t.Fatal(err)
			}
		}
	}
	// history is the order's history as OpenCart's admin lists it (with the status names).
	type row struct {
		id, status, notify int
		name, comment      string
		added              time.Time
	}
	history := func(t *testing.T, s *shop, o order) []row {
		t.Helper()
		rows, err := s.Query("SELECT h.order_history_id, h.order_status_id, COALESCE(os.name, ''), h.notify, h.comment, h.date_added FROM "+
			s.T("order_history")+" h LEFT JOIN "+s.T("order_status")+" os ON os.order_status_id = h.order_status_id AND os.language_id = 1"+
			" WHERE h.order_id = ? ORDER BY h.order_history_id", o.Key)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []row
		for rows.Next() {
			var r row
			var added string
			if err := rows.Scan(&r.id, &r.status, &r.name, &r.notify, &r.comment, &added); err != nil {
				t.Fatal(err)
			}
			if r.added, err = time.Parse(time.DateTime, added); err != nil {
				t.Fatal(err)
			}
			out = append(out, r)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	shipments := func(t *testing.T, s *shop, o order) []string {
		t.Helper()
		rows, err := s.Query("SELECT tracking_number FROM "+s.T("order_shipment")+" WHERE order_id = ? ORDER BY order_shipment_id", o.Key)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				t.Fatal(err)
			}
			out = append(out, n)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	orderStatus := func(t *testing.T, s *shop, o order) int {
		t.Helper()
		var st int
		if err := s.QueryRow("SELECT order_status_id FROM "+s.T("order")+" WHERE order_id = ?", o.Key).Scan(&st); err != nil {
			t.Fatal(err)
		}
		return st
	}
	// written is what shipsync wrote for o: shipment rows and history rows naming a tracking number.
	written := func(t *testing.T, s *shop, o order) string {
		t.Helper()
		var notes int
		for _, h := range history(t, s, o) {
			if strings.Contains(h.comment, "tracking number") {
				notes++
			}
		}
		st, ships := orderStatus(t, s, o), shipments(t, s, o)
		if len(ships) == 0 && notes == 0 && st != stShipped && st != stComplete {
			return ""
		}
		return fmt.Sprintf("order_status_id %d, shipments %q, %d history rows with a tracking number", st, ships, notes)
	}

	testPreset(t, system{
		preset: "opencart", schema: "opencart.sql", prefix: "oc_",
		seed: func(t *testing.T, s *shop, n int) []order {
			first, downloadPaid = true, false
			exec := func(q string, args ...any) sql.Result {
				t.Helper()
				res, err := s.Exec(q, args...)
				if err != nil {
					t.Fatalf("%s: %v", q, err)
				}
				return res
			}
			// The installer has no countries in these tables' files; China is country 44.
			exec("INSERT INTO " + s.T("country") + " (country_id, name, iso_code_2, iso_code_3, address_format, postcode_required, status) VALUES (44, 'China', 'CN', 'CHN', '', 0, 1)")
			// Weights in the product's class: 800 g, 1.5 lb; the e-book needs no shipping.
			exec("INSERT INTO " + s.T("product") + ` (product_id, model, quantity, stock_status_id, manufacturer_id, shipping, price, tax_class_id,
				weight, weight_class_id, subtract, status, date_added, date_modified) VALUES
				(40, 'TEA-1', 100, 7, 0, 1, 64.0000, 0, 800.00000000, 2, 1, 1, NOW(), NOW()),
				(41, 'CUP-1', 100, 7, 0, 1, 20.0000, 9, 1.50000000, 5, 1, 1, NOW(), NOW()),
				(42, 'EBOOK', 0, 7, 0, 0, 9.0000, 0, 0.00000000, 1, 0, 1, NOW(), NOW())`)
			zones := map[string][2]string{"广东省": {"Guangdong", "689"}, "北京": {"Beijing", "685"}, "浙江省": {"Zhejiang", "716"},
				"上海": {"Shanghai", "708"}, "四川省": {"Sichuan", "710"}}
			add := func(i int, shippable bool) order {
				r := receiver(i)
				family, given := string([]rune(r[0])[:1]), string([]rune(r[0])[1:])
				zone := zones[r[2]]
				method, code, country, countryID := "Flat Shipping Rate", "flat.flat", "China", "44"
				address, city, zoneName, zoneID, sfirst, slast := r[5], r[3], zone[0], zone[1], given, family
				if !shippable {
					method, code, country, countryID, address, city, zoneName, zoneID, sfirst, slast = "", "", "", "0", "", "", "", "0", "", ""
				}
				res := exec("INSERT INTO "+s.T("order")+` SET invoice_prefix = 'INV-2026-00', store_id = 0, store_name = '茶叶小店',
					store_url = 'http://shop.example/', customer_id = 0, customer_group_id = 1, firstname = ?, lastname = ?,
					email = 'buyer@example.com', telephone = ?, fax = '', custom_field = '[]',
					payment_firstname = ?, payment_lastname = ?, payment_company = '', payment_address_1 = ?, payment_address_2 = '',
					payment_city = ?, payment_postcode = '', payment_country = 'China', payment_country_id = 44, payment_zone = ?,
					payment_zone_id = ?, payment_address_format = '', payment_custom_field = '[]', payment_method = 'Alipay',
					payment_code = 'alipay', shipping_firstname = ?, shipping_lastname = ?, shipping_company = '', shipping_address_1 = ?,
					shipping_address_2 = '', shipping_city = ?, shipping_postcode = '', shipping_country = ?, shipping_country_id = ?,
					shipping_zone = ?, shipping_zone_id = ?, shipping_address_format = '', shipping_custom_field = '[]',
					shipping_method = ?, shipping_code = ?, comment = '', total = 160.0000, affiliate_id = 0, commission = 0,
					marketing_id = 0, tracking = '', language_id = 1, currency_id = 4, currency_code = 'CNY', currency_value = 1.00000000,
					ip = '127.0.0.1', forwarded_ip = '', user_agent = 'test', accept_language = 'zh-CN',
					date_added = NOW(), date_modified = NOW()`,
					given, family, r[1], given, family, r[5], r[3], zone[0], zone[1],
					sfirst, slast, address, city, country, countryID, zoneName, zoneID, method, code)
				key, _ := res.LastInsertId()
				if shippable {
					exec("INSERT INTO "+s.T("order_product")+` SET order_id = ?, product_id = 40, name = '茶叶礼盒', model = 'TEA-1',
						quantity = 2, price = 64.0000, total = 128.0000, tax = 0.0000, reward = 0`, key)
					exec("INSERT INTO "+s.T("order_product")+` SET order_id = ?, product_id = 41, name = 'Teacup', model = 'CUP-1',
						quantity = 1, price = 20.0000, total = 20.0000, tax = 2.0000, reward = 0`, key)
				}
				exec("INSERT INTO "+s.T("order_product")+` SET order_id = ?, product_id = 42, name = 'E-book', model = 'EBOOK',
					quantity = 1, price = 9.0000, total = 9.0000, tax = 0.0000, reward = 0`, key)
				id := strconv.FormatInt(key, 10)
				return order{Key: id, Code: id}
			}
			var out []order
			for i := range n {
				out = append(out, add(i, true))
			}
			download = add(n, false)
			seeded = out
			// The preset's items_query gives the weights in kg: 2 x 800 g + 1.5 lb + an e-book.
			var kg float64
			for _, it := range opencartRows(t, s, "items_query", out[0].Key) {
				w, _ := strconv.ParseFloat(it["weight_kg"], 64)
				q, _ := strconv.Atoi(it["quantity"])
				kg += w * float64(q)
			}
			if want := 2*0.8 + 1.5/2.2046; math.Abs(kg-want) > 0.002 {
				t.Errorf("items_query weighs order %s at %.3f kg, want %.3f", out[0].Key, kg, want)
			}
			return out
		},
		pay: func(t *testing.T, s *shop, tx *sql.Tx, orders []order) {
			if len(seeded) == 14 && orders[0] == seeded[12] {
				// The second wave's last payment comes once its first orders are shipped, so
				// the SIGKILL that follows at once catches it paid but not read yet (read_delay):
				// the restarted process must ship it.
				time.Sleep(opencartReadDelay(t, s) + time.Second)
			}
			for _, o := range orders {
				var hold func()
				if first {
					// The run's first payment: shipsync reads the order while the shop's
					// history row is not written yet, and must wait for it.
					first = false
					hold = func() {
						if rows := opencartRows(t, s, "query", o.Key); len(rows) != 0 {
							t.Errorf("orders.query returns order %s before the shop's own history row is written", o.Key)
						}
						time.Sleep(opencartReadDelay(t, s) + time.Second)
					}
				}
				addOrderHistory(t, s, tx, o, 2, hold)
			}
			if !downloadPaid && len(orders) > 1 {
				// Paid with the first multi-order payment, never shipped: nothing to ship.
				downloadPaid = true
				addOrderHistory(t, s, tx, download, 2, nil)
			}
		},
		cancel: func(t *testing.T, s *shop, tx *sql.Tx, o order) {
			addOrderHistory(t, s, tx, o, 7, nil)
		},
		// Shipped is what the admin sees: the "Shipped with" history row (OpenCart 3.0.3.9 shows
		// no oc_order_shipment), with the number also in oc_order_shipment. The shipment row alone
		// is the guard of a write-back still under way (MyISAM: statement by statement).
		shipped: func(t *testing.T, s *shop, o order) ([]string, string) {
			ships := shipments(t, s, o)
			if len(ships) == 0 {
				return nil, "no oc_order_shipment row"
			}
			if !slices.ContainsFunc(history(t, s, o), func(h row) bool { return strings.HasPrefix(h.comment, "Shipped with ") }) {
				return nil, fmt.Sprintf("oc_order_shipment holds %q but no history row shows it yet", ships)
			}
			var problems []string
			if len(ships) != 1 {
				problems = append(problems, fmt.Sprintf("%d shipment rows", len(ships)))
			}
			if st := orderStatus(t, s, o); st != stShipped && st != stComplete {
				problems = append(problems, fmt.Sprintf("order_status_id %d", st))
			}
			var shopRow, ours *row
			seen := map[string]bool{}
			hs := history(t, s, o)
			for i, h := range hs {
				switch {
				case h.status == 2 && h.comment == "" && shopRow == nil:
					shopRow = &hs[i]
				case strings.HasPrefix(h.comment, "Shipped with "):
					if ours != nil {
						problems = append(problems, "a second shipped history row")
					}
					ours = &hs[i]
				}
				if h.comment != "" && seen[h.comment] {
					problems = append(problems, fmt.Sprintf("history row %q twice", h.comment))
				}
				seen[h.comment] = true
			}
			switch {
			case ours == nil:
				problems = append(problems, "no shipped history row")
			case shopRow == nil:
				problems = append(problems, "the shop's own Processing history row is missing")
			default:
				if want := "Shipped with SIM, tracking number " + ships[0]; ours.comment != want || ours.name != "Shipped" || ours.notify != 0 {
					problems = append(problems, fmt.Sprintf("shipped row %q (status %q, notify %d), want %q (Shipped, notify 0)", ours.comment, ours.name, ours.notify, want))
				}
				// The shop's order of events: its Processing row first, by id and as the admin
				// sorts them (date_added, to the second).
				if ours.id < shopRow.id || !ours.added.After(shopRow.added) {
					problems = append(problems, fmt.Sprintf("shipsync's history row (id %d, %s) is not after the shop's (id %d, %s)",
						ours.id, ours.added.Format(time.DateTime), shopRow.id, shopRow.added.Format(time.DateTime)))
				}
			}
			return ships, strings.Join(problems, "; ")
		},
		untouched: func(t *testing.T, s *shop, o order) string {
			var out []string
			if w := written(t, s, o); w != "" {
				out = append(out, w)
			}
			if w := written(t, s, download); w != "" || !downloadPaid {
				out = append(out, fmt.Sprintf("the paid download-only order %s (paid: %v): %s", download.Code, downloadPaid, w))
			}
			return strings.Join(out, "; ")
		},
		status: func(t *testing.T, s *shop, o order, canonical string) (bool, string) {
			st := orderStatus(t, s, o)
			ships := shipments(t, s, o)
			if len(ships) != 1 {
				return false, fmt.Sprintf("shipments %q", ships)
			}
			var delivered, exceptions int
			var last row
			for _, h := range history(t, s, o) {
				switch {
				case h.comment == "Delivered, tracking number "+ships[0] && h.status == stComplete && h.name == "Complete":
					delivered++
				case strings.HasPrefix(h.comment, "Delivery exception, tracking number "+ships[0]+": ") && h.status == stShipped:
					exceptions++
				}
				last = h
			}
			shows := fmt.Sprintf("order_status_id %d, %d delivered rows, %d exception rows, last row %q", st, delivered, exceptions, last.comment)
			switch canonical {
			case "delivered":
				return st == stComplete && delivered == 1 && exceptions == 0 && last.status == stComplete, shows
			case "exception":
				return st == stShipped && exceptions == 1 && delivered == 0, shows
			}
			return false, shows
		},
	})
}

// opencartOrders is the orders section of the opencart preset as rendered for s.
func opencartOrders(t *testing.T, s *shop) map[string]string {
	t.Helper()
	conf, err := presets.Render("opencart", presets.Params{Prefix: s.Prefix, Database: s.Name})
	if err != nil {
		t.Fatal(err)
	}
	var c struct{ Orders map[string]any }
	if err := yaml.Unmarshal(conf, &c); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for k, v := range c.Orders {
		if s, ok := v.(string); ok {
			out[k] = s
		}
	}
	return out
}

// opencartRows runs the preset's orders.query or orders.items_query for one key, as shipsync
// binds it, and returns its rows.
func opencartRows(t *testing.T, s *shop, query, key string) []map[string]string {
	t.Helper()
	tpl := shopdb.Compile(opencartOrders(t, s)[query]).Expand("keys", 1)
	args, err := tpl.Args(map[string]any{"keys": []string{key}})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := s.Query(tpl.SQL, args...)
	if err != nil {
		t.Fatalf("orders.%s: %v", query, err)
	}
	defer rows.Close()
	return scanMaps(t, rows)
}

// opencartReadDelay is the preset's orders.read_delay.
func opencartReadDelay(t *testing.T, s *shop) time.Duration {
	t.Helper()
	d, err := time.ParseDuration(opencartOrders(t, s)["read_delay"])
	if err != nil {
		t.Fatalf("orders.read_delay: %v", err)
	}
	return d
}
