package pipeline_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/shipsync/shipsync/sinks/carrier/kdniao/sim"
	"github.com/shipsync/shipsync/sync/config"
	"github.com/shipsync/shipsync/sync/pipeline"
	"github.com/shipsync/shipsync/testenv"
	"github.com/shipsync/shipsync/testenv/demo"
)

// gateOutlet takes paid-order messages and acknowledges them only when released, like a Kafka
// cluster that stores nothing until it comes back.
type gateOutlet struct {
	mu    sync.Mutex
	msgs  []pipeline.PaidOrder
	keys  []string
	acks  []func()
	open  bool
	close bool
}

func (g *gateOutlet) SendAcked(_ context.Context, key string, value []byte, acked func()) error {
	var po pipeline.PaidOrder
	if err := json.Unmarshal(value, &po); err != nil {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.msgs, g.keys = append(g.msgs, po), append(g.keys, key)
	if g.open {
		acked()
	} else {
		g.acks = append(g.acks, acked)
	}
	return nil
}

func (g *gateOutlet) Close(context.Context) error {
	g.mu.Lock()
	g.close = true
	g.mu.Unlock()
	return nil
}

func (g *gateOutlet) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.open = true
	for _, a := range g.acks {
		a()
	}
	g.acks = nil
}

func (g *gateOutlet) received() int { g.mu.Lock(); defer g.mu.Unlock(); return len(g.msgs) }

// TestReaderCheckpointWaitsForKafka: in mode reader, paid orders go to the topic and the
// checkpoint does not pass a transaction whose message the brokers have not acknowledged.
func TestReaderCheckpointWaitsForKafka(t *testing.T) {
	ctx := context.Background()
	h, ids := newHarness(t, "demo", 5, sim.Config{})
	h.cfg.Mode = config.ModeReader
	h.cfg.Kafka = &config.Kafka{Brokers: []string{"127.0.0.1:9"}, OrdersTopic: "o", EventsTopic: "e", Group: "g",
		SessionTimeout: 10 * time.Second, BatchSize: 1, BatchTimeout: time.Millisecond, Compression: "none"}
	gate := &gateOutlet{}
	h.orders = gate
	stop := h.run(false)
	h.waitStarted()
	before, _, err := h.store.LoadCheckpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if err := demo.Pay(ctx, h.db, []int64{id}); err != nil {
			t.Fatal(err)
		}
	}
	testenv.Eventually(t, 10*time.Second, 10*time.Millisecond, func() (bool, string) {
		return gate.received() == len(ids), fmt.Sprintf("%d messages published", gate.received())
	})
	// Several checkpoint ticks (100 ms here) pass: the checkpoint must not move.
	deadline := time.Now().Add(500 * time.Millisecond)
	for time.Now().Before(deadline) {
		cp, _, _ := h.store.LoadCheckpoint(ctx)
		if cp.File != before.File || cp.Pos != before.Pos {
			t.Fatalf("checkpoint moved from %+v to %+v before Kafka acknowledged", before, cp)
		}
		time.Sleep(20 * time.Millisecond)
	}
	gate.release()
	testenv.Eventually(t, 10*time.Second, 20*time.Millisecond, func() (bool, string) {
		cp, _, _ := h.store.LoadCheckpoint(ctx)
		return cp.Pos > before.Pos || cp.File > before.File, fmt.Sprintf("checkpoint still %+v", cp)
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	for i, po := range gate.msgs {
		if po.Schema != 1 || po.Order != gate.keys[i] || po.Order != strconv.FormatInt(ids[i], 10) ||
			po.Table != h.cfg.Orders.Table || po.PaidAt.IsZero() {
			t.Errorf("message %d: key %s %+v", i, gate.keys[i], po)
		}
	}
	if !gate.close {
		t.Error("the reader did not flush the outlet at shutdown")
	}
	if n := h.sim.Stats().Creates; n != 0 {
		t.Errorf("a reader called the carrier %d times", n)
	}
}
