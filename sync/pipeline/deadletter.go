package pipeline

import (
	"context"

	"github.com/shipsync/shipsync/sync/statuspage"
)

// DeadLetter is the admin API's view of the dead letter (statuspage.DeadLetter).
func (p *Pipeline) DeadLetter() statuspage.DeadLetter { return deadLetter{p} }

type deadLetter struct{ p *Pipeline }

func (d deadLetter) Dead(ctx context.Context, limit int) ([]statuspage.DeadRow, error) {
	recs, err := d.p.store.DeadRecords(ctx, limit)
	if err != nil {
		return nil, err
	}
	rows := make([]statuspage.DeadRow, len(recs))
	for i, r := range recs {
		rows[i] = statuspage.DeadRow{Key: r.Key, OrderCode: r.OrderCode, Carrier: r.Carrier, Pinned: r.Sticky && r.Carrier != "",
			Attempts: r.Attempts, Reason: r.LastError, Since: r.UpdatedAt}
	}
	return rows, nil
}

// Retry sends the order back to the retry schedule, as `shipsync dlq retry` does: the claim and
// the carrier's OrderCode still guarantee one waybill.
func (d deadLetter) Retry(ctx context.Context, key string) (bool, error) {
	ok, err := d.p.store.Revive(ctx, key, "")
	if ok {
		console{d.p}.note(ctx, key, "retried from the console")
	}
	return ok, err
}

// Drop takes the order out of the dead letter for good, as `shipsync dlq drop` does.
func (d deadLetter) Drop(ctx context.Context, key string) (bool, error) {
	ok, err := d.p.store.Drop(ctx, key)
	if ok {
		console{d.p}.note(ctx, key, "dropped from the console")
	}
	return ok, err
}
