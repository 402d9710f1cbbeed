// Package binlog turns a MySQL/MariaDB binary log into a pull stream of row images and
// transaction ends for one watched table.
//
// It drives go-mysql's replication.BinlogSyncer directly rather than canal: canal hands its
// handler rows laid out by the table's *current* columns and hides the table-map event, whose
// column names (binlog_row_metadata=FULL) are the only safe way to read an event written before an
// ALTER TABLE. Without that metadata the table's columns are read from information_schema,
// refreshed when a DDL statement names the table, and an event whose width disagrees with them
// stops the stream with an error instead of reading a value from the wrong column.
//
// Rows of other tables are not decoded at all (RowsEventDecodeFunc skips them), so unrelated
// write traffic costs a header parse per event.
//
// The package knows nothing about orders, carriers or Redis: it must not import sync/ or sinks/.
package binlog
