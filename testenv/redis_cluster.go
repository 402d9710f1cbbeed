package testenv

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// StartRedisCluster runs a Redis Cluster of n masters (no replicas) on free loopback ports, in
// a temporary directory, for the test's duration, and returns the nodes' addresses. It needs
// redis-server and redis-cli, which testenv/up.sh installs.
func StartRedisCluster(t testing.TB, n int) []string {
	t.Helper()
	skipShort(t)
	for _, bin := range []string{"redis-server", "redis-cli"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s not found: %v; %s", bin, err, startHint)
		}
	}
	dir := t.TempDir()
	var addrs []string
	for i := range n {
		port := clusterPort(t)
		nodeDir := filepath.Join(dir, fmt.Sprint(i))
		if err := os.MkdirAll(nodeDir, 0o700); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("redis-server", "--bind", "127.0.0.1", "--port", fmt.Sprint(port), "--dir", nodeDir,
			"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "5000",
			"--save", "", "--appendonly", "no", "--logfile", filepath.Join(nodeDir, "redis.log"))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() }) //nolint:errcheck // stopping a test server
		addrs = append(addrs, fmt.Sprintf("127.0.0.1:%d", port))
	}
	for _, a := range addrs {
		Eventually(t, 10*time.Second, 20*time.Millisecond, func() (bool, string) {
			c, err := net.Dial("tcp", a)
			if err == nil {
				c.Close()
			}
			return err == nil, fmt.Sprintf("redis cluster node %s not listening: %v", a, err)
		})
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	out, err := exec.Command("redis-cli", append(args, "--cluster-replicas", "0", "--cluster-yes")...).CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	defer c.Close()
	Eventually(t, 20*time.Second, 50*time.Millisecond, func() (bool, string) {
		info, err := c.ClusterInfo(context.Background()).Result()
		return err == nil && strings.Contains(info, "cluster_state:ok"), fmt.Sprintf("cluster not ok: %v %s", err, info)
	})
	return addrs
}

// clusterPort returns a free port for a cluster node: a node also listens on port+10000 (its
// cluster bus), so both must be free and the port at most 55535.
func clusterPort(t testing.TB) int {
	t.Helper()
	for range 100 {
		port := 20000 + rand.IntN(30000)
		a, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		b, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port+10000))
		a.Close()
		if err != nil {
			continue
		}
		b.Close()
		return port
	}
	t.Fatal("testenv: no free port pair for a Redis Cluster node")
	return 0
}
