package testenv

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// SentinelMaster is the name StartRedisSentinel's Sentinels monitor the master under.
const SentinelMaster = "shipsync"

// RedisSentinel is a Redis master with one replica, watched by Sentinels, all on free loopback
// ports in a temporary directory and stopped at cleanup. The Sentinels declare a master down
// after 1 s without an answer and promote the replica.
type RedisSentinel struct {
	t         testing.TB
	Sentinels []string // the Sentinels' addresses, for state.redis.addrs

	mu      sync.Mutex
	servers map[string]*exec.Cmd // the data servers (master and replica) by address
}

// StartRedisSentinel starts a master, one replica and n Sentinels (quorum n/2+1) and returns
// once every Sentinel knows the replica and the other Sentinels, so a failover can happen. It
// needs redis-server and redis-sentinel (Debian package redis-sentinel; deploy/install-tools.sh
// installs it).
func StartRedisSentinel(t testing.TB, n int) *RedisSentinel {
	t.Helper()
	skipShort(t)
	for _, bin := range []string{"redis-server", "redis-sentinel"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s not found: %v; run bash deploy/install-tools.sh (as root) or apt-get install redis-sentinel", bin, err)
		}
	}
	s := &RedisSentinel{t: t, servers: map[string]*exec.Cmd{}}
	dir := t.TempDir()
	master := s.startServer(filepath.Join(dir, "master"))
	replica := s.startServer(filepath.Join(dir, "replica"), "--replicaof", "127.0.0.1", portOf(t, master))
	for i := range n {
		port := FreeAddr(t)
		sdir := filepath.Join(dir, fmt.Sprintf("sentinel%d", i))
		if err := os.MkdirAll(sdir, 0o700); err != nil {
			t.Fatal(err)
		}
		conf := filepath.Join(sdir, "sentinel.conf")
		text := fmt.Sprintf("bind 127.0.0.1\nport %s\ndir %s\nlogfile %s\n"+
			"sentinel monitor %s 127.0.0.1 %s %d\n"+
			"sentinel down-after-milliseconds %[4]s 1000\n"+
			"sentinel failover-timeout %[4]s 3000\n"+
			"sentinel parallel-syncs %[4]s 1\n",
			portOf(t, port), sdir, filepath.Join(sdir, "sentinel.log"), SentinelMaster, portOf(t, master), n/2+1)
		if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("redis-sentinel", conf)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() }) //nolint:errcheck // stopping a test server
		s.Sentinels = append(s.Sentinels, port)
	}
	ctx := context.Background()
	for _, a := range s.Sentinels {
		c := redis.NewSentinelClient(&redis.Options{Addr: a})
		Eventually(t, 30*time.Second, 50*time.Millisecond, func() (bool, string) {
			m, err := c.Master(ctx, SentinelMaster).Result()
			if err != nil {
				return false, fmt.Sprintf("sentinel %s: %v", a, err)
			}
			return m["num-slaves"] == "1" && m["num-other-sentinels"] == strconv.Itoa(n-1),
				fmt.Sprintf("sentinel %s sees %s replicas and %s other sentinels", a, m["num-slaves"], m["num-other-sentinels"])
		})
		c.Close()
	}
	rc := redis.NewClient(&redis.Options{Addr: replica})
	defer rc.Close()
	Eventually(t, 20*time.Second, 50*time.Millisecond, func() (bool, string) {
		info, err := rc.Info(ctx, "replication").Result()
		return err == nil && containsLine(info, "master_link_status:up"), fmt.Sprintf("replica %s not in sync: %v %s", replica, err, info)
	})
	return s
}

// startServer runs one data server (no persistence: a killed master is not restarted).
func (s *RedisSentinel) startServer(dir string, args ...string) string {
	s.t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		s.t.Fatal(err)
	}
	addr := FreeAddr(s.t)
	cmd := exec.Command("redis-server", append([]string{"--bind", "127.0.0.1", "--port", portOf(s.t, addr), "--dir", dir,
		"--save", "", "--appendonly", "no", "--logfile", filepath.Join(dir, "redis.log")}, args...)...)
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() }) //nolint:errcheck // stopping a test server
	Eventually(s.t, 10*time.Second, 20*time.Millisecond, func() (bool, string) {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil, fmt.Sprintf("redis %s not listening: %v", addr, err)
	})
	s.mu.Lock()
	s.servers[addr] = cmd
	s.mu.Unlock()
	return addr
}

// Master returns the address the first answering Sentinel gives for the master.
func (s *RedisSentinel) Master(ctx context.Context) (string, error) {
	var last error
	for _, a := range s.Sentinels {
		c := redis.NewSentinelClient(&redis.Options{Addr: a})
		hp, err := c.GetMasterAddrByName(ctx, SentinelMaster).Result()
		c.Close()
		if err == nil && len(hp) == 2 {
			return net.JoinHostPort(hp[0], hp[1]), nil
		}
		last = err
	}
	return "", fmt.Errorf("no sentinel knows the master: %v", last)
}

// KillMaster SIGKILLs the current master (it stays down) and returns its address.
func (s *RedisSentinel) KillMaster() string {
	s.t.Helper()
	addr, err := s.Master(context.Background())
	if err != nil {
		s.t.Fatal(err)
	}
	s.mu.Lock()
	cmd := s.servers[addr]
	s.mu.Unlock()
	if cmd == nil {
		s.t.Fatalf("the master %s is not one of ours", addr)
	}
	cmd.Process.Signal(syscall.SIGKILL) //nolint:errcheck // the cleanup's Kill and Wait reap it
	return addr
}

// WaitFailover waits until every Sentinel names a master other than old and returns it.
func (s *RedisSentinel) WaitFailover(old string) string {
	s.t.Helper()
	var now string
	ctx := context.Background()
	Eventually(s.t, 60*time.Second, 50*time.Millisecond, func() (bool, string) {
		for _, a := range s.Sentinels {
			c := redis.NewSentinelClient(&redis.Options{Addr: a})
			hp, err := c.GetMasterAddrByName(ctx, SentinelMaster).Result()
			c.Close()
			if err != nil || len(hp) != 2 || net.JoinHostPort(hp[0], hp[1]) == old {
				return false, fmt.Sprintf("sentinel %s still names %v (%v), old master %s", a, hp, err, old)
			}
			now = net.JoinHostPort(hp[0], hp[1])
		}
		return true, ""
	})
	return now
}

// Client returns a client that follows the Sentinels to the current master.
func (s *RedisSentinel) Client() *redis.Client {
	c := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: SentinelMaster, SentinelAddrs: s.Sentinels})
	s.t.Cleanup(func() { c.Close() })
	return c
}

func portOf(t testing.TB, addr string) string {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return port
}

func containsLine(text, line string) bool {
	return slices.Contains(strings.Split(strings.ReplaceAll(text, "\r", ""), "\n"), line)
}
