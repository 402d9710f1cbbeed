package testenv_test

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shipsync/shipsync/testenv"
	"github.com/shipsync/shipsync/testenv/demo"
	"github.com/shipsync/shipsync/testenv/sqlscript"
)

func TestRequireMySQL(t *testing.T) {
	t.Parallel()
	db := testenv.RequireMySQL(t)
	var user, collation, database sql.NullString
	if err := db.QueryRowContext(t.Context(), "SELECT CURRENT_USER(), @@collation_connection, DATABASE()").
		Scan(&user, &collation, &database); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(user.String, "shipsync@") {
		t.Errorf("CURRENT_USER() = %q, want shipsync@…", user.String)
	}
	if collation.String != "utf8mb4_general_ci" {
		t.Errorf("collation_connection = %q, want utf8mb4_general_ci", collation.String)
	}
	if database.Valid {
		t.Errorf("DATABASE() = %q, want none", database.String)
	}
}

// The package doc promises these driver value types; tests elsewhere rely on them.
func TestDriverValueTypes(t *testing.T) {
	t.Parallel()
	db, _ := testenv.NewDatabase(t)
	testenv.ExecSQL(t, db, `CREATE TABLE v (s varchar(10), d decimal(10,2), i int, u int unsigned, f double, n int, ts datetime);
		INSERT INTO v VALUES ('北京', 12.50, -3, 4, 1.5, NULL, '2025-06-01 09:30:00');`)
	for _, q := range []string{"SELECT s, d, i, u, f, n, ts FROM v", "SELECT s, d, i, u, f, n, ts FROM v WHERE i = ?"} {
		var args []any
		if strings.Contains(q, "?") {
			args = append(args, -3) // server-side prepared statement: binary protocol
		}
		vals := make([]any, 7)
		ptrs := make([]any, 7)
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := db.QueryRowContext(t.Context(), q, args...).Scan(ptrs...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		got := fmt.Sprintf("%T %T %T %T %T %v %T=%s", vals[0], vals[1], vals[2], vals[3], vals[4], vals[5], vals[6], vals[6])
		if want := "[]uint8 []uint8 int64 uint64 float64 <nil> []uint8=2025-06-01 09:30:00"; got != want {
			t.Errorf("%s: value types %s, want %s", q, got, want)
		}
		if s, _ := vals[0].([]byte); string(s) != "北京" {
			t.Errorf("%s: s = %q, want 北京", q, s)
		}
	}
}

func TestBinlogIsOn(t *testing.T) {
	t.Parallel()
	db := testenv.RequireMySQL(t)
	want := map[string]string{
		"log_bin":          "ON",
		"binlog_format":    "ROW",
		"binlog_row_image": "FULL",
		"server_id":        "1",
	}
	for name, value := range want {
		// SHOW VARIABLES LIKE ? does not prepare on MariaDB; information_schema does.
		var v string
		if err := db.QueryRowContext(t.Context(),
			"SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_VARIABLES WHERE VARIABLE_NAME = ?",
			strings.ToUpper(name)).Scan(&v); err != nil {
			t.Fatalf("read variable %s: %v", name, err)
		}
		if v != value {
			t.Errorf("%s = %q, want %q", name, v, value)
		}
	}
	var grants []string
	rows, err := db.QueryContext(t.Context(), "SHOW GRANTS")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var g string
		if err := rows.Scan(&g); err != nil {
			t.Fatal(err)
		}
		grants = append(grants, g)
	}
	if !slices.ContainsFunc(grants, func(g string) bool { return strings.Contains(g, "GRANT ALL PRIVILEGES ON *.*") }) {
		t.Errorf("grants %q lack ALL PRIVILEGES ON *.*", grants)
	}
}

func TestNewDatabaseIsolatedAndDropped(t *testing.T) {
	t.Parallel()
	admin := testenv.RequireMySQL(t)
	var first string
	t.Run("inner", func(t *testing.T) {
		db, name := testenv.NewDatabase(t)
		first = name
		var cur string
		if err := db.QueryRowContext(t.Context(), "SELECT DATABASE()").Scan(&cur); err != nil {
			t.Fatal(err)
		}
		if cur != name {
			t.Errorf("DATABASE() = %q, want %q", cur, name)
		}
		if !strings.HasPrefix(name, "t_testnewdatabaseisolatedanddropped_inner_") || len(name) > 64 {
			t.Errorf("database name %q", name)
		}
		_, other := testenv.NewDatabase(t)
		if other == name {
			t.Errorf("two NewDatabase calls gave the same name %q", name)
		}
	})
	var n int
	if err := admin.QueryRowContext(t.Context(),
		"SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", first).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("database %s still exists after the test's cleanup", first)
	}
}

func tableEngines(t *testing.T, db *sql.DB, schema string) map[string]string {
	t.Helper()
	rows, err := db.QueryContext(t.Context(),
		"SELECT TABLE_NAME, ENGINE FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?", schema)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[string]string{}
	for rows.Next() {
		var name, engine string
		if err := rows.Scan(&name, &engine); err != nil {
			t.Fatal(err)
		}
		got[name] = engine
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}

func TestExecFileLoadsECShop(t *testing.T) {
	t.Parallel()
	db, name := testenv.NewDatabase(t)
	testenv.ExecFile(t, db, testenv.ShopSchema(t, "ecshop.sql"))
	got := tableEngines(t, db, name)
	// The tables shipsync touches, at least: the schema may carry more of ECShop's (returns).
	want := []string{"ecs_order_info", "ecs_order_goods", "ecs_goods", "ecs_region", "ecs_shipping",
		"ecs_payment", "ecs_pay_log", "ecs_order_action", "ecs_delivery_order", "ecs_delivery_goods"}
	if len(got) < len(want) {
		t.Errorf("%d tables %v, want at least %d", len(got), got, len(want))
	}
	for _, table := range want {
		if got[table] != "MyISAM" {
			t.Errorf("table %s: engine %q, want MyISAM", table, got[table])
		}
	}
	// ExecFile's SET NAMES utf8 and sql_mode must not leak into the pool.
	for range 3 {
		var charset, mode string
		if err := db.QueryRowContext(t.Context(), "SELECT @@character_set_client, @@SESSION.sql_mode").Scan(&charset, &mode); err != nil {
			t.Fatal(err)
		}
		if charset != "utf8mb4" || mode == "" {
			t.Errorf("pooled session after ExecFile: character_set_client %q, sql_mode %q", charset, mode)
		}
	}
}

// Every shop schema in ../shared/schemas must load as it is: that is what the splitter is for.
func TestExecFileLoadsAllSharedSchemas(t *testing.T) {
	t.Parallel()
	dir := filepath.Dir(testenv.SharedSchema(t, "ecshop.sql"))
	files, err := filepath.Glob(filepath.Join(dir, "*.sql"))
	if err != nil || len(files) < 6 {
		t.Fatalf("schemas in %s: %v (%v)", dir, files, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			db, name := testenv.NewDatabase(t)
			testenv.ExecFile(t, db, f)
			if n := len(tableEngines(t, db, name)); n == 0 {
				t.Errorf("%s created no tables", f)
			}
		})
	}
}

func TestExecSQLReportsTheFailingStatement(t *testing.T) {
	t.Parallel()
	db, _ := testenv.NewDatabase(t)
	// ExecSQL fails the test it is given; check the error text through the splitter's Exec instead.
	conn, err := db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	err = sqlscript.Exec(t.Context(), conn, "CREATE TABLE a (x int);\n-- two\nINSERT INTO nope VALUES (1);")
	if err == nil || !strings.Contains(err.Error(), "line 3") || !strings.Contains(err.Error(), "INSERT INTO nope") {
		t.Errorf("error = %v, want it to name line 3 and the statement", err)
	}
}

// columnDefs describes every column of schema: type, nullability, default, extra.
func columnDefs(t *testing.T, db *sql.DB, schema string) map[string]string {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), `SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE,
			COALESCE(COLUMN_DEFAULT, 'NULL'), EXTRA
		FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ?`, schema)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	defs := map[string]string{}
	for rows.Next() {
		var table, col, typ, null, def, extra string
		if err := rows.Scan(&table, &col, &typ, &null, &def, &extra); err != nil {
			t.Fatal(err)
		}
		defs[table+"."+col] = strings.Join([]string{typ, null, def, extra}, " ")
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return defs
}

func indexDefs(t *testing.T, db *sql.DB, schema string) map[string]string {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), `SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE,
			GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX)
		FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ?
		GROUP BY TABLE_NAME, INDEX_NAME, NON_UNIQUE`, schema)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	defs := map[string]string{}
	for rows.Next() {
		var table, index, cols string
		var nonUnique int
		if err := rows.Scan(&table, &index, &nonUnique, &cols); err != nil {
			t.Fatal(err)
		}
		defs[table+"."+index] = fmt.Sprintf("non_unique=%d (%s)", nonUnique, cols)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return defs
}

func TestDemoSchemaMatchesECShop(t *testing.T) {
	t.Parallel()
	demoDB, demoName := testenv.NewDatabase(t)
	if err := demo.LoadSchema(t.Context(), demoDB); err != nil {
		t.Fatal(err)
	}
	// Loading twice works: the schema drops its tables first.
	testenv.ExecSQL(t, demoDB, demo.Schema)
	engines := tableEngines(t, demoDB, demoName)
	want := []string{"ecs_order_info", "ecs_order_goods", "ecs_goods", "ecs_region", "ecs_order_action"}
	if len(engines) != len(want) {
		t.Errorf("demo tables %v, want %v", engines, want)
	}
	for _, table := range want {
		if engines[table] != "InnoDB" {
			t.Errorf("demo table %s: engine %q, want InnoDB", table, engines[table])
		}
	}

	shopDB, shopName := testenv.NewDatabase(t)
	testenv.ExecFile(t, shopDB, testenv.ShopSchema(t, "ecshop.sql"))
	shopCols := columnDefs(t, shopDB, shopName)
	demoCols := columnDefs(t, demoDB, demoName)
	for _, col := range []string{"ecs_order_info.order_id", "ecs_order_info.invoice_no", "ecs_goods.goods_weight",
		"ecs_order_goods.goods_number", "ecs_region.region_type", "ecs_order_action.log_time"} {
		if _, ok := demoCols[col]; !ok {
			t.Errorf("demo schema lacks %s", col)
		}
	}
	for col, def := range demoCols {
		if shopCols[col] != def {
			t.Errorf("%s: demo %q, ECShop %q", col, def, shopCols[col])
		}
	}
	shopIdx := indexDefs(t, shopDB, shopName)
	for idx, def := range indexDefs(t, demoDB, demoName) {
		if shopIdx[idx] != def {
			t.Errorf("index %s: demo %q, ECShop %q", idx, def, shopIdx[idx])
		}
	}
	if shopIdx["ecs_order_info.order_sn"] != "non_unique=0 (order_sn)" {
		t.Errorf("ECShop order_sn index = %q", shopIdx["ecs_order_info.order_sn"])
	}
}

var (
	mobileRE  = regexp.MustCompile(`^1[3-9][0-9]{9}$`)
	orderSNRE = regexp.MustCompile(`^20[0-9]{18}$`)
)

func TestSeedAndPay(t *testing.T) {
	t.Parallel()
	for _, schema := range []string{"demo", "ecshop"} {
		t.Run(schema, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			db, _ := testenv.NewDatabase(t)
			if schema == "demo" {
				if err := demo.LoadSchema(ctx, db); err != nil {
					t.Fatal(err)
				}
			} else {
				testenv.ExecFile(t, db, testenv.ShopSchema(t, "ecshop.sql"))
			}
			start := time.Now()
			ids, err := demo.Seed(ctx, db, 1000, 7)
			if err != nil {
				t.Fatalf("Seed: %v", err)
			}
			t.Logf("seeded 1000 orders in %v", time.Since(start))
			if len(ids) != 1000 {
				t.Fatalf("Seed returned %d ids, want 1000", len(ids))
			}
			checkOrders(t, db, ids)

			more, err := demo.SeedOrders(ctx, db, 50, 7)
			if err != nil {
				t.Fatalf("SeedOrders: %v", err)
			}
			if len(more) != 50 || more[0] <= ids[len(ids)-1] {
				t.Fatalf("SeedOrders ids %v… do not follow %d", more[:min(3, len(more))], ids[len(ids)-1])
			}
			checkOrders(t, db, append(ids, more...))

			// A second Seed leaves regions and goods alone and only adds orders.
			var regions, goods int
			countRegionsGoods := func() {
				if err := db.QueryRowContext(ctx, "SELECT (SELECT COUNT(*) FROM ecs_region), (SELECT COUNT(*) FROM ecs_goods)").
					Scan(&regions, &goods); err != nil {
					t.Fatal(err)
				}
			}
			countRegionsGoods()
			r0, g0 := regions, goods
			if _, err := demo.Seed(ctx, db, 1, 8); err != nil {
				t.Fatalf("second Seed: %v", err)
			}
			countRegionsGoods()
			if regions != r0 || goods != g0 || goods < 20 {
				t.Errorf("regions %d→%d, goods %d→%d after a second Seed", r0, regions, g0, goods)
			}

			paid := ids[100:110]
			before := time.Now().Unix()
			if err := demo.Pay(ctx, db, paid); err != nil {
				t.Fatalf("Pay: %v", err)
			}
			rows, err := db.QueryContext(ctx,
				"SELECT order_id, pay_time FROM ecs_order_info WHERE pay_status = 2 AND order_status = 1 ORDER BY order_id")
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var got []int64
			for rows.Next() {
				var id, payTime int64
				if err := rows.Scan(&id, &payTime); err != nil {
					t.Fatal(err)
				}
				if payTime < before-1 || payTime > time.Now().Unix()+1 {
					t.Errorf("order %d pay_time %d, want about now", id, payTime)
				}
				got = append(got, id)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, paid) {
				t.Errorf("paid orders %v, want %v", got, paid)
			}
		})
	}
}

func checkOrders(t *testing.T, db *sql.DB, ids []int64) {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), `SELECT o.order_id, o.order_sn, o.order_status, o.pay_status,
			o.shipping_status, o.invoice_no, o.consignee, o.mobile, o.address, o.goods_amount,
			p.region_name, c.region_name, d.region_name, co.region_name,
			COUNT(g.rec_id), COALESCE(SUM(g.goods_number * g.goods_price), 0), COALESCE(SUM(g.goods_number * gg.goods_weight), 0)
		FROM ecs_order_info o
		JOIN ecs_region co ON co.region_id = o.country AND co.region_type = 0
		JOIN ecs_region p ON p.region_id = o.province AND p.region_type = 1 AND p.parent_id = o.country
		JOIN ecs_region c ON c.region_id = o.city AND c.region_type = 2 AND c.parent_id = o.province
		JOIN ecs_region d ON d.region_id = o.district AND d.region_type = 3 AND d.parent_id = o.city
		LEFT JOIN ecs_order_goods g ON g.order_id = o.order_id
		LEFT JOIN ecs_goods gg ON gg.goods_id = g.goods_id
		GROUP BY o.order_id ORDER BY o.order_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []int64
	sns := map[string]bool{}
	for rows.Next() {
		var (
			id                                        int64
			sn, invoice, name, mobile, addr, amount   string
			orderStatus, payStatus, shipStatus, lines int
			province, city, district, country         string
			linesAmount, weight                       string
		)
		if err := rows.Scan(&id, &sn, &orderStatus, &payStatus, &shipStatus, &invoice, &name, &mobile, &addr, &amount,
			&province, &city, &district, &country, &lines, &linesAmount, &weight); err != nil {
			t.Fatal(err)
		}
		got = append(got, id)
		if !orderSNRE.MatchString(sn) || sns[sn] {
			t.Errorf("order %d: order_sn %q malformed or repeated", id, sn)
		}
		sns[sn] = true
		if orderStatus != 1 || payStatus != 0 || shipStatus != 0 || invoice != "" {
			t.Errorf("order %d: statuses %d/%d/%d invoice %q, want unpaid 1/0/0 ''", id, orderStatus, payStatus, shipStatus, invoice)
		}
		if n := len([]rune(name)); n < 2 || n > 4 || !mobileRE.MatchString(mobile) || addr == "" {
			t.Errorf("order %d: consignee %q mobile %q address %q", id, name, mobile, addr)
		}
		if country != "中国" || province == "" || city == "" || district == "" {
			t.Errorf("order %d: region %s/%s/%s/%s", id, country, province, city, district)
		}
		if lines < 1 || lines > 3 {
			t.Errorf("order %d: %d order_goods rows, want 1–3", id, lines)
		}
		if linesAmount != amount {
			t.Errorf("order %d: goods_amount %s, items sum to %s", id, amount, linesAmount)
		}
		if weight == "0" || weight == "0.000" {
			t.Errorf("order %d: items weigh %s kg", id, weight)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, ids) {
		t.Errorf("orders in the database (%d) differ from the ids returned (%d)", len(got), len(ids))
	}
}

func TestSeedIsDeterministic(t *testing.T) {
	t.Parallel()
	dump := func(seed int64) string {
		db, _ := testenv.NewDatabase(t)
		if err := demo.LoadSchema(t.Context(), db); err != nil {
			t.Fatal(err)
		}
		if _, err := demo.Seed(t.Context(), db, 200, seed); err != nil {
			t.Fatal(err)
		}
		var sum string
		if err := db.QueryRowContext(t.Context(), `SELECT MD5(GROUP_CONCAT(CONCAT_WS('|', o.order_id, o.order_sn, o.consignee,
				o.mobile, o.tel, o.email, o.address, o.zipcode, o.district, o.goods_amount, o.add_time,
				(SELECT GROUP_CONCAT(CONCAT_WS(':', goods_id, goods_number) ORDER BY rec_id) FROM ecs_order_goods g WHERE g.order_id = o.order_id))
				ORDER BY o.order_id SEPARATOR '\n')) FROM ecs_order_info o`).Scan(&sum); err != nil {
			t.Fatal(err)
		}
		return sum
	}
	a, b, c := dump(1), dump(1), dump(2)
	if a != b {
		t.Errorf("seed 1 gave different data twice: %s vs %s", a, b)
	}
	if a == c {
		t.Errorf("seeds 1 and 2 gave the same data")
	}
}

func TestRequireRedisCleansItsPrefix(t *testing.T) {
	t.Parallel()
	var prefix string
	t.Run("inner", func(t *testing.T) {
		client, p := testenv.RequireRedis(t)
		prefix = p
		if !strings.HasPrefix(p, "shipsynctest:TestRequireRedisCleansItsPrefix/inner:") || !strings.HasSuffix(p, ":") {
			t.Errorf("prefix %q", p)
		}
		for i := range 2500 { // more than one SCAN page
			if err := client.Set(t.Context(), fmt.Sprintf("%sk%d", p, i), i, 0).Err(); err != nil {
				t.Fatal(err)
			}
		}
		if err := client.HSet(t.Context(), p+"h", "f", "v").Err(); err != nil {
			t.Fatal(err)
		}
	})
	client, other := testenv.RequireRedis(t)
	if other == prefix {
		t.Fatalf("two RequireRedis calls gave the same prefix %q", prefix)
	}
	keys, err := client.Keys(t.Context(), prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 0 {
		t.Errorf("%d keys under %s left after cleanup", len(keys), prefix)
	}
}

func TestSharedSchemaFindsTheFile(t *testing.T) {
	t.Parallel()
	p := testenv.SharedSchema(t, "ecshop.sql")
	b, err := os.ReadFile(p)
	if err != nil || !strings.Contains(string(b), "CREATE TABLE `ecs_order_info`") {
		t.Errorf("SharedSchema = %s: %v", p, err)
	}
}

// TestShopFixturesMatchRealSchemas: each project fixture in testenv/shops declares its tables
// exactly as the system's real install schema does (columns with types, nullability, defaults,
// and indexes), so the tests that run on the fixture without ../shared test the real thing.
func TestShopFixturesMatchRealSchemas(t *testing.T) {
	t.Parallel()
	root, err := testenv.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	fixtures, err := filepath.Glob(filepath.Join(root, "testenv", "shops", "*.sql"))
	if err != nil || len(fixtures) == 0 {
		t.Fatalf("no fixtures in testenv/shops: %v", err)
	}
	for _, f := range fixtures {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			fixDB, fixName := testenv.NewDatabase(t)
			testenv.ExecFile(t, fixDB, f)
			realDB, realName := testenv.NewDatabase(t)
			testenv.ExecFile(t, realDB, testenv.SharedSchema(t, name))
			fixCols, realCols := columnDefs(t, fixDB, fixName), columnDefs(t, realDB, realName)
			fixIdx, realIdx := indexDefs(t, fixDB, fixName), indexDefs(t, realDB, realName)
			fixEng, realEng := tableEngines(t, fixDB, fixName), tableEngines(t, realDB, realName)
			for table, engine := range fixEng {
				if realEng[table] != engine {
					t.Errorf("%s: engine %q, the real schema's %q", table, engine, realEng[table])
				}
			}
			for col, def := range fixCols {
				if realCols[col] != def {
					t.Errorf("%s: %q, the real schema has %q", col, def, realCols[col])
				}
			}
			for col, def := range realCols {
				table, _, _ := strings.Cut(col, ".")
				if _, ok := fixEng[table]; ok && fixCols[col] == "" {
					t.Errorf("%s (%s) is missing from the fixture", col, def)
				}
			}
			for idx, def := range fixIdx {
				if realIdx[idx] != def {
					t.Errorf("index %s: %q, the real schema has %q", idx, def, realIdx[idx])
				}
			}
		})
	}
}

func BenchmarkSeed20k(b *testing.B) {
	db, _ := testenv.NewDatabase(b)
	if err := demo.LoadSchema(b.Context(), db); err != nil {
		b.Fatal(err)
	}
	for i := range b.N {
		if _, err := demo.Seed(b.Context(), db, 20000, int64(i)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(20000*b.N)/b.Elapsed().Seconds(), "orders/s")
}
