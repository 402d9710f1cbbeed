package kafka

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shipsync/shipsync/testenv"
)

func produce(t *testing.T, brokers []string, topic string, n int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := range n {
		r := &kgo.Record{Key: fmt.Appendf(nil, "k%d", i%7), Value: fmt.Appendf(nil, "v%d", i)}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
}

func TestStartAndConsume(t *testing.T) {
	brokers := Start(t, "a", "b")
	if len(brokers) != 3 {
		t.Fatalf("Start returned %d brokers, want 3", len(brokers))
	}
	for _, b := range brokers {
		if !strings.HasPrefix(b, "127.0.0.1:") {
			t.Errorf("broker %s is not on 127.0.0.1", b)
		}
	}
	produce(t, brokers, "b", 60)
	recs := Consume(t, brokers, "b", 60, 10*time.Second)
	if len(recs) != 60 {
		t.Fatalf("Consume returned %d records, want 60", len(recs))
	}
	values := map[string]bool{}
	parts := map[int32]bool{}
	lastOffset := map[int32]int64{}
	for _, r := range recs {
		values[string(r.Value)] = true
		parts[r.Partition] = true
		if last, ok := lastOffset[r.Partition]; ok && r.Offset <= last {
			t.Errorf("partition %d: offset %d after %d", r.Partition, r.Offset, last)
		}
		lastOffset[r.Partition] = r.Offset
	}
	if len(values) != 60 {
		t.Errorf("%d distinct values, want 60", len(values))
	}
	if len(parts) != DefaultPartitions {
		t.Errorf("7 keys landed on %d partitions, want %d", len(parts), DefaultPartitions)
	}
}

func TestStartWithAddr(t *testing.T) {
	addr := testenv.FreeAddr(t)
	brokers := StartWith(t, Options{Addr: addr, Partitions: 1}, "a")
	if len(brokers) != 1 || brokers[0] != addr {
		t.Fatalf("StartWith(%s) = %v", addr, brokers)
	}
	produce(t, brokers, "a", 5)
	for _, r := range Consume(t, brokers, "a", 5, 10*time.Second) {
		if r.Partition != 0 {
			t.Errorf("record on partition %d of a one-partition topic", r.Partition)
		}
	}
}

func TestCreateTopic(t *testing.T) {
	brokers := Start(t)
	CreateTopic(t, brokers, "late", 2)
	produce(t, brokers, "late", 10)
	for _, r := range Consume(t, brokers, "late", 10, 10*time.Second) {
		if r.Partition > 1 {
			t.Errorf("record on partition %d of a two-partition topic", r.Partition)
		}
	}
}

// fatalTB records the first Fatalf and stops the goroutine, as testing.T does.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// fails runs fn with a fatalTB and returns what it failed with, "" if it did not.
func fails(t *testing.T, fn func(tb testing.TB)) string {
	tb := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(tb)
	}()
	<-done
	return tb.msg
}

func TestConsumeFailsOnTimeout(t *testing.T) {
	brokers := Start(t, "a")
	produce(t, brokers, "a", 2)
	start := time.Now()
	msg := fails(t, func(tb testing.TB) { Consume(tb, brokers, "a", 3, 500*time.Millisecond) })
	if !strings.Contains(msg, "2 of 3 records") {
		t.Fatalf("Consume failed with %q, want it to say 2 of 3 records arrived", msg)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Consume took %v to time out after 500ms", d)
	}
}

func TestStartWithRejectsNonLoopback(t *testing.T) {
	msg := fails(t, func(tb testing.TB) { StartWith(tb, Options{Addr: "0.0.0.0:0"}) })
	if !strings.Contains(msg, "loopback") {
		t.Fatalf("StartWith on 0.0.0.0 failed with %q, want a loopback error", msg)
	}
}
