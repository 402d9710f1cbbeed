package pipeline_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shipsync/shipsync/sinks/carrier/kdniao/sim"
	"github.com/shipsync/shipsync/sync/config"
	"github.com/shipsync/shipsync/sync/pipeline"
	"github.com/shipsync/shipsync/testenv"
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
	// The server is shared with other tests, whose transactions may be checkpointed at any time:
	// what must hold is that the checkpoint never reaches the first paid order's transaction,
	// named by its GTID, until Kafka acknowledged it.
	conn, err := h.db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var first, last string
	for _, id := range ids {
		if _, err := conn.ExecContext(ctx, "UPDATE ecs_order_info SET pay_status = 2 WHERE order_id = ?", id); err != nil {
			t.Fatal(err)
		}
		if err := conn.QueryRowContext(ctx, "SELECT @@last_gtid").Scan(&last); err != nil {
			t.Fatal(err)
		}
		if first == "" {
			first = last
		}
	}
	testenv.Eventually(t, 10*time.Second, 10*time.Millisecond, func() (bool, string) {
		return gate.received() == len(ids), fmt.Sprintf("%d messages published", gate.received())
	})
	// Several checkpoint ticks (100 ms here) pass: the checkpoint must stay before the first.
	deadline := time.Now().Add(500 * time.Millisecond)
	for time.Now().Before(deadline) {
		cp, ok, err := h.store.LoadCheckpoint(ctx)
		if err != nil || !ok {
			t.Fatalf("checkpoint unreadable: %v (saved: %v)", err, ok)
		}
		if gtidSeq(t, cp.GTID) >= gtidSeq(t, first) {
			t.Fatalf("checkpoint at %+v, past the unacknowledged transaction %s", cp, first)
		}
		time.Sleep(20 * time.Millisecond)
	}
	gate.release()
	testenv.Eventually(t, 10*time.Second, 20*time.Millisecond, func() (bool, string) {
		cp, _, _ := h.store.LoadCheckpoint(ctx)
		return gtidSeq(t, cp.GTID) >= gtidSeq(t, last), fmt.Sprintf("checkpoint %+v, not yet past %s", cp, last)
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

// gtidSeq is a MariaDB GTID's sequence number (domain-server-seq, one domain here); 0 for a
// checkpoint saved before any transaction was read (the start position has no GTID).
func gtidSeq(t *testing.T, gtid string) uint64 {
	t.Helper()
	if gtid == "" {
		return 0
	}
	i := strings.LastIndexByte(gtid, '-')
	n, err := strconv.ParseUint(gtid[i+1:], 10, 64)
	if err != nil {
		t.Fatalf("GTID %q: %v", gtid, err)
	}
	return n
}
