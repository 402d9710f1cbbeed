package pipeline

import (
	"context"
	"sync"

	"github.com/shipsync/shipsync/sinks/shopdb"
	"github.com/shipsync/shipsync/sync/state"
)

// Waybill write-backs are group-committed: a few writers take what the workers hand them and
// write everything waiting in one transaction (shopdb.WriteWaybills), then record the orders
// written in Redis in one pipelined round trip (state.WrittenMany). Under light load a batch is
// one order and nothing waits for company; under load a commit serves many orders, which spares
// the shop database a BEGIN and a COMMIT per order and Redis a round trip.
const (
	batchWriters = 4
	maxBatch     = 32
)

type writeReq struct {
	order  state.Owned
	values map[string]any
	reply  chan writeRes
}

// writeRes is a write-back's outcome; when it is Written or AlreadyWritten, marked is the
// outcome of recording the order as written in Redis.
type writeRes struct {
	outcome  shopdb.Outcome
	existing string
	err      error
	marked   error
}

// writeWaybill hands one order's write-back to the writers and waits for its outcome. If ctx
// ends first the write may still be committed: the order is not acknowledged, and its replay
// finds the waybill there (AlreadyWritten).
func (p *Pipeline) writeWaybill(ctx context.Context, order state.Owned, values map[string]any) writeRes {
	r := writeReq{order: order, values: values, reply: make(chan writeRes, 1)}
	select {
	case p.writes <- r:
	case <-ctx.Done():
		return writeRes{err: ctx.Err()}
	}
	select {
	case res := <-r.reply:
		return res
	case <-ctx.Done():
		return writeRes{err: ctx.Err()}
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
		res := make([]writeRes, len(batch))
		done := false // every order of the batch has its outcome
		if len(batch) > 1 {
			values = values[:0]
			for _, r := range batch {
				values = append(values, r.values)
			}
			out, err := p.db.WriteWaybills(ctx, values)
			switch {
			case err == nil:
				for i := range batch {
					res[i] = writeRes{outcome: out[i].Outcome, existing: out[i].Existing}
				}
				done = true
			case shopdb.StatementFailed(err):
				// One order's statement failed: nothing of the batch is kept on InnoDB; write
				// them one by one so each gets its own outcome.
				p.log.Debug("batched write-back failed; writing the orders one by one", "orders", len(batch), "err", err)
			default:
				// The database is unreachable: one by one would only fail n times more.
				for i := range batch {
					res[i].err = err
				}
				done = true
			}
		}
		if !done {
			for i, r := range batch {
				res[i].outcome, res[i].existing, res[i].err = p.db.WriteWaybill(ctx, r.values)
			}
		}
		p.markWritten(ctx, batch, res)
		for i, r := range batch {
			r.reply <- res[i]
		}
	}
}

// markWritten records the orders whose waybill is in the shop as written, in one round trip.
func (p *Pipeline) markWritten(ctx context.Context, batch []writeReq, res []writeRes) {
	var orders []state.Owned
	var idx []int
	for i := range batch {
		if res[i].err == nil && (res[i].outcome == shopdb.Written || res[i].outcome == shopdb.AlreadyWritten) {
			orders, idx = append(orders, batch[i].order), append(idx, i)
		}
	}
	if len(orders) == 0 {
		return
	}
	for j, err := range p.store.WrittenMany(ctx, orders) {
		res[idx[j]].marked = err
	}
}
