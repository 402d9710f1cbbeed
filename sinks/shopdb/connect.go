package shopdb

import (
	"context"
	"database/sql"
	sqldriver "database/sql/driver"
	"net/url"
	"sync"
	"time"

	"github.com/go-mysql-org/go-mysql/driver"
)

// Connect returns a pool to the shop's database (no I/O until first use). The password travels
// in a struct, never in a DSN string that could end up in a log.
func Connect(addr, user, password, database, charset string, maxConns int) *sql.DB {
	params := url.Values{}
	if charset != "" {
		params.Set("collation", charset+"_general_ci")
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

// readCommittedPools are the pools made by Connect (entries are never removed: a process makes
// a handful).
var readCommittedPools sync.Map

// readCommitted makes every session READ COMMITTED once, when it connects, instead of a SET
// TRANSACTION round trip before each write-back transaction (see writeTx for why READ COMMITTED).
type readCommitted struct{ driver.Connector }

func (c readCommitted) Connect(ctx context.Context) (sqldriver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := conn.(sqldriver.ExecerContext).ExecContext(ctx, "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED", nil); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}
