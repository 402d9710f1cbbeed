package state

import (
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultRetention is how long a settled order is kept after its last status change when the
// store is given no other (state.retention's default).
const DefaultRetention = 90 * 24 * time.Hour

// Option configures a Store.
type Option func(*Store)

// WithRetention sets how long a settled order's record and waybill index stay after its last
// status change; 0 or less keeps them for good.
func WithRetention(d time.Duration) Option {
	return func(s *Store) { s.retention = d }
}

// waybillKey indexes one waybill for pushes: Kdniao names a parcel by its courier's
// ShipperCode and number (LogisticCode), and one account pushes every courier's waybills to
// one URL. retainLua builds the same name.
func (s *Store) waybillKey(shipperCode, waybill string) string {
	return s.prefix + "wb:" + shipperCode + "/" + waybill
}

// retentionMs is the TTL scripts give a settled order.
func (s *Store) retentionMs() int64 { return max(s.retention.Milliseconds(), 0) }

// retainLua defines retain(order, prefix, ms, parcel_done), which every script that moves an
// order between open work and settled calls last. A settled order (conflict, skipped, dropped,
// or written with its parcel at a terminal status) expires ms after this change, with its
// waybill's index key; open work (detected, submitting, waybilled, retry, failed, and written
// orders whose parcel is still on its way) never does, so a record that goes back to work is
// persisted again. The order's timeline and its order codes' index go with it. ms 0 keeps everything. The index key is built from the prefix: on a Redis
// Cluster the prefix carries the shop's hash tag, so it lives in the record's slot.
const retainLua = timelineLua + `
local function retain(order, prefix, ms, parcel_done)
  local f = redis.call('HMGET', order, 'state', 'shipper_code', 'waybill', 'children', 'order_code', 'reissues')
  local st = f[1]
  local settled = st == 'conflict' or st == 'skipped' or st == 'dropped' or (st == 'written' and parcel_done)
  if not settled then ms = 0 end
  local keys = {order, timeline_key(order, prefix)}
  if f[3] and f[3] ~= '' then keys[#keys + 1] = prefix .. 'wb:' .. (f[2] or '') .. '/' .. f[3] end
  for child in string.gmatch(f[4] or '', '[^,]+') do keys[#keys + 1] = prefix .. 'wb:' .. (f[2] or '') .. '/' .. child end
  if f[5] and f[5] ~= '' then
    keys[#keys + 1] = prefix .. 'code:' .. f[5]
    -- a reissued order's code is <code>-R<n>: its own code and every earlier reissue's are indexed too
    local n = tonumber(f[6] or '0') or 0
    if n > 0 then
      local base = string.gsub(f[5], '%-R%d+$', '')
      keys[#keys + 1] = prefix .. 'code:' .. base
      for i = 1, n - 1 do keys[#keys + 1] = prefix .. 'code:' .. base .. '-R' .. i end
    end
  end
  if ms > 0 then redis.call('ZREM', prefix .. 'flagged', string.sub(order, #prefix + 7)) end
  for _, k in ipairs(keys) do
    if ms > 0 then redis.call('PEXPIRE', k, ms) else redis.call('PERSIST', k) end
  end
end
`

// retainScript applies retain to one order. KEYS: order. ARGV: prefix, ms, parcel done ('1').
var retainScript = redis.NewScript(retainLua + `
retain(KEYS[1], ARGV[1], tonumber(ARGV[2]), ARGV[3] == '1')
return 1
`)
