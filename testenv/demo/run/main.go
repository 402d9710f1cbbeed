// Command run is `make demo`: it shows shipsync doing its job on the local test environment.
//
// It expects `make build` (bin/shipsync) and `make testenv-up` (MariaDB with binlog on
// 127.0.0.1:23306, Redis on 127.0.0.1:26379) to have run, which the Makefile does first. Then it
//
//  1. recreates the database shipsync_demo with the demo schema and 300 unpaid orders, and
//     deletes shipsync's Redis state (keys "shipsync:*"), so every run starts fresh;
//  2. starts the carrier simulator (pushing status updates to the daemon's POST /push/sim, half a
//     simulated day per second), runs `shipsync check` and starts `shipsync run` with config.yaml
//     as it is;
//  3. pays 200 orders over about 5 seconds and shows waybills arriving in
//     ecs_order_info.invoice_no;
//  4. follows the parcels for up to 15 seconds (1–4.5 simulated days) while the carrier's pushes
//     move them to shipping_status 2 (received) or back to the sender, with exceptions noted in
//     ecs_order_action, until every parcel is delivered or returned;
//  5. prints a summary (counts, simulator stats, latency from payment to waybill,
//     `shipsync status` with its parcels by status, the order history shipsync wrote);
//  6. stops the daemon and the simulator and leaves MariaDB and Redis running to look around.
//
// With -split (`make demo-split`), step 2 runs split mode instead of one process: a fake Kafka
// broker (bin/kfake, franz-go's kfake, on 127.0.0.1:29092), one `shipsync run` in mode reader
// (tailing the binlog, publishing paid orders) and two in mode worker (consuming them in one
// consumer group, calling the carrier, writing back), each with a config derived from
// config.yaml in bin/. Worker 1 takes pushes on 127.0.0.1:9464, where the simulator pushes, and
// serves its admin surface on :9465; the reader on :9466/:9467, worker 2 on :9468/:9469. The summary adds what each worker shipped and the
// lifecycle events on the events topic.
//
// It exits non-zero on any failure and always stops the processes it started.
package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shipsync/shipsync/testenv"
	"github.com/shipsync/shipsync/testenv/demo"
)

const (
	dbName      = "shipsync_demo"
	redisPrefix = "shipsync:"
	seedOrders  = 300
	payOrders   = 200
	seed        = 2025

	simAddr     = "127.0.0.1:8700"
	simURL      = "http://" + simAddr
	carrierName = "sim"         // config.yaml's carriers[0].name: pushes go to /push/sim, notes start with it
	appKey      = "demo-appkey" // the simulator's; not a secret
	ebusinessID = "test-ebusiness"

	// What config.yaml points at; testenv's addresses must match.
	configShopAddr  = "127.0.0.1:23306"
	configRedisAddr = "127.0.0.1:26379"
	configHTTPAddr  = "127.0.0.1:9464" // http.listen: carrier pushes only
	configAdminAddr = "127.0.0.1:9465" // admin.listen: status page, metrics, health
	// demoAdminToken is the demo's admin.token (config.yaml reads SHIPSYNC_ADMIN_TOKEN): the
	// console's actions need one. A demo secret, never a real one.
	demoAdminToken = "demo-admin-token-0001"
	pushURL        = "http://" + configHTTPAddr + "/push/" + carrierName

	// The simulator's status progressions: half a simulated day per real second, so a parcel
	// takes 2-9 s from pickup to delivered or returned.
	timeScale     = "43200"
	exceptionRate = "0.1"
	returnRate    = "0.05"

	payBatch      = 8                      // orders per "burst" of the live shop
	payPause      = 200 * time.Millisecond // between bursts: 25 bursts ≈ 5 s
	pollEvery     = 50 * time.Millisecond
	shipTimeout   = 60 * time.Second // after the last payment
	detailLines   = 15               // shipped orders shown one per line before progress lines
	startTimeout  = 30 * time.Second
	daemonStopMax = 40 * time.Second // drain_timeout (30 s) plus the final checkpoint
	parcelWatch   = 15 * time.Second // following parcels after the last waybill
	parcelPoll    = 250 * time.Millisecond
	parcelLine    = time.Second // one progress line per this
)

// Split mode's processes (-split).
const (
	kafkaAddr    = "127.0.0.1:29092"
	readerHTTP   = "127.0.0.1:9466"
	readerAdmin  = "127.0.0.1:9467"
	worker2HTTP  = "127.0.0.1:9468"
	worker2Admin = "127.0.0.1:9469"
)

var splitMode = flag.Bool("split", false, "split mode: a Kafka broker (kfake), one reader and two workers")

func main() {
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx)
	interrupted := ctx.Err() != nil
	stop()
	if err != nil {
		if interrupted {
			fmt.Fprintln(os.Stderr, "\ndemo interrupted")
		} else {
			fmt.Fprintln(os.Stderr, "\ndemo failed:", err)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context) (err error) {
	began := time.Now()
	root, err := testenv.ModuleRoot()
	if err != nil {
		return err
	}
	bin := filepath.Join(root, "bin", "shipsync")
	cfgPath := filepath.Join(root, "config.yaml")
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("%s is missing: run `make demo` (it builds it) or `make build`", bin)
	}
	if _, err := os.Stat(cfgPath); err != nil {
		return fmt.Errorf("config.yaml not found in %s", root)
	}
	if testenv.MySQLAddr() != configShopAddr || testenv.RedisAddr() != configRedisAddr {
		return fmt.Errorf("config.yaml uses MariaDB %s and Redis %s, but the test environment is at %s and %s "+
			"(SHIPSYNC_TEST_MYSQL_ADDR / SHIPSYNC_TEST_REDIS_ADDR): the demo runs on the defaults only",
			configShopAddr, configRedisAddr, testenv.MySQLAddr(), testenv.RedisAddr())
	}

	// 1. A fresh demo shop and fresh shipsync state.
	step("Demo shop: database %s on %s, 300 unpaid orders", dbName, testenv.MySQLAddr())
	if err := resetDatabase(ctx); err != nil {
		return err
	}
	db, err := sql.Open("mysql", testenv.DSN(dbName))
	if err != nil {
		return fmt.Errorf("open %s: %w", dbName, err)
	}
	defer db.Close()
	if err := demo.LoadSchema(ctx, db); err != nil {
		return err
	}
	ids, err := demo.Seed(ctx, db, seedOrders, seed)
	if err != nil {
		return fmt.Errorf("seed demo orders: %w", err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: testenv.RedisAddr(), DB: 0})
	defer rdb.Close()
	deleted, err := deleteKeys(ctx, rdb, redisPrefix)
	if err != nil {
		return fmt.Errorf("reset shipsync state in Redis %s: %w", testenv.RedisAddr(), err)
	}
	fmt.Printf("  %d orders seeded; %d old shipsync keys deleted from Redis %s\n", len(ids), deleted, testenv.RedisAddr())

	// 2. Simulator, preflight, daemon.
	env := append(os.Environ(),
		"SHOP_DB_PASSWORD="+testenv.MySQLPassword(),
		"KDNIAO_APP_KEY="+appKey,
		"KDNIAO_EBUSINESS_ID="+ebusinessID,
		"SHIPSYNC_LABELS=true", // config.yaml: labels.enabled
		"SHIPSYNC_ADMIN_TOKEN="+demoAdminToken,
	)
	var children []*child
	defer func() {
		// Always stop what was started, the daemon first (it drains into the simulator).
		for _, c := range slices.Backward(children) {
			if stopErr := c.stop(daemonStopMax); stopErr != nil && err == nil && ctx.Err() == nil {
				err = stopErr
			}
		}
	}()

	step("Carrier simulator on %s (Kdniao API, 30 ms latency; pushes statuses to %s, half a day per second)", simAddr, pushURL)
	for _, addr := range []string{simAddr, configHTTPAddr, configAdminAddr} {
		if err := portFree(addr); err != nil {
			return err
		}
	}
	simLog := filepath.Join(root, "bin", "demo-sim-carrier.log")
	sim, err := startChild("sim-carrier", bin, simLog, env,
		"sim-carrier", "--listen", simAddr, "--latency", "30ms", "--pickup-after", "2h",
		"--push-to", pushURL, "--time-scale", timeScale,
		"--exception-rate", exceptionRate, "--return-rate", returnRate, "--no-pickup-rate", "0")
	if err != nil {
		return err
	}
	children = append(children, sim)
	if err := waitFor(ctx, sim, startTimeout, "the simulator to answer "+simURL+"/healthz", func() bool {
		return httpOK(ctx, simURL+"/healthz")
	}); err != nil {
		return err
	}

	step("Preflight: shipsync check --config config.yaml")
	out, checkErr := runCommand(ctx, root, env, bin, "check", "--config", cfgPath)
	fmt.Print(indent(out))
	if checkErr != nil {
		return fmt.Errorf("shipsync check failed (%v); fix what it reports above", checkErr)
	}

	daemonLog := filepath.Join(root, "bin", "demo-shipsync.log")
	var daemon *child
	var split []*child // -split: reader, worker 2 (daemon is worker 1)
	if *splitMode {
		if daemon, split, err = startSplit(ctx, root, bin, cfgPath, env, &children); err != nil {
			return err
		}
		daemonLog = daemon.logPath
	} else {
		step("Starting the daemon: shipsync run --config config.yaml")
		fmt.Printf("  its JSON logs go to %s\n", rel(root, daemonLog))
		if daemon, err = startChild("shipsync run", bin, daemonLog, env, "run", "--config", cfgPath); err != nil {
			return err
		}
		children = append(children, daemon)
	}
	if err := waitFor(ctx, daemon, startTimeout, "the daemon to save its first checkpoint and answer on "+configAdminAddr, func() bool {
		n, err := rdb.Exists(ctx, redisPrefix+"checkpoint").Result()
		return err == nil && n == 1 && httpOK(ctx, "http://"+configAdminAddr+"/healthz")
	}); err != nil {
		return err
	}
	fmt.Printf("  running: tailing the binlog (checkpoint saved in Redis), carrier pushes on %s\n", pushURL)
	fmt.Printf("  status page: http://%s/   metrics: http://%s/metrics   (admin.listen; pushes go to %s)\n",
		configAdminAddr, configAdminAddr, pushURL)

	// 3. Pay 200 orders like a live shop, and watch waybills arrive.
	rng := rand.New(rand.NewPCG(seed, 1))
	perm := rng.Perm(len(ids))
	toPay := make([]int64, payOrders)
	for i := range toPay {
		toPay[i] = ids[perm[i]]
	}
	isPaid := make(map[int64]bool, len(toPay))
	for _, id := range toPay {
		isPaid[id] = true
	}

	step("Paying %d of the %d orders over ~5 s; waybills appear in ecs_order_info.invoice_no:", payOrders, seedOrders)
	w := &watcher{db: db, paidAt: map[int64]time.Time{}, shipped: map[int64]time.Duration{}, isPaid: isPaid}
	payCtx, cancelPay := context.WithCancel(ctx)
	defer cancelPay()
	payDone := make(chan error, 1)
	go func() { payDone <- w.pay(payCtx, toPay) }()
	watchErr := w.watch(ctx, daemon, payDone)
	cancelPay()
	if watchErr != nil {
		return fmt.Errorf("%w\n%s", watchErr, logTail(daemonLog, 8))
	}

	// 4. Statuses pushed by the carrier arrive in the shop.
	step("Parcels on their way: the carrier pushes statuses (half a simulated day per second)")
	fmt.Printf("  ecs_order_info.shipping_status 1 shipped / 2 received, exception notes in ecs_order_action\n")
	parcels, err := followParcels(ctx, db, rdb, daemon)
	if err != nil {
		return fmt.Errorf("%w\n%s", err, logTail(daemonLog, 8))
	}

	// 5. Summary.
	if err := summary(ctx, db, w, ids, isPaid, parcels); err != nil {
		return err
	}
	step("shipsync status --config config.yaml")
	out, statusErr := runCommand(ctx, root, env, bin, "status", "--config", cfgPath)
	fmt.Print(indent(out))
	if statusErr != nil {
		return fmt.Errorf("shipsync status failed: %v", statusErr)
	}
	if err := showActions(ctx, db); err != nil {
		return err
	}
	if err := printLabels(ctx, root, env, bin, cfgPath); err != nil {
		return err
	}
	if *splitMode {
		if err := splitSummary(ctx, rdb); err != nil {
			return err
		}
	}

	if os.Getenv("SHIPSYNC_DEMO_KEEP") != "" {
		step("Keeping the daemon and the simulator running (SHIPSYNC_DEMO_KEEP): the console is at http://%s/ — Ctrl-C stops them", configAdminAddr)
		fmt.Printf("  sign in with the admin token %s (the demo's; yours comes from SHIPSYNC_ADMIN_TOKEN)\n", demoAdminToken)
		<-ctx.Done()
		ctx = context.WithoutCancel(ctx)
	}

	// 6. Stop the daemon (it drains and saves its checkpoint) and the simulator.
	step("Stopping the daemon (SIGTERM: drains, saves its checkpoint) and the simulator")
	t0 := time.Now()
	for _, c := range append(split, daemon) {
		if err := c.stop(daemonStopMax); err != nil {
			return err
		}
	}
	fmt.Printf("  daemon stopped cleanly in %.1f s\n", time.Since(t0).Seconds())
	if err := sim.stop(10 * time.Second); err != nil {
		return err
	}
	warns, errs, firstErrs := scanLog(daemonLog)
	fmt.Printf("  daemon log: %d warnings, %d errors (%s)\n", warns, errs, rel(root, daemonLog))
	for _, l := range firstErrs {
		fmt.Printf("    %s\n", l)
	}

	fmt.Printf("\nDone in %.0f s. MariaDB and Redis keep running; look around with\n", time.Since(began).Seconds())
	fmt.Printf("  mariadb -h127.0.0.1 -P23306 -ushipsync -pshipsync %s\n", dbName)
	fmt.Printf("    SELECT order_sn, consignee, invoice_no, shipping_status FROM ecs_order_info WHERE invoice_no <> '' LIMIT 10;\n")
	fmt.Printf("  bin/shipsync status --config config.yaml   (with SHOP_DB_PASSWORD=shipsync)\n")
	fmt.Printf("and stop them with `make testenv-down`.\n")
	if os.Getenv("SHIPSYNC_DEMO_KEEP") == "" {
		fmt.Printf("\nThe console was at http://%s/ (admin token %s); SHIPSYNC_DEMO_KEEP=1 make demo keeps it open.\n",
			configAdminAddr, demoAdminToken)
	}
	return nil
}

// ---- step 1 ----

func resetDatabase(ctx context.Context) error {
	admin, err := sql.Open("mysql", testenv.DSN(""))
	if err != nil {
		return err
	}
	defer admin.Close()
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := admin.PingContext(pingCtx); err != nil {
		return fmt.Errorf("MariaDB not reachable at %s: %w; start it with `make testenv-up`", testenv.MySQLAddr(), err)
	}
	for _, q := range []string{
		"DROP DATABASE IF EXISTS `" + dbName + "`",
		"CREATE DATABASE `" + dbName + "` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci",
	} {
		if _, err := admin.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}

// deleteKeys deletes every key starting with prefix (SCAN + DEL) and returns how many.
func deleteKeys(ctx context.Context, rdb *redis.Client, prefix string) (int, error) {
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := rdb.Ping(pingCtx).Err(); err != nil {
		return 0, fmt.Errorf("not reachable: %w; start it with `make testenv-up`", err)
	}
	var cursor uint64
	n := 0
	for {
		keys, next, err := rdb.Scan(ctx, cursor, prefix+"*", 1000).Result()
		if err != nil {
			return n, fmt.Errorf("scan: %w", err)
		}
		if len(keys) > 0 {
			if err := rdb.Del(ctx, keys...).Err(); err != nil {
				return n, fmt.Errorf("del: %w", err)
			}
			n += len(keys)
		}
		if next == 0 {
			return n, nil
		}
		cursor = next
	}
}

// ---- child processes ----

type child struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	logFile *os.File
	done    chan struct{}
	err     error // valid once done is closed
	stopped bool  // stop was called
}

// startChild starts bin with args, stdout and stderr going to logPath (truncated).
func startChild(name, bin, logPath string, env []string, args ...string) (*child, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("%s: create log: %w", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, logPath: logPath, logFile: f, done: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		f.Close()
		close(c.done)
	}()
	return c, nil
}

func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM, waits up to timeout, then kills. It reports a non-zero exit, or an exit
// before it was asked to stop, as an error.
func (c *child) stop(timeout time.Duration) error {
	if c.stopped {
		return nil
	}
	c.stopped = true
	if c.exited() {
		return fmt.Errorf("%s exited on its own: %v\n%s", c.name, c.err, logTail(c.logPath, 8))
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(timeout):
		_ = c.cmd.Process.Kill()
		<-c.done
		return fmt.Errorf("%s did not stop within %v of SIGTERM; killed", c.name, timeout)
	}
	if c.err != nil {
		return fmt.Errorf("%s stopped with %v\n%s", c.name, c.err, logTail(c.logPath, 8))
	}
	return nil
}

// waitFor polls cond until it holds, failing when c exits, timeout passes or ctx ends.
func waitFor(ctx context.Context, c *child, timeout time.Duration, what string, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return nil
		}
		if c.exited() {
			return fmt.Errorf("%s exited (%v) while waiting for %s\n%s", c.name, c.err, what, logTail(c.logPath, 8))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("waited %v for %s\n%s", timeout, what, logTail(c.logPath, 8))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// runCommand runs bin to completion and returns its combined output.
func runCommand(ctx context.Context, dir string, env []string, bin string, args ...string) (string, error) {
	cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(cctx, bin, args...)
	cmd.Dir, cmd.Env = dir, env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func portFree(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%s is taken (%v): is a simulator of an earlier demo or a test still running?", addr, err)
	}
	return ln.Close()
}

func httpOK(ctx context.Context, url string) bool {
	body, err := httpGet(ctx, url)
	return err == nil && body != nil
}

func httpGet(ctx context.Context, url string) ([]byte, error) {
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(cctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+demoAdminToken) // the admin listeners want it; the simulator ignores it
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return body, nil
}

// ---- step 3 ----

type watcher struct {
	db     *sql.DB
	isPaid map[int64]bool

	mu     sync.Mutex
	paidAt map[int64]time.Time

	shipped   map[int64]time.Duration // payment → seen with a waybill
	strangers []string                // shipped orders that were never paid
}

// pay pays ids in small bursts with short pauses, like a live shop. Each order is paid on its
// own (demo.Pay of one id) so that its payment time is known to the millisecond.
func (w *watcher) pay(ctx context.Context, ids []int64) error {
	for start := 0; start < len(ids); start += payBatch {
		if start > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(payPause):
			}
		}
		for _, id := range ids[start:min(start+payBatch, len(ids))] {
			if err := demo.Pay(ctx, w.db, []int64{id}); err != nil {
				return err
			}
			w.mu.Lock()
			w.paidAt[id] = time.Now()
			w.mu.Unlock()
		}
	}
	return nil
}

// watch polls the shop for orders with a waybill until every paid order has one.
func (w *watcher) watch(ctx context.Context, daemon *child, payDone <-chan error) error {
	ticker := time.NewTicker(pollEvery)
	defer ticker.Stop()
	paying := true
	var deadline time.Time
	lastProgress := time.Now()
	lastCount := -1
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-payDone:
			if err != nil {
				return fmt.Errorf("paying orders: %w", err)
			}
			paying = false
			deadline = time.Now().Add(shipTimeout)
			payDone = nil
		case <-ticker.C:
		}
		if err := w.poll(ctx); err != nil {
			return err
		}
		w.mu.Lock()
		paid := len(w.paidAt)
		w.mu.Unlock()
		n := len(w.shipped)
		if len(w.shipped) > detailLines && time.Since(lastProgress) >= time.Second && n != lastCount {
			fmt.Printf("  shipped %d/%d   (paid so far %d)\n", n, payOrders, paid)
			lastProgress, lastCount = time.Now(), n
		}
		if !paying && n >= payOrders {
			if n != lastCount {
				fmt.Printf("  shipped %d/%d   all paid orders have a waybill\n", n, payOrders)
			}
			return nil
		}
		if daemon.exited() {
			return fmt.Errorf("the daemon exited (%v) with %d of %d paid orders shipped", daemon.err, n, paid)
		}
		if !paying && time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d paid orders got a waybill within %v of the last payment; "+
				"see `bin/shipsync status --config config.yaml` and the daemon log", n, payOrders, shipTimeout)
		}
	}
}

func (w *watcher) poll(ctx context.Context) error {
	rows, err := w.db.QueryContext(ctx,
		"SELECT order_id, order_sn, consignee, invoice_no, shipping_status FROM ecs_order_info WHERE invoice_no <> '' ORDER BY invoice_no")
	if err != nil {
		return fmt.Errorf("poll shipped orders: %w", err)
	}
	defer rows.Close()
	seenAt := time.Now()
	for rows.Next() {
		var id int64
		var sn, consignee, waybill string
		var status int
		if err := rows.Scan(&id, &sn, &consignee, &waybill, &status); err != nil {
			return fmt.Errorf("poll shipped orders: %w", err)
		}
		if _, ok := w.shipped[id]; ok {
			continue
		}
		if !w.isPaid[id] {
			if !slices.Contains(w.strangers, sn) {
				w.strangers = append(w.strangers, sn)
			}
			continue
		}
		w.mu.Lock()
		paidAt, ok := w.paidAt[id]
		w.mu.Unlock()
		if !ok {
			paidAt = seenAt // the UPDATE committed but Pay has not returned yet
		}
		lat := seenAt.Sub(paidAt)
		w.shipped[id] = lat
		if len(w.shipped) <= detailLines {
			fmt.Printf("  %s  %s → %s  shipping_status %d  (%.2f s after payment)\n",
				sn, padWidth(consignee, 8), waybill, status, lat.Seconds())
		}
	}
	return rows.Err()
}

// ---- step 4 ----

// parcelCounts is what the shop and shipsync's records say about the shipped orders at one moment.
type parcelCounts struct {
	shipped, received, other int // ecs_order_info rows with a waybill: shipping_status 1, 2, anything else
	exceptionNotes           int // ecs_order_action rows by shipsync noting an exception
	status                   map[string]int
	flagged                  int // of the records in Redis, with the exception flag set
}

// ended is the number of parcels in a final status: nothing moves them any more.
func (c parcelCounts) ended() int {
	return c.status["delivered"] + c.status["returned"] + c.status["cancelled"]
}

// line is one progress line: the shop's counts, then shipsync's records of the parcels not
// delivered (under way: created to out for delivery; returning; returned).
func (c parcelCounts) line(elapsed time.Duration) string {
	returning, returned := c.status["returning"], c.status["returned"]
	underway := payOrders - c.ended() - returning
	return fmt.Sprintf("  +%4.1f s  shipping_status 1: %3d  2: %3d   exception notes %2d   (parcels: %3d under way, %2d returning, %2d returned)",
		elapsed.Seconds(), c.shipped, c.received, c.exceptionNotes, underway, returning, returned)
}

// countParcels reads the shop tables (what the shop owner sees) and the parcel status of
// shipsync's order records in Redis (hashes shipsync:order:*, field status).
func countParcels(ctx context.Context, db *sql.DB, rdb *redis.Client) (parcelCounts, error) {
	c := parcelCounts{status: map[string]int{}}
	err := db.QueryRowContext(ctx, `SELECT
			COALESCE(SUM(shipping_status = 1), 0),
			COALESCE(SUM(shipping_status = 2), 0),
			COALESCE(SUM(shipping_status NOT IN (1, 2)), 0)
		FROM ecs_order_info WHERE invoice_no <> ''`).Scan(&c.shipped, &c.received, &c.other)
	if err != nil {
		return c, fmt.Errorf("count shipping statuses: %w", err)
	}
	err = db.QueryRowContext(ctx, `SELECT COUNT(*) FROM ecs_order_action
		WHERE action_user = 'shipsync' AND action_note LIKE '% exception%'`).Scan(&c.exceptionNotes)
	if err != nil {
		return c, fmt.Errorf("count exception notes: %w", err)
	}
	var keys []string
	iter := rdb.Scan(ctx, 0, redisPrefix+"order:*", 1000).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		return c, fmt.Errorf("scan order records in Redis: %w", err)
	}
	pipe := rdb.Pipeline()
	cmds := make([]*redis.SliceCmd, len(keys))
	for i, k := range keys {
		cmds[i] = pipe.HMGet(ctx, k, "status", "status_exception")
	}
	if len(keys) > 0 {
		if _, err := pipe.Exec(ctx); err != nil {
			return c, fmt.Errorf("read order records in Redis: %w", err)
		}
	}
	for _, cmd := range cmds {
		v := cmd.Val()
		if st, _ := v[0].(string); st != "" {
			c.status[st]++
		}
		if exc, _ := v[1].(string); exc == "1" {
			c.flagged++
		}
	}
	return c, nil
}

// followParcels prints the counts about once a second until every shipped parcel has ended
// (delivered or returned), for at most parcelWatch.
func followParcels(ctx context.Context, db *sql.DB, rdb *redis.Client, daemon *child) (parcelCounts, error) {
	start := time.Now()
	lastLine := start.Add(-parcelLine)
	ticker := time.NewTicker(parcelPoll)
	defer ticker.Stop()
	for {
		c, err := countParcels(ctx, db, rdb)
		if err != nil {
			return c, err
		}
		elapsed := time.Since(start)
		done := c.ended() >= payOrders
		if done || time.Since(lastLine) >= parcelLine {
			fmt.Println(c.line(elapsed))
			lastLine = time.Now()
		}
		if done {
			fmt.Printf("  all %d parcels arrived after %.1f s: %d received, %d returned to the sender\n",
				payOrders, elapsed.Seconds(), c.status["delivered"], c.status["returned"])
			return c, nil
		}
		if daemon.exited() {
			return c, fmt.Errorf("the daemon exited (%v) while parcels were on their way", daemon.err)
		}
		if elapsed >= parcelWatch {
			return c, fmt.Errorf("after %v only %d of %d parcels were delivered or returned (parcels by status in Redis: %v); "+
				"see `bin/shipsync status --config config.yaml`, bin/demo-sim-carrier.log and the daemon log",
				parcelWatch, c.ended(), payOrders, c.status)
		}
		select {
		case <-ctx.Done():
			return c, ctx.Err()
		case <-ticker.C:
		}
	}
}

// ---- step 5 ----

type simStats struct {
	Requests     int64 `json:"requests"`
	Creates      int64 `json:"creates"`
	Repeats      int64 `json:"repeats"`
	Rejects      int64 `json:"rejects"`
	Invalid      int64 `json:"invalid"`
	Errors       int64 `json:"errors"`
	Timeouts     int64 `json:"timeouts"`
	PushesSent   int64 `json:"pushes_sent"`
	PushesAcked  int64 `json:"pushes_acked"`
	PushesFailed int64 `json:"pushes_failed"`
}

// Notes shipsync writes into ecs_order_action with config.yaml's statements, by kind.
const (
	noteWaybill   = carrierName + " waybill %"
	noteDelivered = carrierName + " delivered, waybill %"
	noteException = "% exception%"
)

func summary(ctx context.Context, db *sql.DB, w *watcher, ids []int64, isPaid map[int64]bool, parcels parcelCounts) error {
	var paid, shipped int
	err := db.QueryRowContext(ctx, `SELECT
			COALESCE(SUM(pay_status = 2), 0),
			COALESCE(SUM(invoice_no <> ''), 0)
		FROM ecs_order_info`).Scan(&paid, &shipped)
	if err != nil {
		return fmt.Errorf("count orders: %w", err)
	}
	var unpaid []any
	for _, id := range ids {
		if !isPaid[id] {
			unpaid = append(unpaid, id)
		}
	}
	var untouched int
	q := "SELECT COUNT(*) FROM ecs_order_info WHERE invoice_no = '' AND shipping_status = 0 AND pay_status = 0 AND order_id IN (" +
		strings.TrimSuffix(strings.Repeat("?,", len(unpaid)), ",") + ")"
	if err := db.QueryRowContext(ctx, q, unpaid...).Scan(&untouched); err != nil {
		return fmt.Errorf("count unpaid orders: %w", err)
	}
	var distinct int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(DISTINCT invoice_no) FROM ecs_order_info WHERE invoice_no <> ''").Scan(&distinct); err != nil {
		return fmt.Errorf("count waybills: %w", err)
	}
	var waybillNotes, waybillNoteOrders, deliveredNotes, exceptionNotes, exceptionOrders int
	err = db.QueryRowContext(ctx, `SELECT
			COALESCE(SUM(action_note LIKE ?), 0),
			COUNT(DISTINCT IF(action_note LIKE ?, order_id, NULL)),
			COALESCE(SUM(action_note LIKE ?), 0),
			COALESCE(SUM(action_note LIKE ?), 0),
			COUNT(DISTINCT IF(action_note LIKE ?, order_id, NULL))
		FROM ecs_order_action WHERE action_user = 'shipsync'`,
		noteWaybill, noteWaybill, noteDelivered, noteException, noteException).
		Scan(&waybillNotes, &waybillNoteOrders, &deliveredNotes, &exceptionNotes, &exceptionOrders)
	if err != nil {
		return fmt.Errorf("count ecs_order_action notes: %w", err)
	}
	body, err := httpGet(ctx, simURL+"/stats")
	if err != nil {
		return fmt.Errorf("simulator stats: %w", err)
	}
	var st simStats
	if err := json.Unmarshal(body, &st); err != nil {
		return fmt.Errorf("simulator stats %q: %w", body, err)
	}

	lats := make([]time.Duration, 0, len(w.shipped))
	for _, d := range w.shipped {
		lats = append(lats, d)
	}
	slices.Sort(lats)

	step("Summary")
	fmt.Printf("  orders paid               %d\n", paid)
	fmt.Printf("  orders shipped            %d  (%d distinct waybills, %d waybill notes)\n", shipped, distinct, waybillNotes)
	fmt.Printf("  unpaid orders untouched   %d of %d  (invoice_no still '')\n", untouched, len(unpaid))
	fmt.Printf("  shipping_status           1 (shipped) %d   2 (received) %d   (%d delivered notes)\n",
		parcels.shipped, parcels.received, deliveredNotes)
	fmt.Printf("  exceptions noted          %d on %d orders; %d parcels returned to the sender (they stay at 1)\n",
		exceptionNotes, exceptionOrders, parcels.status["returned"])
	fmt.Printf("  carrier simulator         %d creates, %d repeats  (%d requests, %d errors, %d rejected)\n",
		st.Creates, st.Repeats, st.Requests, st.Errors, st.Rejects+st.Invalid)
	fmt.Printf("                            %d status pushes sent, %d acknowledged, %d not acknowledged (sent again)\n",
		st.PushesSent, st.PushesAcked, st.PushesFailed)
	if len(lats) > 0 {
		fmt.Printf("  payment → waybill         p50 %.2f s   p95 %.2f s   max %.2f s  (polled every %v)\n",
			pct(lats, 50).Seconds(), pct(lats, 95).Seconds(), lats[len(lats)-1].Seconds(), pollEvery)
	}

	var problems []string
	if paid != payOrders {
		problems = append(problems, fmt.Sprintf("%d orders are paid, want %d", paid, payOrders))
	}
	if shipped != payOrders || parcels.shipped+parcels.received != payOrders {
		problems = append(problems, fmt.Sprintf("%d orders have a waybill (%d with shipping_status 1 or 2), want %d",
			shipped, parcels.shipped+parcels.received, payOrders))
	}
	if distinct != shipped {
		problems = append(problems, fmt.Sprintf("%d waybills for %d orders: some share a waybill", distinct, shipped))
	}
	if waybillNotes != payOrders || waybillNoteOrders != payOrders {
		problems = append(problems, fmt.Sprintf("%d waybill notes on %d orders in ecs_order_action, want one on each of %d",
			waybillNotes, waybillNoteOrders, payOrders))
	}
	if parcels.received != parcels.status["delivered"] || deliveredNotes != parcels.received {
		problems = append(problems, fmt.Sprintf("%d orders have shipping_status 2 and %d delivered notes, but shipsync recorded %d delivered",
			parcels.received, deliveredNotes, parcels.status["delivered"]))
	}
	if untouched != len(unpaid) {
		problems = append(problems, fmt.Sprintf("%d of %d unpaid orders were touched", len(unpaid)-untouched, len(unpaid)))
	}
	if len(w.strangers) > 0 {
		problems = append(problems, fmt.Sprintf("unpaid orders got a waybill: %s", strings.Join(w.strangers, ", ")))
	}
	if st.Creates != int64(payOrders) {
		problems = append(problems, fmt.Sprintf("the simulator created %d waybills for %d orders", st.Creates, payOrders))
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

func pct(sorted []time.Duration, p int) time.Duration {
	i := (len(sorted)*p+99)/100 - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// showActions prints the order history shipsync wrote for one parcel, preferably one that had an
// exception and was delivered in the end.
func showActions(ctx context.Context, db *sql.DB) error {
	var total int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM ecs_order_action WHERE action_user = 'shipsync'").Scan(&total); err != nil {
		return fmt.Errorf("count ecs_order_action: %w", err)
	}
	var id int64
	err := db.QueryRowContext(ctx, `SELECT a.order_id
		FROM ecs_order_action a JOIN ecs_order_info o ON o.order_id = a.order_id
		WHERE a.action_user = 'shipsync'
		ORDER BY a.action_note LIKE ? AND o.shipping_status = 2 DESC, a.action_id
		LIMIT 1`, noteException).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		step("Order history written by shipsync (ecs_order_action): no rows")
		return nil
	}
	if err != nil {
		return fmt.Errorf("read ecs_order_action: %w", err)
	}
	rows, err := db.QueryContext(ctx, `SELECT o.order_sn, a.order_status, a.shipping_status, a.pay_status, a.action_note,
			FROM_UNIXTIME(a.log_time)
		FROM ecs_order_action a JOIN ecs_order_info o ON o.order_id = a.order_id
		WHERE a.action_user = 'shipsync' AND a.order_id = ? ORDER BY a.action_id`, id)
	if err != nil {
		return fmt.Errorf("read ecs_order_action: %w", err)
	}
	defer rows.Close()
	first := true
	for rows.Next() {
		var sn, note, at string
		var ordSt, shipSt, paySt int
		if err := rows.Scan(&sn, &ordSt, &shipSt, &paySt, &note, &at); err != nil {
			return fmt.Errorf("read ecs_order_action: %w", err)
		}
		if first {
			step("Order history written by shipsync (ecs_order_action, %d rows in all; order %s's)", total, sn)
			first = false
		}
		fmt.Printf("  %s  order/shipping/pay status %d/%d/%d  %q\n", at, ordSt, shipSt, paySt, note)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read ecs_order_action: %w", err)
	}
	return nil
}

// ---- output helpers ----

func step(format string, args ...any) {
	fmt.Printf("\n==> "+format+"\n", args...)
}

func indent(s string) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return ""
	}
	return "  " + strings.ReplaceAll(s, "\n", "\n  ") + "\n"
}

// padWidth pads s with spaces to n terminal columns, counting CJK characters as two.
func padWidth(s string, n int) string {
	w := 0
	for _, r := range s {
		if r >= 0x1100 {
			w += 2
		} else {
			w++
		}
	}
	if w >= n {
		return s
	}
	return s + strings.Repeat(" ", n-w)
}

func rel(root, path string) string {
	if r, err := filepath.Rel(root, path); err == nil {
		return r
	}
	return path
}

// logTail returns the last n lines of a log file, indented, for error messages.
func logTail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "last lines of " + path + ":\n    " + strings.Join(lines, "\n    ")
}

// scanLog counts WARN and ERROR lines of a slog JSON log and returns up to 3 ERROR lines.
func scanLog(path string) (warns, errs int, first []string) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, nil
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.Contains(line, `"level":"WARN"`):
			warns++
		case strings.Contains(line, `"level":"ERROR"`):
			errs++
			if len(first) < 3 {
				if len(line) > 300 {
					line = line[:300] + "…"
				}
				first = append(first, line)
			}
		}
	}
	return warns, errs, first
}

// printLabels prints the labels of the waybills just created as one batch, the way a warehouse
// does at the start of its shift: a PDF through headless Chromium when it is installed, else
// HTML to open in a browser.
func printLabels(ctx context.Context, root string, env []string, bin, cfgPath string) error {
	format := "pdf"
	if _, err := exec.LookPath("chromium"); err != nil {
		format = "html"
	}
	file := filepath.Join(root, "bin", "labels."+format)
	step("The warehouse's label batch: shipsync labels print --batch next --format %s --out %s", format, rel(root, file))
	out, err := runCommand(ctx, root, env, bin, "labels", "print", "--config", cfgPath, "--batch", "next",
		"--format", format, "--out", file)
	fmt.Print(indent(out))
	if err != nil {
		return fmt.Errorf("shipsync labels print failed: %v", err)
	}
	fmt.Printf("  open %s to print them (one label per page); a second --batch next prints only new ones\n", file)
	return nil
}
