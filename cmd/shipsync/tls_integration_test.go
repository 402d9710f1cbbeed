package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shipsync/shipsync/sinks/carrier/kdniao/sim"
	"github.com/shipsync/shipsync/sinks/shopdb"
	"github.com/shipsync/shipsync/sync/state"
	"github.com/shipsync/shipsync/testenv"
	"github.com/shipsync/shipsync/testenv/demo"
)

// TestTLSShopAndRedis runs the daemon against a MariaDB and a Redis that refuse plaintext and
// want a client certificate: paid orders are shipped, so the binlog stream, the reads, the
// write-backs and the state all went over TLS. `shipsync check` with another CA's ca_file
// fails on the certificate, naming the tls section.
func TestTLSShopAndRedis(t *testing.T) {
	ctx := context.Background()
	t0 := time.Now()
	files, other := testenv.MakeTLSFiles(t), testenv.MakeTLSFiles(t)
	redisAddr := testenv.StartTLSRedis(t, files)
	shop := testenv.StartTLSMariaDB(t, files)
	t.Logf("%v: TLS MariaDB and Redis up", time.Since(t0))

	// Both servers refuse a plaintext client.
	plain := shopdb.Connect(shop.Addr, shop.User, shop.Password, "", "utf8mb4", 1)
	defer plain.Close()
	if err := plain.PingContext(ctx); err == nil {
		t.Fatal("the TLS MariaDB accepted a plaintext connection")
	}
	plainRedis := redis.NewClient(&redis.Options{Addr: redisAddr, MaxRetries: -1})
	defer plainRedis.Close()
	if err := plainRedis.Ping(ctx).Err(); err == nil {
		t.Fatal("the TLS Redis accepted a plaintext connection")
	}

	shop.CreateDatabase(t, "tlsshop")
	db := shopdb.ConnectTLS(shop.Addr, shop.User, shop.Password, "tlsshop", "utf8mb4", 4, files.Client(t, "127.0.0.1"))
	defer db.Close()
	testenv.ExecFile(t, db, testenv.ShopSchema(t, "ecshop.sql"))
	ids, err := demo.Seed(ctx, db, 5, 7)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: redisAddr, TLSConfig: files.Client(t, "")})
	defer rdb.Close()
	const prefix = "shipsync:tls:"
	store := state.New(rdb, prefix)

	carrier := sim.New(sim.Config{EBusinessID: "test-ebusiness", AppKey: testenv.TestAppKey})
	srv := httptest.NewServer(carrier)
	defer srv.Close()
	conf := tlsConfig(t, shop, redisAddr, prefix, srv.URL, files, files.CA, files.CA)

	d := testenv.NewDaemon(t, testenv.BuildShipsync(t), conf)
	d.Start()
	testenv.Eventually(t, 20*time.Second, 20*time.Millisecond, func() (bool, string) {
		_, ok, err := store.LoadCheckpoint(ctx)
		return ok, fmt.Sprintf("daemon not started (err %v)", err)
	})
	if err := demo.Pay(ctx, db, ids); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 20*time.Second, 20*time.Millisecond, func() (bool, string) {
		counts, _, err := store.CountByState(ctx)
		return err == nil && counts[state.Written] == len(ids), fmt.Sprintf("orders by state %v (err %v)", counts, err)
	})
	rows, err := db.QueryContext(ctx, "SELECT order_sn, invoice_no FROM ecs_order_info")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		var sn, invoice string
		if err := rows.Scan(&sn, &invoice); err != nil {
			t.Fatal(err)
		}
		n++
		if want, ok := carrier.Waybill(sn); !ok || invoice != want {
			t.Errorf("order %s: shop waybill %q, simulator %q (%v)", sn, invoice, want, ok)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if st := carrier.Stats(); n != len(ids) || st.Creates != int64(len(ids)) {
		t.Errorf("%d orders in the shop, %d creates at the simulator; want %d each", n, st.Creates, len(ids))
	}
	if err := d.Stop(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	t.Logf("%v: %d orders shipped over TLS", time.Since(t0), len(ids))

	t.Setenv("SHOP_DB_PASSWORD", shop.Password)
	t.Setenv("KDNIAO_APP_KEY", testenv.TestAppKey)
	check := func(path string) (string, error) {
		var out, errOut bytes.Buffer
		err := dispatch(ctx, []string{"check", "--config", path}, &out, &errOut)
		return out.String() + errOut.String(), err
	}
	if out, err := check(conf); err != nil || !strings.Contains(out, "ok   shop reachable at "+shop.Addr) ||
		!strings.Contains(out, "ok   redis reachable at "+redisAddr) {
		t.Errorf("check over TLS: %v\n%s", err, out)
	}
	out, err := check(tlsConfig(t, shop, redisAddr, prefix, srv.URL, files, other.CA, files.CA))
	var code exitCode
	if want := "FAIL shop reachable at " + shop.Addr + ": TLS: the server's certificate does not verify against shop.tls.ca_file " + other.CA; !errors.As(err, &code) || code != 1 || !strings.Contains(out, want) ||
		!strings.Contains(out, "certificate signed by unknown authority") {
		t.Errorf("check with another CA for the shop: err %v, want a line %q naming the unknown authority:\n%s", err, want, out)
	}
	t.Logf("check with another CA for the shop:\n%s", out)
	out, err = check(tlsConfig(t, shop, redisAddr, prefix, srv.URL, files, files.CA, other.CA))
	if want := "FAIL redis reachable at " + redisAddr + ": TLS: the server's certificate does not verify against state.redis.tls.ca_file " + other.CA; !errors.As(err, &code) || code != 1 || !strings.Contains(out, want) {
		t.Errorf("check with another CA for Redis: err %v, want a line %q:\n%s", err, want, out)
	}
	t.Logf("%v: done", time.Since(t0))
}

// tlsConfig renders the root config.yaml for the TLS servers, with shop.tls trusting shopCA
// and state.redis.tls redisCA; both present files' client certificate.
func tlsConfig(t *testing.T, shop *testenv.TLSMariaDB, redisAddr, prefix, carrierURL string, files testenv.TLSFiles, shopCA, redisCA string) string {
	t.Helper()
	root, err := testenv.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	section := func(indent, ca string) string {
		return fmt.Sprintf("%stls: {ca_file: %q, cert_file: %q, key_file: %q}\n", indent, ca, files.ClientCert, files.ClientKey)
	}
	text, err := testenv.RenderConfig(root, testenv.ConfigTarget{DB: "tlsshop", Prefix: prefix, CarrierURL: carrierURL,
		MySQLAddr: shop.Addr, RedisAddr: redisAddr, Listen: "127.0.0.1:0"},
		[2]string{"interval: 5s", "interval: 200ms"},
		[2]string{"  read_timeout: 10s #", section("  ", shopCA) + "  read_timeout: 10s #"},
		[2]string{"    db: 0 #", section("    ", redisCA) + "    db: 0 #"})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
