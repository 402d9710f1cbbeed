package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// startSplit starts kfake, the reader and two workers (-split), appending them to children so
// that run stops them. It returns worker 1 (the simulator pushes to it) and the reader and
// worker 2.
func startSplit(ctx context.Context, root, bin, cfgPath string, env []string, children *[]*child) (*child, []*child, error) {
	step("Split mode: Kafka (kfake) on %s, one reader and two workers", kafkaAddr)
	for _, addr := range []string{kafkaAddr, readerHTTP, readerAdmin, worker2HTTP, worker2Admin} {
		if err := portFree(addr); err != nil {
			return nil, nil, err
		}
	}
	kfake, err := startChild("kfake", filepath.Join(root, "bin", "kfake"), filepath.Join(root, "bin", "demo-kfake.log"), env,
		"-listen", kafkaAddr, "-topics", "shipsync.orders,shipsync.events", "-partitions", "3")
	if err != nil {
		return nil, nil, fmt.Errorf("%w (make demo-split builds bin/kfake)", err)
	}
	*children = append(*children, kfake)
	if err := waitFor(ctx, kfake, startTimeout, "kfake to listen on "+kafkaAddr, func() bool {
		c, err := net.Dial("tcp", kafkaAddr)
		if err == nil {
			c.Close()
		}
		return err == nil
	}); err != nil {
		return nil, nil, err
	}

	raw, err := os.ReadFile(cfgPath)
	if err != nil {
		return nil, nil, err
	}
	procs := []struct{ name, mode, listen, admin string }{
		{"reader", "reader", readerHTTP, readerAdmin},
		{"worker-1", "worker", configHTTPAddr, configAdminAddr},
		{"worker-2", "worker", worker2HTTP, worker2Admin},
	}
	started := map[string]*child{}
	for _, p := range procs {
		text := string(raw)
		for _, r := range [][2]string{{"mode: all #", "mode: " + p.mode + " #"}, {"listen: " + configHTTPAddr, "listen: " + p.listen},
			{"listen: " + configAdminAddr, "listen: " + p.admin}} {
			if !strings.Contains(text, r[0]) {
				return nil, nil, fmt.Errorf("config.yaml no longer contains %q", r[0])
			}
			text = strings.Replace(text, r[0], r[1], 1)
		}
		text += fmt.Sprintf("\nkafka:\n  brokers: [%s]\n", kafkaAddr)
		conf := filepath.Join(root, "bin", "demo-split-"+p.name+".yaml")
		if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
			return nil, nil, err
		}
		logPath := filepath.Join(root, "bin", "demo-split-"+p.name+".log")
		fmt.Printf("  %-8s shipsync run --config %s   (push %s, admin %s, logs %s)\n", p.name, rel(root, conf), p.listen, p.admin, rel(root, logPath))
		c, err := startChild("shipsync "+p.name, bin, logPath, env, "run", "--config", conf)
		if err != nil {
			return nil, nil, err
		}
		*children = append(*children, c)
		started[p.name] = c
	}
	for _, p := range procs {
		if err := waitFor(ctx, started[p.name], startTimeout, p.name+" to answer on "+p.admin, func() bool {
			return httpOK(ctx, "http://"+p.admin+"/healthz")
		}); err != nil {
			return nil, nil, err
		}
	}
	return started["worker-1"], []*child{started["reader"], started["worker-2"]}, nil
}

// splitSummary shows how the work was shared: what the reader published and each worker wrote.
func splitSummary(ctx context.Context, rdb *redis.Client) error {
	step("Split mode: who did what (from each process's /metrics)")
	for _, p := range []struct {
		name, addr string
	}{{"reader", readerAdmin}, {"worker-1", configAdminAddr}, {"worker-2", worker2Admin}} {
		body, err := httpGet(ctx, "http://"+p.addr+"/metrics")
		if err != nil {
			return fmt.Errorf("%s metrics: %w", p.name, err)
		}
		fmt.Printf("  %-8s leader %s  paid orders published %s, consumed %s  waybills written %s\n", p.name,
			metric(body, "shipsync_leader"),
			metric(body, `shipsync_orders_topic_messages_total{outcome="published"}`),
			metric(body, `shipsync_orders_topic_messages_total{outcome="consumed"}`),
			metric(body, `shipsync_orders_total{outcome="written"}`))
	}
	n, err := rdb.XLen(ctx, redisPrefix+"outbox").Result()
	if err != nil {
		return fmt.Errorf("events outbox: %w", err)
	}
	fmt.Printf("  lifecycle events still waiting for Kafka in the Redis outbox: %d\n", n)
	return nil
}

// metric returns a sample's value from a Prometheus text exposition, "0" when absent.
func metric(body []byte, sample string) string {
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), sample+" "); ok {
			if v, err := strconv.ParseFloat(rest, 64); err == nil {
				return strconv.FormatFloat(v, 'f', -1, 64)
			}
		}
	}
	return "0"
}
