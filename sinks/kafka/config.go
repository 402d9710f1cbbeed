package kafka

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
)

// Defaults applied by NewProducer to zero fields.
const (
	DefaultBatchSize    = 100
	DefaultBatchTimeout = 10 * time.Millisecond
	DefaultQueue        = 10000
)

// MaxMessageBytes is the largest key plus value Send accepts. Kafka brokers reject record
// batches over message.max.bytes (1,048,588 by default); a message that can never be written
// must fail at Send, where the caller sees it, not block the outlet retrying forever.
const MaxMessageBytes = 1_000_000

// Config configures a Producer. Zero BatchSize, BatchTimeout and Queue take the defaults.
type Config struct {
	// Brokers are the bootstrap addresses, host:port each.
	Brokers []string
	// Topic receives every message; it must exist (the producer never creates topics).
	Topic string
	// BatchSize is the most messages written in one request.
	BatchSize int
	// BatchTimeout is how long a message may wait for its batch to fill before it is sent.
	BatchTimeout time.Duration
	// Compression is none (or empty), gzip, snappy, lz4 or zstd.
	Compression string
	// TLS, when set, encrypts connections to the brokers.
	TLS *tls.Config
	// SASL authenticates connections when its Mechanism is set.
	SASL SASL
	// Queue is how many messages Send may queue before it blocks.
	Queue int
}

// SASL is a SASL mechanism and its credentials.
type SASL struct {
	// Mechanism is empty (no SASL), PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.
	Mechanism          string
	Username, Password string
}

var compressions = map[string]kafkago.Compression{
	"":       0,
	"none":   0,
	"gzip":   kafkago.Gzip,
	"snappy": kafkago.Snappy,
	"lz4":    kafkago.Lz4,
	"zstd":   kafkago.Zstd,
}

// withDefaults returns c with zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.BatchTimeout == 0 {
		c.BatchTimeout = DefaultBatchTimeout
	}
	if c.Queue == 0 {
		c.Queue = DefaultQueue
	}
	return c
}

// Validate reports every problem in c at once, each named by its config key (brokers, topic,
// batch_size, batch_timeout, compression, sasl.mechanism, sasl.username, queue); the caller
// prefixes its own path. Zero values that have defaults are valid. It does no I/O.
func (c Config) Validate() error {
	var errs []error
	if len(c.Brokers) == 0 {
		errs = append(errs, errors.New("brokers: at least one broker is required"))
	}
	for i, b := range c.Brokers {
		if _, port, err := net.SplitHostPort(b); err != nil || port == "" {
			errs = append(errs, fmt.Errorf("brokers[%d]: %q is not host:port", i, b))
		}
	}
	if c.Topic == "" {
		errs = append(errs, errors.New("topic: required"))
	}
	if c.BatchSize < 0 {
		errs = append(errs, fmt.Errorf("batch_size: must be >= 0 (0 means %d), got %d", DefaultBatchSize, c.BatchSize))
	}
	if c.BatchTimeout < 0 {
		errs = append(errs, fmt.Errorf("batch_timeout: must be >= 0 (0 means %v), got %v", DefaultBatchTimeout, c.BatchTimeout))
	}
	if c.Queue < 0 {
		errs = append(errs, fmt.Errorf("queue: must be >= 0 (0 means %d), got %d", DefaultQueue, c.Queue))
	}
	if _, ok := compressions[c.Compression]; !ok {
		errs = append(errs, fmt.Errorf("compression: unknown %q (want none, gzip, snappy, lz4 or zstd)", c.Compression))
	}
	switch c.SASL.Mechanism {
	case "":
		if c.SASL.Username != "" || c.SASL.Password != "" {
			errs = append(errs, errors.New("sasl.username: set without sasl.mechanism"))
		}
	case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
		if c.SASL.Username == "" {
			errs = append(errs, fmt.Errorf("sasl.username: required with sasl.mechanism %s", c.SASL.Mechanism))
		}
	default:
		errs = append(errs, fmt.Errorf("sasl.mechanism: unknown %q (want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)", c.SASL.Mechanism))
	}
	return errors.Join(errs...)
}

// Authenticator builds the kafka-go SASL mechanism (for a consumer of the same cluster too); nil
// when none is configured.
func (s SASL) Authenticator() (sasl.Mechanism, error) {
	switch s.Mechanism {
	case "":
		return nil, nil
	case "PLAIN":
		return plain.Mechanism{Username: s.Username, Password: s.Password}, nil
	case "SCRAM-SHA-256":
		return scram.Mechanism(scram.SHA256, s.Username, s.Password)
	case "SCRAM-SHA-512":
		return scram.Mechanism(scram.SHA512, s.Username, s.Password)
	}
	return nil, fmt.Errorf("sasl.mechanism: unknown %q", s.Mechanism)
}
