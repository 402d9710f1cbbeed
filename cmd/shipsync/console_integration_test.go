package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/shipsync/shipsync/sinks/carrier/kdniao/sim"
	"github.com/shipsync/shipsync/testenv"
	"github.com/shipsync/shipsync/testenv/demo"
)

// TestConsoleInBrowser drives the operator's console of a running daemon in a real headless
// Chromium: the page asks for the admin token (an action from the page before that is refused
// and ships nothing), the charts have points for the orders shipped, a dead-lettered order
// appears in its panel and the page's Retry ships it (checked in the shop table and the
// carrier's ledger, and noted with the operator's name in its timeline), and a search by
// waybill opens that order's page. With SHIPSYNC_SCREENSHOTS=DIR it writes the screenshots the
// README shows (console.png, console-order.png) there.
func TestConsoleInBrowser(t *testing.T) {
	ctx := context.Background()
	db, name, ids := testenv.DemoShop(t, 8)
	_, prefix := testenv.RequireRedis(t)
	carrier := sim.New(sim.Config{EBusinessID: "test-ebusiness", AppKey: testenv.TestAppKey})
	srv := httptest.NewServer(carrier)
	defer srv.Close()
	admin := testenv.FreeAddr(t)
	const token, operator = "console-token-0123456789", "值班 ops"
	t.Setenv("SHIPSYNC_ADMIN_TOKEN", token)
	t.Setenv("SHIPSYNC_LABELS", "true")
	conf := testenv.WriteConfig(t, name, prefix, srv.URL,
		[2]string{"listen: 127.0.0.1:0 # default 127.0.0.1:9465", "listen: " + admin + " # default 127.0.0.1:9465"})
	d := testenv.NewDaemon(t, testenv.BuildShipsync(t), conf)
	d.Start()
	bad := ids[0]
	if _, err := db.Exec("UPDATE ecs_order_info SET mobile = '123456789', tel = '' WHERE order_id = ?", bad); err != nil {
		t.Fatal(err)
	}
	if err := demo.Pay(ctx, db, ids); err != nil {
		t.Fatal(err)
	}
	invoice := func(id int64) string {
		var s string
		if err := db.QueryRow("SELECT invoice_no FROM ecs_order_info WHERE order_id = ?", id).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	testenv.Eventually(t, 30*time.Second, 50*time.Millisecond, func() (bool, string) {
		var n int
		err := db.QueryRow("SELECT COUNT(*) FROM ecs_order_info WHERE invoice_no <> ''").Scan(&n)
		return err == nil && n == len(ids)-1, fmt.Sprintf("%d of %d shipped (%v)", n, len(ids)-1, err)
	})
	api := func(path string, v any) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, "http://"+admin+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
		}
	}
	key := strconv.FormatInt(bad, 10)
	testenv.Eventually(t, 30*time.Second, 100*time.Millisecond, func() (bool, string) {
		var s struct {
			Dead []struct {
				Key string `json:"order"`
			} `json:"dead"`
		}
		api("/api/stuck", &s)
		return len(s.Dead) == 1 && s.Dead[0].Key == key, fmt.Sprintf("dead letter %+v", s.Dead)
	})
	// The shop fixes the number; the operator retries from the console.
	if _, err := db.Exec("UPDATE ecs_order_info SET mobile = '13800138000' WHERE order_id = ?", bad); err != nil {
		t.Fatal(err)
	}

	b := testenv.Browser(t, 90*time.Second)
	base := "http://" + admin + "/"
	must := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(b, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	eval := func(js string) string {
		t.Helper()
		v, err := chromedp.Run(b, chromedp.Evaluate[string](js, chromedp.EvalAsValue, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("evaluate %s: %v", js, err)
		}
		return v
	}
	must("open the console", chromedp.Navigate(base), chromedp.WaitVisible(chromedp.CSS("#signin")))

	// An action from the page without the token is refused, and ships nothing.
	refused := eval(fmt.Sprintf(`fetch('api/dlq/%s/retry', {method: 'POST'}).then(r => String(r.status))`, key))
	if refused != "401" || invoice(bad) != "" {
		t.Fatalf("a retry without the token: %s, invoice %q", refused, invoice(bad))
	}

	must("sign in",
		chromedp.SendKeys(chromedp.CSS("#token"), token),
		chromedp.SendKeys(chromedp.CSS("#operator"), operator),
		chromedp.Submit(chromedp.CSS("#token")),
		chromedp.WaitVisible(chromedp.CSS(`#stuck-dead tr[data-order="`+key+`"]`)))
	// The charts: the shipped orders are points of the last hour.
	testenv.Eventually(t, 20*time.Second, 200*time.Millisecond, func() (bool, string) {
		n := eval(`String(document.querySelector('svg[data-chart="shipped"]').getAttribute('data-points'))`)
		v := eval(`String([...document.querySelectorAll('svg[data-chart="shipped"] [data-v]')].reduce((s, e) => s + Number(e.getAttribute('data-v')), 0))`)
		sum, _ := strconv.ParseFloat(v, 64)
		return n != "0" && n != "null" && sum > 0, "shipped chart: " + n + " points, values summing to " + v
	})
	shot := func(file string) {
		t.Helper()
		dir := os.Getenv("SHIPSYNC_SCREENSHOTS")
		if dir == "" {
			return
		}
		png, err := chromedp.Run(b, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, file), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	shot("console.png")

	// Retry from the page: the order ships.
	eval(`sessionStorage.setItem('shipsync.noconfirm', '1'); ''`)
	must("retry the dead-lettered order",
		testenv.ClickNow(`//table[@id="stuck-dead"]//tr[@data-order="`+key+`"]//button[contains(., "Retry")]`))
	testenv.Eventually(t, 30*time.Second, 50*time.Millisecond, func() (bool, string) {
		return invoice(bad) != "", "the order retried from the page is not shipped"
	})
	var sn string
	if err := db.QueryRow("SELECT order_sn FROM ecs_order_info WHERE order_id = ?", bad).Scan(&sn); err != nil {
		t.Fatal(err)
	}
	if w, ok := carrier.Waybill(sn); !ok || w != invoice(bad) {
		t.Errorf("the shop holds %q, the carrier %q", invoice(bad), w)
	}
	if st := carrier.Stats(); st.Creates != int64(len(ids)) {
		t.Errorf("carrier creates %d, want %d: one waybill per order", st.Creates, len(ids))
	}
	var page struct {
		Timeline []struct{ Kind, Text string } `json:"timeline"`
	}
	api("/api/orders/"+key, &page)
	noted := false
	for _, s := range page.Timeline {
		noted = noted || s.Kind == "action" && strings.Contains(s.Text, "by "+operator)
	}
	if !noted {
		t.Errorf("the retry is not in the order's timeline with its operator: %+v", page.Timeline)
	}

	// Search by waybill: the order's page.
	waybill := invoice(bad)
	must("search by waybill",
		chromedp.SendKeys(chromedp.CSS("#q"), waybill),
		chromedp.Submit(chromedp.CSS("#q")),
		chromedp.WaitVisible(chromedp.CSS(`[data-field="order-waybill"]`)))
	testenv.Eventually(t, 10*time.Second, 100*time.Millisecond, func() (bool, string) {
		got := eval(`document.querySelector('[data-field="order-waybill"]').textContent`)
		steps := eval(`String(document.querySelectorAll('#timeline li').length)`)
		n, _ := strconv.Atoi(steps)
		return strings.Contains(got, waybill) && n >= len(page.Timeline), fmt.Sprintf("order page waybill %q, %s steps", got, steps)
	})
	shot("console-order.png")
}
