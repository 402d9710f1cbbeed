package kafka

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DefaultPartitions is how many partitions Start gives each topic: more than one, so tests
// see keys spread over partitions and can check that each key stays on one.
const DefaultPartitions = 3

// Options shapes a cluster started by StartWith. The zero value is what Start uses.
type Options struct {
	// Addr makes the cluster a single broker listening on this loopback host:port, so a test
	// can start a broker where a client already points (or restart one at the same place).
	// Empty: three brokers on ports the system chooses.
	Addr string
	// Partitions per topic created at start; 0 means DefaultPartitions.
	Partitions int32
	// User and Password, when set, make the cluster require SASL; the user is accepted with
	// each of PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512.
	User, Password string
	// TLS, when set, makes the brokers accept TLS connections only, with this server config.
	TLS *tls.Config
}

// Record is one record read back by Consume.
type Record struct {
	Key, Value []byte
	Partition  int32
	Offset     int64
	// Time is the record's timestamp.
	Time time.Time
}

// Start runs an in-process kfake cluster of three brokers on 127.0.0.1 with the topics
// created (DefaultPartitions each), stops it when the test ends, and returns the brokers'
// addresses.
func Start(t testing.TB, topics ...string) (brokers []string) {
	t.Helper()
	return StartWith(t, Options{}, topics...)
}

// StartWith is Start with options.
func StartWith(t testing.TB, opts Options, topics ...string) (brokers []string) {
	t.Helper()
	parts := opts.Partitions
	if parts == 0 {
		parts = DefaultPartitions
	}
	kopts := []kfake.Opt{kfake.SeedTopics(parts, topics...), kfake.DefaultNumPartitions(int(parts))}
	if opts.Addr != "" {
		port, err := loopbackPort(opts.Addr)
		if err != nil {
			t.Fatalf("testenv/kafka: %v", err)
		}
		// kfake binds 127.0.0.1:port; ListenFn keeps the host the caller named.
		kopts = append(kopts, kfake.Ports(port), kfake.ListenFn(func(network, _ string) (net.Listener, error) {
			return net.Listen(network, opts.Addr)
		}))
	}
	if opts.User != "" {
		kopts = append(kopts, kfake.EnableSASL(),
			kfake.Superuser("PLAIN", opts.User, opts.Password),
			kfake.Superuser("SCRAM-SHA-256", opts.User, opts.Password),
			kfake.Superuser("SCRAM-SHA-512", opts.User, opts.Password))
	}
	if opts.TLS != nil {
		kopts = append(kopts, kfake.TLS(opts.TLS))
	}
	c, err := kfake.NewCluster(kopts...)
	if err != nil {
		t.Fatalf("testenv/kafka: start kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

// loopbackPort checks that addr is host:port on a loopback address and returns the port.
func loopbackPort(addr string) (int, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, err
	}
	if host != "localhost" {
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			return 0, errors.New("kfake listens on loopback addresses only, not " + addr)
		}
	}
	p, err := net.LookupPort("tcp", port)
	if err != nil {
		return 0, err
	}
	return p, nil
}

// CreateTopic creates a topic on a running cluster, for tests of a topic that appears late.
func CreateTopic(t testing.TB, brokers []string, topic string, partitions int32) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatalf("testenv/kafka: client: %v", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic = topic
	rt.NumPartitions = partitions
	rt.ReplicationFactor = 1
	req.Topics = append(req.Topics, rt)
	req.TimeoutMillis = 10_000
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("testenv/kafka: create topic %s: %v", topic, err)
	}
	for _, rt := range resp.Topics {
		if err := kerr.ErrorForCode(rt.ErrorCode); err != nil {
			t.Fatalf("testenv/kafka: create topic %s: %v", topic, err)
		}
	}
}

// Consume reads topic from the start of every partition with franz-go's kgo client (not the
// client shipsync produces with) until at least want records have arrived, and returns them
// in the order read: per partition, that is offset order. It fails the test when timeout
// passes first, saying how many records did arrive.
func Consume(t testing.TB, brokers []string, topic string, want int, timeout time.Duration) []Record {
	t.Helper()
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	)
	if err != nil {
		t.Fatalf("testenv/kafka: client: %v", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out []Record
	var lastErr error
	for len(out) < want {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("testenv/kafka: consume %s: %d of %d records after %v (last fetch error: %v)",
				topic, len(out), want, timeout, lastErr)
		}
		// Fetch errors are usually transient (a topic not there yet, a leader moving): kgo
		// retries them itself; keep the last one for the timeout message.
		fetches.EachError(func(_ string, _ int32, err error) { lastErr = err })
		fetches.EachRecord(func(r *kgo.Record) {
			out = append(out, Record{
				Key:       slices.Clone(r.Key),
				Value:     slices.Clone(r.Value),
				Partition: r.Partition,
				Offset:    r.Offset,
				Time:      r.Timestamp,
			})
		})
	}
	return out
}

// ReadAll reads topic from the start of every partition with kgo until no record has arrived
// for idle, and returns what it read; for failure reports, where Consume's want is unknown.
func ReadAll(brokers []string, topic string, idle time.Duration) ([]Record, error) {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	var out []Record
	for {
		ctx, cancel := context.WithTimeout(context.Background(), idle)
		fetches := cl.PollFetches(ctx)
		cancel()
		n := 0
		fetches.EachRecord(func(r *kgo.Record) {
			n++
			out = append(out, Record{Key: slices.Clone(r.Key), Value: slices.Clone(r.Value),
				Partition: r.Partition, Offset: r.Offset, Time: r.Timestamp})
		})
		if n == 0 {
			return out, nil
		}
	}
}
