package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shipsync/shipsync/sinks/carrier/kdniao/sim"
	"github.com/shipsync/shipsync/testenv"
	"github.com/shipsync/shipsync/testenv/demo"
)

// TestReload: the running daemon re-reads its config on SIGHUP and on `shipsync reload`,
// without a restart. A file that fails validation is refused and the running configuration
// stays; a carrier's new URL takes effect for the next order; what needs a restart is said.
func TestReload(t *testing.T) {
	ctx := context.Background()
	db, name, ids := testenv.DemoShop(t, 4)
	_, prefix := testenv.RequireRedis(t)
	t.Setenv("SHOP_DB_PASSWORD", testenv.MySQLPassword()) // for shipsync reload, run in this process
	t.Setenv("KDNIAO_APP_KEY", testenv.TestAppKey)
	newSim := func(prefix string) (*sim.Server, string) {
		s := sim.New(sim.Config{EBusinessID: "test-ebusiness", AppKey: testenv.TestAppKey, Prefix: prefix})
		srv := httptest.NewServer(s)
		t.Cleanup(srv.Close)
		return s, srv.URL
	}
	simA, urlA := newSim("AAA")
	simB, urlB := newSim("BBB")
	admin := testenv.FreeAddr(t)
	adminLine := [2]string{"listen: 127.0.0.1:0 # default 127.0.0.1:9465", "listen: " + admin + " # default 127.0.0.1:9465"}
	conf := testenv.WriteConfig(t, name, prefix, urlA, adminLine)
	good, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	write := func(text string) {
		if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	d := testenv.NewDaemon(t, testenv.BuildShipsync(t), conf)
	d.Start()
	ship := func(id int64, want string) {
		t.Helper()
		if err := demo.Pay(ctx, db, []int64{id}); err != nil {
			t.Fatal(err)
		}
		var waybill string
		testenv.Eventually(t, 30*time.Second, 20*time.Millisecond, func() (bool, string) {
			err := db.QueryRow("SELECT invoice_no FROM ecs_order_info WHERE order_id = ?", id).Scan(&waybill)
			return err == nil && waybill != "", fmt.Sprintf("order %d not shipped (%v)", id, err)
		})
		if !strings.HasPrefix(waybill, want) {
			t.Errorf("order %d shipped with %s, want a %s waybill", id, waybill, want)
		}
	}
	ship(ids[0], "AAA")

	// A broken file: refused, the daemon goes on with what it had.
	write(strings.Replace(string(good), "default: sim", "default: nobody", 1))
	d.Signal(syscall.SIGHUP)
	waitReloads(t, admin, "refused", 1)
	ship(ids[1], "AAA")
	var out bytes.Buffer
	if err := reloadCmd(ctx, []string{"--config", conf}, &out, &out); err == nil || !strings.Contains(out.String()+err.Error(), "routing.default") {
		t.Errorf("shipsync reload of a broken file: %v\n%s", err, out.String())
	}

	// The carrier moves to another address: the next order goes there.
	write(strings.ReplaceAll(string(good), urlA, urlB))
	d.Signal(syscall.SIGHUP)
	waitReloads(t, admin, "applied", 1)
	ship(ids[2], "BBB")

	// shipsync reload: back to the first address, with a change only a restart applies.
	write(strings.Replace(string(good), "max_conns: ", "max_conns: 1", 1))
	out.Reset()
	if err := reloadCmd(ctx, []string{"--config", conf}, &out, &out); err != nil {
		t.Fatalf("shipsync reload: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "needs a restart: shop") {
		t.Errorf("shipsync reload does not say the shop section needs a restart:\n%s", out.String())
	}
	ship(ids[3], "AAA")
	if a, b := simA.Stats().Creates, simB.Stats().Creates; a != 3 || b != 1 {
		t.Errorf("creates: first carrier %d, second %d; want 3 and 1", a, b)
	}
}

// waitReloads waits until the daemon's shipsync_config_reloads_total{outcome} reaches n.
func waitReloads(t *testing.T, admin, outcome string, n int) {
	t.Helper()
	series := fmt.Sprintf(`shipsync_config_reloads_total{outcome=%q} %d`, outcome, n)
	testenv.Eventually(t, 10*time.Second, 50*time.Millisecond, func() (bool, string) {
		resp, err := http.Get("http://" + admin + "/metrics")
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(body), series), "no " + series + " yet"
	})
}
