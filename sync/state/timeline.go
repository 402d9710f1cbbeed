package state

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// TimelineMax is how many steps an order's timeline keeps (the newest).
const TimelineMax = 100

func (s *Store) timelineKey(key string) string { return s.prefix + "tl:" + key }
func (s *Store) codeKey(code string) string    { return s.prefix + "code:" + code }
func (s *Store) flaggedKey() string            { return s.prefix + "flagged" }

// timelineLua defines note(order, prefix, now, kind, text), which appends one step to the
// order's timeline (a list beside its record, "<ms>\t<kind>\t<text>", the newest
// TimelineMax kept), and timeline_key(order, prefix). retain gives the timeline its record's
// expiry. The timeline is built from the prefix like the waybill index, so on a Redis Cluster
// it lives in the record's slot.
const timelineLua = `
local function timeline_key(order, prefix)
  return prefix .. 'tl:' .. string.sub(order, #prefix + 7)
end
local function note(order, prefix, now, kind, text)
  local tl = timeline_key(order, prefix)
  redis.call('RPUSH', tl, now .. '\t' .. kind .. '\t' .. text)
  redis.call('LTRIM', tl, -100, -1) -- TimelineMax
end
`

// noteScript appends one step to an order's timeline outside the pipeline's own scripts (a
// status, an operator's action) and gives the timeline the record's expiry; an order without
// a record (expired) gets none. KEYS: order.
// ARGV: prefix, now, kind, text.
var noteScript = redis.NewScript(timelineLua + `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end -- no record: nothing to note on
note(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
local ttl = redis.call('PTTL', KEYS[1])
local tl = timeline_key(KEYS[1], ARGV[1])
if ttl > 0 then redis.call('PEXPIRE', tl, ttl) else redis.call('PERSIST', tl) end
return 1
`)

// Step is one entry of an order's timeline.
type Step struct {
	At   time.Time
	Kind string // detected, submitting, waybill, written, retry, failed, conflict, skipped, status, ...
	Text string
}

// Note appends a step to the order's timeline. The texts hold no personal data.
func (s *Store) Note(ctx context.Context, key, kind, text string) error {
	err := noteScript.Run(ctx, s.rdb, []string{s.orderKey(key)}, s.prefix, time.Now().UnixMilli(), kind, text).Err()
	if err != nil {
		return fmt.Errorf("note on order %s: %w", key, err)
	}
	return nil
}

// note queues Note in a pipeline (inside another change of the order).
func (s *Store) note(ctx context.Context, p redis.Pipeliner, key, kind, text string) {
	noteScript.Eval(ctx, p, []string{s.orderKey(key)}, s.prefix, time.Now().UnixMilli(), kind, text)
}

// Timeline returns the order's timeline, oldest first.
func (s *Store) Timeline(ctx context.Context, key string) ([]Step, error) {
	raw, err := s.rdb.LRange(ctx, s.timelineKey(key), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("read timeline of %s: %w", key, err)
	}
	out := make([]Step, 0, len(raw))
	for _, r := range raw {
		f := strings.SplitN(r, "\t", 3)
		if len(f) != 3 {
			continue
		}
		out = append(out, Step{At: msTime(f[0]), Kind: f[1], Text: f[2]})
	}
	return out, nil
}

// OrderByCode returns the key of the order the carrier was asked for under orderCode (the
// index is written when the order is submitted); ok false when none is known.
func (s *Store) OrderByCode(ctx context.Context, orderCode string) (string, bool, error) {
	key, err := s.rdb.Get(ctx, s.codeKey(orderCode)).Result()
	switch {
	case err == redis.Nil:
		return "", false, nil
	case err != nil:
		return "", false, fmt.Errorf("look up order code %s: %w", orderCode, err)
	}
	return key, true, nil
}

// Flagged is one parcel flagged for a person: its order and since when.
type Flagged struct {
	Key   string
	Since time.Time
}

// FlaggedParcels returns up to limit flagged parcels (an exception: no_pickup,
// cancel_after_pickup, a carrier's), oldest first. A flag goes when the parcel's status
// clears it, a reissue starts the parcel again, the order is dropped, or it settles (its
// retention starts).
func (s *Store) FlaggedParcels(ctx context.Context, limit int) ([]Flagged, error) {
	zs, err := s.rdb.ZRangeWithScores(ctx, s.flaggedKey(), 0, int64(limit)-1).Result()
	if err != nil {
		return nil, fmt.Errorf("read flagged parcels: %w", err)
	}
	out := make([]Flagged, 0, len(zs))
	for _, z := range zs {
		k, _ := z.Member.(string)
		out = append(out, Flagged{Key: k, Since: time.UnixMilli(int64(z.Score))})
	}
	return out, nil
}

// Scheduled is one order in the retry schedule and when it is due.
type Scheduled struct {
	Record
	Due time.Time
}

// Retrying returns up to limit orders of the retry schedule, the soonest due first, with their
// records.
func (s *Store) Retrying(ctx context.Context, limit int) ([]Scheduled, error) {
	zs, err := s.rdb.ZRangeWithScores(ctx, s.retryKey(), 0, int64(limit)-1).Result()
	if err != nil {
		return nil, fmt.Errorf("read retry schedule: %w", err)
	}
	keys := make([]string, len(zs))
	for i, z := range zs {
		keys[i], _ = z.Member.(string)
	}
	recs, err := s.Records(ctx, keys)
	if err != nil {
		return nil, err
	}
	out := make([]Scheduled, 0, len(zs))
	for i, z := range zs {
		if recs[i] != nil {
			out = append(out, Scheduled{Record: *recs[i], Due: time.UnixMilli(int64(z.Score))})
		}
	}
	return out, nil
}

// Records reads several orders' records in one round trip; a missing one is nil.
func (s *Store) Records(ctx context.Context, keys []string) ([]*Record, error) {
	cmds := make([]*redis.MapStringStringCmd, len(keys))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			cmds[i] = p.HGetAll(ctx, s.orderKey(k))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read orders: %w", err)
	}
	out := make([]*Record, len(keys))
	for i, c := range cmds {
		if m := c.Val(); len(m) > 0 {
			r := recordFrom(keys[i], m)
			out[i] = &r
		}
	}
	return out, nil
}

// Waiting returns orders in the retry schedule or the dead letter that were detected before
// olderThan and still have no waybill (at most limit, in the sets' order), without marking
// them reported as StuckOrders does.
func (s *Store) Waiting(ctx context.Context, olderThan time.Time, limit int) ([]Record, error) {
	out, err := s.waiting(ctx, olderThan, limit)
	return out[:min(len(out), limit)], err
}

// waiting is Waiting reading up to limit entries of each set, with no bound on the total.
func (s *Store) waiting(ctx context.Context, olderThan time.Time, limit int) ([]Record, error) {
	var out []Record
	for _, set := range []string{s.retryKey(), s.dlqKey()} {
		keys, err := s.rdb.ZRange(ctx, set, 0, int64(limit)-1).Result()
		if err != nil {
			return nil, fmt.Errorf("scan waiting orders: %w", err)
		}
		recs, err := s.Records(ctx, keys)
		if err != nil {
			return nil, err
		}
		for _, r := range recs {
			if r != nil && r.Waybill == "" && !r.CreatedAt.IsZero() && r.CreatedAt.Before(olderThan) {
				out = append(out, *r)
			}
		}
	}
	return out, nil
}

// InDeadLetter reports whether the order is in the dead letter.
func (s *Store) InDeadLetter(ctx context.Context, key string) (bool, error) {
	_, err := s.rdb.ZScore(ctx, s.dlqKey(), key).Result()
	switch {
	case err == redis.Nil:
		return false, nil
	case err != nil:
		return false, fmt.Errorf("read dead letter: %w", err)
	}
	return true, nil
}

// Paused carriers: a set every process reads (pause one from the console, and every worker
// sends its new orders elsewhere).
func (s *Store) pausedKey() string { return s.prefix + "carriers:paused" }

// SetPaused pauses or resumes a carrier for every process of the deployment.
func (s *Store) SetPaused(ctx context.Context, carrier string, paused bool) error {
	var err error
	if paused {
		err = s.rdb.SAdd(ctx, s.pausedKey(), carrier).Err()
	} else {
		err = s.rdb.SRem(ctx, s.pausedKey(), carrier).Err()
	}
	if err != nil {
		return fmt.Errorf("pause carrier %s: %w", carrier, err)
	}
	return nil
}

// PausedCarriers returns the paused carriers' names.
func (s *Store) PausedCarriers(ctx context.Context) (map[string]bool, error) {
	names, err := s.rdb.SMembers(ctx, s.pausedKey()).Result()
	if err != nil {
		return nil, fmt.Errorf("read paused carriers: %w", err)
	}
	out := make(map[string]bool, len(names))
	for _, n := range names {
		out[n] = true
	}
	return out, nil
}
