package tail

import (
	"context"
	"time"

	"github.com/shipsync/shipsync/sync/loop"
)

// lead blocks until this process holds the binlog reader's lease (standby until then) and
// returns its fencing token; 0 when ctx ends first.
func (t *Tail) lead(ctx context.Context) (int64, error) {
	ttl := t.o.Config.State.LeaderTTL
	standby := false
	for {
		tok, err := t.o.Store.Lead(ctx, t.o.Owner, ttl)
		switch {
		case err == nil && tok > 0:
			if standby {
				t.log.Info("took over the binlog reader's lease", "token", tok)
			}
			return tok, nil
		case err != nil && ctx.Err() == nil:
			t.log.Warn("leader lease unreadable", "err", err)
		case err == nil && !standby:
			standby = true
			t.log.Info("standby: another process tails this shop's binlog")
		}
		if loop.Sleep(ctx, min(ttl/4, 500*time.Millisecond)) != nil {
			return 0, nil
		}
	}
}

// keepLead renews the lease; when it is lost (or cannot be renewed for a whole TTL, so it may
// have lapsed), it stops the reader.
func (t *Tail) keepLead(ctx context.Context, stop context.CancelCauseFunc) {
	ttl := t.o.Config.State.LeaderTTL
	renewed := time.Now()
	loop.Tick(ctx, ttl/3, func() {
		tok, err := t.o.Store.Lead(ctx, t.o.Owner, ttl)
		switch {
		case err == nil && tok == t.token:
			renewed = time.Now()
		case err == nil:
			t.log.Error("leader lease lost: stopping the binlog reader", "token", t.token, "now", tok)
			stop(errLeaderLost)
		case time.Since(renewed) > ttl && ctx.Err() == nil:
			t.log.Error("leader lease not renewed for a whole TTL: stopping the binlog reader", "err", err)
			stop(errLeaderLost)
		}
	})
}
