package binlog

import (
	"bytes"
	"context"
	"crypto/tls"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
)

// Position is a place in the binary log: the file and the offset of the next event, and the GTID
// of the last transaction read when the server uses GTIDs (informational; resume is by file:pos).
type Position struct {
	File string
	Pos  uint32
	GTID string
}

// String renders the position as file:pos.
func (p Position) String() string { return fmt.Sprintf("%s:%d", p.File, p.Pos) }

// IsZero reports whether the position is unset.
func (p Position) IsZero() bool { return p.File == "" }

// Kind says what an Event carries.
type Kind int

// Event kinds.
const (
	// KindRows carries row images of the watched table.
	KindRows Kind = iota + 1
	// KindCommit ends a transaction: an XID event, or the COMMIT query event that closes a
	// non-transactional (MyISAM) statement, or a DDL statement. Pos is where the next one starts.
	KindCommit
	// KindHeartbeat says the server is idle; Pos is the current position.
	KindHeartbeat
)

// Action is the kind of row change.
type Action int

// Row actions.
const (
	Insert Action = iota + 1
	Update
	Delete
)

func (a Action) String() string {
	switch a {
	case Insert:
		return "insert"
	case Update:
		return "update"
	case Delete:
		return "delete"
	}
	return "unknown"
}

// Event is one step of the stream.
type Event struct {
	Kind   Kind
	Action Action // KindRows
	Rows   []Row  // KindRows
	Pos    Position
	Time   time.Time // when the server wrote the event
}

// Row is one changed row. Before is empty for inserts, After for deletes.
type Row struct {
	Before, After Image
}

// Image is a row image whose values are looked up by column name.
type Image struct {
	cols *columns
	vals []any
}

// Text returns the column's value rendered as text (integers in decimal with their declared
// signedness, strings as they are). ok is false when the column does not exist or is NULL.
func (im Image) Text(name string) (text string, ok bool) {
	if im.cols == nil {
		return "", false
	}
	i, found := im.cols.index[name]
	if !found || i >= len(im.vals) {
		return "", false
	}
	return textOf(im.vals[i], im.cols.unsigned[i], im.cols.medium[i])
}

// Has reports whether the image's table has the column.
func (im Image) Has(name string) bool {
	if im.cols == nil {
		return false
	}
	_, ok := im.cols.index[name]
	return ok
}

// Empty reports whether the image holds no row.
func (im Image) Empty() bool { return im.cols == nil }

// Config says where the binlog comes from and which table matters.
type Config struct {
	Addr     string // host:port
	User     string
	Password string
	Flavor   string // mysql | mariadb
	ServerID uint32
	Charset  string
	// Heartbeat asks the server for a heartbeat when idle, so lag reads ~0 on an idle shop.
	Heartbeat time.Duration
	Schema    string
	Table     string
	TLS       *tls.Config // nil: plaintext; needs a ServerName (or InsecureSkipVerify)
}

// Stream reads the binlog from a position. It is used by one goroutine.
type Stream struct {
	cfg    Config
	meta   *sql.DB
	log    *slog.Logger
	syncer *replication.BinlogSyncer
	events *replication.BinlogStreamer

	file    string
	gtid    string
	cols    *columns                   // current column layout of the watched table
	lastMap *replication.TableMapEvent // the last table map handled: its layout built from metadata, or its types checked against cols
	mapCols *columns                   // layout built from lastMap's metadata
	refresh bool                       // re-read columns from information_schema before the next rows event
	pending []*replication.BinlogEvent // the rest of a compressed transaction being read
}

// New returns a stream over cfg. meta is used for information_schema look-ups.
func New(cfg Config, meta *sql.DB, log *slog.Logger) *Stream {
	if cfg.Flavor == "" {
		cfg.Flavor = mysql.MariaDBFlavor
	}
	if cfg.Charset == "" {
		cfg.Charset = "utf8mb4"
	}
	return &Stream{cfg: cfg, meta: meta, log: log, refresh: true}
}

// Start connects and positions the stream at from. It does not block beyond the handshake.
func (s *Stream) Start(ctx context.Context, from Position) error {
	host, portText, err := net.SplitHostPort(s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("binlog source address %q: %w", s.cfg.Addr, err)
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil {
		return fmt.Errorf("binlog source port %q: %w", portText, err)
	}
	s.syncer = replication.NewBinlogSyncer(replication.BinlogSyncerConfig{
		ServerID:        s.cfg.ServerID,
		Flavor:          s.cfg.Flavor,
		Host:            host,
		Port:            uint16(port),
		User:            s.cfg.User,
		Password:        s.cfg.Password,
		Charset:         s.cfg.Charset,
		HeartbeatPeriod: s.cfg.Heartbeat,
		TLSConfig:       s.cfg.TLS,
		ReadTimeout:     readTimeout(s.cfg.Heartbeat),
		// Reconnects are the caller's: it restarts at the end of the last whole transaction,
		// whereas the syncer would resume mid-transaction without its table map.
		DisableRetrySync: true,
		// go-mysql buffers 10,240 decoded events by default; while the workers hold the reader
		// back (a 20,000-row transaction) that buffer alone grows to ~100 MB. A hundred or so keep
		// the decoder ahead with bounded memory.
		EventCacheCount:     128,
		Logger:              slog.New(quiet{s.log.Handler()}),
		RowsEventDecodeFunc: rowsDecoder(s.cfg.Schema, s.cfg.Table),
	})
	s.file = from.File
	s.gtid = from.GTID
	s.events, err = s.syncer.StartSync(mysql.Position{Name: from.File, Pos: from.Pos})
	if err != nil {
		s.syncer.Close()
		return fmt.Errorf("start binlog stream at %s: %w", from, err)
	}
	return nil
}

// rowsDecoder decodes the rows of the watched table only. go-mysql also applies it to the rows
// events inside a compressed transaction (TransactionPayloadEvent).
func rowsDecoder(schema, table string) func(*replication.RowsEvent, []byte) error {
	s, t := []byte(schema), []byte(table)
	return func(e *replication.RowsEvent, data []byte) error {
		pos, err := e.DecodeHeader(data)
		if err != nil {
			return err
		}
		if !bytes.EqualFold(e.Table.Table, t) || !bytes.EqualFold(e.Table.Schema, s) {
			return nil // another table: skip decoding its rows
		}
		if columnsSelected(e.ColumnBitmap1, e.ColumnCount)+columnsSelected(e.ColumnBitmap2, e.ColumnCount) == 0 {
			// Every row image would be empty: go-mysql's decoder then never gets past the first
			// row and appends empty rows until memory runs out (found by FuzzRows). No real
			// table's event selects no column.
			return fmt.Errorf("rows event of %s.%s selects no column (%d bytes of rows): the binlog is corrupt", schema, table, len(data)-pos)
		}
		return e.DecodeData(pos, data)
	}
}

// columnsSelected counts the columns a rows event's bitmap marks present, of n.
func columnsSelected(bitmap []byte, n uint64) int {
	c := 0
	for i := uint64(0); i < n && int(i/8) < len(bitmap); i++ {
		if bitmap[i/8]&(1<<(i%8)) != 0 {
			c++
		}
	}
	return c
}

func readTimeout(heartbeat time.Duration) time.Duration {
	if heartbeat <= 0 {
		return 0
	}
	return 3*heartbeat + 10*time.Second
}

// Close stops the stream.
func (s *Stream) Close() {
	if s.syncer != nil {
		s.syncer.Close()
	}
}

// ErrColumnMismatch means a row event does not fit the table's known columns.
var ErrColumnMismatch = errors.New("binlog row width does not match the table's columns")

// ErrUnknownRowsEvent means a rows event of a type the reader cannot tell insert, update or
// delete from.
var ErrUnknownRowsEvent = errors.New("binlog rows event of an unknown type")

// ErrPartialJSON means an update logs only the change to a JSON value
// (binlog_row_value_options=PARTIAL_JSON), so the row's new value is not in the binlog.
var ErrPartialJSON = errors.New("binlog update holds a partial JSON value")

// Next blocks until the next event that matters: rows of the watched table, a transaction end or
// a heartbeat. Errors are final for this Stream; the caller starts a new one.
func (s *Stream) Next(ctx context.Context) (Event, error) {
	for {
		ev, err := s.next(ctx)
		if err != nil {
			return Event{}, err
		}
		at := time.Unix(int64(ev.Header.Timestamp), 0)
		switch e := ev.Event.(type) {
		case *replication.RotateEvent:
			s.file = string(e.NextLogName)
		case *replication.MariadbGTIDEvent:
			s.gtid = e.GTID.String()
		case *replication.GTIDEvent:
			if next, err := e.GTIDNext(); err == nil {
				s.gtid = next.String()
			}
		case *replication.XIDEvent:
			return s.commit(ev.Header, at), nil
		case *replication.QueryEvent:
			q := bytes.TrimSpace(e.Query)
			if isTxStatement(q) {
				continue
			}
			if !isEnd(q) && mentions(q, s.cfg.Table) {
				s.refresh = true
				s.mapCols = nil
				s.lastMap = nil
			}
			return s.commit(ev.Header, at), nil
		case *replication.TransactionPayloadEvent:
			// binlog_transaction_compression=ON: the whole transaction (BEGIN, table maps,
			// rows, XID) is in the payload, which go-mysql has already unpacked. It stamps the
			// inner events with the payload's start, and the last one (the XID) with its end.
			s.pending = e.Events
		case *replication.HeartbeatEvent:
			return Event{Kind: KindHeartbeat, Pos: s.position(ev.Header.LogPos), Time: time.Now()}, nil
		case *replication.RowsEvent:
			if e.Rows == nil || !strings.EqualFold(string(e.Table.Table), s.cfg.Table) ||
				!strings.EqualFold(string(e.Table.Schema), s.cfg.Schema) {
				continue
			}
			out, err := s.rows(ctx, ev.Header.EventType, e)
			if err != nil {
				return Event{}, err
			}
			out.Time = at
			out.Pos = s.position(ev.Header.LogPos)
			return out, nil
		}
	}
}

// next returns the next event of a compressed transaction being read, else of the server.
func (s *Stream) next(ctx context.Context) (*replication.BinlogEvent, error) {
	if len(s.pending) > 0 {
		ev := s.pending[0]
		s.pending = s.pending[1:]
		return ev, nil
	}
	return s.events.GetEvent(ctx)
}

func (s *Stream) commit(h *replication.EventHeader, at time.Time) Event {
	return Event{Kind: KindCommit, Pos: s.position(h.LogPos), Time: at}
}

func (s *Stream) position(logPos uint32) Position {
	return Position{File: s.file, Pos: logPos, GTID: s.gtid}
}

// isTxStatement reports query events that neither end a transaction nor change a table.
func isTxStatement(q []byte) bool {
	return hasPrefixFold(q, "BEGIN") || hasPrefixFold(q, "SAVEPOINT") || hasPrefixFold(q, "ROLLBACK TO") ||
		hasPrefixFold(q, "XA START") || hasPrefixFold(q, "XA END") || hasPrefixFold(q, "XA PREPARE")
}

func isEnd(q []byte) bool {
	return hasPrefixFold(q, "COMMIT") || hasPrefixFold(q, "ROLLBACK") || hasPrefixFold(q, "XA COMMIT")
}

func hasPrefixFold(q []byte, p string) bool {
	return len(q) >= len(p) && strings.EqualFold(string(q[:len(p)]), p)
}

// mentions is deliberately loose: a DDL naming the table anywhere refreshes its columns, which
// costs one information_schema query when it was a false alarm.
func mentions(q []byte, table string) bool {
	return bytes.Contains(bytes.ToLower(q), []byte(strings.ToLower(table)))
}

func (s *Stream) rows(ctx context.Context, t replication.EventType, e *replication.RowsEvent) (Event, error) {
	cols, err := s.layout(ctx, e)
	if err != nil {
		return Event{}, err
	}
	out := Event{Kind: KindRows}
	switch t {
	case replication.WRITE_ROWS_EVENTv0, replication.WRITE_ROWS_EVENTv1, replication.WRITE_ROWS_EVENTv2,
		replication.MARIADB_WRITE_ROWS_COMPRESSED_EVENT_V1:
		out.Action = Insert
		out.Rows = make([]Row, len(e.Rows))
		for i, r := range e.Rows {
			out.Rows[i] = Row{After: Image{cols, r}}
		}
	case replication.UPDATE_ROWS_EVENTv0, replication.UPDATE_ROWS_EVENTv1, replication.UPDATE_ROWS_EVENTv2,
		replication.MARIADB_UPDATE_ROWS_COMPRESSED_EVENT_V1, replication.PARTIAL_UPDATE_ROWS_EVENT:
		if t == replication.PARTIAL_UPDATE_ROWS_EVENT {
			if err := s.wholeValues(e, cols); err != nil {
				return Event{}, err
			}
		}
		out.Action = Update
		out.Rows = make([]Row, 0, len(e.Rows)/2)
		for i := 0; i+1 < len(e.Rows); i += 2 {
			out.Rows = append(out.Rows, Row{Before: Image{cols, e.Rows[i]}, After: Image{cols, e.Rows[i+1]}})
		}
	case replication.DELETE_ROWS_EVENTv0, replication.DELETE_ROWS_EVENTv1, replication.DELETE_ROWS_EVENTv2,
		replication.MARIADB_DELETE_ROWS_COMPRESSED_EVENT_V1:
		out.Action = Delete
		out.Rows = make([]Row, len(e.Rows))
		for i, r := range e.Rows {
			out.Rows[i] = Row{Before: Image{cols, r}}
		}
	default:
		return Event{}, fmt.Errorf("%w: %s (%d) on %s.%s in %s", ErrUnknownRowsEvent, t, byte(t),
			s.cfg.Schema, s.cfg.Table, s.file)
	}
	return out, nil
}

// wholeValues refuses an update whose new row holds a JSON diff instead of the value. MySQL
// writes every update as a PARTIAL_UPDATE_ROWS_EVENT once binlog_row_value_options=PARTIAL_JSON,
// but only a JSON column changed in place (JSON_SET, JSON_REPLACE, JSON_REMOVE) is logged as a
// diff; all other values are whole and decode as in UPDATE_ROWS_EVENT.
func (s *Stream) wholeValues(e *replication.RowsEvent, cols *columns) error {
	for _, row := range e.Rows {
		for i, v := range row {
			if _, partial := v.(*replication.JsonDiff); !partial {
				continue
			}
			name := strconv.Itoa(i + 1)
			if i < len(cols.names) {
				name = cols.names[i]
			}
			return fmt.Errorf("%w: column %s of %s.%s in %s (binlog_row_value_options=PARTIAL_JSON); "+
				"SET GLOBAL binlog_row_value_options = '' (and in my.cnf), then restart with --recover",
				ErrPartialJSON, name, s.cfg.Schema, s.cfg.Table, s.file)
		}
	}
	return nil
}

// layout resolves the event's columns by name: from the table map's own metadata when the server
// writes it (binlog_row_metadata=FULL), else from the table's current definition.
func (s *Stream) layout(ctx context.Context, e *replication.RowsEvent) (*columns, error) {
	tm := e.Table
	if len(tm.ColumnName) > 0 {
		if tm == s.lastMap && s.mapCols != nil {
			return s.mapCols, nil
		}
		names := tm.ColumnNameString()
		if s.mapCols == nil || !s.mapCols.sameNames(names) {
			unsigned := tm.UnsignedMap()
			c := newColumns(names)
			for i := range names {
				c.unsigned[i] = unsigned[i]
				c.medium[i] = tm.ColumnType[i] == mysql.MYSQL_TYPE_INT24
			}
			s.mapCols = c
		}
		s.lastMap = tm
		return s.mapCols, nil
	}
	if s.refresh || s.cols == nil {
		c, err := s.readColumns(ctx)
		if err != nil {
			return nil, err
		}
		s.cols, s.refresh, s.lastMap = c, false, nil
	}
	if int(e.ColumnCount) != len(s.cols.names) {
		return nil, fmt.Errorf("%w: %s.%s event at %s has %d columns, the table has %d now "+
			"(the stream is older than an ALTER TABLE); set binlog_row_metadata=FULL, "+
			"or restart with --recover", ErrColumnMismatch, s.cfg.Schema, s.cfg.Table, s.file,
			e.ColumnCount, len(s.cols.names))
	}
	// Same width is not proof of the same columns (an ALTER that adds one and drops another):
	// the table map always carries each column's type, so compare what can be compared.
	if tm != s.lastMap {
		if i, ok := s.cols.typesMatch(tm.ColumnType); !ok {
			return nil, fmt.Errorf("%w: %s.%s event at %s has a column of binlog type %d at position %d, where the "+
				"table now has %s %s (the stream is older than an ALTER TABLE); set binlog_row_metadata=FULL, "+
				"or restart with --recover", ErrColumnMismatch, s.cfg.Schema, s.cfg.Table, s.file,
				tm.ColumnType[i], i+1, s.cols.names[i], s.cols.dataTypes[i])
		}
		s.lastMap = tm
	}
	return s.cols, nil
}

// binlogTypes are the table-map column types a column of an information_schema DATA_TYPE is
// written with, for the types where that is certain across MySQL 5.x/8 and MariaDB (old VARCHAR
// and DECIMAL formats of upgraded tables included). Others (temporal types, whose old and new
// formats differ; ENUM, SET, JSON, BIT, spatial) are not compared.
var binlogTypes = map[string][]byte{
	"tinyint":    {mysql.MYSQL_TYPE_TINY},
	"smallint":   {mysql.MYSQL_TYPE_SHORT},
	"mediumint":  {mysql.MYSQL_TYPE_INT24},
	"int":        {mysql.MYSQL_TYPE_LONG},
	"integer":    {mysql.MYSQL_TYPE_LONG},
	"bigint":     {mysql.MYSQL_TYPE_LONGLONG},
	"decimal":    {mysql.MYSQL_TYPE_NEWDECIMAL, mysql.MYSQL_TYPE_DECIMAL},
	"numeric":    {mysql.MYSQL_TYPE_NEWDECIMAL, mysql.MYSQL_TYPE_DECIMAL},
	"float":      {mysql.MYSQL_TYPE_FLOAT},
	"double":     {mysql.MYSQL_TYPE_DOUBLE},
	"varchar":    {mysql.MYSQL_TYPE_VARCHAR, mysql.MYSQL_TYPE_VAR_STRING},
	"varbinary":  {mysql.MYSQL_TYPE_VARCHAR, mysql.MYSQL_TYPE_VAR_STRING},
	"char":       {mysql.MYSQL_TYPE_STRING},
	"binary":     {mysql.MYSQL_TYPE_STRING},
	"tinytext":   {mysql.MYSQL_TYPE_BLOB},
	"text":       {mysql.MYSQL_TYPE_BLOB},
	"mediumtext": {mysql.MYSQL_TYPE_BLOB},
	"longtext":   {mysql.MYSQL_TYPE_BLOB},
	"tinyblob":   {mysql.MYSQL_TYPE_BLOB},
	"blob":       {mysql.MYSQL_TYPE_BLOB},
	"mediumblob": {mysql.MYSQL_TYPE_BLOB},
	"longblob":   {mysql.MYSQL_TYPE_BLOB},
}

// typesMatch reports whether an event's column types fit the known columns; if not, the first
// position that does not.
func (c *columns) typesMatch(types []byte) (int, bool) {
	for i, t := range types {
		if i >= len(c.dataTypes) {
			break
		}
		want, known := binlogTypes[c.dataTypes[i]]
		if known && !slices.Contains(want, t) {
			return i, false
		}
	}
	return 0, true
}

func (s *Stream) readColumns(ctx context.Context) (*columns, error) {
	rows, err := s.meta.QueryContext(ctx, `SELECT COLUMN_NAME, COLUMN_TYPE, DATA_TYPE FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`, s.cfg.Schema, s.cfg.Table)
	if err != nil {
		return nil, fmt.Errorf("read columns of %s.%s: %w", s.cfg.Schema, s.cfg.Table, err)
	}
	defer rows.Close()
	var names, types, dataTypes []string
	for rows.Next() {
		var name, typ, dataType string
		if err := rows.Scan(&name, &typ, &dataType); err != nil {
			return nil, fmt.Errorf("read columns of %s.%s: %w", s.cfg.Schema, s.cfg.Table, err)
		}
		names = append(names, name)
		types = append(types, strings.ToLower(typ))
		dataTypes = append(dataTypes, strings.ToLower(dataType))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read columns of %s.%s: %w", s.cfg.Schema, s.cfg.Table, err)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("table %s.%s not found", s.cfg.Schema, s.cfg.Table)
	}
	c := newColumns(names)
	c.dataTypes = dataTypes
	for i, t := range types {
		c.unsigned[i] = strings.Contains(t, "unsigned")
		c.medium[i] = strings.HasPrefix(t, "mediumint")
	}
	return c, nil
}

type columns struct {
	names     []string
	index     map[string]int
	unsigned  []bool
	medium    []bool
	dataTypes []string // information_schema DATA_TYPE; empty when built from a table map
}

func newColumns(names []string) *columns {
	c := &columns{names: names, index: make(map[string]int, len(names)),
		unsigned: make([]bool, len(names)), medium: make([]bool, len(names))}
	for i, n := range names {
		c.index[n] = i
	}
	return c
}

func (c *columns) sameNames(names []string) bool {
	if len(names) != len(c.names) {
		return false
	}
	for i := range names {
		if names[i] != c.names[i] {
			return false
		}
	}
	return true
}

func textOf(v any, unsigned, medium bool) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", false
	case string:
		return x, true
	case []byte:
		return string(x), true
	case int8:
		if unsigned {
			return strconv.FormatUint(uint64(uint8(x)), 10), true
		}
		return strconv.FormatInt(int64(x), 10), true
	case int16:
		if unsigned {
			return strconv.FormatUint(uint64(uint16(x)), 10), true
		}
		return strconv.FormatInt(int64(x), 10), true
	case int32:
		if unsigned {
			if medium {
				return strconv.FormatUint(uint64(uint32(x)&0xFFFFFF), 10), true
			}
			return strconv.FormatUint(uint64(uint32(x)), 10), true
		}
		return strconv.FormatInt(int64(x), 10), true
	case int64:
		if unsigned {
			return strconv.FormatUint(uint64(x), 10), true
		}
		return strconv.FormatInt(x, 10), true
	case int:
		return strconv.Itoa(x), true
	case uint64:
		return strconv.FormatUint(x, 10), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case float32:
		return strconv.FormatFloat(float64(x), 'f', -1, 32), true
	case time.Time:
		return x.Format("2006-01-02 15:04:05"), true
	default:
		return fmt.Sprint(x), true
	}
}

// CurrentPosition returns the server's current binlog end.
func CurrentPosition(ctx context.Context, db *sql.DB) (Position, error) {
	var p Position
	for _, q := range []string{"SHOW MASTER STATUS", "SHOW BINARY LOG STATUS"} {
		rows, err := db.QueryContext(ctx, q)
		if err != nil {
			continue
		}
		p, err = scanStatus(rows)
		if err != nil {
			return Position{}, err
		}
		break
	}
	if p.File == "" {
		return Position{}, errors.New("read binlog position: the server reports none (is log_bin ON, and does the user have REPLICATION CLIENT?)")
	}
	return p, nil
}

func scanStatus(rows *sql.Rows) (Position, error) {
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return Position{}, fmt.Errorf("read binlog position: %w", err)
	}
	var p Position
	if rows.Next() {
		vals := make([]sql.RawBytes, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return Position{}, fmt.Errorf("read binlog position: %w", err)
		}
		pos, err := strconv.ParseUint(string(vals[1]), 10, 32)
		if err != nil {
			return Position{}, fmt.Errorf("read binlog position: %w", err)
		}
		p = Position{File: string(vals[0]), Pos: uint32(pos)}
	}
	return p, rows.Err()
}

// HasFile reports whether the server still has the binlog file (it may have been purged).
func HasFile(ctx context.Context, db *sql.DB, file string) (bool, error) {
	rows, err := db.QueryContext(ctx, "SHOW BINARY LOGS")
	if err != nil {
		return false, fmt.Errorf("list binlogs: %w", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return false, fmt.Errorf("list binlogs: %w", err)
	}
	found := false
	for rows.Next() {
		vals := make([]sql.RawBytes, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return false, fmt.Errorf("list binlogs: %w", err)
		}
		if string(vals[0]) == file {
			found = true
		}
	}
	return found, rows.Err()
}

// quiet keeps go-mysql's per-connection Info chatter (which also dumps its config) out of the
// daemon's log; its warnings and errors pass.
type quiet struct{ slog.Handler }

func (q quiet) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn && q.Handler.Enabled(ctx, l)
}

func (q quiet) WithAttrs(a []slog.Attr) slog.Handler { return quiet{q.Handler.WithAttrs(a)} }
func (q quiet) WithGroup(n string) slog.Handler      { return quiet{q.Handler.WithGroup(n)} }
