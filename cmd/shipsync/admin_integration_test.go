package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/shipsync/shipsync/sinks/carrier/kdniao"
	"github.com/shipsync/shipsync/sinks/carrier/kdniao/sim"
	"github.com/shipsync/shipsync/testenv"
	"github.com/shipsync/shipsync/testenv/demo"
)

// TestTwoListeners runs the real daemon with a push listener behind a "proxy" (127.0.0.2, a
// trusted proxy) and a private admin listener with a token, over real HTTP: a push from an
// allow-listed carrier behind the proxy is applied; the same X-Forwarded-For from an untrusted
// peer is refused; the page, the API and the metrics are not on the push port; the admin port
// refuses requests without the token (counted) and serves them with it.
func TestTwoListeners(t *testing.T) {
	ctx := context.Background()
	db, name, ids := testenv.DemoShop(t, 1)
	_, prefix := testenv.RequireRedis(t)
	carrier := sim.New(sim.Config{EBusinessID: "test-ebusiness", AppKey: testenv.TestAppKey})
	srv := httptest.NewServer(carrier)
	defer srv.Close()
	push, admin := testenv.FreeAddr(t), testenv.FreeAddr(t)
	const token = "0123456789abcdef-admin"
	t.Setenv("SHIPSYNC_ADMIN_TOKEN", token)
	conf := testenv.WriteConfig(t, name, prefix, srv.URL,
		[2]string{"listen: 127.0.0.1:0 # default 127.0.0.1:9464", "listen: " + push + " # default 127.0.0.1:9464"},
		[2]string{"listen: 127.0.0.1:0 # default 127.0.0.1:9465", "listen: " + admin + " # default 127.0.0.1:9465"},
		[2]string{"allow: [] #", `allow: ["198.51.100.7"] #`},
		[2]string{"trusted_proxies: [] #", `trusted_proxies: ["127.0.0.2"] #`})
	d := testenv.NewDaemon(t, testenv.BuildShipsync(t), conf)
	d.Start()
	if err := demo.Pay(ctx, db, ids); err != nil {
		t.Fatal(err)
	}
	var code, waybill string
	testenv.Eventually(t, 30*time.Second, 20*time.Millisecond, func() (bool, string) {
		err := db.QueryRow("SELECT order_sn, invoice_no FROM ecs_order_info WHERE order_id = ?", ids[0]).Scan(&code, &waybill)
		return err == nil && waybill != "", fmt.Sprintf("not shipped yet (%v)", err)
	})

	from := func(local string) *http.Client {
		return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
			DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}).DialContext}}
	}
	delivered := pushBody(t, code, waybill)
	post := func(c *http.Client, xff string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, "http://"+push+"/push/sim", strings.NewReader(delivered))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded;charset=utf-8")
		req.Header.Set("X-Forwarded-For", xff)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if st, body := post(from("127.0.0.1"), "198.51.100.7"); st != http.StatusForbidden {
		t.Errorf("a spoofed X-Forwarded-For from an untrusted peer: %d %s", st, body)
	}
	var shipping int
	if err := db.QueryRow("SELECT shipping_status FROM ecs_order_info WHERE order_id = ?", ids[0]).Scan(&shipping); err != nil || shipping != 1 {
		t.Fatalf("after the refused push: shipping_status %d (%v)", shipping, err)
	}
	if st, body := post(from("127.0.0.2"), "203.0.113.50, 198.51.100.7"); st != http.StatusOK || !strings.Contains(body, `"Success":true`) {
		t.Errorf("an allow-listed carrier behind the trusted proxy: %d %s", st, body)
	}
	testenv.Eventually(t, 10*time.Second, 20*time.Millisecond, func() (bool, string) {
		err := db.QueryRow("SELECT shipping_status FROM ecs_order_info WHERE order_id = ?", ids[0]).Scan(&shipping)
		return err == nil && shipping == 2, fmt.Sprintf("shipping_status %d (%v)", shipping, err)
	})

	get := func(addr, path, auth string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, path := range []string{"/", "/api/status", "/metrics", "/healthz", "/readyz", "/push/sim"} {
		if st, _ := get(push, path, "Bearer "+token); st != http.StatusNotFound {
			t.Errorf("push listener: GET %s answered %d, want 404", path, st)
		}
	}
	// The page's shell carries no data: a browser opens it without the token, then asks for it.
	if st, body := get(admin, "/", ""); st != http.StatusOK || !strings.Contains(body, "app.js") {
		t.Errorf("admin listener: the console's shell without the token answered %d", st)
	}
	for _, path := range []string{"/api/orders/1", "/api/status", "/metrics", "/readyz"} {
		for _, auth := range []string{"", "Bearer wrong-token-0123456789", token, "Basic " + token} {
			if st, _ := get(admin, path, auth); st != http.StatusUnauthorized {
				t.Errorf("admin listener: GET %s with Authorization %q answered %d, want 401", path, auth, st)
			}
		}
		// Readiness follows the dependency checks, which the daemon runs every second.
		testenv.Eventually(t, 10*time.Second, 50*time.Millisecond, func() (bool, string) {
			st, body := get(admin, path, "Bearer "+token)
			return st == http.StatusOK, fmt.Sprintf("admin listener: GET %s with the token answered %d: %.200s", path, st, body)
		})
	}
	_, metrics := get(admin, "/metrics", "Bearer "+token)
	if !strings.Contains(metrics, "shipsync_admin_unauthorized_total 16") {
		t.Errorf("refused admin requests not counted:\n%s", grepLines(metrics, "shipsync_admin_unauthorized_total"))
	}
}

// pushBody is a Kdniao 101 push saying the waybill was delivered, signed with the test key.
func pushBody(t *testing.T, orderCode, waybill string) string {
	t.Helper()
	now := time.Now().In(time.FixedZone("CST", 8*3600)).Format(time.DateTime)
	form, err := kdniao.EncodePush(kdniao.TracePush{EBusinessID: "test-ebusiness", PushTime: now, Count: "1",
		Data: []kdniao.Trace{{EBusinessID: "test-ebusiness", OrderCode: orderCode, ShipperCode: "SIM", LogisticCode: waybill,
			Success: true, State: "3", StateEx: "301",
			Traces: []kdniao.TraceEvent{{AcceptTime: now, AcceptStation: "已签收", Action: "301"}}}}}, testenv.TestAppKey)
	if err != nil {
		t.Fatal(err)
	}
	return form.Encode()
}

func grepLines(text, sub string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
