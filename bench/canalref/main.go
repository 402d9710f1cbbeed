// Command canalref is the reference side of the ingest benchmark (bench, scenario ingest): go-mysql
// canal with an empty handler, reading the binlog from one position to another and decoding the
// rows of one table only (IncludeTableRegex), which is what shipsync's source decodes too.
//
// It is a module of its own because canal pulls in dependencies (a TOML parser, failpoint) that
// shipsync itself does not need; the harness builds it and runs it as a separate process, like
// the daemon. It prints one JSON object with its counts and timings on stdout.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"sync"
	"time"

	"github.com/go-mysql-org/go-mysql/canal"
	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
)

// result is what the harness reads back.
type result struct {
	Rows       map[string]int64 `json:"rows"`        // row changes of the table, by action
	StartupSec float64          `json:"startup_sec"` // process work before the first row: connect, first schema read
	StreamSec  float64          `json:"stream_sec"`  // first row to the end position
	TotalSec   float64          `json:"total_sec"`   // NewCanal to the end position
}

// handler counts rows (an increment per rows event is as close to empty as a handler gets) and
// tells main when the end position has been passed.
type handler struct {
	canal.DummyEventHandler
	endFile string
	endPos  uint32

	mu    sync.Mutex
	first time.Time
	rows  map[string]int64
	done  chan struct{}
	once  sync.Once
}

func (h *handler) OnRow(e *canal.RowsEvent) error {
	n := int64(len(e.Rows))
	if e.Action == canal.UpdateAction {
		n /= 2 // before and after image of each row
	}
	h.mu.Lock()
	if h.first.IsZero() {
		h.first = time.Now()
	}
	h.rows[e.Action] += n
	h.mu.Unlock()
	return nil
}

func (h *handler) OnPosSynced(_ *replication.EventHeader, pos mysql.Position, _ mysql.GTIDSet, _ bool) error {
	if pos.Name > h.endFile || (pos.Name == h.endFile && pos.Pos >= h.endPos) {
		h.once.Do(func() { close(h.done) })
	}
	return nil
}

func (h *handler) String() string { return "canalref" }

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "canalref:", err)
		os.Exit(1)
	}
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:3306", "MariaDB address")
	user := flag.String("user", "root", "replication user (password from CANALREF_PASSWORD)")
	schema := flag.String("schema", "", "schema of the decoded table")
	table := flag.String("table", "", "the decoded table")
	file := flag.String("file", "", "start binlog file")
	pos := flag.Uint("pos", 4, "start position")
	endFile := flag.String("end-file", "", "end binlog file")
	endPos := flag.Uint("end-pos", 0, "end position: stop at the first transaction end at or after it")
	serverID := flag.Uint("server-id", 7301, "replication client id")
	flag.Parse()

	start := time.Now()
	cfg := canal.NewDefaultConfig()
	cfg.Addr = *addr
	cfg.User = *user
	cfg.Password = os.Getenv("CANALREF_PASSWORD")
	cfg.Flavor = mysql.MariaDBFlavor
	cfg.Charset = "utf8mb4"
	cfg.ServerID = uint32(*serverID)
	cfg.Dump.ExecutionPath = "" // no mysqldump: binlog only
	cfg.IncludeTableRegex = []string{"^" + regexp.QuoteMeta(*schema) + `\.` + regexp.QuoteMeta(*table) + "$"}
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	c, err := canal.NewCanal(cfg)
	if err != nil {
		return fmt.Errorf("new canal: %w", err)
	}
	h := &handler{endFile: *endFile, endPos: uint32(*endPos), rows: map[string]int64{}, done: make(chan struct{})}
	c.SetEventHandler(h)
	runErr := make(chan error, 1)
	go func() { runErr <- c.RunFrom(mysql.Position{Name: *file, Pos: uint32(*pos)}) }()
	select {
	case <-h.done:
	case err := <-runErr:
		return fmt.Errorf("canal stopped before the end position: %v", err)
	case <-time.After(10 * time.Minute):
		return fmt.Errorf("end position not reached within 10 minutes")
	}
	end := time.Now()
	c.Close()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.first.IsZero() {
		h.first = end
	}
	return json.NewEncoder(os.Stdout).Encode(result{Rows: h.rows, StartupSec: h.first.Sub(start).Seconds(),
		StreamSec: end.Sub(h.first).Seconds(), TotalSec: end.Sub(start).Seconds()})
}
