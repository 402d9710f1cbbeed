// Package demo holds shipsync's demo shop: an ECShop-compatible schema of the project's own
// (schema.sql, also exported as Schema) and a deterministic seeder of regions, goods and unpaid
// orders, plus Pay, which pays orders the way ECShop does.
//
// The seeder works on the demo schema and on ECShop's real install schema (MyISAM, utf8, NOT NULL
// columns without defaults): it writes on one connection with an empty sql_mode, as ECShop
// does, and restores that connection's sql_mode afterwards. All values go through bound
// parameters.
//
// It is used by `make demo`, benchmarks and integration tests. It imports nothing from the module
// but testenv/sqlscript, and not "testing".
package demo

import (
	"context"
	"database/sql"
	"database/sql/driver"
	_ "embed"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/shipsync/shipsync/testenv/sqlscript"
)

// Schema is the demo schema (schema.sql): ecs_order_info, ecs_order_goods, ecs_goods, ecs_region
// and ecs_order_action with ECShop's names and types, InnoDB, utf8mb4. Loading it drops and
// recreates those tables.
//
//go:embed schema.sql
var Schema string

// maxRowsPerInsert bounds multi-row INSERTs (and IN lists): 500 orders × 25 columns stay far below
// the 65,535 placeholders a prepared statement may have.
const maxRowsPerInsert = 500

// LoadSchema creates the demo tables (dropping existing ones of the same names) in the default
// database of db.
func LoadSchema(ctx context.Context, db *sql.DB) error {
	return withShopSession(ctx, db, func(conn *sql.Conn) error {
		if err := sqlscript.Exec(ctx, conn, Schema); err != nil {
			return fmt.Errorf("load demo schema: %w", err)
		}
		return nil
	})
}

// Seed fills an empty shop: the region tree (country 1 = 中国, region_type 0; provinces 1, cities
// 2, districts 3 under it) and 20 goods with weights and prices, each only if its table is still
// empty, then n unpaid orders as SeedOrders. It loads no schema. The same seed on the same
// database state gives the same rows. It returns the new orders' ids.
func Seed(ctx context.Context, db *sql.DB, n int, seed int64) ([]int64, error) {
	var ids []int64
	err := withShopSession(ctx, db, func(conn *sql.Conn) error {
		if err := seedRegions(ctx, conn); err != nil {
			return err
		}
		if err := seedGoods(ctx, conn); err != nil {
			return err
		}
		var err error
		ids, err = seedOrders(ctx, conn, n, seed)
		return err
	})
	return ids, err
}

// SeedOrders adds n unpaid orders (order_status 1, pay_status 0, shipping_status 0,
// empty invoice_no) with 1–3 ecs_order_goods rows each, drawn from the regions and goods already in
// the database. order_sn is ECShop-like digits: the order's local add time (yyyymmddhhmm)
// followed by an 8-digit sequence continuing after the highest order_id, so it is unique as long
// as orders are not seeded concurrently into the same database. It returns the new order ids in
// insertion order.
func SeedOrders(ctx context.Context, db *sql.DB, n int, seed int64) ([]int64, error) {
	var ids []int64
	err := withShopSession(ctx, db, func(conn *sql.Conn) error {
		var err error
		ids, err = seedOrders(ctx, conn, n, seed)
		return err
	})
	return ids, err
}

// Pay marks orders paid the way ECShop's payment callback does, one autocommitted UPDATE per
// order on one connection, in the order given:
//
//	UPDATE ecs_order_info SET pay_status = 2, pay_time = UNIX_TIMESTAMP(), order_status = 1 WHERE order_id = ?
func Pay(ctx context.Context, db *sql.DB, ids []int64) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("pay orders: get connection: %w", err)
	}
	defer conn.Close()
	stmt, err := conn.PrepareContext(ctx,
		"UPDATE ecs_order_info SET pay_status = 2, pay_time = UNIX_TIMESTAMP(), order_status = 1 WHERE order_id = ?")
	if err != nil {
		return fmt.Errorf("pay orders: prepare: %w", err)
	}
	defer stmt.Close()
	for _, id := range ids {
		if _, err := stmt.ExecContext(ctx, id); err != nil {
			return fmt.Errorf("pay order %d: %w", id, err)
		}
	}
	return nil
}

// withShopSession runs fn on one connection with the relaxed sql_mode shops run with, then puts
// the connection's sql_mode back, or drops the connection if that fails.
func withShopSession(ctx context.Context, db *sql.DB, fn func(*sql.Conn) error) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("get connection: %w", err)
	}
	defer conn.Close()
	var mode string
	if err := conn.QueryRowContext(ctx, "SELECT @@SESSION.sql_mode").Scan(&mode); err != nil {
		return fmt.Errorf("read sql_mode: %w", err)
	}
	if _, err := conn.ExecContext(ctx, "SET SESSION sql_mode = ''"); err != nil {
		return fmt.Errorf("set sql_mode: %w", err)
	}
	fnErr := fn(conn)
	restoreCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := conn.ExecContext(restoreCtx, "SET SESSION sql_mode = ?", mode); err != nil {
		// Never hand a connection with a surprising session back to the pool.
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	}
	return fnErr
}

func isEmpty(ctx context.Context, conn *sql.Conn, table string) (bool, error) {
	var one int
	// table is one of our constants, never input.
	err := conn.QueryRowContext(ctx, "SELECT 1 FROM "+table+" LIMIT 1").Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("check %s: %w", table, err)
	}
	return false, nil
}

func seedRegions(ctx context.Context, conn *sql.Conn) error {
	empty, err := isEmpty(ctx, conn, "ecs_region")
	if err != nil || !empty {
		return err
	}
	// ECShop numbers its regions level by level: the country, then provinces, cities, districts.
	type row struct {
		id, parent int
		name       string
		typ        int
	}
	rows := []row{{1, 0, countryName, 0}}
	next := 2
	provinceIDs := make([]int, len(regionTree))
	for i, p := range regionTree {
		provinceIDs[i] = next
		rows = append(rows, row{next, 1, p.name, 1})
		next++
	}
	var cityIDs [][]int
	for i, p := range regionTree {
		ids := make([]int, len(p.cities))
		for j, c := range p.cities {
			ids[j] = next
			rows = append(rows, row{next, provinceIDs[i], c.name, 2})
			next++
		}
		cityIDs = append(cityIDs, ids)
	}
	for i, p := range regionTree {
		for j, c := range p.cities {
			for _, d := range c.districts {
				rows = append(rows, row{next, cityIDs[i][j], d.name, 3})
				next++
			}
		}
	}
	args := make([]any, 0, 4*len(rows))
	for _, r := range rows {
		args = append(args, r.id, r.parent, r.name, r.typ)
	}
	q := "INSERT INTO ecs_region (region_id, parent_id, region_name, region_type) VALUES " + placeholders(len(rows), 4)
	if _, err := conn.ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("insert regions: %w", err)
	}
	return nil
}

func seedGoods(ctx context.Context, conn *sql.Conn) error {
	empty, err := isEmpty(ctx, conn, "ecs_goods")
	if err != nil || !empty {
		return err
	}
	args := make([]any, 0, 5*len(catalogue))
	for i, p := range catalogue {
		args = append(args, fmt.Sprintf("ECS%06d", i+1), p.name, p.stock, p.weightKg, p.priceYuan)
	}
	q := "INSERT INTO ecs_goods (goods_sn, goods_name, goods_number, goods_weight, shop_price) VALUES " +
		placeholders(len(catalogue), 5)
	if _, err := conn.ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("insert goods: %w", err)
	}
	return nil
}

type place struct {
	country, province, city, district int64
	cityName, districtName            string
}

type goodsRow struct {
	id         int64
	sn, name   string
	priceCents int64
}

type orderLine struct {
	goods *goodsRow
	qty   int
}

type order struct {
	sn    string
	args  []any
	lines []orderLine
}

const orderColumns = "order_sn, order_status, shipping_status, pay_status, consignee, country, province, city, district, " +
	"address, zipcode, tel, mobile, email, postscript, shipping_id, shipping_name, pay_id, pay_name, " +
	"goods_amount, order_amount, add_time, pay_time, shipping_time, invoice_no"

const orderColumnCount = 25

// baseTime is when the demo shop's first order came in (Beijing time); later orders follow about
// every 30 s, so timestamps and order_sn are deterministic.
var (
	beijing  = time.FixedZone("CST", 8*3600)
	baseTime = time.Date(2025, 6, 1, 9, 0, 0, 0, beijing).Unix()
)

// stmts keeps the prepared statements of one seeding run: a batch statement has thousands of
// placeholders, and preparing it again for every batch would cost as much as executing it.
type stmts struct {
	conn *sql.Conn
	byQ  map[string]*sql.Stmt
}

func (s *stmts) exec(ctx context.Context, q string, args ...any) error {
	st, err := s.prepare(ctx, q)
	if err != nil {
		return err
	}
	_, err = st.ExecContext(ctx, args...)
	return err
}

func (s *stmts) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	st, err := s.prepare(ctx, q)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

func (s *stmts) prepare(ctx context.Context, q string) (*sql.Stmt, error) {
	if st, ok := s.byQ[q]; ok {
		return st, nil
	}
	st, err := s.conn.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	if s.byQ == nil {
		s.byQ = map[string]*sql.Stmt{}
	}
	s.byQ[q] = st
	return st, nil
}

func (s *stmts) close() {
	for _, st := range s.byQ {
		_ = st.Close()
	}
}

func seedOrders(ctx context.Context, conn *sql.Conn, n int, seed int64) ([]int64, error) {
	if n <= 0 {
		return nil, nil
	}
	places, err := loadPlaces(ctx, conn)
	if err != nil {
		return nil, err
	}
	goods, err := loadGoods(ctx, conn)
	if err != nil {
		return nil, err
	}
	var maxID int64
	if err := conn.QueryRowContext(ctx, "SELECT COALESCE(MAX(order_id), 0) FROM ecs_order_info").Scan(&maxID); err != nil {
		return nil, fmt.Errorf("read highest order_id: %w", err)
	}
	zips, areaCodes, streets := lookups()
	rng := rand.New(rand.NewPCG(uint64(seed), uint64(maxID)))
	st := &stmts{conn: conn}
	defer st.close()

	ids := make([]int64, 0, n)
	for start := 0; start < n; start += maxRowsPerInsert {
		batch := make([]order, min(maxRowsPerInsert, n-start))
		for i := range batch {
			seq := maxID + int64(start+i) + 1
			batch[i] = newOrder(rng, seq, places, goods, zips, areaCodes, streets)
		}
		batchIDs, err := insertOrders(ctx, st, batch)
		if err != nil {
			return nil, err
		}
		ids = append(ids, batchIDs...)
	}
	return ids, nil
}

func newOrder(rng *rand.Rand, seq int64, places []place, goods []goodsRow,
	zips map[string]string, areaCodes map[string]string, streets map[string][]string) order {
	pl := places[rng.IntN(len(places))]
	addTime := baseTime + seq*30 + rng.Int64N(30)
	sn := time.Unix(addTime, 0).In(beijing).Format("200601021504") + fmt.Sprintf("%08d", seq%100_000_000)

	name := surnames[rng.IntN(len(surnames))] + givenNames[rng.IntN(len(givenNames))]
	mobile := fmt.Sprintf("1%d%09d", 3+rng.IntN(7), rng.IntN(1_000_000_000))
	tel := ""
	if code := areaCodes[pl.cityName]; code != "" && rng.IntN(5) == 0 {
		digits := 8
		if len(code) == 4 {
			digits = 7
		}
		tel = fmt.Sprintf("%s-%d%0*d", code, 5+rng.IntN(4), digits-1, rng.IntN(pow10(digits-1)))
	}
	email := ""
	if rng.IntN(3) > 0 {
		email = fmt.Sprintf("%d@%s", 10000000+rng.IntN(2_000_000_000), emailDomains[rng.IntN(len(emailDomains))])
	}
	postscript := ""
	if rng.IntN(4) == 0 {
		postscript = postscripts[rng.IntN(len(postscripts))]
	}
	ship := shippings[rng.IntN(len(shippings))]
	pay := payments[rng.IntN(len(payments))]

	// 1–3 distinct goods, mostly one piece each.
	k := 1 + rng.IntN(3)
	if k > len(goods) {
		k = len(goods)
	}
	perm := rng.Perm(len(goods))[:k]
	lines := make([]orderLine, k)
	var cents int64
	for i, gi := range perm {
		qty := 1
		if rng.IntN(4) == 0 {
			qty = 2 + rng.IntN(2)
		}
		lines[i] = orderLine{goods: &goods[gi], qty: qty}
		cents += goods[gi].priceCents * int64(qty)
	}
	amount := formatCents(cents)

	args := []any{
		sn, 1, 0, 0, name, pl.country, pl.province, pl.city, pl.district,
		address(rng, streets[pl.cityName+"/"+pl.districtName]), zips[pl.cityName+"/"+pl.districtName],
		tel, mobile, email, postscript, ship.id, ship.name, pay.id, pay.name,
		amount, amount, addTime, 0, 0, "",
	}
	return order{sn: sn, args: args, lines: lines}
}

func address(rng *rand.Rand, streets []string) string {
	if len(streets) == 0 {
		streets = genericStreets
	}
	street := streets[rng.IntN(len(streets))]
	no := 1 + rng.IntN(399)
	if rng.IntN(4) == 0 {
		return fmt.Sprintf("%s%d号%s%d层%02d室", street, no, buildings[rng.IntN(len(buildings))], 2+rng.IntN(30), 1+rng.IntN(20))
	}
	return fmt.Sprintf("%s%d号%s%d栋%d单元%d%02d室", street, no, communities[rng.IntN(len(communities))],
		1+rng.IntN(20), 1+rng.IntN(4), 1+rng.IntN(30), 1+rng.IntN(4))
}

func insertOrders(ctx context.Context, st *stmts, batch []order) ([]int64, error) {
	args := make([]any, 0, orderColumnCount*len(batch))
	sns := make([]any, len(batch))
	for i, o := range batch {
		args = append(args, o.args...)
		sns[i] = o.sn
	}
	q := "INSERT INTO ecs_order_info (" + orderColumns + ") VALUES " + placeholders(len(batch), orderColumnCount)
	if err := st.exec(ctx, q, args...); err != nil {
		return nil, fmt.Errorf("insert orders: %w", err)
	}

	// Read the ids back by order_sn rather than trusting LastInsertId to be the first of a
	// consecutive range (auto_increment_increment, concurrent inserts, engine differences).
	rows, err := st.query(ctx,
		"SELECT order_id, order_sn FROM ecs_order_info WHERE order_sn IN "+placeholders(1, len(sns)), sns...)
	if err != nil {
		return nil, fmt.Errorf("read order ids: %w", err)
	}
	idBySN := make(map[string]int64, len(batch))
	for rows.Next() {
		var id int64
		var sn string
		if err := rows.Scan(&id, &sn); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read order ids: %w", err)
		}
		idBySN[sn] = id
	}
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("read order ids: %w", err)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read order ids: %w", err)
	}

	ids := make([]int64, len(batch))
	var lineArgs []any
	lineCount := 0
	flush := func() error {
		if lineCount == 0 {
			return nil
		}
		q := "INSERT INTO ecs_order_goods (order_id, goods_id, goods_name, goods_sn, goods_number, goods_price) VALUES " +
			placeholders(lineCount, 6)
		if err := st.exec(ctx, q, lineArgs...); err != nil {
			return fmt.Errorf("insert order goods: %w", err)
		}
		lineArgs, lineCount = lineArgs[:0], 0
		return nil
	}
	for i, o := range batch {
		id, ok := idBySN[o.sn]
		if !ok {
			return nil, fmt.Errorf("order %s vanished after insert", o.sn)
		}
		ids[i] = id
		for _, l := range o.lines {
			if lineCount == maxRowsPerInsert {
				if err := flush(); err != nil {
					return nil, err
				}
			}
			lineArgs = append(lineArgs, id, l.goods.id, l.goods.name, l.goods.sn, l.qty, formatCents(l.goods.priceCents))
			lineCount++
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return ids, nil
}

func loadPlaces(ctx context.Context, conn *sql.Conn) ([]place, error) {
	rows, err := conn.QueryContext(ctx, `SELECT p.parent_id, p.region_id, c.region_id, c.region_name, d.region_id, d.region_name
		FROM ecs_region d
		JOIN ecs_region c ON c.region_id = d.parent_id
		JOIN ecs_region p ON p.region_id = c.parent_id
		WHERE d.region_type = 3
		ORDER BY d.region_id`)
	if err != nil {
		return nil, fmt.Errorf("read regions: %w", err)
	}
	defer rows.Close()
	var places []place
	for rows.Next() {
		var p place
		if err := rows.Scan(&p.country, &p.province, &p.city, &p.cityName, &p.district, &p.districtName); err != nil {
			return nil, fmt.Errorf("read regions: %w", err)
		}
		places = append(places, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read regions: %w", err)
	}
	if len(places) == 0 {
		return nil, errors.New("no districts (region_type 3) in ecs_region: seed regions first (demo.Seed)")
	}
	return places, nil
}

func loadGoods(ctx context.Context, conn *sql.Conn) ([]goodsRow, error) {
	rows, err := conn.QueryContext(ctx, "SELECT goods_id, goods_sn, goods_name, shop_price FROM ecs_goods ORDER BY goods_id")
	if err != nil {
		return nil, fmt.Errorf("read goods: %w", err)
	}
	defer rows.Close()
	var goods []goodsRow
	for rows.Next() {
		var g goodsRow
		var price string
		if err := rows.Scan(&g.id, &g.sn, &g.name, &price); err != nil {
			return nil, fmt.Errorf("read goods: %w", err)
		}
		if g.priceCents, err = parseCents(price); err != nil {
			return nil, fmt.Errorf("read goods %d: %w", g.id, err)
		}
		goods = append(goods, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read goods: %w", err)
	}
	if len(goods) == 0 {
		return nil, errors.New("no goods in ecs_goods: seed goods first (demo.Seed)")
	}
	return goods, nil
}

// lookups indexes the fixed region data by "city/district" (zip codes, streets) and city (landline
// area codes), for regions read back from the database.
func lookups() (zips, areaCodes map[string]string, streets map[string][]string) {
	zips, areaCodes, streets = map[string]string{}, map[string]string{}, map[string][]string{}
	for _, p := range regionTree {
		for _, c := range p.cities {
			areaCodes[c.name] = c.areaCode
			for _, d := range c.districts {
				zips[c.name+"/"+d.name] = d.zip
				streets[c.name+"/"+d.name] = d.streets
			}
		}
	}
	return zips, areaCodes, streets
}

// placeholders returns rows groups of cols placeholders: "(?,?),(?,?)".
func placeholders(rows, cols int) string {
	group := "(" + strings.Repeat("?,", cols-1) + "?)"
	return strings.Repeat(group+",", rows-1) + group
}

func parseCents(s string) (int64, error) {
	whole, frac, _ := strings.Cut(s, ".")
	frac = (frac + "00")[:2]
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parse price %q: %w", s, err)
	}
	f, err := strconv.ParseInt(frac, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parse price %q: %w", s, err)
	}
	return w*100 + f, nil
}

func formatCents(c int64) string { return fmt.Sprintf("%d.%02d", c/100, c%100) }

func pow10(n int) int {
	p := 1
	for range n {
		p *= 10
	}
	return p
}
