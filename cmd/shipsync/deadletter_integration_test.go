package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/shipsync/shipsync/sinks/carrier/kdniao/sim"
	"github.com/shipsync/shipsync/testenv"
	"github.com/shipsync/shipsync/testenv/demo"
)

// TestDeadLetterActions works the dead letter through the admin API of a running daemon: an
// order with a mobile no carrier accepts is dead-lettered with the field named; once the shop
// fixes the number, POST /api/dlq/{key}/retry with the admin token ships it (checked in the shop
// table); without the token, or by GET, nothing happens.
func TestDeadLetterActions(t *testing.T) {
	ctx := context.Background()
	db, name, ids := testenv.DemoShop(t, 2)
	_, prefix := testenv.RequireRedis(t)
	carrier := sim.New(sim.Config{EBusinessID: "test-ebusiness", AppKey: testenv.TestAppKey})
	srv := httptest.NewServer(carrier)
	defer srv.Close()
	admin := testenv.FreeAddr(t)
	const token = "0123456789abcdef-admin"
	t.Setenv("SHIPSYNC_ADMIN_TOKEN", token)
	conf := testenv.WriteConfig(t, name, prefix, srv.URL,
		[2]string{"listen: 127.0.0.1:0 # default 127.0.0.1:9465", "listen: " + admin + " # default 127.0.0.1:9465"})
	d := testenv.NewDaemon(t, testenv.BuildShipsync(t), conf)
	d.Start()
	bad, other := ids[0], ids[1]
	if _, err := db.Exec("UPDATE ecs_order_info SET mobile = '123456789', tel = '' WHERE order_id IN (?, ?)", bad, other); err != nil {
		t.Fatal(err)
	}
	if err := demo.Pay(ctx, db, ids); err != nil {
		t.Fatal(err)
	}
	call := func(method, path, auth string) (int, string) {
		req, _ := http.NewRequest(method, "http://"+admin+path, nil)
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err.Error() // not listening yet
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	var dead []struct {
		Key    string `json:"order"`
		Reason string `json:"reason"`
	}
	testenv.Eventually(t, 30*time.Second, 50*time.Millisecond, func() (bool, string) {
		st, body := call(http.MethodGet, "/api/dlq", token)
		dead = nil
		return st == 200 && json.Unmarshal([]byte(body), &dead) == nil && len(dead) == 2, fmt.Sprintf("GET /api/dlq: %d %.300s", st, body)
	})
	for _, e := range dead {
		if !strings.Contains(e.Reason, "receiver_mobile") || strings.Contains(e.Reason, "123456789") {
			t.Errorf("order %s dead-lettered with %q; want the field named and the number left out", e.Key, e.Reason)
		}
	}
	invoice := func(id int64) string {
		var s string
		if err := db.QueryRow("SELECT invoice_no FROM ecs_order_info WHERE order_id = ?", id).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	if _, err := db.Exec("UPDATE ecs_order_info SET mobile = '13800138000' WHERE order_id IN (?, ?)", bad, other); err != nil {
		t.Fatal(err)
	}
	retry := fmt.Sprintf("/api/dlq/%d/retry", bad)
	for _, c := range []struct {
		method, auth string
		want         int
	}{{http.MethodPost, "", 401}, {http.MethodPost, "wrong-token-0123456789", 401}, {http.MethodGet, token, 405}} {
		if st, body := call(c.method, retry, c.auth); st != c.want {
			t.Errorf("%s %s with token %q: %d %s, want %d", c.method, retry, c.auth, st, body, c.want)
		}
	}
	if inv := invoice(bad); inv != "" {
		t.Fatalf("a refused action shipped the order (%q)", inv)
	}
	if st, body := call(http.MethodPost, retry, token); st != 200 || !strings.Contains(body, fmt.Sprintf(`"orders":["%d"]`, bad)) {
		t.Fatalf("POST %s: %d %s", retry, st, body)
	}
	testenv.Eventually(t, 30*time.Second, 50*time.Millisecond, func() (bool, string) {
		return invoice(bad) != "", "the retried order is not shipped yet"
	})
	var sn string
	if err := db.QueryRow("SELECT order_sn FROM ecs_order_info WHERE order_id = ?", bad).Scan(&sn); err != nil {
		t.Fatal(err)
	}
	if w, ok := carrier.Waybill(sn); !ok || w != invoice(bad) {
		t.Errorf("the shop holds %q, the carrier %q", invoice(bad), w)
	}
	if inv := invoice(other); inv != "" {
		t.Errorf("an order nobody retried was shipped (%q)", inv)
	}
	if st, body := call(http.MethodPost, fmt.Sprintf("/api/dlq/%d/drop", other), token); st != 200 || !strings.Contains(body, fmt.Sprintf(`"orders":["%d"]`, other)) {
		t.Errorf("drop: %d %s", st, body)
	}
	if st, body := call(http.MethodGet, "/api/dlq", token); st != 200 || strings.TrimSpace(body) != "[]" {
		t.Errorf("the dead letter after retry and drop: %d %s", st, body)
	}
}
