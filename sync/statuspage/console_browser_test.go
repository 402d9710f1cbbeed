package statuspage

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/shipsync/shipsync/testenv"
)

// The console's browser tests drive the page in a real headless Chromium (chromedp) against the
// handler with fakes of its interfaces: pageConsole (Console), pageDead (DeadLetter) and
// pageLabels (LabelSource). Times are fixed relative to the test's start.

// pageDead is a dead letter in memory that records what it was asked to do.
type pageDead struct {
	mu   sync.Mutex
	rows []DeadRow
	done []string // "retry 1003", "drop 1004", in order
}

func (f *pageDead) Dead(context.Context, int) ([]DeadRow, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.rows), nil
}

func (f *pageDead) take(verb, key string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, r := range f.rows {
		if r.Key == key {
			f.rows = slices.Delete(f.rows, i, i+1)
			f.done = append(f.done, verb+" "+key)
			return true, nil
		}
	}
	return false, nil
}

func (f *pageDead) Retry(_ context.Context, key string) (bool, error) { return f.take("retry", key) }
func (f *pageDead) Drop(_ context.Context, key string) (bool, error)  { return f.take("drop", key) }

func (f *pageDead) actions() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.done)
}

// pageConsole is a Console in memory. Its stuck panels' dead letter is dead's, so that a retry
// from the page takes the row away.
type pageConsole struct {
	dead *pageDead

	mu       sync.Mutex
	series   map[string]Series
	spans    []string // the spans asked for, in order
	stuck    Stuck    // Retrying, Flagged, Waiting and StuckAfterSeconds; Dead comes from dead
	orders   []OrderPage
	searched []string
	done     []string // "cancel 1003 by ops", "pause sim by ops"
	paused   map[string]bool
}

func (c *pageConsole) Series(_ context.Context, span string) (Series, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.spans = append(c.spans, span)
	s, ok := c.series[span]
	if !ok {
		return Series{Span: span, StepSeconds: 300}, nil
	}
	return s, nil
}

func (c *pageConsole) Stuck(ctx context.Context) (Stuck, error) {
	rows, _ := c.dead.Dead(ctx, 0)
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stuck
	s.Dead = nil
	for _, r := range rows {
		s.Dead = append(s.Dead, StuckRow{Key: r.Key, OrderCode: r.OrderCode, Carrier: r.Carrier, State: "dead",
			Attempts: r.Attempts, Reason: r.Reason, Since: r.Since, Pinned: r.Pinned})
	}
	return s, nil
}

func (c *pageConsole) Order(_ context.Context, ref string) (OrderPage, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, o := range c.orders {
		if o.Key == ref || o.OrderCode == ref || o.Waybill == ref || slices.Contains(o.Children, ref) {
			rows, _ := c.dead.Dead(context.Background(), 0)
			o.InDeadLetter = slices.ContainsFunc(rows, func(r DeadRow) bool { return r.Key == o.Key })
			return o, true, nil
		}
	}
	return OrderPage{}, false, nil
}

// Search matches q anywhere in an order's key, code or waybill (the daemon's is exact: a fake may
// find several).
func (c *pageConsole) Search(_ context.Context, q string) ([]SearchRow, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.searched = append(c.searched, q)
	var rows []SearchRow
	for _, o := range c.orders {
		var matched string
		switch {
		case strings.Contains(o.Key, q):
			matched = "order"
		case strings.Contains(o.OrderCode, q):
			matched = "order_code"
		case strings.Contains(o.Waybill, q):
			matched = "waybill"
		default:
			continue
		}
		rows = append(rows, SearchRow{Key: o.Key, OrderCode: o.OrderCode, Carrier: o.Carrier, Waybill: o.Waybill,
			State: o.State, Status: o.Status, Matched: matched, UpdatedAt: o.UpdatedAt})
	}
	return rows, nil
}

func (c *pageConsole) record(ctx context.Context, what string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.done = append(c.done, what+" by "+OperatorOf(ctx))
}

func (c *pageConsole) Cancel(ctx context.Context, key string) (string, error) {
	c.record(ctx, "cancel "+key)
	return "cancelled", nil
}

func (c *pageConsole) Reissue(ctx context.Context, key string) (string, error) {
	c.record(ctx, "reissue "+key)
	return "SF2000000001", nil
}

func (c *pageConsole) Pause(ctx context.Context, name string, paused bool) error {
	if name != "sim" && name != "kdniao" {
		return ErrUnknownCarrier
	}
	c.record(ctx, map[bool]string{true: "pause ", false: "resume "}[paused]+name)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.paused[name] = paused
	return nil
}

func (c *pageConsole) actions() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.done)
}

func (c *pageConsole) queries() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.searched)
}

// snapshot is the status the fake daemon reports: two carriers (paused as paused says) and two
// latest orders, the first with a Chinese receiver.
func (c *pageConsole) snapshot(now time.Time) func(context.Context) (Snapshot, error) {
	return func(context.Context) (Snapshot, error) {
		c.mu.Lock()
		defer c.mu.Unlock()
		rows, _ := c.dead.Dead(context.Background(), 0)
		return Snapshot{
			Now: now, Ready: true, BinlogLagSeconds: 0.42, Checkpoint: "mysql-bin.000003:48211", CheckpointAgeSeconds: 0.8,
			OrdersPerMinute: 23.5, RetryQueue: int64(len(c.stuck.Retrying)), DeadLetter: int64(len(rows)), StaleParcels: 1,
			Carriers: []CarrierStats{
				{Name: "sim", Requests: 1532, SuccessRate: 0.9954, P50Seconds: 0.048, P99Seconds: 0.31, Paused: c.paused["sim"]},
				{Name: "kdniao", Requests: 88, SuccessRate: 0.9318, P50Seconds: 0.82, P99Seconds: 2.6, Paused: c.paused["kdniao"]},
			},
			Latest: []OrderRow{
				{Key: "1042", OrderCode: "SO20260501042", Carrier: "sim", Waybill: "SF1000000042", State: "written_back",
					Status: "in_transit", Receiver: "张三", Phone: "13812345678", Address: "广东省深圳市南山区科技园南区8栋",
					UpdatedAt: now.Add(-3 * time.Second)},
				{Key: "1041", OrderCode: "SO20260501041", Carrier: "kdniao", State: "retrying", Receiver: "李四",
					Phone: "13987654321", Address: "上海市浦东新区世纪大道100号", UpdatedAt: now.Add(-2 * time.Minute)},
			},
			Labels: &Labels{Unprinted: 3, Batches: []LabelBatch{{ID: "20260501-080000-a1b2c3", At: now.Add(-90 * time.Minute), Count: 42}}},
		}, nil
	}
}

// pageLabels serves a label for every waybill.
type pageLabels struct{}

func (pageLabels) Document(_ context.Context, which string) ([]byte, error) {
	return []byte("<!doctype html><p>labels " + which + "</p>"), nil
}

func (pageLabels) One(_ context.Context, waybill string) ([]byte, error) {
	return []byte("<p>" + waybill + "</p>"), nil
}

func (pageLabels) List(context.Context, time.Time, bool) ([]LabelRow, error) { return nil, nil }

// A consoleSite is the handler with the fakes on an httptest server, behind a token when it has
// one, recording every request it was sent.
type consoleSite struct {
	url     string
	now     time.Time
	console *pageConsole
	dead    *pageDead

	mu   sync.Mutex
	seen []seenRequest
}

type seenRequest struct {
	method, path, operator string
	authorized             bool
}

const consoleToken = "secret-token-123456"

func (s *consoleSite) requests() []seenRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.seen)
}

// newConsoleSite serves the fixture: a 1h series with a gap, three dead-lettered orders, one
// retrying, one flagged, none waiting, and the orders 1042 (shipped, two parcels) and 1003
// (dead-lettered). With token, every api/ request needs "Authorization: Bearer token" (the
// shell does not), as the daemon's admin listener does.
func newConsoleSite(t *testing.T, actions bool, token string) *consoleSite {
	t.Helper()
	now := time.Now().Truncate(time.Second)
	dead := &pageDead{rows: []DeadRow{
		{Key: "1003", OrderCode: "SO20260501003", Carrier: "kdniao", Attempts: 5,
			Reason: "receiver_mobile: ***6789 is not a mainland mobile number", Since: now.Add(-42 * time.Minute)},
		{Key: "1004", OrderCode: "SO20260501004", Carrier: "kdniao", Attempts: 5,
			Reason: "receiver_mobile: ***0000 is not a mainland mobile number", Since: now.Add(-30 * time.Minute)},
		{Key: "1005", OrderCode: "SO20260501005", Carrier: "sim", Attempts: 3, Pinned: true,
			Reason: "carrier refused: 105 收件地址无法识别", Since: now.Add(-5 * time.Minute)},
	}}
	c := &pageConsole{
		dead:   dead,
		paused: map[string]bool{},
		series: map[string]Series{"1h": hourSeries(now)},
		stuck: Stuck{
			Retrying: []StuckRow{{Key: "1010", OrderCode: "SO20260501010", Carrier: "kdniao", State: "retrying", Attempts: 2,
				Reason: "kdniao: timeout after 10s", Since: now.Add(-3 * time.Minute), Due: now.Add(2 * time.Minute)}},
			Flagged: []StuckRow{{Key: "1020", OrderCode: "SO20260501020", Carrier: "sim", Waybill: "SF1000000020",
				State: "written_back", Status: "created", Reason: "no_pickup", Since: now.Add(-26 * time.Hour)}},
			StuckAfterSeconds: 600,
		},
		orders: []OrderPage{
			{Key: "1042", OrderCode: "SO20260501042", State: "written_back", Carrier: "sim", ShipperCode: "SF",
				Waybill: "SF1000000042", Children: []string{"SF1000000043"}, Warehouse: "shenzhen", Attempts: 1,
				Status: "in_transit", StatusTime: now.Add(-10 * time.Minute), CreatedAt: now.Add(-3 * time.Hour),
				UpdatedAt: now.Add(-3 * time.Second), WaybillAt: now.Add(-3*time.Hour + 2*time.Second),
				Timeline: []TimeStep{
					{At: now.Add(-3 * time.Hour), Kind: "detected", Text: "paid, 2 parcels"},
					{At: now.Add(-3*time.Hour + time.Second), Kind: "submitting", Text: "sim asked"},
					{At: now.Add(-3*time.Hour + 2*time.Second), Kind: "waybill", Text: "SF1000000042 + SF1000000043"},
					{At: now.Add(-3*time.Hour + 3*time.Second), Kind: "written", Text: "invoice_no, shipping_status"},
					{At: now.Add(-10 * time.Minute), Kind: "status", Text: "in_transit: 已到达深圳转运中心"},
				},
				Labels: []LabelRef{{Waybill: "SF1000000042", Parcel: 1}, {Waybill: "SF1000000043", Parcel: 2}}},
			{Key: "1003", OrderCode: "SO20260501003", State: "dead", Carrier: "kdniao", Attempts: 5,
				LastError: "receiver_mobile: ***6789 is not a mainland mobile number", CreatedAt: now.Add(-50 * time.Minute),
				UpdatedAt: now.Add(-42 * time.Minute),
				Timeline: []TimeStep{
					{At: now.Add(-50 * time.Minute), Kind: "detected", Text: "paid"},
					{At: now.Add(-42 * time.Minute), Kind: "dead", Text: "receiver_mobile: ***6789 is not a mainland mobile number"},
				}},
		},
	}
	site := &consoleSite{now: now, console: c, dead: dead}
	mux := http.NewServeMux()
	h := New(c.snapshot(now)).WithConsole(c).WithLabels(pageLabels{}).
		WithDeadLetter(dead, actions, slog.New(slog.DiscardHandler))
	if token != "" {
		h.WithLinkKey(LinkKey(token))
	}
	h.Register(mux)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ok := r.Header.Get("Authorization") == "Bearer "+token
		site.mu.Lock()
		site.seen = append(site.seen, seenRequest{r.Method, r.URL.Path, r.Header.Get(OperatorHeader), ok})
		site.mu.Unlock()
		if token != "" && !ok && strings.HasPrefix(r.URL.Path, "/api/") && !Shell(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="shipsync admin"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	site.url = srv.URL + "/"
	return site
}

// hourSeries is an hour of 10 s steps with the daemon down for 15 steps (a gap); sim answers in
// every step but every seventh, kdniao in the last 40 minutes' steps but every third.
func hourSeries(now time.Time) Series {
	to := now.Truncate(10 * time.Second)
	from := to.Add(-time.Hour)
	s := Series{Span: "1h", StepSeconds: 10, From: from, To: to, Carriers: []string{"kdniao", "sim"}}
	for i := range 360 {
		if i >= 200 && i < 215 {
			continue
		}
		f := float64(i)
		p := Point{
			T: from.Add(time.Duration(i) * 10 * time.Second), Shipped: int64(3 + 2*math.Sin(f/20) + float64(i%3)),
			LagSeconds: 0.3 + math.Abs(math.Sin(f/15))*1.7, Backlog: int64(4 + 4*math.Sin(f/25)),
			Dead: int64(i / 120), Retry: int64(2 + (i%40)/10), Carriers: map[string]CarrierPoint{},
		}
		if i%7 != 0 {
			p.Carriers["sim"] = CarrierPoint{Requests: 4, SuccessRate: 1, P50Seconds: 0.045 + 0.01*math.Sin(f/9), P99Seconds: 0.3}
		} else {
			p.Carriers["sim"] = CarrierPoint{} // asked nothing: no point
		}
		if i >= 120 && i%3 != 0 {
			p.Carriers["kdniao"] = CarrierPoint{Requests: 2, SuccessRate: 0.8 + 0.2*math.Abs(math.Cos(f/40)), P50Seconds: 0.8, P99Seconds: 2.4 + math.Sin(f/30)}
		}
		s.Points = append(s.Points, p)
	}
	return s
}

// consoleBrowser starts a headless Chromium for one test, in a fresh profile and with the time
// zone of Shanghai; the context ends with the test, or after 30 s. What the page throws or
// logs with console.error fails the test. Its dialogs (confirm) are
// answered with accept's value; what they asked is kept in asked and sent to answered.
type consoleBrowser struct {
	ctx      context.Context
	accept   atomic.Bool
	answered chan string

	mu     sync.Mutex
	asked  []string
	thrown []string
}

func newConsoleBrowser(t *testing.T) *consoleBrowser {
	t.Helper()
	ctx := testenv.Browser(t, 30*time.Second, chromedp.Env("TZ=Asia/Shanghai"))
	b := &consoleBrowser{ctx: ctx, answered: make(chan string, 16)}
	t.Cleanup(func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if len(b.thrown) > 0 {
			t.Errorf("the page threw or logged errors:\n%s", strings.Join(b.thrown, "\n"))
		}
	})
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	thrown := chromedp.Events(ctx, runtime.ExceptionThrown)
	logged := chromedp.Events(ctx, runtime.ConsoleAPICalled)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.asked = append(b.asked, ev.Message)
			b.mu.Unlock()
			chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: b.accept.Load()}) //nolint:errcheck // the test sees the outcome
			b.answered <- ev.Message
		}
	}()
	go func() {
		for ev, err := range thrown {
			if err != nil {
				return
			}
			d := ev.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			b.mu.Lock()
			b.thrown = append(b.thrown, fmt.Sprintf("%s:%d: %s", d.URL, d.LineNumber+1, msg))
			b.mu.Unlock()
		}
	}()
	go func() {
		for ev, err := range logged {
			if err != nil {
				return
			}
			if ev.Type != runtime.ConsoleAPICalledTypeError {
				continue
			}
			var args []string
			for _, a := range ev.Args {
				args = append(args, a.Description+string(a.Value))
			}
			b.mu.Lock()
			b.thrown = append(b.thrown, "console.error: "+strings.Join(args, " "))
			b.mu.Unlock()
		}
	}()
	return b
}

func (b *consoleBrowser) dialogs() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.asked)
}

// do runs steps, failing the test with what on an error.
func (b *consoleBrowser) do(t *testing.T, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// eval returns the value of a JavaScript expression (a promise's, once it resolves) as T.
func eval[T any](t *testing.T, b *consoleBrowser, js string) T {
	t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// wait polls the page until the JavaScript expression cond is truthy (10 s at most); on a timeout
// it fails with what and the value of the expression state.
func (b *consoleBrowser) wait(t *testing.T, what, cond, state string) {
	t.Helper()
	_, err := chromedp.Run(b.ctx, chromedp.Poll[chromedp.Void](cond,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(10*time.Second)))
	if err != nil {
		got := "?"
		if state != "" {
			got = eval[string](t, b, "String("+state+")")
		}
		t.Fatalf("%s: %v (%s)", what, err, got)
	}
}

// open loads the page at the hash route and skips confirm() from then on.
func (b *consoleBrowser) open(t *testing.T, site *consoleSite, route string) {
	t.Helper()
	b.do(t, "open the console", chromedp.Navigate(site.url+route),
		chromedp.Evaluate[chromedp.Void](`sessionStorage.setItem('shipsync.noconfirm', '1')`))
}

// js quotes s as a JavaScript string.
func js(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// dialog waits for the next dialog the page opens to be answered and returns what it asked.
func (b *consoleBrowser) dialog(t *testing.T) string {
	t.Helper()
	select {
	case m := <-b.answered:
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("no dialog opened")
		return ""
	}
}

// TestConsoleCharts: the four charts draw every point the series has (none for a step that has
// none, nor for a carrier that was asked nothing in it), break their lines at the gap, plot
// orders shipped per minute, and say "no data yet" for an empty span.
func TestConsoleCharts(t *testing.T) {
	site := newConsoleSite(t, true, "")
	b := newConsoleBrowser(t)
	b.open(t, site, "")
	s := site.console.series["1h"]
	n := len(s.Points)
	carrierPoints := 0
	runs := map[string]int{} // a line's pieces: each starts at a step whose previous step has no point
	last := map[string]time.Time{}
	for _, p := range s.Points {
		for _, name := range []string{"lag", "sim", "kdniao"} {
			if name != "lag" && p.Carriers[name].Requests == 0 {
				continue
			}
			if name != "lag" {
				carrierPoints += 3 // p50, p99, success rate
			}
			if l, ok := last[name]; !ok || p.T.Sub(l) > 10*time.Second {
				runs[name]++
			}
			last[name] = p.T
		}
	}
	want := map[string]int{"shipped": n, "lag": 2 * n, "carriers": carrierPoints, "depth": 2 * n}
	for chart, w := range want {
		b.wait(t, chart+" chart drawn",
			fmt.Sprintf(`document.querySelector('svg[data-chart="%s"]').getAttribute('data-points') === '%d'`, chart, w),
			fmt.Sprintf(`document.querySelector('svg[data-chart="%s"]').getAttribute('data-points') + ' points, want %d'`, chart, w))
		if got := eval[int](t, b, fmt.Sprintf(`document.querySelectorAll('svg[data-chart="%s"] [data-v]').length`, chart)); got != w {
			t.Errorf("%s chart: %d elements with data-v, data-points says %d", chart, got, w)
		}
	}

	// Shipped: orders per minute, one bar per step that has a point, at that step.
	bars := eval[[][2]string](t, b, `[...document.querySelectorAll('svg[data-chart="shipped"] [data-v]')].map(e => [e.getAttribute('data-t'), e.getAttribute('data-v')])`)
	byT := map[int64]Point{} // by the step's start, in ns
	for _, p := range s.Points {
		byT[p.T.UnixNano()] = p
	}
	for _, bar := range bars {
		at, err := time.Parse(time.RFC3339Nano, bar[0])
		p, ok := byT[at.UnixNano()]
		if err != nil || !ok {
			t.Errorf("shipped bar at %q: no such point", bar[0])
			continue
		}
		v, err := strconv.ParseFloat(bar[1], 64)
		if w := float64(p.Shipped) * 60 / float64(s.StepSeconds); err != nil || math.Abs(v-w) > 1e-9 {
			t.Errorf("shipped bar at %s: data-v %q, want %v (%d shipped in %d s)", bar[0], bar[1], w, p.Shipped, s.StepSeconds)
		}
		delete(byT, at.UnixNano())
	}
	if len(byT) != 0 {
		t.Errorf("%d points have no shipped bar", len(byT))
	}
	// The lines break where steps have no point: the gap, and each step a carrier was not asked.
	for series, name := range map[string]string{"lag": "lag", "sim-p50": "sim", "kdniao-p99": "kdniao"} {
		d := eval[string](t, b, `document.querySelector('path[data-series="`+series+`"]').getAttribute('d')`)
		if got := strings.Count(d, "M"); got != runs[name] {
			t.Errorf("the %s line has %d pieces, want %d", series, got, runs[name])
		}
	}
	// Axes: a few local-time ticks (HH:MM), 0 and 3 or 4 labelled gridlines.
	ticks := eval[[]string](t, b, `[...document.querySelectorAll('svg[data-chart="shipped"] text.xlabel')].map(e => e.textContent)`)
	if len(ticks) < 3 || len(ticks) > 7 {
		t.Errorf("x ticks %q: want 3 to 7", ticks)
	}
	for _, tk := range ticks {
		if _, err := time.Parse("15:04", tk); err != nil {
			t.Errorf("x tick %q is not HH:MM", tk)
		}
	}
	if y := eval[int](t, b, `document.querySelectorAll('svg[data-chart="lag"] text.ylabel:not(.right)').length`); y < 4 || y > 5 {
		t.Errorf("lag chart: %d y labels, want 4 or 5 (0 and 3 or 4 gridlines)", y)
	}
	if tip := eval[string](t, b, `document.querySelector('svg[data-chart="shipped"] [data-v] title').textContent`); !strings.Contains(tip, "shipped") {
		t.Errorf("a bar's tooltip is %q", tip)
	}

	// 1d has no point yet: every chart says so.
	b.do(t, "switch to 1 day", chromedp.Click(chromedp.CSS(`#charts button[data-span="1d"]`)))
	b.wait(t, "the 1d charts", `[...document.querySelectorAll('svg[data-chart]')].every(s => s.getAttribute('data-points') === '0' && s.textContent.includes('no data yet'))`,
		`[...document.querySelectorAll('svg[data-chart]')].map(s => s.getAttribute('data-chart') + ':' + s.getAttribute('data-points')).join(' ')`)
	site.console.mu.Lock()
	spans := slices.Clone(site.console.spans)
	site.console.mu.Unlock()
	if !slices.Contains(spans, "1d") {
		t.Errorf("spans asked for: %q, want 1d among them", spans)
	}
	b.do(t, "switch back to 1 hour", chromedp.Click(chromedp.CSS(`#charts button[data-span="1h"]`)))
	b.wait(t, "the 1h charts again", fmt.Sprintf(`document.querySelector('svg[data-chart="shipped"]').getAttribute('data-points') === '%d'`, n), "")
}

// TestConsoleStuck: the panels show the fake's rows; Retry on a dead row retries that order (and
// the row leaves), a dismissed confirm does nothing, and the reason retry retries every order
// whose reason contains the text.
func TestConsoleStuck(t *testing.T) {
	site := newConsoleSite(t, true, "")
	b := newConsoleBrowser(t)
	b.do(t, "open the console", chromedp.Navigate(site.url))
	rowsOf := func(table string) string {
		return `[...document.querySelectorAll('#` + table + ` tbody tr')].map(r => r.getAttribute('data-order') || r.textContent).join(',')`
	}
	for table, want := range map[string]string{"stuck-dead": "1003,1004,1005", "stuck-retrying": "1010", "stuck-flagged": "1020",
		"stuck-waiting": "nothing here"} {
		b.wait(t, table, rowsOf(table)+` === `+js(want), rowsOf(table))
	}
	if h := eval[string](t, b, `document.querySelector('#stuck-waiting').closest('.panel').querySelector('h3').textContent`); !strings.Contains(h, "Paid, no waybill after 10m") {
		t.Errorf("waiting panel's title %q", h)
	}
	if href := eval[string](t, b, `document.querySelector('#stuck-dead tr[data-order="1003"] a').getAttribute('href')`); href != "#/order/1003" {
		t.Errorf("order link %q", href)
	}
	if f := eval[string](t, b, `document.querySelector('#stuck-flagged tr[data-order="1020"]').textContent`); !strings.Contains(f, "SF1000000020") || !strings.Contains(f, "no_pickup") {
		t.Errorf("flagged row %q", f)
	}
	retry := func(key string) chromedp.Action[chromedp.Void] {
		return testenv.ClickNow(`//table[@id="stuck-dead"]//tr[@data-order="` + key + `"]//button[contains(., "Retry")]`)
	}
	b.wait(t, "actions enabled", `!document.querySelector('#stuck-dead button').disabled`, "")

	// A confirm answered no does nothing.
	b.do(t, "retry 1005, and say no", retry("1005"))
	if q := b.dialog(t); !strings.Contains(q, "1005") {
		t.Fatalf("confirm asked %q", q)
	}
	if d := site.dead.actions(); len(d) != 0 {
		t.Fatalf("a dismissed retry did %q", d)
	}

	b.accept.Store(true)
	b.do(t, "retry 1005", retry("1005"))
	b.dialog(t)
	b.wait(t, "1005 retried", `document.querySelector('#message').textContent === 'retried 1 order: 1005'`, `document.querySelector('#message').textContent`)
	b.wait(t, "1005 leaves the panel", rowsOf("stuck-dead")+` === '1003,1004'`, rowsOf("stuck-dead"))
	if d := site.dead.actions(); !slices.Equal(d, []string{"retry 1005"}) {
		t.Fatalf("the dead letter did %q, want retry 1005", d)
	}

	b.do(t, "retry by reason", chromedp.Evaluate[chromedp.Void](`sessionStorage.setItem('shipsync.noconfirm', '1')`),
		chromedp.SendKeys(chromedp.CSS("#retry-reason"), "not a mainland mobile"),
		chromedp.Click(chromedp.CSS("#retry-reason-go")))
	b.wait(t, "the reason retry", rowsOf("stuck-dead")+` === 'nothing here'`, rowsOf("stuck-dead"))
	if d := site.dead.actions(); !slices.Equal(d, []string{"retry 1005", "retry 1003", "retry 1004"}) {
		t.Errorf("the dead letter did %q, want 1005, then 1003 and 1004", d)
	}
	if m := eval[string](t, b, `document.querySelector('#message').textContent`); m != "retried 2 orders: 1003, 1004" {
		t.Errorf("message %q", m)
	}
	if len(b.dialogs()) != 2 {
		t.Errorf("confirm asked %d times, want 2 (noconfirm is set for the reason retry)", len(b.dialogs()))
	}

	// Pause a carrier: the fake pauses it, the table says so.
	b.do(t, "pause sim", testenv.ClickNow(`//tbody[@id="carriers"]//tr[.//*[@data-field="carrier-sim-name"]]//button[.="Pause"]`))
	b.wait(t, "sim paused", `[...document.querySelectorAll('#carriers tr.paused')].some(r => r.textContent.includes('sim') && r.textContent.includes('Resume'))`,
		`document.querySelector('#carriers').textContent`)
	if d := site.console.actions(); !slices.Equal(d, []string{"pause sim by -"}) {
		t.Errorf("console did %q", d)
	}
}

// TestConsoleSearchAndOrder: a search by waybill opens the order's page with its record, its
// timeline in order and its labels; several results list them; none says so; an unknown order
// says "no such order"; Cancel waybill cancels.
func TestConsoleSearchAndOrder(t *testing.T) {
	site := newConsoleSite(t, true, "")
	b := newConsoleBrowser(t)
	b.open(t, site, "")
	b.do(t, "search a waybill", chromedp.WaitVisible(chromedp.CSS("#q")),
		chromedp.SendKeys(chromedp.CSS("#q"), "SF1000000042"), chromedp.Submit(chromedp.CSS("#q")),
		chromedp.WaitVisible(chromedp.CSS(`[data-field="order-waybill"]`)))
	if q := site.console.queries(); !slices.Equal(q, []string{"SF1000000042"}) {
		t.Errorf("searched %q", q)
	}
	if h := eval[string](t, b, `location.hash`); h != "#/order/1042" {
		t.Errorf("location %q", h)
	}
	o := site.console.orders[0]
	for field, want := range map[string]string{"order": "1042", "order_code": o.OrderCode, "waybill": "SF1000000042",
		"children": "SF1000000043", "state": "written_back", "status": "in_transit", "attempts": "1", "last_error": "–",
		"pinned": "no", "in_dead_letter": "no", "carrier": "sim",
		"created_at": o.CreatedAt.In(time.FixedZone("CST", 8*3600)).Format(time.DateTime)} {
		if got := eval[string](t, b, `document.querySelector('[data-field="order-`+field+`"]').textContent`); got != want {
			t.Errorf("order-%s = %q, want %q", field, got, want)
		}
	}
	if n := eval[int](t, b, `[...document.querySelectorAll('[data-field^="order-"]')].filter(e => e.children.length > 0).length`); n != 0 {
		t.Errorf("%d order fields hold elements, not plain text", n)
	}
	var wantSteps []string
	for _, s := range o.Timeline {
		wantSteps = append(wantSteps, s.Kind+"|"+s.Text)
	}
	steps := eval[[]string](t, b, `[...document.querySelectorAll('#timeline li[data-kind]')].map(li => li.getAttribute('data-kind') + '|' + li.querySelector('.text').textContent)`)
	if !slices.Equal(steps, wantSteps) {
		t.Errorf("timeline %q, want %q", steps, wantSteps)
	}
	labels := eval[[][3]string](t, b, `[...document.querySelectorAll('#order ul.labels a')].map(a => [a.textContent, a.getAttribute('href'), a.target + ' ' + a.rel])`)
	wantLabels := [][3]string{{"label 1/2 (SF1000000042)", "api/labels/SF1000000042", "_blank noopener"},
		{"label 2/2 (SF1000000043)", "api/labels/SF1000000043", "_blank noopener"}}
	if !slices.Equal(labels, wantLabels) {
		t.Errorf("labels %q, want %q", labels, wantLabels)
	}
	buttons := eval[[]string](t, b, `[...document.querySelectorAll('#order button')].map(b => b.textContent)`)
	if !slices.Equal(buttons, []string{"Cancel waybill", "Reissue waybill"}) {
		t.Errorf("buttons %q: not in the dead letter, with a waybill", buttons)
	}
	b.do(t, "cancel the waybill", testenv.ClickNow(`//div[@id="order"]//button[.="Cancel waybill"]`))
	b.wait(t, "cancelled", `document.querySelector('#message').textContent.startsWith('cancel: cancelled')`, `document.querySelector('#message').textContent`)
	if d := site.console.actions(); !slices.Equal(d, []string{"cancel 1042 by -"}) {
		t.Errorf("console did %q", d)
	}

	// A dead-lettered order's page has Retry and Drop, and no waybill buttons.
	b.do(t, "search an order code", chromedp.SetValue(chromedp.CSS("#q"), "SO20260501003"), chromedp.Submit(chromedp.CSS("#q")))
	b.wait(t, "order 1003", `(document.querySelector('[data-field="order-order"]') || {}).textContent === '1003'`, "location.hash")
	b.wait(t, "its buttons", `[...document.querySelectorAll('#order button')].map(b => b.textContent).join() === 'Retry,Drop'`,
		`[...document.querySelectorAll('#order button')].map(b => b.textContent).join()`)
	if k := eval[string](t, b, `[...document.querySelectorAll('#timeline li')].map(li => li.getAttribute('data-kind')).join()`); k != "detected,dead" {
		t.Errorf("timeline kinds %q", k)
	}

	// Several results: the list, each row linking to its order.
	b.do(t, "search several", chromedp.SetValue(chromedp.CSS("#q"), "SO202605010"), chromedp.Submit(chromedp.CSS("#q")))
	b.wait(t, "the results", `location.hash === '#/search/SO202605010' && document.querySelectorAll('#search-results tr[data-order]').length === 2`, "location.hash")
	if hrefs := eval[[]string](t, b, `[...document.querySelectorAll('#search-results tr[data-order] a')].map(a => a.getAttribute('href'))`); !slices.Equal(hrefs, []string{"#/order/1042", "#/order/1003"}) {
		t.Errorf("result links %q", hrefs)
	}
	b.do(t, "search nothing", chromedp.SetValue(chromedp.CSS("#q"), "ZZ404"), chromedp.Submit(chromedp.CSS("#q")))
	b.wait(t, "nothing found", `document.querySelector('#message').textContent.includes('nothing found for') && document.querySelector('#message').textContent.includes('ZZ404')`,
		`document.querySelector('#message').textContent`)

	b.do(t, "an unknown order", chromedp.Evaluate[chromedp.Void](`location.hash = '#/order/nope%2F1'`))
	b.wait(t, "no such order", `(document.querySelector('#order') || {}).textContent === 'no such order: nope/1'`, `document.querySelector('#order').textContent`)
}

// TestConsoleNoActions: without admin.token the buttons are disabled; a POST made from the page
// anyway is refused 403, changes nothing, and the refusal shows in the message area.
func TestConsoleNoActions(t *testing.T) {
	site := newConsoleSite(t, false, "")
	b := newConsoleBrowser(t)
	b.open(t, site, "")
	b.wait(t, "the dead letter", `document.querySelectorAll('#stuck-dead tr[data-order]').length === 3`, "")
	b.wait(t, "the snapshot", `document.querySelector('[data-field="conn"]').textContent === 'live'`, "")
	disabled := eval[[]string](t, b, `[...document.querySelectorAll('#stuck-dead button, #carriers button, #retry-reason-go')].map(b => b.textContent + ':' + b.disabled + ':' + b.title)`)
	if len(disabled) != 3*2+2+1 {
		t.Errorf("buttons %q", disabled)
	}
	for _, d := range disabled {
		if !strings.HasSuffix(d, ":true:actions need admin.token") {
			t.Errorf("button %q: want disabled, titled \"actions need admin.token\"", d)
		}
	}
	refused := eval[string](t, b, `fetch('api/dlq/1003/retry', {method: 'POST'}).then(async r => r.status + ' ' + (await r.text()).trim())`)
	if !strings.HasPrefix(refused, "403 actions need admin.token") {
		t.Errorf("a POST without actions: %q", refused)
	}
	// The page's own action, its button enabled by hand: the refusal is shown.
	b.do(t, "click an enabled Retry", chromedp.Evaluate[chromedp.Void](`(() => { const b = document.querySelector('#stuck-dead tr[data-order="1004"] button'); b.disabled = false; b.click(); })()`),
		chromedp.WaitVisible(chromedp.CSS("#message.bad")))
	if m := eval[string](t, b, `document.querySelector('#message').textContent`); !strings.Contains(m, "actions need admin.token") || !strings.Contains(m, "403") {
		t.Errorf("message %q", m)
	}
	if d := site.dead.actions(); len(d) != 0 {
		t.Errorf("the dead letter did %q without actions", d)
	}
	if n := eval[int](t, b, `document.querySelectorAll('#stuck-dead tr[data-order]').length`); n != 3 {
		t.Errorf("%d dead rows left, want 3", n)
	}
}

// TestConsoleToken: behind a token the page asks for it (and shows no data), then sends it on
// every api/ request with the operator's name; signing out asks again.
func TestConsoleToken(t *testing.T) {
	site := newConsoleSite(t, true, consoleToken)
	b := newConsoleBrowser(t)
	b.do(t, "open the console", chromedp.Navigate(site.url), chromedp.WaitVisible(chromedp.CSS("#signin")))
	if hidden := eval[bool](t, b, `document.querySelector('main').hidden`); !hidden {
		t.Error("the data shows before signing in")
	}
	if refused := eval[string](t, b, `fetch('api/dlq/1003/retry', {method: 'POST'}).then(r => String(r.status))`); refused != "401" {
		t.Errorf("a POST without the token: %s", refused)
	}
	// A wrong token is refused and asked again.
	b.do(t, "sign in wrong", chromedp.SendKeys(chromedp.CSS("#token"), "wrong"), chromedp.Click(chromedp.Search(`//form[@id="signin"]//button[.="Sign in"]`)))
	b.wait(t, "refused", `!document.querySelector('#signin').hidden && document.querySelector('#signin-error').textContent.includes('refused')`,
		`document.querySelector('#signin-error').textContent`)

	const operator = "值班 Li"
	b.do(t, "sign in",
		chromedp.Evaluate[chromedp.Void](`sessionStorage.setItem('shipsync.noconfirm', '1')`),
		chromedp.SendKeys(chromedp.CSS("#token"), consoleToken),
		chromedp.SendKeys(chromedp.CSS("#operator"), operator),
		chromedp.Submit(chromedp.CSS("#token")),
		chromedp.WaitVisible(chromedp.CSS(`#stuck-dead tr[data-order="1003"]`)))
	b.wait(t, "the snapshot", `document.querySelector('[data-field="conn"]').textContent === 'live'`, `document.querySelector('[data-field="conn"]').textContent`)
	if stored := eval[string](t, b, `sessionStorage.getItem('shipsync.token') + ' ' + sessionStorage.getItem('shipsync.operator')`); stored != consoleToken+" "+operator {
		t.Errorf("sessionStorage %q", stored)
	}
	if href := eval[string](t, b, `document.querySelector('#labels-print').getAttribute('href')`); !strings.HasPrefix(href, "labels/unprinted?exp=") || !strings.Contains(href, "&sig=") {
		t.Errorf("print link %q: want the snapshot's signed one", href)
	}
	b.do(t, "retry 1003", chromedp.Click(chromedp.Search(`//table[@id="stuck-dead"]//tr[@data-order="1003"]//button[contains(., "Retry")]`)))
	b.wait(t, "retried", `document.querySelector('#message').textContent === 'retried 1 order: 1003'`, `document.querySelector('#message').textContent`)
	if d := site.dead.actions(); !slices.Equal(d, []string{"retry 1003"}) {
		t.Errorf("the dead letter did %q", d)
	}
	var posts int
	signedIn := false
	for _, r := range site.requests() {
		if !strings.HasPrefix(r.path, "/api/") {
			continue
		}
		if r.authorized {
			signedIn = true
			// UTF-8 on the wire, as Go's header reads it.
			if r.operator != operator {
				t.Errorf("%s %s: operator %q, want %q", r.method, r.path, r.operator, operator)
			}
		} else if signedIn {
			t.Errorf("%s %s after signing in: without the token", r.method, r.path)
		}
		if r.method == http.MethodPost && r.authorized {
			posts++
			if r.path != "/api/dlq/1003/retry" {
				t.Errorf("POST %s", r.path)
			}
		}
	}
	if posts != 1 {
		t.Errorf("%d authorized POSTs, want 1", posts)
	}

	b.do(t, "sign out", chromedp.Click(chromedp.CSS("#signout")), chromedp.WaitVisible(chromedp.CSS("#signin")))
	if stored := eval[string](t, b, `String(sessionStorage.getItem('shipsync.token')) + String(sessionStorage.getItem('shipsync.operator'))`); stored != "nullnull" {
		t.Errorf("after signing out sessionStorage holds %q", stored)
	}
}

// TestConsoleChinese: the page renders Chinese (a receiver 张三, masked 张*; a timeline text) with
// a CJK font, and its screenshots are not blank. With SHIPSYNC_SCREENSHOTS=DIR it writes them
// there (console.png, console-order.png): the docs' screenshots.
func TestConsoleChinese(t *testing.T) {
	site := newConsoleSite(t, true, "")
	b := newConsoleBrowser(t)
	b.open(t, site, "")
	b.wait(t, "the receiver", `(document.querySelector('[data-field="latest-0-receiver"]') || {}).textContent === '张*'`,
		`document.querySelector('[data-field="latest-0-receiver"]').textContent`)
	b.wait(t, "the charts", `document.querySelector('svg[data-chart="shipped"]').getAttribute('data-points') !== '0'`, "")
	b.wait(t, "the stuck panels", `document.querySelectorAll('#stuck-dead tr[data-order]').length === 3`, "")
	// With no CJK font, every Chinese character is the same missing-glyph box: draw two with the
	// cell's font and compare.
	glyphs := `(() => {
		const font = '28px ' + getComputedStyle(document.querySelector('[data-field="latest-0-receiver"]')).fontFamily;
		const draw = (ch) => {
			const c = document.createElement('canvas');
			c.width = 40; c.height = 40;
			const x = c.getContext('2d');
			x.font = font;
			x.fillText(ch, 4, 32);
			return Array.from(x.getImageData(0, 0, 40, 40).data.filter((v, i) => i % 4 === 3));
		};
		const a = draw('张'), b = draw('三');
		return a.some(v => v > 0) && a.join() !== b.join();
	})()`
	if !eval[bool](t, b, glyphs) {
		t.Errorf("张 and 三 render alike: no CJK font in %q", eval[string](t, b, `getComputedStyle(document.body).fontFamily`))
	}
	shot := func(name string) {
		t.Helper()
		// The whole page in one window's height, so the shot does not depend on the scroll.
		h := eval[int64](t, b, `Math.ceil(document.body.getBoundingClientRect().height)`)
		b.do(t, "size the window", chromedp.EmulateViewport(1400, max(h, 1000)))
		img, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		b.do(t, "reset the window", chromedp.ResetViewport())
		m, err := png.Decode(bytes.NewReader(img))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		colors := map[uint32]bool{}
		r := m.Bounds()
		for y := r.Min.Y; y < r.Max.Y; y += 3 {
			for x := r.Min.X; x < r.Max.X; x += 3 {
				cr, cg, cb, _ := m.At(x, y).RGBA()
				colors[cr>>8<<16|cg>>8<<8|cb>>8] = true
			}
		}
		if r.Dx() < 1400 || r.Dy() < 1000 || len(colors) < 64 {
			t.Errorf("%s: %dx%d with %d colours: a blank page?", name, r.Dx(), r.Dy(), len(colors))
		}
		if dir := os.Getenv("SHIPSYNC_SCREENSHOTS"); dir != "" {
			if err := os.WriteFile(filepath.Join(dir, name), img, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	shot("console.png")

	b.do(t, "open an order", chromedp.Evaluate[chromedp.Void](`location.hash = '#/order/1042'`), chromedp.WaitVisible(chromedp.CSS("#timeline")))
	if got := eval[string](t, b, `document.querySelector('#timeline li:last-child .text').textContent`); got != "in_transit: 已到达深圳转运中心" {
		t.Errorf("timeline's last text %q", got)
	}
	shot("console-order.png")
}
