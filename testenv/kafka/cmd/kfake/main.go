// Command kfake runs an in-process fake Kafka broker (franz-go's kfake) on a loopback address
// until it is interrupted, for the demo and for trying shipsync's split mode and events outlet
// without a real Kafka:
//
//	go run ./testenv/kafka/cmd/kfake -listen 127.0.0.1:29092 -topics shipsync.orders,shipsync.events
//
// It keeps everything in memory: a restart starts empty. It is not a broker for production.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/twmb/franz-go/pkg/kfake"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:29092", "loopback `host:port` to listen on (port 0: any free port)")
	topics := flag.String("topics", "shipsync.orders,shipsync.events", "comma-separated `topics` to create at start")
	partitions := flag.Int("partitions", 3, "partitions per created topic")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, *listen, splitList(*topics), *partitions, func(addr string) {
		fmt.Printf("kfake: listening on %s (topics: %s; %d partitions each); Ctrl-C stops it\n", addr, *topics, *partitions)
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "kfake:", err)
		os.Exit(1)
	}
}

// run starts a one-broker cluster on listen with the topics created, calls ready with the
// address it listens on, and serves until ctx ends.
func run(ctx context.Context, listen string, topics []string, partitions int, ready func(addr string)) error {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return fmt.Errorf("-listen %q: %w", listen, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		// kfake is a test fake with no persistence or auth by default: keep it off the network.
		return fmt.Errorf("-listen %q: must be a loopback address (127.0.0.1, ::1, localhost)", listen)
	}
	p, err := net.LookupPort("tcp", port)
	if err != nil {
		return fmt.Errorf("-listen %q: %w", listen, err)
	}
	if partitions < 1 {
		return errors.New("-partitions: must be at least 1")
	}
	c, err := kfake.NewCluster(
		kfake.Ports(p),
		// kfake binds 127.0.0.1:port; ListenFn keeps the host asked for.
		kfake.ListenFn(func(network, _ string) (net.Listener, error) { return net.Listen(network, listen) }),
		kfake.SeedTopics(int32(partitions), topics...),
		kfake.DefaultNumPartitions(partitions),
	)
	if err != nil {
		return fmt.Errorf("start: %w", err)
	}
	defer c.Close()
	ready(c.ListenAddrs()[0])
	<-ctx.Done()
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
