package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"time"

	"github.com/shipsync/shipsync/sources/binlog"
	"github.com/shipsync/shipsync/sync/config"
)

func statusCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "config.yaml", "configuration file")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	if err := fs.Parse(args); err != nil {
		return flagError(err)
	}
	cfg, err := loadAdminConfig(*path)
	if err != nil {
		return err
	}
	d, err := openState(ctx, cfg)
	if err != nil {
		return err
	}
	defer d.close()
	// The shop only adds the binlog end; when it does not answer, say so and report the rest.
	if d.db, err = connectShop(cfg.Shop, 1); err != nil {
		return err
	}
	r, err := gatherStatus(ctx, d, cfg.Shop.ReadTimeout)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	switch {
	case r.ShopError != "":
		fmt.Fprintf(stdout, "binlog end     unknown: the shop database %s is unreachable (%s)\n", cfg.Shop.Addr, r.ShopError)
	default:
		fmt.Fprintf(stdout, "binlog end     %s\n", r.BinlogEnd)
	}
	switch {
	case r.Checkpoint == "":
		fmt.Fprintln(stdout, "checkpoint     none (first start runs at the binlog end with a backfill)")
	case r.BytesBehind != nil:
		fmt.Fprintf(stdout, "checkpoint     %s (%d bytes behind), saved %s ago\n", r.Checkpoint, *r.BytesBehind,
			(time.Duration(r.CheckpointAgeSeconds) * time.Second).String())
	case r.ShopError != "":
		fmt.Fprintf(stdout, "checkpoint     %s, saved %s ago\n", r.Checkpoint,
			(time.Duration(r.CheckpointAgeSeconds) * time.Second).String())
	default:
		fmt.Fprintf(stdout, "checkpoint     %s (an older binlog file), saved %s ago\n", r.Checkpoint,
			(time.Duration(r.CheckpointAgeSeconds) * time.Second).String())
	}
	if r.GTID != "" {
		fmt.Fprintf(stdout, "gtid           %s\n", r.GTID)
	}
	fmt.Fprintf(stdout, "retry queue    %d\ndead letter    %d\n", r.RetryQueue, r.DeadLetter)
	printCounts(stdout, "orders by state:", r.Orders)
	printCounts(stdout, "parcels by status:", r.Parcels)
	return nil
}

// statusReport is `shipsync status`, as a table or JSON.
type statusReport struct {
	BinlogEnd            string         `json:"binlog_end"`           // empty when the shop did not answer
	ShopError            string         `json:"shop_error,omitempty"` // why the binlog end is unknown
	Checkpoint           string         `json:"checkpoint"`
	GTID                 string         `json:"gtid,omitempty"`
	BytesBehind          *uint32        `json:"bytes_behind,omitempty"` // when in the same binlog file
	CheckpointAgeSeconds int64          `json:"checkpoint_age_seconds"`
	RetryQueue           int64          `json:"retry_queue"`
	DeadLetter           int64          `json:"dead_letter"`
	Orders               map[string]int `json:"orders_by_state"`
	Parcels              map[string]int `json:"parcels_by_status"`
}

// gatherStatus reads Redis, and the binlog end from d.db within timeout; a shop that does not
// answer is reported in ShopError, not as a failure.
func gatherStatus(ctx context.Context, d *deps, timeout time.Duration) (statusReport, error) {
	var r statusReport
	cp, ok, err := d.store.LoadCheckpoint(ctx)
	if err != nil {
		return r, err
	}
	shopCtx, cancel := context.WithTimeout(ctx, timeout)
	var cur binlog.Position
	err = d.db.PingContext(shopCtx) // CurrentPosition would take "unreachable" for "no binlog"
	if err == nil {
		cur, err = binlog.CurrentPosition(shopCtx, d.db)
	}
	cancel()
	if err != nil {
		r.ShopError = err.Error()
	} else {
		r.BinlogEnd = cur.String()
	}
	if ok {
		r.Checkpoint, r.GTID = fmt.Sprintf("%s:%d", cp.File, cp.Pos), cp.GTID
		r.CheckpointAgeSeconds = int64(time.Since(cp.SavedAt).Seconds())
		if r.ShopError == "" && cp.File == cur.File {
			behind := cur.Pos - min(cp.Pos, cur.Pos)
			r.BytesBehind = &behind
		}
	}
	if r.RetryQueue, err = d.store.RetryDepth(ctx); err != nil {
		return r, err
	}
	if r.DeadLetter, err = d.store.DeadDepth(ctx); err != nil {
		return r, err
	}
	r.Orders, r.Parcels, err = d.store.CountByState(ctx)
	return r, err
}

func printCounts(w io.Writer, title string, counts map[string]int) {
	if len(counts) == 0 {
		return
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Fprintln(w, title)
	for _, k := range keys {
		fmt.Fprintf(w, "  %-26s %d\n", k, counts[k])
	}
}

// bareVar is a ${NAME} reference without a default.
var bareVar = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// loadAdminConfig loads the configuration for the commands that only read or repair shipsync's
// own state (status, dlq): the carriers' secrets and the admin token are not needed there, so an
// unset environment variable stands in as a placeholder instead of failing the load (a shop
// password left unset then makes status report the shop as unreachable, which it is to this
// environment).
func loadAdminConfig(path string) (*config.Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	// Only variables written without a default stand in: ${NAME:-default} keeps its default.
	required := map[string]bool{}
	for _, m := range bareVar.FindAllStringSubmatch(string(data), -1) {
		required[m[1]] = true
	}
	return config.ParseEnv(data, func(name string) (string, bool) {
		if v, ok := os.LookupEnv(name); ok {
			return v, true
		}
		if required[name] {
			return "unset-in-this-environment", true
		}
		return "", false
	})
}
