package tail

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/shipsync/shipsync/sources/binlog"
	"github.com/shipsync/shipsync/sync/loop"
)

// errConfig: the configuration names a column the table does not have.
var errConfig = errors.New("configuration does not match the table")

// read tails the binlog, reconnecting at the end of the last whole transaction read (replayed
// rows are harmless: claims are idempotent). out nil: a dry run, which only counts.
func (t *Tail) read(ctx context.Context, from binlog.Position, out *outlet) error {
	c := t.o.Config
	schema, table := c.Orders.SchemaTable()
	if schema == "" {
		schema = c.Shop.Database
	}
	tc, err := c.Shop.TLS.Client("shop.tls", c.Shop.Addr)
	if err != nil {
		return err // the files were readable when the pool connected: they changed since
	}
	cfg := binlog.Config{Addr: c.Shop.Addr, User: c.Shop.User, Password: c.Shop.Password,
		Flavor: c.Shop.Flavor, ServerID: c.Shop.ServerID, Charset: c.Shop.Charset,
		Heartbeat: c.Shop.Heartbeat, Schema: schema, Table: table, TLS: tc}
	backoff := time.Second
	for {
		last, err := t.stream(ctx, cfg, from, out)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, binlog.ErrColumnMismatch) || errors.Is(err, binlog.ErrPartialJSON) ||
			errors.Is(err, binlog.ErrUnknownRowsEvent) || errors.Is(err, errConfig) {
			return err // reading again would meet the same event: stop with the remedy
		}
		if !last.IsZero() {
			from = last
			backoff = time.Second
		}
		if has, herr := binlog.HasFile(ctx, t.o.Meta, from.File); herr == nil && !has {
			// Purged while we were away (a long outage): never silently skip.
			return fmt.Errorf("%w: reconnecting at %s, which is no longer on the server; restart with --recover "+
				"to resume at the current position and run orders.backfill_query", ErrCheckpointPurged, from)
		}
		t.log.Warn("binlog stream interrupted; reconnecting", "at", from.String(), "err", err, "in", backoff)
		if loop.Sleep(ctx, backoff) != nil {
			return nil
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

// paidAt is when an order became paid, for the end-to-end histogram: the binlog header's time
// has whole seconds only, so an event that arrives within that second is timed from its arrival
// (the delivery delay is milliseconds); one read later (a backlog) keeps its header time.
func paidAt(header, arrived time.Time) time.Time {
	if arrived.Sub(header) < time.Second {
		return arrived
	}
	return header
}

// stream reads one connection's worth of events; it returns the end of the last whole
// transaction it read.
func (t *Tail) stream(ctx context.Context, cfg binlog.Config, from binlog.Position, out *outlet) (binlog.Position, error) {
	s := binlog.New(cfg, t.o.Meta, t.log.With("component", "binlog"))
	if err := s.Start(ctx, from); err != nil {
		return binlog.Position{}, err
	}
	defer s.Close()
	t.o.Observer.StreamUp(true)
	defer t.o.Observer.StreamUp(false)
	var last binlog.Position
	checked := false
	// A transaction's paid orders move on together at its end (one outbox round trip for their
	// events); whatever was read of an unfinished one moves on when the stream stops.
	paid := out.sender()
	defer paid.flush(ctx) //nolint:errcheck // only fails when ctx ended: then nothing is acked and all is replayed
	for {
		ev, err := s.Next(ctx)
		if err != nil {
			return last, err
		}
		switch ev.Kind {
		case binlog.KindHeartbeat:
			t.o.Observer.Heard(time.Now())
		case binlog.KindCommit:
			t.o.Observer.Heard(ev.Time)
			t.tracker.End(ev.Pos)
			last = ev.Pos
			if err := paid.flush(ctx); err != nil {
				return last, err
			}
		case binlog.KindRows:
			t.o.Observer.Heard(ev.Time)
			t.m.BinlogEvents.WithLabelValues(ev.Action.String()).Add(float64(len(ev.Rows)))
			if !checked {
				if err := t.checkColumns(ev); err != nil {
					return last, err
				}
				checked = true
			}
			for _, r := range ev.Rows {
				paidNow := t.rule.transition(ev.Action, r.Before, r.After)
				cancel := !paidNow && t.rule.cancellation(ev.Action, r.Before, r.After)
				if !paidNow && !cancel {
					continue
				}
				key, ok := r.After.Text(t.o.Config.Orders.Key)
				if !ok {
					continue
				}
				if cancel {
					t.m.CancelsDetected.Inc()
				} else {
					t.m.Detected.Inc()
				}
				o := Order{Key: key, PaidAt: paidAt(ev.Time, time.Now()), Ack: t.ackFunc(t.tracker.Add()), Cancel: cancel}
				if err := paid.add(ctx, o, ev.Time); err != nil {
					return last, err
				}
			}
		}
	}
}

// checkColumns makes a typo in orders.key / paid / when fail loudly instead of matching nothing.
func (t *Tail) checkColumns(ev binlog.Event) error {
	if len(ev.Rows) == 0 {
		return nil
	}
	im := ev.Rows[0].After
	if im.Empty() {
		im = ev.Rows[0].Before
	}
	o := t.o.Config.Orders
	cols := []string{o.Key, o.Paid.Column}
	for _, c := range o.When {
		cols = append(cols, c.Column)
	}
	if o.Cancelled != nil {
		cols = append(cols, o.Cancelled.Column)
	}
	for _, c := range cols {
		if !im.Has(c) {
			return fmt.Errorf("%w: column %q is not in %s", errConfig, c, o.Table)
		}
	}
	return nil
}
