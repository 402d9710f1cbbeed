package presets_test

import (
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// Zen Cart 2.2: checkout_process's order->create() inserts the order with the payment module's
// order status (1 Pending here), then its first orders_status_history row, then its
// orders_products; the payment module's after_process (or its IPN handler) calls
// zen_update_orders_history, which UPDATEs orders.orders_status to 2 (Processing) and inserts a
// history row. Zen Cart has no cancelled status: the owner adds one (Admin > Localization >
// Orders Status, id 5 "Cancelled" here) and the admin's status update writes it the same way.
func TestPresetZenCart(t *testing.T) {
	var seeded, extras []order // per run: the scenario's orders, and paid ones with nothing to ship by carrier
	sys := system{
		preset: "zencart", schema: "zencart.sql", prefix: "",
		seed: func(t *testing.T, s *shop, n int) []order {
			if _, err := s.Exec("INSERT INTO " + s.T("orders_status") + " (orders_status_id, language_id, orders_status_name, sort_order, orders_status_color_code) VALUES (5, 1, 'Cancelled', 40, '#d9534f')"); err != nil {
				t.Fatal(err)
			}
			var out []order
			for i := range n {
				// An order over the free-shipping threshold (ot_shipping) has shipping module
				// "free" and is shipped like any other.
				module := "flat"
				if i == 2 {
					module = "free"
				}
				out = append(out, zencartOrder(t, s, i, 1, module, 0))
			}
			// Paid at checkout (a payment module whose order status is Processing) but nothing to
			// send: a download, and an order collected at the store. Both carry an address, so
			// only the preset keeps them from a waybill (the simulator's create count would
			// show one).
			extras = []order{zencartOrder(t, s, 0, 2, "free", 1), zencartOrder(t, s, 1, 2, "storepickup", 0)}
			seeded = out
			return out
		},
		pay: func(t *testing.T, s *shop, tx *sql.Tx, orders []order) {
			for _, o := range orders {
				zencartStatus(t, s, tx, o, 2, 0, "Payment completed. Trade no. 2026"+o.Key, "")
			}
		},
		cancel: func(t *testing.T, s *shop, tx *sql.Tx, o order) {
			zencartStatus(t, s, tx, o, 5, 0, "Cancelled at the customer's request.", "Admin [1]")
		},
		shipped: func(t *testing.T, s *shop, o order) ([]string, string) {
			rows, err := s.Query("SELECT comments, orders_status_id, customer_notified FROM "+s.T("orders_status_history")+
				" WHERE orders_id = ? AND updated_by = 'shipsync' AND comments LIKE 'Shipped via %' ORDER BY orders_status_history_id", o.Key)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var waybills, problems []string
			for rows.Next() {
				var comments string
				var status, notified int
				if err := rows.Scan(&comments, &status, &notified); err != nil {
					t.Fatal(err)
				}
				_, w, ok := strings.Cut(comments, "tracking number: ")
				if !ok || !strings.HasPrefix(comments, "Shipped via SIM, ") {
					problems = append(problems, fmt.Sprintf("history comment %q", comments))
				}
				waybills = append(waybills, w)
				if status != 3 || notified != 0 {
					problems = append(problems, fmt.Sprintf("history row with status %d, customer_notified %d", status, notified))
				}
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			if len(waybills) == 0 {
				return nil, "no shipped history row"
			}
			if len(waybills) > 1 {
				problems = append(problems, fmt.Sprintf("%d shipped history rows", len(waybills)))
			}
			if st := zencartOrderStatus(t, s, o); st != 3 {
				problems = append(problems, fmt.Sprintf("orders_status %d", st))
			}
			// What the customer's account_history_info page lists: rows with customer_notified
			// >= 0, by status name.
			if n := s.count(t, "SELECT COUNT(*) FROM "+s.T("orders_status")+" os JOIN "+s.T("orders_status_history")+
				" osh ON osh.orders_status_id = os.orders_status_id AND osh.orders_id = ? AND osh.customer_notified >= 0"+
				" WHERE os.language_id = 1 AND os.orders_status_name = 'Delivered' AND osh.comments LIKE ?", o.Key, "Shipped via %tracking number: "+waybills[0]); n != 1 {
				problems = append(problems, fmt.Sprintf("the customer's order page lists the tracking number %d times", n))
			}
			return waybills, strings.Join(problems, "; ")
		},
		untouched: func(t *testing.T, s *shop, o order) string {
			var out []string
			check := []order{o}
			if o == seeded[4] {
				check = append(check, extras...)
			}
			for _, x := range check {
				rows := s.count(t, "SELECT COUNT(*) FROM "+s.T("orders_status_history")+" WHERE orders_id = ? AND updated_by = 'shipsync'", x.Key)
				if st := zencartOrderStatus(t, s, x); rows != 0 || st == 3 {
					out = append(out, fmt.Sprintf("order %s: orders_status %d, %d history rows by shipsync", x.Code, st, rows))
				}
			}
			return strings.Join(out, "; ")
		},
		status: func(t *testing.T, s *shop, o order, canonical string) (bool, string) {
			st := zencartOrderStatus(t, s, o)
			rows := func(prefix string, notified int) int {
				return s.count(t, "SELECT COUNT(*) FROM "+s.T("orders_status_history")+
					" WHERE orders_id = ? AND updated_by = 'shipsync' AND orders_status_id = 3 AND customer_notified = ? AND comments LIKE ?",
					o.Key, notified, prefix+"%")
			}
			delivered := rows("Delivered, tracking number: ", 0)
			// The exception row carries the carrier's reason after the number.
			exception := rows("Delivery exception, tracking number: %: _", -1)
			shows := fmt.Sprintf("orders_status %d, %d delivered rows, %d exception rows", st, delivered, exception)
			switch canonical {
			case "delivered":
				return st == 3 && delivered == 1 && exception == 0, shows
			case "exception":
				return st == 3 && exception == 1 && delivered == 0, shows
			}
			return false, shows
		},
	}
	testPreset(t, sys)
}

// zencartOrder inserts the i-th receiver's order as order->create() does: the order with status
// status, its first history row (the customer's comment, e-mailed), then its products (virtual
// 1: a download).
func zencartOrder(t *testing.T, s *shop, i, status int, module string, virtual int) order {
	t.Helper()
	r := receiver(i)
	state := map[string]string{"广东省": "Guangdong", "北京": "Beijing", "浙江省": "Zhejiang", "上海": "Shanghai", "四川省": "Sichuan"}[r[2]]
	street := r[4] + r[5]
	var suburb any // Address Line 2
	if i == 3 {
		suburb = "3号楼"
	}
	method := map[string]string{"flat": "Flat Rate (Best Way)", "free": "Free Shipping", "storepickup": "Store Pickup (Walk In)"}[module]
	res, err := s.Exec("INSERT INTO "+s.T("orders")+` (customers_id, customers_name, customers_street_address, customers_city,
		customers_postcode, customers_state, customers_country, customers_telephone, customers_email_address,
		customers_address_format_id, delivery_name, delivery_street_address, delivery_suburb, delivery_city, delivery_postcode,
		delivery_state, delivery_country, delivery_address_format_id, billing_name, billing_street_address, billing_city,
		billing_postcode, billing_state, billing_country, billing_address_format_id, payment_method, payment_module_code,
		shipping_method, shipping_module_code, coupon_code, date_purchased, orders_status, currency, currency_value,
		order_total, order_tax, ip_address, order_weight, language_code, is_wholesale)
		VALUES (?, ?, ?, ?, '518000', ?, 'China', ?, ?, 1, ?, ?, ?, ?, '518000', ?, 'China', 1, ?, ?, ?, '518000', ?, 'China', 1,
		'Alipay', 'alipay', ?, ?, '', NOW(), ?, 'CNY', 1.000000, 128.0000, 0.0000, '127.0.0.1 - 127.0.0.1', 1.6, 'en', 0)`,
		i+1, r[0], street, r[3], state, r[1], fmt.Sprintf("c%d@example.com", i+1),
		r[0], street, suburb, r[3], state, r[0], street, r[3], state, method, module, status)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := res.LastInsertId()
	key := strconv.FormatInt(id, 10)
	comment := ""
	if i%2 == 1 {
		comment = "工作日送货"
	}
	if _, err := s.Exec("INSERT INTO "+s.T("orders_status_history")+" (orders_id, orders_status_id, date_added, customer_notified, comments) VALUES (?, ?, NOW(), 1, ?)",
		id, status, comment); err != nil {
		t.Fatal(err)
	}
	name, weight := "Tea gift box", 0.8
	if virtual == 1 {
		name, weight = "Tea e-book (download)", 0
	}
	if _, err := s.Exec("INSERT INTO "+s.T("orders_products")+` (orders_id, products_id, products_model, products_name, products_price,
		final_price, products_tax, products_quantity, onetime_charges, products_prid, products_weight, products_virtual,
		product_is_always_free_shipping, products_quantity_order_min, products_quantity_order_units, products_quantity_order_max,
		products_quantity_mixed, products_mixed_discount_quantity)
		VALUES (?, 1, 'TEA-1', ?, 64.0000, 64.0000, 0.0000, 2, 0.0000, '1', ?, ?, 0, 1, 1, 0, 1, 1)`, id, name, weight, virtual); err != nil {
		t.Fatal(err)
	}
	return order{Key: key, Code: key}
}

// zencartStatus changes an order's status as zen_update_orders_history does: the order, then
// its history row.
func zencartStatus(t *testing.T, s *shop, tx *sql.Tx, o order, status, notified int, comments, by string) {
	t.Helper()
	if _, err := tx.Exec("UPDATE "+s.T("orders")+" SET orders_status = ?, last_modified = NOW() WHERE orders_id = ? LIMIT 1", status, o.Key); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("INSERT INTO "+s.T("orders_status_history")+" (orders_id, orders_status_id, date_added, customer_notified, comments, updated_by) VALUES (?, ?, NOW(), ?, ?, ?)",
		o.Key, status, notified, comments, by); err != nil {
		t.Fatal(err)
	}
}

func zencartOrderStatus(t *testing.T, s *shop, o order) int {
	t.Helper()
	var st int
	if err := s.QueryRow("SELECT orders_status FROM "+s.T("orders")+" WHERE orders_id = ?", o.Key).Scan(&st); err != nil {
		t.Fatal(err)
	}
	return st
}
