package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/shipsync/shipsync/sinks/shopdb"
	"github.com/shipsync/shipsync/sync/config"
)

// checkCmd is the preflight of DESIGN.md §4: one line per check, exit 1 on any failure.
func checkCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "config.yaml", "configuration file")
	if err := fs.Parse(args); err != nil {
		return flagError(err)
	}
	failed := false
	line := func(ok bool, name, detail string) {
		mark := "ok  "
		if !ok {
			mark, failed = "FAIL", true
		}
		if detail != "" {
			name += ": " + detail
		}
		fmt.Fprintf(stdout, "%s %s\n", mark, name)
	}
	warn := func(name, detail string) { fmt.Fprintf(stdout, "warn %s: %s\n", name, detail) }

	cfg, err := config.Load(*path)
	if err != nil {
		line(false, "config "+*path, "\n"+indent(err.Error()))
		return exitCode(1)
	}
	line(true, "config "+*path, "")

	checkShop(ctx, cfg, line, warn)
	checkRedis(ctx, cfg, line)
	if failed {
		return exitCode(1)
	}
	return nil
}

func checkShop(ctx context.Context, cfg *config.Config, line func(bool, string, string), warn func(string, string)) {
	db, err := connectShop(cfg.Shop, 2)
	if err != nil {
		line(false, "shop TLS files", err.Error())
		return
	}
	defer db.Close()
	if err := db.PingContext(ctx); err != nil {
		line(false, "shop reachable at "+cfg.Shop.Addr, unreachable(err, "shop.tls", cfg.Shop.TLS))
	} else {
		line(true, "shop reachable at "+cfg.Shop.Addr, "")
		checkVar(ctx, db, line, "log_bin", "ON", "enable the binary log (log_bin) in the server config")
		checkVar(ctx, db, line, "binlog_format", "ROW", "SET GLOBAL binlog_format = 'ROW' (and in my.cnf)")
		checkVar(ctx, db, line, "binlog_row_image", "FULL", "SET GLOBAL binlog_row_image = 'FULL' (and in my.cnf)")
		if v, err := variable(ctx, db, "binlog_row_metadata"); err == nil && !strings.EqualFold(v, "FULL") {
			warn("binlog_row_metadata is "+v, "FULL is recommended: row events then carry column names, so a resume from before an ALTER TABLE reads every column right")
		}
		checkMySQL8(ctx, db, line, cfg)
		checkGrants(ctx, db, line)
		checkPredicate(ctx, db, cfg, line)
		if s, err := shopdb.Open(ctx, db, shopConfig(cfg)); err != nil {
			line(false, "SQL templates prepare", err.Error())
		} else {
			line(true, "SQL templates prepare", "")
			checkColumns(ctx, s, line, warn)
			s.Close()
		}
	}
}

func checkRedis(ctx context.Context, cfg *config.Config, line func(bool, string, string)) {
	rdb, err := newRedis(cfg.State.Redis)
	if err != nil {
		line(false, "redis TLS files", err.Error())
		return
	}
	defer rdb.Close()
	where := "redis reachable at " + strings.Join(cfg.State.Redis.Servers(), ",")
	if err := rdb.Ping(ctx).Err(); err != nil {
		line(false, where, unreachable(err, "state.redis.tls", cfg.State.Redis.TLS))
	} else {
		line(true, where, "")
	}
}

// unreachable is the detail of a failed connection: a server certificate that does not verify
// names the tls section to fix, since the driver's message alone does not say which one.
func unreachable(err error, path string, t *config.TLS) string {
	var (
		verify   *tls.CertificateVerificationError
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
	)
	if t == nil || !(errors.As(err, &verify) || errors.As(err, &unknown) || errors.As(err, &hostname) || errors.As(err, &invalid)) {
		return err.Error()
	}
	trust := "the system's roots"
	if t.CAFile != "" {
		trust = path + ".ca_file " + t.CAFile
	}
	return fmt.Sprintf("TLS: the server's certificate does not verify against %s: %v", trust, err)
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}

// noVariableError means the server has no such variable (a MySQL 8 setting on MariaDB).
type noVariableError string

func (e noVariableError) Error() string { return "the server has no variable " + string(e) }

func variable(ctx context.Context, db *sql.DB, name string) (string, error) {
	// Not SHOW VARIABLES LIKE ?: MariaDB cannot prepare a SHOW with a placeholder.
	var v string
	err := db.QueryRowContext(ctx,
		"SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_VARIABLES WHERE VARIABLE_NAME = ?",
		strings.ToUpper(name)).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", noVariableError(name)
	}
	return v, err
}

// notMySQL8 is the detail of a MySQL 8 setting the server does not have.
const notMySQL8 = "not applicable (MariaDB, or MySQL before 8.0)"

// checkMySQL8 reports the MySQL 8 binlog settings of DESIGN.md §2 "MySQL 8 binlogs".
// Compressed transactions are unpacked, so binlog_transaction_compression passes either way.
func checkMySQL8(ctx context.Context, db *sql.DB, line func(bool, string, string), cfg *config.Config) {
	const compression = "binlog_transaction_compression"
	v, err := variable(ctx, db, compression)
	switch {
	case errors.As(err, new(noVariableError)):
		line(true, compression, notMySQL8)
	case err != nil:
		line(false, compression, err.Error())
	default:
		line(true, compression+"="+v, "compressed transactions are read like any other")
	}

	v, err = variable(ctx, db, "binlog_row_value_options")
	if errors.As(err, new(noVariableError)) {
		line(true, "binlog_row_value_options", notMySQL8)
		return
	}
	if err != nil {
		line(false, "binlog_row_value_options", err.Error())
		return
	}
	schema, table := cfg.Orders.SchemaTable()
	if schema == "" {
		schema = cfg.Shop.Database
	}
	var cols []string
	if isPartialJSON(v) {
		if cols, err = jsonColumns(ctx, db, schema, table); err != nil {
			line(false, "binlog_row_value_options", err.Error())
			return
		}
	}
	line(rowValueOptions(v, schema+"."+table, cols))
}

func isPartialJSON(v string) bool { return strings.Contains(strings.ToUpper(v), "PARTIAL_JSON") }

// rowValueOptions judges binlog_row_value_options. With PARTIAL_JSON, MySQL logs a JSON column
// changed in place (JSON_SET, JSON_REPLACE, JSON_REMOVE) as a diff, which stops the reader; every
// other value is logged whole, so the setting is harmless on a table without JSON columns.
func rowValueOptions(v, table string, jsonCols []string) (ok bool, name, detail string) {
	const unset = "binlog_row_value_options=''"
	switch {
	case !isPartialJSON(v):
		return true, unset, ""
	case len(jsonCols) == 0:
		return true, "binlog_row_value_options=" + v, table + " has no JSON column, so its rows are logged whole"
	default:
		return false, unset, "it is " + v + " and " + table + " has JSON column(s) " + strings.Join(jsonCols, ", ") +
			": a partial JSON update stops the reader; SET GLOBAL binlog_row_value_options = '' (and in my.cnf)"
	}
}

func jsonColumns(ctx context.Context, db *sql.DB, schema, table string) ([]string, error) {
	rows, err := db.QueryContext(ctx, `SELECT COLUMN_NAME FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND DATA_TYPE = 'json' ORDER BY ORDINAL_POSITION`, schema, table)
	if err != nil {
		return nil, fmt.Errorf("read JSON columns of %s.%s: %w", schema, table, err)
	}
	defer rows.Close()
	var cols []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, fmt.Errorf("read JSON columns of %s.%s: %w", schema, table, err)
		}
		cols = append(cols, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read JSON columns of %s.%s: %w", schema, table, err)
	}
	return cols, nil
}

func checkVar(ctx context.Context, db *sql.DB, line func(bool, string, string), name, want, fix string) {
	v, err := variable(ctx, db, name)
	switch {
	case err != nil:
		line(false, name+"="+want, err.Error())
	case !strings.EqualFold(v, want):
		line(false, name+"="+want, "it is "+v+"; "+fix)
	default:
		line(true, name+"="+want, "")
	}
}

// checkGrants looks for the privileges shipsync needs in SHOW GRANTS. MariaDB 10.5+ calls
// REPLICATION CLIENT "BINLOG MONITOR".
func checkGrants(ctx context.Context, db *sql.DB, line func(bool, string, string)) {
	rows, err := db.QueryContext(ctx, "SHOW GRANTS")
	if err != nil {
		line(false, "grants", err.Error())
		return
	}
	defer rows.Close()
	var all strings.Builder
	for rows.Next() {
		var g string
		if err := rows.Scan(&g); err != nil {
			line(false, "grants", err.Error())
			return
		}
		all.WriteString(strings.ToUpper(g) + "\n")
	}
	text := all.String()
	if strings.Contains(text, "ALL PRIVILEGES ON *.*") {
		line(true, "grants (ALL PRIVILEGES)", "")
		return
	}
	var missing []string
	need := [][]string{{"REPLICATION SLAVE", "REPLICATION REPLICA"}, {"REPLICATION CLIENT", "BINLOG MONITOR", "SUPER"},
		{"SELECT", "ALL PRIVILEGES"}, {"UPDATE", "ALL PRIVILEGES"}}
	for _, alts := range need {
		found := false
		for _, a := range alts {
			if strings.Contains(text, a) {
				found = true
			}
		}
		if !found {
			missing = append(missing, alts[0])
		}
	}
	if len(missing) > 0 {
		line(false, "grants", "missing "+strings.Join(missing, ", ")+" (GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* and SELECT, UPDATE, INSERT on the shop schema)")
		return
	}
	line(true, "grants (REPLICATION SLAVE, REPLICATION CLIENT, SELECT, UPDATE)", "")
}

// checkColumns runs the enrichment queries for a key no order has and compares the columns they
// return with the canonical names: a near miss (receiver_provnce) would otherwise be kept as an
// extra column and the order dead-lettered later for a missing province.
func checkColumns(ctx context.Context, s *shopdb.DB, line func(bool, string, string), warn func(string, string)) {
	orders, items, err := s.ResultColumns(ctx)
	if err != nil {
		line(false, "enrichment queries run", err.Error())
		return
	}
	judge := func(query string, cols, canonical, required []string) {
		ok := true
		for _, c := range cols {
			if slices.Contains(canonical, c) {
				continue
			}
			if near := config.Suggest(c, canonical); near != "" {
				line(false, query+" column "+c, fmt.Sprintf("not a column shipsync knows: did you mean %s?", near))
				ok = false
				continue
			}
			warn(query+" column "+c, "not a canonical name: kept for routing rules (routing.rules[].column) only")
		}
		for _, r := range required {
			if !slices.Contains(cols, r) {
				line(false, query+" returns "+r, "missing: it is required")
				ok = false
			}
		}
		if ok {
			line(true, query+" columns", strings.Join(cols, ", "))
		}
	}
	judge("orders.query", orders, shopdb.CanonicalOrderColumns, []string{"order_code"})
	for _, c := range []string{"receiver_name", "receiver_address", "receiver_province", "receiver_city"} {
		if !slices.Contains(orders, c) {
			warn("orders.query returns no "+c, "every domestic order will be dead-lettered for missing "+c)
		}
	}
	if items != nil {
		judge("orders.items_query", items, shopdb.CanonicalItemColumns, []string{"quantity"})
	}
}

// checkPredicate compares orders.paid and orders.when with the columns of orders.table: a
// column that does not exist, or a value its type can never hold ("Processing" for an integer
// status), would mean no order is ever detected.
func checkPredicate(ctx context.Context, db *sql.DB, cfg *config.Config, line func(bool, string, string)) {
	schema, table := cfg.Orders.SchemaTable()
	if schema == "" {
		schema = cfg.Shop.Database
	}
	rows, err := db.QueryContext(ctx, `SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?`, schema, table)
	if err != nil {
		line(false, "columns of "+schema+"."+table, err.Error())
		return
	}
	defer rows.Close()
	types := map[string][2]string{}
	var names []string
	for rows.Next() {
		var name, dataType, colType string
		if err := rows.Scan(&name, &dataType, &colType); err != nil {
			line(false, "columns of "+schema+"."+table, err.Error())
			return
		}
		types[strings.ToLower(name)] = [2]string{strings.ToLower(dataType), colType}
		names = append(names, name)
	}
	if err := rows.Err(); err != nil {
		line(false, "columns of "+schema+"."+table, err.Error())
		return
	}
	if len(types) == 0 {
		line(false, "orders.table "+schema+"."+table, "no such table, or the user may not read it")
		return
	}
	conds := []struct {
		path string
		c    config.Condition
	}{{"orders.paid", cfg.Orders.Paid}}
	for i, w := range cfg.Orders.When {
		conds = append(conds, struct {
			path string
			c    config.Condition
		}{fmt.Sprintf("orders.when[%d]", i), w})
	}
	for _, c := range conds {
		t, ok := types[strings.ToLower(c.c.Column)]
		if !ok {
			detail := fmt.Sprintf("%s.%s has no column %q", schema, table, c.c.Column)
			if near := config.Suggest(c.c.Column, names); near != "" {
				detail += fmt.Sprintf(" (did you mean %s?)", near)
			}
			line(false, c.path+".column", detail)
			continue
		}
		bad := ""
		for _, v := range append(slices.Clone(c.c.In), c.c.NotIn...) {
			if why := impossibleValue(t[0], t[1], v); why != "" {
				bad = fmt.Sprintf("%q can never match %s (%s): %s", v, c.c.Column, t[1], why)
				break
			}
		}
		if bad != "" {
			line(false, c.path, bad)
			continue
		}
		line(true, c.path, fmt.Sprintf("%s is %s", c.c.Column, t[1]))
	}
}

// impossibleValue says why a value compared as text can never be the binlog's text of a column
// of this type, or "".
func impossibleValue(dataType, columnType, v string) string {
	switch dataType {
	case "tinyint", "smallint", "mediumint", "int", "integer", "bigint", "year":
		if _, err := strconv.ParseInt(v, 10, 64); err != nil {
			return "the column holds whole numbers"
		}
	case "decimal", "float", "double":
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			return "the column holds numbers"
		}
	case "enum":
		inner := strings.TrimSuffix(strings.TrimPrefix(columnType, "enum("), ")")
		var allowed []string
		for _, a := range strings.Split(inner, ",") {
			allowed = append(allowed, strings.Trim(a, "'"))
		}
		if !slices.Contains(allowed, v) {
			return "the column holds one of " + strings.Join(allowed, ", ")
		}
	}
	return ""
}
