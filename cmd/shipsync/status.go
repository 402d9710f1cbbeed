package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/shipsync/shipsync/sources/binlog"
	"github.com/shipsync/shipsync/sync/config"
)

func statusCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "config.yaml", "configuration file")
	if err := fs.Parse(args); err != nil {
		return exitCode(2)
	}
	cfg, err := config.Load(*path)
	if err != nil {
		return err
	}
	d, err := open(ctx, cfg)
	if err != nil {
		return err
	}
	defer d.close()
	cp, ok, err := d.store.LoadCheckpoint(ctx)
	if err != nil {
		return err
	}
	cur, err := binlog.CurrentPosition(ctx, d.db)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "binlog end     %s\n", cur)
	if ok {
		behind := ""
		if cp.File == cur.File {
			behind = fmt.Sprintf(" (%d bytes behind)", cur.Pos-min(cp.Pos, cur.Pos))
		}
		fmt.Fprintf(stdout, "checkpoint     %s:%d%s, saved %s ago\n", cp.File, cp.Pos, behind,
			time.Since(cp.SavedAt).Round(time.Second))
		if cp.GTID != "" {
			fmt.Fprintf(stdout, "gtid           %s\n", cp.GTID)
		}
	} else {
		fmt.Fprintln(stdout, "checkpoint     none (first start runs at the binlog end with a backfill)")
	}
	retry, err := d.store.RetryDepth(ctx)
	if err != nil {
		return err
	}
	dead, err := d.store.DeadDepth(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "retry queue    %d\ndead letter    %d\n", retry, dead)
	states, parcels, err := d.store.CountByState(ctx)
	if err != nil {
		return err
	}
	printCounts(stdout, "orders by state:", states)
	printCounts(stdout, "parcels by status:", parcels)
	return nil
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
