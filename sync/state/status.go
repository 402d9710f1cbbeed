package state

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrLocked means another process is applying a status to the same order right now.
var ErrLocked = errors.New("order is locked by another status update")

// OrderByWaybill finds the order a waybill belongs to by its courier's shipper code (Kdniao's
// ShipperCode) and number. Waybills recorded before the index had one key per waybill sit in
// one hash under "<carrier name>/<waybill>": legacy names the carriers whose old entries are
// looked up when the new key is missing, so an upgrade loses no push for a parcel in flight.
func (s *Store) OrderByWaybill(ctx context.Context, shipperCode, waybill string, legacy ...string) (string, bool, error) {
	key, err := s.rdb.Get(ctx, s.waybillKey(shipperCode, waybill)).Result()
	if err == nil {
		return key, true, nil
	}
	if !errors.Is(err, redis.Nil) {
		return "", false, fmt.Errorf("look up waybill %s/%s: %w", shipperCode, waybill, err)
	}
	if len(legacy) == 0 {
		return "", false, nil
	}
	fields := make([]string, len(legacy))
	for i, c := range legacy {
		fields[i] = c + "/" + waybill
	}
	keys, err := s.rdb.HMGet(ctx, s.waybillIndex(), fields...).Result()
	if err != nil {
		return "", false, fmt.Errorf("look up waybill %s/%s: %w", shipperCode, waybill, err)
	}
	for _, k := range keys {
		if k, ok := k.(string); ok && k != "" {
			return k, true, nil
		}
	}
	return "", false, nil
}

var unlockScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)

// Lock serialises status updates of one order across processes, so an older push can never be
// written after a newer one. It waits up to wait for the lock; the lock lapses after ttl.
func (s *Store) Lock(ctx context.Context, key string, ttl, wait time.Duration) (unlock func(), err error) {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	token := hex.EncodeToString(b)
	deadline := time.Now().Add(wait)
	for pause := 5 * time.Millisecond; ; pause = min(2*pause, 100*time.Millisecond) {
		ok, err := s.rdb.SetNX(ctx, s.lockKey(key), token, ttl).Result()
		if err != nil {
			return nil, fmt.Errorf("lock order %s: %w", key, err)
		}
		if ok {
			return func() {
				ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
				defer cancel()
				unlockScript.Run(ctx, s.rdb, []string{s.lockKey(key)}, token) //nolint:errcheck // it lapses anyway
			}, nil
		}
		if time.Now().Add(pause).After(deadline) {
			return nil, fmt.Errorf("order %s: %w", key, ErrLocked)
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

// ParcelStatus is what SetStatus stores.
type ParcelStatus struct {
	Status    string
	Exception bool
	Reason    string
	Time      time.Time
	// PickedUp ends the no-pickup watch; Terminal ends polling.
	PickedUp, Terminal bool
	// NextPoll is when to poll the waybill next (unless Terminal).
	NextPoll time.Time
	// Note is the timeline's text for it (where it came from, what was written to the shop).
	Note string
}

// SetStatus stores the parcel's status and moves it in the watchdog and poll schedules, flags
// or unflags it (an exception), and notes it in the timeline. A terminal status settles a
// written order: its retention starts (again) now. The caller holds Lock.
func (s *Store) SetStatus(ctx context.Context, key string, ps ParcelStatus) error {
	exc := "0"
	if ps.Exception {
		exc = "1"
	}
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, s.orderKey(key), "status", ps.Status, "status_exception", exc, "status_reason", ps.Reason,
			"status_time", ps.Time.UnixMilli(), "updated_at", time.Now().UnixMilli())
		if ps.PickedUp {
			p.ZRem(ctx, s.pickupKey(), key)
		}
		if ps.Terminal {
			p.ZRem(ctx, s.pollKey(), key)
		} else {
			p.ZAdd(ctx, s.pollKey(), redis.Z{Score: float64(ps.NextPoll.UnixMilli()), Member: key})
		}
		if ps.Exception {
			p.ZAddNX(ctx, s.flaggedKey(), redis.Z{Score: float64(time.Now().UnixMilli()), Member: key})
		} else {
			p.ZRem(ctx, s.flaggedKey(), key)
		}
		s.note(ctx, p, key, "status", ps.Note)
		retainScript.Eval(ctx, p, []string{s.orderKey(key)}, s.prefix, s.retentionMs(), flag(ps.Terminal))
		return nil
	})
	if err != nil {
		return fmt.Errorf("store status of %s: %w", key, err)
	}
	return nil
}

// DuePickups returns up to limit orders whose waybill has waited for a pickup past its due time.
// They stay in the watch until DonePickup: the watchdog flags each exactly once.
func (s *Store) DuePickups(ctx context.Context, now time.Time, limit int) ([]string, error) {
	keys, err := s.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{Key: s.pickupKey(), Start: "-inf",
		Stop: strconv.FormatInt(now.UnixMilli(), 10), ByScore: true, Count: int64(limit)}).Result()
	if err != nil {
		return nil, fmt.Errorf("read the pickup watch: %w", err)
	}
	return keys, nil
}

// DonePickup takes the order off the no-pickup watch.
func (s *Store) DonePickup(ctx context.Context, key string) error {
	if err := s.rdb.ZRem(ctx, s.pickupKey(), key).Err(); err != nil {
		return fmt.Errorf("end pickup watch of %s: %w", key, err)
	}
	return nil
}

// SchedulePoll sets when the order's waybill is polled next.
func (s *Store) SchedulePoll(ctx context.Context, key string, due time.Time) error {
	if err := s.rdb.ZAdd(ctx, s.pollKey(), redis.Z{Score: float64(due.UnixMilli()), Member: key}).Err(); err != nil {
		return fmt.Errorf("schedule poll of %s: %w", key, err)
	}
	return nil
}

// PollFailed counts a failed poll of the order's waybill and returns how many failed in a row
// (since the last PollSucceeded), for the caller's backoff. The order's record must exist.
func (s *Store) PollFailed(ctx context.Context, key string) (int, error) {
	n, err := s.rdb.HIncrBy(ctx, s.orderKey(key), "poll_failures", 1).Result()
	if err != nil {
		return 0, fmt.Errorf("count failed poll of %s: %w", key, err)
	}
	return int(n), nil
}

// PollSucceeded resets the order's count of failed polls.
func (s *Store) PollSucceeded(ctx context.Context, key string) error {
	if err := s.rdb.HDel(ctx, s.orderKey(key), "poll_failures").Err(); err != nil {
		return fmt.Errorf("reset failed polls of %s: %w", key, err)
	}
	return nil
}

// DonePoll takes the order off the poll schedule only (the no-pickup watch keeps it).
func (s *Store) DonePoll(ctx context.Context, key string) error {
	if err := s.rdb.ZRem(ctx, s.pollKey(), key).Err(); err != nil {
		return fmt.Errorf("end polls of %s: %w", key, err)
	}
	return nil
}

// PostponePickup moves the order's no-pickup check to due.
func (s *Store) PostponePickup(ctx context.Context, key string, due time.Time) error {
	if err := s.rdb.ZAddXX(ctx, s.pickupKey(), redis.Z{Score: float64(due.UnixMilli()), Member: key}).Err(); err != nil {
		return fmt.Errorf("postpone pickup watch of %s: %w", key, err)
	}
	return nil
}

// ForgetParcel takes the order off the watchdog and the poller: its waybill is not the shop's.
func (s *Store) ForgetParcel(ctx context.Context, key string) error {
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.ZRem(ctx, s.pickupKey(), key)
		p.ZRem(ctx, s.pollKey(), key)
		return nil
	})
	if err != nil {
		return fmt.Errorf("forget parcel of %s: %w", key, err)
	}
	return nil
}

// DuePolls hands out up to limit orders whose waybill is due for a poll, postponing each by
// postpone so a crash mid-poll only delays it.
func (s *Store) DuePolls(ctx context.Context, limit int, postpone time.Duration) ([]string, error) {
	now := time.Now()
	keys, err := takeDueScript.Run(ctx, s.rdb, []string{s.pollKey()},
		now.UnixMilli(), now.Add(postpone).UnixMilli(), limit).StringSlice()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("take due polls: %w", err)
	}
	return keys, nil
}

// StuckOrders returns orders in the retry schedule or the dead letter that were detected before
// olderThan and not reported yet, and marks them reported. It reads only those two sets, never
// the delivered orders.
func (s *Store) StuckOrders(ctx context.Context, olderThan time.Time, limit int) ([]Record, error) {
	waiting, err := s.waiting(ctx, olderThan, limit)
	if err != nil {
		return nil, err
	}
	var out []Record
	for _, rec := range waiting {
		first, err := s.rdb.HSetNX(ctx, s.orderKey(rec.Key), "stuck_reported", time.Now().UnixMilli()).Result()
		if err != nil {
			return nil, fmt.Errorf("mark stuck order %s: %w", rec.Key, err)
		}
		if first {
			out = append(out, rec)
		}
	}
	return out, nil
}
