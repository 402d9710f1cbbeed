package pipeline

import (
	"fmt"
	"reflect"

	"github.com/shipsync/shipsync/sources/webhook"
	"github.com/shipsync/shipsync/sync/carrier"
	"github.com/shipsync/shipsync/sync/config"
	"github.com/shipsync/shipsync/sync/metrics"
)

// Reload puts a validated configuration in force without a restart (SIGHUP, `shipsync
// reload`): routing (default, rules, failover: one reload switches every new order to another
// carrier), the carriers (clients, credentials, URLs, limits, breakers, polling), retry,
// watchdog and sender. What only a restart can change — the shop connection, the orders
// table and its queries, the write-back statements, state, the listeners, Kafka, mode and the
// workers — keeps its running value; Reload returns the YAML paths of those that differ,
// for the log. Nothing in flight is dropped: a call already made finishes with the carrier
// slot it started with, and the next order reads the new settings. A carrier whose settings
// did not change keeps its slot, breaker state included.
func (p *Pipeline) Reload(next *config.Config) (needRestart []string, err error) {
	cur := p.live.Load()
	merged := *next
	for _, f := range []struct {
		path      string
		cur, next any
		keep      func()
	}{
		{"mode", cur.cfg.Mode, next.Mode, func() { merged.Mode = cur.cfg.Mode }},
		{"shop", cur.cfg.Shop, next.Shop, func() { merged.Shop = cur.cfg.Shop }},
		{"orders", cur.cfg.Orders, next.Orders, func() { merged.Orders = cur.cfg.Orders }},
		{"writeback", cur.cfg.Writeback, next.Writeback, func() { merged.Writeback = cur.cfg.Writeback }},
		{"state", cur.cfg.State, next.State, func() { merged.State = cur.cfg.State }},
		{"http", cur.cfg.HTTP, next.HTTP, func() { merged.HTTP = cur.cfg.HTTP }},
		{"admin", cur.cfg.Admin, next.Admin, func() { merged.Admin = cur.cfg.Admin }},
		{"kafka", cur.cfg.Kafka, next.Kafka, func() { merged.Kafka = cur.cfg.Kafka }},
		{"workers", cur.cfg.Workers, next.Workers, func() { merged.Workers = cur.cfg.Workers }},
	} {
		if !reflect.DeepEqual(f.cur, f.next) {
			needRestart = append(needRestart, f.path)
		}
		f.keep()
	}
	set := make(carrier.Set, len(next.Carriers))
	var added []string
	for _, c := range next.Carriers {
		if old, ok := cur.cfg.Carrier(c.Name); ok && reflect.DeepEqual(old, c) {
			if s, ok := cur.carriers[c.Name]; ok {
				set[c.Name] = s
				continue
			}
		}
		cl, err := NewCarrier(c)
		if err != nil {
			return nil, err
		}
		set[c.Name] = p.protect(c, cl)
		if old, ok := cur.carriers[c.Name]; ok {
			set[c.Name].Pause(old.Paused()) // rebuilt, but still paused until resumed
		}
		added = append(added, c.Name)
	}
	if _, ok := set[merged.Routing.Default]; !ok {
		return nil, fmt.Errorf("routing.default %q is not a configured carrier", merged.Routing.Default)
	}
	labels := metrics.Labels{Carriers: added}
	for _, o := range webhook.Outcomes {
		labels.PushOutcomes = append(labels.PushOutcomes, string(o))
	}
	p.obs.m.Init(labels)
	p.live.Store(&settings{cfg: &merged, carriers: set})
	return needRestart, nil
}
