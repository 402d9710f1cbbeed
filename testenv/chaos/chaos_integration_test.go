package chaos

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/shipsync/shipsync/sinks/carrier/kdniao/sim"
	"github.com/shipsync/shipsync/sync/state"
	"github.com/shipsync/shipsync/testenv"
	"github.com/shipsync/shipsync/testenv/demo"
)

// env is a private MariaDB + Redis (AOF) started with testenv's scripts.
type env struct {
	t        *testing.T
	dir      string
	vars     []string
	up, down string
}

func freePort(t *testing.T) int {
	t.Helper()
	port, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

func startEnv(t *testing.T) *env {
	t.Helper()
	root, err := testenv.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "shipsync-chaos-")
	if err != nil {
		t.Fatal(err)
	}
	mysqlPort, redisPort := freePort(t), freePort(t)
	e := &env{t: t, dir: dir, up: filepath.Join(root, "testenv/up.sh"), down: filepath.Join(root, "testenv/down.sh"),
		vars: []string{"SHIPSYNC_TESTENV_DIR=" + dir, "SHIPSYNC_TEST_MYSQL_PORT=" + strconv.Itoa(mysqlPort),
			"SHIPSYNC_TEST_REDIS_PORT=" + strconv.Itoa(redisPort), "SHIPSYNC_TEST_REDIS_AOF=1"}}
	t.Cleanup(func() {
		e.script(e.down, "--purge")
		os.RemoveAll(dir)
	})
	e.script(e.up)
	t.Setenv("SHIPSYNC_TEST_MYSQL_ADDR", fmt.Sprintf("127.0.0.1:%d", mysqlPort))
	t.Setenv("SHIPSYNC_TEST_REDIS_ADDR", fmt.Sprintf("127.0.0.1:%d", redisPort))
	return e
}

func (e *env) script(path string, args ...string) {
	cmd := exec.Command("bash", append([]string{path}, args...)...)
	cmd.Env = append(os.Environ(), e.vars...)
	if out, err := cmd.CombinedOutput(); err != nil {
		e.t.Fatalf("%s: %v\n%s", filepath.Base(path), err, out)
	}
}

// restart stops one server (SIGTERM, as an operator or a package upgrade would) and starts it again.
func (e *env) restart(pidFile string) {
	b, err := os.ReadFile(filepath.Join(e.dir, pidFile))
	if err != nil {
		e.t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		e.t.Fatal(err)
	}
	syscall.Kill(pid, syscall.SIGTERM) //nolint:errcheck
	testenv.Eventually(e.t, 60*time.Second, 20*time.Millisecond, func() (bool, string) {
		return syscall.Kill(pid, 0) != nil, fmt.Sprintf("%s (pid %d) still running 60 s after SIGTERM", pidFile, pid)
	})
	e.script(e.up)
}

// carrier is the simulator on a fixed address that can be switched off (connection refused).
type carrier struct {
	*sim.Server
	addr string
	mu   sync.Mutex
	srv  *http.Server
}

func (c *carrier) on(t *testing.T) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		t.Fatal(err)
	}
	c.srv = &http.Server{Handler: c.Server}
	go c.srv.Serve(ln) //nolint:errcheck
}

func (c *carrier) off() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.srv.Close()
}

// TestChaos: every paid order ends with exactly one waybill, the carrier's create count equals
// the number of distinct OrderCodes, the dead letter holds only the injected permanent errors,
// and the checkpoint reaches the binlog end — after the daemon was SIGKILLed at random moments,
// MariaDB and Redis were restarted, the carrier failed in three ways, and the shop paused.
func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: starts its own MariaDB and Redis; skipped under -short")
	}
	orders, kills, spread := 300, 10, 30*time.Second
	if os.Getenv("SHIPSYNC_CHAOS") == "long" {
		orders, kills, spread = 2000, 30, 150*time.Second
	}
	e := startEnv(t)
	ctx := context.Background()
	db, name := testenv.NewDatabase(t)
	testenv.ExecFile(t, db, testenv.ShopSchema(t, "ecshop.sql"))
	ids, err := demo.Seed(ctx, db, orders, 5)
	if err != nil {
		t.Fatal(err)
	}
	rdb, prefix := testenv.RequireRedis(t)
	store := state.New(rdb, prefix)

	// Injected permanent errors: orders without an address must end in the dead letter.
	rng := rand.New(rand.NewPCG(9, 9))
	injected := map[string]bool{}
	for _, i := range rng.Perm(len(ids))[:orders/30] {
		injected[strconv.FormatInt(ids[i], 10)] = true
		if _, err := db.Exec("UPDATE ecs_order_info SET address = '' WHERE order_id = ?", ids[i]); err != nil {
			t.Fatal(err)
		}
	}

	car := &carrier{Server: sim.New(sim.Config{EBusinessID: "test-ebusiness", AppKey: testenv.TestAppKey,
		Latency: 5 * time.Millisecond, Hang: 3 * time.Second, Seed: 3}), addr: fmt.Sprintf("127.0.0.1:%d", freePort(t))}
	car.on(t)
	defer car.off()

	conf := testenv.WriteConfig(t, name, prefix, "http://"+car.addr,
		[2]string{"max_attempts: 3", "max_attempts: 40"},
		[2]string{"backoff: fixed", "backoff: exponential"},
		[2]string{"max_interval: 5m", "max_interval: 2s"},
		[2]string{"    timeout: 5s", "    timeout: 1s"},
		[2]string{"cooldown: 30s", "cooldown: 1s"})
	d := testenv.NewDaemon(t, testenv.BuildShipsync(t), conf)
	d.Start()
	testenv.Eventually(t, 30*time.Second, 20*time.Millisecond, func() (bool, string) {
		_, ok, err := store.LoadCheckpoint(ctx)
		return ok, fmt.Sprintf("daemon not started (err %v)", err)
	})

	// The shop: pays every order once, in random order, steadily; it retries through outages
	// of its own database and stops for a while when told to.
	var paused atomic.Bool
	payDone := make(chan error, 1)
	perm := rng.Perm(len(ids)) // drawn here: rng is the schedule's, not for the payer goroutine
	go func() {
		pause := spread / time.Duration(len(ids))
		for _, i := range perm {
			for paused.Load() {
				time.Sleep(10 * time.Millisecond)
			}
			for attempt := 0; ; attempt++ {
				_, err := db.Exec("UPDATE ecs_order_info SET pay_status = 2, pay_time = UNIX_TIMESTAMP(), order_status = 1 WHERE order_id = ?", ids[i])
				if err == nil {
					break
				}
				if attempt > 600 {
					payDone <- err
					return
				}
				time.Sleep(50 * time.Millisecond) // the shop's database is restarting
			}
			time.Sleep(pause)
		}
		payDone <- nil
	}()

	// The chaos schedule, spread over the paying time.
	step := spread / time.Duration(kills+1)
	events := map[int]func(){
		2: func() {
			car.SetFaults(sim.Faults{ErrorRate: 1})
			time.Sleep(1500 * time.Millisecond)
			car.SetFaults(sim.Faults{})
		},
		4: func() { e.restart("mariadb/mariadbd.pid") },
		5: func() {
			car.SetFaults(sim.Faults{TimeoutAfterCommitRate: 0.5})
			time.Sleep(1500 * time.Millisecond)
			car.SetFaults(sim.Faults{})
		},
		7: func() { e.restart("redis/redis.pid") },
		8: func() { car.off(); time.Sleep(1500 * time.Millisecond); car.on(t) },
		9: func() { paused.Store(true); time.Sleep(2 * time.Second); paused.Store(false) },
	}
	for k := 1; k <= kills; k++ {
		time.Sleep(time.Duration(float64(step) * (0.5 + rng.Float64())))
		if ev, ok := events[k]; ok {
			ev()
		}
		if err := d.Stop(syscall.SIGKILL); err == nil {
			t.Fatal("the daemon exited by itself before the kill")
		}
		time.Sleep(time.Duration(50+rng.IntN(300)) * time.Millisecond)
		d.Start()
	}
	if err := <-payDone; err != nil {
		t.Fatalf("the shop could not pay: %v", err)
	}

	// Everything settles: every order is written back or dead-lettered, and the checkpoint
	// reaches the end of the binlog (no other writer on this server).
	var end string
	testenv.Eventually(t, 3*time.Minute, 100*time.Millisecond, func() (bool, string) {
		states, _, err := store.CountByState(ctx)
		if err != nil {
			return false, err.Error()
		}
		if states[state.Written]+states[state.Failed] != len(ids) {
			return false, fmt.Sprintf("orders by state %v", states)
		}
		var file string
		var pos uint32
		var doDB, ignoreDB any
		if err := db.QueryRow("SHOW MASTER STATUS").Scan(&file, &pos, &doDB, &ignoreDB); err != nil {
			return false, err.Error()
		}
		cp, _, err := store.LoadCheckpoint(ctx)
		end = fmt.Sprintf("%s:%d", file, pos)
		return err == nil && cp.File == file && cp.Pos == pos, fmt.Sprintf("checkpoint %s:%d, binlog end %s", cp.File, cp.Pos, end)
	})

	waybilled, dead := verify(t, db, store, car.Server, injected)
	st := car.Stats()
	verdict := "PASS"
	if t.Failed() {
		verdict = "FAIL"
	}
	fmt.Printf("chaos verdict: %s orders=%d waybilled=%d dead_letter=%d (injected %d) creates=%d repeats=%d kills=%d mariadb_restarts=1 redis_restarts=1 checkpoint=%s (binlog end)\n",
		verdict, len(ids), waybilled, dead, len(injected), st.Creates, st.Repeats, kills, end)
	if err := d.Stop(syscall.SIGTERM); err != nil {
		t.Errorf("final SIGTERM: %v", err)
	}
}

// verify checks the end state and returns the counts for the verdict.
func verify(t *testing.T, db *sql.DB, store *state.Store, car *sim.Server, injected map[string]bool) (waybilled, dead int) {
	t.Helper()
	ctx := context.Background()
	rows, err := db.Query(`SELECT o.order_id, o.order_sn, o.invoice_no,
		(SELECT COUNT(*) FROM ecs_order_action a WHERE a.order_id = o.order_id AND a.action_user = 'shipsync')
		FROM ecs_order_info o`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, sn, invoice string
		var notes int
		if err := rows.Scan(&id, &sn, &invoice, &notes); err != nil {
			t.Fatal(err)
		}
		want, created := car.Waybill(sn)
		switch {
		case injected[id]:
			if invoice != "" || created {
				t.Errorf("order %s had no address but got waybill %q (carrier %v)", id, invoice, created)
			}
		case !created || invoice != want || notes != 1:
			t.Errorf("order %s: shop waybill %q, carrier %q (%v), %d notes; want exactly one waybill and one note", id, invoice, want, created, notes)
		default:
			waybilled++
		}
	}
	keys, err := store.DeadKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dead = len(keys)
	var want []string
	for k := range injected {
		want = append(want, k)
	}
	slices.Sort(keys)
	slices.Sort(want)
	if !slices.Equal(keys, want) {
		t.Errorf("dead letter %v, want exactly the injected %v", keys, want)
	}
	if st := car.Stats(); st.Creates != int64(waybilled) {
		t.Errorf("carrier created %d waybills for %d orders: a duplicate", st.Creates, waybilled)
	}
	return waybilled, dead
}
