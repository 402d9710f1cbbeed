package state

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Order lifecycle states kept in the record's "state" field.
const (
	Detected   = "detected"   // claimed, nothing sent yet
	Submitting = "submitting" // the carrier is being asked
	Waybilled  = "waybilled"  // the carrier answered with a waybill; not yet in the shop
	Written    = "written"    // the waybill is in the shop's table
	Retry      = "retry"      // parked in the retry schedule
	Failed     = "failed"     // in the dead letter
	Conflict   = "conflict"   // the shop already had another waybill; left untouched
	Skipped    = "skipped"    // no longer eligible when read (cancelled meanwhile)
	Dropped    = "dropped"    // taken out of the dead letter by hand; never shipped by shipsync
)

// ErrLeaseLost means another worker took the order over after this one's lease lapsed.
var ErrLeaseLost = errors.New("lease on order lost")

// Store is the Redis state of one shipsync deployment (one key prefix).
type Store struct {
	rdb       redis.UniversalClient
	prefix    string
	retention time.Duration // settled orders expire this long after their last change
	labelKeep time.Duration // labels expire this long after their creation
}

// New returns a store using keys under prefix; settled orders are kept DefaultRetention unless
// an option says otherwise.
func New(rdb redis.UniversalClient, prefix string, opts ...Option) *Store {
	s := &Store{rdb: rdb, prefix: prefix, retention: DefaultRetention, labelKeep: DefaultLabelKeep}
	for _, o := range opts {
		o(s)
	}
	return s
}

func (s *Store) orderKey(key string) string { return s.prefix + "order:" + key }
func (s *Store) retryKey() string           { return s.prefix + "retry" }
func (s *Store) dlqKey() string             { return s.prefix + "dlq" }
func (s *Store) checkpointKey() string      { return s.prefix + "checkpoint" }
func (s *Store) waybillIndex() string       { return s.prefix + "waybills" } // legacy: read only
func (s *Store) pickupKey() string          { return s.prefix + "watch:pickup" }
func (s *Store) pollKey() string            { return s.prefix + "poll" }
func (s *Store) lockKey(key string) string  { return s.prefix + "lock:" + key }

// Ping checks the connection.
func (s *Store) Ping(ctx context.Context) error { return s.rdb.Ping(ctx).Err() }

// Record is an order's state.
type Record struct {
	Key         string
	State       string
	OrderCode   string
	Carrier     string
	ShipperCode string
	Waybill     string
	PickupTime  string
	Attempts    int
	LastError   string
	CreatedAt   time.Time
	UpdatedAt   time.Time
	LeaseOwner  string
	LeaseUntil  time.Time
	WaybillAt   time.Time
	Sticky      bool   // the carrier may have created a waybill: ask no other
	Route       string // the carrier chosen by hand (`dlq retry --carrier`); ask only it
	// Children are the other parcels' waybills (several parcels), Warehouse where it ships from.
	Children  []string
	Warehouse string
	// Reissues counts the waybills re-issued (`shipsync waybill reissue`); ReissuePending is set
	// from the start of one until the shop holds its number, PreviousWaybills what it replaces.
	Reissues         int
	ReissuePending   bool
	PreviousWaybills string
	// Parcel status as last applied (sync/status).
	Status          string
	StatusException bool
	StatusReason    string
	StatusTime      time.Time
}

func recordFrom(key string, m map[string]string) Record {
	r := Record{Key: key, State: m["state"], OrderCode: m["order_code"], Carrier: m["carrier"],
		ShipperCode: m["shipper_code"], Waybill: m["waybill"], PickupTime: m["pickup_time"],
		LastError: m["last_error"], LeaseOwner: m["lease_owner"]}
	r.Attempts, _ = strconv.Atoi(m["attempts"])
	r.CreatedAt = msTime(m["created_at"])
	r.UpdatedAt = msTime(m["updated_at"])
	r.LeaseUntil = msTime(m["lease_until"])
	r.WaybillAt = msTime(m["waybill_at"])
	r.Sticky = m["sticky"] == "1"
	r.Route = m["route"]
	if c := m["children"]; c != "" {
		r.Children = strings.Split(c, ",")
	}
	r.Warehouse = m["warehouse"]
	r.Reissues, _ = strconv.Atoi(m["reissues"])
	r.ReissuePending = m["reissue_pending"] == "1"
	r.PreviousWaybills = m["previous_waybills"]
	r.Status, r.StatusReason = m["status"], m["status_reason"]
	r.StatusException = m["status_exception"] == "1"
	r.StatusTime = msTime(m["status_time"])
	return r
}

func msTime(s string) time.Time {
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil || ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

// Get returns the order's record; ok is false when there is none.
func (s *Store) Get(ctx context.Context, key string) (Record, bool, error) {
	m, err := s.rdb.HGetAll(ctx, s.orderKey(key)).Result()
	if err != nil {
		return Record{}, false, fmt.Errorf("read order %s: %w", key, err)
	}
	if len(m) == 0 {
		return Record{}, false, nil
	}
	return recordFrom(key, m), true, nil
}

// ClaimResult says what a claim found.
type ClaimResult int

// Claim results.
const (
	// Claimed: the caller holds the lease and must settle the order.
	Claimed ClaimResult = iota + 1
	// Done: the order is finished (written, or a conflict left untouched); nothing to do.
	Done
	// Dead: the order is in the dead letter; only `dlq retry` (Revive) brings it back.
	Dead
	// Busy: another worker holds an unexpired lease; Record.LeaseUntil says until when.
	Busy
)

// Lua keeps the read-decide-write of a claim atomic.
var claimScript = redis.NewScript(retainLua + `
local st = redis.call('HGET', KEYS[1], 'state')
if st == 'written' or st == 'conflict' or st == 'dropped' or st == 'failed' then
  -- a parked duplicate of a settled order must not come back forever
  redis.call('ZREM', KEYS[2], ARGV[4])
  if st == 'failed' then return {'dead'} end
  return {'done'}
end
local now = tonumber(ARGV[2])
local until_ = tonumber(redis.call('HGET', KEYS[1], 'lease_until') or '0')
local owner = redis.call('HGET', KEYS[1], 'lease_owner')
if until_ > now and owner and owner ~= '' and owner ~= ARGV[1] then
  -- A lease outlives its holder only while the holder's process is alive: a killed process's
  -- liveness key expires within seconds, and its orders are taken over then, not after the lease.
  local proc = string.match(owner, '^([^:]+)')
  if redis.call('EXISTS', ARGV[5] .. proc) == 1 then
    local r = redis.call('HGETALL', KEYS[1]); table.insert(r, 1, 'busy'); return r
  end
end
redis.call('HSET', KEYS[1], 'lease_owner', ARGV[1], 'lease_until', now + tonumber(ARGV[3]), 'updated_at', now)
if not st then
  redis.call('HSET', KEYS[1], 'state', 'detected', 'created_at', now, 'attempts', 0)
  note(KEYS[1], ARGV[6], now, 'detected', 'paid in the shop')
end
-- A skipped order paid again is open work again: it must not expire under its new claim.
retain(KEYS[1], ARGV[6], 0, false)
-- The record rides back with the answer: one round trip per claim.
local r = redis.call('HGETALL', KEYS[1]); table.insert(r, 1, 'claimed'); return r
`)

// Alive marks the process alive for ttl. Owner tokens passed to Claim are "<process>:<n>"; a
// lease whose process is no longer alive can be taken over before it expires.
func (s *Store) Alive(ctx context.Context, process string, ttl time.Duration) error {
	if err := s.rdb.Set(ctx, s.prefix+"proc:"+process, time.Now().UnixMilli(), ttl).Err(); err != nil {
		return fmt.Errorf("mark process alive: %w", err)
	}
	return nil
}

// Claim atomically takes the order for owner for lease. The record comes back with a claimed or
// busy answer; done and dead answers carry none (nothing is left to do with it). ClaimMany does
// the same for a batch.
func (s *Store) Claim(ctx context.Context, key, owner string, lease time.Duration) (ClaimResult, Record, error) {
	c := s.ClaimMany(ctx, []string{key}, owner, lease)[0]
	return c.Result, c.Record, c.Err
}

// claimCall is claimScript's keys and arguments for one order.
func (s *Store) claimCall(key, owner string, now int64, lease time.Duration) scriptCall {
	return scriptCall{keys: []string{s.orderKey(key), s.retryKey()},
		args: []any{owner, now, lease.Milliseconds(), key, s.prefix + "proc:", s.prefix}}
}

// claimAnswer reads claimScript's answer: its verdict, then the record's field/value pairs.
func claimAnswer(key string, res []string) (ClaimResult, Record, error) {
	if len(res) == 0 {
		return 0, Record{}, fmt.Errorf("claim order %s: empty answer", key)
	}
	m := make(map[string]string, len(res)/2)
	for i := 1; i+1 < len(res); i += 2 {
		m[res[i]] = res[i+1]
	}
	rec := recordFrom(key, m)
	switch res[0] {
	case "claimed":
		return Claimed, rec, nil
	case "done":
		return Done, rec, nil
	case "dead":
		return Dead, rec, nil
	default:
		return Busy, rec, nil
	}
}

// update is the one fenced write: it checks the lease owner, sets fields, optionally increments
// attempts, moves the order in or out of the retry schedule and the dead letter, and releases the
// lease. KEYS: order, retry, dlq. ARGV: owner, now, retry_due (” = remove from schedule, '-' =
// leave), dlq ('1' add, '0' remove, '-' leave), release ('1'), incr ('1'), key prefix, retention
// (ms), waybilled stays ('1': a record that holds a waybill keeps the state waybilled whatever
// the fields say, so its retry only writes back), the timeline's text for a change of state
// (” : the reason, if any), then field/value pairs. A change of state is noted in the order's
// timeline; an order code is indexed for the console's search. A change that settles
// the order (conflict, skipped) starts its retention; any other keeps it for good. It answers
// the attempts count after the change.
var updateScript = redis.NewScript(retainLua + `
if redis.call('HGET', KEYS[1], 'lease_owner') ~= ARGV[1] then return redis.error_reply('LEASE lost') end
local now = ARGV[2]
local new_state, reason = nil, ''
for i = 11, #ARGV - 1, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i+1])
  if ARGV[i] == 'state' then new_state = ARGV[i+1] elseif ARGV[i] == 'last_error' then reason = ARGV[i+1]
  elseif ARGV[i] == 'order_code' and ARGV[i+1] ~= '' then redis.call('SET', ARGV[7] .. 'code:' .. ARGV[i+1], ARGV[#ARGV]) end
end
if new_state then
  local text = ARGV[10]
  if text == '' then text = reason end
  note(KEYS[1], ARGV[7], now, new_state, text)
end
if ARGV[9] == '1' then
  local wb = redis.call('HGET', KEYS[1], 'waybill')
  if wb and wb ~= '' then redis.call('HSET', KEYS[1], 'state', 'waybilled') end
end
redis.call('HSET', KEYS[1], 'updated_at', now)
local attempts = tonumber(redis.call('HGET', KEYS[1], 'attempts') or '0')
if ARGV[6] == '1' then attempts = redis.call('HINCRBY', KEYS[1], 'attempts', 1) end
if ARGV[3] == '' then redis.call('ZREM', KEYS[2], ARGV[#ARGV]) elseif ARGV[3] ~= '-' then redis.call('ZADD', KEYS[2], ARGV[3], ARGV[#ARGV]) end
if ARGV[4] == '1' then redis.call('ZADD', KEYS[3], now, ARGV[#ARGV]) elseif ARGV[4] == '0' then redis.call('ZREM', KEYS[3], ARGV[#ARGV]) end
if ARGV[5] == '1' then redis.call('HSET', KEYS[1], 'lease_owner', '', 'lease_until', 0) end
retain(KEYS[1], ARGV[7], tonumber(ARGV[8]), false)
return attempts
`)

type change struct {
	state         string // the new state; "" leaves it
	keepWaybilled bool   // the state stays waybilled when the record holds a waybill
	retryDue      string // "" remove, "-" leave, else score
	dlq           string // "1" add, "0" remove, "-" leave
	release       bool
	incr          bool
	fields        []string // further field/value pairs
	note          string   // the timeline's text for the change of state; "": the reason
}

// updateCall is updateScript's keys and arguments for a change to one order.
func (s *Store) updateCall(key, owner string, c change) scriptCall {
	if len(c.fields)%2 != 0 {
		panic("state: odd field list")
	}
	args := []any{owner, time.Now().UnixMilli(), c.retryDue, c.dlq, flag(c.release), flag(c.incr),
		s.prefix, s.retentionMs(), flag(c.keepWaybilled), c.note}
	if c.state != "" {
		args = append(args, "state", c.state)
	}
	for _, f := range c.fields {
		args = append(args, f)
	}
	// The order key rides last so the script can name the member of the sets.
	args = append(args, key)
	return scriptCall{keys: []string{s.orderKey(key), s.retryKey(), s.dlqKey()}, args: args}
}

func updateErr(key string, err error) error {
	switch {
	case err == nil:
		return nil
	case isLeaseLost(err):
		return fmt.Errorf("update order %s: %w", key, ErrLeaseLost)
	}
	return fmt.Errorf("update order %s: %w", key, err)
}

func isLeaseLost(err error) bool {
	var re redis.Error
	return errors.As(err, &re) && len(re.Error()) >= 10 && re.Error()[:10] == "LEASE lost"
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// Submitting records that the carrier is about to be asked, with the order code and carrier.
// From here on the order is pinned (sticky) to that carrier: if this process dies during the
// call, the next claim must not ask another. A failure that certainly created nothing unpins it
// (a Retry or Dead settlement with Sticky false). SubmittingMany does the same for a batch.
func (s *Store) Submitting(ctx context.Context, key, owner, orderCode, carrier, shipperCode string) error {
	return s.SubmittingMany(ctx, []Submit{{Key: key, Owner: owner, OrderCode: orderCode, Carrier: carrier,
		ShipperCode: shipperCode}})[0]
}

// recordWaybillScript stores the waybill, indexes it for pushes under the shipper code that
// Submitting recorded (one string key per waybill, so it can expire with its order), and
// schedules the pickup watchdog and the poller, all at once. KEYS: order, pickup watch, poll
// schedule. ARGV: owner, now, carrier, waybill, pickup_time, order key, pickup due (” none),
// poll due, key prefix, child waybills (comma-separated), warehouse. Child waybills are indexed
// like the parent: a push may name any of them.
var recordWaybillScript = redis.NewScript(timelineLua + `
if redis.call('HGET', KEYS[1], 'lease_owner') ~= ARGV[1] then return redis.error_reply('LEASE lost') end
redis.call('HSET', KEYS[1], 'state', 'waybilled', 'carrier', ARGV[3], 'waybill', ARGV[4], 'pickup_time', ARGV[5],
  'last_error', '', 'updated_at', ARGV[2], 'waybill_at', ARGV[2], 'children', ARGV[10], 'warehouse', ARGV[11])
local shipper = redis.call('HGET', KEYS[1], 'shipper_code') or ''
redis.call('SET', ARGV[9] .. 'wb:' .. shipper .. '/' .. ARGV[4], ARGV[6])
for child in string.gmatch(ARGV[10], '[^,]+') do
  redis.call('SET', ARGV[9] .. 'wb:' .. shipper .. '/' .. child, ARGV[6])
end
if ARGV[7] ~= '' then redis.call('ZADD', KEYS[2], ARGV[7], ARGV[6]) end
redis.call('ZADD', KEYS[3], ARGV[8], ARGV[6])
local text = ARGV[3] .. ' answered ' .. ARGV[4]
if ARGV[10] ~= '' then text = text .. ' (and ' .. ARGV[10] .. ')' end
if ARGV[11] ~= '' then text = text .. ', from ' .. ARGV[11] end
note(KEYS[1], ARGV[9], ARGV[2], 'waybill', text)
return 1
`)

// RecordWaybill stores the carrier's waybill. It happens before the write-back, so a crash in
// between never asks the carrier again. It also indexes the waybill by the record's shipper code
// (pushes name waybills, not orders; see OrderByWaybill) and schedules the no-pickup watchdog
// (pickupDue; zero for none) and the poller. RecordWaybills does the same for a batch.
func (s *Store) RecordWaybill(ctx context.Context, key, owner, carrier, waybill, pickupTime string, pickupDue, pollDue time.Time) error {
	return s.RecordWaybills(ctx, []WaybillRecord{{Key: key, Owner: owner, Carrier: carrier, Waybill: waybill,
		PickupTime: pickupTime, PickupDue: pickupDue, PollDue: pollDue}})[0]
}

// recordWaybillCall is recordWaybillScript's keys and arguments for one order.
func (s *Store) recordWaybillCall(w WaybillRecord, now int64) scriptCall {
	pd := ""
	if !w.PickupDue.IsZero() {
		pd = strconv.FormatInt(w.PickupDue.UnixMilli(), 10)
	}
	return scriptCall{keys: []string{s.orderKey(w.Key), s.pickupKey(), s.pollKey()},
		args: []any{w.Owner, now, w.Carrier, w.Waybill, w.PickupTime, w.Key, pd, w.PollDue.UnixMilli(), s.prefix,
			strings.Join(w.Children, ","), w.Warehouse}}
}

func recordWaybillErr(key string, err error) error {
	switch {
	case err == nil:
		return nil
	case isLeaseLost(err):
		return fmt.Errorf("record waybill of %s: %w", key, ErrLeaseLost)
	}
	return fmt.Errorf("record waybill of %s: %w", key, err)
}

// takeDueScript hands out due entries and pushes each one's due time past the lease, so a crash
// before the order settles only delays it.
var takeDueScript = redis.NewScript(`
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, k in ipairs(due) do redis.call('ZADD', KEYS[1], ARGV[2], k) end
return due
`)

// TakeDue returns up to limit order keys whose retry is due, postponing each by lease.
func (s *Store) TakeDue(ctx context.Context, limit int, lease time.Duration) ([]string, error) {
	now := time.Now()
	keys, err := takeDueScript.Run(ctx, s.rdb, []string{s.retryKey()},
		now.UnixMilli(), now.Add(lease).UnixMilli(), limit).StringSlice()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("take due retries: %w", err)
	}
	return keys, nil
}

// RetryDepth and DeadDepth count the schedule and the dead letter.
func (s *Store) RetryDepth(ctx context.Context) (int64, error) {
	return s.rdb.ZCard(ctx, s.retryKey()).Result()
}

// DeadDepth counts the dead letter.
func (s *Store) DeadDepth(ctx context.Context) (int64, error) {
	return s.rdb.ZCard(ctx, s.dlqKey()).Result()
}

// DeadKeys lists the dead letter's order keys, oldest first.
func (s *Store) DeadKeys(ctx context.Context) ([]string, error) {
	return s.rdb.ZRange(ctx, s.dlqKey(), 0, -1).Result()
}

// DeadRecords returns the records of the dead letter's oldest limit orders (limit <= 0: all),
// oldest first, in two round trips however many there are: the keys, then every record in one
// pipeline. An order whose record is gone is left out.
func (s *Store) DeadRecords(ctx context.Context, limit int) ([]Record, error) {
	keys, err := s.rdb.ZRange(ctx, s.dlqKey(), 0, int64(limit)-1).Result()
	if err != nil {
		return nil, fmt.Errorf("read the dead letter: %w", err)
	}
	if len(keys) == 0 {
		return nil, nil
	}
	cmds := make([]*redis.MapStringStringCmd, len(keys))
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			cmds[i] = p.HGetAll(ctx, s.orderKey(k))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the dead letter's records: %w", err)
	}
	recs := make([]Record, 0, len(keys))
	for i, c := range cmds {
		if m := c.Val(); len(m) > 0 {
			recs = append(recs, recordFrom(keys[i], m))
		}
	}
	return recs, nil
}

// Checkpoint is a saved binlog position.
type Checkpoint struct {
	File    string
	Pos     uint32
	GTID    string
	SavedAt time.Time
}

// LoadCheckpoint returns the saved checkpoint; ok is false when there is none.
func (s *Store) LoadCheckpoint(ctx context.Context) (Checkpoint, bool, error) {
	m, err := s.rdb.HGetAll(ctx, s.checkpointKey()).Result()
	if err != nil {
		return Checkpoint{}, false, fmt.Errorf("load checkpoint: %w", err)
	}
	if m["file"] == "" {
		return Checkpoint{}, false, nil
	}
	pos, err := strconv.ParseUint(m["pos"], 10, 32)
	if err != nil {
		return Checkpoint{}, false, fmt.Errorf("load checkpoint: bad pos %q: %w", m["pos"], err)
	}
	return Checkpoint{File: m["file"], Pos: uint32(pos), GTID: m["gtid"], SavedAt: msTime(m["saved_at"])}, true, nil
}

// SaveCheckpoint stores the position.
func (s *Store) SaveCheckpoint(ctx context.Context, c Checkpoint) error {
	err := s.rdb.HSet(ctx, s.checkpointKey(), "file", c.File, "pos", c.Pos, "gtid", c.GTID,
		"saved_at", time.Now().UnixMilli()).Err()
	if err != nil {
		return fmt.Errorf("save checkpoint %s:%d: %w", c.File, c.Pos, err)
	}
	return nil
}

// DeleteCheckpoint forgets the position (--recover).
func (s *Store) DeleteCheckpoint(ctx context.Context) error {
	if err := s.rdb.Del(ctx, s.checkpointKey()).Err(); err != nil {
		return fmt.Errorf("delete checkpoint: %w", err)
	}
	return nil
}

// CountByState scans the order records (for `shipsync status`; O(orders), never on a hot path)
// and counts them by lifecycle state and by parcel status.
func (s *Store) CountByState(ctx context.Context) (states, parcels map[string]int, err error) {
	states, parcels = map[string]int{}, map[string]int{}
	var mu sync.Mutex
	err = s.scan(ctx, s.prefix+"order:*", func(ctx context.Context, c redis.Cmdable, key string) error {
		v, err := c.HMGet(ctx, key, "state", "status", "status_exception").Result()
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		st, _ := v[0].(string)
		states[st]++
		if ps, _ := v[1].(string); ps != "" {
			if exc, _ := v[2].(string); exc == "1" {
				ps += "+exception"
			}
			parcels[ps]++
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("count orders: %w", err)
	}
	return states, parcels, nil
}

// scan calls fn for every key matching match, on every master of a Cluster (concurrently, one
// goroutine per master), with the client of the node that holds the key.
func (s *Store) scan(ctx context.Context, match string, fn func(context.Context, redis.Cmdable, string) error) error {
	one := func(ctx context.Context, c redis.Cmdable) error {
		iter := c.Scan(ctx, 0, match, 1000).Iterator()
		for iter.Next(ctx) {
			if err := fn(ctx, c, iter.Val()); err != nil {
				return err
			}
		}
		return iter.Err()
	}
	if cc, ok := s.rdb.(*redis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return one(ctx, c) })
	}
	return one(ctx, s.rdb)
}

// reviveScript moves a dead-lettered order back to the retry schedule, due now, with fresh
// attempts, routed to a chosen carrier when one is given. It answers 0 when the order is not in
// the dead letter, 1 when it was sent back, and {'pinned', carrier} when it is pinned to another
// carrier than the chosen one. KEYS: order, retry, dlq. ARGV: key, now, carrier (empty: as routed),
// key prefix. It is noted in the timeline.
var reviveScript = redis.NewScript(timelineLua + `
if redis.call('HGET', KEYS[1], 'state') ~= 'failed' then return 0 end
local pin = redis.call('HMGET', KEYS[1], 'sticky', 'carrier')
if ARGV[3] ~= '' and pin[1] == '1' and pin[2] and pin[2] ~= '' and pin[2] ~= ARGV[3] then return {'pinned', pin[2]} end
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'route', ARGV[3]) end
local last = redis.call('HGET', KEYS[1], 'last_error') or ''
redis.call('HSET', KEYS[1], 'state', 'retry', 'attempts', 0, 'last_error', 'sent back from the dead letter (was: ' .. last .. ')',
  'updated_at', ARGV[2], 'lease_owner', '', 'lease_until', 0)
redis.call('PERSIST', KEYS[1]) -- open work again: never expires
local text = 'sent back from the dead letter'
if ARGV[3] ~= '' then text = text .. ', to ' .. ARGV[3] end
note(KEYS[1], ARGV[4], ARGV[2], 'revived', text)
redis.call('PERSIST', timeline_key(KEYS[1], ARGV[4]))
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
return 1
`)

// ErrPinned: the order is pinned to its carrier (Record.Sticky), which may hold its waybill, so
// it may not be sent to another.
var ErrPinned = errors.New("pinned to carrier")

// Revive sends a dead-lettered order back through the normal path (`shipsync dlq retry`): the
// running daemon picks it up from the retry schedule, and the claim and the carrier's OrderCode
// still guarantee one waybill. A carrier (`--carrier`) is recorded as the order's route, so the
// next attempt goes there; an order pinned to another carrier is refused with ErrPinned and
// left as it was. An empty carrier leaves the route as it is. It reports false when the order
// is not in the dead letter.
func (s *Store) Revive(ctx context.Context, key, carrier string) (bool, error) {
	res, err := reviveScript.Run(ctx, s.rdb, []string{s.orderKey(key), s.retryKey(), s.dlqKey()},
		key, time.Now().UnixMilli(), carrier, s.prefix).Result()
	if err != nil {
		return false, fmt.Errorf("revive order %s: %w", key, err)
	}
	if pin, ok := res.([]any); ok && len(pin) == 2 {
		return false, fmt.Errorf("revive order %s on %s: %w %v, which may already hold its waybill (retry it without --carrier)",
			key, carrier, ErrPinned, pin[1])
	}
	n, _ := res.(int64)
	return n == 1, nil
}

// Drop takes an order out of the dead letter for good (`shipsync dlq drop`): it is marked dropped,
// so a replayed event does not ship it either.
func (s *Store) Drop(ctx context.Context, key string) (bool, error) {
	n, err := s.rdb.ZRem(ctx, s.dlqKey(), key).Result()
	if err != nil {
		return false, fmt.Errorf("drop order %s: %w", key, err)
	}
	if n == 0 {
		return false, nil
	}
	// Nobody ships or watches it any more: its parcel leaves the pickup watch and the polls.
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, s.orderKey(key), "state", Dropped, "updated_at", time.Now().UnixMilli())
		p.ZRem(ctx, s.pickupKey(), key)
		p.ZRem(ctx, s.pollKey(), key)
		p.ZRem(ctx, s.flaggedKey(), key)
		s.note(ctx, p, key, Dropped, "taken out of the dead letter by hand; never shipped by shipsync")
		retainScript.Eval(ctx, p, []string{s.orderKey(key)}, s.prefix, s.retentionMs(), "0") // settled: it expires
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("drop order %s: %w", key, err)
	}
	return true, nil
}
