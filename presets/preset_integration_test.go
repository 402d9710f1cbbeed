package presets_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shipsync/shipsync/presets"
	"github.com/shipsync/shipsync/sinks/carrier/kdniao"
	"github.com/shipsync/shipsync/sinks/carrier/kdniao/sim"
	"github.com/shipsync/shipsync/sync/state"
	"github.com/shipsync/shipsync/testenv"
)

// system is what one preset's test knows of its shop system: how the shop itself pays and
// cancels, and what its admin and customer see afterwards. Each <preset>_integration_test.go
// fills one and calls testPreset.
type system struct {
	preset string   // presets/<preset>.yaml
	schema string   // testenv/shops/<schema> (the fixture) and ../shared/schemas/<schema> (the real one)
	prefix string   // the table prefix the schema files are written with
	set    []string // extra PATH=VALUE for this variant (as shipsync init --set)
	// install, when set, returns SQL run after the schema (written for the given prefix): the
	// tables the system's installer creates beside those the schema files hold (WordPress's
	// comments for WooCommerce's order notes).
	install func(prefix string) string
	// seed inserts n unpaid orders the way the shop's checkout does and returns them in order;
	// most receivers have Chinese names and addresses.
	seed func(t *testing.T, s *shop, n int) []order
	// pay pays the orders inside tx the way the shop's payment path does.
	pay func(t *testing.T, s *shop, tx *sql.Tx, orders []order)
	// cancel cancels the order inside tx the way the shop's admin does.
	cancel func(t *testing.T, s *shop, tx *sql.Tx, o order)
	// shipped returns the tracking numbers the shop holds for o (each once, in the places DESIGN
	// §8 names) and a problem when what the admin or customer sees is wrong: a second shipment,
	// track or history row, a status other than the preset's "shipped" state.
	shipped func(t *testing.T, s *shop, o order) (waybills []string, problem string)
	// untouched returns what shipsync wrote for o, "" when nothing.
	untouched func(t *testing.T, s *shop, o order) string
	// status reports whether o shows the canonical status (delivered, exception) the way the
	// preset writes it, with what it shows instead.
	status func(t *testing.T, s *shop, o order, canonical string) (ok bool, shows string)
}

// order is a shop order: its key (the primary key, as the binlog has it) and its code (the
// number the customer sees, sent to the carrier as OrderCode).
type order struct{ Key, Code string }

// shop is the shop's database as the test sees it.
type shop struct {
	*sql.DB
	Name   string // the schema
	Prefix string // the table prefix it was installed with
}

// T is a table's name with the shop's prefix, quoted.
func (s *shop) T(table string) string { return "`" + s.Prefix + table + "`" }

// count runs a COUNT(*) query and fails the test on error.
func (s *shop) count(t *testing.T, q string, args ...any) int {
	t.Helper()
	var n int
	if err := s.QueryRow(q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// testPreset runs the preset's scenario on the project's fixture, on the fixture installed with
// another table prefix, and on the real install schema when ../shared is beside the checkout.
func testPreset(t *testing.T, sys system) {
	root, err := testenv.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	fixture := filepath.Join(root, "testenv", "shops", sys.schema)
	t.Run("fixture", func(t *testing.T) { runPreset(t, sys, fixture, sys.prefix) })
	t.Run("fixture_prefix_shop", func(t *testing.T) { runPreset(t, sys, fixture, "shop_") })
	t.Run("real_schema", func(t *testing.T) { runPreset(t, sys, testenv.SharedSchema(t, sys.schema), sys.prefix) })
}

// runPreset installs the schema, runs shipsync with the preset printed by init as a user with
// only the preset's grants, and checks what the shop shows: orders paid alone and several in one
// transaction ship once each, unpaid and cancelled ones stay untouched, a SIGKILL mid-stream
// changes nothing, and delivered and exception pushes reach the shop's statuses.
func runPreset(t *testing.T, sys system, schemaPath, prefix string) {
	db, name := testenv.NewDatabase(t)
	script, err := os.ReadFile(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	testenv.ExecSQL(t, db, withPrefix(string(script), sys.prefix, prefix))
	if sys.install != nil {
		testenv.ExecSQL(t, db, sys.install(prefix))
	}
	s := &shop{DB: testenv.ShopDB(t, name), Name: name, Prefix: prefix}
	user := grantedUser(t, db, sys.preset, name, prefix)

	carrier := sim.New(sim.Config{EBusinessID: "test-ebusiness", AppKey: testenv.TestAppKey})
	srv := httptest.NewServer(carrier)
	t.Cleanup(srv.Close)
	_, redisPrefix := testenv.RequireRedis(t)
	listen := testenv.FreeAddr(t)
	conf, err := presets.Render(sys.preset, presets.Params{Prefix: prefix, Database: name})
	if err != nil {
		t.Fatal(err)
	}
	conf, err = presets.Set(conf, append([]string{
		"shop.addr=" + testenv.MySQLAddr(), "shop.user=" + user,
		fmt.Sprintf("shop.server_id=%d", 100000+rand.Uint32N(1<<30)),
		"state.redis.addr=" + testenv.RedisAddr(), "state.redis.prefix=" + redisPrefix,
		"carriers[0].url=" + srv.URL + sim.CreatePath, "carriers[0].track_url=" + srv.URL + sim.TrackPath,
		"carriers[0].shipper_code=SIM", "http.listen=" + listen, "admin.listen=127.0.0.1:0",
		"retry.interval=200ms",
		// The killed process's binlog lease lapses this soon, so the restarted one takes over.
		"state.leader_ttl=2s",
	}, sys.set...))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "shipsync.yaml")
	if err := os.WriteFile(path, conf, 0o600); err != nil {
		t.Fatal(err)
	}
	rdb, _ := testenv.RequireRedis(t)
	store := state.New(rdb, redisPrefix)
	d := testenv.NewDaemon(t, testenv.BuildShipsync(t), path)
	d.Start()
	testenv.Eventually(t, 30*time.Second, 20*time.Millisecond, func() (bool, string) {
		_, ok, err := store.LoadCheckpoint(t.Context())
		return ok, fmt.Sprintf("shipsync has not saved a checkpoint (err %v)", err)
	})

	orders := sys.seed(t, s, 14)
	if len(orders) != 14 {
		t.Fatalf("seed returned %d orders, want 14", len(orders))
	}
	inTx := func(f func(tx *sql.Tx)) {
		t.Helper()
		tx, err := s.Begin()
		if err != nil {
			t.Fatal(err)
		}
		f(tx)
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	pay := func(os ...order) { inTx(func(tx *sql.Tx) { sys.pay(t, s, tx, os) }) }

	// First wave: one order alone, three in one transaction, one paid and cancelled in the
	// same transaction; two never paid.
	pay(orders[0])
	pay(orders[1:4]...)
	inTx(func(tx *sql.Tx) { sys.pay(t, s, tx, orders[4:5]); sys.cancel(t, s, tx, orders[4]) })
	paid := slices.Clone(orders[0:4])
	waitShipped(t, s, sys, carrier, paid)

	// Second wave, killed as soon as the first of it is written, then restarted.
	wave := orders[7:14]
	pay(wave[0:2]...)
	pay(wave[2:5]...)
	pay(wave[5:7]...)
	testenv.Eventually(t, 30*time.Second, 5*time.Millisecond, func() (bool, string) {
		ws, _ := sys.shipped(t, s, wave[0])
		return len(ws) > 0, "the second wave's first order is not shipped"
	})
	d.Stop(syscall.SIGKILL) //nolint:errcheck // killed on purpose
	d.Start()
	// The pushes below need the restarted daemon's listener (it may have nothing left to ship).
	testenv.Eventually(t, 30*time.Second, 20*time.Millisecond, func() (bool, string) {
		c, err := net.DialTimeout("tcp", listen, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil, fmt.Sprintf("the restarted shipsync does not listen on %s: %v", listen, err)
	})
	paid = append(paid, wave...)
	waitShipped(t, s, sys, carrier, paid)
	if st := carrier.Stats(); st.Creates != int64(len(paid)) {
		t.Errorf("%d creates at the simulator for %d paid orders (%d repeats)", st.Creates, len(paid), st.Repeats)
	}

	// Pushes: one delivered, one exception.
	push(t, listen, orders[0], carrier, "3", "301", "已签收")
	push(t, listen, orders[1], carrier, "4", "405", "派送异常")
	for _, c := range []struct {
		o      order
		status string
	}{{orders[0], "delivered"}, {orders[1], "exception"}} {
		testenv.Eventually(t, 30*time.Second, 20*time.Millisecond, func() (bool, string) {
			ok, shows := sys.status(t, s, c.o, c.status)
			return ok, fmt.Sprintf("order %s after a %s push shows %s", c.o.Code, c.status, shows)
		})
	}
	// Replays of the same pushes change nothing.
	push(t, listen, orders[0], carrier, "3", "301", "已签收")
	push(t, listen, orders[1], carrier, "4", "405", "派送异常")

	// What the shop ends with: each paid order once, the rest untouched.
	for _, o := range paid {
		ws, problem := sys.shipped(t, s, o)
		want, _ := carrier.Waybill(o.Code)
		if len(ws) != 1 || ws[0] != want || problem != "" {
			t.Errorf("order %s: the shop holds waybills %q, the simulator made %q; %s", o.Code, ws, want, problem)
		}
	}
	if os.Getenv("SHIPSYNC_DEMO") != "" {
		demoReport(t, s, sys, carrier, orders, paid)
	}
	for _, o := range []order{orders[4], orders[5], orders[6]} {
		if w := sys.untouched(t, s, o); w != "" {
			t.Errorf("order %s (unpaid or cancelled) was written: %s", o.Code, w)
		}
		if _, ok := carrier.Waybill(o.Code); ok {
			t.Errorf("order %s (unpaid or cancelled) got a waybill", o.Code)
		}
	}
}

// waitShipped waits until every order holds the simulator's waybill in the shop.
func waitShipped(t *testing.T, s *shop, sys system, carrier *sim.Server, orders []order) {
	t.Helper()
	testenv.Eventually(t, 60*time.Second, 20*time.Millisecond, func() (bool, string) {
		for _, o := range orders {
			want, ok := carrier.Waybill(o.Code)
			if !ok {
				return false, fmt.Sprintf("order %s has no waybill at the simulator", o.Code)
			}
			// Until the problem is gone too: on MyISAM a write-back cut by a SIGKILL shows the
			// waybill before the statements after the guard ran (the replay completes them).
			ws, problem := sys.shipped(t, s, o)
			if !slices.Contains(ws, want) || problem != "" {
				return false, fmt.Sprintf("order %s: the shop holds %q, want %s (%s)", o.Code, ws, want, problem)
			}
		}
		return true, ""
	})
}

// push sends a signed Kdniao trace push for o's waybill, as Kdniao would, and requires success.
func push(t *testing.T, listen string, o order, carrier *sim.Server, state, stateEx, station string) {
	t.Helper()
	waybill, ok := carrier.Waybill(o.Code)
	if !ok {
		t.Fatalf("order %s has no waybill to push", o.Code)
	}
	now := time.Now().In(kdniao.Shanghai())
	tr := kdniao.Trace{EBusinessID: "test-ebusiness", OrderCode: o.Code, ShipperCode: "SIM", LogisticCode: waybill,
		Success: true, State: state, StateEx: stateEx, Traces: []kdniao.TraceEvent{
			{AcceptTime: now.Add(-time.Hour).Format(kdniao.TimeLayout), AcceptStation: "已揽收", Action: "1"},
			{AcceptTime: now.Format(kdniao.TimeLayout), AcceptStation: station, Action: stateEx}}}
	form, err := kdniao.EncodePush(kdniao.TracePush{EBusinessID: "test-ebusiness", PushTime: now.Format(kdniao.TimeLayout),
		Count: "1", Data: []kdniao.Trace{tr}}, testenv.TestAppKey)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.PostForm("http://"+listen+"/push/kdniao", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var reply struct{ Success bool }
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &reply) != nil || !reply.Success {
		t.Fatalf("push %s for %s: HTTP %d %s", stateEx, o.Code, resp.StatusCode, body)
	}
}

// withPrefix rewrites an install script's table prefix: every identifier starting with from, or,
// for a script written without a prefix, the name of every table it creates where a statement
// names a table.
func withPrefix(script, from, to string) string {
	if from == to {
		return script
	}
	if from != "" {
		re := regexp.MustCompile(`(^|[^A-Za-z0-9_])` + regexp.QuoteMeta(from))
		return re.ReplaceAllString(script, "${1}"+to)
	}
	created := regexp.MustCompile("(?i)CREATE\\s+TABLE\\s+(?:IF\\s+NOT\\s+EXISTS\\s+)?`?([A-Za-z0-9_]+)`?")
	for _, m := range created.FindAllStringSubmatch(script, -1) {
		name := regexp.QuoteMeta(m[1])
		re := regexp.MustCompile("(?i)(\\b(?:TABLE|EXISTS|INTO|REFERENCES|UPDATE|FROM|JOIN)\\s+`?)" + name + "(`|[^A-Za-z0-9_`]|$)")
		script = re.ReplaceAllString(script, "${1}"+to+m[1]+"${2}")
	}
	return script
}

// grantedUser creates a user with exactly the preset's grants (shipsync init --grants) and the
// test environment's password, dropped at the end; shipsync runs as it.
func grantedUser(t *testing.T, db *sql.DB, preset, database, prefix string) string {
	t.Helper()
	user := fmt.Sprintf("pre_%08x", rand.Uint32())
	account := fmt.Sprintf("'%s'@'127.0.0.1'", user)
	grants, err := presets.Grants(preset, presets.Params{Prefix: prefix, Database: database, User: account})
	if err != nil {
		t.Fatal(err)
	}
	testenv.ExecSQL(t, db, string(grants))
	t.Cleanup(func() { db.ExecContext(context.Background(), "DROP USER IF EXISTS "+account) }) //nolint:errcheck
	// ALTER USER takes no placeholder; the test password is the environment's own.
	pw := strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(testenv.MySQLPassword())
	if _, err := db.Exec("ALTER USER " + account + " IDENTIFIED BY '" + pw + "'"); err != nil {
		t.Fatal(err)
	}
	return user
}

// Chinese receivers for the seeds: name, mobile, province, city, district, street.
var receivers = [][6]string{
	{"张伟", "13800138001", "广东省", "深圳市", "南山区", "科技园科苑路15号"},
	{"王芳", "13900139002", "北京", "北京市", "朝阳区", "三里屯街道雅秀大厦"},
	{"李娜", "13700137003", "浙江省", "杭州市", "西湖区", "文三路90号"},
	{"刘洋", "13600136004", "上海", "上海市", "浦东新区", "世纪大道100号"},
	{"陈静", "13500135005", "四川省", "成都市", "武侯区", "人民南路四段1号"},
}

// receiver returns the i-th seed receiver.
func receiver(i int) [6]string { return receivers[i%len(receivers)] }

// demoReport prints what `make demo PRESET=...` shows: each order, what the carrier made and
// what the shop holds now.
func demoReport(t *testing.T, s *shop, sys system, carrier *sim.Server, orders, paid []order) {
	prefix := ""
	if s.Prefix != "" {
		prefix = " --prefix " + s.Prefix
	}
	t.Logf("%s preset on the %s fixture (database %s, prefix %q), its config printed by: shipsync init --preset %s --database %s%s",
		sys.preset, sys.schema, s.Name, s.Prefix, sys.preset, s.Name, prefix)
	for i, o := range orders {
		w, _ := carrier.Waybill(o.Code)
		switch {
		case slices.Contains(paid, o):
			ws, _ := sys.shipped(t, s, o)
			_, delivered := sys.status(t, s, o, "delivered")
			what := "paid"
			switch i {
			case 0:
				what = "paid, then a delivered push"
			case 1:
				what = "paid, then an exception push"
			}
			t.Logf("  order %-14s %-28s waybill %-16s the shop holds %q; %s", o.Code, what, w, ws, delivered)
		case i == 4:
			t.Logf("  order %-14s %-28s no waybill; untouched: %v", o.Code, "paid and cancelled", sys.untouched(t, s, o) == "")
		default:
			t.Logf("  order %-14s %-28s no waybill; untouched: %v", o.Code, "never paid", sys.untouched(t, s, o) == "")
		}
	}
	st := carrier.Stats()
	t.Logf("  the carrier simulator created %d waybills (%d repeated requests answered with the same one), through a SIGKILL of shipsync mid-stream", st.Creates, st.Repeats)
}

// scanMaps returns the rows as column -> text (NULL as ""), and closes them.
func scanMaps(t *testing.T, rows *sql.Rows) []map[string]string {
	t.Helper()
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		m := make(map[string]string, len(cols))
		for i, c := range cols {
			m[c] = vals[i].String
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
