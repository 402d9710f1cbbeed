package kafka

// These tests run against kfake, in process (testenv/kafka), and read what we produced with
// franz-go's kgo client: a second Kafka implementation on both ends, so passing means
// kafka-go wrote ordinary Kafka, not something only kafka-go reads back.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shipsync/shipsync/testenv"
	testkafka "github.com/shipsync/shipsync/testenv/kafka"
)

const consumeTimeout = 20 * time.Second

func newProducer(t *testing.T, cfg Config, onError func(error, int)) *Producer {
	t.Helper()
	p, err := NewProducer(cfg, onError)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		p.Close(ctx)
	})
	return p
}

func closeWithin(t *testing.T, p *Producer, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Fatalf("Close() = %v", err)
	}
}

// value encodes a key's sequence number so the reader can check per-key order.
func value(key string, seq int) []byte { return fmt.Appendf(nil, "%s#%d", key, seq) }

// checkKeyOrder checks that records hold, per key, the sequence 0..perKey-1 exactly once and
// in order, every key on a single partition: the one kgo's default partitioner (Java's
// murmur2) picks, so other producers of the same keys agree with ours.
func checkKeyOrder(t *testing.T, topic string, recs []testkafka.Record, keys, perKey, partitions int) {
	t.Helper()
	if len(recs) != keys*perKey {
		t.Errorf("read %d records, want %d", len(recs), keys*perKey)
	}
	next := map[string]int{}
	part := map[string]int32{}
	usedParts := map[int32]bool{}
	kgoPart := kgo.StickyKeyPartitioner(nil).ForTopic(topic)
	for _, r := range recs {
		k := string(r.Key)
		v := string(r.Value)
		if want := string(value(k, next[k])); v != want {
			t.Fatalf("key %s: got %q at partition %d offset %d, want %q", k, v, r.Partition, r.Offset, want)
		}
		next[k]++
		if p, seen := part[k]; seen && p != r.Partition {
			t.Fatalf("key %s on partitions %d and %d", k, p, r.Partition)
		}
		part[k] = r.Partition
		usedParts[r.Partition] = true
		if want := kgoPart.Partition(&kgo.Record{Key: r.Key}, partitions); int(r.Partition) != want {
			t.Fatalf("key %s on partition %d, kgo's murmur2 partitioner says %d", k, r.Partition, want)
		}
	}
	if len(next) != keys {
		t.Errorf("read %d distinct keys, want %d", len(next), keys)
	}
	for k, n := range next {
		if n != perKey {
			t.Errorf("key %s: %d records, want %d", k, n, perKey)
		}
	}
	if keys >= 10 && len(usedParts) != partitions {
		t.Errorf("%d keys used %d of %d partitions", keys, len(usedParts), partitions)
	}
}

func TestDeliversEveryMessageInKeyOrder(t *testing.T) {
	const (
		topic   = "events"
		keys    = 50
		perKey  = 20
		senders = 5 // each owns keys/senders keys, so send order per key is defined
	)
	brokers := testkafka.Start(t, topic)
	var errs atomic.Int64
	p := newProducer(t, Config{Brokers: brokers, Topic: topic, BatchSize: 64}, func(error, int) { errs.Add(1) })

	start := time.Now()
	var wg sync.WaitGroup
	for s := range senders {
		wg.Go(func() {
			for seq := range perKey {
				for k := s; k < keys; k += senders {
					key := "order-" + strconv.Itoa(k)
					if err := p.Send(context.Background(), key, value(key, seq)); err != nil {
						t.Errorf("Send: %v", err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	closeWithin(t, p, 20*time.Second)
	t.Logf("produced %d messages and closed in %v", keys*perKey, time.Since(start))

	s := p.Stats()
	if s.Sent != keys*perKey || s.Pending != 0 || s.Undelivered != 0 {
		t.Errorf("Stats() = %+v, want Sent %d and nothing pending", s, keys*perKey)
	}
	if s.Failed != errs.Load() {
		t.Errorf("Stats().Failed = %d, OnError called %d times", s.Failed, errs.Load())
	}
	recs := testkafka.Consume(t, brokers, topic, keys*perKey, consumeTimeout)
	checkKeyOrder(t, topic, recs, keys, perKey, testkafka.DefaultPartitions)
}

func TestCompressionCodecs(t *testing.T) {
	codecs := []string{"none", "gzip", "snappy", "lz4", "zstd"}
	brokers := testkafka.Start(t, codecs...)
	for _, codec := range codecs {
		t.Run(codec, func(t *testing.T) {
			p := newProducer(t, Config{Brokers: brokers, Topic: codec, Compression: codec}, nil)
			for i := range 30 {
				key := "order-" + strconv.Itoa(i%3)
				// Repetitive values, so every codec has something to compress.
				if err := p.Send(context.Background(), key, []byte(strings.Repeat(string(value(key, i/3)), 1)+strings.Repeat(" ", 200))); err != nil {
					t.Fatal(err)
				}
			}
			closeWithin(t, p, 10*time.Second)
			recs := testkafka.Consume(t, brokers, codec, 30, consumeTimeout)
			for i := range recs {
				recs[i].Value = []byte(strings.TrimRight(string(recs[i].Value), " "))
			}
			checkKeyOrder(t, codec, recs, 3, 10, testkafka.DefaultPartitions)
		})
	}
}

// Send blocks while the queue is full (nothing drains: no broker yet) and returns once the
// broker appears and the queue drains; nothing queued is lost meanwhile.
func TestSendBlocksWhenQueueIsFull(t *testing.T) {
	const topic = "events"
	addr := testenv.FreeAddr(t)
	p := newProducer(t, Config{Brokers: []string{addr}, Topic: topic, Queue: 2, BatchSize: 1}, nil)

	// One message is taken by the loop (retrying), two fill the queue.
	for i := range 3 {
		if err := p.Send(context.Background(), "order-1", value("order-1", i)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 5*time.Second, "the loop to retry", func() bool { return p.Stats().Failed >= 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	err := p.Send(ctx, "order-1", []byte("never queued"))
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Send on a full queue = %v, want it to block until its context ends", err)
	}

	sent := make(chan error, 1)
	go func() { sent <- p.Send(context.Background(), "order-1", value("order-1", 3)) }()
	select {
	case err := <-sent:
		t.Fatalf("Send on a full queue returned %v without blocking", err)
	case <-time.After(300 * time.Millisecond):
	}
	if s := p.Stats(); s.Pending != 4 {
		t.Errorf("Pending = %d while blocked, want 4 (3 accepted + 1 blocked)", s.Pending)
	}

	testkafka.StartWith(t, testkafka.Options{Addr: addr}, topic)
	select {
	case err := <-sent:
		if err != nil {
			t.Fatalf("blocked Send = %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("blocked Send did not return once the broker was up")
	}
	closeWithin(t, p, 20*time.Second)
	recs := testkafka.Consume(t, []string{addr}, topic, 4, consumeTimeout)
	checkKeyOrder(t, topic, recs, 1, 4, testkafka.DefaultPartitions)
}

// A broker that is down at first: every attempt fails, is counted and reported, and the
// messages go through, in order, once the broker listens.
func TestRetriesUntilBrokerIsUp(t *testing.T) {
	const topic = "events"
	addr := testenv.FreeAddr(t)
	var reported atomic.Int64
	var firstErr atomic.Value
	p := newProducer(t, Config{Brokers: []string{addr}, Topic: topic}, func(err error, n int) {
		reported.Add(int64(n))
		firstErr.CompareAndSwap(nil, err)
	})
	for i := range 100 {
		key := "order-" + strconv.Itoa(i%10)
		if err := p.Send(context.Background(), key, value(key, i/10)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 10*time.Second, "two failed attempts", func() bool { return p.Stats().Failed >= 2 })
	if s := p.Stats(); s.Sent != 0 || s.Pending != 100 {
		t.Fatalf("Stats() = %+v with no broker, want Sent 0, Pending 100", s)
	}
	t.Logf("first reported error: %v", firstErr.Load())

	up := time.Now()
	testkafka.StartWith(t, testkafka.Options{Addr: addr}, topic)
	waitFor(t, 20*time.Second, "delivery after the broker came up", func() bool { return p.Stats().Sent == 100 })
	t.Logf("delivered %v after the broker came up", time.Since(up))
	closeWithin(t, p, 10*time.Second)

	s := p.Stats()
	if s.Failed < 2 || s.FailedMessages != reported.Load() || s.Pending != 0 {
		t.Errorf("Stats() = %+v, OnError reported %d messages", s, reported.Load())
	}
	recs := testkafka.Consume(t, []string{addr}, topic, 100, consumeTimeout)
	checkKeyOrder(t, topic, recs, 10, 10, testkafka.DefaultPartitions)
	// Timestamps are taken at Send, before the broker was up, not at the successful retry.
	for _, r := range recs {
		if !r.Time.Before(up) || time.Since(r.Time) > time.Minute {
			t.Fatalf("record timestamp %v, want the Send time before %v", r.Time, up)
		}
	}
}

// The producer never creates topics: writes to a missing one fail, are retried, and succeed
// once the topic exists.
func TestRetriesUntilTopicExists(t *testing.T) {
	const topic = "late"
	brokers := testkafka.Start(t)
	p := newProducer(t, Config{Brokers: brokers, Topic: topic}, nil)
	for i := range 10 {
		if err := p.Send(context.Background(), "order-1", value("order-1", i)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 10*time.Second, "a failed attempt", func() bool { return p.Stats().Failed >= 1 })
	testkafka.CreateTopic(t, brokers, topic, 2)
	closeWithin(t, p, 20*time.Second)
	if s := p.Stats(); s.Sent != 10 {
		t.Errorf("Stats() = %+v, want Sent 10", s)
	}
	recs := testkafka.Consume(t, brokers, topic, 10, consumeTimeout)
	checkKeyOrder(t, topic, recs, 1, 10, 2)
}

// Close sends what is queued at once, without waiting out a long batch timeout.
func TestCloseFlushes(t *testing.T) {
	const topic = "events"
	brokers := testkafka.Start(t, topic)
	p := newProducer(t, Config{Brokers: brokers, Topic: topic, BatchSize: 1000, BatchTimeout: time.Hour}, nil)
	for i := range 25 {
		key := "order-" + strconv.Itoa(i%5)
		if err := p.Send(context.Background(), key, value(key, i/5)); err != nil {
			t.Fatal(err)
		}
	}
	if s := p.Stats(); s.Sent != 0 {
		t.Fatalf("Sent = %d before the batch timeout or Close", s.Sent)
	}
	start := time.Now()
	closeWithin(t, p, 10*time.Second)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close took %v", d)
	}
	if s := p.Stats(); s.Sent != 25 || s.Pending != 0 {
		t.Errorf("Stats() after Close = %+v", s)
	}
	recs := testkafka.Consume(t, brokers, topic, 25, consumeTimeout)
	checkKeyOrder(t, topic, recs, 5, 5, testkafka.DefaultPartitions)
}

func TestSASL(t *testing.T) {
	const topic = "events"
	brokers := testkafka.StartWith(t, testkafka.Options{User: "shipsync", Password: "s3cret"}, topic)
	for _, mech := range []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"} {
		t.Run(mech, func(t *testing.T) {
			p := newProducer(t, Config{Brokers: brokers, Topic: topic,
				SASL: SASL{Mechanism: mech, Username: "shipsync", Password: "s3cret"}}, nil)
			for i := range 5 {
				if err := p.Send(context.Background(), "order-1", value("order-1", i)); err != nil {
					t.Fatal(err)
				}
			}
			closeWithin(t, p, 10*time.Second)
			if s := p.Stats(); s.Sent != 5 || s.Failed != 0 {
				t.Errorf("Stats() = %+v, want 5 sent without failures", s)
			}
		})
		t.Run(mech+" wrong password", func(t *testing.T) {
			p := newProducer(t, Config{Brokers: brokers, Topic: topic,
				SASL: SASL{Mechanism: mech, Username: "shipsync", Password: "wrong"}}, nil)
			if err := p.Send(context.Background(), "order-1", []byte("x")); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 10*time.Second, "a failed attempt", func() bool { return p.Stats().Failed >= 1 })
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			var ue *UndeliveredError
			if err := p.Close(ctx); !errors.As(err, &ue) || ue.Messages != 1 {
				t.Fatalf("Close() = %v, want 1 undelivered", err)
			}
		})
	}
}

// selfSigned returns a server config with a fresh certificate for 127.0.0.1 and a client
// config that trusts only it.
func selfSigned(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "kfake"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}},
		&tls.Config{RootCAs: pool}
}

func TestTLS(t *testing.T) {
	const topic = "events"
	server, client := selfSigned(t)
	brokers := testkafka.StartWith(t, testkafka.Options{TLS: server}, topic)

	p := newProducer(t, Config{Brokers: brokers, Topic: topic, TLS: client}, nil)
	for i := range 5 {
		if err := p.Send(context.Background(), "order-1", value("order-1", i)); err != nil {
			t.Fatal(err)
		}
	}
	closeWithin(t, p, 10*time.Second)
	if s := p.Stats(); s.Sent != 5 || s.Failed != 0 {
		t.Errorf("Stats() = %+v over TLS, want 5 sent without failures", s)
	}

	// Without TLS the brokers do not answer: the writes fail (and so the test above proves
	// that the producer does use its TLS config).
	plain := newProducer(t, Config{Brokers: brokers, Topic: topic}, nil)
	if err := plain.Send(context.Background(), "order-1", []byte("x")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "a failed plaintext attempt", func() bool { return plain.Stats().Failed >= 1 })
}
