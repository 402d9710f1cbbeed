package pipeline_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/shipsync/shipsync/sinks/carrier/kdniao/sim"
	"github.com/shipsync/shipsync/sinks/kafka"
	"github.com/shipsync/shipsync/sync/pipeline"
	"github.com/shipsync/shipsync/sync/state"
	"github.com/shipsync/shipsync/sync/status"
	"github.com/shipsync/shipsync/testenv"
	"github.com/shipsync/shipsync/testenv/demo"
	kafkatest "github.com/shipsync/shipsync/testenv/kafka"
)

// TestEventsOutlet: every order's lifecycle reaches the events topic in order, keyed by order,
// and a consumer written with another Kafka client (franz-go's kgo) reads them.
func TestEventsOutlet(t *testing.T) {
	brokers := kafkatest.Start(t, "shipsync.events")
	h, ids := newHarness(t, "demo", 10, sim.Config{PushTo: "push", TimeScale: 4 * 86400, Seed: 21})
	prod, err := kafka.NewProducer(kafka.Config{Brokers: brokers, Topic: "shipsync.events"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { prod.Close(context.Background()) })
	h.events = prod
	h.exec("UPDATE ecs_order_info SET address = '' WHERE order_id = ?", ids[9]) // one for the dead letter
	h.run(false)
	h.waitStarted()
	if err := demo.Pay(context.Background(), h.db, ids); err != nil {
		t.Fatal(err)
	}
	h.waitWritten(ids[:9], 30*time.Second)
	final := map[string]string{}
	for id, r := range h.rows(ids[:9]) {
		st, ex, _ := h.sim.Final(r.invoice)
		ev, _ := status.FromKdniao(st, ex)
		final[fmt.Sprint(id)] = string(ev.Status)
	}
	testenv.Eventually(t, 30*time.Second, 100*time.Millisecond, func() (bool, string) {
		return h.sim.Settled(), "carrier still pushing"
	})
	// Every status applied shows up as an event: wait for the final statuses, then read them all.
	testenv.Eventually(t, 30*time.Second, 100*time.Millisecond, func() (bool, string) {
		got := h.parcelStatusesFromRedis()
		for k, f := range final {
			if got[k] != f {
				return false, fmt.Sprintf("order %s at %q, want %q", k, got[k], f)
			}
		}
		return true, ""
	})
	want := 10 + 9 + 1 + int(h.statusWrites()) // paid ×10, waybill ×9, dead letter ×1, statuses
	recs := kafkatest.Consume(t, brokers, "shipsync.events", want, 30*time.Second)
	byOrder := map[string][]pipeline.Event{}
	for _, r := range recs {
		var e pipeline.Event
		if err := json.Unmarshal(r.Value, &e); err != nil {
			t.Fatalf("event %s: %v", r.Value, err)
		}
		if string(r.Key) != e.Order || e.Schema != 1 {
			t.Fatalf("event keyed %q for order %q, schema %d", r.Key, e.Order, e.Schema)
		}
		byOrder[e.Order] = append(byOrder[e.Order], e)
	}
	for k, f := range final {
		evs := byOrder[k]
		if len(evs) < 3 || evs[0].Type != pipeline.EventPaid || evs[1].Type != pipeline.EventWaybillCreated {
			t.Errorf("order %s: events %v", k, types(evs))
			continue
		}
		last := evs[len(evs)-1]
		if last.Status != f || last.Waybill == "" {
			t.Errorf("order %s: last event %+v, want status %s", k, last, f)
		}
	}
	dead := byOrder[fmt.Sprint(ids[9])]
	if len(dead) != 2 || dead[0].Type != pipeline.EventPaid || dead[1].Type != pipeline.EventDeadLettered || dead[1].Reason == "" {
		t.Errorf("dead-lettered order: events %v", types(dead))
	}
}

func types(evs []pipeline.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Type+":"+e.Status)
	}
	return out
}

func (h *harness) parcelStatusesFromRedis() map[string]string {
	h.t.Helper()
	out := map[string]string{}
	keys, err := h.rdb.Keys(context.Background(), h.cfg.State.Redis.Prefix+"order:*").Result()
	if err != nil {
		h.t.Fatal(err)
	}
	for _, k := range keys {
		st, _ := h.rdb.HGet(context.Background(), k, "status").Result()
		out[k[len(h.cfg.State.Redis.Prefix+"order:"):]] = st
	}
	return out
}

// TestPaidEventsWaitForRedis: orders paid while Redis is unreachable get their paid events
// once it is back — delayed, not dropped — each before the order's waybill event.
func TestPaidEventsWaitForRedis(t *testing.T) {
	brokers := kafkatest.Start(t, "shipsync.events")
	h, ids := newHarness(t, "demo", 5, sim.Config{})
	prod, err := kafka.NewProducer(kafka.Config{Brokers: brokers, Topic: "shipsync.events"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { prod.Close(context.Background()) })
	h.events = prod
	// The daemon reaches Redis through a proxy the test can cut.
	proxy := testenv.NewProxy(t, testenv.RedisAddr())
	viaProxy := redis.NewClient(&redis.Options{Addr: proxy.Addr(), MaxRetries: -1})
	t.Cleanup(func() { viaProxy.Close() })
	direct := h.store
	h.store = state.New(viaProxy, h.cfg.State.Redis.Prefix)
	h.run(false)
	testenv.Eventually(t, 30*time.Second, 20*time.Millisecond, func() (bool, string) {
		_, ok, err := direct.LoadCheckpoint(context.Background())
		return ok && err == nil, "no checkpoint yet"
	})

	proxy.Cut()
	if err := demo.Pay(context.Background(), h.db, ids); err != nil {
		t.Fatal(err)
	}
	// The reader saw the payments and could not record their events.
	testenv.Eventually(t, 5*time.Second, 20*time.Millisecond, func() (bool, string) {
		n, _ := sample(h.scrape(), "shipsync_events_failed_total")
		return n >= 1, "no failed event recording while Redis was cut"
	})
	proxy.Restore()
	h.waitWritten(ids, 30*time.Second)

	recs := kafkatest.Consume(t, brokers, "shipsync.events", 2*len(ids), 30*time.Second)
	byOrder := map[string][]pipeline.Event{}
	for _, r := range recs {
		var e pipeline.Event
		if err := json.Unmarshal(r.Value, &e); err != nil {
			t.Fatalf("event %s: %v", r.Value, err)
		}
		byOrder[e.Order] = append(byOrder[e.Order], e)
	}
	for _, id := range ids {
		evs := byOrder[fmt.Sprint(id)]
		if len(evs) < 2 || evs[0].Type != pipeline.EventPaid || evs[1].Type != pipeline.EventWaybillCreated {
			t.Errorf("order %d: events %v", id, types(evs))
		}
	}
}
