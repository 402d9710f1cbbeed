package binlog

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"testing"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
)

// fuzzRowsTypes are the event types the fuzzed rows body is written as.
var fuzzRowsTypes = []replication.EventType{
	replication.WRITE_ROWS_EVENTv2, replication.UPDATE_ROWS_EVENTv2, replication.DELETE_ROWS_EVENTv2,
	replication.PARTIAL_UPDATE_ROWS_EVENT, replication.WRITE_ROWS_EVENTv1, replication.UPDATE_ROWS_EVENTv1,
	replication.DELETE_ROWS_EVENTv1, replication.TRANSACTION_PAYLOAD_EVENT,
}

// parseRecovered is BinlogParser.Parse with a panic turned into an error, as BinlogSyncer's
// stream goroutine does with the events it reads from the server.
func parseRecovered(p *replication.BinlogParser, raw []byte) (ev *replication.BinlogEvent, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("parser panic: %v", r)
		}
	}()
	return p.Parse(raw)
}

// FuzzRows drives the value decoding path end to end: a MySQL 8 binlog (format description,
// BEGIN, a table map, one rows event, XID) whose table map body and rows body are fuzzed is
// parsed with go-mysql's parser and shipsync's rowsDecoder, read back with Stream.Next, and
// every value of every row image is rendered with Image.Text. shipsync's part (rowsDecoder,
// Next, rows, layout, wholeValues, Text) must never panic; errors are fine. go-mysql's own
// parser panics are turned into errors first, as BinlogSyncer does in production. With an
// empty map body the real ecs_order_info map (binlog_row_metadata=FULL) is used; a map without
// column names takes the information_schema path, whose columns are preset.
func FuzzRows(f *testing.F) {
	f.Add([]byte(nil), byte(1), paidUpdate(7))
	f.Add([]byte(nil), byte(0), rowsBody(ordersID, false, image(8, 2, jsonTrue)))
	f.Add([]byte(nil), byte(2), rowsBody(ordersID, false, image(1<<24-1, 255, "")))
	f.Add([]byte(nil), byte(3), rowsBody(ordersID, true, image(7, 0, jsonTrue), partialImage(7, 2, true)))
	f.Add([]byte(nil), byte(3), rowsBody(ordersID, true, image(7, 0, jsonTrue), partialImage(7, 2, false)))
	f.Add([]byte(nil), byte(1), rowsBody(ordersID, true, image(7, 0, jsonTrue)))
	f.Add([]byte(nil), byte(0), rowsBody(ordersID, false, []byte{0x0e, 1, 0, 0}))
	f.Add([]byte(nil), byte(0), paidUpdate(7)[:20])
	f.Add(ordersMap(), byte(1), paidUpdate(7))
	f.Add(goodsMap(), byte(1), rowsBody(goodsID, true, image(7, 0, jsonTrue), image(7, 2, jsonTrue)))
	// A table map without metadata: the layout comes from the preset columns.
	noMeta := ordersMap()
	noMeta = noMeta[:len(noMeta)-3-2-4-len("order_idorder_snpay_statusextra")] // signedness, column names
	f.Add(noMeta, byte(1), paidUpdate(7))
	f.Fuzz(func(t *testing.T, mapBody []byte, kind byte, rows []byte) {
		if len(mapBody) > 1<<12 || len(rows) > 1<<14 {
			return
		}
		if len(mapBody) == 0 {
			mapBody = ordersMap()
		}
		bf := newBinlogFile()
		bf.add(replication.QUERY_EVENT, queryBody("BEGIN"))
		bf.add(replication.TABLE_MAP_EVENT, mapBody)
		bf.add(fuzzRowsTypes[int(kind)%len(fuzzRowsTypes)], rows)
		bf.add(replication.XID_EVENT, xidBody(41))

		cfg := Config{Flavor: mysql.MySQLFlavor, Schema: "shop", Table: "ecs_order_info"}
		s := New(cfg, nil, slog.New(slog.DiscardHandler))
		s.file = "binlog.000007"
		// Preset the information_schema layout so that no database is needed.
		s.cols = newColumns([]string{"order_id", "order_sn", "pay_status", "extra"})
		s.cols.dataTypes = []string{"mediumint", "varchar", "tinyint", "json"}
		s.cols.unsigned[0], s.cols.medium[0], s.cols.unsigned[2] = true, true, true
		s.refresh = false
		s.events = replication.NewBinlogStreamer()
		p := replication.NewBinlogParser()
		p.SetFlavor(mysql.MySQLFlavor)
		p.SetVerifyChecksum(true)
		p.SetRowsEventDecodeFunc(guardedDecoder(t, cfg.Schema, cfg.Table))
		for _, raw := range bf.events {
			ev, err := parseRecovered(p, raw)
			if err != nil {
				break // the syncer would end the stream here; what was read is still read
			}
			if err := s.events.AddEventToStreamer(ev); err != nil {
				t.Fatal(err)
			}
		}
		end := &replication.BinlogEvent{Header: &replication.EventHeader{EventType: replication.HEARTBEAT_EVENT},
			Event: &replication.HeartbeatEvent{}}
		if err := s.events.AddEventToStreamer(end); err != nil {
			t.Fatal(err)
		}
		// Next returns at the heartbeat at the latest; a fuzzed compressed transaction may hold
		// many events before it.
		for {
			ev, err := s.Next(context.Background())
			if err != nil || ev.Kind == KindHeartbeat {
				return
			}
			for _, r := range ev.Rows {
				for _, im := range []Image{r.Before, r.After} {
					if im.Empty() {
						continue
					}
					for _, name := range append(append([]string(nil), im.cols.names...), "missing") {
						im.Text(name)
						im.Has(name)
					}
				}
			}
		}
	})
}

// guardedDecoder is rowsDecoder, except that a rows event on which go-mysql's DecodeData never
// returns is failed with a report instead of being decoded. go-mysql v1.16.0 loops forever,
// appending empty rows until the process dies of OOM (not a panic: BinlogSyncer cannot recover
// it), when the first column bitmap selects no column (column count 0, or a bitmap of zeros) and
// row data follows: each image then consumes no bytes. Once rowsDecoder refuses such an event
// from its header alone, the probe below gets that error and the event is reported as refused.
func guardedDecoder(t *testing.T, schema, table string) func(*replication.RowsEvent, []byte) error {
	decode := rowsDecoder(schema, table)
	return func(e *replication.RowsEvent, data []byte) error {
		pos, err := e.DecodeHeader(data)
		if err != nil || pos >= len(data) || columnsSelected(e.ColumnBitmap1, e.ColumnCount) > 0 ||
			!bytes.EqualFold(e.Table.Table, []byte(table)) || !bytes.EqualFold(e.Table.Schema, []byte(schema)) {
			return decode(e, data)
		}
		// The header alone holds no row, so DecodeData returns at once: this only asks whether
		// rowsDecoder refuses the header.
		if err := decode(e, data[:pos]); err != nil {
			return err
		}
		t.Fatalf("rowsDecoder passes a rows event of %s.%s with %d columns and no column selected by its "+
			"bitmap (%x) to go-mysql's DecodeData, followed by %d bytes of rows: DecodeData then loops forever and "+
			"grows memory until the process dies; rows body %q", e.Table.Schema, e.Table.Table,
			e.ColumnCount, e.ColumnBitmap1, len(data)-pos, data)
		return nil
	}
}
