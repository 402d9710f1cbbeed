package presets_test

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/shipsync/shipsync/testenv"
)

// Magento 2.4: the checkout (QuoteManagement::submit) INSERTs the order with its addresses and
// items in one transaction: state new / status pending for an offline payment (check / money
// order, bank transfer), then the admin's invoice UPDATEs it to processing with total_paid =
// grand_total; an online capture INSERTs it already processing and paid. Cancelling sets state
// and status canceled. Items of a configurable product are a parent row and a child row
// (parent_item_id); virtual products have is_virtual 1 and need no shipping.
//
// The harness's testPreset cannot run this preset as it is (what the report asks of it): its
// prefix rewrite needs a non-empty prefix to look for (Magento's is ""), and neither the real
// schema nor the fixture holds the tables Magento_SalesSequence creates (sales_sequence_meta,
// sales_sequence_profile, sequence_shipment_1), which the preset's grants name and its
// write-back uses. So each variant gets an install script of its own (the schema with the
// table prefix put in, plus those tables as Magento's installer makes them) and runs the
// harness's runPreset on it, under testPreset's three subtest names.
func TestPresetMagento2(t *testing.T) {
	root, err := testenv.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	fixture := filepath.Join(root, "testenv", "shops", "magento2.sql")
	run := func(t *testing.T, schema, prefix string, seq m2sequence) {
		m := &magento2{seq: seq}
		runPreset(t, m.system(prefix), magento2Install(t, schema, prefix, seq), prefix)
	}
	// Magento's defaults: no prefix, store 1's shipments numbered 000000001, 000000002, ...
	t.Run("fixture", func(t *testing.T) { run(t, fixture, "", m2sequence{}) })
	// Installed with a table prefix, on a store whose shipment profile has a prefix of its own
	// and which shipped 100 orders by hand before shipsync.
	t.Run("fixture_prefix_shop", func(t *testing.T) { run(t, fixture, "shop_", m2sequence{prefix: "S", next: 101}) })
	t.Run("real_schema", func(t *testing.T) { run(t, testenv.SharedSchema(t, "magento2.sql"), "", m2sequence{}) })
}

// m2sequence is store 1's shipment sequence: its profile's prefix and the next value of
// sequence_shipment_1 (0: Magento's start, 1).
type m2sequence struct {
	prefix string
	next   int
}

// magento2Install writes the install script of one variant: schema with prefix before every
// table name (schema is written without one), then Magento_SalesSequence's tables and the
// sequences its installer creates for stores 0 and 1 (Setup\SequenceCreator: order, invoice,
// creditmemo, shipment; profiles with Config's defaults).
func magento2Install(t *testing.T, schema, prefix string, seq m2sequence) string {
	t.Helper()
	b, err := os.ReadFile(schema)
	if err != nil {
		t.Fatal(err)
	}
	script := string(b)
	if prefix != "" {
		for _, m := range regexp.MustCompile("CREATE TABLE `([a-z0-9_]+)`").FindAllStringSubmatch(script, -1) {
			script = strings.ReplaceAll(script, "`"+m[1]+"`", "`"+prefix+m[1]+"`")
		}
	}
	var sb strings.Builder
	sb.WriteString(script)
	fmt.Fprintf(&sb, `
-- Magento_SalesSequence (etc/db_schema.xml), with the sequences of stores 0 and 1.
CREATE TABLE `+"`%[1]ssales_sequence_meta`"+` (
  `+"`meta_id`"+` int unsigned NOT NULL AUTO_INCREMENT,
  `+"`entity_type`"+` varchar(32) NOT NULL,
  `+"`store_id`"+` smallint unsigned NOT NULL,
  `+"`sequence_table`"+` varchar(32) NOT NULL,
  PRIMARY KEY (`+"`meta_id`"+`),
  UNIQUE KEY `+"`SALES_SEQUENCE_META_ENTITY_TYPE_STORE_ID`"+` (`+"`entity_type`,`store_id`"+`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;
CREATE TABLE `+"`%[1]ssales_sequence_profile`"+` (
  `+"`profile_id`"+` int unsigned NOT NULL AUTO_INCREMENT,
  `+"`meta_id`"+` int unsigned NOT NULL,
  `+"`prefix`"+` varchar(32) NULL,
  `+"`suffix`"+` varchar(32) NULL,
  `+"`start_value`"+` int unsigned NOT NULL DEFAULT 1,
  `+"`step`"+` int unsigned NOT NULL DEFAULT 1,
  `+"`max_value`"+` int unsigned NOT NULL,
  `+"`warning_value`"+` int unsigned NOT NULL,
  `+"`is_active`"+` tinyint(1) NOT NULL DEFAULT 0,
  PRIMARY KEY (`+"`profile_id`"+`),
  UNIQUE KEY `+"`SALES_SEQUENCE_PROFILE_META_ID_PREFIX_SUFFIX`"+` (`+"`meta_id`,`prefix`,`suffix`"+`),
  CONSTRAINT `+"`SALES_SEQUENCE_PROFILE_META_ID_SALES_SEQUENCE_META_META_ID`"+` FOREIGN KEY (`+"`meta_id`"+`)
    REFERENCES `+"`%[1]ssales_sequence_meta`"+` (`+"`meta_id`"+`) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;
`, prefix)
	for _, store := range []int{0, 1} {
		for _, entity := range []string{"order", "invoice", "creditmemo", "shipment"} {
			table := fmt.Sprintf("%ssequence_%s_%d", prefix, entity, store)
			pfx, next := "", 1
			if entity == "shipment" && store == 1 {
				pfx, next = seq.prefix, max(seq.next, 1)
			}
			fmt.Fprintf(&sb, "CREATE TABLE `%s` (`sequence_value` int unsigned NOT NULL AUTO_INCREMENT, PRIMARY KEY (`sequence_value`)) "+
				"AUTO_INCREMENT = %d ENGINE = INNODB DEFAULT CHARSET = utf8;\n", table, next)
			fmt.Fprintf(&sb, "INSERT INTO `%ssales_sequence_meta` (entity_type, store_id, sequence_table) VALUES ('%s', %d, '%s');\n",
				prefix, entity, store, table)
			fmt.Fprintf(&sb, "INSERT INTO `%ssales_sequence_profile` (meta_id, prefix, suffix, start_value, step, max_value, warning_value, is_active) "+
				"SELECT meta_id, '%s', '', 1, 1, 4294967295, 4294966295, 1 FROM `%ssales_sequence_meta` WHERE sequence_table = '%s';\n",
				prefix, pfx, prefix, table)
		}
	}
	path := filepath.Join(t.TempDir(), "magento2-install.sql")
	if err := os.WriteFile(path, []byte(sb.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// magento2 is one run's shop: which orders the checkout inserts already paid, and the
// virtual-only order that must never ship.
type magento2 struct {
	seq     m2sequence
	online  map[string]int // key -> seed index of the orders an online capture INSERTs at payment
	virtual order          // paid at checkout, nothing to ship
}

// Orders 2, 9 and 12 are paid online: the checkout INSERTs them already processing and paid
// (so their INSERT is the paid event); the others pay offline, by the admin's invoice.
func m2online(i int) bool { return i == 2 || i == 9 || i == 12 }

func (m *magento2) system(prefix string) system {
	return system{
		preset: "magento2", schema: "magento2.sql", prefix: prefix,
		seed: m.seed, pay: m.pay, cancel: m.cancel, shipped: m.shipped, untouched: m.untouched, status: m.status,
	}
}

// execer is *sql.DB or *sql.Tx.
type execer interface {
	Exec(query string, args ...any) (sql.Result, error)
}

func m2code(i int) string { return fmt.Sprintf("%09d", i+1) }

// insertOrder writes order i the way the checkout does: sales_order, its billing and shipping
// addresses (whose ids the order then records), its items and its grid row. Every order has a
// tea box (2 x 0.8 kg); orders 1, 4, 7, ... add a configurable T-shirt (a parent row and its
// child), orders 3, 7, 11 an extended warranty (virtual). paid: an online capture's order,
// processing and paid.
func (m *magento2) insertOrder(t *testing.T, s *shop, ex execer, i int, paid bool) {
	t.Helper()
	must := func(res sql.Result, err error) sql.Result {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	type item struct {
		sku, name, typ string
		qty, weight    float64
		price          float64
		virtual        bool
		child          bool // the simple child of the configurable before it
	}
	items := []item{{sku: "TEA-1", name: "茶叶礼盒", typ: "simple", qty: 2, weight: 0.8, price: 64}}
	if i%3 == 1 {
		items = append(items, item{sku: "TS-RED-M", name: "T恤", typ: "configurable", qty: 1, weight: 0.2, price: 99},
			item{sku: "TS-RED-M", name: "T恤 红色 M", typ: "simple", qty: 1, weight: 0.2, child: true})
	}
	if i%4 == 3 {
		items = append(items, item{sku: "WARRANTY-1Y", name: "延保服务", typ: "virtual", qty: 1, price: 30, virtual: true})
	}
	var subtotal, qty, weight float64
	for _, it := range items {
		if !it.child {
			subtotal += it.qty * it.price
			qty += it.qty
			if !it.virtual {
				weight += it.qty * it.weight
			}
		}
	}
	const shipping = 10.0
	grand := subtotal + shipping
	state, status, totalPaid, due := "new", "pending", any(nil), grand
	if paid {
		state, status, totalPaid, due = "processing", "processing", grand, 0
	}

	r := receiver(i)
	family, given := string([]rune(r[0])[:1]), string([]rune(r[0])[1:])
	region, city, phone := r[2], r[3], r[1]
	street := r[4] + r[5] + "\n" + fmt.Sprintf("%d单元", i%3+1)
	switch i {
	case 8: // an address typed in pinyin, the phone with the country code
		family, given, region, city, phone = "Liu", "Yang", "Shanghai", "Shanghai", "+86 136-0013-6004"
		street = "Century Avenue 100\nPudong"
	case 10: // a landline
		phone = "0755-86001234"
	}
	key := i + 1
	must(ex.Exec("INSERT INTO "+s.T("sales_order")+` (entity_id, state, status, protect_code, shipping_description, is_virtual,
		store_id, customer_id, base_grand_total, base_shipping_amount, base_subtotal, base_tax_amount, base_to_global_rate,
		base_to_order_rate, base_total_paid, grand_total, shipping_amount, subtotal, tax_amount, total_paid, total_qty_ordered,
		customer_is_guest, customer_note_notify, customer_group_id, quote_id, base_total_due, total_due, weight, increment_id,
		base_currency_code, customer_email, customer_firstname, customer_lastname, global_currency_code, order_currency_code,
		remote_ip, shipping_method, store_currency_code, store_name, total_item_count, shipping_incl_tax, base_shipping_incl_tax)
		VALUES (?, ?, ?, ?, 'Flat Rate - Fixed', 0, 1, NULL, ?, ?, ?, 0, 1, 1, ?, ?, ?, ?, 0, ?, ?, 1, 1, 0, ?, ?, ?, ?, ?,
		'CNY', ?, ?, ?, 'CNY', 'CNY', '127.0.0.1', 'flatrate_flatrate', 'CNY', 'Main Website\nMain Website Store\nDefault Store View',
		?, ?, ?)`,
		key, state, status, fmt.Sprintf("%x", 0xa1b2c3+key), grand, shipping, subtotal, totalPaid, grand, shipping, subtotal,
		totalPaid, qty, 1000+key, due, due, weight, m2code(i),
		fmt.Sprintf("buyer%d@example.com", i), given, family, len(items), shipping, shipping))
	var addr [2]int64
	for j, typ := range []string{"billing", "shipping"} {
		res := must(ex.Exec("INSERT INTO "+s.T("sales_order_address")+` (parent_id, quote_address_id, region, postcode, lastname,
			street, city, email, telephone, country_id, firstname, address_type)
			VALUES (?, ?, ?, '518000', ?, ?, ?, ?, ?, 'CN', ?, ?)`,
			key, 2000+2*key+j, region, family, street, city, fmt.Sprintf("buyer%d@example.com", i), phone, given, typ))
		addr[j], _ = res.LastInsertId()
	}
	must(ex.Exec("UPDATE "+s.T("sales_order")+" SET billing_address_id = ?, shipping_address_id = ? WHERE entity_id = ?", addr[0], addr[1], key))
	var parent int64
	for n, it := range items {
		var parentID, invoiced any
		price, rowTotal := it.price, it.qty*it.price
		if it.child {
			parentID, price, rowTotal = parent, 0, 0
		}
		if paid {
			invoiced = it.qty
		}
		res := must(ex.Exec("INSERT INTO "+s.T("sales_order_item")+` (order_id, parent_item_id, quote_item_id, store_id, product_id,
			product_type, product_options, weight, is_virtual, sku, name, is_qty_decimal, qty_ordered, qty_invoiced, price, base_price,
			original_price, base_original_price, row_total, base_row_total, row_weight, price_incl_tax, base_price_incl_tax,
			row_total_incl_tax, base_row_total_incl_tax, free_shipping)
			VALUES (?, ?, ?, 1, ?, ?, '{}', ?, ?, ?, ?, 0, ?, COALESCE(?, 0), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)`,
			key, parentID, 3000+10*key+n, 10+n, it.typ, nullZero(it.weight), boolInt(it.virtual), it.sku, it.name, it.qty, invoiced,
			price, price, price, price, rowTotal, rowTotal, it.qty*it.weight, price, price, rowTotal, rowTotal))
		if it.typ == "configurable" {
			parent, _ = res.LastInsertId()
		}
	}
	must(ex.Exec("INSERT INTO "+s.T("sales_order_grid")+` (entity_id, status, store_id, store_name, base_grand_total, base_total_paid,
		grand_total, total_paid, increment_id, base_currency_code, order_currency_code, shipping_name, billing_name, created_at,
		updated_at, billing_address, shipping_address, shipping_information, customer_email, customer_group, subtotal,
		shipping_and_handling, customer_name, payment_method)
		VALUES (?, ?, 1, 'Default Store View', ?, ?, ?, ?, ?, 'CNY', 'CNY', ?, ?, NOW(), NOW(), ?, ?, 'Flat Rate - Fixed', ?, '0', ?, ?, ?, ?)`,
		key, status, grand, totalPaid, grand, totalPaid, m2code(i), family+given, family+given,
		strings.ReplaceAll(street, "\n", ",")+","+city+","+region, strings.ReplaceAll(street, "\n", ",")+","+city+","+region,
		fmt.Sprintf("buyer%d@example.com", i), subtotal, shipping, family+given, map[bool]string{true: "alipay", false: "checkmo"}[paid]))
}

func nullZero(f float64) any {
	if f == 0 {
		return nil
	}
	return f
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (m *magento2) seed(t *testing.T, s *shop, n int) []order {
	m.online = map[string]int{}
	var out []order
	tx, err := s.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		o := order{Key: strconv.Itoa(i + 1), Code: m2code(i)}
		if m2online(i) {
			m.online[o.Key] = i // inserted by pay(), already paid
		} else {
			m.insertOrder(t, s, tx, i, false)
		}
		out = append(out, o)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	// An e-book bought online: paid at once, virtual only, no shipping address. shipsync must
	// find nothing to ship in it.
	m.virtual = order{Key: strconv.Itoa(n + 1), Code: m2code(n)}
	tx, err = s.Begin()
	if err != nil {
		t.Fatal(err)
	}
	key := n + 1
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{"INSERT INTO " + s.T("sales_order") + ` (entity_id, state, status, is_virtual, store_id, base_grand_total, grand_total,
			base_subtotal, subtotal, base_total_paid, total_paid, total_qty_ordered, customer_is_guest, increment_id,
			base_currency_code, order_currency_code, customer_email, total_item_count)
			VALUES (?, 'processing', 'processing', 1, 1, 25, 25, 25, 25, 25, 25, 1, 1, ?, 'CNY', 'CNY', 'reader@example.com', 1)`,
			[]any{key, m2code(n)}},
		{"INSERT INTO " + s.T("sales_order_address") + ` (parent_id, lastname, firstname, telephone, country_id, city, street, address_type)
			VALUES (?, '赵', '敏', '13900000000', 'CN', '北京市', '朝阳区', 'billing')`, []any{key}},
		{"INSERT INTO " + s.T("sales_order_item") + ` (order_id, store_id, product_type, is_virtual, sku, name, qty_ordered, qty_invoiced,
			price, base_price, row_total, base_row_total) VALUES (?, 1, 'downloadable', 1, 'EBOOK-1', '电子书', 1, 1, 25, 25, 25, 25)`, []any{key}},
	} {
		if _, err := tx.Exec(q.sql, q.args...); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	return out
}

// pay: the admin's invoice of an offline payment (Invoice::pay and the order's save: totals
// paid and invoiced, items invoiced, state and status processing, the grid row refreshed), or,
// for an online order, the checkout's INSERT of the order already paid.
func (m *magento2) pay(t *testing.T, s *shop, tx *sql.Tx, orders []order) {
	for _, o := range orders {
		if i, ok := m.online[o.Key]; ok {
			m.insertOrder(t, s, tx, i, true)
			continue
		}
		for _, q := range []string{
			"UPDATE " + s.T("sales_order_item") + " SET qty_invoiced = qty_ordered, row_invoiced = row_total, base_row_invoiced = base_row_total WHERE order_id = ?",
			"UPDATE " + s.T("sales_order") + ` SET state = 'processing', status = 'processing', total_paid = grand_total,
				base_total_paid = base_grand_total, total_invoiced = grand_total, base_total_invoiced = base_grand_total,
				subtotal_invoiced = subtotal, base_subtotal_invoiced = base_subtotal, shipping_invoiced = shipping_amount,
				base_shipping_invoiced = base_shipping_amount, total_due = 0, base_total_due = 0 WHERE entity_id = ?`,
			"UPDATE " + s.T("sales_order_grid") + " g JOIN " + s.T("sales_order") + ` o ON o.entity_id = g.entity_id
				SET g.status = o.status, g.total_paid = o.total_paid, g.base_total_paid = o.base_total_paid WHERE g.entity_id = ?`,
		} {
			if _, err := tx.Exec(q, o.Key); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// cancel: the admin's Cancel (Order::cancel: state and status canceled, the grid row refreshed).
func (m *magento2) cancel(t *testing.T, s *shop, tx *sql.Tx, o order) {
	for _, q := range []string{
		"UPDATE " + s.T("sales_order_item") + " SET qty_canceled = qty_ordered - qty_invoiced WHERE order_id = ?",
		"UPDATE " + s.T("sales_order") + " SET state = 'canceled', status = 'canceled' WHERE entity_id = ?",
		"UPDATE " + s.T("sales_order_grid") + " SET status = 'canceled' WHERE entity_id = ?",
	} {
		if _, err := tx.Exec(q, o.Key); err != nil {
			t.Fatal(err)
		}
	}
}

// shipped returns the order's tracking numbers and what is wrong with what Magento shows: not
// one shipment numbered from store 1's sequence and profile, its items not exactly the
// shippable ones with their quantities, Qty Shipped not matching, the track not custom/SIM, not
// complete (order and grid), not one "Shipped with" comment.
func (m *magento2) shipped(t *testing.T, s *shop, o order) ([]string, string) {
	var tracks []string
	rows, err := s.Query("SELECT track_number, parent_id, carrier_code, COALESCE(title, '') FROM "+s.T("sales_shipment_track")+
		" WHERE order_id = ? ORDER BY entity_id", o.Key)
	if err != nil {
		t.Fatal(err)
	}
	var problems []string
	var trackParents []int64
	for rows.Next() {
		var number, code, title string
		var parent int64
		if err := rows.Scan(&number, &parent, &code, &title); err != nil {
			t.Fatal(err)
		}
		tracks = append(tracks, number)
		trackParents = append(trackParents, parent)
		if code != "custom" || title != "SIM" {
			problems = append(problems, fmt.Sprintf("track carrier_code %q title %q", code, title))
		}
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	if len(tracks) == 0 {
		return nil, "no sales_shipment_track row"
	}
	type shipment struct {
		id                int64
		increment         sql.NullString
		totalQty, storeID sql.NullFloat64
	}
	var ships []shipment
	rows, err = s.Query("SELECT entity_id, increment_id, total_qty, store_id FROM "+s.T("sales_shipment")+" WHERE order_id = ?", o.Key)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var sh shipment
		if err := rows.Scan(&sh.id, &sh.increment, &sh.totalQty, &sh.storeID); err != nil {
			t.Fatal(err)
		}
		ships = append(ships, sh)
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	if len(ships) != 1 {
		return tracks, fmt.Sprintf("%d shipments", len(ships))
	}
	sh := ships[0]
	for _, p := range trackParents {
		if p != sh.id {
			problems = append(problems, fmt.Sprintf("a track on shipment %d, not %d", p, sh.id))
		}
	}
	// The number: the profile's prefix and a value sequence_shipment_1 handed out, once in the shop.
	num := regexp.MustCompile(`^` + regexp.QuoteMeta(m.seq.prefix) + `([0-9]{9})$`).FindStringSubmatch(sh.increment.String)
	switch {
	case num == nil:
		problems = append(problems, fmt.Sprintf("shipment increment_id %q (want %s and 9 digits)", sh.increment.String, m.seq.prefix))
	case s.count(t, "SELECT COUNT(*) FROM "+s.T("sequence_shipment_1")+" WHERE sequence_value = ?", strings.TrimLeft(num[1], "0")) != 1:
		problems = append(problems, fmt.Sprintf("shipment number %s is no value of sequence_shipment_1", sh.increment.String))
	case s.count(t, "SELECT COUNT(*) FROM "+s.T("sales_shipment")+" WHERE increment_id = ? AND store_id = 1", sh.increment.String) != 1:
		problems = append(problems, fmt.Sprintf("shipment number %s taken twice", sh.increment.String))
	}
	if num != nil {
		if n, _ := strconv.Atoi(num[1]); n < max(m.seq.next, 1) {
			problems = append(problems, fmt.Sprintf("shipment number %s below the sequence's start %d", sh.increment.String, m.seq.next))
		}
	}
	// Items: exactly the shippable rows (top-level, not virtual), each with its ordered quantity,
	// which is also their Qty Shipped; the child and virtual rows are not shipped.
	want := map[int64]float64{}
	var total float64
	rows, err = s.Query("SELECT item_id, qty_ordered, qty_shipped, parent_item_id IS NULL AND COALESCE(is_virtual, 0) = 0 FROM "+
		s.T("sales_order_item")+" WHERE order_id = ?", o.Key)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		var ordered, shipped float64
		var shippable bool
		if err := rows.Scan(&id, &ordered, &shipped, &shippable); err != nil {
			t.Fatal(err)
		}
		if shippable {
			want[id] = ordered
			total += ordered
		} else {
			ordered = 0
		}
		if shipped != ordered {
			problems = append(problems, fmt.Sprintf("item %d qty_shipped %g, want %g", id, shipped, ordered))
		}
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	got := map[int64]float64{}
	rows, err = s.Query("SELECT order_item_id, qty FROM "+s.T("sales_shipment_item")+" WHERE parent_id = ?", sh.id)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		var id int64
		var qty float64
		if err := rows.Scan(&id, &qty); err != nil {
			t.Fatal(err)
		}
		got[id] += qty
		n++
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	if n != len(want) || fmt.Sprint(got) != fmt.Sprint(want) {
		problems = append(problems, fmt.Sprintf("%d shipment items %v, want %v", n, got, want))
	}
	if sh.totalQty.Float64 != total || sh.storeID.Float64 != 1 {
		problems = append(problems, fmt.Sprintf("shipment total_qty %v store %v, want %g and 1", sh.totalQty.Float64, sh.storeID.Float64, total))
	}
	var state, status, grid string
	if err := s.QueryRow("SELECT o.state, o.status, COALESCE(g.status, '') FROM "+s.T("sales_order")+" o LEFT JOIN "+s.T("sales_order_grid")+
		" g ON g.entity_id = o.entity_id WHERE o.entity_id = ?", o.Key).Scan(&state, &status, &grid); err != nil {
		t.Fatal(err)
	}
	if state != "complete" || status != "complete" || grid != "complete" {
		problems = append(problems, fmt.Sprintf("state %s, status %s, grid status %s", state, status, grid))
	}
	if c := m2comments(t, s, o, "Shipped with %"); c != 1 {
		problems = append(problems, fmt.Sprintf("%d shipped comments", c))
	}
	return tracks, strings.Join(problems, "; ")
}

// m2comments counts shipsync's comments in the order's history that match like.
func m2comments(t *testing.T, s *shop, o order, like string) int {
	return s.count(t, "SELECT COUNT(*) FROM "+s.T("sales_order_status_history")+
		" WHERE parent_id = ? AND comment LIKE ? AND comment LIKE '% (shipsync)'", o.Key, like)
}

// untouched reports what shipsync wrote for o, and for the virtual-only order.
func (m *magento2) untouched(t *testing.T, s *shop, o order) string {
	var out []string
	for _, x := range []order{o, m.virtual} {
		var state string
		if err := s.QueryRow("SELECT state FROM "+s.T("sales_order")+" WHERE entity_id = ?", x.Key).Scan(&state); err != nil {
			t.Fatal(err)
		}
		ships := s.count(t, "SELECT COUNT(*) FROM "+s.T("sales_shipment")+" WHERE order_id = ?", x.Key)
		tracks := s.count(t, "SELECT COUNT(*) FROM "+s.T("sales_shipment_track")+" WHERE order_id = ?", x.Key)
		shipped := s.count(t, "SELECT COUNT(*) FROM "+s.T("sales_order_item")+" WHERE order_id = ? AND qty_shipped <> 0", x.Key)
		notes := m2comments(t, s, x, "%")
		if ships != 0 || tracks != 0 || shipped != 0 || notes != 0 || state == "complete" {
			what := "order"
			if x == m.virtual {
				what = "the virtual-only order " + x.Code
			}
			out = append(out, fmt.Sprintf("%s: state %s, %d shipments, %d tracks, %d items shipped, %d comments", what, state, ships, tracks, shipped, notes))
		}
	}
	return strings.Join(out, "; ")
}

// status: delivered and exception are one comment each in the order's history; the order stays
// complete.
func (m *magento2) status(t *testing.T, s *shop, o order, canonical string) (bool, string) {
	var state string
	if err := s.QueryRow("SELECT state FROM "+s.T("sales_order")+" WHERE entity_id = ?", o.Key).Scan(&state); err != nil {
		t.Fatal(err)
	}
	delivered, exception := m2comments(t, s, o, "Delivered, tracking number %"), m2comments(t, s, o, "Delivery exception, tracking number %")
	shows := fmt.Sprintf("state %s, %d delivered comments, %d exception comments", state, delivered, exception)
	switch canonical {
	case "delivered":
		return state == "complete" && delivered == 1 && exception == 0, shows
	case "exception":
		return state == "complete" && exception == 1 && delivered == 0, shows
	}
	return false, shows
}
