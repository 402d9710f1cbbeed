package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shipsync/shipsync/sinks/carrier/kdniao/sim"
	"github.com/shipsync/shipsync/sync/state"
	"github.com/shipsync/shipsync/testenv"
	"github.com/shipsync/shipsync/testenv/demo"
)

// TestRedisCluster runs the daemon on a three-master Redis Cluster (state.redis.addrs, a
// hash-tagged prefix): orders ship once each, one with a bad address goes to the dead letter and
// ships after it is fixed and sent back, and the state can be counted across the masters.
func TestRedisCluster(t *testing.T) {
	ctx := context.Background()
	nodes := testenv.StartRedisCluster(t, 3)
	db, name := testenv.NewDatabase(t)
	testenv.ExecFile(t, db, testenv.ShopSchema(t, "ecshop.sql"))
	ids, err := demo.Seed(ctx, db, 60, 4)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("UPDATE ecs_order_info SET address = '' WHERE order_id = ?", ids[0]); err != nil {
		t.Fatal(err)
	}
	carrier := sim.New(sim.Config{EBusinessID: "test-ebusiness", AppKey: testenv.TestAppKey})
	srv := httptest.NewServer(carrier)
	defer srv.Close()
	const prefix = "{shipsync-cluster-test}:"
	conf := testenv.WriteConfig(t, name, prefix, srv.URL,
		[2]string{"addr: " + testenv.RedisAddr(), `addr: ""`},
		[2]string{"addrs: []", "addrs: [" + strings.Join(nodes, ", ") + "]"})
	d := testenv.NewDaemon(t, testenv.BuildShipsync(t), conf)
	d.Start()

	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: nodes})
	defer rdb.Close()
	store := state.New(rdb, prefix)
	testenv.Eventually(t, 30*time.Second, 20*time.Millisecond, func() (bool, string) {
		_, ok, err := store.LoadCheckpoint(ctx)
		return ok, fmt.Sprintf("daemon not started (err %v)", err)
	})
	if err := demo.Pay(ctx, db, ids); err != nil {
		t.Fatal(err)
	}
	waitShipped(t, db, len(ids)-1)
	key := strconv.FormatInt(ids[0], 10)
	testenv.Eventually(t, 30*time.Second, 50*time.Millisecond, func() (bool, string) {
		dead, err := store.DeadKeys(ctx)
		return err == nil && len(dead) == 1 && dead[0] == key, fmt.Sprintf("dead letter %v (err %v)", dead, err)
	})
	if _, err := db.Exec("UPDATE ecs_order_info SET address = 'Fixed Road 1' WHERE order_id = ?", ids[0]); err != nil {
		t.Fatal(err)
	}
	if ok, err := store.Revive(ctx, key, ""); !ok || err != nil {
		t.Fatalf("revive: %v %v", ok, err)
	}
	waitShipped(t, db, len(ids))
	testenv.Eventually(t, 30*time.Second, 50*time.Millisecond, func() (bool, string) {
		counts, _, err := store.CountByState(ctx)
		return err == nil && counts[state.Written] == len(ids), fmt.Sprintf("orders by state %v (err %v)", counts, err)
	})
	if st := carrier.Stats(); st.Creates != int64(len(ids)) {
		t.Errorf("%d creates at the simulator, want %d", st.Creates, len(ids))
	}
	if err := d.Stop(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
}
