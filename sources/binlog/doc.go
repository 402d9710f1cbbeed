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
// MySQL 8: a compressed transaction (binlog_transaction_compression=ON) arrives as one
// TransactionPayloadEvent, which go-mysql unpacks; its table maps, rows and XID are read as if
// they had come one by one, the XID ending the transaction at the payload's end position. An
// update logged with binlog_row_value_options=PARTIAL_JSON (PARTIAL_UPDATE_ROWS_EVENT) reads
// as an update while its values are whole, and stops the stream with ErrPartialJSON when a JSON
// value is only a diff. A rows event of any other type is ErrUnknownRowsEvent, never a delete.
//
// The package knows nothing about orders, carriers or Redis: it must not import sync/ or sinks/.
package binlog
