package presets_test

import (
	"database/sql"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/shipsync/shipsync/presets"
	"github.com/shipsync/shipsync/sinks/shopdb"
)

// WooCommerce with High-Performance Order Storage: checkout (OrdersTableDataStore::create) takes
// the order id from a placeholder row in wp_posts (post_type shop_order_placehold), writes the
// wc_orders row as wc-pending with its billing and shipping rows in wc_order_addresses, its
// wc_order_operational_data row and its items (woocommerce_order_items + itemmeta);
// WC_Order::payment_complete() sets the transaction id, date_paid_gmt and status wc-processing
// and adds a note; the admin's cancel sets wc-cancelled. The shop runs HPOS without
// compatibility mode (the default since 8.2), so the placeholder row is never touched.
func TestPresetWooCommerce(t *testing.T) {
	testPreset(t, (&woo{hpos: true}).system())
}

// WooCommerce with orders in WordPress posts (the legacy store): checkout inserts a wp_posts
// row (post_type shop_order, post_status wc-pending, the order key as post_password, the
// customer's note as post_excerpt) and its fields as postmeta (_billing_*, _shipping_*,
// _order_total, and the dates WooCommerce writes empty until they happen); payment_complete()
// sets post_status wc-processing, _transaction_id, _date_paid and _paid_date, and adds a note.
// The site runs on Asia/Shanghai: post_date is eight hours ahead of post_date_gmt.
func TestPresetWooCommercePosts(t *testing.T) {
	testPreset(t, (&woo{}).system())
}

// woo is one WooCommerce store's test: what its seed wrote, for the checks that follow.
type woo struct {
	hpos bool // HPOS tables (preset woocommerce), else the posts store (woocommerce-posts)

	want    map[string]*wooWant // by order key: what orders.query and items_query must return; nil: no row
	extra   []order             // paid orders with nothing to ship (virtual only, local pickup): never touched
	byHand  order               // an order given a tracking item before it was paid: never touched
	handWB  string              // its tracking number
	simple  int64               // product ids
	parent  int64
	variant int64
	virtual int64
}

// wooWant is what the preset's queries must read for one order.
type wooWant struct {
	code, name, mobile, province, city, address string
	weight                                      float64
}

const (
	wooSiteOffset = 8 * time.Hour // the posts store's site time zone, Asia/Shanghai
	wooCarrier    = "kdniao"      // carriers[0].name in both presets
)

// Chinese provinces as WooCommerce stores them (i18n/states.php) and as the preset names them.
var wooStates = map[string][2]string{
	"广东省": {"CN20", "Guangdong"}, "北京": {"CN2", "Beijing"}, "浙江省": {"CN12", "Zhejiang"},
	"上海": {"CN10", "Shanghai"}, "四川省": {"CN24", "Sichuan"},
}

func (w *woo) system() system {
	name := "woocommerce-posts"
	if w.hpos {
		name = "woocommerce"
	}
	return system{
		preset: name, schema: "woocommerce.sql", prefix: "wp_",
		seed: w.seed, pay: w.pay, cancel: w.cancel, shipped: w.shipped, untouched: w.untouched, status: w.status,
		install: func(prefix string) string { return fmt.Sprintf(wooComments, prefix) },
	}
}

// wooComments is WordPress core's comments table (wp-admin/includes/schema.php), where
// WooCommerce keeps order notes: WordPress creates it, not WooCommerce, so the order-table
// schemas leave it out.
const wooComments = `CREATE TABLE IF NOT EXISTS %scomments (
	comment_ID bigint(20) unsigned NOT NULL auto_increment,
	comment_post_ID bigint(20) unsigned NOT NULL default '0',
	comment_author tinytext NOT NULL,
	comment_author_email varchar(100) NOT NULL default '',
	comment_author_url varchar(200) NOT NULL default '',
	comment_author_IP varchar(100) NOT NULL default '',
	comment_date datetime NOT NULL default '0000-00-00 00:00:00',
	comment_date_gmt datetime NOT NULL default '0000-00-00 00:00:00',
	comment_content text NOT NULL,
	comment_karma int(11) NOT NULL default '0',
	comment_approved varchar(20) NOT NULL default '1',
	comment_agent varchar(255) NOT NULL default '',
	comment_type varchar(20) NOT NULL default 'comment',
	comment_parent bigint(20) unsigned NOT NULL default '0',
	user_id bigint(20) unsigned NOT NULL default '0',
	PRIMARY KEY  (comment_ID),
	KEY comment_post_ID (comment_post_ID),
	KEY comment_approved_date_gmt (comment_approved,comment_date_gmt),
	KEY comment_date_gmt (comment_date_gmt),
	KEY comment_parent (comment_parent),
	KEY comment_author_email (comment_author_email(10))
) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;`

func (w *woo) preset() string { return w.system().preset }

// wooExecer is a *sql.DB or a *sql.Tx.
type wooExecer interface {
	Exec(query string, args ...any) (sql.Result, error)
	Query(query string, args ...any) (*sql.Rows, error)
	QueryRow(query string, args ...any) *sql.Row
}

func wooExec(t *testing.T, ex wooExecer, q string, args ...any) sql.Result {
	t.Helper()
	res, err := ex.Exec(q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return res
}

// seed makes the products, n orders as checkout writes them, and the orders that must never
// ship: one of virtual products only, one for local pickup (both paid at once), and one that
// got a tracking item by hand (the preset's own statement, as ZTO, with a Chinese provider name)
// before it was paid.
func (w *woo) seed(t *testing.T, s *shop, n int) []order {
	w.want, w.extra = map[string]*wooWant{}, nil
	w.simple = w.product(t, s, "product", 0, "茶叶礼盒", "0.8")
	w.parent = w.product(t, s, "product", 0, "茶具套装", "1.2")
	w.variant = w.product(t, s, "product_variation", w.parent, "茶具套装 - 白瓷", "") // weighs what its parent does
	w.virtual = w.product(t, s, "product", 0, "茶艺课程（线上）", "")
	wooExec(t, s, "INSERT INTO "+s.T("postmeta")+" (post_id, meta_key, meta_value) VALUES (?, '_virtual', 'yes')", w.virtual)

	var out []order
	for i := range n {
		out = append(out, w.insertOrder(t, s, i, "ship"))
	}
	virtual, pickup := w.insertOrder(t, s, 0, "virtual"), w.insertOrder(t, s, 1, "pickup")
	w.extra = []order{virtual, pickup}
	tx, err := s.Begin()
	if err != nil {
		t.Fatal(err)
	}
	w.pay(t, s, tx, w.extra)
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}

	w.byHand, w.handWB = w.insertOrder(t, s, 2, "ship"), "ZT7700000000001"
	w.want[w.byHand.Key] = nil
	w.handTracking(t, s)
	tx, err = s.Begin()
	if err != nil {
		t.Fatal(err)
	}
	w.pay(t, s, tx, []order{w.byHand})
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	return out
}

// product inserts a product (or variation) post with its _weight meta.
func (w *woo) product(t *testing.T, s *shop, typ string, parent int64, title, weight string) int64 {
	t.Helper()
	res := wooExec(t, s, "INSERT INTO "+s.T("posts")+` (post_author, post_date, post_date_gmt, post_content, post_title, post_excerpt,
		post_status, comment_status, ping_status, post_name, to_ping, pinged, post_modified, post_modified_gmt, post_content_filtered,
		post_parent, post_type) VALUES (1, NOW(), UTC_TIMESTAMP(), '', ?, '', 'publish', 'open', 'closed', ?, '', '', NOW(),
		UTC_TIMESTAMP(), '', ?, ?)`, title, fmt.Sprintf("p-%d", time.Now().UnixNano()), parent, typ)
	id, _ := res.LastInsertId()
	for _, m := range [][2]string{{"_weight", weight}, {"_price", "64"}, {"_sku", fmt.Sprintf("SKU%d", id)}} {
		wooExec(t, s, "INSERT INTO "+s.T("postmeta")+" (post_id, meta_key, meta_value) VALUES (?, ?, ?)", id, m[0], m[1])
	}
	return id
}

// insertOrder writes order i the way checkout does, unpaid. kind: "ship" (tea, and for odd i a
// variation, by flat rate), "virtual" (an online course: no shipping address) or "pickup"
// (tea, collected in the shop: a local_pickup shipping line).
func (w *woo) insertOrder(t *testing.T, s *shop, i int, kind string) order {
	t.Helper()
	r := receiver(i)
	name := []rune(r[0])
	last, first := string(name[:1]), string(name[1:])
	st := wooStates[r[2]]
	addr1, addr2 := r[4]+r[5], ""
	if i%4 == 1 {
		addr2 = "3栋201室"
	}
	shipPhone := r[1]
	if i%3 == 0 {
		shipPhone = "" // WooCommerce's shipping phone is optional: the billing phone stands in
	}
	note := ""
	if i%2 == 0 {
		note = "工作日送货"
	}
	ship := [9]string{first, last, addr1, addr2, r[3], st[0], "518000", "CN", shipPhone}
	if kind == "virtual" {
		ship = [9]string{}
	}
	billing := [9]string{first, last, addr1, addr2, r[3], st[0], "518000", "CN", r[1]}
	email := fmt.Sprintf("buyer%d@example.cn", i)
	total := "138.00"
	orderKey := fmt.Sprintf("wc_order_%x", time.Now().UnixNano())

	var key int64
	if w.hpos {
		res := wooExec(t, s, "INSERT INTO "+s.T("posts")+` (post_author, post_date, post_date_gmt, post_content, post_title,
			post_excerpt, post_status, comment_status, ping_status, post_name, to_ping, pinged, post_modified, post_modified_gmt,
			post_content_filtered, post_parent, post_type) VALUES (1, NOW(), UTC_TIMESTAMP(), '', '', '', 'draft', 'closed',
			'closed', '', '', '', NOW(), UTC_TIMESTAMP(), '', 0, 'shop_order_placehold')`)
		key, _ = res.LastInsertId()
		wooExec(t, s, "INSERT INTO "+s.T("wc_orders")+` (id, status, currency, type, tax_amount, total_amount, customer_id,
			billing_email, date_created_gmt, date_updated_gmt, parent_order_id, payment_method, payment_method_title,
			transaction_id, ip_address, user_agent, customer_note)
			VALUES (?, 'wc-pending', 'CNY', 'shop_order', 0, ?, 0, ?, UTC_TIMESTAMP(), UTC_TIMESTAMP(), 0, 'alipay', '支付宝',
			'', '127.0.0.1', 'Mozilla/5.0', ?)`, key, total, email, note)
		for _, a := range []struct {
			typ   string
			v     [9]string
			email any
		}{{"billing", billing, email}, {"shipping", ship, nil}} {
			wooExec(t, s, "INSERT INTO "+s.T("wc_order_addresses")+` (order_id, address_type, first_name, last_name, company,
				address_1, address_2, city, state, postcode, country, email, phone) VALUES (?, ?, ?, ?, '', ?, ?, ?, ?, ?, ?, ?, ?)`,
				key, a.typ, a.v[0], a.v[1], a.v[2], a.v[3], a.v[4], a.v[5], a.v[6], a.v[7], a.email, a.v[8])
		}
		wooExec(t, s, "INSERT INTO "+s.T("wc_order_operational_data")+` (order_id, created_via, woocommerce_version,
			prices_include_tax, coupon_usages_are_counted, download_permission_granted, cart_hash, new_order_email_sent,
			order_key, order_stock_reduced, date_paid_gmt, date_completed_gmt, shipping_tax_amount, shipping_total_amount,
			discount_tax_amount, discount_total_amount, recorded_sales)
			VALUES (?, 'checkout', '9.9.3', 0, 1, 0, MD5(?), 0, ?, 0, NULL, NULL, 0, 10, 0, 0, 0)`, key, orderKey, orderKey)
	} else {
		res := wooExec(t, s, "INSERT INTO "+s.T("posts")+` (post_author, post_date, post_date_gmt, post_content, post_title,
			post_excerpt, post_status, comment_status, ping_status, post_password, post_name, to_ping, pinged, post_modified,
			post_modified_gmt, post_content_filtered, post_parent, post_type)
			VALUES (1, UTC_TIMESTAMP() + INTERVAL 8 HOUR, UTC_TIMESTAMP(), '', ?, ?, 'wc-pending', 'closed', 'closed', ?, ?, '', '',
			UTC_TIMESTAMP() + INTERVAL 8 HOUR, UTC_TIMESTAMP(), '', 0, 'shop_order')`,
			"Order &ndash; "+time.Now().Format("January 2, 2006 @ 03:04 PM"), note, orderKey, fmt.Sprintf("order-%d", time.Now().UnixNano()))
		key, _ = res.LastInsertId()
		meta := [][2]string{{"_order_key", orderKey}, {"_customer_user", "0"}, {"_payment_method", "alipay"},
			{"_payment_method_title", "支付宝"}, {"_order_currency", "CNY"}, {"_order_total", total}, {"_order_shipping", "10.00"},
			{"_billing_email", email}, {"_transaction_id", ""}, {"_date_paid", ""}, {"_paid_date", ""},
			{"_date_completed", ""}, {"_completed_date", ""}}
		for j, f := range []string{"first_name", "last_name", "address_1", "address_2", "city", "state", "postcode", "country", "phone"} {
			meta = append(meta, [2]string{"_billing_" + f, billing[j]}, [2]string{"_shipping_" + f, ship[j]})
		}
		for _, m := range meta {
			wooExec(t, s, "INSERT INTO "+s.T("postmeta")+" (post_id, meta_key, meta_value) VALUES (?, ?, ?)", key, m[0], m[1])
		}
	}
	k := strconv.FormatInt(key, 10)
	code := k
	if i%4 == 3 && kind == "ship" { // the Sequential Order Numbers plugin's number
		code = strconv.Itoa(10000 + i)
		if w.hpos {
			wooExec(t, s, "INSERT INTO "+s.T("wc_orders_meta")+" (order_id, meta_key, meta_value) VALUES (?, '_order_number', ?)", key, code)
		} else {
			wooExec(t, s, "INSERT INTO "+s.T("postmeta")+" (post_id, meta_key, meta_value) VALUES (?, '_order_number', ?)", key, code)
		}
	}

	weight := 0.0
	item := func(typ, name string, meta ...[2]string) {
		res := wooExec(t, s, "INSERT INTO "+s.T("woocommerce_order_items")+" (order_item_name, order_item_type, order_id) VALUES (?, ?, ?)", name, typ, key)
		id, _ := res.LastInsertId()
		for _, m := range meta {
			wooExec(t, s, "INSERT INTO "+s.T("woocommerce_order_itemmeta")+" (order_item_id, meta_key, meta_value) VALUES (?, ?, ?)", id, m[0], m[1])
		}
	}
	line := func(name string, product, variation int64, qty int, total string) {
		item("line_item", name, [2]string{"_product_id", strconv.FormatInt(product, 10)},
			[2]string{"_variation_id", strconv.FormatInt(variation, 10)}, [2]string{"_qty", strconv.Itoa(qty)},
			[2]string{"_tax_class", ""}, [2]string{"_line_subtotal", total}, [2]string{"_line_subtotal_tax", "0"},
			[2]string{"_line_total", total}, [2]string{"_line_tax", "0"}, [2]string{"_line_tax_data", "a:2:{s:5:\"total\";a:0:{}s:8:\"subtotal\";a:0:{}}"})
	}
	switch kind {
	case "virtual":
		line("茶艺课程（线上）", w.virtual, 0, 1, "99.00")
	default:
		line("茶叶礼盒", w.simple, 0, 2, "128.00")
		weight += 2 * 0.8
		if i%2 == 1 {
			line("茶具套装 - 白瓷", w.parent, w.variant, 1, "45.00")
			weight += 1.2
		}
		method, title := "flat_rate", "Flat rate"
		if kind == "pickup" {
			method, title = "local_pickup", "Local pickup"
		}
		item("shipping", title, [2]string{"method_id", method}, [2]string{"instance_id", "1"}, [2]string{"cost", "10.00"},
			[2]string{"total_tax", "0"}, [2]string{"taxes", "a:1:{s:5:\"total\";a:0:{}}"})
	}
	o := order{Key: k, Code: code}
	if kind == "ship" {
		w.want[k] = &wooWant{code: code, name: r[0], mobile: r[1], province: st[1], city: r[3],
			address: strings.TrimSpace(addr1 + " " + addr2), weight: weight}
	} else {
		w.want[k] = nil
	}
	return o
}

// note adds an order note as WooCommerce's add_order_note() does (no user: by "WooCommerce").
func (w *woo) note(t *testing.T, s *shop, ex wooExecer, key, text string) {
	t.Helper()
	wooExec(t, ex, "INSERT INTO "+s.T("comments")+` (comment_post_ID, comment_author, comment_author_email, comment_author_url,
		comment_author_IP, comment_date, comment_date_gmt, comment_content, comment_karma, comment_approved, comment_agent,
		comment_type, comment_parent, user_id) VALUES (?, 'WooCommerce', 'woocommerce@shop.example.cn', '', '', NOW(), UTC_TIMESTAMP(),
		?, 0, '1', 'WooCommerce', 'order_note', 0, 0)`, key, text)
}

// pay is WC_Order::payment_complete(): transaction id, paid date, status processing, a note.
// Inside the same transaction it then reads the orders with the preset's own queries, as
// shipsync will once this commits, and checks what the carrier is going to be sent.
func (w *woo) pay(t *testing.T, s *shop, tx *sql.Tx, orders []order) {
	for _, o := range orders {
		txn := "2026" + o.Key + "22001456"
		if w.hpos {
			wooExec(t, tx, "UPDATE "+s.T("wc_orders")+" SET status = 'wc-processing', transaction_id = ?, date_updated_gmt = UTC_TIMESTAMP() WHERE id = ?", txn, o.Key)
			wooExec(t, tx, "UPDATE "+s.T("wc_order_operational_data")+" SET date_paid_gmt = UTC_TIMESTAMP(), order_stock_reduced = 1, recorded_sales = 1 WHERE order_id = ?", o.Key)
		} else {
			wooExec(t, tx, "UPDATE "+s.T("posts")+" SET post_status = 'wc-processing', post_modified = UTC_TIMESTAMP() + INTERVAL 8 HOUR, post_modified_gmt = UTC_TIMESTAMP() WHERE ID = ?", o.Key)
			for k, v := range map[string]string{"_transaction_id": txn, "_date_paid": strconv.FormatInt(time.Now().Unix(), 10),
				"_paid_date": time.Now().UTC().Add(wooSiteOffset).Format(time.DateTime)} {
				wooExec(t, tx, "UPDATE "+s.T("postmeta")+" SET meta_value = ? WHERE post_id = ? AND meta_key = ?", v, o.Key, k)
			}
		}
		w.note(t, s, tx, o.Key, "Order status changed from Pending payment to Processing.")
	}
	w.checkQueries(t, s, tx, orders)
}

// cancel is the admin's "Cancelled" (the order has no waybill yet, so nothing else happens).
func (w *woo) cancel(t *testing.T, s *shop, tx *sql.Tx, o order) {
	if w.hpos {
		wooExec(t, tx, "UPDATE "+s.T("wc_orders")+" SET status = 'wc-cancelled', date_updated_gmt = UTC_TIMESTAMP() WHERE id = ?", o.Key)
	} else {
		wooExec(t, tx, "UPDATE "+s.T("posts")+" SET post_status = 'wc-cancelled', post_modified = UTC_TIMESTAMP() + INTERVAL 8 HOUR, post_modified_gmt = UTC_TIMESTAMP() WHERE ID = ?", o.Key)
	}
	w.note(t, s, tx, o.Key, "Order status changed from Processing to Cancelled.")
}

// wooPreset is the part of a rendered preset the test runs itself.
type wooPreset struct {
	Orders struct {
		Query      string `yaml:"query"`
		ItemsQuery string `yaml:"items_query"`
	} `yaml:"orders"`
	Writeback struct {
		Waybill        []string `yaml:"waybill"`
		CurrentWaybill string   `yaml:"current_waybill"`
	} `yaml:"writeback"`
}

func (w *woo) statements(t *testing.T, s *shop) wooPreset {
	t.Helper()
	doc, err := presets.Render(w.preset(), presets.Params{Prefix: s.Prefix, Database: s.Name})
	if err != nil {
		t.Fatal(err)
	}
	var p wooPreset
	if err := yaml.Unmarshal(doc, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

// wooRun runs a preset statement with named parameters (:keys a list) on ex and returns its rows.
func wooRun(t *testing.T, ex wooExecer, text string, values map[string]any) []map[string]string {
	t.Helper()
	tpl := shopdb.Compile(text)
	if keys, ok := values["keys"].([]string); ok {
		tpl = tpl.Expand("keys", len(keys))
	}
	args, err := tpl.Args(values)
	if err != nil {
		t.Fatal(err)
	}
	return wooQuery(t, ex, tpl.SQL, args...)
}

// wooQuery returns the rows of q as column -> text (NULL as "").
func wooQuery(t *testing.T, ex wooExecer, q string, args ...any) []map[string]string {
	t.Helper()
	rows, err := ex.Query(q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	return scanMaps(t, rows)
}

// checkQueries runs orders.query and orders.items_query for orders inside tx: an order to ship
// has its receiver as the shop holds it (the name in Chinese order, the billing phone when the
// shipping one is empty, the province code as its name), its sequential number when it has
// one, and its weight in kg; the others have no row.
func (w *woo) checkQueries(t *testing.T, s *shop, tx *sql.Tx, orders []order) {
	t.Helper()
	p := w.statements(t, s)
	keys := make([]string, len(orders))
	for i, o := range orders {
		keys[i] = o.Key
	}
	got := map[string]map[string]string{}
	for _, r := range wooRun(t, tx, p.Orders.Query, map[string]any{"keys": keys}) {
		got[r["order_key"]] = r
	}
	weights := map[string]float64{}
	for _, r := range wooRun(t, tx, p.Orders.ItemsQuery, map[string]any{"keys": keys}) {
		q, _ := strconv.ParseFloat(r["quantity"], 64)
		kg, _ := strconv.ParseFloat(r["weight_kg"], 64)
		weights[r["order_key"]] += q * kg
		if r["name"] == "茶叶礼盒" && r["price"] != "64.00" {
			t.Errorf("order %s: item %s at %s a piece, want 64.00", r["order_key"], r["name"], r["price"])
		}
	}
	for _, o := range orders {
		want, r := w.want[o.Key], got[o.Key]
		switch {
		case want == nil && r != nil:
			t.Errorf("order %s has nothing to ship, yet orders.query reads %v", o.Key, r)
		case want == nil:
		case r == nil:
			t.Errorf("order %s: orders.query reads no row", o.Key)
		default:
			for col, v := range map[string]string{"order_code": want.code, "receiver_name": want.name, "receiver_mobile": want.mobile,
				"receiver_country": "CN", "receiver_province": want.province, "receiver_city": want.city, "receiver_address": want.address} {
				if r[col] != v {
					t.Errorf("order %s: %s %q, want %q", o.Key, col, r[col], v)
				}
			}
			if math.Abs(weights[o.Key]-want.weight) > 1e-6 {
				t.Errorf("order %s weighs %.3f kg by items_query, want %.3f", o.Key, weights[o.Key], want.weight)
			}
		}
	}
}

// handTracking gives w.byHand a tracking item with the preset's own guard, as ZTO (a Chinese
// provider name, three bytes a character), checks it is PHP's serialize() of the extension's
// list, that the guard takes once only, and that current_waybill tells this waybill (a replay)
// from another (a conflict).
func (w *woo) handTracking(t *testing.T, s *shop) {
	t.Helper()
	p := w.statements(t, s)
	values := map[string]any{"key": w.byHand.Key, "waybill": w.handWB, "carrier": wooCarrier, "shipper_code": "ZTO",
		"order_code": w.byHand.Code, "pickup_time": "", "status": "", "reason": "", "event_time": "", "now": time.Now().Format(time.DateTime)}
	for round, want := range []int64{1, 0} {
		tpl := shopdb.Compile(p.Writeback.Waybill[0])
		args, err := tpl.Args(values)
		if err != nil {
			t.Fatal(err)
		}
		res := wooExec(t, s, tpl.SQL, args...)
		if n, _ := res.RowsAffected(); n != want {
			t.Fatalf("the waybill guard changed %d rows in round %d, want %d", n, round+1, want)
		}
	}
	metas := w.trackingMetas(t, s, w.byHand.Key)
	if len(metas) != 1 {
		t.Fatalf("%d tracking metas after the guard, want 1", len(metas))
	}
	items, err := wooTrackingItems(metas[0])
	if err != nil {
		t.Fatalf("the guard's meta %q: %v", metas[0], err)
	}
	if len(items) != 1 || items[0]["custom_tracking_provider"] != "中通快递" || items[0]["tracking_number"] != w.handWB {
		t.Fatalf("the guard's meta %q reads as %v", metas[0], items)
	}
	for wb, want := range map[string]string{w.handWB: w.handWB, "ZT7799999999999": w.handWB} {
		values["waybill"] = wb
		rows := wooRun(t, s, p.Writeback.CurrentWaybill, values)
		if len(rows) != 1 {
			t.Fatalf("current_waybill returns %d rows", len(rows))
		}
		for _, v := range rows[0] {
			if v != want {
				t.Errorf("current_waybill for %s reads %q, want %q", wb, v, want)
			}
		}
	}
}

func (w *woo) trackingMetas(t *testing.T, s *shop, key string) []string {
	t.Helper()
	q := "SELECT meta_value FROM " + s.T("postmeta") + " WHERE post_id = ? AND meta_key = '_wc_shipment_tracking_items' ORDER BY meta_id"
	if w.hpos {
		q = "SELECT meta_value FROM " + s.T("wc_orders_meta") + " WHERE order_id = ? AND meta_key = '_wc_shipment_tracking_items' ORDER BY id"
	}
	var out []string
	for _, r := range wooQuery(t, s, q, key) {
		out = append(out, r["meta_value"])
	}
	return out
}

// orderStatus is the status WooCommerce shows, from the store in use.
func (w *woo) orderStatus(t *testing.T, s *shop, key string) string {
	t.Helper()
	q := "SELECT post_status FROM " + s.T("posts") + " WHERE ID = ?"
	if w.hpos {
		q = "SELECT status FROM " + s.T("wc_orders") + " WHERE id = ?"
	}
	var st string
	if err := s.QueryRow(q, key).Scan(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

// notes counts the order's notes whose text is like pattern.
func (w *woo) notes(t *testing.T, s *shop, key, pattern string) int {
	t.Helper()
	return s.count(t, "SELECT COUNT(*) FROM "+s.T("comments")+" WHERE comment_post_ID = ? AND comment_type = 'order_note' AND comment_content LIKE ?", key, pattern)
}

func (w *woo) shipped(t *testing.T, s *shop, o order) ([]string, string) {
	metas := w.trackingMetas(t, s, o.Key)
	if len(metas) == 0 {
		return nil, "no _wc_shipment_tracking_items meta"
	}
	var problems []string
	if len(metas) > 1 {
		problems = append(problems, fmt.Sprintf("%d tracking metas", len(metas)))
	}
	items, err := wooTrackingItems(metas[0])
	if err != nil {
		return nil, fmt.Sprintf("tracking meta %q: %v", metas[0], err)
	}
	var waybills []string
	now := time.Now().Unix()
	for _, it := range items {
		waybills = append(waybills, it["tracking_number"])
		shippedAt, err := strconv.ParseInt(it["date_shipped"], 10, 64)
		switch {
		case it["tracking_provider"] != "" || it["custom_tracking_provider"] != "SIM" || it["custom_tracking_link"] != "":
			problems = append(problems, fmt.Sprintf("tracking item provider %q/%q/%q, want a custom provider SIM",
				it["tracking_provider"], it["custom_tracking_provider"], it["custom_tracking_link"]))
		case err != nil || shippedAt < now-3600 || shippedAt > now+60:
			problems = append(problems, fmt.Sprintf("date_shipped %q is not the unix time of shipping", it["date_shipped"]))
		case !wooMD5.MatchString(it["tracking_id"]):
			problems = append(problems, fmt.Sprintf("tracking_id %q is not an md5", it["tracking_id"]))
		}
	}
	wb := strings.Join(waybills, ",")
	exceptions := w.notes(t, s, o.Key, "Parcel exception, tracking number "+wb+": % ("+wooCarrier+", shipsync)")
	switch st := w.orderStatus(t, s, o.Key); {
	case st == "wc-completed", st == "wc-on-hold" && exceptions == 1:
	default:
		problems = append(problems, "status "+st)
	}
	if w.hpos {
		var done sql.NullString
		if err := s.QueryRow("SELECT date_completed_gmt FROM "+s.T("wc_order_operational_data")+" WHERE order_id = ?", o.Key).Scan(&done); err != nil {
			t.Fatal(err)
		}
		if !done.Valid {
			problems = append(problems, "no date_completed_gmt")
		}
		var placeholder string
		if err := s.QueryRow("SELECT CONCAT(post_type, '/', post_status) FROM "+s.T("posts")+" WHERE ID = ?", o.Key).Scan(&placeholder); err != nil {
			t.Fatal(err)
		}
		if placeholder != "shop_order_placehold/draft" {
			problems = append(problems, "placeholder post "+placeholder)
		}
	}
	text := "Shipped with SIM, tracking number " + wb + " (" + wooCarrier + ", shipsync)"
	if n := w.notes(t, s, o.Key, "Shipped with %"); n != 1 {
		problems = append(problems, fmt.Sprintf("%d shipped notes", n))
	}
	// The note as WooCommerce writes its own, in the site's time (the posts store's offset).
	var offset int64
	err = s.QueryRow("SELECT TIMESTAMPDIFF(SECOND, comment_date_gmt, comment_date) FROM "+s.T("comments")+` WHERE comment_post_ID = ?
		AND comment_type = 'order_note' AND comment_author = 'WooCommerce' AND comment_author_email = 'woocommerce@noreply.com'
		AND comment_agent = 'WooCommerce' AND comment_approved = '1' AND comment_parent = 0 AND user_id = 0 AND comment_content = ?`,
		o.Key, text).Scan(&offset)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		problems = append(problems, "no note "+strconv.Quote(text))
	case err != nil:
		t.Fatal(err)
	case !w.hpos && offset != int64(wooSiteOffset/time.Second):
		problems = append(problems, fmt.Sprintf("the note's comment_date is %ds off its comment_date_gmt, want the site's %v", offset, wooSiteOffset))
	}
	if n := w.notes(t, s, o.Key, "Parcel delivered%"); n > 1 {
		problems = append(problems, fmt.Sprintf("%d delivered notes", n))
	}
	if n := w.notes(t, s, o.Key, "Parcel exception%"); n > 1 {
		problems = append(problems, fmt.Sprintf("%d exception notes", n))
	}
	return waybills, strings.Join(problems, "; ")
}

func (w *woo) untouched(t *testing.T, s *shop, o order) string {
	var problems []string
	check := func(o order, what string, metas int, statuses ...string) {
		m := w.trackingMetas(t, s, o.Key)
		st := w.orderStatus(t, s, o.Key)
		n := w.notes(t, s, o.Key, "%, shipsync)")
		if len(m) != metas || n != 0 || !strings.Contains(" "+strings.Join(statuses, " ")+" ", " "+st+" ") {
			problems = append(problems, fmt.Sprintf("%s %s: %d tracking metas, status %s, %d notes by shipsync", what, o.Key, len(m), st, n))
		}
	}
	check(o, "order", 0, "wc-pending", "wc-cancelled")
	if w.hpos {
		var done sql.NullString
		if err := s.QueryRow("SELECT date_completed_gmt FROM "+s.T("wc_order_operational_data")+" WHERE order_id = ?", o.Key).Scan(&done); err != nil {
			t.Fatal(err)
		}
		if done.Valid {
			problems = append(problems, "date_completed_gmt "+done.String)
		}
	}
	for _, x := range w.extra {
		check(x, "paid order with nothing to ship", 0, "wc-processing")
	}
	check(w.byHand, "order tracked by hand", 1, "wc-processing")
	if ws := w.trackingMetas(t, s, w.byHand.Key); len(ws) == 1 {
		if items, err := wooTrackingItems(ws[0]); err != nil || len(items) != 1 || items[0]["tracking_number"] != w.handWB {
			problems = append(problems, fmt.Sprintf("the hand-made tracking item became %q", ws[0]))
		}
	}
	return strings.Join(problems, "; ")
}

func (w *woo) status(t *testing.T, s *shop, o order, canonical string) (bool, string) {
	st := w.orderStatus(t, s, o.Key)
	delivered := w.notes(t, s, o.Key, "Parcel delivered, tracking number % ("+wooCarrier+", shipsync)")
	exception := w.notes(t, s, o.Key, "Parcel exception, tracking number %: % ("+wooCarrier+", shipsync)")
	shows := fmt.Sprintf("status %s, %d delivered notes, %d exception notes", st, delivered, exception)
	switch canonical {
	case "delivered":
		return st == "wc-completed" && delivered == 1, shows
	case "exception":
		return st == "wc-on-hold" && exception == 1, shows
	}
	return false, shows
}

// wooTrackingItems reads the Shipment Tracking extension's meta as PHP's unserialize() would
// (strictly: byte lengths, every byte used) and returns its items, each with exactly the
// extension's six string fields.
func wooTrackingItems(meta string) ([]map[string]string, error) {
	v, rest, err := wooPHPValue(meta)
	if err != nil {
		return nil, err
	}
	if rest != "" {
		return nil, fmt.Errorf("%d bytes after the value", len(rest))
	}
	list, ok := v.([]wooPHPEntry)
	if !ok {
		return nil, fmt.Errorf("not an array: %T", v)
	}
	fields := []string{"tracking_provider", "custom_tracking_provider", "custom_tracking_link", "tracking_number", "date_shipped", "tracking_id"}
	var out []map[string]string
	for i, e := range list {
		if e.key != int64(i) {
			return nil, fmt.Errorf("item %d has key %v: not a list", i, e.key)
		}
		arr, ok := e.value.([]wooPHPEntry)
		if !ok || len(arr) != len(fields) {
			return nil, fmt.Errorf("item %d is not an array of %d fields: %v", i, len(fields), e.value)
		}
		item := map[string]string{}
		for j, f := range arr {
			s, ok := f.value.(string)
			if f.key != fields[j] || !ok {
				return nil, fmt.Errorf("item %d field %d is %v = %v, want the string %s", i, j, f.key, f.value, fields[j])
			}
			item[fields[j]] = s
		}
		out = append(out, item)
	}
	return out, nil
}

var wooMD5 = regexp.MustCompile(`^[0-9a-f]{32}$`)

type wooPHPEntry struct {
	key   any // int64 or string
	value any
}

// wooPHPValue parses one value of PHP's serialize() format: N; b:0; i:n; d:x; s:len:"..."; a:n:{...}.
func wooPHPValue(s string) (any, string, error) {
	if len(s) < 2 {
		return nil, "", errors.New("truncated")
	}
	switch s[0] {
	case 'N':
		if s[1] != ';' {
			return nil, "", errors.New("bad null")
		}
		return nil, s[2:], nil
	case 'b', 'i', 'd':
		end := strings.IndexByte(s, ';')
		if s[1] != ':' || end < 0 {
			return nil, "", fmt.Errorf("bad %c", s[0])
		}
		num := s[2:end]
		if s[0] == 'd' {
			f, err := strconv.ParseFloat(num, 64)
			return f, s[end+1:], err
		}
		n, err := strconv.ParseInt(num, 10, 64)
		if s[0] == 'b' {
			return n == 1, s[end+1:], err
		}
		return n, s[end+1:], err
	case 's':
		colon := strings.IndexByte(s[2:], ':')
		if s[1] != ':' || colon < 0 {
			return nil, "", errors.New("bad string")
		}
		n, err := strconv.Atoi(s[2 : 2+colon])
		body := s[2+colon+1:]
		if err != nil || n < 0 || len(body) < n+3 || body[0] != '"' || body[n+1] != '"' || body[n+2] != ';' {
			return nil, "", fmt.Errorf("string of %q bytes does not fit %q", s[2:2+colon], body[:min(len(body), 40)])
		}
		if !utf8.ValidString(body[1 : n+1]) {
			return nil, "", errors.New("string cut inside a character")
		}
		return body[1 : n+1], body[n+3:], nil
	case 'a':
		colon := strings.IndexByte(s[2:], ':')
		if s[1] != ':' || colon < 0 {
			return nil, "", errors.New("bad array")
		}
		n, err := strconv.Atoi(s[2 : 2+colon])
		rest := s[2+colon+1:]
		if err != nil || n < 0 || rest == "" || rest[0] != '{' {
			return nil, "", errors.New("bad array header")
		}
		rest = rest[1:]
		var out []wooPHPEntry
		for range n {
			k, r, err := wooPHPValue(rest)
			if err != nil {
				return nil, "", err
			}
			switch k.(type) {
			case int64, string:
			default:
				return nil, "", fmt.Errorf("array key %v", k)
			}
			v, r, err := wooPHPValue(r)
			if err != nil {
				return nil, "", err
			}
			out = append(out, wooPHPEntry{k, v})
			rest = r
		}
		if rest == "" || rest[0] != '}' {
			return nil, "", errors.New("array does not end where its count says")
		}
		return out, rest[1:], nil
	}
	return nil, "", fmt.Errorf("unknown type %q", s[0])
}
