// Package testenv gives integration tests the real MariaDB and Redis that testenv/up.sh starts,
// and a few helpers to use them without stepping on each other.
//
// # The environment
//
// `make testenv-up` (testenv/up.sh) starts, under ${SHIPSYNC_TESTENV_DIR:-/tmp/shipsync-testenv}:
//   - MariaDB on 127.0.0.1:23306 with the binlog on (log_bin=ON, binlog_format=ROW,
//     binlog_row_image=FULL, server_id=1, utf8mb4), user shipsync / password shipsync with ALL
//     PRIVILEGES (create databases, REPLICATION SLAVE/CLIENT for tailing the binlog);
//   - Redis on 127.0.0.1:26379 without persistence.
//
// It installs missing packages with apt-get when run as root, reuses instances it started earlier
// and never touches servers on the standard ports. `make testenv-down` (testenv/down.sh) stops
// them; `down.sh --purge` also deletes the data dir. The addresses can be overridden with
// SHIPSYNC_TEST_MYSQL_ADDR, SHIPSYNC_TEST_MYSQL_PASSWORD and SHIPSYNC_TEST_REDIS_ADDR (the
// scripts take SHIPSYNC_TEST_MYSQL_PORT and SHIPSYNC_TEST_REDIS_PORT).
//
// # Helpers
//
// RequireMySQL and RequireRedis fail the test (never skip) when the environment is down, saying
// how to start it. NewDatabase gives each test its own database, dropped at cleanup, so tests can
// run in parallel and binlog consumers can filter on a schema nobody else writes to. RequireRedis
// gives each test its own key prefix, deleted at cleanup. ExecFile and ExecSQL load schemas such
// as ../shared/schemas/ecshop.sql (found with SharedSchema) as they are. Eventually polls a
// condition: tests wait for conditions, never with time.Sleep.
//
// MakeTLSFiles makes a CA with a server certificate (127.0.0.1, localhost) and a client
// certificate; StartTLSMariaDB and StartTLSRedis run private servers with them that refuse
// plaintext and want the client certificate, for the test's duration (testenv/tls.go).
//
// # The go-mysql driver, as the tests see it
//
// DSN returns a DSN for the database/sql driver of github.com/go-mysql-org/go-mysql (driver name
// "mysql"), of the form user:password@127.0.0.1:23306/db?collation=utf8mb4_general_ci. Things
// worth knowing about that driver:
//   - one statement per call: it does not enable multi-statements, hence the splitter in
//     testenv/sqlscript;
//   - a call with arguments is a server-side prepared statement (prepare, execute, close: three
//     round trips); a call without arguments uses the text protocol. Use db.Prepare for hot loops;
//   - text, varchar, decimal and date/time columns come back as []byte (scan into string or
//     []byte; a scan into any yields []byte), integer columns as int64 or uint64 (unsigned),
//     float/double as float64, NULL as nil;
//   - time.Time is not accepted as an argument ("invalid argument type time.Time"): pass
//     Unix seconds or a formatted string;
//   - session settings (SET sql_mode, SET NAMES) apply to one pooled connection only: pin one
//     with db.Conn when they matter. ExecFile does so and then discards that connection, so a
//     schema's SET NAMES utf8 never leaks into the pool.
//
// Shell scripts up.sh, down.sh and lib.sh live beside this file; demo data (an ECShop-compatible
// schema of the project's own and a seeder) is in testenv/demo, the statement splitter in
// testenv/sqlscript.
//
// This package is for tests and the demo only: production code must not import it.
package testenv
