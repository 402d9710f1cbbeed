package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/shipsync/shipsync/sync/config"
	"github.com/shipsync/shipsync/sync/state"
)

const dlqUsage = `usage: shipsync dlq <list|show KEY|retry KEY...|retry --all|drop KEY...> --config FILE [--json]

  list [--limit N]       the dead letter, oldest first: order, code, carrier (and its pin),
                         attempts, last error, age
  show KEY               one order's record, with its pin and route
  retry KEY              send orders back through the normal path (the running daemon picks
                         them up; the claim and the carrier's OrderCode still guarantee one waybill)
  retry --all            every order in the dead letter
  retry ... --carrier C  send them to carrier C (a configured one); refused for an order pinned
                         to another carrier, which may already hold its waybill
  drop KEY               take orders out of the dead letter for good (never shipped by shipsync)

Only Redis is needed: the shop database may be down.
`

// dlqCmd is `shipsync dlq`. KEY is the order's primary key (orders.key).
func dlqCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, dlqUsage)
		return exitCode(2)
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, dlqUsage)
		return nil
	}
	sub := args[0]
	fs := flag.NewFlagSet("dlq "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "config.yaml", "configuration file")
	asJSON := fs.Bool("json", false, "print JSON")
	all := fs.Bool("all", false, "retry: every order in the dead letter")
	carrier := fs.String("carrier", "", "retry: the carrier to send the orders to (default: as routed)")
	limit := fs.Int("limit", 0, "list: at most this many orders, oldest first (0: all)")
	// Flags may come before or after the keys (shipsync dlq retry 42 --config x.yaml).
	var keys []string
	for rest := args[1:]; ; {
		if err := fs.Parse(rest); err != nil {
			return flagError(err)
		}
		if fs.NArg() == 0 {
			break
		}
		keys, rest = append(keys, fs.Arg(0)), fs.Args()[1:]
	}
	cfg, err := loadAdminConfig(*path)
	if err != nil {
		return err
	}
	if *carrier != "" && !slices.ContainsFunc(cfg.Carriers, func(c config.Carrier) bool { return c.Name == *carrier }) {
		return fmt.Errorf("--carrier %q is not a configured carrier", *carrier)
	}
	d, err := openState(ctx, cfg)
	if err != nil {
		return err
	}
	defer d.close()
	switch {
	case sub == "list" && len(keys) == 0:
		return dlqList(ctx, d.store, *limit, stdout, *asJSON)
	case sub == "show" && len(keys) == 1:
		return dlqShow(ctx, d.store, keys[0], stdout, *asJSON)
	case sub == "retry" && (*all != (len(keys) > 0)):
		if *all {
			if keys, err = d.store.DeadKeys(ctx); err != nil {
				return err
			}
		}
		done := "sent back to the retry schedule"
		if *carrier != "" {
			done += ", to carrier " + *carrier
		}
		return dlqEach(ctx, keys, stdout, done, func(ctx context.Context, key string) (bool, error) {
			return d.store.Revive(ctx, key, *carrier)
		})
	case sub == "drop" && len(keys) > 0:
		return dlqEach(ctx, keys, stdout, "dropped", d.store.Drop)
	}
	fmt.Fprint(stderr, dlqUsage)
	return exitCode(2)
}

// openState connects to Redis only: the dead letter and most of status live there, and an
// operator needs them most when the shop's database is down or a template no longer prepares.
func openState(ctx context.Context, cfg *config.Config) (*deps, error) {
	rdb, err := newRedis(cfg.State.Redis)
	if err != nil {
		return nil, err
	}
	d := &deps{rdb: rdb}
	d.store = state.New(d.rdb, cfg.State.Redis.Prefix, state.WithRetention(cfg.State.Retention), state.WithLabelKeep(cfg.Labels.Keep))
	if err := d.store.Ping(ctx); err != nil {
		d.close()
		return nil, fmt.Errorf("redis %s: %w", strings.Join(cfg.State.Redis.Servers(), ","), err)
	}
	return d, nil
}

type dlqEntry struct {
	Order     string    `json:"order"`
	OrderCode string    `json:"order_code"`
	Carrier   string    `json:"carrier"`
	Pinned    bool      `json:"pinned"` // only Carrier may be asked: it may hold the waybill
	Route     string    `json:"route,omitempty"`
	Waybill   string    `json:"waybill,omitempty"`
	Attempts  int       `json:"attempts"`
	LastError string    `json:"last_error"`
	Since     time.Time `json:"since"`
}

func entry(r state.Record) dlqEntry {
	return dlqEntry{Order: r.Key, OrderCode: r.OrderCode, Carrier: r.Carrier, Pinned: pinned(r), Route: r.Route,
		Waybill: r.Waybill, Attempts: r.Attempts, LastError: r.LastError, Since: r.UpdatedAt}
}

// pinned: the order may only go back to its carrier (state.Revive refuses another).
func pinned(r state.Record) bool { return r.Sticky && r.Carrier != "" }

func dlqList(ctx context.Context, s *state.Store, limit int, w io.Writer, asJSON bool) error {
	recs, err := s.DeadRecords(ctx, limit)
	if err != nil {
		return err
	}
	entries := make([]dlqEntry, 0, len(recs))
	for _, r := range recs {
		entries = append(entries, entry(r))
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
		carrier := dash(e.Carrier)
		if e.Pinned {
			carrier += " (pinned)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", e.Order, e.OrderCode, carrier, e.Attempts,
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
		{"carrier", dash(r.Carrier)}, {"pinned", pin(r)}, {"route", dash(r.Route)},
		{"waybill", dash(r.Waybill)}, {"attempts", fmt.Sprint(r.Attempts)},
		{"last error", dash(r.LastError)}, {"detected", r.CreatedAt.Format(time.RFC3339)},
		{"updated", r.UpdatedAt.Format(time.RFC3339)}} {
		fmt.Fprintf(tw, "%s\t%s\n", kv[0], kv[1])
	}
	return tw.Flush()
}

func pin(r state.Record) string {
	if pinned(r) {
		return "yes, to " + r.Carrier + " (it may hold the waybill: retry only sends it there)"
	}
	return "no"
}

// dlqEach applies fn to every key; an order refused for its pin is reported at the end, with
// the ones not in the dead letter, and does not stop the others.
func dlqEach(ctx context.Context, keys []string, w io.Writer, done string, fn func(context.Context, string) (bool, error)) error {
	var missing []string
	var refused []error
	for _, k := range keys {
		ok, err := fn(ctx, k)
		switch {
		case errors.Is(err, state.ErrPinned):
			refused = append(refused, err)
			continue
		case err != nil:
			return err
		case !ok:
			missing = append(missing, k)
			continue
		}
		fmt.Fprintf(w, "order %s: %s\n", k, done)
	}
	if len(missing) > 0 {
		refused = append(refused, errors.New("not in the dead letter: "+strings.Join(missing, ", ")))
	}
	return errors.Join(refused...)
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
