package binlog

import (
	"testing"

	"github.com/go-mysql-org/go-mysql/mysql"
)

func TestTypesMatch(t *testing.T) {
	c := newColumns([]string{"order_id", "order_sn", "note", "amount", "added", "status"})
	c.dataTypes = []string{"int", "varchar", "text", "decimal", "datetime", "enum"}
	ok := []byte{mysql.MYSQL_TYPE_LONG, mysql.MYSQL_TYPE_VARCHAR, mysql.MYSQL_TYPE_BLOB, mysql.MYSQL_TYPE_NEWDECIMAL,
		mysql.MYSQL_TYPE_DATETIME2, mysql.MYSQL_TYPE_STRING}
	if i, match := c.typesMatch(ok); !match {
		t.Fatalf("matching types refused at %d", i)
	}
	old := []byte{mysql.MYSQL_TYPE_LONG, mysql.MYSQL_TYPE_VAR_STRING, mysql.MYSQL_TYPE_BLOB, mysql.MYSQL_TYPE_DECIMAL,
		mysql.MYSQL_TYPE_DATETIME, mysql.MYSQL_TYPE_STRING} // an upgraded pre-5.0 table
	if i, match := c.typesMatch(old); !match {
		t.Fatalf("old formats refused at %d", i)
	}
	shifted := []byte{mysql.MYSQL_TYPE_LONG, mysql.MYSQL_TYPE_LONG, mysql.MYSQL_TYPE_VARCHAR, mysql.MYSQL_TYPE_BLOB,
		mysql.MYSQL_TYPE_NEWDECIMAL, mysql.MYSQL_TYPE_DATETIME2}
	if i, match := c.typesMatch(shifted); match || i != 1 {
		t.Fatalf("shifted columns: match %v at %d, want a mismatch at 1", match, i)
	}
}
