// Package kafka reads split mode's paid-order topic as one member of a consumer group
// (DESIGN.md §1, §2 "Split mode"). It consumes with segmentio/kafka-go.
//
// A Consumer hands out messages in partition order and commits only what its caller says is
// done: Commit(partition, offset) stores offset+1 as the group's position for that partition,
// synchronously. The caller commits a partition's offsets in its own time, once the messages
// up to there are settled, so a member that dies makes the group redeliver everything it had
// not finished (at least once; the caller deduplicates).
//
// It must not import sync/… or sinks/… (nor anything else from the module).
package kafka

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
)

// Config configures a Consumer.
type Config struct {
	Brokers []string
	Topic   string
	Group   string
	// SessionTimeout is how long the group waits for a silent member before handing its
	// partitions to the others (default 10s; brokers allow 6s at least by default).
	SessionTimeout time.Duration
	TLS            *tls.Config
	SASL           sasl.Mechanism // nil: none
	// Log receives kafka-go's own lines: joins, assignments and offsets at debug level, its
	// errors as warnings. Nil: discarded.
	Log *slog.Logger
}

// Message is one record of the topic.
type Message struct {
	Key, Value []byte
	Partition  int
	Offset     int64
	Time       time.Time // the record's timestamp (when it was produced)
}

// Consumer is one member of the group.
type Consumer struct {
	topic string
	r     *kafkago.Reader
}

// NewConsumer joins the group lazily: the first Fetch connects.
func NewConsumer(cfg Config) (*Consumer, error) {
	if len(cfg.Brokers) == 0 || cfg.Topic == "" || cfg.Group == "" {
		return nil, errors.New("kafka consumer: brokers, topic and group are required")
	}
	session := cfg.SessionTimeout
	if session <= 0 {
		session = 10 * time.Second
	}
	rc := kafkago.ReaderConfig{
		Brokers: cfg.Brokers,
		GroupID: cfg.Group,
		Topic:   cfg.Topic,
		Dialer: &kafkago.Dialer{Timeout: 10 * time.Second, DualStack: true, TLS: cfg.TLS,
			SASLMechanism: cfg.SASL, ClientID: "shipsync"},
		// A new group starts at the beginning: paid orders published before the first worker
		// joined are not skipped.
		StartOffset:       kafkago.FirstOffset,
		SessionTimeout:    session,
		HeartbeatInterval: min(3*time.Second, session/5),
		RebalanceTimeout:  session,
		JoinGroupBackoff:  time.Second,
		MaxWait:           250 * time.Millisecond,
		// CommitInterval 0: Commit returns once the broker stored the offset.
		CommitInterval: 0,
		QueueCapacity:  256,
	}
	if cfg.Log != nil {
		log := cfg.Log.With("component", "kafka-go")
		rc.Logger = kafkago.LoggerFunc(func(msg string, args ...any) { log.Debug(fmt.Sprintf(msg, args...)) })
		rc.ErrorLogger = kafkago.LoggerFunc(func(msg string, args ...any) { log.Warn(fmt.Sprintf(msg, args...)) })
	}
	r := kafkago.NewReader(rc)
	return &Consumer{topic: cfg.Topic, r: r}, nil
}

// Fetch returns the next message of any partition assigned to this member, blocking until
// there is one or ctx ends.
func (c *Consumer) Fetch(ctx context.Context) (Message, error) {
	m, err := c.r.FetchMessage(ctx)
	if err != nil {
		return Message{}, err
	}
	return Message{Key: m.Key, Value: m.Value, Partition: m.Partition, Offset: m.Offset, Time: m.Time}, nil
}

// Commit records that every message of partition up to and including offset is done.
func (c *Consumer) Commit(ctx context.Context, partition int, offset int64) error {
	err := c.r.CommitMessages(ctx, kafkago.Message{Topic: c.topic, Partition: partition, Offset: offset})
	if err != nil {
		return fmt.Errorf("kafka: commit %s/%d@%d: %w", c.topic, partition, offset, err)
	}
	return nil
}

// Close leaves the group (its partitions go to the other members at once).
func (c *Consumer) Close() error { return c.r.Close() }
