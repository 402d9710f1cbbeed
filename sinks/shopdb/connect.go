package shopdb

import (
	"database/sql"
	"net/url"
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
	db := sql.OpenDB(driver.Connector{Addr: addr, User: user, Password: password, DB: database, Params: params})
	if maxConns > 0 {
		db.SetMaxOpenConns(maxConns)
		db.SetMaxIdleConns(maxConns)
	}
	db.SetConnMaxLifetime(30 * time.Minute)
	return db
}
