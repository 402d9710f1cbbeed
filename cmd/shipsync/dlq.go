package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/shipsync/shipsync/sync/state"
)

const dlqUsage = `usage: shipsync dlq <list|show KEY|retry KEY...|retry --all|drop KEY...> --config FILE [--json]

  list          the dead letter: order, code, carrier, attempts, last error, age
  show KEY      one order's record
  retry KEY     send orders back through the normal path (the running daemon picks them up;
                the claim and the carrier's OrderCode still guarantee one waybill)
  retry --all   every order in the dead letter
  drop KEY      take orders out of the dead letter for good (they are never shipped by shipsync)
`

// dlqCmd is `shipsync dlq`. KEY is the order's primary key (orders.key).
func dlqCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, dlqUsage)
		return exitCode(2)
	}
	sub := args[0]
	fs := flag.NewFlagSet("dlq "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "config.yaml", "configuration file")
	asJSON := fs.Bool("json", false, "print JSON")
	all := fs.Bool("all", false, "retry: every order in the dead letter")
	// Flags may come before or after the keys (shipsync dlq retry 42 --config x.yaml).
	var keys []string
	for rest := args[1:]; ; {
		if err := fs.Parse(rest); err != nil {
			return exitCode(2)
		}
		if fs.NArg() == 0 {
			break
		}
		keys, rest = append(keys, fs.Arg(0)), fs.Args()[1:]
	}
	d, err := loadAndOpen(ctx, *path)
	if err != nil {
		return err
	}
	defer d.close()
	switch {
	case sub == "list" && len(keys) == 0:
		return dlqList(ctx, d.store, stdout, *asJSON)
	case sub == "show" && len(keys) == 1:
		return dlqShow(ctx, d.store, keys[0], stdout, *asJSON)
	case sub == "retry" && (*all != (len(keys) > 0)):
		if *all {
			if keys, err = d.store.DeadKeys(ctx); err != nil {
				return err
			}
		}
		return dlqEach(ctx, keys, stdout, "sent back to the retry schedule", d.store.Revive)
	case sub == "drop" && len(keys) > 0:
		return dlqEach(ctx, keys, stdout, "dropped", d.store.Drop)
	}
	fmt.Fprint(stderr, dlqUsage)
	return exitCode(2)
}

type dlqEntry struct {
	Order     string    `json:"order"`
	OrderCode string    `json:"order_code"`
	Carrier   string    `json:"carrier"`
	Waybill   string    `json:"waybill,omitempty"`
	Attempts  int       `json:"attempts"`
	LastError string    `json:"last_error"`
	Since     time.Time `json:"since"`
}

func entry(r state.Record) dlqEntry {
	return dlqEntry{Order: r.Key, OrderCode: r.OrderCode, Carrier: r.Carrier, Waybill: r.Waybill,
		Attempts: r.Attempts, LastError: r.LastError, Since: r.UpdatedAt}
}

func dlqList(ctx context.Context, s *state.Store, w io.Writer, asJSON bool) error {
	keys, err := s.DeadKeys(ctx)
	if err != nil {
		return err
	}
	entries := []dlqEntry{}
	for _, k := range keys {
		r, ok, err := s.Get(ctx, k)
		if err != nil {
			return err
		}
		if ok {
			entries = append(entries, entry(r))
		}
	}
	if asJSON {
		return json.NewEncoder(w).Encode(entries)
	}
	if len(entries) == 0 {
		fmt.Fprintln(w, "the dead letter is empty")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ORDER\tCODE\tCARRIER\tATTEMPTS\tLAST ERROR\tAGE")
	for _, e := range entries {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", e.Order, e.OrderCode, dash(e.Carrier), e.Attempts,
			clip(e.LastError, 70), time.Since(e.Since).Round(time.Second))
	}
	return tw.Flush()
}

func dlqShow(ctx context.Context, s *state.Store, key string, w io.Writer, asJSON bool) error {
	r, ok, err := s.Get(ctx, key)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("order %s: shipsync has no record of it", key)
	}
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, kv := range [][2]string{{"order", r.Key}, {"state", r.State}, {"order code", r.OrderCode},
		{"carrier", dash(r.Carrier)}, {"waybill", dash(r.Waybill)}, {"attempts", fmt.Sprint(r.Attempts)},
		{"last error", dash(r.LastError)}, {"detected", r.CreatedAt.Format(time.RFC3339)},
		{"updated", r.UpdatedAt.Format(time.RFC3339)}} {
		fmt.Fprintf(tw, "%s\t%s\n", kv[0], kv[1])
	}
	return tw.Flush()
}

func dlqEach(ctx context.Context, keys []string, w io.Writer, done string, fn func(context.Context, string) (bool, error)) error {
	var missing []string
	for _, k := range keys {
		ok, err := fn(ctx, k)
		if err != nil {
			return err
		}
		if !ok {
			missing = append(missing, k)
			continue
		}
		fmt.Fprintf(w, "order %s: %s\n", k, done)
	}
	if len(missing) > 0 {
		return errors.New("not in the dead letter: " + strings.Join(missing, ", "))
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
