package presets_test

import (
	"database/sql"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// PrestaShop 1.6.1: PaymentModule::validateOrder() inserts the order awaiting payment (here 10,
// Awaiting bank wire payment) with its ps_order_detail rows, a ps_order_carrier row with no
// tracking number (none at all for a virtual cart) and a ps_order_history row; accepting the
// payment is OrderHistory::changeIdOrderState(2): current_state 2, valid 1 (the state's logable),
// an invoice number, and another history row. The admin's cancel is the same with state 6.
// Receivers are ps_address rows (lastname = family name) in China (ps_country CN) with its
// provinces as ps_state rows, ordered by one customer per receiver.
func TestPresetPrestaShop(t *testing.T) {
	const china, carrier = 5, 2 // China's id_country in PrestaShop's install data; a carrier's id
	testPreset(t, system{
		preset: "prestashop", schema: "prestashop.sql", prefix: "ps_",
		seed: func(t *testing.T, s *shop, n int) []order {
			exec := func(q string, args ...any) int64 {
				t.Helper()
				res, err := s.Exec(q, args...)
				if err != nil {
					t.Fatalf("%s: %v", q, err)
				}
				id, _ := res.LastInsertId()
				return id
			}
			exec("INSERT INTO "+s.T("country")+` (id_country, id_zone, id_currency, iso_code, call_prefix, active, contains_states,
				need_identification_number, need_zip_code, zip_code_format, display_tax_label) VALUES (?, 3, 0, 'CN', 86, 1, 1, 0, 1, 'NNNNNN', 1)`, china)
			exec("INSERT INTO "+s.T("carrier")+` (id_carrier, id_reference, name, url, active, shipping_handling, is_module, shipping_method, position)
				VALUES (?, ?, '中通快递', 'https://www.zto.com/express/expressCheck.html?txtBill=@', 1, 0, 0, 1, 1)`, carrier, carrier)
			states := map[string]int64{}
			customers := map[int]int64{}
			var out []order
			for i := range n {
				r := receiver(i)
				st, ok := states[r[2]]
				if !ok {
					st = exec("INSERT INTO "+s.T("state")+" (id_country, id_zone, name, iso_code, active) VALUES (?, 3, ?, ?, 1)",
						china, r[2], fmt.Sprintf("CN-%02d", len(states)+1))
					states[r[2]] = st
				}
				family, given := string([]rune(r[0])[:1]), string([]rune(r[0])[1:])
				c := i % len(receivers)
				cust, ok := customers[c]
				if !ok {
					cust = exec("INSERT INTO "+s.T("customer")+` (id_gender, id_default_group, id_lang, firstname, lastname, email, passwd,
						secure_key, active, date_add, date_upd) VALUES (1, 3, 1, ?, ?, ?, MD5('x'), MD5(?), 1, NOW(), NOW())`,
						given, family, fmt.Sprintf("customer%d@example.cn", c), c)
					customers[c] = cust
				}
				phone := ""
				if i%2 == 1 {
					phone = "0755-8888" + strconv.Itoa(1000+i)
				}
				addr := exec("INSERT INTO "+s.T("address")+` (id_country, id_state, id_customer, alias, lastname, firstname,
					address1, address2, postcode, city, other, phone, phone_mobile, date_add, date_upd)
					VALUES (?, ?, ?, '我的地址', ?, ?, ?, '', '518000', ?, '', ?, ?, NOW(), NOW())`,
					china, st, cust, family, given, r[4]+r[5], r[3], phone, r[1])
				// Order::generateReference: nine random capital letters, shared by the orders of a cart.
				ref := make([]byte, 9)
				for j := range ref {
					ref[j] = byte('A' + rand.IntN(26))
				}
				// ObjectModel writes an unset shipping_number as ''; orders imported or made by
				// modules may hold NULL.
				var shipping any = ""
				if i%3 == 0 {
					shipping = nil
				}
				key := exec("INSERT INTO "+s.T("orders")+` (reference, id_shop_group, id_shop, id_carrier, id_lang, id_customer, id_cart,
					id_currency, id_address_delivery, id_address_invoice, current_state, secure_key, payment, conversion_rate, module,
					shipping_number, total_paid, total_paid_tax_incl, total_paid_tax_excl, total_products, total_products_wt,
					total_shipping, total_shipping_tax_incl, total_shipping_tax_excl, invoice_date, delivery_date, valid, date_add, date_upd)
					VALUES (?, 1, 1, ?, 1, ?, ?, 1, ?, ?, 10, MD5(?), 'Bank wire', 1, 'bankwire',
					?, 198, 198, 198, 188, 188, 10, 10, 10, '0000-00-00 00:00:00', '0000-00-00 00:00:00', 0, NOW(), NOW())`,
					string(ref), carrier, cust, i+1, addr, addr, c, shipping)
				detail := "INSERT INTO " + s.T("order_detail") + ` (id_order, id_order_invoice, id_warehouse, id_shop, product_id,
					product_attribute_id, product_name, product_quantity, product_quantity_in_stock, product_price, product_weight, tax_name,
					total_price_tax_incl, total_price_tax_excl, unit_price_tax_incl, unit_price_tax_excl, original_product_price)
					VALUES (?, 0, 0, 1, ?, 0, ?, ?, ?, ?, ?, '', ?, ?, ?, ?, ?)`
				exec(detail, key, 1, "茶叶礼盒", 2, 2, 64, 0.4, 128, 128, 64, 64, 64)
				exec(detail, key, 2, "紫砂壶", 1, 1, 60, 0.6, 60, 60, 60, 60, 60)
				exec("INSERT INTO "+s.T("order_carrier")+` (id_order, id_carrier, id_order_invoice, weight, shipping_cost_tax_excl,
					shipping_cost_tax_incl, tracking_number, date_add) VALUES (?, ?, 0, 1.4, 10, 10, '', NOW())`, key, carrier)
				exec("INSERT INTO "+s.T("order_history")+" (id_employee, id_order, id_order_state, date_add) VALUES (0, ?, 10, NOW())", key)
				out = append(out, order{Key: strconv.FormatInt(key, 10), Code: fmt.Sprintf("%s-%d", ref, key)})
			}
			return out
		},
		pay: func(t *testing.T, s *shop, tx *sql.Tx, orders []order) {
			for _, o := range orders {
				psState(t, s, tx, o, 2, ", valid = 1, total_paid_real = total_paid, invoice_number = id_order, invoice_date = NOW()")
			}
		},
		cancel: func(t *testing.T, s *shop, tx *sql.Tx, o order) { psState(t, s, tx, o, 6, ", valid = 0") },
		shipped: func(t *testing.T, s *shop, o order) ([]string, string) {
			var number sql.NullString
			var state int
			var name string
			if err := s.QueryRow("SELECT o.shipping_number, o.current_state, COALESCE(l.name, '') FROM "+s.T("orders")+" o LEFT JOIN "+
				s.T("order_state_lang")+" l ON l.id_order_state = o.current_state AND l.id_lang = 1 WHERE o.id_order = ?", o.Key).
				Scan(&number, &state, &name); err != nil {
				t.Fatal(err)
			}
			if number.String == "" {
				return nil, "no shipping_number"
			}
			ws := []string{number.String}
			var problems []string
			if state != 4 && state != 5 {
				problems = append(problems, fmt.Sprintf("state %d %q", state, name))
			}
			// What the Shipping tab and the customer's order page show: each carrier row's
			// tracking number, linked by the carrier's URL.
			rows, err := s.Query("SELECT COALESCE(oc.tracking_number, ''), REPLACE(COALESCE(c.url, ''), '@', COALESCE(oc.tracking_number, '')) FROM "+
				s.T("order_carrier")+" oc LEFT JOIN "+s.T("carrier")+" c ON c.id_carrier = oc.id_carrier WHERE oc.id_order = ?", o.Key)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			for rows.Next() {
				var tracking, link string
				if err := rows.Scan(&tracking, &link); err != nil {
					t.Fatal(err)
				}
				switch {
				case tracking == "":
					problems = append(problems, "an order_carrier row without tracking_number")
				case tracking != number.String:
					ws = append(ws, tracking)
				case !strings.HasSuffix(link, "txtBill="+tracking):
					problems = append(problems, "tracking link "+link)
				}
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			if n := psHistory(t, s, o, 4); n != 1 {
				problems = append(problems, fmt.Sprintf("%d Shipped history rows", n))
			}
			if n := psHistory(t, s, o, 5); n > 1 {
				problems = append(problems, fmt.Sprintf("%d Delivered history rows", n))
			}
			return ws, strings.Join(problems, "; ")
		},
		untouched: func(t *testing.T, s *shop, o order) string {
			var number sql.NullString
			var state int
			if err := s.QueryRow("SELECT shipping_number, current_state FROM "+s.T("orders")+" WHERE id_order = ?", o.Key).Scan(&number, &state); err != nil {
				t.Fatal(err)
			}
			tracked := s.count(t, "SELECT COUNT(*) FROM "+s.T("order_carrier")+" WHERE id_order = ? AND COALESCE(tracking_number, '') <> ''", o.Key)
			history := s.count(t, "SELECT COUNT(*) FROM "+s.T("order_history")+" WHERE id_order = ? AND id_order_state IN (4, 5)", o.Key)
			if number.String != "" || state == 4 || state == 5 || tracked != 0 || history != 0 || len(psNotes(t, s, o)) != 0 {
				return fmt.Sprintf("shipping_number %q, state %d, %d tracked carrier rows, %d shipped/delivered history rows, notes %q",
					number.String, state, tracked, history, psNotes(t, s, o))
			}
			return ""
		},
		status: func(t *testing.T, s *shop, o order, canonical string) (bool, string) {
			var state int
			if err := s.QueryRow("SELECT current_state FROM "+s.T("orders")+" WHERE id_order = ?", o.Key).Scan(&state); err != nil {
				t.Fatal(err)
			}
			shipped, delivered, notes := psHistory(t, s, o, 4), psHistory(t, s, o, 5), psNotes(t, s, o)
			exceptions := 0
			for _, n := range notes {
				if strings.Contains(n, " delivery exception ") {
					exceptions++
				}
			}
			shows := fmt.Sprintf("state %d, %d Shipped and %d Delivered history rows, customer notes %q", state, shipped, delivered, notes)
			switch canonical {
			case "delivered":
				return state == 5 && shipped == 1 && delivered == 1 && len(notes) == 0, shows
			case "exception":
				return state == 4 && shipped == 1 && delivered == 0 && exceptions == 1 && len(notes) == 1, shows
			}
			return false, shows
		},
	})
}

// psState moves o to state the way OrderHistory::changeIdOrderState does: current_state (with
// the extra assignments set) and a history row, by no employee (a payment module or the API).
func psState(t *testing.T, s *shop, tx *sql.Tx, o order, state int, set string) {
	t.Helper()
	if _, err := tx.Exec("UPDATE "+s.T("orders")+" SET current_state = ?, date_upd = NOW()"+set+" WHERE id_order = ?", state, o.Key); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("INSERT INTO "+s.T("order_history")+" (id_employee, id_order, id_order_state, date_add) VALUES (0, ?, ?, NOW())", o.Key, state); err != nil {
		t.Fatal(err)
	}
}

// psHistory counts o's history rows into state.
func psHistory(t *testing.T, s *shop, o order, state int) int {
	t.Helper()
	return s.count(t, "SELECT COUNT(*) FROM "+s.T("order_history")+" WHERE id_order = ? AND id_order_state = ? AND id_employee = 0", o.Key, state)
}

// psNotes returns the lines of the customer's private note that name o (the customer orders
// several of the seeded orders).
func psNotes(t *testing.T, s *shop, o order) []string {
	t.Helper()
	var note sql.NullString
	if err := s.QueryRow("SELECT c.note FROM "+s.T("customer")+" c JOIN "+s.T("orders")+" o ON o.id_customer = c.id_customer WHERE o.id_order = ?", o.Key).Scan(&note); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(note.String, "\n") {
		if strings.Contains(line, "shipsync: order "+o.Code+", ") {
			out = append(out, line)
		}
	}
	return out
}
