package tail

import (
	"github.com/shipsync/shipsync/sources/binlog"
	"github.com/shipsync/shipsync/sync/config"
)

// image is a row image read by column name (binlog.Image; fakes in tests).
type image interface {
	Text(column string) (string, bool)
}

// rule is the paid predicate of DESIGN.md §2.
type rule struct {
	paid      config.Condition
	when      []config.Condition
	cancelled *config.Condition // nil: cancellations are not watched
}

func holds(c config.Condition, im image) bool {
	return c.Holds(im.Text(c.Column))
}

// transition reports whether the row change makes an order paid: the predicate false before and
// true after (UPDATE), or true in an INSERT; the extra conditions must hold after. Updates that
// leave it true (our own write-back, later edits) are not transitions.
func (r rule) transition(action binlog.Action, before, after image) bool {
	switch action {
	case binlog.Insert:
	case binlog.Update:
		if holds(r.paid, before) {
			return false
		}
	default:
		return false
	}
	if !holds(r.paid, after) {
		return false
	}
	for _, c := range r.when {
		if !holds(c, after) {
			return false
		}
	}
	return true
}

// cancellation reports whether the row change makes an order with a waybill worth cancelling:
// the cancelled predicate false before and true after an UPDATE (an order inserted cancelled
// was never paid, so never shipped).
func (r rule) cancellation(action binlog.Action, before, after image) bool {
	return r.cancelled != nil && action == binlog.Update && !holds(*r.cancelled, before) && holds(*r.cancelled, after)
}
