package deploy

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/shipsync/shipsync/sinks/shopdb"
	"github.com/shipsync/shipsync/sources/binlog"
	"github.com/shipsync/shipsync/sync/config"
	"github.com/shipsync/shipsync/testenv"
	"github.com/shipsync/shipsync/testenv/demo"
)

const grantsFile = "grants.sql"

// TestGrantsLeastPrivilege runs grants.sql for a throwaway user on a scratch demo schema, then
// shows that the user gets exactly those privileges, that they are enough for everything the
// shipped config.yaml and the binlog stream do, and that they allow nothing else.
func TestGrantsLeastPrivilege(t *testing.T) {
	admin := testenv.RequireMySQL(t)
	shop, schema := testenv.NewDatabase(t)
	ctx := t.Context()
	if err := demo.LoadSchema(ctx, shop); err != nil {
		t.Fatal(err)
	}
	ids, err := demo.Seed(ctx, shop, 3, 7)
	if err != nil {
		t.Fatal(err)
	}
	if err := demo.Pay(ctx, shop, ids[:1]); err != nil {
		t.Fatal(err)
	}
	orderID := ids[0]

	// The host part must be the one the server sees this test connect from: 127.0.0.1 with
	// skip-name-resolve, as in grants.sql, unless the testenv is elsewhere.
	var who string
	if err := admin.QueryRowContext(ctx, "SELECT USER()").Scan(&who); err != nil {
		t.Fatal(err)
	}
	host := who[strings.LastIndexByte(who, '@')+1:]
	user := fmt.Sprintf("shipsync_t_%08x", rand.Uint32())
	password := fmt.Sprintf("pw-%016x", rand.Uint64())
	account := "'" + user + "'@'" + host + "'"

	script := adaptGrants(t, schema, user, host, password)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP USER IF EXISTS "+account); err != nil {
			t.Errorf("drop user %s: %v", account, err)
		}
	})
	testenv.ExecSQL(t, admin, script)

	t.Run("show grants", func(t *testing.T) {
		got := showGrants(t, admin, account)
		want := map[string][]string{
			"*.*":                        {"REPLICATION CLIENT", "REPLICATION SLAVE"},
			schema + ".ecs_order_info":   {"SELECT", "UPDATE (invoice_no,shipping_status,shipping_time)"},
			schema + ".ecs_order_goods":  {"SELECT"},
			schema + ".ecs_goods":        {"SELECT"},
			schema + ".ecs_region":       {"SELECT"},
			schema + ".ecs_order_action": {"INSERT", "SELECT (action_note,action_user,order_id)"},
		}
		for obj, privs := range want {
			if !slices.Equal(got[obj], privs) {
				t.Errorf("SHOW GRANTS on %s: %q, want %q", obj, got[obj], privs)
			}
		}
		for obj, privs := range got {
			if _, ok := want[obj]; !ok {
				t.Errorf("SHOW GRANTS: unexpected %q on %s", privs, obj)
			}
		}
	})

	dsn := url.UserPassword(user, password).String() + "@" + testenv.MySQLAddr() + "/" + url.PathEscape(schema) +
		"?collation=utf8mb4_general_ci"
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if err := db.PingContext(ctx); err != nil {
		t.Fatalf("connect as %s: %v", account, err)
	}

	// Binlog: the position (REPLICATION CLIENT / BINLOG MONITOR) and the stream (REPLICATION
	// SLAVE), which reads the table's columns from information_schema as this user.
	pos, err := binlog.CurrentPosition(ctx, db)
	if err != nil {
		t.Fatalf("as %s: %v", account, err)
	}
	stream := binlog.New(binlog.Config{
		Addr: testenv.MySQLAddr(), User: user, Password: password, Flavor: "mariadb",
		ServerID: 100000 + rand.Uint32N(1<<20), Heartbeat: time.Second, Schema: schema, Table: "ecs_order_info",
	}, db, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := stream.Start(ctx, pos); err != nil {
		t.Fatalf("as %s: %v", account, err)
	}
	defer stream.Close()

	// Every statement of the shipped config.yaml, as this user.
	cfg := loadRootConfig(t)
	var orderCode string
	if err := shop.QueryRowContext(ctx, "SELECT order_sn FROM ecs_order_info WHERE order_id = ?", orderID).Scan(&orderCode); err != nil {
		t.Fatal(err)
	}
	const waybill = "SIMGRANTS0001"
	now := time.Now().Format(time.DateTime)
	values := map[string]any{
		"key": orderID, "keys": orderID, "waybill": waybill, "carrier": "sim", "shipper_code": "SIM", "order_code": orderCode,
		"status": "", "pickup_time": "", "reason": "no_pickup", "event_time": now, "now": now,
		"since":    0, // orders.backfill_query: unbounded
		"waybills": waybill, "parcels": 1, "warehouse": "", "previous_waybills": "",
	}
	for _, p := range config.Params() {
		if _, ok := values[p]; !ok {
			t.Fatalf("config.Params() has :%s, which this test binds no value for", p)
		}
	}
	read := func(name, text string) int {
		t.Helper()
		tpl := shopdb.Compile(text)
		args, err := tpl.Args(values)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		rows, err := db.QueryContext(ctx, tpl.SQL, args...)
		if err != nil {
			t.Fatalf("%s as %s: %v", name, account, err)
		}
		defer rows.Close()
		n := 0
		for rows.Next() {
			n++
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("%s as %s: %v", name, account, err)
		}
		return n
	}
	write := func(name, text string) int64 {
		t.Helper()
		tpl := shopdb.Compile(text)
		args, err := tpl.Args(values)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		res, err := db.ExecContext(ctx, tpl.SQL, args...)
		if err != nil {
			t.Fatalf("%s as %s: %v", name, account, err)
		}
		n, _ := res.RowsAffected()
		return n
	}
	if n := read("orders.query", cfg.Orders.Query); n != 1 {
		t.Errorf("orders.query returned %d rows for the paid order, want 1", n)
	}
	if n := read("orders.items_query", cfg.Orders.ItemsQuery); n == 0 {
		t.Error("orders.items_query returned no items")
	}
	read("orders.backfill_query", cfg.Orders.BackfillQuery)
	for i, s := range cfg.Writeback.Waybill {
		n := write(fmt.Sprintf("writeback.waybill[%d]", i), s)
		if i == 0 && n != 1 {
			t.Errorf("the waybill guard changed %d rows, want 1", n)
		}
	}
	read("writeback.current_waybill", cfg.Writeback.CurrentWaybill)
	statuses := make([]string, 0, len(cfg.Writeback.Status))
	for s := range cfg.Writeback.Status {
		statuses = append(statuses, s)
	}
	sort.Strings(statuses)
	for _, s := range statuses {
		values["status"] = s
		for i, stmt := range cfg.Writeback.Status[s] {
			write(fmt.Sprintf("writeback.status.%s[%d]", s, i), stmt)
		}
	}
	var invoice string
	if err := shop.QueryRowContext(ctx, "SELECT invoice_no FROM ecs_order_info WHERE order_id = ?", orderID).Scan(&invoice); err != nil {
		t.Fatal(err)
	}
	if invoice != waybill {
		t.Errorf("invoice_no = %q after the write-back, want %s", invoice, waybill)
	}

	// The stream sees the write-back's row change.
	sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	for seen := false; !seen; {
		ev, err := stream.Next(sctx)
		if err != nil {
			t.Fatalf("binlog stream as %s: %v", account, err)
		}
		for _, r := range ev.Rows {
			if v, _ := r.After.Text("invoice_no"); ev.Kind == binlog.KindRows && v == waybill {
				seen = true
			}
		}
	}

	// Nothing else.
	forbidden := []string{
		"DELETE FROM ecs_order_info WHERE order_id = 0",
		"UPDATE ecs_order_info SET order_status = 2 WHERE order_id = 0",
		"UPDATE ecs_goods SET goods_weight = 0 WHERE goods_id = 0",
		"UPDATE ecs_order_action SET action_note = '' WHERE action_id = 0",
		"INSERT INTO ecs_region (region_name) VALUES ('x')",
		"SELECT log_time FROM ecs_order_action",
		"CREATE TABLE shipsync_forbidden (i INT)",
		"DROP TABLE ecs_order_action",
		"SELECT COUNT(*) FROM mysql.user",
		"SET GLOBAL read_only = 1",
	}
	for _, q := range forbidden {
		_, err := db.ExecContext(ctx, q)
		if code, ok := serverCode(err); !ok || !slices.Contains([]uint16{1044, 1142, 1143, 1227}, code) {
			t.Errorf("%s as %s: %v, want an access-denied error", q, account, err)
		}
	}
}

// adaptGrants returns grants.sql for another schema, user, host and password, by text
// replacement of the sample values; it fails when one of them is no longer in the file.
func adaptGrants(t *testing.T, schema, user, host, password string) string {
	t.Helper()
	data, err := os.ReadFile(grantsFile)
	if err != nil {
		t.Fatal(err)
	}
	script := string(data)
	for _, r := range []struct{ old, new string }{
		{"`shop`.", "`" + schema + "`."},
		{"'shipsync'@'127.0.0.1'", "'" + user + "'@'" + host + "'"},
		{"'change-me'", "'" + password + "'"},
	} {
		if !strings.Contains(script, r.old) {
			t.Fatalf("%s no longer contains %s: update adaptGrants", grantsFile, r.old)
		}
		script = strings.ReplaceAll(script, r.old, r.new)
	}
	return script
}

// showGrants returns the account's privileges by object (schema.table or *.*, without quotes),
// each list sorted, column lists sorted and written "PRIV (a,b)". MariaDB's BINLOG MONITOR is
// reported as REPLICATION CLIENT, its old name; USAGE is left out.
func showGrants(t *testing.T, db *sql.DB, account string) map[string][]string {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), "SHOW GRANTS FOR "+account)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		rest, ok := strings.CutPrefix(line, "GRANT ")
		privs, rest, ok2 := strings.Cut(rest, " ON ")
		obj, _, ok3 := strings.Cut(rest, " TO ")
		if !ok || !ok2 || !ok3 {
			t.Fatalf("SHOW GRANTS line not understood: %s", line)
		}
		obj = strings.ReplaceAll(obj, "`", "")
		for _, p := range splitPrivileges(privs) {
			switch p {
			case "USAGE":
				continue
			case "BINLOG MONITOR":
				p = "REPLICATION CLIENT"
			case "REPLICATION REPLICA":
				p = "REPLICATION SLAVE"
			}
			out[obj] = append(out[obj], p)
		}
		sort.Strings(out[obj])
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// splitPrivileges splits "SELECT, UPDATE (`b`, `a`)" into "SELECT" and "UPDATE (a,b)".
func splitPrivileges(s string) []string {
	var out []string
	depth, start := 0, 0
	add := func(p string) {
		p = strings.TrimSpace(p)
		if name, cols, ok := strings.Cut(p, "("); ok {
			list := strings.Split(strings.TrimSuffix(strings.ReplaceAll(cols, "`", ""), ")"), ",")
			for i := range list {
				list[i] = strings.TrimSpace(list[i])
			}
			sort.Strings(list)
			p = strings.TrimSpace(name) + " (" + strings.Join(list, ",") + ")"
		}
		out = append(out, p)
	}
	for i, c := range s {
		switch c {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				add(s[start:i])
				start = i + 1
			}
		}
	}
	add(s[start:])
	return out
}

// serverCode digs the server's error code out of err; the driver wraps errors with
// pingcap/errors, whose wrappers answer Cause() rather than Unwrap().
func serverCode(err error) (uint16, bool) {
	for err != nil {
		var me *mysql.MyError
		if errors.As(err, &me) {
			return me.Code, true
		}
		c, ok := err.(interface{ Cause() error })
		if !ok || c.Cause() == err {
			return 0, false
		}
		err = c.Cause()
	}
	return 0, false
}
