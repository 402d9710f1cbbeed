package presets_test

import (
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// ECShop 2.7.3: flow.php's done step inserts the order unpaid (pay_status 0) with its goods;
// respond.php's order_paid() sets pay_status 2 (and order_status 1) on payment; the admin's
// cancel sets order_status 2. Regions are ids into ecs_region.
func TestPresetECShop(t *testing.T) {
	testPreset(t, system{
		preset: "ecshop", schema: "ecshop.sql", prefix: "ecs_",
		seed: func(t *testing.T, s *shop, n int) []order {
			// region_type 0 country, 1 province, 2 city, 3 district.
			regions := map[string]int{}
			id := 1
			region := func(name string, parent, typ int) int {
				if r, ok := regions[name]; ok {
					return r
				}
				if _, err := s.Exec("INSERT INTO "+s.T("region")+" (region_id, parent_id, region_name, region_type) VALUES (?, ?, ?, ?)",
					id, parent, name, typ); err != nil {
					t.Fatal(err)
				}
				regions[name] = id
				id++
				return id - 1
			}
			cn := region("中国", 0, 0)
			if _, err := s.Exec("INSERT INTO " + s.T("goods") + " (goods_id, goods_sn, goods_name, goods_weight, shop_price) VALUES (1, 'G1', '茶叶礼盒', 0.800, 128.00)"); err != nil {
				t.Fatal(err)
			}
			var out []order
			for i := range n {
				r := receiver(i)
				p := region(r[2], cn, 1)
				c := region(r[3], p, 2)
				d := region(r[4], c, 3)
				sn := fmt.Sprintf("2026120%05d", i+1)
				res, err := s.Exec("INSERT INTO "+s.T("order_info")+` (order_sn, user_id, order_status, shipping_status, pay_status,
					consignee, country, province, city, district, address, mobile, goods_amount, order_amount, add_time)
					VALUES (?, 1, 0, 0, 0, ?, ?, ?, ?, ?, ?, ?, 128.00, 128.00, UNIX_TIMESTAMP())`,
					sn, r[0], cn, p, c, d, r[5], r[1])
				if err != nil {
					t.Fatal(err)
				}
				key, _ := res.LastInsertId()
				if _, err := s.Exec("INSERT INTO "+s.T("order_goods")+` (order_id, goods_id, goods_name, goods_sn, goods_number, goods_price)
					VALUES (?, 1, '茶叶礼盒', 'G1', 2, 64.00)`, key); err != nil {
					t.Fatal(err)
				}
				out = append(out, order{Key: strconv.FormatInt(key, 10), Code: sn})
			}
			return out
		},
		pay: func(t *testing.T, s *shop, tx *sql.Tx, orders []order) {
			for _, o := range orders {
				if _, err := tx.Exec("UPDATE "+s.T("order_info")+" SET order_status = 1, pay_status = 2, pay_time = UNIX_TIMESTAMP(), money_paid = order_amount, order_amount = 0 WHERE order_id = ?", o.Key); err != nil {
					t.Fatal(err)
				}
			}
		},
		cancel: func(t *testing.T, s *shop, tx *sql.Tx, o order) {
			if _, err := tx.Exec("UPDATE "+s.T("order_info")+" SET order_status = 2 WHERE order_id = ?", o.Key); err != nil {
				t.Fatal(err)
			}
		},
		shipped: func(t *testing.T, s *shop, o order) ([]string, string) {
			var invoice string
			var shipping int
			if err := s.QueryRow("SELECT invoice_no, shipping_status FROM "+s.T("order_info")+" WHERE order_id = ?", o.Key).Scan(&invoice, &shipping); err != nil {
				t.Fatal(err)
			}
			if invoice == "" {
				return nil, "no invoice_no"
			}
			var problems []string
			if shipping != 1 && shipping != 2 {
				problems = append(problems, fmt.Sprintf("shipping_status %d", shipping))
			}
			if n := s.count(t, "SELECT COUNT(*) FROM "+s.T("order_action")+" WHERE order_id = ? AND action_user = 'shipsync' AND action_note LIKE '% waybill %' AND action_note NOT LIKE '%delivered%' AND action_note NOT LIKE '%exception%'", o.Key); n != 1 {
				problems = append(problems, fmt.Sprintf("%d waybill notes", n))
			}
			return strings.Split(invoice, "<br>"), strings.Join(problems, "; ")
		},
		untouched: func(t *testing.T, s *shop, o order) string {
			var invoice string
			var shipping int
			if err := s.QueryRow("SELECT invoice_no, shipping_status FROM "+s.T("order_info")+" WHERE order_id = ?", o.Key).Scan(&invoice, &shipping); err != nil {
				t.Fatal(err)
			}
			notes := s.count(t, "SELECT COUNT(*) FROM "+s.T("order_action")+" WHERE order_id = ? AND action_user = 'shipsync'", o.Key)
			if invoice != "" || shipping != 0 || notes != 0 {
				return fmt.Sprintf("invoice_no %q, shipping_status %d, %d notes", invoice, shipping, notes)
			}
			return ""
		},
		status: func(t *testing.T, s *shop, o order, canonical string) (bool, string) {
			var shipping int
			if err := s.QueryRow("SELECT shipping_status FROM "+s.T("order_info")+" WHERE order_id = ?", o.Key).Scan(&shipping); err != nil {
				t.Fatal(err)
			}
			note := func(word string) int {
				return s.count(t, "SELECT COUNT(*) FROM "+s.T("order_action")+" WHERE order_id = ? AND action_user = 'shipsync' AND action_note LIKE ?", o.Key, "% "+word+"%")
			}
			shows := fmt.Sprintf("shipping_status %d, %d delivered notes, %d exception notes", shipping, note("delivered"), note("exception"))
			switch canonical {
			case "delivered":
				return shipping == 2 && note("delivered") == 1, shows
			case "exception":
				return shipping == 1 && note("exception") == 1, shows
			}
			return false, shows
		},
	})
}
