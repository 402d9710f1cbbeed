package shopdb_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/shipsync/shipsync/sinks/shopdb"
	"github.com/shipsync/shipsync/testenv"
	"github.com/shipsync/shipsync/testenv/demo"
)

// ECShop enrichment by :keys, shaped like the root config.yaml's: regions joined, rows named by
// order_key, only paid orders eligible.
const (
	ordersByKeys = `SELECT o.order_id AS order_key, o.order_sn AS order_code, o.consignee AS receiver_name,
	       o.mobile AS receiver_mobile, p.region_name AS receiver_province, c.region_name AS receiver_city,
	       o.address AS receiver_address, o.zipcode AS receiver_postcode
	  FROM ecs_order_info o
	  LEFT JOIN ecs_region p ON p.region_id = o.province
	  LEFT JOIN ecs_region c ON c.region_id = o.city
	 WHERE o.order_id IN (:keys) AND o.pay_status = 2`
	itemsByKeys = `SELECT og.order_id AS order_key, og.goods_name AS name, og.goods_number AS quantity,
	       g.goods_weight AS weight_kg, og.goods_price AS price
	  FROM ecs_order_goods og LEFT JOIN ecs_goods g ON g.goods_id = og.goods_id
	 WHERE og.order_id IN (:keys) ORDER BY og.rec_id`
)

// byKey is a :keys query rewritten to the old one-order form.
func byKey(q string) string { return strings.Replace(q, "IN (:keys)", "= :key", 1) }

// ecshopShop is a database of the test's own with the ECShop schema (testenv/shops/ecshop.sql,
// or the real install schema when beside the checkout) holding n paid orders, and a pool of
// one connection to it, so that the session's own counters see every statement shopdb runs.
func ecshopShop(t *testing.T, n int) (db, one *sql.DB, keys []string) {
	t.Helper()
	ctx := context.Background()
	db, name := testenv.NewDatabase(t)
	testenv.ExecFile(t, db, testenv.ShopSchema(t, "ecshop.sql"))
	ids, err := demo.Seed(ctx, db, n, 7)
	if err != nil {
		t.Fatal(err)
	}
	if err := demo.Pay(ctx, db, ids); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		keys = append(keys, fmt.Sprint(id))
	}
	one = shopdb.Connect(testenv.MySQLAddr(), testenv.MySQLUser(), testenv.MySQLPassword(), name, "utf8mb4", 1)
	t.Cleanup(func() { one.Close() })
	return db, one, keys
}

func openQueries(t *testing.T, pool *sql.DB, query, items string) *shopdb.DB {
	t.Helper()
	s, err := shopdb.Open(context.Background(), pool, shopdb.Config{
		Query: query, ItemsQuery: items, Waybill: waybillSQL[:1],
		CurrentWaybill: "SELECT invoice_no FROM ecs_order_info WHERE order_id = :key",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// counters reads the prepared statements the session of a one-connection pool has executed
// and prepared. SHOW runs as a plain query, which neither counter counts.
func counters(t *testing.T, one *sql.DB) (executed, prepared int) {
	t.Helper()
	rows, err := one.Query("SHOW SESSION STATUS WHERE Variable_name IN ('Com_stmt_execute', 'Com_stmt_prepare')")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var n int
		if err := rows.Scan(&name, &n); err != nil {
			t.Fatal(err)
		}
		switch strings.ToLower(name) {
		case "com_stmt_execute":
			executed = n
		case "com_stmt_prepare":
			prepared = n
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return executed, prepared
}

// counted runs read (Orders or ItemsOf of a DB on one) for keys and returns what it read and
// how many statements it executed and prepared.
func counted[R any](t *testing.T, one *sql.DB, read func(context.Context, []string) (R, error), keys []string) (res R, executed, prepared int) {
	t.Helper()
	e0, p0 := counters(t, one)
	res, err := read(context.Background(), keys)
	if err != nil {
		t.Fatal(err)
	}
	e1, p1 := counters(t, one)
	return res, e1 - e0, p1 - p0
}

// shopOrders reads what the shop holds, to check shopdb's reads against: order codes and each
// order's items (name, quantity) in rec_id order, by key.
func shopOrders(t *testing.T, db *sql.DB) (codes map[string]string, items map[string][]string) {
	t.Helper()
	codes, items = map[string]string{}, map[string][]string{}
	rows, err := db.Query("SELECT order_id, order_sn FROM ecs_order_info")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var k, code string
		if err := rows.Scan(&k, &code); err != nil {
			t.Fatal(err)
		}
		codes[k] = code
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	rows, err = db.Query("SELECT order_id, goods_name, goods_number FROM ecs_order_goods ORDER BY rec_id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var k, name string
		var n int
		if err := rows.Scan(&k, &name, &n); err != nil {
			t.Fatal(err)
		}
		items[k] = append(items[k], fmt.Sprintf("%s x%d", name, n))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return codes, items
}

func itemLines(items []shopdb.Item) []string {
	var out []string
	for _, it := range items {
		out = append(out, fmt.Sprintf("%s x%d", it.Name, it.Quantity))
	}
	return out
}

// checkOrders fails unless got holds exactly the orders of want, each as the shop has it.
func checkOrders(t *testing.T, got map[string]shopdb.OrderResult, want []string, codes map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%d orders read, want %d", len(got), len(want))
	}
	for _, k := range want {
		r, ok := got[k]
		switch {
		case !ok:
			t.Errorf("order %s missing", k)
		case r.Err != nil:
			t.Errorf("order %s: %v", k, r.Err)
		case r.Order.Code != codes[k] || r.Order.Columns["order_key"] != k:
			t.Errorf("order %s read as %q (order_key %q), the shop has %q", k, r.Order.Code, r.Order.Columns["order_key"], codes[k])
		}
	}
}

// checkItems fails unless got holds exactly the items of the orders of want, each order's own.
func checkItems(t *testing.T, got map[string]shopdb.ItemsResult, want []string, items map[string][]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("items of %d orders read, want %d", len(got), len(want))
	}
	for _, k := range want {
		if r := got[k]; r.Err != nil || !reflect.DeepEqual(itemLines(r.Items), items[k]) {
			t.Errorf("order %s items %q (%v), the shop has %q", k, itemLines(r.Items), r.Err, items[k])
		}
	}
}

// TestOrdersByKeys: a :keys query reads a batch of ECShop orders, regions joined, in one
// statement, and their items in one more, each order getting its own rows; a key without a row
// (never paid, or no such order) is absent; the single-key calls run the same statement.
func TestOrdersByKeys(t *testing.T) {
	db, one, keys := ecshopShop(t, 12)
	ctx := context.Background()
	unpaid, err := demo.SeedOrders(ctx, db, 1, 8)
	if err != nil {
		t.Fatal(err)
	}
	codes, items := shopOrders(t, db)
	s := openQueries(t, one, ordersByKeys, itemsByKeys)
	ask := append(append([]string{}, keys...), fmt.Sprint(unpaid[0]), "999999")

	orders, executed, prepared := counted(t, one, s.Orders, ask)
	if executed != 1 || prepared != 1 {
		t.Errorf("Orders of %d keys: %d statements executed, %d prepared; want 1 and 1 (the size class of 16)", len(ask), executed, prepared)
	}
	checkOrders(t, orders, keys, codes)
	if o := orders[keys[0]].Order; o.ReceiverProvince == "" || o.ReceiverCity == "" || o.ReceiverName == "" {
		t.Errorf("order %s lacks the joined columns: %+v", keys[0], o)
	}

	got, executed, _ := counted(t, one, s.ItemsOf, keys)
	if executed != 1 {
		t.Errorf("ItemsOf of %d keys: %d statements, want 1", len(keys), executed)
	}
	checkItems(t, got, keys, items)
	if got, err = s.ItemsOf(ctx, []string{"999999"}); err != nil || len(got) != 0 {
		t.Errorf("items of no such order: %v %v", got, err)
	}

	// The same class again: its statement is reused, not prepared again.
	if _, executed, prepared = counted(t, one, s.Orders, keys); executed != 1 || prepared != 0 {
		t.Errorf("Orders again: %d executed, %d prepared; want 1 and 0", executed, prepared)
	}

	o, found, err := s.Order(ctx, keys[3])
	if err != nil || !found || o.Code != codes[keys[3]] {
		t.Errorf("Order(%s) = %q %v %v, want %q", keys[3], o.Code, found, err, codes[keys[3]])
	}
	if _, found, err := s.Order(ctx, fmt.Sprint(unpaid[0])); err != nil || found {
		t.Errorf("Order of the unpaid order: found %v, %v", found, err)
	}
	if its, err := s.Items(ctx, keys[3]); err != nil || !reflect.DeepEqual(itemLines(its), items[keys[3]]) {
		t.Errorf("Items(%s) = %q %v, want %q", keys[3], itemLines(its), err, items[keys[3]])
	}
}

// TestOrdersBadRow: one order whose row cannot be used gets a permanent error of its own; the
// others of the same statement are read.
func TestOrdersBadRow(t *testing.T) {
	db, one, keys := ecshopShop(t, 5)
	ctx := context.Background()
	bad := keys[2]
	if _, err := db.Exec("UPDATE ecs_order_info SET best_time = 'heavy' WHERE order_id = ?", bad); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("UPDATE ecs_order_goods SET goods_attr = 'free' WHERE order_id = ? LIMIT 1", bad); err != nil {
		t.Fatal(err)
	}
	s := openQueries(t, one,
		"SELECT order_id AS order_key, order_sn AS order_code, NULLIF(best_time, '') AS weight_kg FROM ecs_order_info WHERE order_id IN (:keys)",
		"SELECT order_id AS order_key, goods_name AS name, NULLIF(goods_attr, '') AS price FROM ecs_order_goods WHERE order_id IN (:keys)")

	orders, err := s.Orders(ctx, keys)
	if err != nil {
		t.Fatal(err)
	}
	items, err := s.ItemsOf(ctx, keys)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		o, it := orders[k], items[k]
		if k != bad {
			if o.Err != nil || o.Order.Code == "" || it.Err != nil || len(it.Items) == 0 {
				t.Errorf("order %s: %+v, items %+v: want it read", k, o, it)
			}
			continue
		}
		var de *shopdb.DataError
		if !errors.As(o.Err, &de) || !de.Permanent() || !strings.Contains(o.Err.Error(), "weight_kg") {
			t.Errorf("bad order: error %v, want a permanent DataError about weight_kg", o.Err)
		}
		if !errors.As(it.Err, &de) || !strings.Contains(it.Err.Error(), "price") || it.Items != nil {
			t.Errorf("bad order's items: %+v, want a DataError about price and no items", it)
		}
	}
}

// TestOrdersChunks: more keys than one statement takes are read in chunks (256, then 44 padded
// to 64), one statement each, and every order once.
func TestOrdersChunks(t *testing.T) {
	db, one, keys := ecshopShop(t, 300)
	codes, items := shopOrders(t, db)
	s := openQueries(t, one, ordersByKeys, itemsByKeys)

	orders, executed, prepared := counted(t, one, s.Orders, keys)
	if executed != 2 || prepared != 2 {
		t.Errorf("Orders of %d keys: %d statements executed, %d prepared; want 2 and 2", len(keys), executed, prepared)
	}
	checkOrders(t, orders, keys, codes)

	got, executed, _ := counted(t, one, s.ItemsOf, keys)
	if executed != 2 {
		t.Errorf("ItemsOf of %d keys: %d statements, want 2", len(keys), executed)
	}
	checkItems(t, got, keys, items)
}

// TestOrdersPadding: the IN list padded with the last key, and keys the caller repeats, read
// each order and each item once, across chunks too.
func TestOrdersPadding(t *testing.T) {
	db, one, keys := ecshopShop(t, 260)
	codes, items := shopOrders(t, db)
	s := openQueries(t, one, ordersByKeys, itemsByKeys)

	three := keys[:3] // padded to 4: keys[2] twice in the list
	got, executed, _ := counted(t, one, s.ItemsOf, three)
	if executed != 1 {
		t.Errorf("%d statements for 3 keys, want 1", executed)
	}
	checkItems(t, got, three, items)

	// The first three again after 258 distinct keys: read again, they would come back in the
	// second chunk with their items a second time.
	repeated := append(slices.Clone(keys[:258]), keys[0], keys[1], keys[2])
	orders, executed, _ := counted(t, one, s.Orders, repeated)
	if executed != 2 {
		t.Errorf("%d statements for 258 distinct keys, want 2 (256 + 2)", executed)
	}
	checkOrders(t, orders, keys[:258], codes)
	got, _, _ = counted(t, one, s.ItemsOf, repeated)
	checkItems(t, got, keys[:258], items)
}

// TestOrdersByKey: an old config's :key queries still work through Orders and ItemsOf, one
// statement per distinct order, with the results the :keys form gives.
func TestOrdersByKey(t *testing.T) {
	db, one, keys := ecshopShop(t, 6)
	ctx := context.Background()
	codes, items := shopOrders(t, db)
	old := openQueries(t, one, byKey(ordersByKeys), byKey(itemsByKeys))
	batched := openQueries(t, one, ordersByKeys, itemsByKeys)
	ask := append(append([]string{}, keys...), keys[0], "999999")

	orders, executed, _ := counted(t, one, old.Orders, ask)
	if executed != len(keys)+1 {
		t.Errorf("%d statements, want %d (one per distinct key)", executed, len(keys)+1)
	}
	checkOrders(t, orders, keys, codes)
	got, err := old.ItemsOf(ctx, ask)
	if err != nil {
		t.Fatal(err)
	}
	checkItems(t, got, keys, items)

	want, err := batched.Orders(ctx, ask)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(orders, want) {
		t.Errorf(":key and :keys read different orders:\n%+v\n%+v", orders, want)
	}
}

// TestOrdersWithoutOrderKey: a :keys query whose rows do not name their order is a
// configuration error, permanent, naming the query and the fix, even when no row matched.
func TestOrdersWithoutOrderKey(t *testing.T) {
	_, one, keys := ecshopShop(t, 3)
	ctx := context.Background()
	s := openQueries(t, one,
		"SELECT order_sn AS order_code FROM ecs_order_info WHERE order_id IN (:keys)",
		"SELECT goods_name AS name FROM ecs_order_goods WHERE order_id IN (:keys)")
	check := func(what, query string, err error) {
		t.Helper()
		var de *shopdb.DataError
		if !errors.As(err, &de) || !de.Permanent() || !strings.Contains(err.Error(), query) ||
			!strings.Contains(err.Error(), "o.order_id AS order_key") {
			t.Errorf("%s: %v, want a permanent DataError naming %s and the order_key alias", what, err, query)
		}
	}
	_, err := s.Orders(ctx, keys)
	check("Orders", "orders.query", err)
	_, err = s.Orders(ctx, []string{"999999"})
	check("Orders of no such order", "orders.query", err)
	_, _, err = s.Order(ctx, keys[0])
	check("Order", "orders.query", err)
	_, err = s.ItemsOf(ctx, keys)
	check("ItemsOf", "orders.items_query", err)
}

// TestOrdersUnaskedRows: rows whose order_key was not asked for (here the newest order, which a
// careless OR adds to every result) are ignored.
func TestOrdersUnaskedRows(t *testing.T) {
	db, one, keys := ecshopShop(t, 4)
	codes, _ := shopOrders(t, db)
	s := openQueries(t, one, `SELECT order_id AS order_key, order_sn AS order_code FROM ecs_order_info
	 WHERE order_id IN (:keys) OR order_id = (SELECT MAX(order_id) FROM ecs_order_info)`, "")
	got, err := s.Orders(context.Background(), keys[:2])
	if err != nil {
		t.Fatal(err)
	}
	checkOrders(t, got, keys[:2], codes)
}

// TestOpenKeyAndKeys: a query using both forms is refused when opened, with its name.
func TestOpenKeyAndKeys(t *testing.T) {
	_, one, _ := ecshopShop(t, 1)
	_, err := shopdb.Open(context.Background(), one, shopdb.Config{
		Query:          "SELECT order_id AS order_key, order_sn AS order_code FROM ecs_order_info WHERE order_id = :key OR order_id IN (:keys)",
		Waybill:        waybillSQL[:1],
		CurrentWaybill: "SELECT invoice_no FROM ecs_order_info WHERE order_id = :key",
	})
	if err == nil || !strings.Contains(err.Error(), "orders.query uses both :key and :keys") {
		t.Fatalf("Open: %v, want orders.query refused for using both :key and :keys", err)
	}
}

// TestOrdersConcurrent: batches of every size from many goroutines at once share the lazily
// prepared statements (run it with -race), each reading exactly its own orders; after Close a
// read fails instead of using a closed statement.
func TestOrdersConcurrent(t *testing.T) {
	db, name, _ := testenv.DemoShop(t, 300)
	codes, _ := shopOrders(t, db)
	var keys []string
	for k := range codes {
		keys = append(keys, k)
	}
	pool := shopdb.Connect(testenv.MySQLAddr(), testenv.MySQLUser(), testenv.MySQLPassword(), name, "utf8mb4", 8)
	t.Cleanup(func() { pool.Close() })
	ctx := context.Background()
	s, err := shopdb.Open(ctx, pool, shopdb.Config{
		Query:          "SELECT order_id AS order_key, order_sn AS order_code FROM ecs_order_info WHERE order_id IN (:keys)",
		Waybill:        waybillSQL[:1],
		CurrentWaybill: "SELECT invoice_no FROM ecs_order_info WHERE order_id = :key",
	})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			for range 8 {
				ask := make([]string, 1+rng.IntN(len(keys)))
				for i := range ask {
					ask[i] = keys[rng.IntN(len(keys))]
				}
				got, err := s.Orders(ctx, ask)
				if err != nil {
					t.Error(err)
					return
				}
				for _, k := range ask {
					if got[k].Order.Code != codes[k] {
						t.Errorf("order %s read as %q, want %q", k, got[k].Order.Code, codes[k])
					}
				}
				if n := len(distinct(ask)); len(got) != n {
					t.Errorf("%d orders read for %d distinct keys", len(got), n)
				}
			}
		}()
	}
	wg.Wait()
	s.Close()
	if _, err := s.Orders(ctx, keys[:5]); err == nil {
		t.Error("read after Close succeeded")
	}
}

func distinct(keys []string) map[string]bool {
	m := map[string]bool{}
	for _, k := range keys {
		m[k] = true
	}
	return m
}
