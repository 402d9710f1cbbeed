package pipeline_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shipsync/shipsync/sinks/carrier/kdniao/sim"
	"github.com/shipsync/shipsync/sinks/shopdb"
	"github.com/shipsync/shipsync/sync/config"
	"github.com/shipsync/shipsync/sync/pipeline"
	"github.com/shipsync/shipsync/sync/state"
	"github.com/shipsync/shipsync/testenv"
	"github.com/shipsync/shipsync/testenv/demo"
)

const testAppKey = "test-appkey-0001"

// harness is one shop database, one Redis prefix and one simulator, with the root config.yaml
// pointed at them.
type harness struct {
	t      *testing.T
	db     *sql.DB
	dbName string
	rdb    *redis.Client
	store  *state.Store
	sim    *sim.Server
	cfg    *config.Config
	// pushURL is where carriers push: this harness's receiver, served by the running pipeline.
	pushURL string
	push    atomic.Pointer[http.Handler]
	p       *pipeline.Pipeline
	events  pipeline.Events       // the lifecycle events outlet, when a test sets one
	orders  pipeline.OrdersOutlet // the paid-order topic of mode reader
	inbox   pipeline.OrdersInbox  // the paid-order topic of mode worker
}

// newHarness loads schema ("ecshop": ECShop's real install schema from ../shared; "demo": the
// project's own) and seeds n unpaid orders.
func newHarness(t *testing.T, schema string, n int, simCfg sim.Config) (*harness, []int64) {
	t.Helper()
	ctx := context.Background()
	db, name := testenv.NewDatabase(t)
	switch schema {
	case "ecshop":
		testenv.ExecFile(t, db, testenv.ShopSchema(t, "ecshop.sql"))
	default:
		if err := demo.LoadSchema(ctx, db); err != nil {
			t.Fatal(err)
		}
	}
	ids, err := demo.Seed(ctx, db, n, 1)
	if err != nil {
		t.Fatal(err)
	}
	rdb, prefix := testenv.RequireRedis(t)

	h := &harness{t: t, db: db, dbName: name, rdb: rdb}
	// The push receiver exists before the pipeline (the simulator needs its URL); it answers
	// 503 until a pipeline serves it.
	pushSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hp := h.push.Load(); hp != nil {
			(*hp).ServeHTTP(w, r)
			return
		}
		http.Error(w, "not running", http.StatusServiceUnavailable)
	}))
	t.Cleanup(pushSrv.Close)
	h.pushURL = pushSrv.URL + "/push/sim"

	simCfg.EBusinessID, simCfg.AppKey = "test-ebusiness", testAppKey
	if simCfg.Hang == 0 {
		simCfg.Hang = 30 * time.Second
	}
	if simCfg.PushTo == "push" {
		simCfg.PushTo = h.pushURL
	}
	s := sim.New(simCfg)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	if simCfg.PushTo != "" {
		simCtx, stopSim := context.WithCancel(context.Background())
		simDone := make(chan struct{})
		go func() { defer close(simDone); s.Run(simCtx) }()
		t.Cleanup(func() { stopSim(); <-simDone })
	}

	t.Setenv("SHOP_DB_PASSWORD", testenv.MySQLPassword())
	t.Setenv("KDNIAO_APP_KEY", testAppKey)
	t.Setenv("KDNIAO_EBUSINESS_ID", "test-ebusiness")
	cfg, err := config.Load("../../config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Shop.Addr = testenv.MySQLAddr()
	cfg.Shop.User = testenv.MySQLUser()
	cfg.Shop.Database = name
	// Every replication client of one server needs its own id, or they disconnect each other.
	cfg.Shop.ServerID = 100000 + rand.Uint32N(1<<30)
	cfg.Orders.Table = name + ".ecs_order_info"
	cfg.Carriers[0].URL, cfg.Carriers[0].TrackURL = srv.URL+sim.CreatePath, srv.URL+sim.TrackPath
	cfg.State.Redis.Addr = testenv.RedisAddr()
	cfg.State.Redis.Prefix = prefix
	cfg.Retry.Interval = 200 * time.Millisecond
	cfg.Workers.DrainTimeout = 10 * time.Second
	cfg.HTTP.Listen = "127.0.0.1:0"
	h.store, h.sim, h.cfg = state.New(rdb, prefix), s, cfg
	return h, ids
}

// run starts the pipeline in the background; the returned function stops it (like SIGTERM) and
// returns Run's error.
func (h *harness) run(recover bool) (stop func() error) {
	h.t.Helper()
	stop, _ = h.start(recover)
	return stop
}

// runUntilExit runs the pipeline and returns the error it stops with by itself.
func (h *harness) runUntilExit(recover bool) error {
	h.t.Helper()
	stop, done := h.start(recover)
	select {
	case <-done:
		return stop()
	case <-time.After(30 * time.Second):
		h.t.Fatal("the pipeline did not stop by itself")
		return nil
	}
}

func (h *harness) start(recover bool) (stop func() error, exited <-chan struct{}) {
	h.t.Helper()
	if err := h.cfg.Validate(); err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	meta := shopdb.Connect(h.cfg.Shop.Addr, h.cfg.Shop.User, h.cfg.Shop.Password, h.cfg.Shop.Database, h.cfg.Shop.Charset, h.cfg.Shop.MaxConns)
	shop, err := shopdb.Open(ctx, meta, shopdb.Config{Query: h.cfg.Orders.Query, ItemsQuery: h.cfg.Orders.ItemsQuery,
		BackfillQuery: h.cfg.Orders.BackfillQuery, Waybill: h.cfg.Writeback.Waybill,
		CurrentWaybill: h.cfg.Writeback.CurrentWaybill, Status: h.cfg.Writeback.Status, Separator: h.cfg.Writeback.Separator})
	if err != nil {
		h.t.Fatal(err)
	}
	carriers := map[string]pipeline.Carrier{}
	for _, c := range h.cfg.Carriers {
		cl, err := pipeline.NewCarrier(c)
		if err != nil {
			h.t.Fatal(err)
		}
		carriers[c.Name] = cl
	}
	logOut := io.Discard
	if os.Getenv("SHIPSYNC_TEST_LOG") != "" {
		logOut = os.Stderr
	}
	p, err := pipeline.New(pipeline.Options{Config: h.cfg, Log: slog.New(slog.NewTextHandler(logOut, nil)),
		Shop: shop, Meta: meta, Store: h.store, Carriers: carriers, Recover: recover, Events: h.events,
		Orders: h.orders, Inbox: h.inbox, CheckpointEvery: 100 * time.Millisecond, SampleEvery: 200 * time.Millisecond})
	if err != nil {
		h.t.Fatal(err)
	}
	h.p = p
	mux := http.NewServeMux()
	p.PushHandler().Register(mux)
	var push http.Handler = mux
	h.push.Store(&push)
	done := make(chan error, 1)
	ended := make(chan struct{})
	go func() { done <- p.Run(ctx); close(ended) }()
	stopped := false
	var runErr error
	stop = func() error {
		if !stopped {
			stopped = true
			cancel()
			runErr = <-done
			h.push.Store(nil)
			shop.Close()
			meta.Close()
		}
		return runErr
	}
	h.t.Cleanup(func() { stop() })
	return stop, ended
}

// waitStarted waits for the first checkpoint, which the pipeline saves once its start position
// (and any backfill) is settled.
func (h *harness) waitStarted() {
	h.t.Helper()
	testenv.Eventually(h.t, 30*time.Second, 20*time.Millisecond, func() (bool, string) {
		_, ok, err := h.store.LoadCheckpoint(context.Background())
		return ok && err == nil, fmt.Sprintf("no checkpoint yet (err %v)", err)
	})
}

type shopRow struct {
	sn       string
	invoice  string
	shipping int
	pay      int
	actions  int
}

func (h *harness) rows(ids []int64) map[int64]shopRow {
	h.t.Helper()
	out := map[int64]shopRow{}
	if len(ids) == 0 {
		return out
	}
	ph := strings.TrimSuffix(strings.Repeat("?,", len(ids)), ",")
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	rows, err := h.db.Query(`SELECT o.order_id, o.order_sn, o.invoice_no, o.shipping_status, o.pay_status,
		(SELECT COUNT(*) FROM ecs_order_action a WHERE a.order_id = o.order_id AND a.action_user = 'shipsync')
		FROM ecs_order_info o WHERE o.order_id IN (`+ph+`)`, args...)
	if err != nil {
		h.t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var r shopRow
		if err := rows.Scan(&id, &r.sn, &r.invoice, &r.shipping, &r.pay, &r.actions); err != nil {
			h.t.Fatal(err)
		}
		out[id] = r
	}
	if err := rows.Err(); err != nil {
		h.t.Fatal(err)
	}
	return out
}

// waitWritten polls until every order has a waybill in the shop.
func (h *harness) waitWritten(ids []int64, timeout time.Duration) {
	h.t.Helper()
	testenv.Eventually(h.t, timeout, 50*time.Millisecond, func() (bool, string) {
		missing := 0
		var first int64
		for id, r := range h.rows(ids) {
			if r.invoice == "" {
				if missing == 0 {
					first = id
				}
				missing++
			}
		}
		return missing == 0, fmt.Sprintf("%d of %d orders have no waybill yet (e.g. order %d); sim %+v",
			missing, len(ids), first, h.sim.Stats())
	})
	// On MyISAM the note lands after the waybill; the order is done once Redis says so.
	h.waitState(ids, state.Written)
}

// assertShipped checks that each order has exactly one waybill, the simulator's for its order
// code, and exactly one write-back note.
func (h *harness) assertShipped(ids []int64) {
	h.t.Helper()
	for id, r := range h.rows(ids) {
		want, ok := h.sim.Waybill(r.sn)
		switch {
		case !ok:
			h.t.Errorf("order %d (%s): the simulator never created a waybill", id, r.sn)
		case r.invoice != want:
			h.t.Errorf("order %d (%s): shop has waybill %q, simulator %q", id, r.sn, r.invoice, want)
		case r.shipping != 1:
			h.t.Errorf("order %d: shipping_status %d, want 1", id, r.shipping)
		case r.actions != 1:
			h.t.Errorf("order %d: %d write-back notes, want exactly 1", id, r.actions)
		}
	}
}

// assertUntouched checks that orders got no waybill, no note and no create.
func (h *harness) assertUntouched(ids []int64) {
	h.t.Helper()
	for id, r := range h.rows(ids) {
		if r.invoice != "" || r.shipping != 0 || r.actions != 0 {
			h.t.Errorf("order %d should be untouched: invoice %q shipping %d notes %d", id, r.invoice, r.shipping, r.actions)
		}
		if w, ok := h.sim.Waybill(r.sn); ok {
			h.t.Errorf("order %d (%s): the simulator created waybill %s", id, r.sn, w)
		}
	}
}

func (h *harness) exec(q string, args ...any) {
	h.t.Helper()
	if _, err := h.db.Exec(q, args...); err != nil {
		h.t.Fatalf("%s: %v", q, err)
	}
}

func (h *harness) record(id int64) state.Record {
	h.t.Helper()
	r, _, err := h.store.Get(context.Background(), fmt.Sprint(id))
	if err != nil {
		h.t.Fatal(err)
	}
	return r
}

// waitState polls until the order's Redis record reaches st.
func (h *harness) waitState(ids []int64, st string) {
	h.t.Helper()
	for _, id := range ids {
		testenv.Eventually(h.t, 30*time.Second, 20*time.Millisecond, func() (bool, string) {
			r := h.record(id)
			return r.State == st, fmt.Sprintf("order %d is %q (%s), want %q", id, r.State, r.LastError, st)
		})
	}
}

// waitCaughtUp polls until the checkpoint reaches the binlog end as it is now: everything read
// up to here is settled. (Other tests write to the same server, so the end keeps moving.)
func (h *harness) waitCaughtUp() {
	h.t.Helper()
	var file string
	var pos uint32
	var doDB, ignoreDB any
	if err := h.db.QueryRow("SHOW MASTER STATUS").Scan(&file, &pos, &doDB, &ignoreDB); err != nil {
		h.t.Fatal(err)
	}
	testenv.Eventually(h.t, 30*time.Second, 50*time.Millisecond, func() (bool, string) {
		cp, ok, err := h.store.LoadCheckpoint(context.Background())
		reached := ok && err == nil && (cp.File > file || cp.File == file && cp.Pos >= pos)
		return reached, fmt.Sprintf("checkpoint %s:%d (err %v), binlog end %s:%d", cp.File, cp.Pos, err, file, pos)
	})
}
