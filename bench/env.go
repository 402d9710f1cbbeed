package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	// Registers the "mysql" database/sql driver.
	_ "github.com/go-mysql-org/go-mysql/driver"
	"github.com/redis/go-redis/v9"

	"github.com/shipsync/shipsync/testenv"
)

const (
	mysqlUser     = "shipsync" // created by testenv/up.sh with ALL PRIVILEGES
	mysqlPassword = "shipsync"
	shopUser      = "benchshop" // the shop's own traffic, so that userstat separates it from shipsync
	pollUser      = "benchpoll" // the polling baseline
	appKey        = "bench-appkey-0001"
	ebusinessID   = "bench-ebusiness"
)

// bench is the run's shared state: the private environment, the binaries and the report.
type bench struct {
	root    string
	scale   scale
	profDir string

	dir                  string // testenv data dir (SHIPSYNC_TESTENV_DIR)
	mysqlPort, redisPort int
	started              bool
	binDir               string
	shipsync             string // the daemon, built with the bench-only pprof hook (see profile.go)
	canalref             string

	admin *sql.DB // as mysqlUser, no default database
	rdb   *redis.Client

	report report
}

func (b *bench) mysqlAddr() string { return fmt.Sprintf("127.0.0.1:%d", b.mysqlPort) }
func (b *bench) redisAddr() string { return fmt.Sprintf("127.0.0.1:%d", b.redisPort) }

func (b *bench) testenvVars() []string {
	return append(os.Environ(), "SHIPSYNC_TESTENV_DIR="+b.dir,
		"SHIPSYNC_TEST_MYSQL_PORT="+strconv.Itoa(b.mysqlPort),
		"SHIPSYNC_TEST_REDIS_PORT="+strconv.Itoa(b.redisPort),
		"SHIPSYNC_TEST_MYSQL_PASSWORD="+mysqlPassword)
}

// setUp builds the binaries and starts a private MariaDB and Redis on free ports.
func (b *bench) setUp(ctx context.Context) error {
	var err error
	if b.binDir, err = os.MkdirTemp("", "shipsync-bench-bin-"); err != nil {
		return err
	}
	log.Printf("building shipsync and the canal reference")
	if b.shipsync, err = buildShipsync(ctx, b.root, b.binDir); err != nil {
		return err
	}
	b.canalref = filepath.Join(b.binDir, "canalref")
	if err := run(ctx, filepath.Join(b.root, "bench", "canalref"), nil, "go", "build", "-o", b.canalref, "."); err != nil {
		return fmt.Errorf("build canal reference: %w", err)
	}

	// A short path: the MariaDB socket lives in it and unix socket paths are limited to 107 bytes.
	if b.dir, err = os.MkdirTemp("/tmp", "ssbench-"); err != nil {
		return err
	}
	if b.mysqlPort, err = testenv.FreePort(); err != nil {
		return err
	}
	if b.redisPort, err = testenv.FreePort(); err != nil {
		return err
	}
	log.Printf("starting private MariaDB on %s and Redis on %s (data in %s)", b.mysqlAddr(), b.redisAddr(), b.dir)
	b.started = true
	if err := run(ctx, b.root, b.testenvVars(), "bash", "testenv/up.sh"); err != nil {
		return fmt.Errorf("testenv/up.sh: %w", err)
	}
	if b.admin, err = openDB(b.mysqlAddr(), mysqlUser, mysqlPassword, ""); err != nil {
		return err
	}
	b.rdb = redis.NewClient(&redis.Options{Addr: b.redisAddr()})
	if err := b.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	// userstat: per-user and per-table rows read (information_schema.USER_STATISTICS,
	// TABLE_STATISTICS), so shipsync's reads on the shop are counted apart from the shop's own.
	for _, q := range []string{
		"SET GLOBAL userstat = 1",
		"CREATE USER IF NOT EXISTS '" + shopUser + "'@'127.0.0.1' IDENTIFIED BY '" + mysqlPassword + "'",
		"GRANT ALL PRIVILEGES ON *.* TO '" + shopUser + "'@'127.0.0.1'",
		"CREATE USER IF NOT EXISTS '" + pollUser + "'@'127.0.0.1' IDENTIFIED BY '" + mysqlPassword + "'",
		"GRANT ALL PRIVILEGES ON *.* TO '" + pollUser + "'@'127.0.0.1'",
	} {
		if _, err := b.admin.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}

// tearDown stops MariaDB and Redis (down.sh --purge) unless keep is set.
func (b *bench) tearDown(keep bool) {
	if b.admin != nil {
		b.admin.Close()
	}
	if b.rdb != nil {
		b.rdb.Close()
	}
	if b.binDir != "" {
		os.RemoveAll(b.binDir)
	}
	if !b.started {
		return
	}
	if keep {
		log.Printf("leaving MariaDB %s and Redis %s running; stop with SHIPSYNC_TESTENV_DIR=%s bash testenv/down.sh --purge",
			b.mysqlAddr(), b.redisAddr(), b.dir)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx, b.root, b.testenvVars(), "bash", "testenv/down.sh", "--purge"); err != nil {
		log.Printf("testenv/down.sh: %v", err)
	}
}

// run runs a command, showing its output only when it fails.
func run(ctx context.Context, dir string, env []string, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	if env != nil {
		cmd.Env = env
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, out)
	}
	return nil
}

// openDB opens a pool on the private MariaDB for user with db as default database.
func openDB(addr, user, password, db string) (*sql.DB, error) {
	// The collation is explicit: the driver's default (utf8mb4_0900_ai_ci) is unknown to MariaDB.
	dsn := url.UserPassword(user, password).String() + "@" + addr + "/" + url.PathEscape(db) + "?collation=utf8mb4_general_ci"
	d, err := sql.Open("mysql", dsn)
	if err != nil {
		return nil, err
	}
	d.SetMaxOpenConns(32)
	d.SetMaxIdleConns(32)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.PingContext(ctx); err != nil {
		d.Close()
		return nil, fmt.Errorf("mariadb %s as %s: %w", addr, user, err)
	}
	return d, nil
}

// binlogPos is the server's current binlog position.
type binlogPos struct {
	File string
	Pos  uint32
}

func (b *bench) masterPos(ctx context.Context) (binlogPos, error) {
	rows, err := b.admin.QueryContext(ctx, "SHOW MASTER STATUS")
	if err != nil {
		return binlogPos{}, err
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	if !rows.Next() {
		return binlogPos{}, fmt.Errorf("SHOW MASTER STATUS: no row (binlog off?)")
	}
	vals := make([]sql.RawBytes, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return binlogPos{}, err
	}
	pos, err := strconv.ParseUint(string(vals[1]), 10, 32)
	if err != nil {
		return binlogPos{}, err
	}
	return binlogPos{File: string(vals[0]), Pos: uint32(pos)}, rows.Err()
}

// daemonConfig is configFor with its admin listener (metrics) on a free loopback port, which it
// returns as listen.
func (b *bench) daemonConfig(dbName, prefix, carrierURL string, extra ...[2]string) (conf, listen string, err error) {
	port, err := testenv.FreePort()
	if err != nil {
		return "", "", err
	}
	listen = fmt.Sprintf("127.0.0.1:%d", port)
	conf, err = b.configFor(dbName, prefix, carrierURL, listen, extra...)
	return conf, listen, err
}

// configFor turns the root config.yaml into one for a bench shop database, Redis prefix, carrier
// and metrics address (admin.listen; the push listener takes any free port), plus extra text
// replacements (testenv.RenderConfig).
func (b *bench) configFor(dbName, prefix, carrierURL, listen string, extra ...[2]string) (string, error) {
	text, err := testenv.RenderConfig(b.root, testenv.ConfigTarget{DB: dbName, Prefix: prefix, CarrierURL: carrierURL,
		MySQLAddr: b.mysqlAddr(), RedisAddr: b.redisAddr(), Listen: "127.0.0.1:0", Admin: listen}, extra...)
	if err != nil {
		return "", err
	}
	path := filepath.Join(b.binDir, dbName+"-"+strings.TrimSuffix(prefix, ":")+".yaml")
	return path, os.WriteFile(path, []byte(text), 0o600)
}

// writeJSON writes v indented to path.
func writeJSON(path string, v any) error {
	buf, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(buf, '\n'), 0o644)
}
