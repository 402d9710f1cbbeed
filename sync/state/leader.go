package state

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrFenced means a checkpoint write came from a reader that is no longer the leader.
var ErrFenced = errors.New("not the leader: checkpoint write refused")

func (s *Store) leaderKey() string { return s.prefix + "leader" }
func (s *Store) fenceKey() string  { return s.prefix + "leader:token" }

// leadScript takes or renews the lease. KEYS: leader, token. ARGV: owner, ttl ms, liveness key
// prefix. Returns the fencing token (a new, higher one when the lease changes hands), or 0 when
// another live owner holds it. A holder whose process is no longer alive (killed: its liveness
// key expired, see Alive) loses the lease before its TTL.
var leadScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur and cur ~= ARGV[1] then
  if redis.call('EXISTS', ARGV[3] .. cur) == 1 then return 0 end
  cur = false
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if not cur then return redis.call('INCR', KEYS[2]) end
return tonumber(redis.call('GET', KEYS[2]) or '0')
`)

// Lead takes (or renews) the binlog reader's lease for owner. It returns the fencing token, or 0
// when another process holds the lease.
func (s *Store) Lead(ctx context.Context, owner string, ttl time.Duration) (int64, error) {
	tok, err := leadScript.Run(ctx, s.rdb, []string{s.leaderKey(), s.fenceKey()}, owner, ttl.Milliseconds(), s.prefix+"proc:").Int64()
	if err != nil {
		return 0, fmt.Errorf("leader lease: %w", err)
	}
	return tok, nil
}

var resignScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)

// Resign gives the lease up (graceful shutdown), so a standby takes over at once.
func (s *Store) Resign(ctx context.Context, owner string) error {
	if err := resignScript.Run(ctx, s.rdb, []string{s.leaderKey()}, owner).Err(); err != nil {
		return fmt.Errorf("resign leader lease: %w", err)
	}
	return nil
}

// saveScript writes the checkpoint only for the current fencing token. KEYS: checkpoint, token.
// ARGV: token, file, pos, gtid, now.
var saveScript = redis.NewScript(`
if tonumber(redis.call('GET', KEYS[2]) or '0') ~= tonumber(ARGV[1]) then return redis.error_reply('FENCED') end
redis.call('HSET', KEYS[1], 'file', ARGV[2], 'pos', ARGV[3], 'gtid', ARGV[4], 'saved_at', ARGV[5])
return 1
`)

// SaveCheckpointFenced stores the position if token is still the current leader's.
func (s *Store) SaveCheckpointFenced(ctx context.Context, c Checkpoint, token int64) error {
	err := saveScript.Run(ctx, s.rdb, []string{s.checkpointKey(), s.fenceKey()}, token, c.File, c.Pos, c.GTID,
		time.Now().UnixMilli()).Err()
	var re redis.Error
	if errors.As(err, &re) && strings.Contains(re.Error(), "FENCED") {
		return fmt.Errorf("save checkpoint %s:%d: %w", c.File, c.Pos, ErrFenced)
	}
	if err != nil {
		return fmt.Errorf("save checkpoint %s:%d: %w", c.File, c.Pos, err)
	}
	return nil
}
