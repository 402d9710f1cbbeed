package state

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// A reissue (`shipsync waybill reissue`) replaces an order's cancelled waybill with a new one
// created under a derived order code (<code>-R1, -R2, ...: Kdniao keeps a cancelled code used).
// BeginReissue marks it pending before anything is asked of the carrier, RecordReissue stores
// the new waybill before the shop is written, and EndReissue clears the mark once the shop holds
// it: a crash anywhere leaves the mark, and running the reissue again picks up where it stopped
// without cancelling the new waybill or creating a third.

// BeginReissue marks reissue n of order key, with orderCode its derived code and previous the
// shop's numbers it replaces.
func (s *Store) BeginReissue(ctx context.Context, key string, n int, orderCode, previous string) error {
	err := s.rdb.HSet(ctx, s.orderKey(key), "reissues", n, "reissue_pending", "1", "reissue_code", orderCode,
		"previous_waybills", previous, "updated_at", time.Now().UnixMilli()).Err()
	if err != nil {
		return fmt.Errorf("begin reissue of %s: %w", key, err)
	}
	return nil
}

// ReissueCode is the derived order code BeginReissue recorded for the pending reissue.
func (s *Store) ReissueCode(ctx context.Context, key string) (string, error) {
	code, err := s.rdb.HGet(ctx, s.orderKey(key), "reissue_code").Result()
	if err != nil {
		return "", fmt.Errorf("read reissue of %s: %w", key, err)
	}
	return code, nil
}

// recordReissueScript stores a reissue's waybill in place of the old one: the new numbers are
// indexed for pushes and the old ones no longer, the parcel status starts again, and the
// watchdog and the poller watch the new waybill. KEYS: order, pickup watch, poll schedule.
// ARGV: now, waybill, children (comma-separated), order code, order key, pickup due, poll due,
// key prefix, warehouse.
var recordReissueScript = redis.NewScript(timelineLua + `
local f = redis.call('HMGET', KEYS[1], 'shipper_code', 'waybill', 'children')
local shipper = f[1] or ''
local old = {}
if f[2] and f[2] ~= '' then old[#old + 1] = f[2] end
for c in string.gmatch(f[3] or '', '[^,]+') do old[#old + 1] = c end
for _, n in ipairs(old) do redis.call('DEL', ARGV[8] .. 'wb:' .. shipper .. '/' .. n) end
redis.call('HSET', KEYS[1], 'state', 'written', 'waybill', ARGV[2], 'children', ARGV[3], 'order_code', ARGV[4],
  'status', '', 'status_exception', '0', 'status_reason', '', 'status_time', '0', 'pickup_time', '',
  'updated_at', ARGV[1], 'waybill_at', ARGV[1], 'warehouse', ARGV[9])
redis.call('SET', ARGV[8] .. 'wb:' .. shipper .. '/' .. ARGV[2], ARGV[5])
for c in string.gmatch(ARGV[3], '[^,]+') do redis.call('SET', ARGV[8] .. 'wb:' .. shipper .. '/' .. c, ARGV[5]) end
redis.call('ZADD', KEYS[2], ARGV[6], ARGV[5])
redis.call('ZADD', KEYS[3], ARGV[7], ARGV[5])
redis.call('PERSIST', KEYS[1])
redis.call('SET', ARGV[8] .. 'code:' .. ARGV[4], ARGV[5])
redis.call('ZREM', ARGV[8] .. 'flagged', ARGV[5]) -- the new parcel starts unflagged
local text = 'the carrier re-issued it as ' .. ARGV[2]
if ARGV[3] ~= '' then text = text .. ' (and ' .. ARGV[3] .. ')' end
note(KEYS[1], ARGV[8], ARGV[1], 'reissue', text .. ' under ' .. ARGV[4])
redis.call('PERSIST', timeline_key(KEYS[1], ARGV[8]))
return 1
`)

// RecordReissue stores the reissue's waybill (w.Owner is not used: the caller holds the order's
// status lock) with its labels, in one round trip. The record is "written" from here on, so
// that the new waybill's pushes apply; the pending mark stays until the shop holds its number.
func (s *Store) RecordReissue(ctx context.Context, w WaybillRecord, orderCode string) error {
	now := time.Now().UnixMilli()
	var cmd *redis.Cmd
	_, _ = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		cmd = recordReissueScript.Eval(ctx, p, []string{s.orderKey(w.Key), s.pickupKey(), s.pollKey()},
			now, w.Waybill, strings.Join(w.Children, ","), orderCode, w.Key, w.PickupDue.UnixMilli(), w.PollDue.UnixMilli(), s.prefix, w.Warehouse)
		s.putLabels(ctx, p, w.Labels)
		return nil
	})
	if err := cmd.Err(); err != nil {
		return fmt.Errorf("record reissued waybill of %s: %w", w.Key, err)
	}
	return nil
}

// EndReissue clears the pending mark: the shop holds the reissued waybill.
func (s *Store) EndReissue(ctx context.Context, key string) error {
	if err := s.rdb.HSet(ctx, s.orderKey(key), "reissue_pending", "0").Err(); err != nil {
		return fmt.Errorf("end reissue of %s: %w", key, err)
	}
	return nil
}
