package shopdb

import (
	"context"
	"crypto/tls"
	"database/sql"
	sqldriver "database/sql/driver"
	"fmt"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/go-mysql-org/go-mysql/driver"
)

// Connect returns a pool to the shop's database (no I/O until first use). The password travels
// in a struct, never in a DSN string that could end up in a log.
func Connect(addr, user, password, database, charset string, maxConns int) *sql.DB {
	return ConnectTLS(addr, user, password, database, charset, maxConns, nil)
}

// ConnectTLS is Connect whose connections speak TLS with tc (nil: plaintext). tc needs a
// ServerName (or InsecureSkipVerify): the driver does not derive one from addr.
func ConnectTLS(addr, user, password, database, charset string, maxConns int, tc *tls.Config) *sql.DB {
	params := url.Values{}
	if charset != "" {
		params.Set("collation", charset+"_general_ci")
	}
	if tc != nil {
		id := strconv.FormatUint(tlsConfigIDs.Add(1), 10)
		tlsConfigs.Store(id, tc)
		params.Set(tlsOption, id)
	}
	db := sql.OpenDB(readCommitted{driver.Connector{Addr: addr, User: user, Password: password, DB: database, Params: params}})
	if maxConns > 0 {
		db.SetMaxOpenConns(maxConns)
		db.SetMaxIdleConns(maxConns)
	}
	db.SetConnMaxLifetime(30 * time.Minute)
	readCommittedPools.Store(db, true)
	return db
}

// tlsOption is the DSN option that gives a connection its pool's TLS configuration. The driver
// takes a *tls.Config only through an option (its own "ssl=custom" keeps one per address and
// builds it from PEM bytes, without a minimum version), so a pool's configuration is stored
// under an id in tlsConfigs and the option looks it up. Entries are never removed: a process
// makes a handful of pools.
const tlsOption = "shipsync_tls"

var (
	tlsConfigs   sync.Map // id -> *tls.Config
	tlsConfigIDs atomic.Uint64
)

func init() {
	// Before any connection: the driver's option table is read without a lock.
	driver.SetDSNOptions(map[string]driver.DriverOption{tlsOption: func(c *client.Conn, id string) error {
		tc, ok := tlsConfigs.Load(id)
		if !ok {
			return fmt.Errorf("shopdb: no TLS configuration %q", id)
		}
		c.SetTLSConfig(tc.(*tls.Config))
		return nil
	}})
}

// readCommittedPools are the pools made by Connect (entries are never removed: a process makes
// a handful).
var readCommittedPools sync.Map

// readCommitted makes every session READ COMMITTED once, when it connects, instead of a SET
// TRANSACTION round trip before each write-back transaction (see writeTx for why READ COMMITTED).
type readCommitted struct{ driver.Connector }

func (c readCommitted) Connect(ctx context.Context) (sqldriver.Conn, error) {
	dc, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	conn := &guarded{Conn: dc.(*driver.Conn)}
	if _, err := conn.ExecContext(ctx, "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED", nil); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// guarded holds a connection to its callers' contexts. The driver's own watch closes the
// connection from another goroutine while a statement still writes to it (a data race) and
// does not always mark it bad, so a timed-out connection came back from the pool to fail the
// next caller. Instead, a context that ends moves the socket's deadline into the past (safe
// from any goroutine), which fails the blocked read or write, and the connection reports
// itself invalid, so database/sql discards it. The driver only ever sees context.Background.
type guarded struct {
	*driver.Conn
	cut bool // a context ended during a call: the protocol state is unknown
}

var (
	_ sqldriver.ConnPrepareContext = (*guarded)(nil)
	_ sqldriver.ConnBeginTx        = (*guarded)(nil)
	_ sqldriver.ExecerContext      = (*guarded)(nil)
	_ sqldriver.QueryerContext     = (*guarded)(nil)
	_ sqldriver.Pinger             = (*guarded)(nil)
	_ sqldriver.Validator          = (*guarded)(nil)
)

// watch arms ctx for one call (or a whole transaction); the returned function disarms it and
// reports whether the call finished before ctx ended.
func (c *guarded) watch(ctx context.Context) func() bool {
	stop := context.AfterFunc(ctx, func() { c.Conn.Conn.Conn.SetDeadline(time.Unix(1, 0)) }) //nolint:errcheck // the call fails either way
	return func() bool {
		if !stop() {
			c.cut = true
			return false
		}
		return true
	}
}

// call runs fn, which talks to the server, until it returns or ctx ends.
func call[T any](c *guarded, ctx context.Context, fn func(context.Context) (T, error)) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	done := c.watch(ctx)
	v, err := fn(context.Background())
	if !done() && err != nil {
		return zero, fmt.Errorf("%w (%w)", err, ctx.Err())
	}
	return v, err
}

// IsValid reports false once a context cut a call short: database/sql then closes the
// connection instead of reusing it.
func (c *guarded) IsValid() bool { return !c.cut && c.Conn.IsValid() }

func (c *guarded) Ping(ctx context.Context) error {
	_, err := call(c, ctx, func(ctx context.Context) (struct{}, error) { return struct{}{}, c.Conn.Ping(ctx) })
	return err
}

func (c *guarded) PrepareContext(ctx context.Context, query string) (sqldriver.Stmt, error) {
	st, err := call(c, ctx, func(ctx context.Context) (sqldriver.Stmt, error) { return c.Conn.PrepareContext(ctx, query) })
	if err != nil {
		return nil, err
	}
	return &guardedStmt{Stmt: st, c: c}, nil
}

func (c *guarded) ExecContext(ctx context.Context, query string, args []sqldriver.NamedValue) (sqldriver.Result, error) {
	return call(c, ctx, func(ctx context.Context) (sqldriver.Result, error) { return c.Conn.ExecContext(ctx, query, args) })
}

func (c *guarded) QueryContext(ctx context.Context, query string, args []sqldriver.NamedValue) (sqldriver.Rows, error) {
	return call(c, ctx, func(ctx context.Context) (sqldriver.Rows, error) { return c.Conn.QueryContext(ctx, query, args) })
}

// BeginTx keeps ctx armed until the transaction ends: database/sql's Commit and Rollback take
// no context, and a silent server must not hold them either.
func (c *guarded) BeginTx(ctx context.Context, opts sqldriver.TxOptions) (sqldriver.Tx, error) {
	tx, err := call(c, ctx, func(ctx context.Context) (sqldriver.Tx, error) { return c.Conn.BeginTx(ctx, opts) })
	if err != nil {
		return nil, err
	}
	return &guardedTx{Tx: tx, done: c.watch(ctx)}, nil
}

type guardedTx struct {
	sqldriver.Tx
	done func() bool
}

func (t *guardedTx) Commit() error {
	defer t.done()
	return t.Tx.Commit()
}

func (t *guardedTx) Rollback() error {
	defer t.done()
	return t.Tx.Rollback()
}

type guardedStmt struct {
	sqldriver.Stmt
	c *guarded
}

func (s *guardedStmt) ExecContext(ctx context.Context, args []sqldriver.NamedValue) (sqldriver.Result, error) {
	return call(s.c, ctx, func(ctx context.Context) (sqldriver.Result, error) {
		return s.Stmt.(sqldriver.StmtExecContext).ExecContext(ctx, args)
	})
}

func (s *guardedStmt) QueryContext(ctx context.Context, args []sqldriver.NamedValue) (sqldriver.Rows, error) {
	return call(s.c, ctx, func(ctx context.Context) (sqldriver.Rows, error) {
		return s.Stmt.(sqldriver.StmtQueryContext).QueryContext(ctx, args)
	})
}
