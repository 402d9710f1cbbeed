package kafka

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shipsync/shipsync/testenv"
)

func TestConfigValidate(t *testing.T) {
	ok := Config{Brokers: []string{"127.0.0.1:9092"}, Topic: "shipsync.events"}
	for _, tc := range []struct {
		name  string
		edit  func(*Config)
		wants []string // substrings of the error; none means valid
	}{
		{"minimal", func(*Config) {}, nil},
		{"every option", func(c *Config) {
			c.BatchSize, c.BatchTimeout, c.Queue, c.Compression = 10, time.Second, 5, "zstd"
			c.SASL = SASL{Mechanism: "SCRAM-SHA-512", Username: "u", Password: "p"}
		}, nil},
		{"compression none", func(c *Config) { c.Compression = "none" }, nil},
		{"no brokers", func(c *Config) { c.Brokers = nil }, []string{"brokers: at least one"}},
		{"broker without port", func(c *Config) { c.Brokers = []string{"kafka1"} }, []string{`brokers[0]: "kafka1" is not host:port`}},
		{"no topic", func(c *Config) { c.Topic = "" }, []string{"topic: required"}},
		{"unknown compression", func(c *Config) { c.Compression = "brotli" }, []string{`compression: unknown "brotli"`}},
		{"compression is case sensitive", func(c *Config) { c.Compression = "GZIP" }, []string{"compression: unknown"}},
		{"unknown sasl mechanism", func(c *Config) { c.SASL = SASL{Mechanism: "GSSAPI", Username: "u"} }, []string{`sasl.mechanism: unknown "GSSAPI"`}},
		{"sasl without username", func(c *Config) { c.SASL = SASL{Mechanism: "PLAIN"} }, []string{"sasl.username: required"}},
		{"credentials without mechanism", func(c *Config) { c.SASL = SASL{Username: "u", Password: "p"} }, []string{"sasl.username: set without sasl.mechanism"}},
		{"negative sizes", func(c *Config) { c.BatchSize, c.BatchTimeout, c.Queue = -1, -time.Second, -1 },
			[]string{"batch_size: must be >= 0", "batch_timeout: must be >= 0", "queue: must be >= 0"}},
		{"all problems at once", func(c *Config) { *c = Config{Compression: "x", SASL: SASL{Mechanism: "y"}} },
			[]string{"brokers:", "topic:", "compression:", "sasl.mechanism:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.edit(&c)
			err := c.Validate()
			if len(tc.wants) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want %q", tc.wants)
			}
			for _, w := range tc.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q, want it to contain %q", err, w)
				}
			}
			// NewProducer refuses what Validate refuses.
			if p, err := NewProducer(c, nil); err == nil {
				p.Close(context.Background())
				t.Fatal("NewProducer accepted an invalid config")
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	c := Config{}.withDefaults()
	if c.BatchSize != DefaultBatchSize || c.BatchTimeout != DefaultBatchTimeout || c.Queue != DefaultQueue {
		t.Fatalf("withDefaults() = %+v", c)
	}
	c = Config{BatchSize: 7, BatchTimeout: time.Second, Queue: 3}.withDefaults()
	if c.BatchSize != 7 || c.BatchTimeout != time.Second || c.Queue != 3 {
		t.Fatalf("withDefaults() overrode set values: %+v", c)
	}
}

// unreachable returns a producer pointed at a loopback port where nothing listens.
func unreachable(t *testing.T, cfg Config, onError func(error, int)) *Producer {
	t.Helper()
	cfg.Brokers = []string{testenv.FreeAddr(t)}
	if cfg.Topic == "" {
		cfg.Topic = "t"
	}
	p, err := NewProducer(cfg, onError)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSendRejects(t *testing.T) {
	p := unreachable(t, Config{}, nil)
	defer p.Close(context.Background())
	ctx := context.Background()
	if err := p.Send(ctx, "", []byte("v")); err == nil {
		t.Error("Send with an empty key succeeded")
	}
	if err := p.Send(ctx, "k", make([]byte, MaxMessageBytes)); err == nil {
		t.Error("Send of a message over MaxMessageBytes succeeded")
	}
	if s := p.Stats(); s.Pending != 0 {
		t.Errorf("rejected Sends left Pending = %d", s.Pending)
	}
}

func TestCloseIdleProducer(t *testing.T) {
	p := unreachable(t, Config{}, nil)
	start := time.Now()
	if err := p.Close(context.Background()); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close of an idle producer took %v", d)
	}
	if err := p.Send(context.Background(), "k", nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Send after Close = %v, want ErrClosed", err)
	}
	if err := p.Close(context.Background()); err != nil {
		t.Errorf("second Close() = %v", err)
	}
}

// With no broker, Close's deadline ends the retries and its error counts every message that
// was accepted, while OnError has seen each failed attempt.
func TestCloseReportsUndelivered(t *testing.T) {
	var reported, calls atomic.Int64
	p := unreachable(t, Config{BatchSize: 4}, func(err error, n int) {
		if err == nil || n <= 0 {
			t.Errorf("OnError(%v, %d)", err, n)
		}
		calls.Add(1)
		reported.Add(int64(n))
	})
	for i := range 10 {
		if err := p.Send(context.Background(), "order-"+string(rune('a'+i)), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 10*time.Second, "a failed attempt", func() bool { return p.Stats().Failed >= 2 })

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err := p.Close(ctx)
	var ue *UndeliveredError
	if !errors.As(err, &ue) || ue.Messages != 10 || ue.Topic != "t" {
		t.Fatalf("Close() = %v, want an UndeliveredError for 10 messages to t", err)
	}
	if !strings.Contains(err.Error(), "10 messages not delivered") || ue.Err == nil {
		t.Errorf("error %q does not say what and why", err)
	}
	s := p.Stats()
	if s.Sent != 0 || s.Pending != 0 || s.Undelivered != 10 {
		t.Errorf("Stats() = %+v, want Sent 0, Pending 0, Undelivered 10", s)
	}
	if s.Failed != calls.Load() || s.FailedMessages != reported.Load() {
		t.Errorf("Stats() = %+v, OnError saw %d calls for %d messages", s, calls.Load(), reported.Load())
	}
	if err2 := p.Close(context.Background()); err2 == nil || err2.Error() != err.Error() {
		t.Errorf("second Close() = %v, want %v again", err2, err)
	}
}

// waitFor polls cond until it holds, failing the test after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
