package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/shipsync/shipsync/sync/carrier"
	"github.com/shipsync/shipsync/sync/config"
	"github.com/shipsync/shipsync/sync/metrics"
	"github.com/shipsync/shipsync/sync/outbox"
	"github.com/shipsync/shipsync/sync/parcel"
	"github.com/shipsync/shipsync/sync/pipeline"
	"github.com/shipsync/shipsync/sync/ship"
)

const waybillUsage = `usage: shipsync waybill <cancel|reissue> --config FILE --order KEY

  cancel   cancels the order's waybill at its carrier (Kdniao 1147) while the parcel is not picked
           up, and writes writeback.status.cancelled into the shop, as a cancellation seen in
           the binlog does (orders.cancelled). Picked up already: the exception
           cancel_after_pickup is written back instead, for a person to intercept the parcel.
  reissue  cancels the order's waybill (as cancel, refused once the parcel is picked up) and
           creates another at the same carrier under the derived order code <code>-R1, -R2, ...
           (Kdniao keeps a cancelled code used), with its labels, and replaces the shop's number
           through writeback.reissue, guarded by the number the row holds. Interrupted, run it
           again: it finishes the same reissue, never a third waybill.

KEY is the order's primary key (orders.key). Both need the shop, Redis and the carrier.
`

// waybillCmd is `shipsync waybill`.
func waybillCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, waybillUsage)
		return exitCode(2)
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, waybillUsage)
		return nil
	}
	sub := args[0]
	if sub != "cancel" && sub != "reissue" {
		fmt.Fprint(stderr, waybillUsage)
		return exitCode(2)
	}
	fs := flag.NewFlagSet("waybill "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "config.yaml", "configuration file")
	key := fs.String("order", "", "the order's key (orders.key)")
	if err := fs.Parse(args[1:]); err != nil {
		return flagError(err)
	}
	if *key == "" || fs.NArg() > 0 {
		return usageError(stderr, "waybill "+sub+": --order KEY is required")
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
	carriers := carrier.Set{}
	for _, c := range cfg.Carriers {
		cl, err := pipeline.NewCarrier(c)
		if err != nil {
			return err
		}
		carriers[c.Name] = carrier.New(c, cl, nil, nil)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	var events *outbox.Outbox
	if cfg.Kafka != nil {
		// Recorded in the outbox stream; the running daemons forward it to Kafka.
		events = outbox.New(d.store, recordOnly{}, "cli", log, metrics.New().EventsFailed)
	}
	st := parcel.New(d.store, d.shop, events, func() (*config.Config, carrier.Set) { return cfg, carriers }, metrics.New(), log)
	if sub == "reissue" {
		r, err := ship.Reissue(ctx, ship.ReissueOptions{Store: d.store, Shop: d.shop, Config: cfg, Carriers: carriers}, *key)
		if err != nil {
			return fmt.Errorf("reissue the waybill of order %s: %w", *key, err)
		}
		written := "the shop's number replaced"
		if !r.ShopWritten {
			written = "writeback.reissue is not configured: the shop still shows " + r.PreviousWaybills
		}
		fmt.Fprintf(stdout, "order %s: waybill %s cancelled, new waybill %s (order code %s); %s\n",
			*key, r.PreviousWaybills, strings.Join(append([]string{r.Waybill}, r.Children...), ","), r.OrderCode, written)
		return nil
	}
	out, err := st.Cancel(ctx, *key)
	if errors.Is(err, parcel.ErrPending) {
		return fmt.Errorf("order %s: %w", *key, err)
	}
	if err != nil {
		return fmt.Errorf("cancel the waybill of order %s: %w", *key, err)
	}
	fmt.Fprintf(stdout, "order %s: %s\n", *key, out)
	return nil
}

// recordOnly is the outlet of a command's outbox: it records events for the daemons to forward
// and forwards nothing itself.
type recordOnly struct{}

func (recordOnly) SendAcked(context.Context, string, []byte, func()) error {
	return errors.New("this command only records events")
}
