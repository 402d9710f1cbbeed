package pipeline

import (
	"context"
	"sync"

	"github.com/shipsync/shipsync/sinks/shopdb"
)

// Waybill write-backs are group-committed: a few writers take what the workers hand them and
// write everything waiting in one transaction (shopdb.WriteWaybills). Under light load a batch
// is one order and nothing waits for company; under load a commit serves many orders, which
// spares the shop database a BEGIN and a COMMIT per order.
const (
	batchWriters = 4
	maxBatch     = 32
)

type writeReq struct {
	values map[string]any
	reply  chan writeRes
}

type writeRes struct {
	outcome  shopdb.Outcome
	existing string
	err      error
}

// writeWaybill hands one order's write-back to the writers and waits for its outcome. If ctx
// ends first the write may still be committed: the order is not acknowledged, and its replay
// finds the waybill there (AlreadyWritten).
func (p *Pipeline) writeWaybill(ctx context.Context, values map[string]any) (shopdb.Outcome, string, error) {
	r := writeReq{values: values, reply: make(chan writeRes, 1)}
	select {
	case p.writes <- r:
	case <-ctx.Done():
		return 0, "", ctx.Err()
	}
	select {
	case res := <-r.reply:
		return res.outcome, res.existing, res.err
	case <-ctx.Done():
		return 0, "", ctx.Err()
	}
}

// startWriters runs the batch writers until ctx ends; the returned WaitGroup tells when they
// have.
func (p *Pipeline) startWriters(ctx context.Context) *sync.WaitGroup {
	var wg sync.WaitGroup
	for range batchWriters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.batchWriter(ctx)
		}()
	}
	return &wg
}

func (p *Pipeline) batchWriter(ctx context.Context) {
	batch := make([]writeReq, 0, maxBatch)
	values := make([]map[string]any, 0, maxBatch)
	for {
		select {
		case r := <-p.writes:
			batch = append(batch[:0], r)
		case <-ctx.Done():
			return
		}
	gather:
		for len(batch) < maxBatch {
			select {
			case r := <-p.writes:
				batch = append(batch, r)
			default:
				break gather
			}
		}
		if len(batch) > 1 {
			values = values[:0]
			for _, r := range batch {
				values = append(values, r.values)
			}
			res, err := p.db.WriteWaybills(ctx, values)
			if err == nil {
				for i, r := range batch {
					r.reply <- writeRes{outcome: res[i].Outcome, existing: res[i].Existing}
				}
				continue
			}
			// One order's statement failed (or the database is down): nothing of the batch is
			// kept on InnoDB; write them one by one so each gets its own outcome.
			p.log.Debug("batched write-back failed; writing the orders one by one", "orders", len(batch), "err", err)
		}
		for _, r := range batch {
			outcome, existing, err := p.db.WriteWaybill(ctx, r.values)
			r.reply <- writeRes{outcome: outcome, existing: existing, err: err}
		}
	}
}
