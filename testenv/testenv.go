package testenv

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	// Registers the "mysql" database/sql driver.
	_ "github.com/go-mysql-org/go-mysql/driver"
	"github.com/redis/go-redis/v9"

	"github.com/shipsync/shipsync/testenv/sqlscript"
)

const (
	defaultMySQLAddr = "127.0.0.1:23306"
	defaultRedisAddr = "127.0.0.1:26379"
	mysqlUser        = "shipsync"
	defaultPassword  = "shipsync"

	// connectTimeout bounds the reachability checks so that a hung server fails the test quickly.
	connectTimeout = 10 * time.Second
	// cleanupTimeout bounds cleanup work, which runs after t.Context() is cancelled.
	cleanupTimeout = 30 * time.Second

	startHint = "start it with `make testenv-up`"
)

// MySQLAddr is the MariaDB testenv address: $SHIPSYNC_TEST_MYSQL_ADDR or 127.0.0.1:23306.
func MySQLAddr() string { return envOr("SHIPSYNC_TEST_MYSQL_ADDR", defaultMySQLAddr) }

// MySQLUser is the MariaDB testenv user (ALL PRIVILEGES, including replication).
func MySQLUser() string { return mysqlUser }

// MySQLPassword is the password of MySQLUser: $SHIPSYNC_TEST_MYSQL_PASSWORD or "shipsync".
func MySQLPassword() string { return envOr("SHIPSYNC_TEST_MYSQL_PASSWORD", defaultPassword) }

// RedisAddr is the Redis testenv address: $SHIPSYNC_TEST_REDIS_ADDR or 127.0.0.1:26379.
func RedisAddr() string { return envOr("SHIPSYNC_TEST_REDIS_ADDR", defaultRedisAddr) }

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// DSN is a DSN for the go-mysql database/sql driver (driver name "mysql") connecting as MySQLUser
// to MySQLAddr, with db as the default database ("" for none):
//
//	shipsync:shipsync@127.0.0.1:23306/db?collation=utf8mb4_general_ci
//
// The collation is explicit because the driver's default (utf8mb4_0900_ai_ci, id 255) is
// unknown to MariaDB.
func DSN(db string) string {
	return url.UserPassword(MySQLUser(), MySQLPassword()).String() + "@" + MySQLAddr() +
		"/" + url.PathEscape(db) + "?collation=utf8mb4_general_ci"
}

// RequireMySQL returns a pool connected to the MariaDB testenv without a default database,
// closed at cleanup. It fails the test when the server is not reachable.
func RequireMySQL(t testing.TB) *sql.DB {
	t.Helper()
	return openMySQL(t, "")
}

func openMySQL(t testing.TB, dbName string) *sql.DB {
	t.Helper()
	skipShort(t)
	db, err := sql.Open("mysql", DSN(dbName))
	if err != nil {
		t.Fatalf("MariaDB testenv not reachable at %s: %v; %s", MySQLAddr(), err, startHint)
	}
	ctx, cancel := context.WithTimeout(t.Context(), connectTimeout)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		t.Fatalf("MariaDB testenv not reachable at %s: %v; %s", MySQLAddr(), err, startHint)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// NewDatabase creates an empty utf8mb4 database named after the test (t_<sanitised name>_<random>,
// at most 64 characters) and returns a pool whose connections use it by default, and its name.
// The database is dropped at cleanup, unless the test failed and $SHIPSYNC_TEST_KEEP_DB is set.
func NewDatabase(t testing.TB) (*sql.DB, string) {
	t.Helper()
	admin := RequireMySQL(t)
	name := databaseName(t.Name(), rand.Uint32())
	ctx := t.Context()
	// Identifiers cannot be bound parameters; name is made of [a-z0-9_] only.
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE `"+name+"` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci"); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		if t.Failed() && os.Getenv("SHIPSYNC_TEST_KEEP_DB") != "" {
			t.Logf("keeping database %s of the failed test (SHIPSYNC_TEST_KEEP_DB is set)", name)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		_, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS `"+name+"`")
		switch {
		case err != nil && strings.Contains(err.Error(), "ERROR 1010"):
			// The tables are gone but a stray file stays in the schema's directory (a server killed
			// mid-write leaves one: the chaos tests do that on purpose). What the test checked is
			// not concerned; the leftover is an empty schema in a throwaway data dir.
			t.Logf("drop database %s left a file behind: %v", name, err)
		case err != nil:
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	// Registered after the drop, so it runs (LIFO) before it: close our connections first.
	db := openMySQL(t, name)
	return db, name
}

// databaseName turns a test name into a database name: lower-case [a-z0-9_], "t_" prefix, an
// 8-hex-digit random suffix, 64 characters at most (the MariaDB limit).
func databaseName(testName string, suffix uint32) string {
	const maxLen = 64
	tail := fmt.Sprintf("_%08x", suffix)
	var b strings.Builder
	b.WriteString("t_")
	lastUnderscore := true
	for _, r := range strings.ToLower(testName) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			lastUnderscore = false
		} else if !lastUnderscore {
			b.WriteByte('_')
			lastUnderscore = true
		}
	}
	base := strings.TrimRight(b.String(), "_")
	if len(base) > maxLen-len(tail) {
		base = strings.TrimRight(base[:maxLen-len(tail)], "_")
	}
	return base + tail
}

// ExecFile runs every statement of the SQL file at path on one connection of db, after
// setting an empty session sql_mode (shops run with a relaxed sql_mode and their schemas rely on it).
// Statements are split on ';' outside quotes and comments (see testenv/sqlscript). The connection
// is discarded afterwards so that the script's session settings (SET NAMES utf8, sql_mode) do not
// leak into the pool. It fails the test on the first error, naming the file and line.
func ExecFile(t testing.TB, db *sql.DB, path string) {
	t.Helper()
	script, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read SQL file: %v", err)
	}
	if err := execScript(t.Context(), db, string(script)); err != nil {
		t.Fatalf("exec %s: %v", path, err)
	}
}

// ExecSQL is ExecFile for a script in a string.
func ExecSQL(t testing.TB, db *sql.DB, script string) {
	t.Helper()
	if err := execScript(t.Context(), db, script); err != nil {
		t.Fatalf("exec SQL: %v", err)
	}
}

func execScript(ctx context.Context, db *sql.DB, script string) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("get connection: %w", err)
	}
	defer func() {
		// Returning driver.ErrBadConn from Raw makes database/sql close the connection instead of
		// putting it back into the pool with the script's session state.
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		_ = conn.Close()
	}()
	if _, err := conn.ExecContext(ctx, "SET SESSION sql_mode = ''"); err != nil {
		return fmt.Errorf("set sql_mode: %w", err)
	}
	return sqlscript.Exec(ctx, conn, script)
}

// SharedSchema returns the path of a real shop install schema, <module root>/../shared/schemas/<name>
// (or $SHIPSYNC_SHARED_DIR/schemas/<name>), where the module root is the nearest directory above
// the working directory holding go.mod. The real schemas are a conformance layer beside the
// checkout: without them the test is skipped with the reason, unless SHIPSYNC_REQUIRE_SHARED is
// set (CI sets it), which fails it instead.
func SharedSchema(t testing.TB, name string) string {
	t.Helper()
	path, err := sharedSchema(name)
	if err != nil {
		if os.Getenv("SHIPSYNC_REQUIRE_SHARED") != "" {
			t.Fatalf("shared schema %s not found (SHIPSYNC_REQUIRE_SHARED is set): %v; CI lays shared/ beside the checkout "+
				"(../shared/schemas/ next to the module root), or set SHIPSYNC_SHARED_DIR", name, err)
		}
		t.Skipf("real install schema %s not beside the checkout (%v): the shared conformance layer is skipped; "+
			"CI runs it (SHIPSYNC_REQUIRE_SHARED=1)", name, err)
	}
	return path
}

// ShopSchema returns the schema of a supported shop system for a test that needs that shop: the
// real install schema when ../shared/schemas has it, else the project's own fixture
// testenv/shops/<name> (the tables shipsync touches, with the system's names, types and engines).
// With SHIPSYNC_REQUIRE_SHARED set the real one must be there.
func ShopSchema(t testing.TB, name string) string {
	t.Helper()
	if path, err := sharedSchema(name); err == nil {
		return path
	} else if os.Getenv("SHIPSYNC_REQUIRE_SHARED") != "" {
		t.Fatalf("shared schema %s not found (SHIPSYNC_REQUIRE_SHARED is set): %v", name, err)
	}
	root, err := ModuleRoot()
	if err != nil {
		t.Fatalf("find shop fixture %s: %v", name, err)
	}
	path := filepath.Join(root, "testenv", "shops", name)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("no shop fixture %s: %v", name, err)
	}
	return path
}

func sharedSchema(name string) (string, error) {
	shared := os.Getenv("SHIPSYNC_SHARED_DIR")
	if shared == "" {
		root, err := ModuleRoot()
		if err != nil {
			return "", err
		}
		shared = filepath.Join(filepath.Dir(root), "shared")
	}
	path := filepath.Join(shared, "schemas", name)
	if _, err := os.Stat(path); err != nil {
		return "", err
	}
	return path, nil
}

// ModuleRoot is the nearest directory at or above the working directory that holds go.mod.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// RequireRedis returns a client of the Redis testenv, closed at cleanup, and a key prefix of the
// test's own ("shipsynctest:<test name>:<random>:"). Every key under the prefix is deleted at
// cleanup (SCAN + DEL), so tests must put all their keys under it. It fails the test when Redis
// is not reachable.
func RequireRedis(t testing.TB) (*redis.Client, string) {
	t.Helper()
	skipShort(t)
	ctx, cancel := context.WithTimeout(t.Context(), connectTimeout)
	defer cancel()
	// A plain dial first: go-redis would retry a refused connection for seconds and log each try.
	var d net.Dialer
	probe, err := d.DialContext(ctx, "tcp", RedisAddr())
	if err != nil {
		t.Fatalf("Redis testenv not reachable at %s: %v; %s", RedisAddr(), err, startHint)
	}
	_ = probe.Close()
	client := redis.NewClient(&redis.Options{Addr: RedisAddr()})
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		t.Fatalf("Redis testenv not reachable at %s: %v; %s", RedisAddr(), err, startHint)
	}
	prefix := redisPrefix(t.Name(), rand.Uint32())
	t.Cleanup(func() { _ = client.Close() })
	// Registered after Close, so it runs (LIFO) before it.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		if err := deletePrefix(ctx, client, prefix); err != nil {
			t.Errorf("delete redis keys %s*: %v", prefix, err)
		}
	})
	return client, prefix
}

// redisPrefix keeps [A-Za-z0-9_./-] of the test name: glob characters (*?[]\) in the prefix would
// make the cleanup's SCAN MATCH pattern match other tests' keys.
func redisPrefix(testName string, suffix uint32) string {
	name := []byte(testName)
	for i, c := range name {
		ok := (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			c == '_' || c == '.' || c == '/' || c == '-'
		if !ok {
			name[i] = '_'
		}
	}
	return fmt.Sprintf("shipsynctest:%s:%08x:", name, suffix)
}

func deletePrefix(ctx context.Context, client *redis.Client, prefix string) error {
	var cursor uint64
	for {
		keys, next, err := client.Scan(ctx, cursor, prefix+"*", 1000).Result()
		if err != nil {
			return fmt.Errorf("scan: %w", err)
		}
		if len(keys) > 0 {
			if err := client.Del(ctx, keys...).Err(); err != nil {
				return fmt.Errorf("del: %w", err)
			}
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

// Eventually calls cond every poll (10ms if poll <= 0) until it reports true, and fails the test
// with cond's last message when timeout passes first (or the test's context ends). cond's message says what it
// saw, e.g. "invoice_no of order 7 is empty". It must be called from the test's goroutine.
func Eventually(t testing.TB, timeout, poll time.Duration, cond func() (bool, string)) {
	t.Helper()
	if poll <= 0 {
		poll = 10 * time.Millisecond
	}
	deadline := time.Now().Add(timeout)
	ticker := time.NewTicker(poll)
	defer ticker.Stop()
	for {
		ok, msg := cond()
		if ok {
			return
		}
		if !time.Now().Before(deadline) {
			t.Fatalf("condition not met within %v: %s", timeout, msg)
		}
		select {
		case <-ticker.C:
		case <-t.Context().Done():
			t.Fatalf("test context ended while waiting: %s", msg)
		}
	}
}

// skipShort skips integration tests under -short (`make test-unit`); without -short a missing
// environment fails the test, never skips it.
func skipShort(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: needs the testenv; skipped under -short")
	}
}

// FreePort returns a loopback TCP port nothing listens on right now.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// FreeAddr is FreePort as a 127.0.0.1:port address, failing the test when there is none.
func FreeAddr(t testing.TB) string {
	t.Helper()
	port, err := FreePort()
	if err != nil {
		t.Fatalf("testenv: free port: %v", err)
	}
	return fmt.Sprintf("127.0.0.1:%d", port)
}

// ShopDB returns a pool on database name whose every session runs with the relaxed sql_mode
// (”) the shops set for themselves (several install schemas have NOT NULL columns without a
// default that their PHP never fills), closed at cleanup. Tests insert orders through it the way
// the shop's own code does.
func ShopDB(t testing.TB, name string) *sql.DB {
	t.Helper()
	skipShort(t)
	base, err := sql.Open("mysql", DSN(name))
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(relaxedConnector{d: base.Driver(), dsn: DSN(name)})
	_ = base.Close()
	if err := db.PingContext(t.Context()); err != nil {
		_ = db.Close()
		t.Fatalf("MariaDB testenv not reachable at %s: %v; %s", MySQLAddr(), err, startHint)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

type relaxedConnector struct {
	d   driver.Driver
	dsn string
}

func (c relaxedConnector) Driver() driver.Driver { return c.d }

func (c relaxedConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.d.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	ex, ok := conn.(driver.ExecerContext)
	if !ok {
		_ = conn.Close()
		return nil, errors.New("testenv: the mysql driver's connections cannot Exec")
	}
	if _, err := ex.ExecContext(ctx, "SET SESSION sql_mode = ''", nil); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("set sql_mode: %w", err)
	}
	return conn, nil
}
