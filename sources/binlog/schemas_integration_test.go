package binlog_test

import (
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/shipsync/shipsync/sources/binlog"
	"github.com/shipsync/shipsync/testenv"
)

// TestRealSchemasWithoutMetadata: without binlog_row_metadata, shipsync checks each event's
// column types against the table's definition (to catch a same-width ALTER). On every table of
// the six real shop schemas, a row written now must pass that check: no false alarm may stop a
// shop.
func TestRealSchemasWithoutMetadata(t *testing.T) {
	for _, schema := range []string{"ecshop.sql", "opencart.sql", "prestashop.sql", "magento2.sql", "woocommerce.sql", "zencart.sql"} {
		t.Run(schema, func(t *testing.T) {
			ctx := context.Background()
			db, name := testenv.NewDatabase(t)
			testenv.ExecFile(t, db, testenv.SharedSchema(t, schema))
			var (
				tables []string
				tbl    string
			)
			rows, err := db.QueryContext(ctx, "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE'", name)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				if err := rows.Scan(&tbl); err != nil {
					t.Fatal(err)
				}
				tables = append(tables, tbl)
			}
			rows.Close()
			conn, err := db.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			// Implicit defaults for NOT NULL columns, so that one empty INSERT fits every table. The
			// server runs without row metadata (testenv's default; binlog_row_metadata is global,
			// and other packages' tests set it to FULL for a moment, when this checks less).
			for _, q := range []string{"SET SESSION sql_mode = ''", "SET SESSION foreign_key_checks = 0"} {
				if _, err := conn.ExecContext(ctx, q); err != nil {
					t.Fatal(err)
				}
			}
			for _, tbl := range tables {
				from, err := binlog.CurrentPosition(ctx, db)
				if err != nil {
					t.Fatal(err)
				}
				s := binlog.New(binlog.Config{Addr: testenv.MySQLAddr(), User: testenv.MySQLUser(), Password: testenv.MySQLPassword(),
					ServerID: 100000 + rand.Uint32N(1<<30), Schema: name, Table: tbl}, db, slog.New(slog.NewTextHandler(io.Discard, nil)))
				if err := s.Start(ctx, from); err != nil {
					t.Fatal(err)
				}
				if _, err := conn.ExecContext(ctx, "INSERT INTO `"+tbl+"` () VALUES ()"); err != nil {
					t.Logf("%s: no row written (%v); not checked", tbl, err)
					s.Close()
					continue
				}
				nctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				for {
					ev, err := s.Next(nctx)
					if err != nil {
						t.Errorf("%s: %v", tbl, err)
						break
					}
					if ev.Kind == binlog.KindRows {
						break
					}
				}
				cancel()
				s.Close()
			}
		})
	}
}
