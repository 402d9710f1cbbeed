package state

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// The lifecycle events outbox: events are appended to a Redis stream where the order's state
// lives, and forwarded to Kafka by every process through one consumer group; an entry leaves
// the stream only once Kafka acknowledged it. A process killed mid-way leaves its entries
// pending in the group, and another process claims them once they have been idle long enough.

const outboxGroup = "forwarder"

func (s *Store) outboxKey() string { return s.prefix + "outbox" }

// OutboxEntry is one event waiting for Kafka.
type OutboxEntry struct {
	ID, Key string
	Value   []byte
}

// AppendOutbox adds an event for key.
func (s *Store) AppendOutbox(ctx context.Context, key string, value []byte) error {
	return s.rdb.XAdd(ctx, &redis.XAddArgs{Stream: s.outboxKey(), Values: []any{"k", key, "v", value}}).Err()
}

// AppendOutboxMany adds several events in one round trip (a pipeline), in order. On an error
// some may have been added: appending again repeats them (delivery is at least once).
func (s *Store) AppendOutboxMany(ctx context.Context, entries []OutboxEntry) error {
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, e := range entries {
			p.XAdd(ctx, &redis.XAddArgs{Stream: s.outboxKey(), Values: []any{"k", e.Key, "v", e.Value}})
		}
		return nil
	})
	return err
}

// ensureOutboxGroup creates the stream and its consumer group, reading from the start.
func (s *Store) ensureOutboxGroup(ctx context.Context) error {
	err := s.rdb.XGroupCreateMkStream(ctx, s.outboxKey(), outboxGroup, "0").Err()
	if err != nil && strings.HasPrefix(err.Error(), "BUSYGROUP") {
		return nil
	}
	return err
}

// ReadOutbox hands consumer up to count entries nobody has had yet, waiting up to block for
// the first; then, if there were none, entries another consumer has held longer than stale
// (its process died or stalled).
func (s *Store) ReadOutbox(ctx context.Context, consumer string, count int, block, stale time.Duration) ([]OutboxEntry, error) {
	read := func() ([]redis.XStream, error) {
		return s.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: outboxGroup, Consumer: consumer,
			Streams: []string{s.outboxKey(), ">"}, Count: int64(count), Block: block}).Result()
	}
	res, err := read()
	if err != nil && redis.HasErrorPrefix(err, "NOGROUP") {
		// The first read of a new outbox (or of one Redis lost): create it, read again.
		if err := s.ensureOutboxGroup(ctx); err != nil {
			return nil, err
		}
		res, err = read()
	}
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	var msgs []redis.XMessage
	if len(res) > 0 {
		msgs = res[0].Messages
	}
	if len(msgs) == 0 {
		msgs, _, err = s.rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{Stream: s.outboxKey(), Group: outboxGroup,
			Consumer: consumer, MinIdle: stale, Start: "0-0", Count: int64(count)}).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return nil, err
		}
	}
	out := make([]OutboxEntry, 0, len(msgs))
	for _, m := range msgs {
		k, _ := m.Values["k"].(string)
		v, _ := m.Values["v"].(string)
		out = append(out, OutboxEntry{ID: m.ID, Key: k, Value: []byte(v)})
	}
	return out, nil
}

// AckOutbox removes delivered entries.
func (s *Store) AckOutbox(ctx context.Context, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.XAck(ctx, s.outboxKey(), outboxGroup, ids...)
		p.XDel(ctx, s.outboxKey(), ids...)
		return nil
	})
	return err
}

// OutboxDepth is how many events wait for Kafka.
func (s *Store) OutboxDepth(ctx context.Context) (int64, error) {
	return s.rdb.XLen(ctx, s.outboxKey()).Result()
}
